"""Score a predictions file against a benchmark and report per task, NQ / MCQ averages and overall
(the layout of the paper's Tables 11 and 12)."""

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from pydantic import BaseModel, ValidationError

from ladderdata.cache import write_text_atomic
from ladderdata.errors import ConfigError
from ladderdata.eval.scoring import score
from ladderdata.io.card import SHORT_NAMES
from ladderdata.prompts import LETTERS
from ladderdata.tasks import SPATIAL_TASKS

BENCH_FIELDS = ("id", "dataset", "question_type", "question", "options", "ground_truth", "answer_type")


class Prediction(BaseModel):
    """One line of a predictions file (JSON Lines)."""

    id: str
    prediction: str


class SampleScore(BaseModel):
    id: str
    dataset: str
    question_type: str
    answer_type: str
    score: float
    missing: bool


def bench_files(bench: Path) -> list[Path]:
    """Shards of one benchmark folder or of every benchmark under a folder (caches skipped)."""
    files = sorted(
        p for p in bench.rglob("*.parquet") if not any(part.startswith(".") for part in p.relative_to(bench).parts)
    )
    if not files:
        raise ConfigError(f"no benchmark shards under {bench}")
    return files


def load_bench(bench: Path, with_images: bool = False) -> list[dict[str, Any]]:
    """Benchmark rows (without image bytes unless asked)."""
    rows: list[dict[str, Any]] = []
    for path in bench_files(bench):
        names = pq.read_schema(path).names
        missing = [f for f in BENCH_FIELDS if f not in names]
        if missing:
            raise ConfigError(
                f"{path} is not a benchmark shard (no {', '.join(missing)}); build it with ladder build-bench"
            )
        columns = names if with_images else [c for c in names if c != "images"]
        rows.extend(pq.read_table(path, columns=columns).to_pylist())
    return rows


def read_predictions(path: Path) -> dict[str, str]:
    """``{"id": ..., "prediction": ...}`` per line; a malformed line is an error naming its number."""
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                p = Prediction.model_validate_json(line)
            except ValidationError as e:
                raise ConfigError(f"{path}:{number}: not a prediction line ({e.errors()[0]['msg']})") from None
            out[p.id] = p.prediction
    return out


def score_rows(rows: list[dict[str, Any]], predictions: dict[str, str]) -> list[SampleScore]:
    scores = []
    for r in rows:
        text = predictions.get(r["id"])
        letters = LETTERS[: max(len(r["options"]), 1)]
        value = 0.0 if text is None else score(text, r["ground_truth"], r["answer_type"], letters)
        scores.append(
            SampleScore(
                id=r["id"],
                dataset=r["dataset"],
                question_type=r["question_type"],
                answer_type=r["answer_type"],
                score=value,
                missing=text is None,
            )
        )
    return scores


def summarize(scores: list[SampleScore]) -> dict[str, dict[str, Any]]:
    """Per dataset: score per task (percent), NQ and MCQ averages over tasks, overall average over tasks."""
    by_dataset: dict[str, list[SampleScore]] = defaultdict(list)
    for s in scores:
        by_dataset[s.dataset].append(s)
    out: dict[str, dict[str, Any]] = {}
    for dataset, rows in sorted(by_dataset.items()):
        by_task: dict[str, list[SampleScore]] = defaultdict(list)
        for s in rows:
            by_task[s.question_type].append(s)
        order = [t for t in SPATIAL_TASKS if t in by_task] + sorted(set(by_task) - set(SPATIAL_TASKS))
        tasks = {t: 100 * sum(s.score for s in by_task[t]) / len(by_task[t]) for t in order}
        kinds = {t: by_task[t][0].answer_type for t in order}
        numeric = [v for t, v in tasks.items() if kinds[t] == "numeric"]
        mcq = [v for t, v in tasks.items() if kinds[t] == "mcq"]
        out[dataset] = {
            "tasks": {t: round(v, 2) for t, v in tasks.items()},
            "counts": {t: len(by_task[t]) for t in order},
            "nq_avg": round(sum(numeric) / len(numeric), 2) if numeric else None,
            "mcq_avg": round(sum(mcq) / len(mcq), 2) if mcq else None,
            "avg": round(sum(tasks.values()) / len(tasks), 2),
            "questions": len(rows),
            "missing_predictions": sum(s.missing for s in rows),
        }
    return out


def report_markdown(summary: dict[str, dict[str, Any]], model: str = "model") -> str:
    lines = []
    for dataset, s in summary.items():
        tasks = list(s["tasks"])
        lines += [f"## {dataset}", ""]
        header = ["Model", *(SHORT_NAMES.get(t, t) for t in tasks), "NQ Avg.", "MCQ Avg.", "Avg."]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|---" * len(header) + "|")
        cells = [model, *(f"{s['tasks'][t]:.1f}" for t in tasks)]
        cells += [f"{s['nq_avg']:.1f}" if s["nq_avg"] is not None else "-"]
        cells += [f"{s['mcq_avg']:.1f}" if s["mcq_avg"] is not None else "-", f"{s['avg']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
        lines += ["", f"{s['questions']} questions; {s['missing_predictions']} without a prediction (scored 0).", ""]
    return "\n".join(lines)


def evaluate(bench: Path, predictions: Path, out: Path, model: str = "model") -> dict[str, dict[str, Any]]:
    """Score ``predictions`` on ``bench``; writes ``out/report.json``, ``out/report.md`` and per-sample scores."""
    scores = score_rows(load_bench(bench), read_predictions(predictions))
    summary = summarize(scores)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "report.json", json.dumps(summary, indent=2) + "\n")
    write_text_atomic(out / "report.md", report_markdown(summary, model))
    write_text_atomic(out / "scores.jsonl", "".join(s.model_dump_json() + "\n" for s in scores))
    return summary


def write_predictions(predictions: list[dict[str, str]], path: Path) -> Path:
    """A predictions file (JSON Lines of ``{"id", "prediction"}``), written atomically."""
    write_text_atomic(path, "".join(json.dumps(p) + "\n" for p in predictions))
    return path
