"""Score a predictions file against a benchmark and report per task, NQ / MCQ averages and overall (the layout
of the paper's Tables 11 and 12), in the scoring modes asked for (:mod:`ladderdata.eval.scorers`) side by side."""

import json
import logging
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from ladderdata.audit.blind import audit_question, audit_type, by_type
from ladderdata.audit.report import blind_summary, find_audits
from ladderdata.cache import regular_file_stat, write_text_atomic
from ladderdata.errors import ConfigError
from ladderdata.eval.scorers import (
    BenchmarkSummary,
    RefusedSummary,
    SampleScore,
    Scorer,
    Summary,
    get_scorer,
    scoring_modes,
)
from ladderdata.eval.scorers.base import task_order
from ladderdata.io.dataset import BenchReader, BenchRow
from ladderdata.tasks import column_name

log = logging.getLogger(__name__)


class Prediction(BaseModel):
    """One line of our predictions file (JSON Lines)."""

    id: str
    prediction: str


class OfficialResult(BaseModel):
    """One line of SpatialLadder's ``<task>_results.jsonl`` (other fields are ignored)."""

    id: str | int
    predicted_answer: str


class LmmsSample(BaseModel):
    """One line of lmms-eval's ``--log_samples`` file (``<date>_samples_<task>.jsonl``).

    Before 0.4 it held the benchmark row (``doc``) and ``filtered_resps`` as a list. Since then
    ``EvaluationTracker.save_results_samples`` (lmms_eval/loggers/evaluation_tracker.py) drops ``doc`` and, since
    2026-03, writes a single response as a plain string; the row survives inside each metric field (the dict
    ``process_results`` returned, e.g. ``vsibench_overall``), and ``doc_id`` is the row's index in the task's
    dataset. Other fields (``target``, ``resps``, ``doc_hash``, ``input``, ``token_counts``, metrics) are ignored.
    """

    model_config = ConfigDict(extra="allow")

    doc_id: int | None = None
    doc: dict[str, JsonValue] | None = None
    filtered_resps: str | list[JsonValue]

    def response(self) -> str | None:
        """The filtered response lmms-eval scored (the first one of a list)."""
        if isinstance(self.filtered_resps, str):
            return self.filtered_resps
        first = self.filtered_resps[0] if self.filtered_resps else None
        return first if isinstance(first, str) else None

    def question_id(self) -> str | None:
        """``doc.id``, else the ``id`` of the row inside a metric field (``vsibench_overall.id``), else None."""
        if self.doc is not None:
            return None if self.doc.get("id") is None else str(self.doc["id"])
        for value in (self.model_extra or {}).values():
            if isinstance(value, dict) and value.get("id") is not None:
                return str(value["id"])
        return None


def _prediction(line: str) -> tuple[str | int, str] | None:
    """(id, response) of a line in any accepted format, with the row index (an ``int``) instead of the id for an
    lmms-eval line that names its row only by ``doc_id``; None if the line is in none of them."""
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
    response, qid = sample.response(), sample.question_id()
    if response is None:
        return None
    if qid is not None:
        return qid, response
    return (sample.doc_id, response) if sample.doc is None and sample.doc_id is not None else None


class Predictions(BaseModel):
    """The responses of a predictions file by question id, and what the file held besides."""

    by_id: dict[str, str]
    by_index: dict[int, str] = {}
    """Responses of lmms-eval lines that name their row only by ``doc_id`` (its index in the exported order)."""
    lines: int
    """Prediction lines read (blank lines are skipped)."""


def read_predictions_file(path: Path) -> Predictions:
    """Responses by question id from JSON Lines: ours (``{"id", "prediction"}``), SpatialLadder's results
    (``{"id", "predicted_answer", ...}``) or lmms-eval's logged samples, old (``{"doc": {"id"},
    "filtered_resps": [...]}``) or current (``{"doc_id", "filtered_resps": "...", "vsibench_overall": {"id",
    ...}}``; :class:`LmmsSample`).

    A missing, binary or non-regular file (a FIFO would block forever), a line in none of these formats, an empty
    id, or an id or ``doc_id`` given twice (the score would depend on which line wins) is a ``ConfigError`` naming
    the file and line. Ids that name no question of the benchmark are counted by :func:`evaluate` and reported.
    """
    by_id: dict[str, str] = {}
    by_index: dict[int, str] = {}
    where: dict[str | int, int] = {}
    count = 0
    try:
        regular_file_stat(path)
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                found = _prediction(line)
                if found is None:
                    raise ConfigError(
                        f'{path}:{number}: not a prediction line: expected {{"id", "prediction"}}, SpatialLadder\'s '
                        '{"id", "predicted_answer"} or lmms-eval\'s logged sample ({"doc_id", "filtered_resps"} '
                        'with the row in a metric field, or {"doc": {"id"}, "filtered_resps"})'
                    )
                key, text = found
                if isinstance(key, str) and not key.strip():
                    raise ConfigError(f"{path}:{number}: empty question id")
                if key in where:
                    what = f"question id {key!r}" if isinstance(key, str) else f"doc_id {key}"
                    raise ConfigError(
                        f"{path}:{number}: {what} was already given on line {where[key]}; "
                        "keep one prediction per question"
                    )
                where[key] = number
                if isinstance(key, str):
                    by_id[key] = text
                else:
                    by_index[key] = text
                count += 1
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text (JSON Lines expected)") from None
    except OSError as e:
        raise ConfigError(f"cannot read predictions {path}: {e.strerror or e}") from None
    return Predictions(by_id=by_id, by_index=by_index, lines=count)


def read_predictions(path: Path) -> dict[str, str]:
    """:func:`read_predictions_file`'s responses by question id (lines naming only a ``doc_id`` left out)."""
    return read_predictions_file(path).by_id


def resolve_predictions(rows: list[BenchRow], read: Predictions, path: Path) -> dict[str, str]:
    """Responses by question id, ``doc_id`` lines matched to the row at that index: lmms-eval numbers the rows
    of the dataset it loaded, which is one exported benchmark in the order ``BenchReader`` reads it (the export
    writes that order). Needs a benchmark folder holding that one benchmark; an index out of range, or an id
    also given by another line, is a ``ConfigError``."""
    if not read.by_index:
        return read.by_id
    benchmarks = sorted({r.benchmark for r in rows})
    if len(benchmarks) != 1:
        raise ConfigError(
            f"{path} names questions by lmms-eval's doc_id (the row index of one exported benchmark), but the "
            f"benchmark folder holds {', '.join(benchmarks)}: pass --bench the benchmark it was run on"
        )
    out = dict(read.by_id)
    for index, text in sorted(read.by_index.items()):
        if not 0 <= index < len(rows):
            raise ConfigError(f"{path}: doc_id {index} is not a row of {benchmarks[0]} ({len(rows)} questions)")
        qid = rows[index].id
        if qid in out:
            raise ConfigError(f"{path}: doc_id {index} is question {qid!r}, which another line already answers")
        out[qid] = text
    return out


def score_rows(
    rows: list[BenchRow],
    predictions: dict[str, str],
    modes: list[Scorer] | None = None,
    thinking: bool = False,
) -> list[SampleScore]:
    """Every row scored in every mode that accepts its benchmark (:meth:`Scorer.refusal`; a refused mode's score
    is None); ``thinking``: responses follow the think prompt (SpatialLadder's evaluator then reads the
    ``<answer>`` tag). A row without a prediction scores 0 in modes that count it (``ladder``), None in others."""
    modes = modes or scoring_modes([])
    types: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        types[r.benchmark].add(r.task)
    accepted = {(m.name, d) for m in modes for d, t in types.items() if m.refusal(t) is None}
    out = []
    for r in rows:
        text = predictions.get(r.id)
        scores: dict[str, float | None] = {}
        errors: dict[str, str] = {}
        for mode in modes:
            if (mode.name, r.benchmark) not in accepted or text is None:
                scores[mode.name] = 0.0 if mode.scores_missing and text is None else None
                continue
            result = mode.score(text, r, thinking)
            scores[mode.name] = result.value
            if result.error:
                errors[mode.name] = result.error
        out.append(
            SampleScore(
                id=r.id,
                dataset=r.benchmark,
                question_type=r.task,
                answer_type=r.answer_type,
                missing=text is None,
                scores=scores,
                errors=errors,
            )
        )
    return out


def unmatched_predictions(rows: list[BenchRow], predictions: dict[str, str]) -> list[str]:
    """Ids of predictions that name no question of ``rows`` (another benchmark's, or a typo), sorted."""
    return sorted(set(predictions) - {r.id for r in rows})


Summaries = dict[str, dict[str, Summary]]
"""Scoring mode -> benchmark -> its summary (``report.json``)."""


def summarize(scores: list[SampleScore], mode: Scorer) -> dict[str, Summary]:
    """Per benchmark: score per task (percent), NQ and MCQ averages, overall, as ``mode`` computes them; or,
    where the mode's tool refuses the benchmark, why (:class:`RefusedSummary`) and no score.

    Official modes score what their code scores: the questions with a prediction and without an error (the
    official code would stop at an error; the errors are listed instead).
    """
    by_dataset: dict[str, list[SampleScore]] = defaultdict(list)
    for s in scores:
        by_dataset[s.dataset].append(s)
    out: dict[str, Summary] = {}
    for dataset, rows in sorted(by_dataset.items()):
        refusal = mode.refusal({s.question_type for s in rows})
        out[dataset] = RefusedSummary(refused=refusal, questions=len(rows)) if refusal else mode.summary(rows)
    return out


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report_markdown(summaries: Summaries, model: str = "model") -> str:
    """One table per benchmark with a row per scoring mode that scored it, then each mode's refusal, notes and
    errors."""
    datasets = sorted({d for per_mode in summaries.values() for d in per_mode})
    lines = []
    for dataset in datasets:
        entries = {m: s[dataset] for m, s in summaries.items() if dataset in s}
        modes = {m: s for m, s in entries.items() if isinstance(s, BenchmarkSummary)}
        tasks = task_order({t for s in modes.values() for t in s.tasks})
        lines += [f"## {dataset}", ""]
        if modes:
            header = ["Model", "Scoring", *(column_name(t) for t in tasks), "NQ Avg.", "MCQ Avg.", "Avg."]
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|---" * len(header) + "|")
            for mode, scored in modes.items():
                cells = [model, mode, *(_cell(scored.tasks.get(t)) for t in tasks)]
                cells += [_cell(scored.nq_avg), _cell(scored.mcq_avg), _cell(scored.avg)]
                lines.append("| " + " | ".join(cells) + " |")
            first = next(iter(modes.values()))
            lines += blind_rows(first.blind, tasks, len(header) - len(tasks) - 2)
            lines += [
                "",
                f"{first.questions} questions; {first.missing_predictions} without a prediction; "
                f"{first.unmatched_predictions} predictions name no question of the benchmark "
                "(not scored).",
            ]
        else:
            lines.append("No scoring mode asked for scores this benchmark.")
        for mode, s in entries.items():
            if isinstance(s, RefusedSummary):
                lines.append(f"- {mode}: not scored: {s.refused}.")
                continue
            if get_scorer(mode).scores_missing:
                lines.append(f"- {mode}: a question without a prediction scores 0.")
            else:
                lines.append(f"- {mode}: {s.scored} questions scored (those with a prediction and no error).")
            lines += [f"- {mode}: {note}" for note in s.notes]
            lines += [f"- {mode}: error on `{e.id}` ({e.question_type}): {e.error}" for e in s.errors]
        lines.append("")
    return "\n".join(lines)


BLIND_ROWS = (("chance", "chance"), ("frequent", "most frequent / median"), ("blind_model", "text-only (k-fold)"))


def blind_rows(blind: dict[str, dict[str, float | None]], tasks: list[str], tail: int) -> list[str]:
    """Table rows of the blind baselines (``ladder audit``) under the model's: a score near them was earned without
    looking."""
    out = []
    for key, label in BLIND_ROWS:
        values = [blind.get(t, {}).get(key) for t in tasks]
        if any(v is not None for v in values):
            out.append("| " + " | ".join(["blind", label, *(_cell(v) for v in values), *["-"] * tail]) + " |")
    return out


def blind_baselines(bench: Path, rows: list[BenchRow]) -> dict[str, dict[str, dict[str, float | None]]]:
    """benchmark -> question type -> blind baselines in percent: the ``audit.json`` of the benchmark when there is
    one (``ladder audit``, ``build-bench --debias``: with the text-only model), else chance and the most frequent /
    median answer computed here."""
    questions = [q for r in rows if (q := audit_question(r)) is not None]
    ids: dict[str, set[str]] = {}
    for q in questions:
        ids.setdefault(q.benchmark, set()).add(q.id)
    audits = find_audits(bench, ids)
    for (benchmark, _), group in by_type(questions).items():
        if not any(key[0] == benchmark for key in audits):  # not audited (or audited before a rebuild)
            audit, _ = audit_type(group, k=5, seed=0, with_model=False)
            audits[(audit.benchmark, audit.question_type)] = audit
    return blind_summary(audits)


def evaluate(
    bench: Path,
    predictions: Path,
    out: Path,
    model: str = "model",
    modes: list[Scorer] | None = None,
    thinking: bool = False,
    skip_refused: bool = False,
) -> Summaries:
    """Score ``predictions`` on ``bench`` in each mode; writes ``out/report.json`` (mode -> benchmark ->
    summary), ``out/report.md`` and ``out/scores.jsonl`` (per question, every mode's score and error).

    A mode whose tool refuses a benchmark (a question type it stops at) gives it no score: with
    ``skip_refused`` (``--scoring all``) the report says why, otherwise it is a ``ConfigError`` naming both."""
    modes = modes or scoring_modes([])
    rows = list(BenchReader(bench).rows())
    if not skip_refused:
        for mode in modes:
            for dataset in sorted({r.benchmark for r in rows}):
                reason = mode.refusal({r.task for r in rows if r.benchmark == dataset})
                if reason:
                    raise ConfigError(f"--scoring {mode.name} refuses {dataset}: {reason}")
    read = read_predictions_file(predictions)
    if not read.lines:
        raise ConfigError(f"{predictions} holds no predictions")
    by_id = resolve_predictions(rows, read, predictions)
    unmatched = unmatched_predictions(rows, by_id)
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
    scores = score_rows(rows, by_id, modes, thinking)
    blind = blind_baselines(bench, rows)
    summaries: Summaries = {}
    for mode in modes:
        summaries[mode.name] = {
            dataset: summary.model_copy(
                update={"unmatched_predictions": len(unmatched)}
                | ({"blind": blind.get(dataset, {})} if isinstance(summary, BenchmarkSummary) else {})
            )
            for dataset, summary in summarize(scores, mode).items()
        }
    out.mkdir(parents=True, exist_ok=True)
    dumped = {m: {d: s.model_dump(mode="json") for d, s in per.items()} for m, per in summaries.items()}
    write_text_atomic(out / "report.json", json.dumps(dumped, indent=2) + "\n")
    write_text_atomic(out / "report.md", report_markdown(summaries, model))
    write_text_atomic(out / "scores.jsonl", "".join(s.model_dump_json() + "\n" for s in scores))
    return summaries


def write_predictions(predictions: list[dict[str, str]], path: Path) -> Path:
    """A predictions file (JSON Lines of ``{"id", "prediction"}``), written atomically."""
    write_text_atomic(path, "".join(json.dumps(p) + "\n" for p in predictions))
    return path
