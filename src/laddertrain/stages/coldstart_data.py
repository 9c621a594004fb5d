"""The cold start's data (paper Eq. 4): reasoning answers to spatial questions sampled with stage 2's model, kept
when format + accuracy > 1 + λ, written as the ``coldstart`` subset of ``OUTPUT/coldstart-data``."""

from laddertrain.stages.base import Stage, Trainer
from laddertrain.stages.config import ColdStartDataConfig

COLDSTART_DATA = Stage(
    name="coldstart-data",
    trainer=Trainer.SAMPLE,
    subset="spatial",
    section="coldstart_data",
    config=ColdStartDataConfig,
    starts_from="stage2",
    writes="coldstart",
    help="Rejection-sample reasoning answers (paper Eq. 4) into OUTPUT/coldstart-data, the cold start's shard.",
    examples=(
        "ladder train coldstart-data --data dataset --output runs   # samples with runs/stage2/final",
        "ladder train coldstart-data --generator models/Qwen2.5-VL-7B-Instruct --data dataset --output runs",
    ),
)
