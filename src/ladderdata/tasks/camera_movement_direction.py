"""VSTI-Bench's ``camera_movement_direction``: did the camera move forward, backward, left or right between two
shown frames, relative to where it faced at the first?

The first frame's heading is its optical axis with the vertical part removed (the floor plane, z up); left is
that heading turned 90° counter-clockwise. φ = signed angle from the heading to the camera's horizontal
displacement (counter-clockwise positive): forward for |φ| < 45°, left for 45° < φ < 135°, right for
-135° < φ < -45°, backward for |φ| > 135°. Stored: ``angle_margin_deg``, φ's distance to the nearest boundary
(±45°, ±135°), and ``displacement_over_noise``, the horizontal displacement over ``pose_noise_m``; each must
clear its threshold by its guard band (angle, ratio; docs/benchmarks.md#guard-bands).
"""

import math
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
from ladderdata.tasks.camera_views import frame_description, frame_pairs, heading
from ladderdata.tasks.context import SceneContext, Shown

DIRECTIONS = ("Forward", "Backward", "Left", "Right")
"""VSTI-Bench's options (``DIRECTION_OPTIONS`` of its V1 generator), in its capitalisation."""


def movement_direction(angle_deg: float) -> str:
    """The direction of a horizontal displacement at signed angle ``angle_deg`` from the heading (left positive)."""
    if abs(angle_deg) < 45.0:
        return "Forward"
    if abs(angle_deg) > 135.0:
        return "Backward"
    return "Left" if angle_deg > 0 else "Right"


def boundary_distance(angle_deg: float) -> float:
    """Degrees from ``angle_deg`` to the nearest answer boundary (±45°, ±135°)."""
    a = abs(angle_deg)
    return min(abs(a - 45.0), abs(a - 135.0))


class MovementDirectionConfig(TaskConfig):
    pose_noise_m: float = Field(0.05, gt=0, le=10, description="metres: error of a camera position")
    min_displacement_over_noise: float = Field(
        10.0, ge=1, le=1000, description="horizontal displacement / pose_noise_m (default: 0.5 m)"
    )
    min_angle_margin_deg: float = Field(15.0, ge=0, le=45, description="φ's distance to the nearest boundary")


@register_task("camera_movement_direction")
class CameraMovementDirection(TaskGenerator[MovementDirectionConfig]):
    answer_type: ClassVar[AnswerType] = AnswerType.MCQ
    short_name: ClassVar[str] = "Cam. Move"
    official: ClassVar[frozenset[OfficialScorer]] = frozenset({OfficialScorer.VSTIBENCH})
    supported: ClassVar[tuple[Modality, ...]] = (Modality.MULTI_VIEW, Modality.VIDEO)
    margins: ClassVar[tuple[str, ...]] = ("angle_margin_deg", "displacement_over_noise")

    def template_choices(self) -> dict[str, int]:
        return {self.name: len(DIRECTIONS)}

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        guard = self.filters.guard_bands
        band = cfg.min_displacement_over_noise * guard.ratio
        for start, end, move in frame_pairs(shown, rng):
            moved = move[:2]
            ratio = float(np.linalg.norm(moved)) / cfg.pose_noise_m
            if not self.reaches("displacement_over_noise", ratio, cfg.min_displacement_over_noise, band, rejections):
                continue
            try:
                forward, left = heading(shown.views[start])
            except ValueError:
                rejections.counts["no_heading"] += 1
                continue
            angle = math.degrees(math.atan2(float(moved @ left), float(moved @ forward)))
            margin = boundary_distance(angle)
            if not self.reaches("angle_margin", margin, cfg.min_angle_margin_deg, guard.angle_deg, rejections):
                continue
            answer = movement_direction(angle)
            yield Draft(
                template=self.name,
                fields={
                    "start_frame_description": frame_description(shown, start, total=False),
                    "end_frame_description": frame_description(shown, end),
                },
                choices=[answer, *(d for d in DIRECTIONS if d != answer)],
                objects=[],
                margins={"angle_margin_deg": margin, "displacement_over_noise": ratio},
            )
