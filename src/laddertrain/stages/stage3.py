"""Stage 3: GRPO on spatial questions with the think prompt and the format and accuracy rewards (paper Table 8),
from the cold start's model."""

from laddertrain.data import grpo_row
from laddertrain.stages.base import Stage, Trainer
from laddertrain.stages.config import GRPOStageConfig

STAGE3 = Stage(
    name="stage3",
    trainer=Trainer.GRPO,
    subset="spatial",
    section="stage3",
    config=GRPOStageConfig,
    row=lambda row, _: grpo_row(row),
    starts_from="coldstart",
    help="GRPO with format and accuracy rewards; starts from OUTPUT/coldstart/final unless --model says otherwise.",
    examples=("ladder train stage3 --data dataset --output runs   # from runs/coldstart/final",),
)
