"""Common mistakes stop the command with exit status 2 and one line saying what to do, before any work starts
(no progress bar, no output), through the real entry point; and the options that fix them work."""

import shutil
import sys
from pathlib import Path

import pytest

from fixtures.factories import linked_copy
from ladderdata.cli import (
    BAD_CONFIG,
    EMPTY_BENCHMARK,
    INTERNAL_ERROR,
    INTERRUPTED,
    OUT_OF_SPACE,
    SCANS_FAILED,
    entrypoint,
)
from ladderdata.layout import LABEL_TABLE, SPLIT_LIST
from ladderdata.sources.base import SOURCES
from ladderdata.synth.scannetpp import scene_id

#: What ``ladder`` exits with (its entry point's docstring): 0, or why it stopped.
STATUSES = {0, SCANS_FAILED, BAD_CONFIG, OUT_OF_SPACE, EMPTY_BENCHMARK, INTERNAL_ERROR, INTERRUPTED}


def ladder(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit status and everything ``ladder ARGS`` printed (stdout, then stderr)."""
    monkeypatch.setattr(sys, "argv", ["ladder", *args])
    with pytest.raises(SystemExit) as done:
        entrypoint()
    printed = capsys.readouterr()
    code = done.value.code
    assert code in STATUSES, f"ladder exited with {code!r}, none of its statuses:\n{printed.out}{printed.err}"
    return code, printed.out + printed.err


def one_line(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    code, printed = ladder(args, monkeypatch, capsys)
    lines = [line for line in printed.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, f"ladder {' '.join(args)} exited {code}:\n{printed}"
    assert lines[0].startswith("error: ") and "Traceback" not in printed
    return lines[0]


@pytest.fixture
def root(scans_only: Path, tmp_path: Path) -> Path:
    """A private copy of a synthetic ScanNet root (4 scans; scene0003_00 is the val split)."""
    return linked_copy(scans_only, tmp_path / "scannet")


def test_split_without_its_list_names_split_dir_and_split_dir_works(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    for split in ("train", "val", "test"):
        shutil.move(root / SPLIT_LIST.format(split=split), lists)
    line = one_line(["scans", "--scans", str(root), "--split", "val"], monkeypatch, capsys)
    assert "scannetv2_val.txt" in line and "--split-dir DIR" in line and "--split FILE" in line
    code, printed = ladder(
        ["scans", "--scans", str(root), "--split", "val", "--split-dir", str(lists)], monkeypatch, capsys
    )
    assert code == 0, printed
    assert "scene0003_00" in printed and "scene0000_00" not in printed


def test_missing_label_table_names_label_table_and_label_table_works(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "labels.tsv"
    shutil.move(root / LABEL_TABLE, table)
    line = one_line(["scans", "--scans", str(root)], monkeypatch, capsys)
    assert LABEL_TABLE in line and "--label-table FILE" in line
    line = one_line(["scans", "--scans", str(root), "--label-table", str(tmp_path / "none.tsv")], monkeypatch, capsys)
    assert "--label-table" in line and "does not exist" in line
    code, printed = ladder(["scans", "--scans", str(root), "--label-table", str(table)], monkeypatch, capsys)
    assert code == 0, printed
    assert all(f"scene000{i}_00" in printed for i in range(4))


@pytest.mark.parametrize("command", ["scans", "metadata", "build-dataset", "build-bench"])
def test_wrong_or_empty_scans_folder_stops_before_any_work(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = [] if command == "scans" else ["--out", str(tmp_path / "out")]
    line = one_line([command, "--scans", str(tmp_path / "typo"), *out], monkeypatch, capsys)
    assert f"--scans {tmp_path / 'typo'} does not exist" in line and "ScanNet" in line
    (tmp_path / "empty").mkdir()
    line = one_line([command, "--scans", str(tmp_path / "empty"), *out], monkeypatch, capsys)
    assert "is an empty folder" in line
    assert not (tmp_path / "out").exists()


def test_split_with_no_scan_there_is_one_line(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (root / SPLIT_LIST.format(split="test")).write_text("")
    line = one_line(
        ["build-dataset", "--scans", str(root), "--out", str(tmp_path / "o"), "--split", "test"], monkeypatch, capsys
    )
    assert "--split all" in line
    assert not (tmp_path / "o").exists()


def test_exclude_bench_that_is_not_a_folder(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["build-dataset", "--scans", str(root), "--out", str(tmp_path / "o"), "--exclude-bench", "benhc"]
    line = one_line(args, monkeypatch, capsys)
    assert "--exclude-bench benhc" in line and "build-bench" in line
    assert not (tmp_path / "o").exists()


def test_train_without_data_says_what_data_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("laddertrain")
    line = one_line(["train", "stage1", "--model", str(tmp_path)], monkeypatch, capsys)
    assert "--data" in line and "ladder build-dataset" in line and "ladder train stage1 --help" in line
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")  # looks like a model folder; never loaded: the data check comes first
    line = one_line(["train", "stage1", "--model", str(model), "--data", str(tmp_path)], monkeypatch, capsys)
    assert "not a ladder dataset" in line and "ladder demo" in line


def test_invalid_backend_is_refused_before_any_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--model names no folder: a backend check after loading would complain about the model instead."""
    args = ["eval", "--bench", str(tmp_path), "--model", str(tmp_path / "none"), "--backend", "vlm"]
    line = one_line(args, monkeypatch, capsys)
    assert "'vlm' is not one of 'transformers', 'vllm'" in line and "--backend" in line
    assert "config.json" not in line


def test_label_table_on_a_source_without_one_is_refused(
    arkitscenes_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    line = one_line(["scans", "--scans", str(arkitscenes_root), "--label-table", "x.tsv"], monkeypatch, capsys)
    assert "--label-table is not a setting of arkitscenes" in line


@pytest.fixture
def scannetpp(scannetpp_root: Path, tmp_path: Path) -> Path:
    """A private copy of the synthetic ScanNet++ root (2 scenes, both in the train split)."""
    return linked_copy(scannetpp_root, tmp_path / "scannetpp")


def test_scannetpp_split_without_its_list_names_split_dir_and_split_dir_works(
    scannetpp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lists = tmp_path / "lists"
    shutil.move(scannetpp / "splits", lists)
    line = one_line(["scans", "--scans", str(scannetpp), "--split", "train"], monkeypatch, capsys)
    assert "nvs_sem_train.txt" in line and "--split-dir DIR" in line and "--split FILE" in line
    assert "split_dir" not in line
    code, printed = ladder(
        ["scans", "--scans", str(scannetpp), "--split", "train", "--split-dir", str(lists)], monkeypatch, capsys
    )
    assert code == 0, printed
    assert all(scene_id(1, i) in printed for i in (0, 1))


def test_scannetpp_class_list_is_given_with_label_table(
    scannetpp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    classes = tmp_path / "classes.txt"
    shutil.move(scannetpp / "metadata" / "semantic_benchmark" / "top100.txt", classes)
    line = one_line(["scans", "--scans", str(scannetpp)], monkeypatch, capsys)
    assert "top100.txt" in line and "--label-table FILE" in line and "(classes)" not in line
    missing = tmp_path / "no.txt"
    line = one_line(["scans", "--scans", str(scannetpp), "--label-table", str(missing)], monkeypatch, capsys)
    assert "--label-table" in line and "does not exist" in line
    code, printed = ladder(["scans", "--scans", str(scannetpp), "--label-table", str(classes)], monkeypatch, capsys)
    assert code == 0, printed
    assert all(scene_id(1, i) in printed for i in (0, 1))


@pytest.mark.parametrize(("given", "detected"), [("arkitscenes", "scannet"), ("scannetpp", "scannet")])
def test_a_root_given_the_wrong_source_says_what_it_looks_like(
    given: str,
    detected: str,
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = one_line(["scans", "--scans", str(root), "--source", given], monkeypatch, capsys)
    assert f"no {given} scans under {root}" in line and f"{given} looks for {SOURCES[given].looks_for}" in line
    assert f"looks like a {detected} root: pass --source {detected}" in line


def test_a_scannetpp_root_given_as_scannet_says_it_looks_like_scannetpp(
    scannetpp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    line = one_line(["scans", "--scans", str(scannetpp), "--source", "scannet"], monkeypatch, capsys)
    assert "scannet looks for scans/sceneXXXX_YY/" in line and "pass --source scannetpp" in line


@pytest.mark.parametrize(
    ("direct_url", "command"),
    [
        (
            '{"dir_info": {"editable": true}, "url": "file:///home/me/my%20ladder"}',
            "pip install -e '/home/me/my ladder[train]'",
        ),
        ('{"dir_info": {}, "url": "file:///tmp/ladder-0.1.0-py3-none-any.whl"}', "pip install 'ladder[train]'"),
        (None, "pip install 'ladder[train]'"),  # installed from an index: no direct_url.json
    ],
    ids=["editable clone", "wheel file", "index"],
)
def test_the_extra_hint_is_the_command_for_this_install(
    monkeypatch: pytest.MonkeyPatch, direct_url: str | None, command: str
) -> None:
    """A clone installed editable (the quickstart) is told to install the extra from the clone: ``ladder[train]``
    alone would look for ladder on the package index."""
    import ladderdata.errors as errors

    class Dist:
        def read_text(self, name: str) -> str | None:
            return direct_url if name == "direct_url.json" else None

    monkeypatch.setattr(errors, "distribution", lambda name: Dist())
    assert errors.install_command("train") == command
