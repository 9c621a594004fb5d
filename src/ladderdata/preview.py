"""Contact sheets of random samples, drawn so that a person can check a dataset or benchmark by eye.

Each sample is a card. Single images are shown large with every referenced object's 2D box and a label
plate; multi-view sets are laid out in a grid sized to the number of views; videos as evenly spaced frames
stamped with their timestamps. Below the pictures: the question (for localization, the whole prompt the model
reads), the options, and the answer with its unit, wrapped to the card's width, never cut.

Works on ``ladder build-dataset`` folders and on ``ladder build-bench`` folders (benchmark rows rename three
columns, see :data:`ladderdata.io.shards.BENCH_RENAMES`).
"""

import io
import json
import logging
import math
from collections.abc import Callable, Iterator
from enum import StrEnum
from functools import cache
from importlib.util import find_spec
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, ConfigDict, ValidationError

from ladderdata.cache import atomic_path
from ladderdata.errors import LadderError
from ladderdata.io.shards import BENCH_RENAMES
from ladderdata.layout import DatasetLayout
from ladderdata.report.boxes import frame_boxes, metadata_caches, needs_frame_boxes
from ladderdata.seeding import rng_for
from ladderdata.tasks import LOCALIZATION_TASK, AnswerType, Modality, ObjectRef, get_task
from ladderdata.tasks.route_map import ROUTE_MAP_KEY, RouteMap

log = logging.getLogger(__name__)

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


class PreviewSample(BaseModel):
    """What a card shows of one row (dataset column names; benchmark rows are renamed on reading)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    task: str
    modality: Modality
    scene_id: str
    frame_ids: list[int]
    timestamps: list[float] | None = None
    """Seconds into the scan of each frame; None when the frames layout does not say (``posed_images``)."""
    image_width: int
    image_height: int
    question: str
    options: list[str]
    answer: str
    answer_type: AnswerType
    objects: list[ObjectRef]
    prompt: str | None = None
    """The user turn's text, when the row has ``messages`` (benchmarks do not)."""
    frame_objects: list[list[ObjectRef]] | None = None
    """Multi-view and video rows: per image, the question's objects with their visible box in that image (stored
    pixels), from the per-view metadata (:func:`ladderdata.report.boxes.with_frame_boxes`); None when unknown."""
    extras: dict[str, Any] = {}
    """The row's ``extras`` (route_planning: its top-down map); empty when the row or its shard has none."""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "PreviewSample":
        fields = dict(row)
        for bench_name, dataset_name in BENCH_RENAMES.items():
            if bench_name in fields:
                fields[dataset_name] = fields.pop(bench_name)
        user = [m for m in fields.get("messages") or [] if m["role"] == "user"]
        if user:
            fields["prompt"] = "\n".join(c["text"] for c in user[-1]["content"] if c["type"] == "text")
        fields["extras"] = json.loads(fields.get("extras") or "{}")
        return cls.model_validate(fields)

    def shown_frames(self) -> list[int]:
        """Indices (into ``images``) of the frames a card shows: every view, or evenly spaced video frames."""
        n = len(self.frame_ids)
        if self.modality is Modality.VIDEO and n > VIDEO_FRAMES:
            return [int(i) for i in np.linspace(0, n - 1, VIDEO_FRAMES).round()]
        return list(range(n))


def unit_of(task: str) -> str:
    try:
        return get_task(task).unit
    except KeyError:  # a task registered by a plugin that is not installed here
        return ""


def answer_text(sample: PreviewSample) -> str:
    """The answer as a person reads it: the chosen option, a number with its unit, or labelled boxes."""
    if sample.answer_type is AnswerType.MCQ:
        return next((o for o in sample.options if o.startswith(f"{sample.answer}.")), sample.answer)
    if sample.answer_type is AnswerType.NUMERIC:
        unit = unit_of(sample.task)
        if unit == "count":
            return f"{sample.answer} (count)"
        return f"{sample.answer} {unit}".rstrip()
    try:
        boxes = json.loads(sample.answer)
        return "; ".join(f"{b['label']} [{', '.join(str(v) for v in b['bbox_2d'])}]" for b in boxes)
    except (ValueError, TypeError, KeyError):
        return sample.answer


def caption(sample: PreviewSample) -> list[tuple[str, Style]]:
    """The card's text, paragraph by paragraph (wrapping happens when drawing)."""
    n = len(sample.frame_ids)
    where = {
        Modality.SINGLE_IMAGE: f"frame {sample.frame_ids[0]}" if sample.frame_ids else "",
        Modality.MULTI_VIEW: f"{n} views",
        Modality.VIDEO: f"{len(sample.shown_frames())} of {n} frames shown",
    }[sample.modality]
    header = " · ".join(p for p in (sample.task, sample.modality.value.replace("_", " "), sample.scene_id, where) if p)
    lines = [(header, Style.HEADER)]
    lines.append((sample.question, Style.BODY))
    if sample.options:
        lines.append(("    ".join(sample.options), Style.BODY))
    if sample.task == LOCALIZATION_TASK and sample.prompt:  # what the model is asked to do with the question
        instruction = sample.prompt.removeprefix(sample.question).strip()
        lines.append((instruction, Style.INSTRUCTION))
    lines.append((f"answer: {answer_text(sample)}", Style.ANSWER))
    return lines


# ------------------------------------------------------------------------------------------------ drawing


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


def _decode(data: bytes, size: tuple[int, int]) -> Image.Image:
    """Decode at (about) ``size``: JPEG frames are downscaled while decoding, which is much faster."""
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", size)
    return image.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def _plate(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, fill: tuple[int, int, int]) -> None:
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
        _plate(draw, (min(max(x1, 0), image.width - width), top), obj.category, BOX_COLORS[k % len(BOX_COLORS)])


#: Draws what a task needs beyond boxes (a route, arrows) on one image of a card: ``(image, sample, index into
#: the row's images, scale from stored pixels to the drawn image)``.
Overlay = Callable[[Image.Image, PreviewSample, int, float], None]
#: Task name -> its overlay (:func:`register_overlay`); tasks without one get their objects' boxes only.
OVERLAYS: dict[str, Overlay] = {}


def register_overlay(task: str) -> Callable[[Overlay], Overlay]:
    """Decorator: draw ``task``'s cards' extra marks (e.g. the route of a route-planning question) with this."""

    def wrap(fn: Overlay) -> Overlay:
        OVERLAYS[task] = fn
        return fn

    return wrap


def _pictures(sample: PreviewSample, images: list[bytes], width: int) -> Image.Image:
    """The single image with its boxes, or a grid of the frames shown, ``width`` pixels wide."""
    aspect = sample.image_height / sample.image_width
    if sample.modality is Modality.SINGLE_IMAGE:
        size = (width, round(width * aspect))
        picture = _decode(images[0], size)
        draw_boxes(picture, sample.objects, width / sample.image_width)
        if sample.task in OVERLAYS:
            OVERLAYS[sample.task](picture, sample, 0, width / sample.image_width)
        return picture
    shown = sample.shown_frames()
    cols = min(GRID_COLUMNS, len(shown))
    cell_w = (width - (cols - 1) * 4) // cols
    cell_h = round(cell_w * aspect)
    grid = Image.new("RGB", (width, math.ceil(len(shown) / cols) * (cell_h + 4) - 4), "white")
    draw = ImageDraw.Draw(grid)
    for k, index in enumerate(shown):
        x, y = (k % cols) * (cell_w + 4), (k // cols) * (cell_h + 4)
        cell = _decode(images[index], (cell_w, cell_h))
        if sample.frame_objects is not None:  # the question's objects where this frame shows them
            draw_boxes(cell, sample.frame_objects[index], cell_w / sample.image_width)
        if sample.task in OVERLAYS:
            OVERLAYS[sample.task](cell, sample, index, cell_w / sample.image_width)
        grid.paste(cell, (x, y))
        if sample.modality is Modality.VIDEO and sample.timestamps is not None:
            label = f"{sample.timestamps[index]:.2f} s"
        elif sample.modality is Modality.VIDEO:
            label = f"frame {sample.frame_ids[index]}"
        else:
            label = f"view {index + 1} · frame {sample.frame_ids[index]}"
        _plate(draw, (x + 4, y + 4), label, (30, 30, 30))
    return grid


MAP_HEIGHT = 420
"""Most pixels a route map is tall (a long, narrow room is drawn to the card's width, less tall)."""
MAP_MARGIN = 16
FREE_COLOR = (250, 250, 244)
OUTSIDE_COLOR = (205, 205, 200)
OBSTACLE_COLOR = (150, 150, 150)
PATH_COLOR = ANSWER_COLOR
"""The path is the answer's route; no other mark of the map has this colour (lines and polygons are not
anti-aliased)."""
PATH_WIDTH = 4


class MapView:
    """The affine map from metres (x right, y up, seen from above) to the pixels of a route map image
    ``width`` pixels wide, fitting ``bounds`` (x0, y0, x1, y1) with :data:`MAP_MARGIN` around it."""

    def __init__(self, bounds: tuple[float, float, float, float], width: int) -> None:
        x0, y0, x1, y1 = bounds
        span_x, span_y = max(x1 - x0, 1e-6), max(y1 - y0, 1e-6)
        self.scale = min((width - 2 * MAP_MARGIN) / span_x, (MAP_HEIGHT - 2 * MAP_MARGIN) / span_y)
        """Pixels per metre."""
        self.size = (width, math.ceil(span_y * self.scale) + 2 * MAP_MARGIN)
        self.left = (width - span_x * self.scale) / 2 - x0 * self.scale
        self.top = MAP_MARGIN + y1 * self.scale

    def px(self, points: list[tuple[float, float]] | list[list[float]]) -> list[tuple[float, float]]:
        """Pixel (x, y) of each point (metres)."""
        return [(self.left + x * self.scale, self.top - y * self.scale) for x, y in points]


def _arrow(draw: ImageDraw.ImageDraw, tail: tuple[float, float], tip: tuple[float, float], size: float) -> None:
    """A filled arrow head at ``tip``, pointing away from ``tail``."""
    dx, dy = tip[0] - tail[0], tip[1] - tail[1]
    length = math.hypot(dx, dy)
    if length == 0:
        return
    ux, uy = dx / length, dy / length
    back = (tip[0] - ux * size, tip[1] - uy * size)
    wing = (-uy * size * 0.5, ux * size * 0.5)
    draw.polygon([tip, (back[0] + wing[0], back[1] + wing[1]), (back[0] - wing[0], back[1] - wing[1])], fill=PATH_COLOR)


def route_map_view(route: RouteMap, width: int) -> tuple[Image.Image, MapView]:
    """A route-planning row's room from above, to scale: free space (light) in the unwalkable rest (grey), the
    other obstacles' footprints, the question's objects' footprints in their box colours (the colours of the
    row's ``objects`` on the frames) with their labels, the path with a dot at its start and an arrow head on
    each leg and at its end, and a 1 m scale bar. Returns the image and its :class:`MapView`."""
    points = [p for polygon in route.free for p in polygon] + list(route.path)
    points += [p for o in route.objects for p in o.footprint]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    view = MapView((min(xs), min(ys), max(xs), max(ys)), width)
    image = Image.new("RGB", view.size, OUTSIDE_COLOR)
    draw = ImageDraw.Draw(image)
    for polygon in route.free:
        draw.polygon(view.px(polygon), fill=FREE_COLOR)
    for polygon in route.holes:
        draw.polygon(view.px(polygon), fill=OUTSIDE_COLOR)
    for polygon in route.obstacles:
        draw.polygon(view.px(polygon), fill=OBSTACLE_COLOR)
    for k, obj in enumerate(route.objects):
        draw.polygon(view.px(obj.footprint), fill=BOX_COLORS[k % len(BOX_COLORS)], outline=(0, 0, 0))
    path = view.px(route.path)
    draw.line(path, fill=PATH_COLOR, width=PATH_WIDTH, joint="curve")
    for a, b in pairwise(path):
        _arrow(draw, a, ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2), 12)
    _arrow(draw, path[-2], path[-1], 14)
    draw.ellipse((path[0][0] - 7, path[0][1] - 7, path[0][0] + 7, path[0][1] + 7), fill=PATH_COLOR)
    for k, obj in enumerate(route.objects):  # labels last, so that no path crosses them
        corners = view.px(obj.footprint)
        label = f"{obj.label} ({obj.role})"
        plate_width = font(16, bold=True).getlength(label) + 8
        right, left = max(c[0] for c in corners) + 4, min(c[0] for c in corners) - 4 - plate_width
        x = right if right + plate_width <= image.width or left < 0 else left  # beside the footprint, not on it
        y = min(max(min(c[1] for c in corners), 0), image.height - line_height(font(16, bold=True)))
        _plate(draw, (x, y), label, BOX_COLORS[k % len(BOX_COLORS)])
    bar = view.px([(0.0, 0.0), (1.0, 0.0)])
    bar_length = bar[1][0] - bar[0][0]
    y = image.height - 10
    draw.line([(8, y), (8 + bar_length, y)], fill=TEXT_COLOR, width=3)
    draw.text((12 + bar_length, y - 16), "1 m", font=font(14), fill=TEXT_COLOR)
    return image, view


def route_map_image(sample: PreviewSample, width: int) -> Image.Image | None:
    """The top-down map of a route-planning row (:func:`route_map_view`); None for rows without one (other
    tasks, shards written before rows stored their map)."""
    stored = sample.extras.get(ROUTE_MAP_KEY)
    if stored is None:
        return None
    return route_map_view(RouteMap.model_validate(stored), width)[0]


def render_card(sample: PreviewSample, images: list[bytes], width: int) -> Image.Image:
    """One sample: pictures on top (a route-planning row's top-down map under them), text below, the card as
    tall as both need."""
    pictures = _pictures(sample, images, width - 2 * PAD)
    room_map = route_map_image(sample, width - 2 * PAD)
    if room_map is not None:
        stacked = Image.new("RGB", (pictures.width, pictures.height + 4 + room_map.height), "white")
        stacked.paste(pictures, (0, 0))
        stacked.paste(room_map, (0, pictures.height + 4))
        pictures = stacked
    fonts = {
        Style.HEADER: font(15),
        Style.BODY: font(18),
        Style.INSTRUCTION: font(16),
        Style.ANSWER: font(19, bold=True),
    }
    colors = {
        Style.HEADER: HEADER_COLOR,
        Style.BODY: TEXT_COLOR,
        Style.INSTRUCTION: INSTRUCTION_COLOR,
        Style.ANSWER: ANSWER_COLOR,
    }
    text: list[tuple[str, Style]] = [
        (line, style) for paragraph, style in caption(sample) for line in wrap(paragraph, fonts[style], width - 2 * PAD)
    ]
    height = PAD + pictures.height + 8 + sum(line_height(fonts[s]) + (4 if s is not Style.BODY else 0) for _, s in text)
    card = Image.new("RGB", (width, height + PAD), "white")
    card.paste(pictures, (PAD, PAD))
    draw = ImageDraw.Draw(card)
    y = PAD + pictures.height + 8
    for line, style in text:
        if style is Style.ANSWER:
            y += 4
        draw.text((PAD, y), line, font=fonts[style], fill=colors[style])
        y += line_height(fonts[style]) + (4 if style is Style.HEADER else 0)
    return card


def _rows_of_cards(samples: list[PreviewSample]) -> Iterator[list[int]]:
    """Indices of the cards on each row of the sheet: two single images side by side, the others alone."""
    pending: list[int] = []
    for i, sample in enumerate(samples):
        if sample.modality is not Modality.SINGLE_IMAGE:
            if pending:
                yield pending
                pending = []
            yield [i]
            continue
        pending.append(i)
        if len(pending) == SHEET_COLUMNS:
            yield pending
            pending = []
    if pending:
        yield pending


def render_sheet(title: str, samples: list[PreviewSample], images: list[list[bytes]]) -> Image.Image:
    """Cards in rows (single images first, then multi-view sets, then videos) under a title."""
    order = sorted(range(len(samples)), key=lambda i: list(Modality).index(samples[i].modality))
    samples, images = [samples[i] for i in order], [images[i] for i in order]
    wide = SHEET_COLUMNS * CARD_WIDTH + (SHEET_COLUMNS - 1) * GAP
    rows: list[list[Image.Image]] = []
    for members in _rows_of_cards(samples):
        width = CARD_WIDTH if samples[members[0]].modality is Modality.SINGLE_IMAGE else wide
        rows.append([render_card(samples[i], images[i], width) for i in members])
    title_font = font(24, bold=True)
    top = GAP + line_height(title_font) + GAP
    sheet = Image.new(
        "RGB", (wide + 2 * GAP, top + sum(max(c.height for c in row) + GAP for row in rows)), SHEET_BACKGROUND
    )
    ImageDraw.Draw(sheet).text((GAP, GAP), title, font=title_font, fill=TEXT_COLOR)
    y = top
    for row in rows:
        for k, card in enumerate(row):
            sheet.paste(card, (GAP + k * (CARD_WIDTH + GAP), y))
        y += max(c.height for c in row) + GAP
    return sheet


# ---------------------------------------------------------------------------------------------- reading


def find_datasets(path: Path) -> list[Path]:
    """``path`` itself when it holds ``data/``, else its sub-folders that do (``build-bench`` writes one per
    benchmark)."""
    if not path.is_dir():
        raise LadderError(f"{path} is not a folder (give a folder written by `ladder build-dataset` or `build-bench`)")
    if (path / "data").is_dir():
        return [path]
    found = sorted(p for p in path.iterdir() if (p / "data").is_dir())
    if not found:
        raise LadderError(
            f"no dataset in {path}: expected {path}/data/<subset>/*.parquet (from `ladder build-dataset`) "
            "or benchmark folders (from `ladder build-bench`)"
        )
    return found


def _column(table: pa.Table, dataset_name: str) -> list[str]:
    bench_name = next((b for b, d in BENCH_RENAMES.items() if d == dataset_name), dataset_name)
    name = dataset_name if dataset_name in table.column_names else bench_name
    return [str(v) for v in table.column(name).to_pylist()]


def row_keys(files: list[Path]) -> list[tuple[str, str]]:
    """(task, scene) of every row of ``files``, in order, reading only those two columns."""
    keys: list[tuple[str, str]] = []
    for f in files:
        schema = pq.read_schema(f)
        columns = [c for c in ("task", "question_type", "scene_id", "scene_name") if c in schema.names]
        table = pq.read_table(f, columns=columns)
        keys += zip(_column(table, "task"), _column(table, "scene_id"), strict=True)
    return keys


def pick_rows(
    keys: list[tuple[str, str]],
    subset: str,
    seed: int,
    samples: int,
    tasks: list[str] | None = None,
    scenes: list[str] | None = None,
) -> dict[str, list[int]]:
    """Task -> up to ``samples`` random row numbers of that task (among ``tasks`` and ``scenes`` when given),
    sorted; drawn by ``rng_for(seed, "preview", subset, task)``: one seed, one choice."""
    by_task: dict[str, list[int]] = {}
    for i, (task, scene) in enumerate(keys):
        if (tasks is None or task in tasks) and (scenes is None or scene in scenes):
            by_task.setdefault(task, []).append(i)
    picks = {}
    for task, rows in sorted(by_task.items()):
        rng = rng_for(seed, "preview", subset, task)
        picks[task] = sorted(rows[int(i)] for i in rng.choice(len(rows), size=min(samples, len(rows)), replace=False))
    return picks


def read_rows(
    files: list[Path], picks: list[int], caches: list[Path] | None = None
) -> tuple[list[PreviewSample], list[list[bytes]]]:
    """Rows ``picks`` (row numbers over ``files`` in order) and their image bytes, reading only the row groups
    that hold them; multi-view and video rows get their objects' per-frame boxes from the per-view metadata
    ``caches`` when one holds their frames."""
    counts = [pq.ParquetFile(f).metadata.num_rows for f in files]
    starts = np.cumsum([0, *counts])
    out: list[PreviewSample] = []
    images: list[list[bytes]] = []
    for pick in picks:
        f = int(np.searchsorted(starts, pick, side="right")) - 1
        parquet = pq.ParquetFile(files[f])
        local = pick - int(starts[f])
        group = 0
        while local >= parquet.metadata.row_group(group).num_rows:
            local -= parquet.metadata.row_group(group).num_rows
            group += 1
        row = parquet.read_row_group(group).slice(local, 1).to_pylist()[0]
        try:
            sample = PreviewSample.from_row(row)
        except ValidationError as e:
            fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in e.errors())
            raise LadderError(f"{files[f]}: not a ladder dataset or benchmark shard (bad: {fields})") from None
        if caches and needs_frame_boxes(sample.modality):
            boxes = frame_boxes(sample.scene_id, sample.frame_ids, sample.objects, sample.image_width, caches)
            sample = sample.model_copy(update={"frame_objects": boxes})
        out.append(sample)
        images.append([im["bytes"] for im in row["images"]])
    return out, images


def render_preview(
    dataset_dir: Path,
    out_dir: Path | None = None,
    samples: int = 12,
    seed: int = 0,
    tasks: list[str] | None = None,
    scenes: list[str] | None = None,
    metadata_cache: list[Path] | None = None,
) -> list[Path]:
    """One PNG sheet per task of each subset (per benchmark) with up to ``samples`` random rows of that task, of
    ``tasks`` and ``scenes`` only when given; returns the files written (``<task>.png``).

    ``dataset_dir`` is a ``build-dataset`` folder or a ``build-bench`` output folder. Sheets go to each
    dataset's ``preview/`` folder, or to ``out_dir`` (one sub-folder per dataset when there are several).
    Multi-view and video cards draw the question's objects on every frame when the build's per-view metadata
    is found (``metadata_cache``, else the dataset's own cache or its parent's). Raises :class:`LadderError`
    when there is nothing to preview.
    """
    datasets = find_datasets(dataset_dir)
    written: list[Path] = []
    for ds in datasets:
        if out_dir is None:
            target = DatasetLayout(ds).preview_dir
        else:
            target = out_dir / ds.name if len(datasets) > 1 else out_dir
        caches = metadata_caches(ds, metadata_cache)
        for subset_dir in sorted(p for p in (ds / "data").iterdir() if p.is_dir()):
            files = sorted(subset_dir.glob("*.parquet"))
            keys = row_keys(files)
            picks = pick_rows(keys, subset_dir.name, seed, samples, tasks, scenes)
            if not keys:
                log.warning("%s has no rows; no sheet for it", subset_dir)
            for task, rows in picks.items():
                picked, images = read_rows(files, rows, caches)
                total = sum(1 for t, _ in keys if t == task)
                name = ds.name if subset_dir.name == ds.name else f"{ds.name} / {subset_dir.name}"
                title = f"{name} / {task}: {len(picked)} of {total} samples (seed {seed})"
                path = target / f"{task}.png"
                with atomic_path(path) as tmp:
                    # sheets are looked at, not archived: zlib level 1 encodes 3x faster than the default 6 (the
                    # slowest step of a preview) for files about 25% larger
                    render_sheet(title, picked, images).save(tmp, format="PNG", compress_level=1)
                written.append(path)
    if not written:
        wanted = " and ".join(
            part
            for part in (
                f"task {', '.join(tasks)}" if tasks else "",
                f"scene {', '.join(scenes)}" if scenes else "",
            )
            if part
        )
        raise LadderError(
            f"nothing to preview in {dataset_dir}: " + (f"no row of {wanted}" if wanted else "its shards hold no rows")
        )
    return written
