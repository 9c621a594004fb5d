"""Resuming a stage: its last checkpoint, the weights in it, and whether it already finished the stage."""

import json
import logging
from pathlib import Path
from typing import Any, NamedTuple, TypedDict

from laddertrain.stages.config import StageConfig

log = logging.getLogger(__name__)

LogEntry = dict[str, float]
"""One entry of a trainer's log history: ``step``, ``epoch``, ``loss``, ``learning_rate``, ... by name."""


class TrainerState(TypedDict, total=False):
    """What :func:`finished` and a stage's summary read of a checkpoint's ``trainer_state.json``."""

    global_step: int
    max_steps: int
    log_history: list[LogEntry]


class StageRun(NamedTuple):
    """What a stage's training did: its optimizer steps and its log history (one entry per logged step)."""

    steps: int
    history: list[LogEntry]


def resume_checkpoint(stage: str, out_dir: Path) -> str | None:
    """The stage's last checkpoint (``OUTPUT/<stage>/checkpoint-N``, highest N) to resume from, said in the log;
    None (a fresh start) when there is none."""
    numbered = {
        int(p.name.removeprefix("checkpoint-")): p
        for p in (out_dir.glob("checkpoint-*") if out_dir.is_dir() else ())
        if p.is_dir() and p.name.removeprefix("checkpoint-").isdigit()
    }
    if not numbered:
        return None
    checkpoint = numbered[max(numbered)]
    log.info("%s: resuming from %s (delete %s to start the stage over)", stage, checkpoint, out_dir)
    return str(checkpoint)


def load_checkpoint_weights(trainer: Any, checkpoint: str, model: Any = None) -> None:
    """Put a checkpoint's weights into the trainer's model, names translated as ``from_pretrained`` does.

    transformers' ``Trainer`` restores them with a raw ``load_state_dict``, but Qwen2.5-VL checkpoints are saved
    under the original names (``visual.*``, ``model.layers.*``) while the model holds ``model.visual.*`` and
    ``model.language_model.*``: nothing would load, and the stage would go on from its starting weights with the
    checkpoint's optimizer state and step (transformers >= 4.52; the same report: modelscope/ms-swift#7947).
    """
    target = trainer.model if model is None else model
    loaded = type(target).from_pretrained(checkpoint, dtype=target.dtype)
    target.load_state_dict(loaded.state_dict())


def checkpoint_state(checkpoint: str) -> TrainerState:
    """A checkpoint's ``trainer_state.json`` (step, total steps, log history)."""
    state: TrainerState = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    return state


def finished(state: TrainerState, stage: StageConfig) -> bool:
    """Whether a checkpoint's state reached the stage's ``max_steps`` (or, for a schedule of epochs, the total
    the run computed)."""
    total = stage.max_steps if stage.max_steps > 0 else int(state.get("max_steps", 0))
    return total > 0 and int(state.get("global_step", 0)) >= total
