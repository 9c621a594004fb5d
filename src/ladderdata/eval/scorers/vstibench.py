"""``vstibench``: VSTI-Bench's scorer, VLM-3R's lmms-eval ``vstibench`` task (a copy of thinking-in-space's
``vsibench`` task on its own question-type lists): multiple choice is the first space-separated token against the
option letter (its ``mc_answer``, a ladder benchmark's ground truth), a number is ``float()`` of that token, MRA as
every official scorer computes it. Its aggregation is the mean per type and ``overall`` the mean of those: no
direction forms are merged. A type outside its lists (ladder's ``obj_obj_visibility``) stops it, so a benchmark
holding one is refused."""

from collections.abc import Sequence

from ladderdata.eval.official import (
    AnswerKind,
    OfficialSummary,
    QuestionScore,
    exact_match,
    first_token,
    numeric_score,
    question_kinds,
    to_float,
)
from ladderdata.eval.scorers.base import OfficialMode, Source, per_type_means, register_scorer, summary_of
from ladderdata.io.dataset import BenchRow
from ladderdata.tasks import OfficialScorer

COMMIT = "6dd1264c8789e615fa9b4449cd4ba5c66cc81c0f"


def vstibench_aggregate(scores: Sequence[tuple[str, float]]) -> OfficialSummary:
    """Its ``vsibench_aggregate_results``: mean per type, ``overall`` = mean over the entries (it reports only
    ``overall``; the multiple-choice and numeric means are given here over the same per-type entries)."""
    kinds = question_kinds(VstiBenchScorer.type_lists)
    return summary_of(per_type_means(scores, kinds), [], kinds)


@register_scorer
class VstiBenchScorer(OfficialMode):
    name = "vstibench"
    description = "VSTI-Bench's scorer (VLM-3R's vstibench task): camera and in-view types, float() of the first token"
    tool = "VLM-3R's vstibench task"
    sources = (
        Source(
            "VITA-Group/VLM-3R",
            "thinking-in-space/lmms_eval/tasks/vstibench/utils.py",
            COMMIT,
            (
                "MCA_QUESTION_TYPES",
                "NA_QUESTION_TYPES",
                "fuzzy_matching",
                "exact_match",
                "mean_relative_accuracy",
                "to_float",
                "vsibench_process_results",
                "vsibench_aggregate_results",
            ),
        ),
    )
    type_lists = OfficialScorer.VSTIBENCH

    def score(self, prediction: str, row: BenchRow, thinking: bool) -> QuestionScore:
        token = first_token(prediction)
        if self.question_kinds[row.task] is AnswerKind.MCA:
            return exact_match(token, row.answer)
        return numeric_score(to_float(token), to_float(row.answer))

    def aggregate(self, scores: Sequence[tuple[str, float]]) -> OfficialSummary:
        return vstibench_aggregate(scores)
