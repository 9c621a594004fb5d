"""VSTI-Bench's ``camera_obj_rel_dist_v1`` / ``_v2`` / ``_v3``: which of four / three / two objects is closest to
the camera at one shown frame (closest points of their surfaces, exactly)?

Every option must be visible in that frame and unique there, at least ``min_distance`` from the camera, and the
answer clearly closest: ``distance_ratio`` = the next-closest option's distance / the closest one's is stored and
must reach ``min_ratio`` (VSTI-Bench asks its options' distances to differ by 0.15 m instead); the ratio and every
option's visibility must clear their thresholds by their guard bands (docs/benchmarks.md#guard-bands).
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
from ladderdata.tasks.camera_views import camera_distance, frame_description, view_ref, views_with_candidates
from ladderdata.tasks.context import SceneContext, Shown


class CameraObjRelDistConfig(TaskConfig):
    min_distance: float = Field(0.5, ge=0, le=100, description="metres: every option (VSTI-Bench: 0.5)")
    min_ratio: float = Field(1.5, gt=1, le=1000, description="next-closest option's distance / the closest one's")
    tries: int = Field(50, ge=1, le=100_000, description="random option sets tried per frame")


class CameraObjRelDist(TaskGenerator[CameraObjRelDistConfig]):
    """Shared generator of the three forms; subclasses set ``choices``."""

    answer_type: ClassVar[AnswerType] = AnswerType.MCQ
    official: ClassVar[frozenset[OfficialScorer]] = frozenset({OfficialScorer.VSTIBENCH})
    supported: ClassVar[tuple[Modality, ...]] = (Modality.SINGLE_IMAGE, Modality.MULTI_VIEW, Modality.VIDEO)
    margins: ClassVar[tuple[str, ...]] = ("visibility_min", "distance_ratio")
    choices: ClassVar[int]

    def template_choices(self) -> dict[str, int]:
        return {self.name: self.choices}

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        band = cfg.min_ratio * self.filters.guard_bands.ratio
        for index, objects in views_with_candidates(self, ctx, shown, rng, rejections):
            view = shown.views[index]
            if not rejections.check("too_few_objects", len(objects) >= self.choices):
                continue
            tried: set[tuple[int, ...]] = set()
            for _ in range(cfg.tries):
                picked = tuple(sorted(int(i) for i in rng.choice(objects, size=self.choices, replace=False)))
                if picked in tried:
                    continue
                tried.add(picked)
                distances = {i: camera_distance(ctx, i, view) for i in picked}
                if not rejections.check("min_distance", min(distances.values()) >= cfg.min_distance):
                    continue
                closest, runner_up = sorted(picked, key=distances.__getitem__)[:2]
                ratio = distances[runner_up] / distances[closest]
                if not self.reaches("distance_ratio", ratio, cfg.min_ratio, band, rejections):
                    continue
                others = [i for i in picked if i != closest]
                refs = [view_ref(ctx, shown, index, i, "candidate") for i in (closest, *others)]
                yield Draft(
                    template=self.name,
                    fields={"frame_description": frame_description(shown, index)},
                    choices=[ctx.objects[i].category for i in (closest, *others)],
                    objects=refs,
                    margins={"visibility_min": min(r.visibility for r in refs), "distance_ratio": ratio},
                )


@register_task("camera_obj_rel_dist_v1")
class CameraObjRelDistV1(CameraObjRelDist):
    short_name: ClassVar[str] = "Cam.-Obj. Rel. Dist. (4)"
    choices: ClassVar[int] = 4


@register_task("camera_obj_rel_dist_v2")
class CameraObjRelDistV2(CameraObjRelDist):
    short_name: ClassVar[str] = "Cam.-Obj. Rel. Dist. (3)"
    choices: ClassVar[int] = 3


@register_task("camera_obj_rel_dist_v3")
class CameraObjRelDistV3(CameraObjRelDist):
    short_name: ClassVar[str] = "Cam.-Obj. Rel. Dist. (2)"
    choices: ClassVar[int] = 2
