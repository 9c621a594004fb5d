"""VSTI-Bench's ``obj_obj_relative_pos_nf`` / ``_lr`` / ``_ud``: in one shown frame, is object A nearer or farther
than object B from the camera, to B's left or right, above or below B?

Each answer needs the two objects' gravity-aligned boxes to be separated along the relation's axis, never
merely their centres (VSTI-Bench's rule: every corner of A beyond every corner of B, by a gap):

* near/far: depth (camera z) of the box corners; the gap between the intervals is ``depth_gap`` (metres);
* left/right: as the image shows it, the corners' horizontal view angles atan2(x, z) (``lateral_gap_deg``),
  and, as VSTI-Bench measures it, their camera x (``lateral_gap_m``); both must agree;
* up/down: in the world, the boxes' heights above the floor (``vertical_gap_m``; gravity, whatever the camera's
  tilt), and in the image, the corners' vertical view angles atan2(-y, z) (``vertical_gap_deg``); both must agree.

A negative gap means the boxes overlap along that axis (or lie the other way round for the second measure):
the pair is ambiguous and rejected. Each gap must clear its threshold by its guard band (angle band for the
``_deg`` gaps, metre band for the others; ``guard_band:<gap>``, docs/benchmarks.md#guard-bands). Left/right and
up/down need every corner in front of the camera.
"""

from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import permutations
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
from ladderdata.tasks.camera_views import NEAR_PLANE, box_in_camera, frame_description, view_ref, views_with_candidates
from ladderdata.tasks.context import SceneContext, Shown
from ladderdata.typed import FloatArray, Points3


def interval_gap(a: FloatArray, b: FloatArray) -> float:
    """How far every value of ``a`` lies above every value of ``b`` (min a − max b); negative when they overlap
    or ``a`` lies below."""
    return float(a.min() - b.max())


@dataclass(frozen=True)
class Separation:
    """The answer for one pair, and how far A lies beyond B in the answer's direction, per measure."""

    answer: str
    gaps: dict[str, float]
    """Margin name -> gap along it, in the answer's direction (positive: separated)."""


class RelativePosConfig(TaskConfig):
    min_gap_m: float = Field(0.15, ge=0, le=10, description="metres between the boxes (VSTI-Bench: 0.15)")
    min_gap_deg: float = Field(2.0, ge=0, le=90, description="degrees of view angle between the boxes")


def _angles(corners: Points3, axis: int, sign: float) -> FloatArray:
    """(8,) view angles of box corners in degrees: atan2(sign * coordinate ``axis``, depth)."""
    return np.degrees(np.arctan2(sign * corners[:, axis], corners[:, 2]))


def _oriented(
    positive: str,
    negative: str,
    angles: tuple[FloatArray, FloatArray],
    metric: tuple[FloatArray, FloatArray],
    axis: str,
) -> Separation:
    """The answer the view angles give (``positive`` when A's angles lie beyond B's), with the gaps of both
    measures (A's then B's values in each pair) in that direction."""
    (angle_a, angle_b), (metric_a, metric_b) = angles, metric
    if interval_gap(angle_a, angle_b) > interval_gap(angle_b, angle_a):
        return Separation(
            positive,
            {f"{axis}_gap_deg": interval_gap(angle_a, angle_b), f"{axis}_gap_m": interval_gap(metric_a, metric_b)},
        )
    return Separation(
        negative,
        {f"{axis}_gap_deg": interval_gap(angle_b, angle_a), f"{axis}_gap_m": interval_gap(metric_b, metric_a)},
    )


class RelativePos(TaskGenerator[RelativePosConfig]):
    """Shared generator of the three relations; subclasses set the options and the separation."""

    answer_type: ClassVar[AnswerType] = AnswerType.MCQ
    official: ClassVar[frozenset[OfficialScorer]] = frozenset({OfficialScorer.VSTIBENCH})
    supported: ClassVar[tuple[Modality, ...]] = (Modality.SINGLE_IMAGE, Modality.MULTI_VIEW, Modality.VIDEO)
    options: ClassVar[tuple[str, str]]
    in_front: ClassVar[bool] = True
    """Whether every box corner must lie in front of the camera (view angles need it)."""

    def template_choices(self) -> dict[str, int]:
        return {self.name: 2}

    @abstractmethod
    def separation(self, ctx: SceneContext, a: int, b: int, corners_a: Points3, corners_b: Points3) -> Separation:
        """The answer for A = ``a``, B = ``b`` and its gaps; ``corners_*``: (8, 3) boxes in the camera frame."""

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        guard = self.filters.guard_bands
        for index, objects in views_with_candidates(self, ctx, shown, rng, rejections):
            view = shown.views[index]
            pairs = list(permutations(objects, 2))
            for k in rng.permutation(len(pairs)):
                a, b = pairs[int(k)]
                corners_a, corners_b = box_in_camera(ctx, a, view), box_in_camera(ctx, b, view)
                in_front = min(corners_a[:, 2].min(), corners_b[:, 2].min()) > NEAR_PLANE
                if self.in_front and not rejections.check("behind_camera", in_front):
                    continue
                found = self.separation(ctx, a, b, corners_a, corners_b)
                limits = {name: cfg.min_gap_deg if name.endswith("_deg") else cfg.min_gap_m for name in found.gaps}
                if not rejections.check("gap", all(found.gaps[n] >= limits[n] for n in found.gaps)):
                    continue
                bands = {name: guard.angle_deg if name.endswith("_deg") else guard.depth for name in found.gaps}
                if not all(self.clear(n, found.gaps[n], limits[n], bands[n], rejections) for n in found.gaps):
                    continue
                refs = [view_ref(ctx, shown, index, a, "object_a"), view_ref(ctx, shown, index, b, "object_b")]
                yield Draft(
                    template=self.name,
                    fields={
                        "frame_description": frame_description(shown, index),
                        "obj_A_name": ctx.objects[a].category,
                        "obj_B_name": ctx.objects[b].category,
                    },
                    choices=[found.answer, *(o for o in self.options if o != found.answer)],
                    objects=refs,
                    margins={"visibility_min": min(r.visibility for r in refs), **found.gaps},
                )


@register_task("obj_obj_relative_pos_nf")
class RelativePosNearFar(RelativePos):
    short_name: ClassVar[str] = "Rel. Pos. (near/far)"
    margins: ClassVar[tuple[str, ...]] = ("visibility_min", "depth_gap")
    options: ClassVar[tuple[str, str]] = ("Near", "Far")
    in_front: ClassVar[bool] = False

    def separation(self, ctx: SceneContext, a: int, b: int, corners_a: Points3, corners_b: Points3) -> Separation:
        near = interval_gap(corners_b[:, 2], corners_a[:, 2])
        far = interval_gap(corners_a[:, 2], corners_b[:, 2])
        return Separation("Near", {"depth_gap": near}) if near > far else Separation("Far", {"depth_gap": far})


@register_task("obj_obj_relative_pos_lr")
class RelativePosLeftRight(RelativePos):
    short_name: ClassVar[str] = "Rel. Pos. (left/right)"
    margins: ClassVar[tuple[str, ...]] = ("visibility_min", "lateral_gap_deg", "lateral_gap_m")
    options: ClassVar[tuple[str, str]] = ("Left", "Right")

    def separation(self, ctx: SceneContext, a: int, b: int, corners_a: Points3, corners_b: Points3) -> Separation:
        angles = (_angles(corners_a, 0, 1.0), _angles(corners_b, 0, 1.0))
        return _oriented("Right", "Left", angles, (corners_a[:, 0], corners_b[:, 0]), "lateral")


@register_task("obj_obj_relative_pos_ud")
class RelativePosUpDown(RelativePos):
    short_name: ClassVar[str] = "Rel. Pos. (up/down)"
    margins: ClassVar[tuple[str, ...]] = ("visibility_min", "vertical_gap_deg", "vertical_gap_m")
    options: ClassVar[tuple[str, str]] = ("Up", "Down")

    def separation(self, ctx: SceneContext, a: int, b: int, corners_a: Points3, corners_b: Points3) -> Separation:
        height_a, height_b = ctx.objects[a].box.corners()[:, 2], ctx.objects[b].box.corners()[:, 2]
        angles = (_angles(corners_a, 1, -1.0), _angles(corners_b, 1, -1.0))
        return _oriented("Up", "Down", angles, (height_a, height_b), "vertical")
