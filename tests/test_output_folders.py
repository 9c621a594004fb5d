"""Output folders are safe (docs/reliability.md, "Output folders"): every command that writes ``--out`` takes only a
new or empty folder or its own earlier output of the same kind and settings; ``--overwrite`` replaces ladder's
own output made with other settings, never the user's files; an output inside its input is refused; and
``check-leakage`` refuses its two folders swapped. Refusals come before any work: one line, exit code 2."""

import json
import sys
from pathlib import Path

import pytest

from ladderdata import cli
from ladderdata.bench.leakage import check_leakage
from ladderdata.cache import LOCK_NAME
from ladderdata.cli.build import build_settings
from ladderdata.cli.options import scan_source
from ladderdata.errors import ConfigError
from ladderdata.outputs import MARKER, OutputFolderError, claim_files, claim_output, shown
from ladderdata.pipeline import BuildConfig


def run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["ladder", *args])
    with pytest.raises(SystemExit) as info:
        cli.entrypoint()
    code = info.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


# ------------------------------------------------------------------------------------------- the rules


def test_new_empty_and_own_folders_are_taken_and_marked(tmp_path: Path) -> None:
    new, empty = tmp_path / "new", tmp_path / "empty"
    empty.mkdir()
    (empty / ".DS_Store").write_text("")
    for folder in (new, empty):
        claim_output(folder, "dataset", {"seed": 0})
        assert json.loads((folder / MARKER).read_text()) == {"kind": "dataset", "settings": {"seed": 0}}
        (folder / "manifest.json").write_text("{}")
        claim_output(folder, "dataset", {"seed": 0})  # a rerun: resumes


def test_a_folder_of_the_users_is_refused_overwrite_or_not(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("my notes")
    for overwrite in (False, True):
        with pytest.raises(OutputFolderError, match=r"is not empty and not ladder's output \(README.md\)"):
            claim_output(out, "dataset", {"seed": 0}, overwrite=overwrite)
    assert (out / "README.md").read_text() == "my notes" and not (out / MARKER).exists()
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(OutputFolderError, match="is a file, not a folder"):
        claim_output(file, "dataset")


def test_other_settings_are_refused_saying_what_changes_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "out"
    claim_output(out, "dataset", {"recipe": "a", "seed": 0})
    (out / "data").mkdir()
    with pytest.raises(OutputFolderError, match=r"other settings \(seed 0 -> 1\): pass --overwrite"):
        claim_output(out, "dataset", {"recipe": "a", "seed": 1})
    claim_output(out, "dataset", {"recipe": "a", "seed": 1}, overwrite=True)
    assert json.loads((out / MARKER).read_text())["settings"] == {"recipe": "a", "seed": 1}
    with pytest.raises(OutputFolderError, match="recipe a -> b"):
        claim_output(out, "dataset", {"recipe": "b", "seed": 1})


def test_another_kind_of_output_is_refused_even_with_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    claim_output(out, "benchmarks", {"seed": 0})
    (out / "spbench-si").mkdir()
    for overwrite in (False, True):
        with pytest.raises(OutputFolderError, match="holds ladder's benchmarks, not a dataset"):
            claim_output(out, "dataset", {"seed": 0}, overwrite=overwrite)


def test_folders_ladder_wrote_before_markers_are_adopted(tmp_path: Path) -> None:
    out = tmp_path / "old"
    out.mkdir()
    (out / LOCK_NAME).write_text("pid 1\n")
    (out / "data").mkdir()
    claim_output(out, "dataset", {"seed": 0})
    assert json.loads((out / MARKER).read_text())["kind"] == "dataset"
    exported = tmp_path / "exported"
    exported.mkdir()
    (exported / "export.json").write_text("{}")
    claim_output(exported, "benchmark export", signature="export.json")


@pytest.mark.parametrize("where", ["same", "inside", "symlink"])
def test_an_output_equal_to_or_inside_an_input_is_refused(tmp_path: Path, where: str) -> None:
    given = tmp_path / "bench"
    given.mkdir()
    out = {"same": given, "inside": given / "x", "symlink": tmp_path / "link"}[where]
    if where == "symlink":
        out.symlink_to(given)
    with pytest.raises(OutputFolderError, match="the input"):
        claim_output(out, "benchmark export", inputs=[given])
    assert not (given / MARKER).exists()


def test_single_files_are_claimed_only_when_ladder_wrote_them(tmp_path: Path) -> None:
    (tmp_path / "preds.jsonl").write_text("{}\n")
    claim_files(tmp_path, ["report.md"], "eval report")
    (tmp_path / "report.md").write_text("ladder's")
    claim_files(tmp_path, ["report.md"], "eval report")  # a rerun replaces it
    (tmp_path / "report.json").write_text("the user's")
    with pytest.raises(OutputFolderError, match=r"report.json exists and ladder did not write it"):
        claim_files(tmp_path, ["report.md", "report.json"], "eval report")


def test_paths_and_labels_are_echoed_on_one_line() -> None:
    assert shown("a\nb") == "'a\\nb'" and shown("x\x00y") == "'x\\x00y'" and shown("plain name") == "plain name"


# ------------------------------------------------------------------------------------------ the commands


def test_build_dataset_refuses_a_folder_holding_the_users_readme(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "README.md").write_text("my notes")
    args = ["build-dataset", "--scans", str(synthetic_root), "--out", str(out), "--overwrite"]
    code, stderr = run_cli(args, monkeypatch, capsys)
    assert code == cli.BAD_CONFIG and "not ladder's output (README.md)" in one_error_line(stderr)
    assert sorted(p.name for p in out.iterdir()) == ["README.md"] and (out / "README.md").read_text() == "my notes"


def test_a_rebuild_with_another_seed_or_recipe_is_refused_before_any_work(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ds"
    claim_output(out, "dataset", build_settings(_config(synthetic_root, out, seed=0)))
    for extra, change in ((["--seed", "3"], "seed 0 -> 3"), (["--frame-stride", "7"], "recipe settings")):
        args = ["build-dataset", "--scans", str(synthetic_root), "--out", str(out), "--split", "all", *extra]
        code, stderr = run_cli(args, monkeypatch, capsys)
        assert code == cli.BAD_CONFIG and change in one_error_line(stderr) and "--overwrite" in stderr


def _config(root: Path, out: Path, seed: int) -> "BuildConfig":
    from ladderdata.recipe import Recipe

    source = scan_source(None, [root])
    return BuildConfig(source=source, out=out, split="all", recipe=Recipe.load("spatialladder-26k"), seed=seed)


@pytest.mark.parametrize("command", ["build-dataset", "build-bench", "metadata"])
def test_commands_refuse_an_output_inside_their_scans(
    synthetic_root: Path, command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p.name for p in synthetic_root.iterdir())
    args = [command, "--scans", str(synthetic_root), "--split", "all", "--out", str(synthetic_root / "out")]
    code, stderr = run_cli(args, monkeypatch, capsys)
    assert code == cli.BAD_CONFIG and "is inside the input" in one_error_line(stderr)
    assert sorted(p.name for p in synthetic_root.iterdir()) == before


def test_export_into_its_own_benchmark_is_refused(
    benches: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(str(p) for p in benches.rglob("*"))
    for out in (benches, benches / "exported"):
        args = ["export", str(benches), "--format", "vsibench", "--out", str(out)]
        code, stderr = run_cli(args, monkeypatch, capsys)
        assert code == cli.BAD_CONFIG and "the input" in one_error_line(stderr)
    assert sorted(str(p) for p in benches.rglob("*")) == before


def test_eval_never_replaces_a_report_it_did_not_write(
    benches: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    predictions = tmp_path / "preds.jsonl"
    predictions.write_text('{"id": "x", "prediction": "A"}\n')
    (tmp_path / "report.md").write_text("my report")
    code, stderr = run_cli(["eval", "--bench", str(benches), "--predictions", str(predictions)], monkeypatch, capsys)
    assert code == cli.BAD_CONFIG and "report.md exists and ladder did not write it" in one_error_line(stderr)
    assert (tmp_path / "report.md").read_text() == "my report"


def test_check_leakage_refuses_its_arguments_swapped(built_dataset: object, benches: Path) -> None:
    train = built_dataset.out  # type: ignore[attr-defined]
    assert check_leakage(train, benches).clean
    with pytest.raises(ConfigError, match=r"the arguments are swapped: .* is a benchmark"):
        check_leakage(benches, train)
