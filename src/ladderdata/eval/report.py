"""Score a predictions file against a benchmark and report per task, NQ / MCQ averages and overall (the layout
of the paper's Tables 11 and 12), with ladder's scoring and/or the official scorers' rules side by side."""

import json
import logging
import math
from collections import Counter, defaultdict
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from pydantic import BaseModel, ValidationError

from ladderdata.cache import write_text_atomic
from ladderdata.errors import ConfigError
from ladderdata.eval.official import (
    DIRECTION_TYPE,
    OfficialSummary,
    QuestionScore,
    spatialladder_aggregate,
    spatialladder_score,
    vsibench_aggregate,
    vsibench_score,
)
from ladderdata.eval.scoring import parse_boxes, score
from ladderdata.io.shards import reading_parquet
from ladderdata.prompts import LETTERS
from ladderdata.tasks import SPATIAL_TASKS, TASKS, AnswerType, column_name, forms_of

log = logging.getLogger(__name__)

BENCH_FIELDS = ("id", "dataset", "question_type", "question", "options", "ground_truth", "answer_type")


class ScoringMode(StrEnum):
    LADDER = "ladder"
    """Lenient extraction (docs/benchmarks.md), the same functions as laddertrain's rewards."""
    SPATIALLADDER = "spatialladder"
    """SpatialLadder's evaluator (SPBench-SI/-MV, VSI-Bench in the paper)."""
    VSIBENCH = "vsibench"
    """VSI-Bench's scorer (lmms-eval's ``vsibench`` task)."""


def scoring_modes(names: list[str]) -> list[ScoringMode]:
    """``--scoring`` values (repeatable; ``all`` = every mode), in the order given, without repeats."""
    modes: list[ScoringMode] = []
    for name in names:
        try:
            chosen = list(ScoringMode) if name == "all" else [ScoringMode(name)]
        except ValueError:
            raise ConfigError(
                f"--scoring must be {', '.join(m.value for m in ScoringMode)} or all, not {name!r}"
            ) from None
        modes += [m for m in chosen if m not in modes]
    return modes or [ScoringMode.LADDER]


class Prediction(BaseModel):
    """One line of our predictions file (JSON Lines)."""

    id: str
    prediction: str


class OfficialResult(BaseModel):
    """One line of SpatialLadder's ``<task>_results.jsonl`` (other fields are ignored)."""

    id: str | int
    predicted_answer: str


class LmmsSample(BaseModel):
    """One line of lmms-eval's ``--log_samples`` file: the benchmark row and the filtered response."""

    doc: dict[str, Any]
    filtered_resps: list[Any]


class SampleScore(BaseModel):
    """One question's scores, one per scoring mode (None where that scorer gives an error instead)."""

    id: str
    dataset: str
    question_type: str
    answer_type: str
    missing: bool
    scores: dict[str, float | None]
    errors: dict[str, str]


def bench_files(bench: Path) -> list[Path]:
    """Shards of one benchmark folder or of every benchmark under a folder (caches skipped)."""
    files = sorted(
        p for p in bench.rglob("*.parquet") if not any(part.startswith(".") for part in p.relative_to(bench).parts)
    )
    if not files:
        raise ConfigError(f"no benchmark shards under {bench}")
    return files


def bench_row_problem(row: dict[str, Any]) -> str | None:
    """What is wrong with a benchmark row's values (the scorers rely on them), None when nothing is: text fields
    that are non-empty strings, options a list of strings, a known answer type, and a ground truth of that type
    (an option's letter, a finite number, a list of boxes)."""
    for name in ("dataset", "question_type", "question", "ground_truth", "answer_type"):
        if not isinstance(row[name], str) or not row[name].strip():
            return f"{name} is {row[name]!r:.60}, not a non-empty string"
    options, kind, truth = row["options"], row["answer_type"], row["ground_truth"]
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        return f"options is {options!r:.60}, not a list of strings"
    if kind == AnswerType.MCQ:
        letters = LETTERS[: len(options)]
        if not 1 <= len(options) <= len(LETTERS) or truth.strip().upper() not in letters:
            return f"ground_truth {truth!r:.40} is not the letter of one of its {len(options)} options"
    elif kind == AnswerType.NUMERIC:
        try:
            value = float(truth)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            return f"ground_truth {truth!r:.40} of a numeric question is not a finite number"
    elif kind == AnswerType.BOXES:
        if not parse_boxes(truth):
            return f"ground_truth {truth!r:.40} of a boxes question is not a JSON list of boxes"
    else:
        return f"answer_type {kind!r:.40} is not one of {', '.join(t.value for t in AnswerType)}"
    return None


def load_bench(bench: Path, with_images: bool = False) -> list[dict[str, Any]]:
    """Benchmark rows (without image bytes unless asked); a truncated or foreign shard, two questions with one
    id, or a row whose values the scorers cannot use (:func:`bench_row_problem`) is a ``ConfigError`` naming the
    file (and the row)."""
    rows: list[dict[str, Any]] = []
    seen: dict[str, Path] = {}
    for path in bench_files(bench):
        with reading_parquet(path):
            names = pq.read_schema(path).names
            missing = [f for f in BENCH_FIELDS if f not in names]
            if missing:
                raise ConfigError(
                    f"{path} is not a benchmark shard (no {', '.join(missing)}); build it with ladder build-bench"
                )
            columns = names if with_images else [c for c in names if c != "images"]
            shard_rows = pq.read_table(path, columns=columns).to_pylist()
        for number, row in enumerate(shard_rows, start=1):
            if not isinstance(row["id"], str) or not row["id"]:
                raise ConfigError(f"{path}: a question without an id")
            if row["id"] in seen:
                raise ConfigError(f"{path}: question id {row['id']!r} appears twice (also in {seen[row['id']]})")
            problem = bench_row_problem(row)
            if problem is not None:
                raise ConfigError(f"{path} row {number} (question {row['id']!r:.80}): {problem}")
            seen[row["id"]] = path
        rows.extend(shard_rows)
    return rows


def _prediction(line: str) -> tuple[str, str] | None:
    """(id, response) of a line in any accepted format, None if it is in none of them."""
    try:
        ours = Prediction.model_validate_json(line)
        return ours.id, ours.prediction
    except ValidationError:
        pass
    try:
        result = OfficialResult.model_validate_json(line)
        return str(result.id), result.predicted_answer
    except ValidationError:
        pass
    try:
        sample = LmmsSample.model_validate_json(line)
    except ValidationError:
        return None
    response = sample.filtered_resps[0] if sample.filtered_resps else None
    if "id" not in sample.doc or not isinstance(response, str):
        return None
    return str(sample.doc["id"]), response


class Predictions(BaseModel):
    """The responses of a predictions file by question id, and what the file held besides."""

    by_id: dict[str, str]
    lines: int
    """Prediction lines read (blank lines are skipped)."""


def read_predictions_file(path: Path) -> Predictions:
    """Responses by question id from JSON Lines: ours (``{"id", "prediction"}``), SpatialLadder's results
    (``{"id", "predicted_answer", ...}``) or lmms-eval's logged samples (``{"doc": {"id"}, "filtered_resps"}``).

    A missing or binary file, a line in none of these formats, an empty id, or an id given twice (the score would
    depend on which line wins) is a ``ConfigError`` naming the file and line. Ids that name no question of the
    benchmark are counted by :func:`score_rows` and reported.
    """
    out: dict[str, str] = {}
    where: dict[str, int] = {}
    count = 0
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                found = _prediction(line)
                if found is None:
                    raise ConfigError(
                        f'{path}:{number}: not a prediction line: expected {{"id", "prediction"}}, SpatialLadder\'s '
                        '{"id", "predicted_answer"} or lmms-eval\'s {"doc": {"id"}, "filtered_resps"}'
                    )
                qid, text = found
                if not qid.strip():
                    raise ConfigError(f"{path}:{number}: empty question id")
                if qid in where:
                    raise ConfigError(
                        f"{path}:{number}: question id {qid!r} was already given on line {where[qid]}; "
                        "keep one prediction per question"
                    )
                where[qid] = number
                out[qid] = text
                count += 1
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text (JSON Lines expected)") from None
    except OSError as e:
        raise ConfigError(f"cannot read predictions {path}: {e.strerror or e}") from None
    return Predictions(by_id=out, lines=count)


def read_predictions(path: Path) -> dict[str, str]:
    """:func:`read_predictions_file`'s responses by question id."""
    return read_predictions_file(path).by_id


def _score(mode: ScoringMode, text: str, row: dict[str, Any], thinking: bool) -> QuestionScore:
    if mode is ScoringMode.SPATIALLADDER:
        return spatialladder_score(text, row["ground_truth"], row["question_type"], thinking)
    if mode is ScoringMode.VSIBENCH:
        return vsibench_score(text, row["ground_truth"], row["question_type"])
    letters = LETTERS[: max(len(row["options"]), 1)]
    return QuestionScore(score(text, row["ground_truth"], row["answer_type"], letters))


def score_rows(
    rows: list[dict[str, Any]],
    predictions: dict[str, str],
    modes: list[ScoringMode] | None = None,
    thinking: bool = False,
) -> list[SampleScore]:
    """Every row scored in every mode; ``thinking``: responses follow the think prompt (SpatialLadder's
    evaluator then reads the ``<answer>`` tag). A row without a prediction scores 0 in ladder mode."""
    modes = modes or [ScoringMode.LADDER]
    out = []
    for r in rows:
        text = predictions.get(r["id"])
        scores: dict[str, float | None] = {}
        errors: dict[str, str] = {}
        for mode in modes:
            if text is None:
                scores[mode.value] = 0.0 if mode is ScoringMode.LADDER else None
                continue
            result = _score(mode, text, r, thinking)
            scores[mode.value] = result.value
            if result.error:
                errors[mode.value] = result.error
        out.append(
            SampleScore(
                id=r["id"],
                dataset=r["dataset"],
                question_type=r["question_type"],
                answer_type=r["answer_type"],
                missing=text is None,
                scores=scores,
                errors=errors,
            )
        )
    return out


def unmatched_predictions(rows: list[dict[str, Any]], predictions: dict[str, str]) -> list[str]:
    """Ids of predictions that name no question of ``rows`` (another benchmark's, or a typo), sorted."""
    return sorted(set(predictions) - {r["id"] for r in rows})


def _task_order(tasks: set[str]) -> list[str]:
    """SpatialLadder-26k's types in its table order, VSI-Bench's direction forms, then the others by name."""
    first = (*SPATIAL_TASKS, *forms_of(DIRECTION_TYPE))
    return [t for t in first if t in tasks] + sorted(tasks - set(first))


def _numeric(task: str) -> bool:
    """Whether a reported question type has numeric answers (its task's answer family)."""
    return task in TASKS and TASKS[task].answer_type is AnswerType.NUMERIC


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def _ladder_summary(rows: list[SampleScore]) -> dict[str, Any]:
    by_task: dict[str, list[SampleScore]] = defaultdict(list)
    for s in rows:
        by_task[s.question_type].append(s)
    order = _task_order(set(by_task))
    tasks = {t: sum(s.scores["ladder"] or 0.0 for s in by_task[t]) / len(by_task[t]) for t in order}
    kinds = {t: by_task[t][0].answer_type for t in order}
    numeric = [v for t, v in tasks.items() if kinds[t] == "numeric"]
    mcq = [v for t, v in tasks.items() if kinds[t] == "mcq"]
    return {
        "tasks": {t: _pct(v) for t, v in tasks.items()},
        "counts": {t: len(by_task[t]) for t in order},
        "nq_avg": _pct(sum(numeric) / len(numeric)) if numeric else None,
        "mcq_avg": _pct(sum(mcq) / len(mcq)) if mcq else None,
        "avg": _pct(sum(tasks.values()) / len(tasks)),
        "questions": len(rows),
        "scored": len(rows),
        "missing_predictions": sum(s.missing for s in rows),
        "errors": [],
        "notes": [],
    }


def _official_summary(rows: list[SampleScore], mode: ScoringMode) -> dict[str, Any]:
    scored = [(s.question_type, value) for s in rows if (value := s.scores[mode.value]) is not None]
    aggregate = spatialladder_aggregate if mode is ScoringMode.SPATIALLADDER else vsibench_aggregate
    result: OfficialSummary = aggregate(scored)
    counts = Counter(t for t, _ in scored)
    tasks = {}
    for key, value in result.metrics.items():
        tasks[key.rsplit("_", 1)[0] if key.endswith("_accuracy") else key.removesuffix("_MRA:.5:.95:.05")] = value
    task_counts = {t: counts[t] or sum(n for q, n in counts.items() if q.startswith(f"{t}_")) for t in tasks}
    order = _task_order(set(tasks))
    return {
        "tasks": {t: _pct(tasks[t]) for t in order},
        "counts": {t: task_counts[t] for t in order},
        "nq_avg": _pct(result.na) if any(_numeric(t) for t in tasks) else None,
        "mcq_avg": _pct(result.mca) if any(not _numeric(t) for t in tasks) else None,
        "avg": _pct(result.overall),
        "questions": len(rows),
        "scored": len(scored),
        "missing_predictions": sum(s.missing for s in rows),
        "errors": [
            {"id": s.id, "question_type": s.question_type, "error": s.errors[mode.value]}
            for s in rows
            if mode.value in s.errors
        ],
        "notes": result.notes,
    }


def summarize(scores: list[SampleScore], mode: ScoringMode = ScoringMode.LADDER) -> dict[str, dict[str, Any]]:
    """Per dataset: score per task (percent), NQ and MCQ averages, overall, as ``mode`` computes them.

    Official modes score what their code scores: the questions with a prediction and without an error (the
    official code would stop at an error; the errors are listed instead).
    """
    by_dataset: dict[str, list[SampleScore]] = defaultdict(list)
    for s in scores:
        by_dataset[s.dataset].append(s)
    return {
        dataset: _ladder_summary(rows) if mode is ScoringMode.LADDER else _official_summary(rows, mode)
        for dataset, rows in sorted(by_dataset.items())
    }


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report_markdown(summaries: dict[str, dict[str, dict[str, Any]]], model: str = "model") -> str:
    """One table per benchmark with a row per scoring mode, then each mode's notes and errors."""
    datasets = sorted({d for per_mode in summaries.values() for d in per_mode})
    lines = []
    for dataset in datasets:
        modes = {m: s[dataset] for m, s in summaries.items() if dataset in s}
        tasks = _task_order({t for s in modes.values() for t in s["tasks"]})
        lines += [f"## {dataset}", ""]
        header = ["Model", "Scoring", *(column_name(t) for t in tasks), "NQ Avg.", "MCQ Avg.", "Avg."]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|---" * len(header) + "|")
        for mode, s in modes.items():
            cells = [model, mode, *(_cell(s["tasks"].get(t)) for t in tasks)]
            cells += [_cell(s["nq_avg"]), _cell(s["mcq_avg"]), _cell(s["avg"])]
            lines.append("| " + " | ".join(cells) + " |")
        first = next(iter(modes.values()))
        lines += [
            "",
            f"{first['questions']} questions; {first['missing_predictions']} without a prediction; "
            f"{first.get('unmatched_predictions', 0)} predictions name no question of the benchmark (not scored).",
        ]
        for mode, s in modes.items():
            if mode == ScoringMode.LADDER:
                lines.append(f"- {mode}: a question without a prediction scores 0.")
            else:
                lines.append(f"- {mode}: {s['scored']} questions scored (those with a prediction and no error).")
            lines += [f"- {mode}: {note}" for note in s["notes"]]
            lines += [f"- {mode}: error on `{e['id']}` ({e['question_type']}): {e['error']}" for e in s["errors"]]
        lines.append("")
    return "\n".join(lines)


def evaluate(
    bench: Path,
    predictions: Path,
    out: Path,
    model: str = "model",
    modes: list[ScoringMode] | None = None,
    thinking: bool = False,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Score ``predictions`` on ``bench`` in each mode; writes ``out/report.json`` (mode -> benchmark ->
    summary), ``out/report.md`` and ``out/scores.jsonl`` (per question, every mode's score and error)."""
    modes = modes or [ScoringMode.LADDER]
    rows = load_bench(bench)
    read = read_predictions_file(predictions)
    unmatched = unmatched_predictions(rows, read.by_id)
    if not read.lines:
        raise ConfigError(f"{predictions} holds no predictions")
    if len(unmatched) == read.lines:
        raise ConfigError(
            f"none of the {read.lines} predictions in {predictions} names a question of {bench} "
            f"(e.g. {unmatched[0]!r}): predictions for another benchmark?"
        )
    if unmatched:
        log.warning(
            "%d of %d predictions name no question of %s (not scored), e.g. %s",
            len(unmatched),
            read.lines,
            bench,
            ", ".join(unmatched[:3]),
        )
    scores = score_rows(rows, read.by_id, modes, thinking)
    summaries = {mode.value: summarize(scores, mode) for mode in modes}
    for per_dataset in summaries.values():
        for summary in per_dataset.values():
            summary["unmatched_predictions"] = len(unmatched)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "report.json", json.dumps(summaries, indent=2) + "\n")
    write_text_atomic(out / "report.md", report_markdown(summaries, model))
    write_text_atomic(out / "scores.jsonl", "".join(s.model_dump_json() + "\n" for s in scores))
    return summaries


def write_predictions(predictions: list[dict[str, str]], path: Path) -> Path:
    """A predictions file (JSON Lines of ``{"id", "prediction"}``), written atomically."""
    write_text_atomic(path, "".join(json.dumps(p) + "\n" for p in predictions))
    return path
