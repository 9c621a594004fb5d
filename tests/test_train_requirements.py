"""Package floors: declared once, checked before any model is loaded, one clear line when unmet."""

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from laddertrain import requirements
from laddertrain.requirements import REQUIREMENTS, DependencyError, check_requirements

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def fresh_check() -> Iterator[None]:
    """The check runs once per process; each test starts from an unchecked one and leaves none cached."""
    check_requirements.cache_clear()
    yield
    check_requirements.cache_clear()


def fake_versions(monkeypatch: pytest.MonkeyPatch, **versions: str | None) -> None:
    real = requirements.installed_version
    monkeypatch.setattr(requirements, "installed_version", lambda p: versions[p] if p in versions else real(p))


def test_floors_are_the_train_extra_of_pyproject() -> None:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["train"]
    for req in REQUIREMENTS:
        assert f"{req.package}>={req.floor}" in extra, req


def test_this_environment_meets_the_floors() -> None:
    check_requirements()


def test_an_old_package_fails_with_one_line_naming_version_range_and_command(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_versions(monkeypatch, transformers="5.17.0")
    with pytest.raises(DependencyError) as e:
        check_requirements()
    message = str(e.value)
    assert "\n" not in message
    assert "transformers>=5.18 (found 5.17.0" in message
    assert message.endswith("pip install -U 'transformers>=5.18'")
    assert "trl" not in message  # only what is wrong


def test_several_problems_share_the_line_and_a_missing_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_versions(monkeypatch, trl=None, datasets="2.19.0")
    with pytest.raises(DependencyError, match=r"trl>=1\.16 \(not installed") as e:
        check_requirements()
    assert "\n" not in str(e.value)  # missing packages are reported first, versions compared once all exist
    monkeypatch.undo()
    fake_versions(monkeypatch, datasets="2.19.0", torch="2.4.1+cu121")
    with pytest.raises(DependencyError) as e:
        check_requirements()
    assert "torch>=2.5 (found 2.4.1+cu121" in str(e.value) and "datasets>=4.7 (found 2.19.0" in str(e.value)
    assert str(e.value).endswith("pip install -U 'torch>=2.5' 'datasets>=4.7'")


def test_the_check_runs_before_any_model_or_dataset_is_touched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from laddertrain.inference import load_model
    from laddertrain.recipe import TrainRecipe
    from laddertrain.runners import run_all, run_stage

    fake_versions(monkeypatch, transformers="5.17.0")
    missing = tmp_path / "no-such-model"  # every entry would fail on this path if it looked at it first
    recipe = TrainRecipe.load("tiny")
    for stage in ("stage1", "stage2", "coldstart-data", "coldstart", "stage3"):
        with pytest.raises(DependencyError):
            run_stage(stage, recipe, missing, missing, tmp_path)
    with pytest.raises(DependencyError):
        run_all(recipe, missing, missing, tmp_path)
    with pytest.raises(DependencyError):  # ladder eval --model
        load_model(missing)


def test_cli_prints_one_line_and_exits_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from laddertrain.cli import train_app

    fake_versions(monkeypatch, transformers="5.17.0")
    args = ["stage2", "--recipe", "tiny", "--model", str(tmp_path), "--data", str(tmp_path)]
    result = CliRunner().invoke(train_app, args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: laddertrain needs transformers>=5.18 (found 5.17.0")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "laddertrain"],  # what accelerate launch runs
        ["-c", "import sys; from ladderdata.cli import entrypoint; sys.argv[0] = 'ladder'; entrypoint()", "train"],
    ],
    ids=["python-m-laddertrain", "ladder-train"],
)
def test_an_installed_old_transformers_stops_a_fresh_process(tmp_path: Path, command: list[str]) -> None:
    """A distribution record for transformers 5.17.0 ahead of the real one on sys.path is what an old install
    looks like to the check; the real package stays importable, so nothing else changes."""
    fake = tmp_path / "site" / "transformers-5.17.0.dist-info"
    fake.mkdir(parents=True)
    (fake / "METADATA").write_text("Metadata-Version: 2.1\nName: transformers\nVersion: 5.17.0\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), str(ROOT / "src")])}
    args = ["stage2", "--recipe", "tiny", "--model", str(tmp_path / "none"), "--data", str(tmp_path / "none")]
    done = subprocess.run(
        [sys.executable, *command, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "transformers>=5.18 (found 5.17.0" in lines[0] and "pip install -U 'transformers>=5.18'" in lines[0]
