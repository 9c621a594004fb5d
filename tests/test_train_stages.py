"""The stage table: a stage registered from one module (here, this one) is a ``ladder train`` command with its help
and options, a step of ``ladder train all`` checked before the first stage starts, a recipe section validated by
its own model, the next command of the stage before it, and it trains (CPU, the tiny offline Qwen2.5-VL)."""

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fixtures.factories import BuiltDataset

pytest.importorskip("trl")

from ladderdata.cli import app
from ladderdata.errors import ConfigError
from laddertrain.data import stage2_row
from laddertrain.recipe import TrainRecipe
from laddertrain.stages import all_stages
from laddertrain.stages.base import STAGES, Stage, Trainer, register_stage
from laddertrain.stages.config import StageConfig

REPO = Path(__file__).resolve().parents[1]

TOY = Stage(
    name="toy",
    trainer=Trainer.SFT,
    subset="spatial",
    section="toy",
    config=StageConfig,
    row=lambda row, _: stage2_row(row),
    starts_from="stage3",
    help="SFT on spatial questions once more, from stage 3's model (a stage registered by a test).",
    examples=("ladder train toy --data dataset --output runs   # from runs/stage3/final",),
)
"""A whole stage: the declaration above and the registration in :func:`toy` are all it takes."""

BUILT_IN = ["stage1", "stage2", "coldstart-data", "coldstart", "stage3"]


@pytest.fixture
def toy() -> Iterator[Stage]:
    register_stage(TOY)
    yield TOY
    STAGES.unregister(TOY.name)


def recipe_with_toy(tmp_path: Path, toy_section: str) -> Path:
    """The tiny recipe under another name, with a ``toy:`` section."""
    text = (REPO / "templates" / "train" / "tiny.yaml").read_text().replace("name: tiny", "name: tiny-toy")
    path = tmp_path / "recipe.yaml"
    path.write_text(f"{text}toy: {toy_section}\n")
    return path


def test_a_registered_stage_is_a_command_with_its_options_and_examples(toy: Stage) -> None:
    listed = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    commands = re.findall(r"^│ ([a-z][a-z0-9-]*) ", listed.output, flags=re.MULTILINE)  # a row's first line
    assert commands[:8] == [*BUILT_IN, "toy", "all", "tiny-model"]  # the table's order, then the written commands
    assert "SFT on spatial questions once more" in listed.output
    shown = CliRunner().invoke(app, ["train", "toy", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "SFT on spatial questions once more" in shown.output
    assert all(option in shown.output for option in ("--data", "--recipe", "--model", "--output"))
    assert "--generator" not in shown.output and "ladder train toy --data dataset --output runs" in shown.output
    STAGES.unregister(TOY.name)
    gone = CliRunner().invoke(app, ["train", "toy", "--help"])
    assert gone.exit_code != 0 and "No such command" in gone.output


def test_run_all_checks_then_runs_a_registered_stage_in_table_order(
    toy: Stage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from laddertrain import runners

    ran: list[tuple[str, Path | None]] = []

    def recording(stage: Stage, recipe: TrainRecipe, model: Path | None, data: Path | None, output: Path) -> Path:
        ran.append((stage.name, model))
        return output / stage.name

    for trainer in Trainer:
        monkeypatch.setitem(runners.RUNNERS, trainer, recording)
    base, data, output = tmp_path / "base", tmp_path / "data", tmp_path / "runs"
    recipe = TrainRecipe.load(recipe_with_toy(tmp_path, "{per_device_train_batch_size: 2, effective_batch_size: 8}"))
    assert recipe.settings(toy, StageConfig).accumulation(1) == 4  # the toy: section, by the stage's own model
    assert recipe.settings(TOY, StageConfig) is not recipe.stage3
    assert runners.run_all(recipe, base, data, output) == output / "toy"
    assert ran == [("stage1", base), *((name, None) for name in BUILT_IN[1:]), ("toy", None)]

    ran.clear()
    broken = TrainRecipe.load(recipe_with_toy(tmp_path, "{per_device_train_batch_size: 3, effective_batch_size: 8}"))
    with pytest.raises(ConfigError, match=r"effective_batch_size 8 is not a multiple of per_device_train_batch_size 3"):
        runners.run_all(broken, base, data, output)
    assert ran == []  # the toy stage's settings are checked before stage 1 starts

    with pytest.raises(ConfigError, match=r"toy \(stage toy\): learning_rate"):
        TrainRecipe.load(recipe_with_toy(tmp_path, "{learning_rate: 2}"))
    STAGES.unregister(TOY.name)
    with pytest.raises(ConfigError, match="toy: Extra inputs are not permitted"):  # no stage reads it: a typo
        TrainRecipe.load(recipe_with_toy(tmp_path, "{learning_rate: 0.1}"))


def test_the_next_command_follows_the_table(toy: Stage, tmp_path: Path) -> None:
    from laddertrain.runners import next_command
    from laddertrain.stages import get_stage

    recipe, data, output = TrainRecipe.load("tiny"), tmp_path / "dataset", tmp_path / "runs"
    assert [s.name for s in all_stages()] == [*BUILT_IN, "toy"]
    said = {s.name: next_command(s, recipe, data, output) for s in all_stages()}
    assert said == {
        "stage1": f"ladder train stage2 --recipe tiny --data {data} --output {output}",
        "stage2": f"ladder train coldstart-data --recipe tiny --data {data} --output {output}",
        "coldstart-data": f"ladder train coldstart --recipe tiny --output {output}",
        "coldstart": f"ladder train stage3 --recipe tiny --data DATASET --output {output}",
        "stage3": f"ladder train toy --recipe tiny --data {data} --output {output}",
        "toy": f"ladder eval --bench BENCH --model {output / 'toy' / 'final'} --prompt direct",
    }
    STAGES.unregister(TOY.name)
    assert next_command(get_stage("stage3"), recipe, data, output) == (
        f"ladder eval --bench BENCH --model {output / 'stage3' / 'final'} --prompt think"
    )


def test_a_registered_stage_trains_through_its_command(
    toy: Stage, built_dataset: BuiltDataset, tiny_model: Path, tmp_path: Path
) -> None:
    from safetensors.numpy import load_file

    recipe = recipe_with_toy(
        tmp_path,
        "{learning_rate: 1.0e-3, warmup_ratio: 0, max_steps: 1, per_device_train_batch_size: 2, max_samples: 2}",
    )  # no warm-up: one warm-up step would train at learning rate 0
    runs = tmp_path / "runs"
    args = ["train", "toy", "--recipe", str(recipe), "--model", str(tiny_model), "--data", str(built_dataset.out)]
    result = CliRunner().invoke(app, [*args, "--output", str(runs)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, (result.output, result.exception)
    said = "".join(result.output.split())
    assert "toydone:1steps,loss" in said
    assert "".join(f"next: ladder eval --bench BENCH --model {runs / 'toy' / 'final'} --prompt direct".split()) in said
    before, after = load_file(tiny_model / "model.safetensors"), load_file(runs / "toy" / "final" / "model.safetensors")
    assert any(not np.array_equal(before[k], after[k]) for k in before if k in after)
