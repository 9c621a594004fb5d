"""room_size_estimation: floor area of the scanned room, square metres (videos only)."""

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


class RoomSizeConfig(TaskConfig):
    min_area: float = Field(2.0, ge=0, le=100_000, description="m^2; smaller floors are annotation fragments")
    max_per_scene: int = Field(1, ge=0, le=10_000)


@register_task("room_size_estimation")
class RoomSizeEstimation(TaskGenerator[RoomSizeConfig]):
    answer_type: ClassVar[AnswerType] = AnswerType.NUMERIC
    short_name: ClassVar[str] = "Room Size"
    spatialladder_rank: ClassVar[int | None] = 3
    official: ClassVar[frozenset[OfficialScorer]] = frozenset({OfficialScorer.VSIBENCH, OfficialScorer.SPATIALLADDER})
    supported: ClassVar[tuple[Modality, ...]] = (Modality.VIDEO,)
    margins: ClassVar[tuple[str, ...]] = ()
    unit: ClassVar[str] = "m²"

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        if not rejections.check("no_floor", ctx.floor_area is not None):
            return
        assert ctx.floor_area is not None
        if rejections.check("area_range", ctx.floor_area >= cfg.min_area):
            yield Draft(template=self.name, answer=answers.square_metres(ctx.floor_area), objects=[])
