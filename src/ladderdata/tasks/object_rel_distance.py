"""object_rel_distance: which candidate object is closest (surface to surface) to a target object."""

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

#: a touching pair counts as 1 cm apart, so the ratio stays finite
MIN_DISTANCE = 0.01


class RelDistanceConfig(TaskConfig):
    choices: int = Field(2, ge=2, le=4, description="candidate objects (paper Table 5: two)")
    min_ratio: float = Field(2.0, gt=1, le=1000, description="second-closest / closest distance (paper B.1: 2)")
    tries_per_target: int = Field(8, ge=1, le=10_000)


@register_task("object_rel_distance")
class ObjectRelDistance(TaskGenerator[RelDistanceConfig]):
    answer_type: ClassVar[AnswerType] = AnswerType.MCQ
    short_name: ClassVar[str] = "Rel. Dist."
    spatialladder_rank: ClassVar[int | None] = 4
    official: ClassVar[frozenset[OfficialScorer]] = frozenset({OfficialScorer.VSIBENCH, OfficialScorer.SPATIALLADDER})
    supported: ClassVar[tuple[Modality, ...]] = (Modality.SINGLE_IMAGE, Modality.MULTI_VIEW, Modality.VIDEO)
    margins: ClassVar[tuple[str, ...]] = ("visibility_min", "distance_ratio")

    def template_choices(self) -> dict[str, int]:
        return {self.name: self.config.choices}

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        cands = self.candidates(ctx, shown, rejections)
        if len(cands) < cfg.choices + 1:
            return
        for t in rng.permutation(len(cands)):
            target = cands[int(t)]
            others = [c for c in cands if c != target]
            for _ in range(cfg.tries_per_target):
                picked = [others[int(i)] for i in rng.choice(len(others), size=cfg.choices, replace=False)]
                dist = {c: max(ctx.distance(target, c), MIN_DISTANCE) for c in picked}
                ordered = sorted(picked, key=lambda c: dist[c])
                ratio = dist[ordered[1]] / dist[ordered[0]]
                band = cfg.min_ratio * self.filters.guard_bands.ratio
                if not self.reaches("distance_ratio", ratio, cfg.min_ratio, band, rejections):
                    continue
                refs = [self.ref(ctx, shown, target, "target")]
                refs += [self.ref(ctx, shown, c, "candidate") for c in picked]
                yield Draft(
                    template=self.name,
                    fields={"category": ctx.objects[target].category},
                    choices=[ctx.objects[c].category for c in ordered],
                    objects=refs,
                    margins={"visibility_min": min(r.visibility for r in refs), "distance_ratio": ratio},
                )
                break
