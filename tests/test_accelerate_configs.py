"""The shipped accelerate configs leave the GPU count to the command line (docs/training.md, "N GPUs")."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs" / "accelerate").glob("*.yaml"))


def test_configs_are_found() -> None:
    assert [c.name for c in CONFIGS] == ["ddp.yaml", "zero2.yaml", "zero3.yaml"]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_config_sets_no_process_count(config: Path) -> None:
    settings = yaml.safe_load(config.read_text())
    assert "num_processes" not in settings
    assert settings["num_machines"] == 1 and settings["mixed_precision"] == "bf16"
    assert "--num_processes N" in config.read_text()  # the comment says how to launch it


def test_launch_needs_the_process_count_and_runs_with_it() -> None:
    pytest.importorskip("accelerate", reason="accelerate (the train extra) is not installed")
    # this interpreter's accelerate, whether or not its environment's bin/ is on PATH
    launch = [sys.executable, "-m", "accelerate.commands.accelerate_cli", "launch"]
    config = str(CONFIGS[0])
    missing = subprocess.run(
        [*launch, "--config_file", config, "-m", "laddertrain", "--help"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode != 0 and "manually pass in `--num_processes`" in missing.stderr
    given = subprocess.run(
        [*launch, "--config_file", config, "--num_processes", "1", "-m", "laddertrain", "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert given.returncode == 0, given.stderr
    assert "stage1" in given.stdout and "coldstart-data" in given.stdout
