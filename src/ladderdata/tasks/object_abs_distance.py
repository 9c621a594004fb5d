"""object_abs_distance: closest-surface distance between two objects, metres."""

from collections.abc import Iterator
from itertools import combinations
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
from ladderdata.tasks.context import SceneContext, Shown


class AbsDistanceConfig(TaskConfig):
    min_distance_over_size: float = Field(
        1.0, gt=0, le=100, description="the distance must exceed this times the smaller object's size (paper B.1)"
    )


@register_task("object_abs_distance")
class ObjectAbsDistance(TaskGenerator[AbsDistanceConfig]):
    answer_type: ClassVar[AnswerType] = AnswerType.NUMERIC
    short_name: ClassVar[str] = "Abs. Dist."
    spatialladder_rank: ClassVar[int | None] = 1
    official: ClassVar[frozenset[OfficialScorer]] = frozenset({OfficialScorer.VSIBENCH, OfficialScorer.SPATIALLADDER})
    supported: ClassVar[tuple[Modality, ...]] = (Modality.SINGLE_IMAGE, Modality.MULTI_VIEW, Modality.VIDEO)
    margins: ClassVar[tuple[str, ...]] = ("visibility_min", "distance_over_size")
    unit: ClassVar[str] = "m"

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        pairs = list(combinations(self.candidates(ctx, shown, rejections), 2))
        for k in rng.permutation(len(pairs)):
            a, b = pairs[int(k)]
            if rng.random() < 0.5:
                a, b = b, a
            distance = ctx.distance(a, b)
            smaller = min(ctx.objects[a].size_cm, ctx.objects[b].size_cm) / 100.0
            ratio = distance / smaller
            if not rejections.check("distance_over_size", ratio > cfg.min_distance_over_size):
                continue
            band = cfg.min_distance_over_size * self.filters.guard_bands.ratio
            if not self.clear("distance_over_size", ratio, cfg.min_distance_over_size, band, rejections):
                continue
            refs = [self.ref(ctx, shown, a, "object1"), self.ref(ctx, shown, b, "object2")]
            yield Draft(
                template=self.name,
                fields={"object1": ctx.objects[a].category, "object2": ctx.objects[b].category},
                answer=answers.metres(distance),
                objects=refs,
                margins={"visibility_min": min(r.visibility for r in refs), "distance_over_size": ratio},
            )
