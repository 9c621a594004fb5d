"""The official scorers' rules, reimplemented to reproduce their numbers: SpatialLadder's evaluator
(``eval_spld``, which scores SPBench-SI/-MV and VSI-Bench) and VSI-Bench's own (lmms-eval's ``vsibench`` task).

Both are strict where :mod:`ladderdata.eval.scoring` is lenient; docs/benchmarks.md lists every rule, the file
and function it comes from, and how ``ladder`` scoring differs. Where the official code would stop with an
exception (a numeric prediction against a ground truth of 0 divides by zero; a question type it does not know),
the question gets an error instead of a score and the others are scored.
"""

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ladderdata.eval.scoring import NUMBER_WORDS
from ladderdata.tasks import AnswerType, OfficialScorer, forms_of, official_types

DIRECTION_TYPE = "object_rel_direction"
"""The column VSI-Bench's aggregation averages its three relative-direction forms into."""


def mca_types(scorer: OfficialScorer) -> tuple[str, ...]:
    """``scorer``'s multiple-choice question types (lmms-eval's ``MCA_QUESTION_TYPES``; SpatialLadder adds
    SPBench's single ``object_rel_direction``), as the tasks declare them (:attr:`TaskGenerator.official`)."""
    return official_types(scorer, AnswerType.MCQ)


def na_types(scorer: OfficialScorer) -> tuple[str, ...]:
    """``scorer``'s numerical-answer question types (``NA_QUESTION_TYPES``, the same in VSI-Bench's and
    SpatialLadder's scorers)."""
    return official_types(scorer, AnswerType.NUMERIC)


def direction_forms() -> tuple[str, ...]:
    """VSI-Bench's relative-direction forms (easy, medium, hard), which its aggregation pops and averages."""
    return forms_of(DIRECTION_TYPE)


ACCURACY = "accuracy"
MRA = "MRA:.5:.95:.05"
"""The metric names the scorers key their output with (``<question_type>_<metric>``)."""

_SL_NUMBER_WORDS = {
    **{word: value for word, value in sorted(NUMBER_WORDS.items(), key=lambda item: item[1]) if value},
    "zero": NUMBER_WORDS["zero"],
    "a": 1,
    "an": 1,
}
"""SpatialLadder's ``fuzzy_matching_num`` list, searched in this order before any digit: one .. twenty, thirty ..
ninety, zero, then the articles ``a`` and ``an`` (= 1)."""


@dataclass(frozen=True)
class QuestionScore:
    """A score in [0, 1], or the reason the official scorer could not give one."""

    value: float | None
    error: str | None = None


def official_mra(prediction: float, truth: float) -> float:
    """Mean relative accuracy exactly as both scorers compute it: ``np.linspace(.5, .95, 10)`` thresholds,
    ``abs(pred - gt) / gt <= 1 - θ`` in float64 (so a 20% error fails θ = 0.80: ``1 - 0.8 < 0.2``).

    Raises ``ZeroDivisionError`` for a ground truth of 0, as they do.
    """
    thresholds = np.linspace(0.5, 0.95, int((0.95 - 0.5) / 0.05 + 2))
    error = abs(prediction - truth) / truth
    return float((error <= 1 - thresholds).mean())


def _to_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numeric(prediction: float | None, truth: float | None) -> QuestionScore:
    """MRA of parsed values: an unparsed side scores 0 (their ``TypeError`` path), gt = 0 is their crash."""
    if prediction is None or truth is None:
        return QuestionScore(0.0)
    try:
        return QuestionScore(official_mra(prediction, truth))
    except ZeroDivisionError:
        return QuestionScore(None, "ground truth 0: the official MRA divides by it (ZeroDivisionError)")


def _unknown(question_type: str) -> QuestionScore:
    return QuestionScore(None, f"ValueError: Unknown question type: {question_type}")


# ----------------------------------------------------------------------------------------------- SpatialLadder


def spatialladder_answer_text(prediction: str, thinking: bool) -> str:
    """``vsibench_eval``: in thinking mode a response holding ``<answer>`` is cut to the first tag's content
    (``"None"`` when the tag is not closed); in direct mode the response is used as it is."""
    if thinking and "<answer>" in prediction:
        # re.search(r"<answer>(.*?)</answer>", re.DOTALL), in linear time: the first tag's content ends at the
        # first closing tag after it (the regex would rescan the text from every unclosed tag)
        start = prediction.index("<answer>") + len("<answer>")
        end = prediction.find("</answer>", start)
        return prediction[start:end].strip() if end >= 0 else "None"
    return prediction


def spatialladder_choice(prediction: str) -> str:
    """``fuzzy_matching`` after ``replace("Answer:", "")``: the first space-separated token when it is a
    capital A-D with an optional dot, else the whole stripped response."""
    text = prediction.replace("Answer:", "")
    if re.search(r"^[A-D]\.?$", text.split(" ")[0].strip()):
        return text.split(" ")[0].strip().rstrip(".").upper().strip()
    return text.strip()


def spatialladder_number(prediction: str) -> float | None:
    """``fuzzy_matching_num`` then ``to_float``: the first number word of its list (in list order, ``a`` = 1),
    else the first unsigned decimal ``\\d+(\\.\\d+)?``."""
    text = prediction.strip().lower()
    for word, value in _SL_NUMBER_WORDS.items():
        if re.search(rf"\b{word}\b", text):
            return float(value)
    m = re.search(r"(\d+(\.\d+)?)", text)
    return float(m.group(1)) if m else None


def spatialladder_score(prediction: str, truth: str, question_type: str, thinking: bool) -> QuestionScore:
    """``vsibench_process_results`` of SpatialLadder's ``data_utils/vsi_utils.py`` for one question."""
    text = spatialladder_answer_text(prediction, thinking)
    if question_type in mca_types(OfficialScorer.SPATIALLADDER):
        return QuestionScore(float(spatialladder_choice(text).lower() == truth.lower()))
    if question_type in na_types(OfficialScorer.SPATIALLADDER):
        return _numeric(spatialladder_number(text), _to_float(truth))
    return _unknown(question_type)


# ----------------------------------------------------------------------------------------------- VSI-Bench


def vsibench_token(prediction: str) -> str:
    """lmms-eval's ``fuzzy_matching``: the first space-separated token, trailing dots removed, stripped."""
    return prediction.split(" ")[0].rstrip(".").strip()


def vsibench_score(prediction: str, truth: str, question_type: str) -> QuestionScore:
    """``vsibench_process_results`` of lmms-eval's ``tasks/vsibench/utils.py`` for one question."""
    token = vsibench_token(prediction)
    if question_type in mca_types(OfficialScorer.VSIBENCH):
        return QuestionScore(float(token.lower() == truth.lower()))
    if question_type in na_types(OfficialScorer.VSIBENCH):
        return _numeric(_to_float(token), _to_float(truth))
    return _unknown(question_type)


# ----------------------------------------------------------------------------------------------- aggregation


@dataclass
class OfficialSummary:
    """What an official scorer reports: its per-type metrics (fractions), overall and notes on the run."""

    metrics: dict[str, float]
    """``<question_type>_accuracy`` / ``<question_type>_MRA:.5:.95:.05`` -> mean score, in their key order."""
    overall: float | None
    mca: float | None
    na: float | None
    notes: list[str]
    """Where the official aggregation would crash or does something surprising."""


def _per_type(scores: Sequence[tuple[str, float]], mca_types: Sequence[str]) -> dict[str, float]:
    by_type: dict[str, list[float]] = defaultdict(list)
    for question_type, value in scores:
        by_type[question_type].append(value)
    # pandas' groupby, which both use, visits the question types in sorted order
    return {f"{t}_{ACCURACY if t in mca_types else MRA}": sum(v) / len(v) for t, v in sorted(by_type.items())}


def _type_of(key: str) -> str:
    return key.removesuffix(f"_{ACCURACY}") if key.endswith(f"_{ACCURACY}") else key.removesuffix(f"_{MRA}")


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def vsibench_aggregate(scores: Sequence[tuple[str, float]]) -> OfficialSummary:
    """lmms-eval's ``vsibench_aggregate_results`` on (question_type, score) pairs of scored questions.

    The three relative-direction forms are popped and averaged into ``object_rel_direction_accuracy``; lmms-eval
    raises ``KeyError`` when one is missing: we average the forms present and say so in ``notes``.
    """
    metrics = _per_type(scores, mca_types(OfficialScorer.VSIBENCH))
    notes = []
    forms = [f"{t}_{ACCURACY}" for t in direction_forms()]
    present = [metrics.pop(k) for k in forms if k in metrics]
    if len(present) < len(forms):
        missing = [t for t, k in zip(direction_forms(), forms, strict=True) if k not in metrics]
        notes.append(
            f"lmms-eval's aggregation raises KeyError without {', '.join(missing)}: "
            + ("object_rel_direction_accuracy averages the forms present" if present else "no direction score")
        )
    if present:
        metrics[f"{DIRECTION_TYPE}_{ACCURACY}"] = sum(present) / len(present)
    values = list(metrics.values())
    mca = [v for k, v in metrics.items() if k.endswith(f"_{ACCURACY}")]
    na = [v for k, v in metrics.items() if k.endswith(f"_{MRA}")]
    return OfficialSummary(metrics, _mean(values), _mean(mca), _mean(na), notes)


def spatialladder_aggregate(scores: Sequence[tuple[str, float]]) -> OfficialSummary:
    """SpatialLadder's ``vsibench_aggregate_results`` (``data_utils/vsibench.py``).

    Without an ``object_rel_direction`` type it pops the three forms into ``object_rel_direction_accuracy``
    inside a bare ``try``: if one is missing, the forms popped before the failure are dropped and the direction
    score is 0 (also when a benchmark asks no direction question at all), and the 0 counts in the overall.
    """
    mca, na = mca_types(OfficialScorer.SPATIALLADDER), na_types(OfficialScorer.SPATIALLADDER)
    metrics = _per_type(scores, mca)
    notes = []
    combined = f"{DIRECTION_TYPE}_{ACCURACY}"
    if combined not in metrics:
        popped: list[str] = []
        for form in direction_forms():
            key = f"{form}_{ACCURACY}"
            if key not in metrics:
                notes.append(
                    f"SpatialLadder's aggregation finds no {form}: object_rel_direction_accuracy is set to 0"
                    + (f" and {', '.join(popped)} dropped" if popped else "")
                )
                metrics[combined] = 0.0
                break
            popped.append(form)
            metrics[combined] = metrics.get(combined, 0.0) + metrics.pop(key) / 3.0
    mca_scores = [v for k, v in metrics.items() if _type_of(k) in mca]
    na_scores = [v for k, v in metrics.items() if _type_of(k) in na]
    return OfficialSummary(
        metrics, _mean(list(metrics.values())), _mean(mca_scores) or 0.0, _mean(na_scores) or 0.0, notes
    )
