"""A training stage as one declaration, and the registry of stages.

A :class:`Stage` says everything the rest of laddertrain needs: what it trains on (a subset of ``--data``, or of
an earlier stage's output), with which trainer, from which stage's model, where its settings sit in a recipe and
what ``ladder train <name> --help`` says. The ``ladder train`` commands, ``ladder train all``, the checks before a
stage loads anything and the summary with the next command all read this table (:data:`STAGES`, in registration
order: the order ``ladder train all`` runs the stages in).
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel

from ladderdata.layout import check_name
from ladderdata.registry import Registry
from laddertrain.rows import PixelBudget, ShardRow, TRLRow
from laddertrain.stages.config import ColdStartDataConfig, GRPOStageConfig, StageConfig

ENTRY_POINT_GROUP = "laddertrain.stages"


class Trainer(StrEnum):
    """What a stage does with its rows."""

    SFT = "sft"
    """TRL's ``SFTTrainer``, assistant-only loss: writes ``OUTPUT/<stage>/final``."""
    GRPO = "grpo"
    """TRL's ``GRPOTrainer`` with the rewards of :mod:`laddertrain.rewards`: writes ``OUTPUT/<stage>/final``."""
    SAMPLE = "sample"
    """Rejection sampling (paper Eq. 4): samples answers with a model, keeps those the rewards pass and writes them
    as a shard under ``OUTPUT/<stage>/data/<writes>/``, the data of a later stage; trains nothing."""


SETTINGS: dict[Trainer, type[BaseModel]] = {
    Trainer.SFT: StageConfig,
    Trainer.GRPO: GRPOStageConfig,
    Trainer.SAMPLE: ColdStartDataConfig,
}
"""The settings model each trainer reads; a stage's own ``config`` is it or a subclass of it."""

RowAdapter = Callable[[ShardRow, PixelBudget], TRLRow]
"""A shard row (without its images) -> the row the trainer reads, at the recipe's pixel budget."""


@dataclass(frozen=True)
class Stage:
    """One training stage: all that the commands, ``ladder train all`` and the runners need to know of it."""

    name: str
    """``ladder train <name>``, ``OUTPUT/<name>/``."""
    trainer: Trainer
    subset: str
    """The dataset subset its rows come from (``data/<subset>/`` of ``--data``, or of ``data_from``'s output)."""
    section: str
    """The recipe section holding its settings (``stage1:``); a recipe without it uses ``config``'s defaults."""
    config: type[BaseModel]
    """Its settings model: :data:`SETTINGS` of its trainer, or a subclass of it."""
    help: str
    """The first line of ``ladder train <name> --help``."""
    examples: tuple[str, ...]
    """Command lines shown under ``--help`` (each may end with ``   # comment``)."""
    row: RowAdapter | None = None
    """SFT and GRPO: the adapter from a shard row to the trainer's row."""
    starts_from: str | None = None
    """The stage whose ``final`` model it starts from (or, to sample, samples with) unless ``--model`` (or
    ``--generator``) says otherwise; None: the model must be given."""
    data_from: str | None = None
    """The stage whose output folder holds its data (a :attr:`Trainer.SAMPLE` stage); None: ``--data``."""
    writes: str | None = None
    """SAMPLE: the subset it writes, under ``OUTPUT/<name>/data/``."""

    @property
    def reads_dataset(self) -> bool:
        """Whether its rows come from ``--data`` (else from :attr:`data_from`'s output)."""
        return self.data_from is None

    @property
    def model_option(self) -> str:
        """The option naming the model it starts from: ``generator`` for a sampling stage, else ``model``."""
        return "generator" if self.trainer is Trainer.SAMPLE else "model"


STAGES: Registry[Stage] = Registry("training stage", entry_point_group=ENTRY_POINT_GROUP)
"""Every training stage by name, in the order ``ladder train all`` runs them."""


def register_stage(stage: Stage) -> Stage:
    """Make ``stage`` a ``ladder train`` command and a step of ``ladder train all`` (after those registered
    before it), once its declaration is checked."""
    check_name(stage.name, "training stage")
    check_name(stage.subset, f"subset of training stage {stage.name!r}")
    expected = SETTINGS[stage.trainer]
    if not issubclass(stage.config, expected):
        raise ValueError(
            f"training stage {stage.name!r}: a {stage.trainer} stage's config must be a {expected.__name__}"
        )
    if (stage.row is None) != (stage.trainer is Trainer.SAMPLE):
        raise ValueError(
            f"training stage {stage.name!r}: SFT and GRPO stages adapt rows (row=), sampling stages do not"
        )
    if (stage.writes is None) != (stage.trainer is not Trainer.SAMPLE):
        raise ValueError(f"training stage {stage.name!r}: a sampling stage names the subset it writes (writes=)")
    if not stage.section.isidentifier():
        raise ValueError(f"training stage {stage.name!r}: section {stage.section!r} is not a recipe key")
    taken = next((s.name for s in STAGES.values() if s.section == stage.section and s.name != stage.name), None)
    if taken is not None:
        raise ValueError(f"training stage {stage.name!r}: recipe section {stage.section!r} is {taken!r}'s")
    STAGES.add(stage.name, stage)
    return stage
