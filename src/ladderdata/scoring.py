"""Answer extraction and per-sample scores, as small pure functions (the same ones training rewards use).

* multiple choice: exact option letter after :func:`extract_choice`;
* numbers: mean relative accuracy over thresholds 0.50, 0.55, ..., 0.95 (paper Eq. 6, with ``<=`` as in the
  official code);
* boxes: mean IoU of each ground-truth box with the predicted box of the same label.
"""

import json
import math
import re
from collections.abc import Iterator

THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
"""Confidence thresholds of mean relative accuracy: 0.50, 0.55, ..., 0.95."""

_OPEN_TAG = re.compile("<answer>", re.I)
_CLOSE_TAG = re.compile("</answer>", re.I)
_NUMBER = re.compile(r"[-+]?(?:\d+(?:[.,]\d+)?|\.\d+)(?:[eE][-+]?\d+)?")
_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
NUMBER_WORDS = {**{w: i for i, w in enumerate(_ONES)}, **{w: 20 + 10 * i for i, w in enumerate(_TENS)}}
"""The number-word table: ladder scoring reads these when an answer has no digits (compounds like ``twenty-one``
too); :mod:`ladderdata.eval.official` orders them as SpatialLadder's scorer searches them."""
_NUMBER_WORD = re.compile(rf"\b(?:({'|'.join(_TENS)})[\s-]+({'|'.join(_ONES[1:10])})|({'|'.join(NUMBER_WORDS)}))\b")


def answer_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of the content of each ``<answer>..</answer>`` pair (case-insensitive), left to right, as
    ``re.findall(r"<answer>(.*?)</answer>", re.S | re.I)`` pairs them, in linear time: the regex rescans the
    rest of the text from every unclosed ``<answer>`` (quadratic: 56 s on a 312 KB malformed answer).

    >>> [("<answer>a</answer><answer>b"[s:e]) for s, e in answer_spans("<answer>a</answer><answer>b")]
    ['a']
    """
    position = 0
    while (opening := _OPEN_TAG.search(text, position)) is not None:
        closing = _CLOSE_TAG.search(text, opening.end())
        if closing is None:
            return  # no closing tag after this opening one: none after any later one either
        yield opening.end(), closing.start()
        position = closing.end()


def extract_answer(text: str) -> str:
    """The content of the last ``<answer>..</answer>`` if there is one, else the whole text, stripped.
    Linear in the length of the text (:func:`answer_spans`).

    >>> extract_answer("<think>hmm</think><answer> B </answer>")
    'B'
    >>> extract_answer("B. sofa")
    'B. sofa'
    """
    spans = list(answer_spans(text))
    return (text[spans[-1][0] : spans[-1][1]] if spans else text).strip()


def extract_choice(text: str, letters: str = "ABCD") -> str | None:
    """The option letter a response gives, tolerant of ``A``, ``A.``, ``(A)``, ``A. chair``, ``Answer: A``.

    >>> [extract_choice(t) for t in ["(b)", "C. the lamp", "The answer is D.", "<answer>A</answer>", "none"]]
    ['B', 'C', 'D', 'A', None]
    """
    answer = extract_answer(text)
    upper = answer.upper()
    pattern = f"[{letters.upper()}]"
    for regex in (
        rf"^\(?({pattern})\)?(?:[.:)]|\s|$)",  # leading letter: "A", "(A)", "A.", "A) chair"
        rf"(?:ANSWER|OPTION|CHOICE)\s*(?:(?:IS|:)\s*)?\(?({pattern})\)?(?![A-Z])",  # "the answer is B"
        rf"(?<![A-Z])\(?({pattern})\)?\.?\s*$",  # trailing lone letter: "... so it is C."
    ):
        m = re.search(regex, upper)
        if m:
            return m.group(1)
    return None


def extract_number(text: str) -> float | None:
    """The first number in the answer (``"3.5 m"``, ``"about 2,5 meters"``, ``"1e2"``), else the first number
    word (``"three"``, ``"twenty-one"``), None if there is neither.

    >>> extract_number("<answer>about 3.5 m</answer>"), extract_number("2,5"), extract_number("n/a")
    (3.5, 2.5, None)
    >>> extract_number("Three chairs."), extract_number("twenty-one")
    (3.0, 21.0)
    """
    answer = extract_answer(text)
    m = _NUMBER.search(answer)
    if m:
        value = float(m.group(0).replace(",", "."))
        return value if math.isfinite(value) else None
    w = _NUMBER_WORD.search(answer.lower())
    if not w:
        return None
    if w.group(1):
        return float(NUMBER_WORDS[w.group(1)] + NUMBER_WORDS[w.group(2)])
    return float(NUMBER_WORDS[w.group(3)])


def mean_relative_accuracy(prediction: float | None, truth: float) -> float:
    """Fraction of thresholds θ in 0.50..0.95 with relative error ``|pred - gt| / |gt| <= 1 - θ``.

    ``<=`` as in SpatialLadder's and VSI-Bench's code (the paper's Eq. 6 prints ``<``). A ground truth of 0 has
    no relative scale: the prediction then scores 1 only when it is exactly 0. A missing prediction scores 0.

    >>> mean_relative_accuracy(9.0, 10.0)  # 10% error passes theta = 0.50 ... 0.90 (9 of 10)
    0.9
    >>> mean_relative_accuracy(0.0, 0.0), mean_relative_accuracy(0.1, 0.0), mean_relative_accuracy(None, 3.0)
    (1.0, 0.0, 0.0)
    """
    if prediction is None or not math.isfinite(prediction):
        return 0.0
    if truth == 0:
        return 1.0 if prediction == 0 else 0.0
    error = abs(prediction - truth) / abs(truth)
    # round away float noise so that e.g. a 10% error counts as exactly 0.10
    return sum(round(error, 9) <= round(1 - t, 9) for t in THRESHOLDS) / len(THRESHOLDS)


def box_iou(a: list[float], b: list[float]) -> float:
    """IoU of two ``[x1, y1, x2, y2]`` boxes (0 for degenerate ones).

    >>> box_iou([0, 0, 2, 2], [1, 1, 3, 3])
    0.14285714285714285
    """
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


#: Longest JSON list of boxes :func:`parse_boxes` reads, characters (a few boxes take a few hundred), and its
#: deepest nesting (boxes are 3 levels deep): bounds the parser's time and stack on any response.
MAX_BOXES_JSON = 100_000
MAX_BOXES_DEPTH = 8


def parse_boxes(text: str) -> list[dict[str, object]] | None:
    """The JSON list of ``{"label", "bbox_2d"}`` in a response (code fences and <answer> tags allowed); None when
    there is none, or when it is longer than :data:`MAX_BOXES_JSON` or nests deeper than :data:`MAX_BOXES_DEPTH`.
    Boxes whose four values are not finite numbers are left out."""
    body = extract_answer(text)
    fenced = re.search(r"```(?:json)?\s*(.*?)```", body, re.S)
    if fenced:
        body = fenced.group(1)
    start, end = body.find("["), body.rfind("]")
    if start < 0 or end < start or end - start >= MAX_BOXES_JSON:
        return None
    span = body[start : end + 1]
    if _nesting(span) > MAX_BOXES_DEPTH:
        return None
    try:
        data = json.loads(span)
    except (ValueError, RecursionError):  # bad JSON, integers too long to convert, nesting inside strings
        return None
    if not isinstance(data, list):
        return None
    boxes: list[dict[str, object]] = []
    for item in data:
        box = item.get("bbox_2d") if isinstance(item, dict) else None
        if isinstance(box, list) and len(box) == 4 and all(_finite_number(v) for v in box):
            boxes.append({"label": str(item.get("label", "")), "bbox_2d": [float(v) for v in box]})
    return boxes


def _nesting(text: str) -> int:
    """Deepest bracket nesting of JSON text (brackets inside strings count too: an over-estimate, in linear time)."""
    depth = deepest = 0
    for match in re.finditer(r"[\[\]{}]", text):
        depth += 1 if match.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _finite_number(value: object) -> bool:
    """A JSON number that is a finite float (not a boolean, NaN, infinity or an integer beyond float range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def boxes_score(prediction: str, truth: str) -> float:
    """Mean over ground-truth boxes of the IoU with the best predicted box of the same label (0 if none).

    >>> boxes_score('[{"label": "chair", "bbox_2d": [0, 0, 2, 2]}]', '[{"label": "chair", "bbox_2d": [0, 0, 2, 2]}]')
    1.0
    """
    expected = parse_boxes(truth) or []
    got = parse_boxes(prediction) or []
    if not expected:
        return 0.0
    scores = []
    for gt in expected:
        same = [p for p in got if p["label"] == gt["label"]]
        scores.append(max((box_iou(p["bbox_2d"], gt["bbox_2d"]) for p in same), default=0.0))  # type: ignore[arg-type]
    import numpy as np  # here: the CLI's start-up imports this module (tests/test_startup.py)

    return float(np.mean(scores))


def score(prediction: str, truth: str, answer_type: str, letters: str = "ABCD") -> float:
    """Score of one response in [0, 1] by answer type (``mcq``, ``numeric`` or ``boxes``)."""
    if answer_type == "mcq":
        return float(extract_choice(prediction, letters) == truth.strip().upper())
    if answer_type == "numeric":
        return mean_relative_accuracy(extract_number(prediction), float(truth))
    if answer_type == "boxes":
        return boxes_score(prediction, truth)
    raise ValueError(f"unknown answer type {answer_type!r}")
