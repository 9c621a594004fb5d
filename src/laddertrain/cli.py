"""``ladder train ...``: the training stages from the command line.

This module imports neither torch nor TRL at import time (``ladder --help`` stays fast and torch-free).
Multi-GPU: ``accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes N -m laddertrain stage2 ...``
(docs/training.md).
"""

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from ladderdata.errors import LadderError
from ladderdata.extensions import examples

if TYPE_CHECKING:
    from laddertrain.recipe import TrainRecipe

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
    help="Three-stage training on ladder shards (SFT -> SFT -> cold start -> GRPO); docs/training.md.",
    epilog=examples(
        "ladder train tiny-model --out tiny-model   # a tiny random Qwen2.5-VL, to try every stage on a CPU",
        "ladder train stage1 --recipe tiny --model tiny-model --data demo/dataset --output /tmp/runs",
        "ladder train all --model models/Qwen2.5-VL-3B-Instruct --data dataset --output runs",
    ),
    no_args_is_help=True,
)

Recipe = Annotated[str, typer.Option(help="built-in training recipe (paper-3b, tiny) or YAML file")]
Model = Annotated[Path | None, typer.Option(help="model folder to start from (default: the previous stage's output)")]
Data = Annotated[Path, typer.Option(help="dataset folder written by `ladder build-dataset` (its --out)")]
Output = Annotated[Path, typer.Option(help="run folder: one sub-folder per stage, OUTPUT/<stage>/final the model")]
Generator = Annotated[
    Path | None, typer.Option(help="model that samples the cold-start answers (default: OUTPUT/stage2/final)")
]


def _recipe(name: str) -> "TrainRecipe":
    from laddertrain.recipe import TrainRecipe

    return TrainRecipe.load(name)


def _stage(stage: str, recipe: str, model: Path | None, data: Path, output: Path) -> None:
    from laddertrain.runners import run_stage

    run_stage(stage, _recipe(recipe), model, data, output)  # ends with the stage's summary in the log


@train_app.command(
    epilog=examples(
        "ladder train stage1 --model models/Qwen2.5-VL-3B-Instruct --data dataset --output runs",
        "ladder train stage1 --recipe tiny --model tiny-model --data demo/dataset --output /tmp/runs",
    )
)
@one_line_errors
def stage1(data: Data, recipe: Recipe = "paper-3b", model: Model = None, output: Output = Path("runs")) -> None:
    """SFT on object localization (JSON boxes); writes OUTPUT/stage1/final."""
    _stage("stage1", recipe, model, data, output)


@train_app.command(epilog=examples("ladder train stage2 --data dataset --output runs   # from runs/stage1/final"))
@one_line_errors
def stage2(data: Data, recipe: Recipe = "paper-3b", model: Model = None, output: Output = Path("runs")) -> None:
    """SFT on spatial questions (direct answers); starts from OUTPUT/stage1/final unless --model says otherwise."""
    _stage("stage2", recipe, model, data, output)


@train_app.command(
    "coldstart-data",
    epilog=examples(
        "ladder train coldstart-data --data dataset --output runs   # samples with runs/stage2/final",
        "ladder train coldstart-data --generator models/Qwen2.5-VL-7B-Instruct --data dataset --output runs",
    ),
)
@one_line_errors
def coldstart_data(
    data: Data, recipe: Recipe = "paper-3b", generator: Generator = None, output: Output = Path("runs")
) -> None:
    """Rejection-sample reasoning answers (paper Eq. 4) into OUTPUT/coldstart-data, the cold start's shard."""
    from laddertrain.runners import run_coldstart_data

    log.info("wrote %s", run_coldstart_data(_recipe(recipe), generator, data, output))


@train_app.command(epilog=examples("ladder train coldstart --output runs   # from runs/stage2/final"))
@one_line_errors
def coldstart(recipe: Recipe = "paper-3b", model: Model = None, output: Output = Path("runs")) -> None:
    """SFT on OUTPUT/coldstart-data (<think>..</think><answer>..</answer> targets); from OUTPUT/stage2/final."""
    from laddertrain.runners import COLDSTART_DATA

    _stage("coldstart", recipe, model, output / COLDSTART_DATA, output)


@train_app.command(epilog=examples("ladder train stage3 --data dataset --output runs   # from runs/coldstart/final"))
@one_line_errors
def stage3(data: Data, recipe: Recipe = "paper-3b", model: Model = None, output: Output = Path("runs")) -> None:
    """GRPO with format and accuracy rewards; starts from OUTPUT/coldstart/final unless --model says otherwise."""
    _stage("stage3", recipe, model, data, output)


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
    generator: Generator = None,
) -> None:
    """stage 1 -> stage 2 -> cold-start data -> cold start -> stage 3; a rerun resumes each stage."""
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
