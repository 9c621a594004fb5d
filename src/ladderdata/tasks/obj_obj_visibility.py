"""``obj_obj_visibility`` (no VSTI-Bench counterpart; SPAR and SpatialEvo ask it): which of two objects is more
visible in one shown frame?

Visibility is ladder's per-view measure (docs/metadata.md): the area fraction of the object's surface inside the
image and not hidden by another object, from ray casting the scan's mesh (its own back faces do not count
against it: an unoccluded object fully in frame has visibility 1). Both objects must be seen there
(``min_visible``) and unique there; the answer must be clear both relatively and absolutely: the stored
``visibility_ratio`` (more / less visible) and ``visibility_gap`` (their difference) must reach ``min_ratio``
and ``min_gap``, and still reach them with each visibility moved toward the other by the visibility guard band
(``guard_band:visibility_ratio``, ``guard_band:visibility_gap``; docs/benchmarks.md#guard-bands).
"""

from collections.abc import Iterator
from itertools import combinations
from typing import ClassVar

import numpy as np
from pydantic import Field

from ladderdata.tasks.base import (
    AnswerType,
    Draft,
    Modality,
    Rejections,
    TaskConfig,
    TaskGenerator,
    register_task,
)
from ladderdata.tasks.camera_views import frame_description, view_ref, view_visibility, views_with_candidates
from ladderdata.tasks.context import SceneContext, Shown


class VisibilityConfig(TaskConfig):
    min_visible: float = Field(0.1, gt=0, le=1, description="each object's visibility in the frame, at least")
    min_ratio: float = Field(1.5, ge=1, le=1000, description="more visible / less visible")
    min_gap: float = Field(0.2, ge=0, le=1, description="more visible − less visible")


@register_task("obj_obj_visibility")
class ObjObjVisibility(TaskGenerator[VisibilityConfig]):
    answer_type: ClassVar[AnswerType] = AnswerType.MCQ
    short_name: ClassVar[str] = "Visibility"
    supported: ClassVar[tuple[Modality, ...]] = (Modality.SINGLE_IMAGE, Modality.MULTI_VIEW, Modality.VIDEO)
    margins: ClassVar[tuple[str, ...]] = ("visibility_min", "visibility_ratio", "visibility_gap")

    def template_choices(self) -> dict[str, int]:
        return {self.name: 2}

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        for index, objects in views_with_candidates(self, ctx, shown, rng, rejections, cfg.min_visible):
            pairs = list(combinations(objects, 2))
            for k in rng.permutation(len(pairs)):
                more, less = sorted(pairs[int(k)], key=lambda i: -view_visibility(shown, index, i))
                high, low = view_visibility(shown, index, more), view_visibility(shown, index, less)
                if not rejections.check("visibility_ratio", high / low >= cfg.min_ratio):
                    continue
                if not rejections.check("visibility_gap", high - low >= cfg.min_gap):
                    continue
                # both visibilities may be off by the visibility band: the gates must hold with them moved together
                band = self.filters.guard_bands.visibility
                worst_ratio = (high - band) / (low + band)
                if not self.clear("visibility_ratio", high / low, cfg.min_ratio, high / low - worst_ratio, rejections):
                    continue
                if not self.clear("visibility_gap", high - low, cfg.min_gap, 2 * band, rejections):
                    continue
                refs = [view_ref(ctx, shown, index, i, "candidate") for i in (more, less)]
                yield Draft(
                    template=self.name,
                    fields={"frame_description": frame_description(shown, index)},
                    choices=[ctx.objects[more].category, ctx.objects[less].category],
                    objects=refs,
                    margins={"visibility_min": low, "visibility_ratio": high / low, "visibility_gap": high - low},
                )
