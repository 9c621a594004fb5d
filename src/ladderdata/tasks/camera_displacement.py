"""VSTI-Bench's ``camera_displacement``: how far, in metres, the camera moved between two shown frames.

The answer is the straight-line distance between the two camera centres (the poses' translations), not the
length of the path between them. A pair is asked about only when that distance is well above the poses' own
error: ``displacement_over_noise`` = displacement / ``pose_noise_m`` is stored and must reach
``min_displacement_over_noise``, clear of it by the ratio guard band (docs/benchmarks.md#guard-bands).
"""

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
from ladderdata.tasks.camera_views import frame_description, frame_pairs
from ladderdata.tasks.context import SceneContext, Shown


class CameraDisplacementConfig(TaskConfig):
    pose_noise_m: float = Field(
        0.05, gt=0, le=10, description="metres: error of a camera position (ScanNet's BundleFusion poses: a few cm)"
    )
    min_displacement_over_noise: float = Field(
        4.0, ge=1, le=1000, description="displacement / pose_noise_m (VSTI-Bench: at least 0.2 m)"
    )
    max_displacement: float = Field(10.0, gt=0, le=100, description="metres (VSTI-Bench: 10)")


@register_task("camera_displacement")
class CameraDisplacement(TaskGenerator[CameraDisplacementConfig]):
    answer_type: ClassVar[AnswerType] = AnswerType.NUMERIC
    short_name: ClassVar[str] = "Cam. Disp."
    official: ClassVar[frozenset[OfficialScorer]] = frozenset({OfficialScorer.VSTIBENCH})
    supported: ClassVar[tuple[Modality, ...]] = (Modality.MULTI_VIEW, Modality.VIDEO)
    margins: ClassVar[tuple[str, ...]] = ("displacement_over_noise",)
    unit: ClassVar[str] = "m"

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        band = cfg.min_displacement_over_noise * self.filters.guard_bands.ratio
        for start, end, moved in frame_pairs(shown, rng):
            displacement = float(np.linalg.norm(moved))
            ratio = displacement / cfg.pose_noise_m
            if not self.reaches("displacement_over_noise", ratio, cfg.min_displacement_over_noise, band, rejections):
                continue
            if not rejections.check("max_displacement", displacement <= cfg.max_displacement):
                continue
            yield Draft(
                template=self.name,
                fields={
                    "start_frame_description": frame_description(shown, start, total=False),
                    "end_frame_description": frame_description(shown, end),
                },
                answer=answers.metres(displacement),
                objects=[],
                margins={"displacement_over_noise": ratio},
            )
