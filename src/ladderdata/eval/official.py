"""What the official scorers share, reimplemented to reproduce their numbers: their question-type lists (read from
the task registry, each task's ``official``: a new question type is declared in its own module only), mean
relative accuracy exactly as their code computes it, and the records a scoring mode returns.

Each tool's own rules (answer extraction, aggregation, what it refuses) are one module each under
:mod:`ladderdata.eval.scorers`; docs/benchmarks.md lists every rule with the repository, file, function and commit
it comes from. Where the official code would stop on one question (a numeric prediction against a ground truth of
0 divides by zero), that question gets an error instead of a score and the others are scored.
"""

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from ladderdata.tasks import AnswerType, OfficialScorer, forms_of, official_types

DIRECTION_TYPE = "object_rel_direction"
"""The column VSI-Bench's aggregation averages its three relative-direction forms into."""
ACCURACY = "accuracy"
MRA = "MRA:.5:.95:.05"
"""The metric names the scorers key their output with (``<question_type>_<metric>``)."""


class AnswerKind(StrEnum):
    MCA = "mca"
    """Multiple choice, scored by exact match (``accuracy``)."""
    NA = "na"
    """Numerical answer, scored by mean relative accuracy (``MRA:.5:.95:.05``)."""


def mca_types(scorer: OfficialScorer) -> tuple[str, ...]:
    """``scorer``'s multiple-choice question types (lmms-eval's ``MCA_QUESTION_TYPES``; SpatialLadder adds
    SPBench's single ``object_rel_direction``), as the tasks declare them (:attr:`TaskGenerator.official`)."""
    return official_types(scorer, AnswerType.MCQ)


def na_types(scorer: OfficialScorer) -> tuple[str, ...]:
    """``scorer``'s numerical-answer question types (``NA_QUESTION_TYPES``, the same in VSI-Bench's and
    SpatialLadder's scorers)."""
    return official_types(scorer, AnswerType.NUMERIC)


def question_kinds(scorer: OfficialScorer) -> dict[str, AnswerKind]:
    """``scorer``'s question-type table (type -> multiple choice or numeric), read from the task registry: a task
    declaring ``scorer`` in its ``official`` is in it, and nothing else is."""
    return {**{t: AnswerKind.MCA for t in mca_types(scorer)}, **{t: AnswerKind.NA for t in na_types(scorer)}}


def direction_forms() -> tuple[str, ...]:
    """VSI-Bench's relative-direction forms (easy, medium, hard), which its aggregation pops and averages."""
    return forms_of(DIRECTION_TYPE)


@dataclass(frozen=True)
class QuestionScore:
    """A score in [0, 1], or the reason the official scorer could not give one."""

    value: float | None
    error: str | None = None


@dataclass
class OfficialSummary:
    """What a scorer reports: its per-type metrics (fractions), overall and notes on the run."""

    metrics: dict[str, float]
    """``<question_type>_accuracy`` / ``<question_type>_MRA:.5:.95:.05`` -> mean score, in their key order."""
    overall: float | None
    mca: float | None
    na: float | None
    notes: list[str]
    """Where the official aggregation does something surprising."""


def official_mra(prediction: float, truth: float) -> float:
    """Mean relative accuracy exactly as every official scorer computes it: ``np.linspace(.5, .95, 10)``
    thresholds, ``abs(pred - gt) / gt <= 1 - θ`` in float64 (so a 20% error fails θ = 0.80: ``1 - 0.8 < 0.2``).

    Raises ``ZeroDivisionError`` for a ground truth of 0, as they do.
    """
    thresholds = np.linspace(0.5, 0.95, int((0.95 - 0.5) / 0.05 + 2))
    error = abs(prediction - truth) / truth
    return float((error <= 1 - thresholds).mean())


def to_float(text: str) -> float | None:
    """Their ``to_float``: ``float(text)``, None when it fails."""
    try:
        return float(text)
    except ValueError:
        return None


def numeric_score(prediction: float | None, truth: float | None) -> QuestionScore:
    """MRA of parsed values: an unparsed side scores 0 (their ``TypeError`` path), gt = 0 is their crash."""
    if prediction is None or truth is None:
        return QuestionScore(0.0)
    try:
        return QuestionScore(official_mra(prediction, truth))
    except ZeroDivisionError:
        return QuestionScore(None, "ground truth 0: the official MRA divides by it (ZeroDivisionError)")


def exact_match(choice: str, truth: str) -> QuestionScore:
    """Their ``exact_match``: equal case-insensitively."""
    return QuestionScore(float(choice.lower() == truth.lower()))


def first_token(prediction: str) -> str:
    """VSI-Bench's ``fuzzy_matching``: the first space-separated token, trailing dots removed, stripped."""
    return prediction.split(" ")[0].rstrip(".").strip()
