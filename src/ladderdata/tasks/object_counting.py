"""object_counting: how many instances of a category the shown views contain."""

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
from ladderdata.tasks.context import SceneContext, Shown


class CountingConfig(TaskConfig):
    min_count: int = Field(2, ge=1, le=1000, description="smallest count asked (1 is trivially common)")
    max_count: int = Field(20, ge=1, le=1000)

    ordered_fields: ClassVar[tuple[tuple[str, str], ...]] = (("min_count", "max_count"),)


@register_task("object_counting")
class ObjectCounting(TaskGenerator[CountingConfig]):
    """Counts the instances of a category seen in the frames shown (the salience rule of SIMS-V-style counting): a
    category is asked about only when every instance with any visible part there reaches ``min_visibility`` plus
    the visibility guard band, so every counted instance is visible enough and no uncounted instance is partly
    visible (``partial_instance``: whether it counts is ambiguous; ``guard_band:count_visibility``: too close to
    call). The threshold used is stored as the ``count_visibility_threshold`` margin."""

    answer_type: ClassVar[AnswerType] = AnswerType.NUMERIC
    short_name: ClassVar[str] = "Obj. Cnt."
    spatialladder_rank: ClassVar[int | None] = 0
    official: ClassVar[frozenset[OfficialScorer]] = frozenset({OfficialScorer.VSIBENCH, OfficialScorer.SPATIALLADDER})
    supported: ClassVar[tuple[Modality, ...]] = (Modality.MULTI_VIEW, Modality.VIDEO)
    margins: ClassVar[tuple[str, ...]] = ("visibility_min", "count_visibility_threshold")
    unit: ClassVar[str] = "count"

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        f = self.filters
        categories = sorted({ctx.objects[i].category for i in shown.object_ids})
        for k in rng.permutation(len(categories)):
            category = categories[int(k)]
            members = [ctx.objects[i] for i in shown.object_ids if ctx.objects[i].category == category]
            reason = next((r for r in map(self.unaskable, members) if r is not None), None)
            if reason is not None:
                rejections.counts[reason] += 1
                continue
            instances = shown.present(category, 0.0)  # every instance with a visible part in the frames shown
            vis = [shown.visibility(i) for i in instances]
            if not rejections.check("partial_instance", min(vis) >= f.min_visibility):
                continue
            if not self.clear("count_visibility", min(vis), f.min_visibility, f.guard_bands.visibility, rejections):
                continue
            if not rejections.check("count_range", cfg.min_count <= len(instances) <= cfg.max_count):
                continue
            yield Draft(
                template=self.name,
                fields={"category": category},
                answer=answers.count(len(instances)),
                objects=[self.ref(ctx, shown, i, "counted") for i in sorted(instances)],
                margins={
                    "visibility_min": min(vis),
                    "count_visibility_threshold": f.min_visibility + f.guard_bands.visibility,
                },
            )
