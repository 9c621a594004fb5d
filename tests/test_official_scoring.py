"""``ladder eval --scoring ladder|spatialladder|thinking-in-space|lmms-eval|vstibench`` on the hand-scored golden
file (tests/data), and the scoring-mode registry."""

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from fixtures.listed import write_listed_shard
from ladderdata.cli import app
from ladderdata.errors import ConfigError
from ladderdata.eval.report import Summaries, evaluate, read_predictions
from ladderdata.eval.scorers import SCORERS, get_scorer, scoring_modes
from ladderdata.eval.scorers.lmms_eval import lmms_eval_aggregate, lmms_eval_number, strip_reasoning_tags
from ladderdata.eval.scorers.spatialladder import spatialladder_aggregate, spatialladder_number
from ladderdata.eval.scorers.thinking_in_space import thinking_in_space_aggregate

GOLDEN = Path(__file__).parent / "data" / "golden_predictions.yaml"
OPTIONS = {
    "object_rel_direction_easy": ["A. left", "B. right"],
    "object_rel_direction_medium": ["A. left", "B. right", "C. back"],
}
NUMERIC = {"object_counting", "object_abs_distance", "object_size_estimation", "room_size_estimation"}


def golden() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(GOLDEN.read_text())
    return data


def as_json(summaries: Summaries) -> dict[str, dict[str, dict[str, Any]]]:
    """The summaries as ``report.json`` holds them."""
    return {mode: {name: s.model_dump(mode="json") for name, s in per.items()} for mode, per in summaries.items()}


def write_bench(folder: Path, questions: list[dict[str, Any]]) -> Path:
    """A benchmark folder with the columns ``ladder eval`` reads."""
    rows = [
        {
            "id": q["id"],
            "dataset": q.get("benchmark", "golden"),
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
    write_listed_shard(folder / "golden", rows, "golden", benchmark=True)
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
            else:  # lmms-eval before 0.4 (the row in "doc"); tests/test_export.py writes the current layout
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
    return value if value in (None, "error", "refused") else float(value)


@pytest.mark.parametrize("style", ["ladder", "spatialladder", "lmms-eval"])
@pytest.mark.parametrize("thinking", [False, True])
def test_golden_scores_per_question(bench: Path, tmp_path: Path, style: str, thinking: bool) -> None:
    questions = golden()["questions"]
    predictions = write_predictions(tmp_path / f"{style}.jsonl", questions, style)
    evaluate(bench, predictions, tmp_path / "out", modes=scoring_modes(["all"]), thinking=thinking, skip_refused=True)
    got = {
        s["id"]: s for s in (json.loads(line) for line in (tmp_path / "out" / "scores.jsonl").read_text().splitlines())
    }
    assert set(got) == {q["id"] for q in questions}
    for q in questions:
        for mode in SCORERS:
            column = "spatialladder_think" if mode == "spatialladder" and thinking else mode
            expected = expected_value(q, column)
            score, error = got[q["id"]]["scores"][mode], got[q["id"]]["errors"].get(mode)
            if expected == "refused":
                assert score is None and error is None, (q["id"], mode)
            elif expected == "error":
                assert score is None and error, (q["id"], mode)
            else:
                assert error is None, (q["id"], mode, error)
                assert score == pytest.approx(expected), (q["id"], mode, q["prediction"])


@pytest.mark.parametrize("thinking", [False, True])
def test_golden_summaries(bench: Path, tmp_path: Path, thinking: bool) -> None:
    data = golden()
    predictions = write_predictions(tmp_path / "p.jsonl", data["questions"], "spatialladder")
    summaries = as_json(
        evaluate(
            bench, predictions, tmp_path / "out", modes=scoring_modes(["all"]), thinking=thinking, skip_refused=True
        )
    )
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == summaries
    for benchmark, per_mode in data["summaries"].items():
        for mode in SCORERS:
            key = "spatialladder_think" if mode == "spatialladder" and thinking else mode
            expected, got = per_mode[key], summaries[mode][benchmark]
            if expected == "refused":
                assert set(got) == {"refused", "questions", "unmatched_predictions"}, (benchmark, mode)
                assert got["refused"].startswith(f"{SCORERS[mode].tool} stops at question type"), (benchmark, mode)
                continue
            assert list(got["tasks"]) == list(expected["tasks"]), (benchmark, mode)
            for task, value in expected["tasks"].items():
                assert got["tasks"][task] == pytest.approx(value, abs=0.006), (benchmark, mode, task)
            for field in ("nq_avg", "mcq_avg", "avg"):
                assert got[field] == pytest.approx(expected[field], abs=0.006), (benchmark, mode, field)
            assert [e["id"] for e in got["errors"]] == expected.get("errors", [])
            assert got["missing_predictions"] == (1 if benchmark == "golden" else 0)
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| model | ladder |" in report and "| model | thinking-in-space |" in report
    assert "| model | lmms-eval |" in report
    assert "error on `q22`" in report and "ZeroDivisionError" in report
    assert "- lmms-eval: not scored: lmms-eval's vsibench task stops at question type object_rel_direction" in report


def test_cli_scoring_modes_side_by_side(bench: Path, tmp_path: Path) -> None:
    predictions = write_predictions(tmp_path / "results.jsonl", golden()["questions"], "spatialladder")
    runner = CliRunner()
    args = ["eval", "--bench", str(bench), "--predictions", str(predictions), "--out", str(tmp_path / "a")]
    result = runner.invoke(app, [*args, "--scoring", "spatialladder", "--scoring", "ladder"])
    assert result.exit_code == 0, result.output
    assert set(json.loads((tmp_path / "a" / "report.json").read_text())) == {"spatialladder", "ladder"}
    result = runner.invoke(app, [*args, "--scoring", "all", "--prompt", "think"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert list(report) == ["ladder", "lmms-eval", "spatialladder", "thinking-in-space", "vstibench"]
    assert report["spatialladder"]["golden"]["tasks"]["object_rel_distance"] == pytest.approx(53.85, abs=0.01)
    assert "refused" in report["lmms-eval"]["golden-sp"] and "avg" in report["lmms-eval"]["golden"]
    # named alone, a mode that refuses a benchmark of --bench is an error naming both (vsibench: the old name)
    result = runner.invoke(app, [*args, "--scoring", "vsibench"])
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception).startswith("--scoring thinking-in-space refuses golden-sp: ")
    assert runner.invoke(app, [*args, "--scoring", "lenient"]).exit_code != 0


def test_scoring_modes_and_prediction_formats(tmp_path: Path) -> None:
    names = [m.name for m in scoring_modes(["vsibench", "all"])]
    assert names == ["thinking-in-space", "ladder", "lmms-eval", "spatialladder", "vstibench"]
    assert scoring_modes([]) == [SCORERS["ladder"]] and get_scorer("vsibench") is SCORERS["thinking-in-space"]
    with pytest.raises(ConfigError, match="--scoring"):
        scoring_modes(["strict"])
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": 7, "predicted_answer": "B"}\n\n{"doc": {"id": "x"}, "filtered_resps": ["3"]}\n')
    assert read_predictions(path) == {"7": "B", "x": "3"}
    path.write_text('{"id": "a", "prediction": "A"}\n{"id": "b", "answer": "B"}\n')
    with pytest.raises(ConfigError, match=r"p\.jsonl:2"):
        read_predictions(path)


def test_inputs_that_are_not_regular_files_are_refused(bench: Path, tmp_path: Path) -> None:
    """A FIFO would block a reader forever: predictions and benchmark shards that are not regular files are one
    clear error each."""
    fifo = tmp_path / "predictions.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"predictions\.jsonl: a FIFO \(named pipe\), not a regular file"):
        read_predictions(fifo)
    with pytest.raises(ConfigError, match="predictions"):
        read_predictions(tmp_path)  # a folder
    copy = tmp_path / "bench"
    shutil.copytree(bench, copy)
    predictions = write_predictions(tmp_path / "p.jsonl", golden()["questions"], "ladder")
    os.mkfifo(copy / "data" / "golden" / "test-00000-of-00002.parquet")  # not listed in the manifest: ignored
    evaluate(copy, predictions, tmp_path / "out")
    listed = copy / "data" / "golden" / "test-00000-of-00001.parquet"
    listed.unlink()
    os.mkfifo(listed)
    with pytest.raises(ConfigError, match=r"test-00000-of-00001\.parquet: a FIFO .*must be a regular file"):
        evaluate(copy, predictions, tmp_path / "out2")


def test_refusals_follow_each_tool() -> None:
    """What each tool stops at: an unknown question type (all three official ones), and the direction forms their
    aggregation pops (lmms-eval pops all three always; thinking-in-space only when the easy form is there)."""
    vsi = {"object_counting", "object_rel_direction_easy", "object_rel_direction_medium", "object_rel_direction_hard"}
    spbench = {"object_abs_distance", "object_size_estimation", "object_rel_distance", "object_rel_direction"}
    refusal = {name: (scorer.refusal(vsi), scorer.refusal(spbench)) for name, scorer in SCORERS.items()}
    assert refusal["ladder"] == (None, None) and refusal["spatialladder"] == (None, None)
    for name in ("thinking-in-space", "lmms-eval"):
        assert refusal[name][0] is None and "object_rel_direction (ValueError" in str(refusal[name][1])
    counting = {"object_counting"}
    assert SCORERS["thinking-in-space"].refusal(counting) is None  # no easy form: nothing popped
    assert "KeyError without object_rel_direction_easy" in str(SCORERS["lmms-eval"].refusal(counting))
    assert "KeyError without object_rel_direction_hard" in str(
        SCORERS["thinking-in-space"].refusal({"object_rel_direction_easy", "object_rel_direction_medium"})
    )
    assert SCORERS["spatialladder"].refusal({"object_localization"}) is not None


def test_vsibench_aggregations() -> None:
    forms = [("object_rel_direction_easy", 1.0), ("object_rel_direction_medium", 0.0)]
    forms.append(("object_rel_direction_hard", 0.5))
    for aggregate in (thinking_in_space_aggregate, lmms_eval_aggregate):
        summary = aggregate([*forms, ("object_counting", 0.25)])
        assert summary.metrics == {
            "object_counting_MRA:.5:.95:.05": 0.25,
            "object_rel_direction_accuracy": pytest.approx(0.5),
        }
        assert summary.overall == pytest.approx(0.375) and summary.na == 0.25 and not summary.notes
    # thinking-in-space without the easy form leaves the other forms as entries of their own
    assert set(thinking_in_space_aggregate(forms[1:]).metrics) == {
        "object_rel_direction_medium_accuracy",
        "object_rel_direction_hard_accuracy",
    }
    # lmms-eval rounds what it reports to 6 decimals
    assert lmms_eval_aggregate([*forms, ("object_rel_distance", 1 / 3)]).metrics["object_rel_distance_accuracy"] == (
        0.333333
    )


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


@pytest.mark.parametrize(
    ("response", "number"),
    [
        # extract_number's docstring (lmms_eval/tasks/vsibench/utils.py @75571cf)
        ("3", 3.0),
        ("3.0", 3.0),
        ("There are 3 boxes", 3.0),
        ("three", 3.0),
        ("Three boxes.", 3.0),
        ("twenty-one", 21.0),
        ("three hundred and twenty-one", 321.0),
        ("one apple, room 2", 1.0),
        # the rows and its sign rule
        ("(3)", 3.0),
        ("The answer is 122", 122.0),
        ("twenty-eight", 28.0),
        ("-2.5 m", -2.5),
        ("two thousand", 2000.0),
        ("a chair", None),  # no articles in its list
        ("someone", None),  # whole [a-z]+ words only
        ("", None),
    ],
)
def test_lmms_eval_number(response: str, number: float | None) -> None:
    assert lmms_eval_number(response) == number


@pytest.mark.parametrize(
    ("response", "stripped"),
    [
        ("<think>1 or 2?</think><answer>1.6</answer>", "<answer>1.6</answer>"),
        ("<think>a</think> B <think>b</think>", "B"),
        ("<analysis>x</analysis>C", "C"),
        ("it is 2</think> 3", "3"),  # a pre-filled opening tag: the text after the last closing tag
        ("<think>unclosed 2", "<think>unclosed 2"),  # an unclosed block stays
        ("  B  ", "B"),
    ],
)
def test_lmms_eval_strips_reasoning_tags(response: str, stripped: str) -> None:
    """``strip_reasoning_tags`` with the command line's default tags (lmms_eval/api/reasoning.py @75571cf)."""
    assert strip_reasoning_tags(response) == stripped


def test_every_mode_cites_the_commit_it_reproduces() -> None:
    for scorer in SCORERS.values():
        assert scorer.name and scorer.description
        for source in scorer.sources:
            assert len(source.commit) == 40 and "/" in source.repository and source.functions
    assert [s.commit[:7] for s in SCORERS["lmms-eval"].sources] == ["75571cf"] * 3
    assert [(s.repository, s.commit[:8]) for s in SCORERS["vstibench"].sources] == [("VITA-Group/VLM-3R", "6dd1264c")]


VSTI_QUESTIONS = [
    # (id, question_type, answer_type, ground_truth, prediction, ladder, vstibench), each by hand from the rules
    # named in tests/data/golden_predictions.yaml (L-*; vstibench = TIS-TOKEN and TIS-MRA on its own lists)
    ("v1", "camera_movement_direction", "mcq", "B", "B", 1.0, 1.0),
    ("v2", "camera_obj_rel_dist_v1", "mcq", "A", "A. the chair", 1.0, 1.0),  # L-MCQ "A."; token "A." -> "A"
    ("v3", "obj_obj_relative_pos_lr", "mcq", "C", "(C)", 1.0, 0.0),  # L-MCQ "(C)"; token "(C)" != "c"
    ("v4", "camera_displacement", "numeric", "2.0", "2.5m", 0.6, 0.0),  # error 0.25 -> 6/10; float("2.5m") fails
    ("v5", "camera_obj_abs_dist", "numeric", "50", "40", 0.7, 0.6),  # error 10/50 = 0.2: as q21, 7/10 and 6/10
]


def test_vstibench_rules(tmp_path: Path) -> None:
    """VLM-3R's vstibench scorer on its own types, hand-scored; the VSI-Bench modes refuse such a benchmark, and
    vstibench refuses one holding a type outside its lists (ladder's obj_obj_visibility)."""
    rows = [
        {
            "id": qid,
            "dataset": "golden-vsti",
            "question_type": question_type,
            "question": f"question {qid}",
            "options": [] if answer_type == "numeric" else ["A. w", "B. x", "C. y", "D. z"],
            "ground_truth": truth,
            "answer_type": answer_type,
        }
        for qid, question_type, answer_type, truth, *_ in VSTI_QUESTIONS
    ]
    write_listed_shard(tmp_path / "bench", rows, "golden-vsti", benchmark=True)
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("".join(json.dumps({"id": q[0], "prediction": q[4]}) + "\n" for q in VSTI_QUESTIONS))
    summaries = as_json(
        evaluate(tmp_path / "bench", predictions, tmp_path / "out", modes=scoring_modes(["all"]), skip_refused=True)
    )
    scores = {
        s["id"]: s["scores"] for s in map(json.loads, (tmp_path / "out" / "scores.jsonl").read_text().splitlines())
    }
    for qid, *_, ladder, vsti in VSTI_QUESTIONS:
        assert scores[qid]["ladder"] == pytest.approx(ladder) and scores[qid]["vstibench"] == pytest.approx(vsti)
    got = summaries["vstibench"]["golden-vsti"]
    # per type: the mean of its one question; overall: the mean of the 5 entries; MCQ / NQ over their types
    assert got["tasks"] == {
        "camera_displacement": 0.0,
        "camera_movement_direction": 100.0,
        "camera_obj_abs_dist": 60.0,
        "camera_obj_rel_dist_v1": 100.0,
        "obj_obj_relative_pos_lr": 0.0,
    }
    assert (got["avg"], got["mcq_avg"], got["nq_avg"]) == (52.0, pytest.approx(66.67), 30.0)
    for mode in ("spatialladder", "thinking-in-space", "lmms-eval"):
        assert summaries[mode]["golden-vsti"]["refused"].startswith(f"{SCORERS[mode].tool} stops at question type")
    with pytest.raises(ConfigError, match="--scoring lmms-eval refuses golden-vsti: "):
        evaluate(tmp_path / "bench", predictions, tmp_path / "out", modes=scoring_modes(["lmms-eval"]))
    rows[0]["question_type"] = "obj_obj_visibility"
    write_listed_shard(tmp_path / "bench", rows, "golden-vsti", benchmark=True)
    with pytest.raises(ConfigError, match=r"--scoring vstibench refuses golden-vsti: .*obj_obj_visibility"):
        evaluate(tmp_path / "bench", predictions, tmp_path / "out", modes=scoring_modes(["vstibench"]))
