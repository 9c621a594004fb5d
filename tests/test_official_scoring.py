"""``ladder eval --scoring ladder|spatialladder|vsibench`` on the hand-scored golden file (tests/data)."""

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from ladderdata.cli import app
from ladderdata.errors import ConfigError
from ladderdata.eval.official import spatialladder_aggregate, spatialladder_number, vsibench_aggregate
from ladderdata.eval.report import ScoringMode, evaluate, read_predictions, scoring_modes

GOLDEN = Path(__file__).parent / "data" / "golden_predictions.yaml"
OPTIONS = {
    "object_rel_direction_easy": ["A. left", "B. right"],
    "object_rel_direction_medium": ["A. left", "B. right", "C. back"],
}
NUMERIC = {"object_counting", "object_abs_distance", "object_size_estimation", "room_size_estimation"}


def golden() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(GOLDEN.read_text())
    return data


def write_bench(folder: Path, questions: list[dict[str, Any]]) -> Path:
    """A benchmark folder with the columns ``ladder eval`` reads."""
    rows = [
        {
            "id": q["id"],
            "dataset": "golden",
            "question_type": q["question_type"],
            "question": f"question {q['id']}",
            "options": []
            if q["question_type"] in NUMERIC
            else OPTIONS.get(q["question_type"], ["A. w", "B. x", "C. y", "D. z"]),
            "ground_truth": str(q["ground_truth"]),
            "answer_type": "numeric" if q["question_type"] in NUMERIC else "mcq",
        }
        for q in questions
    ]
    path = folder / "golden" / "data" / "golden" / "test-00000-of-00001.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return folder / "golden"


def write_predictions(path: Path, questions: list[dict[str, Any]], style: str) -> Path:
    """The golden responses as ours, SpatialLadder's results file or lmms-eval's logged samples."""
    with open(path, "w", encoding="utf-8") as f:
        for q in questions:
            if q["prediction"] is None:
                continue
            if style == "ladder":
                line: dict[str, Any] = {"id": q["id"], "prediction": q["prediction"]}
            elif style == "spatialladder":
                line = {
                    "id": q["id"],
                    "dataset": "scannet",
                    "scene_name": "scene0000_00",
                    "question": "...",
                    "ground_truth": str(q["ground_truth"]),
                    "predicted_answer": q["prediction"],
                    "question_type": q["question_type"],
                    "prompt": "...",
                }
            else:
                line = {
                    "doc_id": 0,
                    "doc": {"id": q["id"]},
                    "resps": [[q["prediction"]]],
                    "filtered_resps": [q["prediction"]],
                }
            f.write(json.dumps(line) + "\n")
    return path


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fixtures.shared import shared_folder

    return shared_folder(tmp_path_factory, "golden-bench", lambda f: write_bench(f, golden()["questions"])) / "golden"


def expected_value(q: dict[str, Any], column: str) -> float | str | None:
    value = q[column]
    return value if value in (None, "error") else float(value)


GOLDEN_MODES = [ScoringMode.LADDER, ScoringMode.SPATIALLADDER, ScoringMode.VSIBENCH]
"""The modes the golden file scores by hand (VSTI-Bench's scorer knows none of its VSI-Bench question types)."""


@pytest.mark.parametrize("style", ["ladder", "spatialladder", "lmms-eval"])
@pytest.mark.parametrize("thinking", [False, True])
def test_golden_scores_per_question(bench: Path, tmp_path: Path, style: str, thinking: bool) -> None:
    questions = golden()["questions"]
    predictions = write_predictions(tmp_path / f"{style}.jsonl", questions, style)
    evaluate(bench, predictions, tmp_path / "out", modes=list(ScoringMode), thinking=thinking)
    got = {
        s["id"]: s for s in (json.loads(line) for line in (tmp_path / "out" / "scores.jsonl").read_text().splitlines())
    }
    assert set(got) == {q["id"] for q in questions}
    for q in questions:
        assert got[q["id"]]["scores"]["vstibench"] is None
        assert got[q["id"]]["errors"].get("vstibench") in (
            None,
            f"ValueError: Unknown question type: {q['question_type']}",
        )
        for mode in GOLDEN_MODES:
            column = "spatialladder_think" if mode is ScoringMode.SPATIALLADDER and thinking else mode.value
            expected = expected_value(q, column)
            score, error = got[q["id"]]["scores"][mode.value], got[q["id"]]["errors"].get(mode.value)
            if expected == "error":
                assert score is None and error, (q["id"], mode)
            else:
                assert error is None, (q["id"], mode, error)
                assert score == pytest.approx(expected), (q["id"], mode, q["prediction"])


@pytest.mark.parametrize("thinking", [False, True])
def test_golden_summaries(bench: Path, tmp_path: Path, thinking: bool) -> None:
    data = golden()
    predictions = write_predictions(tmp_path / "p.jsonl", data["questions"], "spatialladder")
    summaries = evaluate(bench, predictions, tmp_path / "out", modes=list(ScoringMode), thinking=thinking)
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == summaries
    assert summaries[ScoringMode.VSTIBENCH.value] == {}  # no question type it knows: left out, no error list
    for mode in GOLDEN_MODES:
        key = "spatialladder_think" if mode is ScoringMode.SPATIALLADDER and thinking else mode.value
        expected, got = data["summaries"][key], summaries[mode.value]["golden"]
        assert list(got["tasks"]) == list(expected["tasks"])
        for task, value in expected["tasks"].items():
            assert got["tasks"][task] == pytest.approx(value, abs=0.006), (mode, task)
        for field in ("nq_avg", "mcq_avg", "avg"):
            assert got[field] == pytest.approx(expected[field], abs=0.006), (mode, field)
        assert [e["id"] for e in got["errors"]] == expected.get("errors", [])
        assert got["missing_predictions"] == 1
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| model | ladder |" in report and "| model | vsibench |" in report
    assert "error on `q22`" in report and "ZeroDivisionError" in report


def test_cli_scoring_modes_side_by_side(bench: Path, tmp_path: Path) -> None:
    predictions = write_predictions(tmp_path / "results.jsonl", golden()["questions"], "spatialladder")
    runner = CliRunner()
    args = ["eval", "--bench", str(bench), "--predictions", str(predictions), "--out", str(tmp_path / "a")]
    result = runner.invoke(app, [*args, "--scoring", "spatialladder", "--scoring", "vsibench"])
    assert result.exit_code == 0, result.output
    assert set(json.loads((tmp_path / "a" / "report.json").read_text())) == {"spatialladder", "vsibench"}
    result = runner.invoke(app, [*args, "--scoring", "all", "--prompt", "think"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert list(report) == ["ladder", "spatialladder", "vsibench", "vstibench"]
    assert report["spatialladder"]["golden"]["tasks"]["object_rel_distance"] == pytest.approx(58.33, abs=0.01)
    assert runner.invoke(app, [*args, "--scoring", "lenient"]).exit_code != 0


def test_scoring_modes_and_prediction_formats(tmp_path: Path) -> None:
    assert scoring_modes([]) == [ScoringMode.LADDER]
    assert scoring_modes(["vsibench", "all"]) == [
        ScoringMode.VSIBENCH,
        ScoringMode.LADDER,
        ScoringMode.SPATIALLADDER,
        ScoringMode.VSTIBENCH,
    ]
    with pytest.raises(ConfigError, match="--scoring"):
        scoring_modes(["strict"])
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": 7, "predicted_answer": "B"}\n\n{"doc": {"id": "x"}, "filtered_resps": ["3"]}\n')
    assert read_predictions(path) == {"7": "B", "x": "3"}
    path.write_text('{"id": "a", "prediction": "A"}\n{"id": "b", "answer": "B"}\n')
    with pytest.raises(ConfigError, match=r"p\.jsonl:2"):
        read_predictions(path)


def test_vsibench_aggregation_needs_every_direction_form() -> None:
    # lmms-eval pops all three forms and raises KeyError without one: we average those present and say so
    full = vsibench_aggregate([("object_rel_direction_easy", 1.0), ("object_rel_direction_medium", 0.0)] * 2)
    assert full.metrics == {"object_rel_direction_accuracy": 0.5}
    assert full.notes and "object_rel_direction_hard" in full.notes[0]
    none = vsibench_aggregate([("object_counting", 0.5)])
    assert none.metrics == {"object_counting_MRA:.5:.95:.05": 0.5} and "no direction score" in none.notes[0]


def test_spatialladder_aggregation_quirks() -> None:
    # no direction question at all: SpatialLadder adds object_rel_direction_accuracy = 0 and averages it in
    summary = spatialladder_aggregate([("object_counting", 1.0), ("object_rel_distance", 1.0)])
    assert summary.metrics["object_rel_direction_accuracy"] == 0.0
    assert summary.overall == pytest.approx(2 / 3) and summary.mca == pytest.approx(0.5) and summary.na == 1.0
    # easy present, medium missing: easy is popped, then the bare except sets the direction score to 0
    partial = spatialladder_aggregate([("object_rel_direction_easy", 1.0), ("object_rel_direction_hard", 1.0)])
    assert partial.metrics == {"object_rel_direction_hard_accuracy": 1.0, "object_rel_direction_accuracy": 0.0}
    assert "object_rel_direction_easy dropped" in partial.notes[0]
    # all three forms: their mean
    forms = [
        ("object_rel_direction_easy", 1.0),
        ("object_rel_direction_medium", 0.0),
        ("object_rel_direction_hard", 0.5),
    ]
    assert spatialladder_aggregate(forms).metrics == {"object_rel_direction_accuracy": pytest.approx(0.5)}


@pytest.mark.parametrize(
    ("response", "number"),
    [
        ("three", 3.0),
        ("two or one", 1.0),  # its list is searched in order: "one" before "two", whatever the text's order
        ("twenty-one", 1.0),  # "one" is a whole word after the hyphen, and comes first in the list
        ("ninety", 90.0),
        ("zero or ten", 10.0),  # zero is searched after every other number word
        ("an apple and 3", 1.0),  # the articles mean 1 and come before any digit
        ("eleven point 5", 11.0),
        ("4.5 meters", 4.5),
        ("none", None),
    ],
)
def test_spatialladder_number_words_follow_its_list_order(response: str, number: float | None) -> None:
    """SpatialLadder's fuzzy_matching_num: one .. twenty, thirty .. ninety, zero, a, an, then digits."""
    assert spatialladder_number(response) == number
