"""Drawing primitives of the preview cards: fonts, word wrap, frame decoding, label plates and 2D boxes."""

import io
from enum import StrEnum
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ladderdata.tasks import ObjectRef

CARD_WIDTH = 640
"""Width of a single-image card; multi-view and video cards span two."""
SHEET_COLUMNS = 2
GAP = 14
PAD = 12
GRID_COLUMNS = 4
"""Frames per row in a multi-view or video card (8 views: 4x2)."""
VIDEO_FRAMES = 8
"""Evenly spaced frames shown of a video (first and last included)."""
BOX_COLORS = [(255, 40, 40), (0, 140, 255), (255, 170, 0), (200, 60, 255), (0, 200, 180), (255, 60, 190)]
"""Saturated colours that stand out from indoor scenes (no greens: plants are green)."""
SHEET_BACKGROUND = (228, 228, 228)
HEADER_COLOR = (110, 110, 110)
INSTRUCTION_COLOR = (70, 70, 150)
TEXT_COLOR = (20, 20, 20)
ANSWER_COLOR = (0, 100, 40)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


class Style(StrEnum):
    HEADER = "header"
    BODY = "body"
    INSTRUCTION = "instruction"
    ANSWER = "answer"


@cache
def font(size: int, bold: bool = False) -> Font:
    """Roboto, which open3d (a dependency) ships and which has the glyphs units need (m², ·);
    Pillow's default font otherwise."""
    spec = find_spec("open3d")
    folders = (spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / "resources" / ("Roboto-Bold.ttf" if bold else "Roboto-Medium.ttf")
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def line_height(f: Font) -> int:
    return int(f.getbbox("Ag|²")[3]) + 6


def wrap(text: str, f: Font, width: int) -> list[str]:
    """Greedy word wrap to ``width`` pixels; words wider than a line are split; newlines are kept."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if f.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while f.getlength(word) > width:
                cut = max(1, next(k for k in range(len(word), 0, -1) if f.getlength(word[:k]) <= width))
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def decode_frame(data: bytes, size: tuple[int, int]) -> Image.Image:
    """Decode at (about) ``size``: JPEG frames are downscaled while decoding, which is much faster."""
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", size)
    return image.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def plate(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, fill: tuple[int, int, int]) -> None:
    """A label on a filled plate, in black or white, whichever contrasts with ``fill``."""
    f = font(16, bold=True)
    x, y = xy
    right, bottom = x + f.getlength(text) + 8, y + line_height(f)
    draw.rectangle((x, y, right, bottom), fill=fill)
    luminance = 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2]
    draw.text((x + 4, y + 2), text, font=f, fill=(0, 0, 0) if luminance > 150 else (255, 255, 255))


def draw_boxes(image: Image.Image, objects: list[ObjectRef], scale: float) -> None:
    """Each object's ``bbox_2d`` (pixels of the stored image, scaled by ``scale``) with its category on a
    plate above the box (inside it when the box touches the top edge)."""
    draw = ImageDraw.Draw(image)
    plate_height = line_height(font(16, bold=True))
    # colours by position in ``objects``, so that an object keeps its colour on every frame of a set
    boxed = [(k, o) for k, o in enumerate(objects) if o.bbox_2d is not None]
    for k, obj in boxed:
        assert obj.bbox_2d is not None
        color = BOX_COLORS[k % len(BOX_COLORS)]
        x1, y1, x2, y2 = (v * scale for v in obj.bbox_2d)
        # a box reaching the image's edge ends on its last pixel, so that the edge stays visible (a sliver on the
        # edge, rounded past it, is a line there)
        x2, y2 = min(x2, image.width - 1), min(y2, image.height - 1)
        draw.rectangle((min(x1, x2), min(y1, y2), x2, y2), outline=color, width=3)
    for k, obj in boxed:  # plates last, so that no box crosses a label
        assert obj.bbox_2d is not None
        x1, y1 = obj.bbox_2d[0] * scale, obj.bbox_2d[1] * scale
        top = y1 - plate_height if y1 >= plate_height else y1 + 3
        width = font(16, bold=True).getlength(obj.category) + 8
        plate(draw, (min(max(x1, 0), image.width - width), top), obj.category, BOX_COLORS[k % len(BOX_COLORS)])


#: Draws what a task needs beyond boxes (a route, arrows) on one image of a card: ``(image, sample, index into
#: the row's images, scale from stored pixels to the drawn image)``.
