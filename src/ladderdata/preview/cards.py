"""A preview card per row and the sheet of cards: pictures (single images large with their objects' boxes,
multi-view sets in a grid, videos as evenly spaced frames stamped with their timestamps; a route-planning row's
top-down map under them), then the question, the options and the answer with its unit, wrapped, never cut."""

import json
import math
from collections.abc import Callable, Iterator

import numpy as np
from PIL import Image, ImageDraw
from pydantic import BaseModel, ConfigDict, JsonValue

from ladderdata.io.dataset import Row, StoredRow
from ladderdata.preview.draw import (
    ANSWER_COLOR,
    CARD_WIDTH,
    GAP,
    GRID_COLUMNS,
    HEADER_COLOR,
    INSTRUCTION_COLOR,
    PAD,
    SHEET_BACKGROUND,
    SHEET_COLUMNS,
    TEXT_COLOR,
    VIDEO_FRAMES,
    Style,
    decode_frame,
    draw_boxes,
    font,
    line_height,
    plate,
    wrap,
)
from ladderdata.preview.route_map import route_map_view
from ladderdata.tasks import LOCALIZATION_TASK, AnswerType, Modality, ObjectRef, get_task
from ladderdata.tasks.route_map import ROUTE_MAP_KEY, RouteMap


class PreviewSample(BaseModel):
    """What a card shows of one row (:meth:`of` a dataset or benchmark row)."""

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
    pixels), from the per-view metadata (:func:`ladderdata.preview.boxes.with_frame_boxes`); None when unknown."""
    extras: dict[str, JsonValue] = {}
    """The row's ``extras`` (route_planning: its top-down map); empty when the row or its shard has none."""

    @classmethod
    def of(cls, row: StoredRow) -> "PreviewSample":
        """The card's view of a row read by :mod:`ladderdata.io.dataset` (the prompt of a dataset row's
        ``messages``)."""
        fields = row.model_dump(exclude={"images", "messages"})
        return cls.model_validate(fields | {"prompt": row.prompt if isinstance(row, Row) else None})

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
        picture = decode_frame(images[0], size)
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
        cell = decode_frame(images[index], (cell_w, cell_h))
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
        plate(draw, (x + 4, y + 4), label, (30, 30, 30))
    return grid


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
