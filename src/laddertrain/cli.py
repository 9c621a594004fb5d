"""``ladder train ...``: the training stages from the command line.

This module imports neither torch nor TRL at import time (``ladder --help`` stays fast and torch-free).
Multi-GPU: ``accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes N -m laddertrain stage2 ...``
(docs/training.md). The stage commands are generated from the stage table (:mod:`laddertrain.stages`).
"""

import functools
import logging
from collections.abc import Callable, MutableMapping
from inspect import Parameter, Signature
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from typer.core import MarkupMode, TyperGroup
from typer.models import CommandInfo

from ladderdata.errors import LadderError
from ladderdata.extensions import examples

if TYPE_CHECKING:
    from laddertrain.recipe import TrainRecipe
    from laddertrain.stages.base import Stage

log = logging.getLogger("laddertrain")

ClickCommand = Any
"""A click command as typer builds it: typer vendors click since 0.2x, so its class depends on typer's release."""

Recipe = Annotated[str, typer.Option(help="built-in training recipe (paper-3b, tiny) or YAML file")]
Data = Annotated[Path, typer.Option(help="dataset folder written by `ladder build-dataset` (its --out)")]
Output = Annotated[Path, typer.Option(help="run folder: one sub-folder per stage, OUTPUT/<stage>/final the model")]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def one_line_errors(command: Callable[_P, _R]) -> Callable[_P, _R]:
    """A command that reports ladder's own errors (bad recipe, missing input, old packages) as one ``error:`` line
    on stderr and exit status 2, however the app is mounted (``ladder train``, ``python -m laddertrain``)."""

    @functools.wraps(command)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return command(*args, **kwargs)
        except LadderError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None

    return run


def _recipe(name: str) -> "TrainRecipe":
    from laddertrain.recipe import TrainRecipe

    return TrainRecipe.load(name)


def _stage_command(stage: "Stage") -> Callable[..., None]:
    """The ``ladder train <stage>`` command: ``--data`` when the stage reads a dataset, ``--recipe``, ``--model``
    (``--generator`` for a sampling stage), ``--output``; its help and examples from the stage."""
    from laddertrain.stages.base import Trainer

    def run(**options: Any) -> None:
        from laddertrain.runners import run_stage

        model, data = options[stage.model_option], options.get("data")
        made = run_stage(stage.name, _recipe(options["recipe"]), model, data, options["output"])
        if stage.trainer is Trainer.SAMPLE:  # a trained stage ends with its summary in the log
            log.info("wrote %s", made)

    option = Parameter.KEYWORD_ONLY
    model_help = (
        f"model that samples the answers (default: OUTPUT/{stage.starts_from}/final)"
        if stage.trainer is Trainer.SAMPLE
        else "model folder to start from (default: the previous stage's output)"
    )
    parameters = [
        *([Parameter("data", option, annotation=Data)] if stage.reads_dataset else []),
        Parameter("recipe", option, annotation=Recipe, default="paper-3b"),
        Parameter(
            stage.model_option, option, annotation=Annotated[Path | None, typer.Option(help=model_help)], default=None
        ),
        Parameter("output", option, annotation=Output, default=Path("runs")),
    ]
    run.__signature__ = Signature(parameters)  # type: ignore[attr-defined]  # what typer reads the options from
    run.__doc__ = stage.help
    return one_line_errors(run)


@functools.cache
def _stage_click_command(stage: "Stage", markup: MarkupMode) -> ClickCommand:
    info = CommandInfo(name=stage.name, callback=_stage_command(stage), epilog=examples(*stage.examples))
    return typer.main.get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode=markup)


class StageCommands(TyperGroup):
    """``ladder train``'s commands: one per registered training stage, generated from the stage table in its order
    (a stage registered since shows up in the next ``--help``), then the commands written below."""

    @property  # click's attribute, computed here from the registry each time
    def commands(self) -> dict[str, ClickCommand]:
        from laddertrain.stages import all_stages

        generated = {stage.name: _stage_click_command(stage, self.rich_markup_mode) for stage in all_stages()}
        return {**generated, **self._written}

    @commands.setter
    def commands(self, written: MutableMapping[str, ClickCommand]) -> None:
        self._written = dict(written)


train_app = typer.Typer(
    cls=StageCommands,
    help="Three-stage training on ladder shards (SFT -> SFT -> cold start -> GRPO); docs/training.md.",
    epilog=examples(
        "ladder train tiny-model --out tiny-model   # a tiny random Qwen2.5-VL, to try every stage on a CPU",
        "ladder train stage1 --recipe tiny --model tiny-model --data demo/dataset --output /tmp/runs",
        "ladder train all --model models/Qwen2.5-VL-3B-Instruct --data dataset --output runs",
    ),
    no_args_is_help=True,
)


@train_app.command(
    "all",
    epilog=examples(
        "ladder train all --model models/Qwen2.5-VL-3B-Instruct --data dataset --output runs",
        "ladder train all --recipe tiny --model tiny-model --data demo/dataset --output /tmp/runs",
    ),
)
@one_line_errors
def all_stages(
    model: Annotated[Path, typer.Option(help="base model folder (e.g. Qwen2.5-VL-3B-Instruct, downloaded)")],
    data: Data,
    recipe: Recipe = "paper-3b",
    output: Output = Path("runs"),
    generator: Annotated[
        Path | None, typer.Option(help="model that samples the cold-start answers (default: OUTPUT/stage2/final)")
    ] = None,
) -> None:
    """Every stage in `ladder train --help`'s order (stage1 -> stage2 -> coldstart-data -> coldstart -> stage3).

    Each starts from the model of the stage it names; a rerun resumes each stage."""
    from laddertrain.runners import run_all

    log.info("all stages done: %s", run_all(_recipe(recipe), model, data, output, generator))


@train_app.command(
    "tiny-model",
    epilog=examples(
        "ladder train tiny-model --out tiny-model   # then: ladder train stage1 --recipe tiny --model tiny-model ..."
    ),
)
@one_line_errors
def tiny_model(
    out: Annotated[Path, typer.Option(help="folder to write the model, tokenizer and processor to (new or empty)")],
) -> None:
    """Write a tiny random Qwen2.5-VL (the tests' model, built offline) to try every stage on a CPU in seconds.

    0.2M parameters and a tokenizer trained on a few prompts: it learns nothing useful, it is for trying the commands.
    """
    from laddertrain.tiny_model import save_tiny_qwen

    log.info(
        "wrote %s: train it with `ladder train stage1 --recipe tiny --model %s --data DATASET`",
        save_tiny_qwen(out),
        out,
    )
