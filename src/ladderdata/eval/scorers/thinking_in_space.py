"""``thinking-in-space`` (formerly ``vsibench``): VSI-Bench's own scorer as its authors released it, lmms-eval's
``vsibench`` task in vision-x-nyu/thinking-in-space. A number is ``float()`` of the first token, so ``2.5m``,
``three`` or ``(3)`` score 0; lmms-eval's current rule (:mod:`ladderdata.eval.scorers.lmms_eval`) reads them."""

from collections.abc import Collection, Sequence

from ladderdata.eval.official import (
    ACCURACY,
    DIRECTION_TYPE,
    AnswerKind,
    OfficialSummary,
    QuestionScore,
    direction_forms,
    exact_match,
    first_token,
    numeric_score,
    question_kinds,
    to_float,
)
from ladderdata.eval.scorers.base import OfficialMode, Source, per_type_means, register_scorer, summary_of
from ladderdata.io.dataset import BenchRow
from ladderdata.tasks import OfficialScorer

COMMIT = "51e089c3ae69b9435e9489058610f5b3964c56a8"


def thinking_in_space_aggregate(scores: Sequence[tuple[str, float]]) -> OfficialSummary:
    """Its ``vsibench_aggregate_results``: mean per type; when the easy form is there, the three forms are popped
    into ``object_rel_direction_accuracy`` (:meth:`ThinkingInSpaceScorer.refusal` refuses a benchmark with the
    easy form but not the others: the pop raises ``KeyError``); ``overall`` = mean over the entries."""
    kinds = question_kinds(ThinkingInSpaceScorer.type_lists)
    metrics = per_type_means(scores, kinds)
    notes = []
    all_forms = direction_forms()
    if f"{all_forms[0]}_{ACCURACY}" in metrics:
        forms = [metrics.pop(key) for form in all_forms if (key := f"{form}_{ACCURACY}") in metrics]
        if len(forms) < len(all_forms):
            notes.append("a direction form has no scored question: its aggregation raises KeyError here")
        metrics[f"{DIRECTION_TYPE}_{ACCURACY}"] = sum(forms) / 3.0
    return summary_of(metrics, notes, kinds)


@register_scorer
class ThinkingInSpaceScorer(OfficialMode):
    name = "thinking-in-space"
    aliases = ("vsibench",)
    description = "VSI-Bench's own scorer (thinking-in-space): float() of the first token"
    tool = "thinking-in-space's vsibench task"
    sources = (
        Source(
            "vision-x-nyu/thinking-in-space",
            "lmms_eval/tasks/vsibench/utils.py",
            COMMIT,
            (
                "fuzzy_matching",
                "exact_match",
                "mean_relative_accuracy",
                "to_float",
                "vsibench_process_results",
                "vsibench_aggregate_results",
            ),
        ),
    )
    type_lists = OfficialScorer.VSIBENCH

    def refusal(self, question_types: Collection[str]) -> str | None:
        reason = super().refusal(question_types)
        forms = direction_forms()
        missing = [form for form in forms if form not in question_types]
        if reason is None and forms[0] in question_types and missing:
            reason = f"{self.tool}'s aggregation pops every direction form: KeyError without {', '.join(missing)}"
        return reason

    def score(self, prediction: str, row: BenchRow, thinking: bool) -> QuestionScore:
        token = first_token(prediction)
        if self.question_kinds[row.task] is AnswerKind.MCA:
            return exact_match(token, row.answer)
        return numeric_score(to_float(token), to_float(row.answer))

    def aggregate(self, scores: Sequence[tuple[str, float]]) -> OfficialSummary:
        return thinking_in_space_aggregate(scores)
