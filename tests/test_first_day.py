"""Small things a first day runs into: eval names a model by its last two path parts (or --name), messages count
in good grammar, a wrong --split suggests the nearest valid one, README's synopsis names --scans."""

import json
import sys
from pathlib import Path

import pytest

from ladderdata.cli import console, counted, entrypoint, model_label
from ladderdata.io.dataset import BenchReader
from ladderdata.pipeline.plan import nearest_split

README = Path(__file__).resolve().parents[1] / "README.md"


def ladder(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["ladder", *args])
    monkeypatch.setattr(console, "width", 400)
    with pytest.raises(SystemExit) as done:
        entrypoint()
    printed = capsys.readouterr()
    return int(done.value.code or 0), printed.out + printed.err


def test_models_are_named_by_their_last_two_path_parts() -> None:
    assert model_label(Path("runs/stage2/final"), None) == "stage2/final"
    assert model_label(Path("runs/stage3/final"), None) != model_label(Path("runs/stage2/final"), None)
    assert model_label(None, Path("out/preds.jsonl")) == "preds"


def test_eval_name_option_reaches_the_report(
    benches: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    row = next(BenchReader(benches / "spbench-si").rows())
    predictions = tmp_path / "p.jsonl"
    predictions.write_text(json.dumps({"id": row.id, "prediction": row.answer}) + "\n")
    args = ["eval", "--bench", str(benches / "spbench-si"), "--predictions", str(predictions), "--out", str(tmp_path)]
    code, printed = ladder([*args, "--name", "stage2/final"], monkeypatch, capsys)
    assert code == 0, printed
    assert "| stage2/final | ladder |" in (tmp_path / "report.md").read_text()
    questions = BenchReader(benches / "spbench-si").row_count()
    assert f"over {counted(questions, 'question')}, 0 errors" in printed


def test_counts_agree_with_their_nouns() -> None:
    assert [counted(n, "prediction") for n in (0, 1, 2, 1000)] == [
        "0 predictions",
        "1 prediction",
        "2 predictions",
        "1,000 predictions",
    ]


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("validation", "val"),
        ("Validation", "val"),
        ("training", "train"),
        ("testing", "test"),
        ("trian", "train"),
        ("tes", "test"),
        ("everything", None),
        ("scene0000_00.txt", None),
    ],
)
def test_a_wrong_split_suggests_the_nearest(given: str, meant: str | None) -> None:
    assert nearest_split(given) == meant


def test_the_split_hint_reaches_the_command_line(
    bench_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["build-dataset", "--scans", str(bench_root), "--out", str(tmp_path / "o"), "--split", "validation"]
    code, printed = ladder(args, monkeypatch, capsys)
    assert code == 2 and printed.strip().endswith("did you mean val?"), printed
    assert not (tmp_path / "o").exists()


def test_readme_synopsis_names_the_scans_option() -> None:
    synopses = [line for line in README.read_text().splitlines() if line.startswith("| `ladder ")]
    readers = [line for line in synopses if line.split()[2] in ("scans", "metadata", "build-dataset", "build-bench")]
    assert len(readers) == 4 and all("--scans DIR" in line and " SCANS " not in line for line in readers)
