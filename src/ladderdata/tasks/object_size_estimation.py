"""object_size_estimation: longest side of an object's box, centimetres (docs/geometry.md: which box)."""

from collections.abc import Iterator
from typing import ClassVar

import numpy as np
from pydantic import Field

from ladderdata.geometry.measure import SizeBox
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


class SizeConfig(TaskConfig):
    min_size_cm: float = Field(10.0, ge=0, le=10_000, description="human-scale bounds (paper B.1)")
    max_size_cm: float = Field(300.0, gt=0, le=10_000)
    box: SizeBox = Field(
        SizeBox.GRAVITY,
        description="gravity: gravity-aligned box (default); minimal_3d: minimal box rotated in 3D (VSI-Bench)",
    )

    ordered_fields: ClassVar[tuple[tuple[str, str], ...]] = (("min_size_cm", "max_size_cm"),)


@register_task("object_size_estimation")
class ObjectSizeEstimation(TaskGenerator[SizeConfig]):
    answer_type: ClassVar[AnswerType] = AnswerType.NUMERIC
    short_name: ClassVar[str] = "Obj. Size"
    spatialladder_rank: ClassVar[int | None] = 2
    official: ClassVar[frozenset[OfficialScorer]] = frozenset({OfficialScorer.VSIBENCH, OfficialScorer.SPATIALLADDER})
    supported: ClassVar[tuple[Modality, ...]] = (Modality.SINGLE_IMAGE, Modality.MULTI_VIEW, Modality.VIDEO)
    margins: ClassVar[tuple[str, ...]] = ("visibility_min",)
    unit: ClassVar[str] = "cm"

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        cands = self.candidates(ctx, shown, rejections)
        for k in rng.permutation(len(cands)):
            obj = ctx.objects[cands[int(k)]]
            size_cm = obj.size_on(cfg.box)
            if not rejections.check("size_range", cfg.min_size_cm <= size_cm <= cfg.max_size_cm):
                continue
            ref = self.ref(ctx, shown, obj.object_id, "object")
            yield Draft(
                template=self.name,
                fields={"object": obj.category},
                answer=answers.centimetres(size_cm),
                objects=[ref],
                margins={"visibility_min": ref.visibility},
            )
