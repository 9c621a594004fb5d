"""Stage 2: SFT on spatial questions with the direct-answer prompt, from stage 1's model."""

from laddertrain.data import stage2_row
from laddertrain.stages.base import Stage, Trainer
from laddertrain.stages.config import StageConfig

STAGE2 = Stage(
    name="stage2",
    trainer=Trainer.SFT,
    subset="spatial",
    section="stage2",
    config=StageConfig,
    row=lambda row, _: stage2_row(row),
    starts_from="stage1",
    help="SFT on spatial questions (direct answers); starts from OUTPUT/stage1/final unless --model says otherwise.",
    examples=("ladder train stage2 --data dataset --output runs   # from runs/stage1/final",),
)
