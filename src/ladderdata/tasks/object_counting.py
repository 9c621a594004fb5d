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
class ObjectCounting(TaskGenerator):
    """Counts instances whose best visibility reaches ``min_visibility``. A category is rejected when one of
    its instances is present but less visible than that (``partial_instance``): whether it counts is ambiguous."""

    answer_type: ClassVar[AnswerType] = AnswerType.NUMERIC
    short_name: ClassVar[str] = "Obj. Cnt."
    official: ClassVar[frozenset[OfficialScorer]] = frozenset({OfficialScorer.VSIBENCH, OfficialScorer.SPATIALLADDER})
    supported: ClassVar[tuple[Modality, ...]] = (Modality.MULTI_VIEW, Modality.VIDEO)
    margins: ClassVar[tuple[str, ...]] = ("visibility_min",)
    config_class: ClassVar[type[TaskConfig]] = CountingConfig
    unit: ClassVar[str] = "count"

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        assert isinstance(cfg, CountingConfig)
        f = self.filters
        categories = sorted({ctx.objects[i].category for i in shown.object_ids})
        for k in rng.permutation(len(categories)):
            category = categories[int(k)]
            members = [ctx.objects[i] for i in shown.object_ids if ctx.objects[i].category == category]
            reason = next((r for r in map(self.unaskable, members) if r is not None), None)
            if reason is not None:
                rejections.counts[reason] += 1
                continue
            instances = shown.present(category, f.presence_visibility)
            vis = [shown.visibility(i) for i in instances]
            if not rejections.check("partial_instance", min(vis) >= f.min_visibility):
                continue
            if not rejections.check("count_range", cfg.min_count <= len(instances) <= cfg.max_count):
                continue
            yield Draft(
                template=self.name,
                fields={"category": category},
                answer=answers.count(len(instances)),
                objects=[self.ref(ctx, shown, i, "counted") for i in sorted(instances)],
                margins={"visibility_min": min(vis)},
            )
