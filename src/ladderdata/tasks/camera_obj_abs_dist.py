"""VSTI-Bench's ``camera_obj_abs_dist``: how far, in metres, the camera is from an object at one shown frame.

The distance runs from the camera centre to the closest point of the object's surface, exactly (point to
triangle, the surface of docs/geometry.md), where VSTI-Bench takes the nearest of points sampled inside the
object's 3D box. The object must be visible in that frame (``min_visibility``, clear of it by the visibility guard
band) and the only instance of its category there.
"""

from collections.abc import Iterator
from typing import ClassVar

import numpy as np
from pydantic import Field

from ladderdata.tasks import answers
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
from ladderdata.tasks.camera_views import camera_distance, frame_description, view_ref, views_with_candidates
from ladderdata.tasks.context import SceneContext, Shown


class CameraObjAbsDistConfig(TaskConfig):
    min_distance: float = Field(0.2, ge=0, le=100, description="metres (VSTI-Bench: 0.2)")
    max_distance: float = Field(10.0, gt=0, le=100, description="metres (VSTI-Bench: 10)")

    ordered_fields: ClassVar[tuple[tuple[str, str], ...]] = (("min_distance", "max_distance"),)


@register_task("camera_obj_abs_dist")
class CameraObjAbsDist(TaskGenerator[CameraObjAbsDistConfig]):
    answer_type: ClassVar[AnswerType] = AnswerType.NUMERIC
    short_name: ClassVar[str] = "Cam.-Obj. Dist."
    official: ClassVar[frozenset[OfficialScorer]] = frozenset({OfficialScorer.VSTIBENCH})
    supported: ClassVar[tuple[Modality, ...]] = (Modality.SINGLE_IMAGE, Modality.MULTI_VIEW, Modality.VIDEO)
    margins: ClassVar[tuple[str, ...]] = ("visibility_min",)
    unit: ClassVar[str] = "m"

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        for index, objects in views_with_candidates(self, ctx, shown, rng, rejections):
            for k in rng.permutation(len(objects)):
                object_id = objects[int(k)]
                distance = camera_distance(ctx, object_id, shown.views[index])
                if not rejections.check("distance_range", cfg.min_distance <= distance <= cfg.max_distance):
                    continue
                ref = view_ref(ctx, shown, index, object_id, "object")
                yield Draft(
                    template=self.name,
                    fields={
                        "object_name": ctx.objects[object_id].category,
                        "frame_description": frame_description(shown, index),
                    },
                    answer=answers.metres(distance),
                    objects=[ref],
                    margins={"visibility_min": ref.visibility},
                )
