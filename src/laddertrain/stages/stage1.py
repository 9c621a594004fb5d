"""Stage 1: SFT on object localization (paper Section 3.2); the target is the JSON list of labels and boxes in the
pixel grid the processor resizes each image to."""

from laddertrain.data import stage1_row
from laddertrain.stages.base import Stage, Trainer
from laddertrain.stages.config import StageConfig

STAGE1 = Stage(
    name="stage1",
    trainer=Trainer.SFT,
    subset="localization",
    section="stage1",
    config=StageConfig,
    row=lambda row, pixels: stage1_row(row, *pixels),
    help="SFT on object localization (JSON boxes); writes OUTPUT/stage1/final.",
    examples=(
        "ladder train stage1 --model models/Qwen2.5-VL-3B-Instruct --data dataset --output runs",
        "ladder train stage1 --recipe tiny --model tiny-model --data demo/dataset --output /tmp/runs",
    ),
)
