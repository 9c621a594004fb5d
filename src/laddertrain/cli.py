"""``ladder train ...``: the training stages from the command line.

This module imports neither torch nor TRL at import time (``ladder --help`` stays fast and torch-free).
Multi-GPU: ``accelerate launch --config_file configs/accelerate/zero2.yaml -m laddertrain stage2 ...``.
"""

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from ladderdata.errors import LadderError

log = logging.getLogger("laddertrain")

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


train_app = typer.Typer(
    help="Three-stage training on ladder shards (SFT -> SFT -> cold start -> GRPO).", no_args_is_help=True
)

Recipe = Annotated[str, typer.Option(help="built-in training recipe (paper-3b, tiny) or YAML file")]
Model = Annotated[Path | None, typer.Option(help="model folder to start from (default: the previous stage's output)")]
Data = Annotated[Path, typer.Option(help="dataset folder written by `ladder build-dataset`")]
Output = Annotated[Path, typer.Option(help="run folder: one sub-folder per stage")]


def _recipe(name: str):  # type: ignore[no-untyped-def]
    from laddertrain.recipe import TrainRecipe

    return TrainRecipe.load(name)


def _stage(stage: str, recipe: str, model: Path | None, data: Path, output: Path) -> None:
    from laddertrain.runners import run_stage

    final = run_stage(stage, _recipe(recipe), model, data, output)
    log.info("%s done: %s", stage, final)


@train_app.command()
@one_line_errors
def stage1(
    recipe: Recipe = "paper-3b", model: Model = None, data: Data = Path("demo/dataset"), output: Output = Path("runs")
) -> None:
    """SFT on object localization (JSON boxes)."""
    _stage("stage1", recipe, model, data, output)


@train_app.command()
@one_line_errors
def stage2(
    recipe: Recipe = "paper-3b", model: Model = None, data: Data = Path("demo/dataset"), output: Output = Path("runs")
) -> None:
    """SFT on spatial questions (direct answers)."""
    _stage("stage2", recipe, model, data, output)


@train_app.command("coldstart-data")
@one_line_errors
def coldstart_data(
    recipe: Recipe = "paper-3b",
    generator: Annotated[Path | None, typer.Option(help="model that samples answers (default: stage-2 model)")] = None,
    data: Data = Path("demo/dataset"),
    output: Output = Path("runs"),
) -> None:
    """Rejection-sample reasoning answers (paper Eq. 4) into a cold-start shard."""
    from laddertrain.runners import run_coldstart_data

    log.info("wrote %s", run_coldstart_data(_recipe(recipe), generator, data, output))


@train_app.command()
@one_line_errors
def coldstart(
    recipe: Recipe = "paper-3b", model: Model = None, data: Data = Path("demo/dataset"), output: Output = Path("runs")
) -> None:
    """SFT on the cold-start shard (<think>..</think><answer>..</answer> targets)."""
    _stage("coldstart", recipe, model, data, output)


@train_app.command()
@one_line_errors
def stage3(
    recipe: Recipe = "paper-3b", model: Model = None, data: Data = Path("demo/dataset"), output: Output = Path("runs")
) -> None:
    """GRPO with format and accuracy rewards."""
    _stage("stage3", recipe, model, data, output)


@train_app.command("all")
@one_line_errors
def all_stages(
    recipe: Recipe = "paper-3b",
    model: Annotated[Path, typer.Option(help="base model folder")] = Path("Qwen2.5-VL-3B-Instruct"),
    data: Data = Path("demo/dataset"),
    output: Output = Path("runs"),
    generator: Annotated[Path | None, typer.Option(help="cold-start sampler (default: stage-2 model)")] = None,
) -> None:
    """stage 1 -> stage 2 -> cold-start data -> cold start -> stage 3."""
    from laddertrain.runners import run_all

    log.info("all stages done: %s", run_all(_recipe(recipe), model, data, output, generator))
