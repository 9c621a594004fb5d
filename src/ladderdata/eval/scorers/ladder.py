"""``ladder``: lenient extraction (:mod:`ladderdata.scoring`, the functions laddertrain's rewards use). It
scores every question type by its answer type, and a question without a prediction scores 0."""

from collections import defaultdict

from ladderdata.eval.official import QuestionScore
from ladderdata.eval.scorers.base import BenchmarkSummary, SampleScore, Scorer, pct, register_scorer, task_order
from ladderdata.io.dataset import BenchRow
from ladderdata.prompts import LETTERS
from ladderdata.scoring import score


@register_scorer
class LadderScorer(Scorer):
    name = "ladder"
    description = "lenient extraction, the same functions as laddertrain's rewards"
    tool = "ladder"
    sources = ()
    scores_missing = True

    def score(self, prediction: str, row: BenchRow, thinking: bool) -> QuestionScore:
        letters = LETTERS[: max(len(row.options), 1)]
        return QuestionScore(score(prediction, row.answer, row.answer_type, letters))

    def summary(self, rows: list[SampleScore]) -> BenchmarkSummary:
        """Mean per task; NQ, MCQ and overall are means over tasks (paper Tables 11-12)."""
        by_task: dict[str, list[SampleScore]] = defaultdict(list)
        for s in rows:
            by_task[s.question_type].append(s)
        order = task_order(by_task)
        tasks = {t: sum(s.scores[self.name] or 0.0 for s in by_task[t]) / len(by_task[t]) for t in order}
        kinds = {t: by_task[t][0].answer_type for t in order}
        numeric = [v for t, v in tasks.items() if kinds[t] == "numeric"]
        mcq = [v for t, v in tasks.items() if kinds[t] == "mcq"]
        return BenchmarkSummary(
            tasks={t: pct(v) for t, v in tasks.items()},
            counts={t: len(by_task[t]) for t in order},
            nq_avg=pct(sum(numeric) / len(numeric)) if numeric else None,
            mcq_avg=pct(sum(mcq) / len(mcq)) if mcq else None,
            avg=pct(sum(tasks.values()) / len(tasks)),
            questions=len(rows),
            scored=len(rows),
            missing_predictions=sum(s.missing for s in rows),
            errors=[],
            notes=[],
        )
