"""Golden tests for the GRPO rewards (paper Eq. 5-8)."""

import doctest

import pytest

from laddertrain import rewards
from laddertrain.rewards import accuracy_reward, format_reward


def test_docstring_examples() -> None:
    assert doctest.testmod(rewards).failed == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>let me think</think><answer>B</answer>", 1.0),
        ("  <think>a\nb</think>\n<answer>3.5</answer>\n", 1.0),
        ("<answer>B</answer>", 0.0),  # no reasoning
        ("<think>a</think>", 0.0),  # no answer
        ("<think>a</think><answer>B", 0.0),  # unclosed
        ("<think>a</think><answer>B</answer><answer>C</answer>", 0.0),  # two answers
        ("<think>a<think>b</think></think><answer>B</answer>", 0.0),  # nested
        ("So: <think>a</think><answer>B</answer>", 0.0),  # text outside the tags
        ("<answer>B</answer><think>a</think>", 0.0),  # wrong order
        ("", 0.0),
    ],
)
def test_format_reward(text: str, expected: float) -> None:
    assert format_reward([text]) == [expected]


@pytest.mark.parametrize(
    ("text", "gt", "kind", "expected"),
    [
        ("<think>.</think><answer>B</answer>", "B", "mcq", 1.0),
        ("<think>.</think><answer>B. lamp</answer>", "B", "mcq", 1.0),
        ("<think>.</think><answer>C</answer>", "B", "mcq", 0.0),
        ("<think>.</think><answer>3.5 m</answer>", "3.5", "numeric", 1.0),
        ("<think>.</think><answer>3.15 meters</answer>", "3.5", "numeric", 0.9),  # error 0.10 <= 1 - 0.90
        ("<think>.</think><answer>0</answer>", "0", "numeric", 1.0),  # gt = 0 is safe
        ("<think>.</think><answer>0.2</answer>", "0", "numeric", 0.0),
        ("<think>.</think><answer>none</answer>", "2", "numeric", 0.0),
        ("<answer>4", "4", "numeric", 1.0),  # malformed tags: the text is still read
        (
            '<answer>[{"label": "chair", "bbox_2d": [0, 0, 10, 10]}]</answer>',
            '[{"label": "chair", "bbox_2d": [0, 0, 10, 10]}]',
            "boxes",
            1.0,
        ),
    ],
)
def test_accuracy_reward(text: str, gt: str, kind: str, expected: float) -> None:
    assert accuracy_reward([text], [gt], [kind]) == [pytest.approx(expected)]


def test_rewards_accept_chat_completions() -> None:
    completion = [{"role": "assistant", "content": "<think>x</think><answer>A</answer>"}]
    assert format_reward([completion]) == [1.0]
    assert accuracy_reward([completion], ["A"], ["mcq"]) == [1.0]
