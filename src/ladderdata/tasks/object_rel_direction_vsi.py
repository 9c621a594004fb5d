"""VSI-Bench's three relative-direction question types, allocentric like its videos' questions: standing by
the positioning object and facing the orienting object, where is the querying object?

* ``object_rel_direction_easy``: left or right (of the line from me through the orienting object);
* ``object_rel_direction_medium``: left, right or back, where back means turning at least 135° to face it;
* ``object_rel_direction_hard``: the quadrant (front-left, front-right, back-left, back-right).

θ is the signed angle from the facing direction to the querying object in the floor plane, counter-clockwise
positive (left). Each form stores ``angle_margin_deg``, θ's distance to its nearest answer boundary: 0° and
180° (easy), 0° and ±135° (medium), 0°, ±90° and 180° (hard). Wording: VSI-Bench's own templates
(``templates/questions.yaml``).
"""

from collections.abc import Iterator
from typing import ClassVar

import numpy as np
from pydantic import Field

from ladderdata.tasks.base import (
    AnswerType,
    Draft,
    Modality,
    OfficialScorer,
    Rejections,
    TaskConfig,
    TaskGenerator,
    register_task,
)
from ladderdata.tasks.context import SceneContext, Shown
from ladderdata.tasks.object_rel_direction import QUADRANT_FORM, DirectionForm, allocentric_drafts

BACK_TURN_DEG = 135.0
"""VSI-Bench: "An object is to my back if I would have to turn at least 135 degrees in order to face it"."""


def side(angle_deg: float) -> str:
    """``left`` for θ > 0 (counter-clockwise from the facing direction), else ``right``."""
    return "left" if angle_deg > 0 else "right"


def side_or_back(angle_deg: float) -> str:
    """``back`` when facing the object takes a turn of at least 135°, else :func:`side`."""
    return "back" if abs(angle_deg) >= BACK_TURN_DEG else side(angle_deg)


EASY_FORM = DirectionForm(("left", "right"), side, lambda a: min(abs(a), 180.0 - abs(a)))
MEDIUM_FORM = DirectionForm(("left", "right", "back"), side_or_back, lambda a: min(abs(a), abs(abs(a) - BACK_TURN_DEG)))


class VSIDirectionConfig(TaskConfig):
    min_angle_margin_deg: float = Field(15.0, ge=0, le=45, description="θ's distance to the nearest answer boundary")
    min_separation: float = Field(0.5, gt=0, le=100, description="metres: positioning object to the other two objects")
    tries: int = Field(200, ge=1, le=100_000, description="random triples tried per image set")


class VSIDirection(TaskGenerator[VSIDirectionConfig]):
    """Shared generator of the three forms; subclasses set ``form``."""

    answer_type: ClassVar[AnswerType] = AnswerType.MCQ
    supported: ClassVar[tuple[Modality, ...]] = (Modality.MULTI_VIEW, Modality.VIDEO)
    margins: ClassVar[tuple[str, ...]] = ("visibility_min", "angle_margin_deg")
    official: ClassVar[frozenset[OfficialScorer]] = frozenset({OfficialScorer.VSIBENCH, OfficialScorer.SPATIALLADDER})
    scored_within: ClassVar[str] = "object_rel_direction"
    form: ClassVar[DirectionForm]

    def template_choices(self) -> dict[str, int]:
        return {self.name: len(self.form.choices)}

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        yield from allocentric_drafts(
            self,
            ctx,
            shown,
            rng,
            rejections,
            self.form,
            self.name,
            self.config,
        )


@register_task("object_rel_direction_easy")
class ObjectRelDirectionEasy(VSIDirection):
    short_name: ClassVar[str] = "Rel. Dir. (easy)"
    form: ClassVar[DirectionForm] = EASY_FORM


@register_task("object_rel_direction_medium")
class ObjectRelDirectionMedium(VSIDirection):
    short_name: ClassVar[str] = "Rel. Dir. (medium)"
    form: ClassVar[DirectionForm] = MEDIUM_FORM


@register_task("object_rel_direction_hard")
class ObjectRelDirectionHard(VSIDirection):
    short_name: ClassVar[str] = "Rel. Dir. (hard)"
    form: ClassVar[DirectionForm] = QUADRANT_FORM
