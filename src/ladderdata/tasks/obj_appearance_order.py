"""obj_appearance_order: order in which objects first appear in a video.

An object *appears* in the first frame where its visibility reaches ``min_visibility`` (the threshold every
referenced object must pass anyway).
"""

import math
from collections.abc import Iterator
from itertools import pairwise, permutations
from typing import ClassVar, Self

import numpy as np
from pydantic import Field, model_validator

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


class AppearanceOrderConfig(TaskConfig):
    objects: int = Field(4, ge=2, le=6, description="objects to order")
    choices: int = Field(4, ge=2, le=6)
    min_gap_frames: int = Field(1, ge=1, le=1000, description="shown frames between consecutive first appearances")
    tries: int = Field(100, ge=1, le=100_000)

    @model_validator(mode="after")
    def _enough_orders(self) -> Self:
        if self.choices > math.factorial(self.objects):
            raise ValueError(
                f"{self.choices} choices of orders of {self.objects} objects: there are only "
                f"{math.factorial(self.objects)} orders"
            )
        return self


@register_task("obj_appearance_order")
class ObjAppearanceOrder(TaskGenerator[AppearanceOrderConfig]):
    answer_type: ClassVar[AnswerType] = AnswerType.MCQ
    short_name: ClassVar[str] = "Appr. Order"
    spatialladder_rank: ClassVar[int | None] = 6
    official: ClassVar[frozenset[OfficialScorer]] = frozenset({OfficialScorer.VSIBENCH, OfficialScorer.SPATIALLADDER})
    supported: ClassVar[tuple[Modality, ...]] = (Modality.VIDEO,)
    margins: ClassVar[tuple[str, ...]] = ("visibility_min", "first_seen_gap_frames", "first_seen_gap_s")
    temporal: ClassVar[bool] = True

    def template_choices(self) -> dict[str, int]:
        return {self.name: self.config.choices}

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        first = {}
        threshold, band = self.filters.min_visibility, self.filters.guard_bands.visibility
        for i in self.candidates(ctx, shown, rejections):
            seen = shown.first_seen(i, threshold)
            assert seen is not None  # referable objects reach min_visibility in some frame
            # the first sighting must not move with sampling: clear above the threshold there, clear below before
            row = shown.per_view[i]
            closest = min(abs(float(v) - threshold) for v in row[: seen + 1])
            if not rejections.check("guard_band:first_seen", closest >= band):
                continue
            first[i] = seen
        ids = sorted(first)
        if len(ids) < cfg.objects:
            return
        times = shown.timestamps
        assert times is not None  # temporal tasks only see scans whose frame times are known
        tried: set[tuple[int, ...]] = set()
        for _ in range(cfg.tries):
            subset = tuple(sorted(ids[int(k)] for k in rng.choice(len(ids), size=cfg.objects, replace=False)))
            if subset in tried:
                continue
            tried.add(subset)
            order = sorted(subset, key=lambda i: first[i])
            frames = [first[i] for i in order]
            gap = min(b - a for a, b in pairwise(frames))
            if not rejections.check("first_seen_gap", gap >= cfg.min_gap_frames):
                continue
            gap_s = min(times[b] - times[a] for a, b in pairwise(frames))
            names = [ctx.objects[i].category for i in order]
            shuffled = [names[j] for j in rng.permutation(len(names))]
            wrong = [p for p in permutations(names) if list(p) != names]
            picked = [wrong[int(j)] for j in rng.choice(len(wrong), size=cfg.choices - 1, replace=False)]
            refs = [self.ref(ctx, shown, i, "ordered") for i in order]
            yield Draft(
                template=self.name,
                fields={"objects": ", ".join(shuffled)},
                choices=[", ".join(names), *(", ".join(p) for p in picked)],
                objects=refs,
                margins={
                    "visibility_min": min(r.visibility for r in refs),
                    "first_seen_gap_frames": float(gap),
                    "first_seen_gap_s": gap_s,
                },
            )
