"""Contact sheets of random samples (boxes and answers drawn) so a person can check a dataset by eye."""

import io
import json
import textwrap
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

from ladderdata.cache import atomic_path
from ladderdata.layout import DatasetLayout

TILE = 384
COLORS = [(230, 60, 60), (60, 170, 60), (60, 90, 230), (230, 160, 30)]


def _tile(row: dict[str, object]) -> Image.Image:
    images = row["images"]
    assert isinstance(images, list)
    frames = [Image.open(io.BytesIO(img["bytes"])).convert("RGB") for img in images[:4]]
    strip = Image.new("RGB", (TILE, TILE), "white")
    w = TILE // len(frames)
    bottom = 0
    for k, frame in enumerate(frames):
        scale = w / frame.width
        thumb = frame.resize((w, max(1, round(frame.height * scale))))
        if row["answer_type"] == "boxes":
            draw = ImageDraw.Draw(thumb)
            for j, box in enumerate(json.loads(str(row["answer"]))):
                x1, y1, x2, y2 = (v * scale for v in box["bbox_2d"])
                draw.rectangle((x1, y1, x2, y2), outline=COLORS[j % len(COLORS)], width=2)
                draw.text((x1 + 2, y1 + 2), box["label"], fill=COLORS[j % len(COLORS)])
        strip.paste(thumb, (k * w, 0))
        bottom = max(bottom, thumb.height)
    draw = ImageDraw.Draw(strip)
    options = row["options"]
    assert isinstance(options, list)
    text = f"[{row['task']} / {row['modality']} / {len(images)} img] {row['question']} {' '.join(options)}"
    lines = [*textwrap.wrap(text, 64)[:8], f"answer: {str(row['answer'])[:120]}"]
    draw.multiline_text((4, bottom + 4), "\n".join(lines), fill="black")
    return strip


def render_preview(dataset_dir: Path, out_dir: Path | None = None, samples: int = 12, seed: int = 0) -> list[Path]:
    """One PNG sheet per subset with ``samples`` random rows; returns the files written."""
    layout = DatasetLayout(dataset_dir)
    out_dir = out_dir or layout.preview_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for subset_dir in sorted((dataset_dir / "data").glob("*")):
        table = pq.read_table(sorted(subset_dir.glob("*.parquet")))
        if table.num_rows == 0:
            continue
        rng = np.random.default_rng(seed)
        picks = sorted(rng.choice(table.num_rows, size=min(samples, table.num_rows), replace=False).tolist())
        rows = table.take(picks).to_pylist()
        cols = 4
        sheet = Image.new("RGB", (cols * TILE, -(-len(rows) // cols) * TILE), "white")
        for i, row in enumerate(rows):
            sheet.paste(_tile(row), ((i % cols) * TILE, (i // cols) * TILE))
        path = out_dir / f"{subset_dir.name}.png"
        with atomic_path(path) as tmp:
            sheet.save(tmp, format="PNG")
        written.append(path)
    return written
