"""``ladder preview``: sheets for datasets and benchmarks, boxes where ``bbox_2d`` says, units, clear errors."""

import io
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from fixtures.factories import BuiltDataset, scannet
from fixtures.listed import write_listed_shard
from ladderdata.bench.build import BenchBuildConfig, build_benchmarks
from ladderdata.cli import app
from ladderdata.errors import LadderError
from ladderdata.io.dataset import BenchRow, DatasetReader, Row
from ladderdata.layout import FramesLayout
from ladderdata.preview import (
    ANSWER_COLOR,
    BOX_COLORS,
    CARD_WIDTH,
    GAP,
    SHEET_BACKGROUND,
    TEXT_COLOR,
    PreviewSample,
    answer_text,
    caption,
    font,
    render_card,
    render_preview,
    wrap,
)

runner = CliRunner()

#: What each numeric question asks for, read from its wording ("in meters", "in centimeters", ...).
UNITS = {
    "object_abs_distance": " m",
    "object_size_estimation": " cm",
    "room_size_estimation": " m²",
    "object_counting": " (count)",
}


def row(**changes: Any) -> dict[str, Any]:
    """A dataset row as ``build-dataset`` writes it (without images), one referenced object."""
    base: dict[str, Any] = {
        "id": "question-1",
        "source": "scannet",
        "task": "object_size_estimation",
        "modality": "single_image",
        "scene_id": "scene0000_00",
        "frame_ids": [3],
        "timestamps": [0.1],
        "image_width": 1296,
        "image_height": 968,
        "question": "What is the length of the longest dimension of the chair, measured in centimeters?",
        "options": [],
        "answer": "89",
        "answer_type": "numeric",
        "objects": [
            {"object_id": 1, "category": "chair", "role": "object", "visibility": 1.0, "bbox_2d": [300, 200, 900, 700]}
        ],
    }
    return base | changes


def sample_of(fields: dict[str, Any]) -> PreviewSample:
    """The card of a dataset row with ``fields``, read as the preview reads rows."""
    return PreviewSample.of(Row.model_validate(fields | {"subset": "spatial"}))


@dataclass
class Card:
    """A card found on a sheet: its bounding box (left, top, right, bottom) and pixels."""

    box: tuple[int, int, int, int]
    pixels: np.ndarray

    def shows(self, colour: tuple[int, int, int]) -> bool:
        return bool((self.pixels == colour).all(axis=2).any())


def read_sheet(path: Path) -> tuple[np.ndarray, list[Card]]:
    """A sheet's pixels and its cards: the regions of more than 200x200 pixels that are not the grey background
    (title glyphs are far smaller), in reading order."""
    from scipy import ndimage

    sheet = np.asarray(Image.open(path).convert("RGB")).astype(int)
    labels, _ = ndimage.label((sheet != SHEET_BACKGROUND).any(axis=2))
    cards = []
    for rows, cols in ndimage.find_objects(labels):
        if rows.stop - rows.start > 200 and cols.stop - cols.start > 200:
            cards.append(Card((cols.start, rows.start, cols.stop, rows.stop), sheet[rows, cols]))
    return sheet, sorted(cards, key=lambda c: (c.box[1], c.box[0]))


def shows_title(sheet: np.ndarray, cards: list[Card], title: str) -> bool:
    """Whether the strip above the first card is exactly ``title`` drawn in the sheet's title font."""
    top = cards[0].box[1]
    expected = Image.new("RGB", (sheet.shape[1], top), SHEET_BACKGROUND)
    ImageDraw.Draw(expected).text((GAP, GAP), title, font=font(24, bold=True), fill=TEXT_COLOR)
    return bool((np.asarray(expected).astype(int) == sheet[:top]).all())


def check_cards(cards: list[Card]) -> None:
    """Every card has its answer line (the answer colour); single-image cards (one column wide) their boxes."""
    assert all(card.shows(ANSWER_COLOR) for card in cards)
    singles = [card for card in cards if card.box[2] - card.box[0] == CARD_WIDTH]
    assert all(card.shows(BOX_COLORS[0]) for card in singles)


def test_dataset_preview_writes_one_sheet_per_task(built_dataset: BuiltDataset, tmp_path: Path) -> None:
    written = render_preview(built_dataset.out, tmp_path / "a", samples=6)
    counts = json.loads((built_dataset.out / "stats.json").read_text())["counts"]
    per_task = {
        (subset, task): sum(per_modality.values())
        for subset, tasks in counts.items()
        for task, per_modality in tasks.items()
    }
    assert sorted(p.stem for p in written) == sorted(task for _, task in per_task)
    assert not [p for p in (tmp_path / "a").iterdir() if p.suffix != ".png"]  # no temporary file left behind
    for (subset, task), total in per_task.items():
        sheet, cards = read_sheet(tmp_path / "a" / f"{task}.png")
        assert len(cards) == min(6, total)  # one card per sample asked for
        title = f"dataset / {subset} / {task}: {min(6, total)} of {total} samples (seed 0)"
        assert shows_title(sheet, cards, title)
        assert not shows_title(sheet, cards, title.replace(f"of {total} ", f"of {total + 1} "))
        check_cards(cards)
        # localization is single images only: every card is one column wide, with its boxes
        if subset == "localization":
            assert {card.box[2] - card.box[0] for card in cards} == {CARD_WIDTH}
    other = render_preview(built_dataset.out, tmp_path / "b", samples=6, seed=1)
    assert [p.read_bytes() for p in other] != [p.read_bytes() for p in written]  # another seed, other samples
    [only] = render_preview(built_dataset.out, tmp_path / "c", samples=2, tasks=["object_counting"])
    assert only.name == "object_counting.png" and len(read_sheet(only)[1]) == 2
    with pytest.raises(LadderError, match="no row of task object_counting and scene nowhere"):
        render_preview(built_dataset.out, tmp_path / "d", tasks=["object_counting"], scenes=["nowhere"])


def test_benchmark_folder_preview_writes_a_sheet_per_task(synthetic_root: Path, tmp_path: Path) -> None:
    split = tmp_path / "val.txt"
    split.write_text("scene0000_00\n")
    bench = tmp_path / "bench"
    benchmarks = ["spbench-si", "spbench-mv", "vsi-video"]
    build_benchmarks(
        BenchBuildConfig(
            source=scannet(synthetic_root), out=bench, benchmarks=benchmarks, split=str(split), frame_stride=1
        )
    )
    result = runner.invoke(app, ["preview", str(bench), "--samples", "4", "--task", "object_abs_distance"])
    assert result.exit_code == 0, result.output
    for name in ("spbench-si", "spbench-mv", "vsi-video"):
        files = sorted((bench / name / "data").rglob("*.parquet"))
        tasks = [t for f in files for t in pq.read_table(f, columns=["question_type"]).column(0).to_pylist()]
        total = tasks.count("object_abs_distance")
        sheets = list((bench / name / "preview").glob("*.png"))
        assert [p.name for p in sheets] == (["object_abs_distance.png"] if total else [])
        if not total:
            continue
        sheet, cards = read_sheet(sheets[0])
        assert len(cards) == min(4, total)
        assert shows_title(sheet, cards, f"{name} / object_abs_distance: {min(4, total)} of {total} samples (seed 0)")
        check_cards(cards)
        # spbench-si is single images, the other two multi-view sets and videos, which span the sheet
        widths = {card.box[2] - card.box[0] for card in cards}
        assert widths == ({CARD_WIDTH} if name == "spbench-si" else {2 * CARD_WIDTH + GAP})
        if name != "spbench-si":  # the question's objects boxed on the frames (from the benchmarks' metadata cache)
            assert any(card.shows(BOX_COLORS[0]) for card in cards)


def write_one_row_dataset(root: Path, image: Image.Image, fields: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    record = fields | {"images": [{"bytes": buffer.getvalue(), "path": None}]}
    write_listed_shard(root, [record], "spatial", benchmark=False, name="train-00000-of-00001.parquet")


def test_drawn_box_lies_where_bbox_2d_says(tmp_path: Path) -> None:
    fill = (40, 120, 160)  # a colour nothing else on the sheet has
    x1, y1, x2, y2 = 300, 200, 900, 700
    write_one_row_dataset(tmp_path / "ds", Image.new("RGB", (1296, 968), fill), row())
    [path] = render_preview(tmp_path / "ds")
    sheet = np.asarray(Image.open(path).convert("RGB")).astype(int)
    # where the picture landed: the extent of its colour (the box covers only its inside)
    ys, xs = np.nonzero((sheet == fill).all(axis=2))
    left, top, scale = xs.min(), ys.min(), (xs.max() - xs.min() + 1) / 1296
    assert abs((ys.max() - ys.min() + 1) / 968 - scale) < 0.01  # aspect kept

    def box_colour_near(x: float, y: float) -> bool:
        """The box colour within 2 px of the sheet point of picture pixel (x, y)."""
        cx, cy = round(left + x * scale), round(top + y * scale)
        patch = sheet[cy - 2 : cy + 3, cx - 2 : cx + 3]
        return bool((patch == BOX_COLORS[0]).all(axis=2).any())

    edge = [(x, y1) for x in np.linspace(x1, x2, 20)] + [(x, y2) for x in np.linspace(x1, x2, 20)]
    edge += [(x1, y) for y in np.linspace(y1, y2, 20)] + [(x2, y) for y in np.linspace(y1, y2, 20)]
    assert all(box_colour_near(x, y) for x, y in edge)
    inside = [(x, y) for x in np.linspace(x1 + 40, x2 - 40, 10) for y in np.linspace(y1 + 40, y2 - 40, 10)]
    outside = [(x1 - 40, (y1 + y2) / 2), (x2 + 40, (y1 + y2) / 2), ((x1 + x2) / 2, y2 + 40)]
    assert not any(box_colour_near(x, y) for x, y in inside + outside)


def test_numeric_answers_carry_their_unit() -> None:
    samples = {
        "object_abs_distance": ("1.4", "1.4 m"),
        "object_size_estimation": ("89", "89 cm"),
        "room_size_estimation": ("23.5", "23.5 m²"),
        "object_counting": ("3", "3 (count)"),
    }
    for task, (answer, shown) in samples.items():
        sample = sample_of(row(task=task, answer=answer))
        assert answer_text(sample) == shown
        assert f"answer: {shown}" in [text for text, _ in caption(sample)]


def test_every_numeric_row_of_a_dataset_shows_a_unit(built_dataset: BuiltDataset) -> None:
    rows = DatasetReader(built_dataset.out).rows(subsets=["spatial"])
    numeric = [PreviewSample.of(r) for r in rows if r.answer_type == "numeric"]
    assert {s.task for s in numeric} == set(UNITS)
    for sample in numeric:
        assert answer_text(sample) == sample.answer + UNITS[sample.task]


def test_choices_boxes_and_benchmark_rows_read_as_text() -> None:
    mcq = sample_of(row(answer_type="mcq", options=["A. sofa", "B. chair"], answer="B"))
    assert answer_text(mcq) == "B. chair"
    boxes = json.dumps([{"label": "chair", "bbox_2d": [0, 620, 456, 968]}, {"label": "table", "bbox_2d": [1, 2, 3, 4]}])
    loc = sample_of(row(task="object_localization", answer_type="boxes", answer=boxes))
    assert answer_text(loc) == "chair [0, 620, 456, 968]; table [1, 2, 3, 4]"
    bench = BenchRow.model_validate(row() | {"benchmark": "spbench-si", "subset": "spbench-si"})
    assert answer_text(PreviewSample.of(bench)) == "89 cm"


def test_localization_cards_show_the_prompt_the_model_reads() -> None:
    question = "Measuring from the closest point of each object, which is closer to the door?"
    instruction = "Then provide the 2D bounding box coordinates and labels of the related objects in JSON format."
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "You are a helpful assistant."}]},
        {
            "role": "user",
            "content": [{"type": "image", "text": None}, {"type": "text", "text": question + "\n" + instruction}],
        },
    ]
    sample = sample_of(
        row(task="object_localization", answer_type="boxes", question=question, messages=messages, answer="[]")
    )
    texts = [text for text, _ in caption(sample)]
    assert question in texts and instruction in texts


def test_long_text_wraps_and_nothing_is_cut() -> None:
    f = font(18)
    text = "answer: " + "; ".join(f"object{k} [0, 620, 456, 968]" for k in range(30)) + " " + "x" * 400
    lines = wrap(text, f, 300)
    assert len(lines) > 10
    assert all(f.getlength(line) <= 300 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_video_cards_show_evenly_spaced_frames_first_and_last_included() -> None:
    sample = sample_of(row(modality="video", frame_ids=list(range(0, 32, 2)), timestamps=[k / 15 for k in range(16)]))
    shown = sample.shown_frames()
    gaps = np.diff(shown)
    assert len(shown) == 8 and shown[0] == 0 and shown[-1] == 15 and gaps.max() - gaps.min() <= 1


@pytest.mark.parametrize("layout", list(FramesLayout))
def test_every_frames_layouts_shards_are_previewed(
    built_alone: Callable[[str, FramesLayout], Path], layout: FramesLayout, tmp_path: Path
) -> None:
    dataset = built_alone("scene0000_00", layout)
    sheets = render_preview(dataset, tmp_path / "sheets", samples=4)
    assert sheets and all(Image.open(p).size[0] > 0 for p in sheets)


def test_rows_without_timestamps_are_previewed_with_frame_numbers() -> None:
    """``posed_images`` subsamples do not say when their frames were taken: their rows' timestamps are null (the
    preview refused them as "bad: timestamps"); video cards then label frames by number."""
    sample = sample_of(row(modality="video", frame_ids=[0, 30, 60], timestamps=None))
    assert sample.timestamps is None
    jpeg = io.BytesIO()
    Image.new("RGB", (1296, 968), "grey").save(jpeg, format="JPEG")
    card = render_card(sample, [jpeg.getvalue()] * 3, CARD_WIDTH)
    assert card.size[0] == CARD_WIDTH


def run_ladder(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed command as a user runs it (errors become one line and an exit status)."""
    code = f"import sys; from ladderdata.cli import entrypoint; sys.argv = ['ladder', *{list(args)!r}]; entrypoint()"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


@pytest.mark.parametrize("layout", ["empty", "no-rows"])
def test_nothing_to_preview_is_a_clear_error(tmp_path: Path, layout: str) -> None:
    if layout == "no-rows":  # a build whose manifest lists no shard
        (tmp_path / "manifest.json").write_text(json.dumps({"benchmark": False, "shards": []}))
    result = run_ladder("preview", str(tmp_path))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert ("no ladder dataset or benchmark in" if layout == "empty" else "nothing to preview") in result.stderr
