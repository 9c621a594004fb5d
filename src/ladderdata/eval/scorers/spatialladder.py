"""``spatialladder``: SpatialLadder's evaluator (``eval_spld``), which gives the paper's SPBench-SI, SPBench-MV
and VSI-Bench numbers. It knows SPBench's single ``object_rel_direction`` type besides VSI-Bench's ten."""

import re
from collections.abc import Sequence

from ladderdata.eval.official import (
    ACCURACY,
    DIRECTION_TYPE,
    AnswerKind,
    OfficialSummary,
    QuestionScore,
    direction_forms,
    exact_match,
    numeric_score,
    question_kinds,
    to_float,
)
from ladderdata.eval.scorers.base import OfficialMode, Source, per_type_means, register_scorer, summary_of
from ladderdata.io.dataset import BenchRow
from ladderdata.scoring import NUMBER_WORDS
from ladderdata.tasks import OfficialScorer

REPOSITORY = "ZJU-REAL/SpatialLadder"
COMMIT = "87320beab061023e44153e253062614d859d7544"

_NUMBER_WORDS = {
    **{word: value for word, value in sorted(NUMBER_WORDS.items(), key=lambda item: item[1]) if value},
    "zero": NUMBER_WORDS["zero"],
    "a": 1,
    "an": 1,
}
"""Its ``fuzzy_matching_num`` list, searched in this order before any digit: one .. twenty, thirty .. ninety,
zero, then the articles ``a`` and ``an`` (= 1)."""


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
    for word, value in _NUMBER_WORDS.items():
        if re.search(rf"\b{word}\b", text):
            return float(value)
    m = re.search(r"(\d+(\.\d+)?)", text)
    return float(m.group(1)) if m else None


def spatialladder_aggregate(scores: Sequence[tuple[str, float]]) -> OfficialSummary:
    """Its ``vsibench_aggregate_results``.

    Without an ``object_rel_direction`` type it pops the three forms into ``object_rel_direction_accuracy``
    inside a bare ``try``: if one is missing, the forms popped before the failure are dropped and the direction
    score is 0 (also when a benchmark asks no direction question at all), and the 0 counts in the overall.
    """
    kinds = question_kinds(SpatialLadderScorer.type_lists)
    metrics = per_type_means(scores, kinds)
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
    summary = summary_of(metrics, notes, kinds)
    summary.mca, summary.na = summary.mca or 0.0, summary.na or 0.0  # it reports 0 for an empty group
    return summary


@register_scorer
class SpatialLadderScorer(OfficialMode):
    name = "spatialladder"
    description = "SpatialLadder's evaluator (the paper's SPBench-SI/-MV and VSI-Bench numbers)"
    tool = "SpatialLadder's evaluator"
    sources = (
        Source(
            REPOSITORY,
            "eval_spld/data_utils/vsi_utils.py",
            COMMIT,
            (
                "MCA_QUESTION_TYPES",
                "fuzzy_matching",
                "fuzzy_matching_num",
                "mean_relative_accuracy",
                "vsibench_process_results",
            ),
        ),
        Source(
            REPOSITORY,
            "eval_spld/data_utils/vsibench.py",
            COMMIT,
            ("vsibench_eval", "vsibench_aggregate_results"),
        ),
    )
    type_lists = OfficialScorer.SPATIALLADDER

    def score(self, prediction: str, row: BenchRow, thinking: bool) -> QuestionScore:
        text = spatialladder_answer_text(prediction, thinking)
        if self.question_kinds[row.task] is AnswerKind.MCA:
            return exact_match(spatialladder_choice(text), row.answer)
        return numeric_score(spatialladder_number(text), to_float(row.answer))

    def aggregate(self, scores: Sequence[tuple[str, float]]) -> OfficialSummary:
        return spatialladder_aggregate(scores)
