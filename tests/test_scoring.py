"""Golden tests for answer extraction and scoring (values computed by hand)."""

import doctest

import pytest

from ladderdata import scoring
from ladderdata.scoring import (
    box_iou,
    boxes_score,
    extract_choice,
    extract_number,
    mean_relative_accuracy,
    score,
)


def test_docstring_examples() -> None:
    assert doctest.testmod(scoring).failed == 0


@pytest.mark.parametrize(
    ("pred", "gt", "expected"),
    [
        (10.0, 10.0, 1.0),
        (9.0, 10.0, 0.9),  # error 0.10 <= 1 - theta for theta = 0.50 .. 0.90
        (12.4, 10.0, 0.6),  # error 0.24 passes 0.50 .. 0.75
        (7.0, 10.0, 0.5),  # error 0.30 passes 0.50 .. 0.70 (equal to 1 - 0.70 counts)
        (5.0, 10.0, 0.1),  # error 0.50 equals 1 - 0.50: passes theta = 0.50 only
        (4.0, 5.0, 0.7),  # error 0.20 passes 0.50 .. 0.80: compared at 9 decimals, not float noise
        (4.9, 10.0, 0.0),  # error 0.51
        (15.0, 10.0, 0.1),
        (-10.0, 10.0, 0.0),
        (0.0, 0.0, 1.0),  # gt = 0: only an exact 0 scores, never a division by zero
        (0.01, 0.0, 0.0),
        (None, 3.0, 0.0),
        (float("nan"), 3.0, 0.0),
    ],
)
def test_mean_relative_accuracy(pred: float | None, gt: float, expected: float) -> None:
    assert mean_relative_accuracy(pred, gt) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.5 m", 3.5),
        ("<answer>3.5 m</answer>", 3.5),
        ("<think>maybe 2 or 3</think><answer>4</answer>", 4.0),
        ("<answer>1</answer> wait <answer>2.25</answer>", 2.25),  # the last answer tag counts
        ("<answer>4", 4.0),  # unclosed tag: the text itself is read
        ("about 2,5 meters", 2.5),
        ("-0.5", -0.5),
        (".75", 0.75),
        ("no idea", None),
        ("", None),
        ("three", 3.0),  # number words when there is no digit
        ("<answer>Twenty-one chairs</answer>", 21.0),
        ("ninety nine", 99.0),
        ("zero", 0.0),
        ("none of them", None),  # "one" inside a word is no number
        ("a chair", None),
        ("3 or four", 3.0),  # digits first
    ],
)
def test_extract_number(text: str, expected: float | None) -> None:
    assert extract_number(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A", "A"),
        ("A.", "A"),
        ("(b)", "B"),
        ("C. the lamp", "C"),
        ("D) sofa", "D"),
        ("Answer: c", "C"),
        ("The answer is B.", "B"),
        ("<think>A or B?</think><answer>(C) lamp</answer>", "C"),
        ("<answer>E</answer>", None),  # not one of the options
        ("", None),
        ("I cannot tell", None),
    ],
)
def test_extract_choice(text: str, expected: str | None) -> None:
    assert extract_choice(text, "ABCD") == expected


def test_box_scores() -> None:
    assert box_iou([0, 0, 2, 2], [0, 0, 2, 2]) == 1.0
    assert box_iou([0, 0, 1, 1], [2, 2, 3, 3]) == 0.0
    assert box_iou([0, 0, 2, 2], [1, 0, 3, 2]) == pytest.approx(2 / 6)
    assert box_iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0
    truth = '[{"label": "chair", "bbox_2d": [0, 0, 2, 2]}, {"label": "lamp", "bbox_2d": [10, 10, 12, 12]}]'
    pred = '```json\n[{"label": "chair", "bbox_2d": [1, 0, 3, 2]}, {"label": "sofa", "bbox_2d": [10, 10, 12, 12]}]\n```'
    assert boxes_score(pred, truth) == pytest.approx((2 / 6 + 0) / 2)
    assert boxes_score("not json", truth) == 0.0
    assert boxes_score('[{"label": "chair", "bbox_2d": [1, 2]}]', truth) == 0.0


def test_score_dispatch() -> None:
    assert score("<answer>B</answer>", "B", "mcq") == 1.0
    assert score("B", "C", "mcq") == 0.0
    assert score("9", "10", "numeric") == pytest.approx(0.9)
    with pytest.raises(ValueError, match="answer type"):
        score("x", "y", "essay")
