"""The scoring-mode registry: each mode reproduces one tool's rules (or ladder's own) in one module registered with
:func:`register_scorer`; ``ladder eval --scoring NAME`` picks modes by name or alias, ``all`` picks every one.

A mode answers three things: whether it accepts a benchmark at all (:meth:`Scorer.refusal`: the official tools
stop at question types they do not know, or at aggregation steps the benchmark cannot feed), one question's score
(:meth:`Scorer.score`), and the per-type aggregation (:meth:`Scorer.aggregate`). Which question types a tool knows,
and whether each is multiple choice or numeric, is read from the task registry (each task's ``official``), so a
new question type is declared in its own module only.
"""

from abc import ABC, abstractmethod
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from pydantic import BaseModel

from ladderdata.eval.official import (
    ACCURACY,
    DIRECTION_TYPE,
    MRA,
    AnswerKind,
    OfficialSummary,
    QuestionScore,
    question_kinds,
)
from ladderdata.io.dataset import BenchRow
from ladderdata.registry import Registry
from ladderdata.tasks import SPATIAL_TASKS, OfficialScorer, forms_of

ALL = "all"


@dataclass(frozen=True)
class Source:
    """Where a mode's rules come from: the code we read, at the commit we read it."""

    repository: str
    """``owner/name`` on GitHub."""
    path: str
    commit: str
    functions: tuple[str, ...]

    @property
    def cite(self) -> str:
        return f"{self.repository}@{self.commit[:8]} {self.path} ({', '.join(self.functions)})"


class SampleScore(BaseModel):
    """One question's scores, one per scoring mode (None where that mode gives an error, refuses the benchmark,
    or, in official modes, where there is no prediction)."""

    id: str
    dataset: str
    question_type: str
    answer_type: str
    missing: bool
    scores: dict[str, float | None]
    errors: dict[str, str]


class ScoreError(BaseModel):
    """A question an official tool could not score, and why."""

    id: str
    question_type: str
    error: str


class BenchmarkSummary(BaseModel):
    """One scoring mode's report on one benchmark (``report.json``'s entries; the fields in the file's order)."""

    tasks: dict[str, float | None]
    """Score per task, percent."""
    counts: dict[str, int]
    """Questions per task."""
    nq_avg: float | None
    mcq_avg: float | None
    avg: float | None
    questions: int
    scored: int
    missing_predictions: int
    errors: list[ScoreError]
    notes: list[str]
    unmatched_predictions: int = 0
    """Predictions naming no question of the benchmark (not scored)."""
    blind: dict[str, dict[str, float | None]] = {}
    """Task -> blind baselines in percent (``chance``, ``frequent``, ``blind_model``; ``ladder audit``)."""


class RefusedSummary(BaseModel):
    """A benchmark a scoring mode's tool refuses: why, and no score."""

    refused: str
    questions: int
    unmatched_predictions: int = 0


Summary = BenchmarkSummary | RefusedSummary


def task_order(tasks: Collection[str]) -> list[str]:
    """SpatialLadder-26k's types in the paper's column order, VSI-Bench's direction forms, then others by name."""
    first = (*SPATIAL_TASKS, *forms_of(DIRECTION_TYPE))
    return [t for t in first if t in tasks] + sorted(set(tasks) - set(first))


def pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


class Scorer(ABC):
    """One scoring mode. Subclasses set the class attributes and implement :meth:`score` and :meth:`summary`
    (official tools: :class:`OfficialMode`, whose :meth:`~OfficialMode.aggregate` is the tool's)."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    """Former names that still select the mode."""
    description: ClassVar[str]
    tool: ClassVar[str]
    """What the mode reproduces, as the report names it."""
    sources: ClassVar[tuple[Source, ...]]
    scores_missing: ClassVar[bool] = False
    """True: a question without a prediction scores 0 and counts; False (the official tools): it is not scored,
    as their loops score the result lines they are given."""

    def refusal(self, question_types: Collection[str]) -> str | None:
        """Why the tool would stop on a benchmark with these question types (None: it scores it)."""
        return None

    @abstractmethod
    def score(self, prediction: str, row: BenchRow, thinking: bool) -> QuestionScore:
        """One response against one benchmark row (of a type :meth:`refusal` accepts)."""

    @abstractmethod
    def summary(self, rows: list[SampleScore]) -> BenchmarkSummary:
        """The report's entry for one benchmark."""


class OfficialMode(Scorer):
    """A mode reproducing an official tool: its aggregation gives the report's numbers."""

    type_lists: ClassVar[OfficialScorer]
    """Whose question-type lists the tool's code holds (``MCA_QUESTION_TYPES`` / ``NA_QUESTION_TYPES``): the tasks
    declaring it in their ``official`` are the types it scores; others make it refuse the benchmark."""

    @property
    def question_kinds(self) -> dict[str, AnswerKind]:
        """The question types the tool scores, each as multiple choice or numeric (from the task registry)."""
        return question_kinds(self.type_lists)

    def refusal(self, question_types: Collection[str]) -> str | None:
        unknown = sorted(set(question_types) - set(self.question_kinds))
        if unknown:
            return f"{self.tool} stops at question type {', '.join(unknown)} (ValueError: Unknown question type)"
        return None

    @abstractmethod
    def aggregate(self, scores: Sequence[tuple[str, float]]) -> OfficialSummary:
        """The tool's aggregation of (question_type, score) pairs of scored questions."""

    def summary(self, rows: list[SampleScore]) -> BenchmarkSummary:
        scored = [(s.question_type, value) for s in rows if (value := s.scores[self.name]) is not None]
        result = self.aggregate(scored)
        counts = Counter(t for t, _ in scored)
        tasks = {_type_of(key): value for key, value in result.metrics.items()}
        # a combined type (object_rel_direction from its three forms) counts its forms' questions
        task_counts = {t: counts[t] or sum(n for q, n in counts.items() if q.startswith(f"{t}_")) for t in tasks}
        order = task_order(tasks)
        known = self.question_kinds
        kinds = {t: known.get(t, AnswerKind.MCA) for t in tasks}
        return BenchmarkSummary(
            tasks={t: pct(tasks[t]) for t in order},
            counts={t: task_counts[t] for t in order},
            nq_avg=pct(result.na) if AnswerKind.NA in kinds.values() else None,
            mcq_avg=pct(result.mca) if AnswerKind.MCA in kinds.values() else None,
            avg=pct(result.overall),
            questions=len(rows),
            scored=len(scored),
            missing_predictions=sum(s.missing for s in rows),
            errors=[
                ScoreError(id=s.id, question_type=s.question_type, error=s.errors[self.name])
                for s in rows
                if self.name in s.errors
            ],
            notes=result.notes,
        )


def _type_of(key: str) -> str:
    return key.removesuffix(f"_{ACCURACY}") if key.endswith(f"_{ACCURACY}") else key.removesuffix(f"_{MRA}")


def per_type_means(scores: Sequence[tuple[str, float]], kinds: Mapping[str, AnswerKind]) -> dict[str, float]:
    """``<question_type>_accuracy`` / ``<question_type>_MRA:.5:.95:.05`` -> mean score, types in sorted order
    (pandas' ``groupby``, which every official aggregation uses, visits them so)."""
    by_type: dict[str, list[float]] = defaultdict(list)
    for question_type, value in scores:
        by_type[question_type].append(value)
    return {
        f"{t}_{MRA if kinds.get(t) is AnswerKind.NA else ACCURACY}": sum(v) / len(v) for t, v in sorted(by_type.items())
    }


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summary_of(metrics: dict[str, float], notes: list[str], kinds: Mapping[str, AnswerKind]) -> OfficialSummary:
    """Overall = mean over the metrics (as every official aggregation computes it); MCA / NA over their types."""
    mca = [v for k, v in metrics.items() if kinds.get(_type_of(k), AnswerKind.MCA) is AnswerKind.MCA]
    na = [v for k, v in metrics.items() if kinds.get(_type_of(k)) is AnswerKind.NA]
    return OfficialSummary(metrics, mean(list(metrics.values())), mean(mca), mean(na), notes)


SCORERS: Registry[Scorer] = Registry("--scoring mode", unknown_hint=f"; or {ALL} for every mode")
"""Mode name -> its scorer, in registration order (the order of ``--scoring all``)."""

_S = TypeVar("_S", bound=type[Scorer])


def register_scorer(cls: _S) -> _S:
    """Class decorator: make a scoring mode available under its ``name`` and ``aliases``."""
    if ALL in (cls.name, *cls.aliases):
        raise ValueError(f"scoring mode name {ALL!r} is taken by --scoring {ALL}")
    SCORERS.add(cls.name, cls(), aliases=cls.aliases)
    return cls


def get_scorer(name: str) -> Scorer:
    """The mode named ``name`` (or one of its aliases); ``ConfigError`` listing the modes otherwise."""
    return SCORERS.get_entry(name)


def scoring_modes(names: Sequence[str]) -> list[Scorer]:
    """``--scoring`` values (repeatable; ``all`` = every mode), in the order given, without repeats; ``ladder``
    when none is given."""
    modes: list[Scorer] = []
    for name in names:
        chosen = list(SCORERS.values()) if name == ALL else [get_scorer(name)]
        modes += [m for m in chosen if m not in modes]
    return modes or [SCORERS["ladder"]]
