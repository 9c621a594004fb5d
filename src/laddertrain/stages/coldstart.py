"""The cold start: SFT on the sampled reasoning answers (``<think>..</think><answer>..</answer>``), from stage 2's
model."""

from laddertrain.data import coldstart_row
from laddertrain.stages.base import Stage, Trainer
from laddertrain.stages.config import StageConfig

COLDSTART = Stage(
    name="coldstart",
    trainer=Trainer.SFT,
    subset="coldstart",
    section="coldstart",
    config=StageConfig,
    row=lambda row, _: coldstart_row(row),
    starts_from="stage2",
    data_from="coldstart-data",
    help="SFT on OUTPUT/coldstart-data (<think>..</think><answer>..</answer> targets); from OUTPUT/stage2/final.",
    examples=("ladder train coldstart --output runs   # from runs/stage2/final",),
)
