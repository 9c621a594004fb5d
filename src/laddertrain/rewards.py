"""Verifiable rewards for GRPO (paper Eq. 5-8), as small pure functions.

Each has TRL's reward-function signature: ``completions`` (strings, or chat turns whose last content is the
text) plus the dataset's extra columns as keyword arguments, returning one float per completion.
Accuracy uses the same scorers as ``ladder eval`` (:mod:`ladderdata.scoring`).
"""

import re
from typing import Any

from ladderdata.scoring import extract_answer, score

FORMAT = re.compile(
    r"^\s*<think>(?:(?!</?think>|</?answer>).)*</think>\s*<answer>(?:(?!</?answer>|</?think>).)*</answer>\s*$", re.S
)


def completion_text(completion: Any) -> str:
    """The text of a completion given as a string or as chat turns.

    >>> completion_text([{"role": "assistant", "content": "hi"}]), completion_text("hi")
    ('hi', 'hi')
    """
    if isinstance(completion, str):
        return completion
    last = completion[-1]["content"]
    if isinstance(last, list):  # content blocks
        return "".join(block.get("text") or "" for block in last)
    return str(last)


def format_reward(completions: list[Any], **_: Any) -> list[float]:
    """1 when the completion is exactly one ``<think>..</think>`` then one ``<answer>..</answer>``, else 0.

    >>> format_reward(["<think>a</think><answer>B</answer>", "<answer>B</answer>", "<think>a<answer>B</answer>"])
    [1.0, 0.0, 0.0]
    """
    return [1.0 if FORMAT.match(completion_text(c)) else 0.0 for c in completions]


def accuracy_reward(completions: list[Any], answer: list[str], answer_type: list[str], **_: Any) -> list[float]:
    """Exact letter for multiple choice, mean relative accuracy for numbers, IoU for boxes; reads the
    ``<answer>`` content when present.

    >>> accuracy_reward(["<think>.</think><answer>B</answer>", "<answer>9</answer>"], ["B", "10"], ["mcq", "numeric"])
    [1.0, 0.9]
    """
    return [score(completion_text(c), gt, kind) for c, gt, kind in zip(completions, answer, answer_type, strict=True)]


def answer_text(completion: Any) -> str:
    """The answer part of a completion (``<answer>`` content, else the whole text)."""
    return extract_answer(completion_text(completion))


REWARDS = {"format": format_reward, "accuracy": accuracy_reward}
"""Reward functions by the names recipes use."""
