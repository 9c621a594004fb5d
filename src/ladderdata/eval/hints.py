"""Perception hints of the paper's Appendix A, drawn on benchmark images.

``boxes``: a coloured box (with its label) around every object the question names. ``arrows``: the boxes
plus an arrow from the reference object's box centre to the queried object's (``object2`` -> ``object1`` in
camera-centric direction questions; the first named object -> the others elsewhere), which shows the
relation being asked about. Hints need the objects' 2D boxes, which single-image questions carry.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:  # PIL is imported where images are drawn: `ladder --help` imports Hint (tests/test_startup.py)
    from PIL import Image, ImageDraw

COLORS = [(230, 40, 40), (40, 160, 40), (40, 80, 230), (230, 150, 20)]


class HintObject(TypedDict):
    """What hints read of a benchmark row's object (its ``objects`` entries carry more)."""

    category: str
    role: str
    """``object1``, ``object2``, ... as the question names them."""
    bbox_2d: list[float] | None
    """The visible 2D box (x0, y0, x1, y1) in the stored image's pixels; None when the row has none."""


class Hint(StrEnum):
    NONE = "none"
    BOXES = "boxes"
    ARROWS = "arrows"


def _centre(box: list[float]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _arrow(
    draw: ImageDraw.ImageDraw, start: tuple[float, float], end: tuple[float, float], color: tuple[int, ...]
) -> None:
    draw.line([start, end], fill=color, width=4)
    angle = math.atan2(end[1] - start[1], end[0] - start[0])
    for side in (-0.45, 0.45):
        tip = (end[0] - 18 * math.cos(angle + side), end[1] - 18 * math.sin(angle + side))
        draw.line([end, tip], fill=color, width=4)


def draw_hints(image: Image.Image, objects: Sequence[HintObject], hint: Hint) -> Image.Image:
    """A copy of ``image`` with the hints drawn (objects: the benchmark row's ``objects``)."""
    if hint is Hint.NONE:
        return image
    from PIL import ImageDraw

    boxed = [(o["category"], o["role"], box) for o in objects if (box := o.get("bbox_2d"))]
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    for k, (category, _, box) in enumerate(boxed):
        color = COLORS[k % len(COLORS)]
        draw.rectangle(box, outline=color, width=4)
        draw.text((box[0] + 4, box[1] + 4), category, fill=color)
    if hint is Hint.ARROWS and len(boxed) >= 2:
        box_of = {role: box for _, role, box in boxed}
        if "object1" in box_of and "object2" in box_of:
            pairs = [(box_of["object2"], box_of["object1"])]
        else:
            pairs = [(boxed[0][2], other[2]) for other in boxed[1:]]
        for source, target in pairs:
            _arrow(draw, _centre(source), _centre(target), (255, 220, 0))
    return out


def hinted_images(row: dict[str, Any], hint: Hint) -> list[Image.Image]:
    """The row's images (embedded bytes or decoded), with hints drawn on single images."""
    from PIL import Image

    images = [
        img.convert("RGB") if isinstance(img, Image.Image) else Image.open(io.BytesIO(img["bytes"])).convert("RGB")
        for img in row["images"]
    ]
    if hint is Hint.NONE or len(images) != 1:
        return images
    return [draw_hints(images[0], row["objects"], hint)]
