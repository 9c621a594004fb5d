"""object_rel_direction, two definitions (paper B.1 and Table 5):

* single image, camera-centric: is object 1 to object 2's left / right (horizontal image position of the
  box centres) and front / back (depth: "front" = nearer the camera), or a composite such as ``left-front``;
* multi-view and video, allocentric: standing by the positioning object and facing the orienting object,
  in which quadrant (``front-left``, ``front-right``, ``back-left``, ``back-right``) is the querying object.

Positions are the centres of the objects' gravity-aligned boxes.
"""

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar, Protocol

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

CAMERA_DIRECTIONS = ("left", "right", "front", "back", "left-front", "left-back", "right-front", "right-back")
QUADRANTS = ("front-left", "front-right", "back-left", "back-right")
#: Wrong directions offered with the right one in single-image questions.
CAMERA_DISTRACTORS = 3


class RelDirectionConfig(TaskConfig):
    min_lateral_deg: float = Field(8.0, gt=0, le=90, description="single image: left/right needs this angular offset")
    max_lateral_absent_deg: float = Field(2.0, ge=0, le=90, description="single image: below this, no left/right part")
    min_depth_gap: float = Field(0.4, gt=0, le=100, description="single image, metres: front/back needs this depth gap")
    max_depth_absent: float = Field(
        0.1, ge=0, le=100, description="single image, metres: below this, no front/back part"
    )
    min_angle_margin_deg: float = Field(
        15.0, ge=0, le=45, description="multi-view: angle to the nearest quadrant boundary"
    )
    min_separation: float = Field(
        0.5, gt=0, le=100, description="multi-view, metres: positioning to the other two objects"
    )
    tries: int = Field(200, ge=1, le=100_000, description="multi-view: random triples tried per image set")

    # below the "absent" thresholds a part is left out, at or above the "min" ones it is named
    ordered_fields: ClassVar[tuple[tuple[str, str], ...]] = (
        ("max_lateral_absent_deg", "min_lateral_deg"),
        ("max_depth_absent", "min_depth_gap"),
    )


def camera_relation(lateral_deg: float, depth_gap: float, cfg: RelDirectionConfig) -> str | None:
    """Direction of object 1 relative to object 2 from the camera, or None when ambiguous.

    ``lateral_deg``: object 1's horizontal view angle minus object 2's (positive = right in the image);
    ``depth_gap``: object 1's depth minus object 2's, metres (negative = nearer = front).
    """
    lateral = abs(lateral_deg)
    gap = abs(depth_gap)
    if cfg.max_lateral_absent_deg <= lateral < cfg.min_lateral_deg or cfg.max_depth_absent <= gap < cfg.min_depth_gap:
        return None
    side = ("right" if lateral_deg > 0 else "left") if lateral >= cfg.min_lateral_deg else ""
    depth = ("back" if depth_gap > 0 else "front") if gap >= cfg.min_depth_gap else ""
    if not side and not depth:
        return None
    return "-".join(p for p in (side, depth) if p)


def quadrant(angle_deg: float) -> str:
    """Quadrant of a direction at ``angle_deg`` counter-clockwise from the facing direction (z up)."""
    front = abs(angle_deg) < 90.0
    left = angle_deg > 0.0
    return f"{'front' if front else 'back'}-{'left' if left else 'right'}"


def signed_angle_deg(facing: np.ndarray, towards: np.ndarray) -> float:
    """Angle from 2D vector ``facing`` to ``towards``, degrees in (-180, 180], counter-clockwise positive."""
    cross = facing[0] * towards[1] - facing[1] * towards[0]
    return math.degrees(math.atan2(cross, float(facing @ towards)))


@register_task("object_rel_direction")
class ObjectRelDirection(TaskGenerator[RelDirectionConfig]):
    answer_type: ClassVar[AnswerType] = AnswerType.MCQ
    short_name: ClassVar[str] = "Rel. Dir."
    spatialladder_rank: ClassVar[int | None] = 5
    official: ClassVar[frozenset[OfficialScorer]] = frozenset({OfficialScorer.SPATIALLADDER})
    supported: ClassVar[tuple[Modality, ...]] = (Modality.SINGLE_IMAGE, Modality.MULTI_VIEW, Modality.VIDEO)
    margins: ClassVar[tuple[str, ...]] = ("visibility_min", "lateral_deg", "depth_gap", "angle_margin_deg")

    def template_choices(self) -> dict[str, int]:
        return {f"{self.name}.camera": 1 + CAMERA_DISTRACTORS, f"{self.name}.quadrant": len(QUADRANT_FORM.choices)}

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        if len(shown.views) == 1:
            yield from self._camera_drafts(ctx, shown, rng, rejections)
        else:
            yield from self._quadrant_drafts(ctx, shown, rng, rejections)

    def _camera_drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        cands = self.candidates(ctx, shown, rejections)
        pose = shown.pose
        cam = {i: pose[:3, :3].T @ (ctx.objects[i].center - pose[:3, 3]) for i in cands}
        cands = [i for i in cands if rejections.check("behind_camera", cam[i][2] > 0.1)]
        pairs = [(a, b) for a in cands for b in cands if a != b]
        for k in rng.permutation(len(pairs)):
            a, b = pairs[int(k)]
            lateral = math.degrees(math.atan2(cam[a][0], cam[a][2]) - math.atan2(cam[b][0], cam[b][2]))
            gap = float(cam[a][2] - cam[b][2])
            answer = camera_relation(lateral, gap, cfg)
            if not rejections.check("direction_margin", answer is not None):
                continue
            assert answer is not None
            guard = self.filters.guard_bands
            lateral_edge = min((cfg.max_lateral_absent_deg, cfg.min_lateral_deg), key=lambda b: abs(abs(lateral) - b))
            depth_edge = min((cfg.max_depth_absent, cfg.min_depth_gap), key=lambda b: abs(abs(gap) - b))
            if not (
                self.clear("lateral_deg", abs(lateral), lateral_edge, guard.angle_deg, rejections)
                and self.clear("depth_gap", abs(gap), depth_edge, guard.depth, rejections)
            ):
                continue
            parts = set(answer.split("-"))
            distractors = [d for d in CAMERA_DIRECTIONS if not parts & set(d.split("-"))]
            picked = [distractors[int(i)] for i in rng.choice(len(distractors), size=CAMERA_DISTRACTORS, replace=False)]
            refs = [self.ref(ctx, shown, a, "object1"), self.ref(ctx, shown, b, "object2")]
            yield Draft(
                template=f"{self.name}.camera",
                fields={"object1": ctx.objects[a].category, "object2": ctx.objects[b].category},
                choices=[answer, *picked],
                objects=refs,
                margins={"visibility_min": min(r.visibility for r in refs), "lateral_deg": lateral, "depth_gap": gap},
            )

    def _quadrant_drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        yield from allocentric_drafts(
            self,
            ctx,
            shown,
            rng,
            rejections,
            QUADRANT_FORM,
            f"{self.name}.quadrant",
            self.config,
        )


@dataclass(frozen=True)
class DirectionForm:
    """One way to name where the querying object lies, from θ: the signed angle (degrees, counter-clockwise
    positive, in (-180, 180]) from the facing direction (positioning -> orienting) to the querying object."""

    choices: tuple[str, ...]
    answer: Callable[[float], str]
    boundary_distance: Callable[[float], float]
    """Degrees from θ to the nearest angle where the answer changes (the ``angle_margin_deg`` margin)."""


QUADRANT_FORM = DirectionForm(QUADRANTS, quadrant, lambda a: min(abs(a), 180.0 - abs(a), abs(abs(a) - 90.0)))


class AllocentricGates(Protocol):
    """What :func:`allocentric_drafts` reads from its task's config."""

    @property
    def min_angle_margin_deg(self) -> float: ...

    @property
    def min_separation(self) -> float: ...

    @property
    def tries(self) -> int: ...


def allocentric_drafts(
    task: TaskGenerator,
    ctx: SceneContext,
    shown: Shown,
    rng: np.random.Generator,
    rejections: Rejections,
    form: DirectionForm,
    template: str,
    gates: AllocentricGates,
) -> Iterator[Draft]:
    """Drafts "standing by P, facing O, where is Q?" from ``gates.tries`` random triples of referable objects
    (floor plane, box centres), rejecting triples closer than ``gates.min_separation`` or within
    ``gates.min_angle_margin_deg`` of an answer boundary."""
    cands = task.candidates(ctx, shown, rejections)
    if len(cands) < 3:
        return
    tried: set[tuple[int, int, int]] = set()
    for _ in range(gates.tries):
        p, o, q = (cands[int(i)] for i in rng.choice(len(cands), size=3, replace=False))
        if (p, o, q) in tried:
            continue
        tried.add((p, o, q))
        at = ctx.objects[p].center[:2]
        facing, towards = ctx.objects[o].center[:2] - at, ctx.objects[q].center[:2] - at
        separation = min(float(np.linalg.norm(facing)), float(np.linalg.norm(towards)))
        if not rejections.check("too_close", separation >= gates.min_separation):
            continue
        angle = signed_angle_deg(facing, towards)
        margin = form.boundary_distance(angle)
        band = task.filters.guard_bands.angle_deg
        if not task.reaches("angle_margin", margin, gates.min_angle_margin_deg, band, rejections):
            continue
        answer = form.answer(angle)
        refs = [
            task.ref(ctx, shown, p, "positioning"),
            task.ref(ctx, shown, o, "orienting"),
            task.ref(ctx, shown, q, "querying"),
        ]
        yield Draft(
            template=template,
            fields={
                "positioning": ctx.objects[p].category,
                "orienting": ctx.objects[o].category,
                "querying": ctx.objects[q].category,
            },
            choices=[answer, *(d for d in form.choices if d != answer)],
            objects=refs,
            margins={"visibility_min": min(r.visibility for r in refs), "angle_margin_deg": margin},
        )
