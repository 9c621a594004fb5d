"""``ladder train ...``: the training stages from the command line.

This module imports neither torch nor TRL at import time (``ladder --help`` stays fast and torch-free).
Multi-GPU: ``accelerate launch --config_file configs/accelerate/zero2.yaml -m laddertrain stage2 ...``.
"""

import logging
from pathlib import Path
from typing import Annotated

import typer

log = logging.getLogger("laddertrain")

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
def stage1(
    recipe: Recipe = "paper-3b", model: Model = None, data: Data = Path("demo/dataset"), output: Output = Path("runs")
) -> None:
    """SFT on object localization (JSON boxes)."""
    _stage("stage1", recipe, model, data, output)


@train_app.command()
def stage2(
    recipe: Recipe = "paper-3b", model: Model = None, data: Data = Path("demo/dataset"), output: Output = Path("runs")
) -> None:
    """SFT on spatial questions (direct answers)."""
    _stage("stage2", recipe, model, data, output)


@train_app.command("coldstart-data")
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
def coldstart(
    recipe: Recipe = "paper-3b", model: Model = None, data: Data = Path("demo/dataset"), output: Output = Path("runs")
) -> None:
    """SFT on the cold-start shard (<think>..</think><answer>..</answer> targets)."""
    _stage("coldstart", recipe, model, data, output)


@train_app.command()
def stage3(
    recipe: Recipe = "paper-3b", model: Model = None, data: Data = Path("demo/dataset"), output: Output = Path("runs")
) -> None:
    """GRPO with format and accuracy rewards."""
    _stage("stage3", recipe, model, data, output)


@train_app.command("all")
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
