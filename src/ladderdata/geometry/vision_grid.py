"""The pixel grid Qwen2.5-VL's image processor resizes an image to, and boxes moved onto it.

Qwen2.5-VL answers localization questions in absolute pixels of the image *as the processor resized it*, so a
box target is right only on that grid. Shards keep boxes in stored-image pixels (``answer``) and give the
grid at the paper's pixel budget (:data:`MIN_PIXELS` .. :data:`MAX_PIXELS`) beside them (``resized_width``,
``resized_height``, and the boxes of the ``messages`` column); laddertrain rescales with its own budget.
"""

import json
import math

PATCH_FACTOR = 28
"""Qwen2.5-VL: patch 14 x spatial merge 2; resized sides are multiples of this."""
MIN_PIXELS = 12_544
"""Paper Tables 7-8: min_pixels (16 x 28 x 28)."""
MAX_PIXELS = 100_352
"""Paper Tables 7-8: max_pixels (128 x 28 x 28)."""


def resized_size(
    width: int, height: int, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS
) -> tuple[int, int]:
    """(width, height) the Qwen2-VL image processor resizes an image to: sides rounded to multiples of 28,
    area brought within [min_pixels, max_pixels] keeping the aspect ratio (its ``smart_resize``; the tests
    check this against the processor's own output).

    >>> resized_size(1296, 968)
    (364, 252)
    """
    f = PATCH_FACTOR
    h, w = round(height / f) * f, round(width / f) * f
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h, w = max(f, math.floor(height / beta / f) * f), max(f, math.floor(width / beta / f) * f)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h, w = math.ceil(height * beta / f) * f, math.ceil(width * beta / f) * f
    return w, h


def visual_tokens(width: int, height: int, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS) -> int:
    """Tokens one image of ``width`` x ``height`` becomes in the language model (one per 28 x 28 cell).

    >>> visual_tokens(1296, 968)
    117
    """
    w, h = resized_size(width, height, min_pixels, max_pixels)
    return (w // PATCH_FACTOR) * (h // PATCH_FACTOR)


def rescale_boxes(
    answer: str, width: int, height: int, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS
) -> str:
    """A localization answer (JSON, stored-image pixels) in the resized image's pixels, as JSON (once)."""
    new_w, new_h = resized_size(width, height, min_pixels, max_pixels)
    sx, sy = new_w / width, new_h / height
    boxes = json.loads(answer)
    for box in boxes:
        x1, y1, x2, y2 = box["bbox_2d"]
        box["bbox_2d"] = [round(x1 * sx), round(y1 * sy), round(x2 * sx), round(y2 * sy)]
    return json.dumps(boxes)
