"""``lmms-eval``: the current lmms-eval ``vsibench`` task, run from its command line. Since commit eab6655a
(2026-07) a number is ``extract_number``'s: the first number anywhere, signed (``-?\\d+(\\.\\d+)?``), or a run of
number words (``twenty-eight``, ``three hundred and twenty-one``) when one starts first; the command line's
default ``--reasoning_tags`` remove ``<think>..</think>`` and ``<analysis>..</analysis>`` blocks (and strip the
text) before scoring. Multiple choice is still the first space-separated token."""

import re
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
from ladderdata.scoring import NUMBER_WORDS
from ladderdata.tasks import OfficialScorer

REPOSITORY = "EvolvingLMMs-Lab/lmms-eval"
COMMIT = "75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3"
REASONING_TAGS = (("<think>", "</think>"), ("<analysis>", "</analysis>"))
"""``lmms_eval/__main__.py``'s default ``--reasoning_tags``."""
_WORDS = {**NUMBER_WORDS, "hundred": 100, "thousand": 1000}
"""Its ``_NUMBER_WORDS``: zero .. nineteen, the tens, hundred and thousand."""
_DIGITS = re.compile(r"-?\d+(?:\.\d+)?")
_LETTERS = re.compile(r"[a-z]+")


def strip_reasoning_tags(text: str, tag_pairs: Sequence[tuple[str, str]] = REASONING_TAGS) -> str:
    """``lmms_eval/api/reasoning.py``'s ``strip_reasoning_tags``: per tag pair, every block from an opening tag to
    the first closing tag after it is removed (an unclosed one stays); then, when a closing tag is left without
    an opening one (a chat template that pre-fills ``<think>``), only the text after the last closing tag is
    kept; the result is stripped.

    Theirs searches the whole text again after each removal; this does one pass (linear time), which differs
    only where a removal joins the text around it into a new tag (``<thi<think>x</think>nk>``).

    >>> strip_reasoning_tags("<think>2 or 3?</think> 3"), strip_reasoning_tags("so 2</think>3")
    ('3', '3')
    """
    result = text
    for start_tag, end_tag in tag_pairs:
        kept: list[str] = []
        position = 0
        while (start := result.find(start_tag, position)) >= 0 and (end := result.find(end_tag, start)) >= 0:
            kept.append(result[position:start])
            position = end + len(end_tag)
        result = "".join(kept) + result[position:]
        if end_tag in result and start_tag not in result:
            result = result.rsplit(end_tag, 1)[-1]
    return result.strip()


def _number_word_run(s: str) -> tuple[int | None, list[str]]:
    """Where the first run of number words in ``s`` starts (None: no number word) and its words, ``and``
    inside the run skipped."""
    run_start: int | None = None
    run: list[str] = []
    for m in _LETTERS.finditer(s):
        word = m.group(0)
        if word in _WORDS:
            run_start = m.start() if run_start is None else run_start
            run.append(word)
        elif run_start is not None and word != "and":
            break
    return run_start, run


def _number_words_value(run: list[str]) -> float:
    """The value of a run of number words: ``hundred`` multiplies, ``thousand`` closes a group."""
    total = current = 0
    for word in run:
        value = _WORDS[word]
        if value == 100:
            current = max(current, 1) * 100
        elif value == 1000:
            total += max(current, 1) * 1000
            current = 0
        else:
            current += value
    return float(total + current)


def lmms_eval_number(text: str) -> float | None:
    """Its ``extract_number``: in the stripped, lower-cased text, the first signed decimal unless a run of number
    words starts before it (``and`` inside a run is skipped; ``hundred`` multiplies, ``thousand`` closes a group).

    >>> [lmms_eval_number(t) for t in ["(3)", "The answer is 122", "twenty-eight", "-2.5 m", "one apple, room 2"]]
    [3.0, 122.0, 28.0, -2.5, 1.0]
    >>> lmms_eval_number("three hundred and twenty-one"), lmms_eval_number("someone"), lmms_eval_number("")
    (321.0, None, None)
    """
    s = text.strip().lower()
    digits = _DIGITS.search(s)
    run_start, run = _number_word_run(s)
    if digits is not None and (run_start is None or digits.start() < run_start):
        return float(digits.group(0))
    if run_start is None:
        return None
    return _number_words_value(run)


def lmms_eval_aggregate(scores: Sequence[tuple[str, float]]) -> OfficialSummary:
    """Its ``_compute_all_subscores``: mean per type, the three direction forms popped into
    ``object_rel_direction_accuracy`` (a benchmark without one is refused, :meth:`LmmsEvalScorer.refusal`),
    ``overall`` = mean over the entries; each reported value rounded to 6 decimals."""
    kinds = question_kinds(LmmsEvalScorer.type_lists)
    metrics = per_type_means(scores, kinds)
    notes = []
    all_forms = direction_forms()
    forms = [metrics.pop(key) for form in all_forms if (key := f"{form}_{ACCURACY}") in metrics]
    if len(forms) < len(all_forms):
        notes.append("a direction form has no scored question: lmms-eval's aggregation raises KeyError here")
    metrics[f"{DIRECTION_TYPE}_{ACCURACY}"] = sum(forms) / 3.0
    summary = summary_of(metrics, notes, kinds)
    summary.metrics = {key: round(value, 6) for key, value in metrics.items()}
    summary.overall = None if summary.overall is None else round(summary.overall, 6)
    return summary


@register_scorer
class LmmsEvalScorer(OfficialMode):
    name = "lmms-eval"
    description = "current lmms-eval (extract_number: first number anywhere, number words, signs; think tags removed)"
    tool = "lmms-eval's vsibench task"
    sources = (
        Source(
            REPOSITORY,
            "lmms_eval/tasks/vsibench/utils.py",
            COMMIT,
            (
                "fuzzy_matching",
                "exact_match",
                "extract_number",
                "to_float",
                "mean_relative_accuracy",
                "vsibench_process_results",
                "_compute_all_subscores",
            ),
        ),
        Source(REPOSITORY, "lmms_eval/api/reasoning.py", COMMIT, ("strip_reasoning_tags",)),
        Source(REPOSITORY, "lmms_eval/__main__.py", COMMIT, ("--reasoning_tags",)),
    )
    type_lists = OfficialScorer.VSIBENCH

    def refusal(self, question_types: Collection[str]) -> str | None:
        reason = super().refusal(question_types)
        missing = [form for form in direction_forms() if form not in question_types]
        if reason is None and missing:
            reason = f"{self.tool}'s aggregation pops every direction form: KeyError without {', '.join(missing)}"
        return reason

    def score(self, prediction: str, row: BenchRow, thinking: bool) -> QuestionScore:
        text = strip_reasoning_tags(prediction)
        if self.question_kinds[row.task] is AnswerKind.MCA:
            return exact_match(first_token(text), row.answer)
        return numeric_score(lmms_eval_number(text), to_float(row.answer))

    def aggregate(self, scores: Sequence[tuple[str, float]]) -> OfficialSummary:
        return lmms_eval_aggregate(scores)
