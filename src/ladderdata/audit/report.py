"""``ladder audit``: blind baselines per question type (``audit.json``, ``audit.md``) and ``build-bench --debias``:
iterative pruning of the most blind-answerable questions (docs/benchmarks.md#trust)."""

import math
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ladderdata.audit.blind import (
    MIN_MODEL_QUESTIONS,
    AuditQuestion,
    QuestionBlindness,
    TypeAudit,
    audit_type,
    by_type,
    read_questions,
)
from ladderdata.cache import write_text_atomic

AUDIT_JSON = "audit.json"
AUDIT_MD = "audit.md"
DEBIAS_JSON = "debias.json"


class AuditReport(BaseModel):
    folder: str
    seed: int
    folds: int
    types: list[TypeAudit]
    questions: list[QuestionBlindness]
    """Every question's out-of-fold blind answer and blind-answerability."""


def audit_questions(questions: Sequence[AuditQuestion], folder: str, k: int = 5, seed: int = 0) -> AuditReport:
    types, per_question = [], []
    for group in by_type(questions).values():
        audit, scores = audit_type(group, k, seed)
        types.append(audit)
        per_question += scores
    return AuditReport(folder=folder, seed=seed, folds=k, types=types, questions=per_question)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def types_table(types: Sequence[TypeAudit]) -> list[str]:
    lines = [
        "| benchmark | question type | metric | questions | chance | most frequent / median | text-only (k-fold) "
        "| excess over chance / median |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in types:
        excess = "-" if t.excess is None else f"{100 * t.excess:+.1f}"
        lines.append(
            f"| {t.benchmark} | {t.question_type} | {t.metric} | {t.questions} | {_pct(t.chance)} | {_pct(t.frequent)} "
            f"| {_pct(t.blind_model)} | {excess} |"
        )
    return lines


def audit_markdown(report: AuditReport) -> str:
    lines = [
        f"# Blind audit of {report.folder}",
        "",
        f"Scores in percent, answered without the images; the text-only model is trained {report.folds}-fold on the "
        f"questions themselves (seed {report.seed}): each question is answered by the model that did not see it. "
        "Numeric types have no chance level: their floor is the median answer. A large excess means the wording "
        f"alone gives answers away. Types with fewer than {MIN_MODEL_QUESTIONS} questions get no model.",
        "",
        *types_table(report.types),
        "",
        f"Per-question blind-answerability (`answerability`: the probability the model gives the right option, or "
        f"its MRA): `{AUDIT_JSON}` (`questions`).",
        "",
    ]
    worst = sorted((q for q in report.questions if q.answerability is not None), key=lambda q: -(q.answerability or 0))
    if worst:
        lines += ["Most blind-answerable questions:", ""]
        lines += [f"- `{q.id}` ({q.question_type}): {q.answerability:.2f}" for q in worst[:10]]
        lines.append("")
    return "\n".join(lines)


def write_audit(report: AuditReport, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / AUDIT_JSON, report.model_dump_json(indent=1) + "\n")
    write_text_atomic(out / AUDIT_MD, audit_markdown(report))


def run_audit(folder: Path, out: Path | None = None, k: int = 5, seed: int = 0) -> AuditReport:
    """Audit the benchmark or dataset at ``folder``; writes ``audit.json`` and ``audit.md`` into ``out`` (default
    ``folder``)."""
    report = audit_questions(read_questions(folder), str(folder), k, seed)
    write_audit(report, out or folder)
    return report


def find_audits(bench: Path, questions: dict[str, set[str]]) -> dict[tuple[str, str], TypeAudit]:
    """(benchmark, question type) -> its audit, from the ``audit.json`` files of ``bench``, of its benchmark folders
    and of the folder holding it (``ladder eval`` shows them beside the model's scores). ``questions``: benchmark ->
    ids of its questions now; an audit of other questions (the benchmark was rebuilt since) is left out."""
    found: dict[tuple[str, str], TypeAudit] = {}
    for path in [bench.parent / AUDIT_JSON, bench / AUDIT_JSON, *sorted(bench.glob(f"*/{AUDIT_JSON}"))]:
        if path.is_file():
            try:
                report = AuditReport.model_validate_json(path.read_text(encoding="utf-8"))
            except ValueError:
                continue  # not ours, or from another version: eval computes what it can without it
            audited: dict[str, set[str]] = {}
            for q in report.questions:
                audited.setdefault(q.benchmark, set()).add(q.id)
            current = {b for b, ids in audited.items() if questions.get(b) == ids}
            found.update({(t.benchmark, t.question_type): t for t in report.types if t.benchmark in current})
    return found


# ----------------------------------------------------------------------------------------------------- debias


class DebiasConfig(BaseModel):
    """Iterative bias pruning (``build-bench --debias``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    margin: float = Field(0.05, ge=0, le=1, description="stop when the text-only model is within this of chance")
    max_removed: float = Field(0.3, ge=0, le=1, description="removal budget: at most this fraction of each type")
    step: float = Field(0.05, gt=0, le=1, description="fraction of the type's questions removed per round")
    folds: int = Field(5, ge=2, le=50)
    seed: int = Field(0, ge=0)


class DebiasResult(BaseModel):
    config: DebiasConfig
    removed: list[str]
    """Ids of the pruned questions, sorted."""
    rounds: dict[str, int]
    """``benchmark/question_type`` -> pruning rounds run."""
    before: list[TypeAudit]
    after: list[TypeAudit]


def debias(questions: Sequence[AuditQuestion], config: DebiasConfig) -> DebiasResult:
    """Per (benchmark, question type): while the k-fold text-only model beats the floor (chance, or the median
    answer for numbers) by more than ``margin`` and the budget allows, remove the ``step`` fraction of questions it
    finds most answerable (ties by id), refit, re-measure. Deterministic for a seed."""
    removed: list[str] = []
    rounds: dict[str, int] = {}
    before, after = [], []
    for (benchmark, qtype), group in by_type(questions).items():
        budget = math.floor(config.max_removed * len(group))
        per_round = max(1, math.ceil(config.step * len(group)))
        kept = list(group)
        first, scores = audit_type(kept, config.folds, config.seed)
        before.append(first)
        audit, n = first, 0
        while (
            audit.excess is not None
            and audit.excess > config.margin
            and len(group) - len(kept) < budget
            and len(kept) > MIN_MODEL_QUESTIONS
        ):
            take = min(per_round, budget - (len(group) - len(kept)))
            ranked = sorted(zip(scores, kept, strict=True), key=lambda t: (-(t[0].answerability or 0.0), t[1].id))
            drop = {q.id for _, q in ranked[:take]}
            kept = [q for q in kept if q.id not in drop]
            audit, scores = audit_type(kept, config.folds, config.seed)
            n += 1
        rounds[f"{benchmark}/{qtype}"] = n
        after.append(audit)
        kept_ids = {q.id for q in kept}
        removed += [q.id for q in group if q.id not in kept_ids]
    return DebiasResult(config=config, removed=sorted(removed), rounds=rounds, before=before, after=after)


def debias_markdown(result: DebiasResult) -> str:
    c = result.config
    lines = [
        "## Blind-bias pruning (`--debias`)",
        "",
        f"Per question type, the questions a text-only model trained {c.folds}-fold on the benchmark's own questions "
        f"answers best were removed, {100 * c.step:.0f}% of the type per round, until the model was within "
        f"{100 * c.margin:.0f} points of chance (the median answer for numbers) or {100 * c.max_removed:.0f}% of the "
        f"type was removed (seed {c.seed}). {len(result.removed)} questions removed (ids: `{DEBIAS_JSON}`).",
        "",
        "Before:",
        "",
        *types_table(result.before),
        "",
        "After:",
        "",
        *types_table(result.after),
        "",
    ]
    return "\n".join(lines)


def write_debias(result: DebiasResult, folder: Path) -> None:
    """``debias.json`` into the benchmark folder and the before/after table appended to its card."""
    write_text_atomic(folder / DEBIAS_JSON, result.model_dump_json(indent=1) + "\n")
    card = folder / "README.md"
    text = card.read_text(encoding="utf-8") if card.is_file() else ""
    write_text_atomic(card, text.rstrip("\n") + "\n\n" + debias_markdown(result))


def blind_summary(audits: dict[tuple[str, str], TypeAudit]) -> dict[str, dict[str, dict[str, float | None]]]:
    """benchmark -> question type -> ``chance``, ``frequent``, ``blind_model`` in percent (report.json's ``blind``)."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for (benchmark, qtype), t in sorted(audits.items()):
        out.setdefault(benchmark, {})[qtype] = {
            k: None if v is None else round(100 * v, 2)
            for k, v in (("chance", t.chance), ("frequent", t.frequent), ("blind_model", t.blind_model))
        }
    return out
