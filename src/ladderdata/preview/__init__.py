"""Contact sheets of random samples, drawn so that a person can check a dataset or benchmark by eye.

Each sample is a card (:mod:`ladderdata.preview.cards`). Single images are shown large with every referenced
object's 2D box and a label plate; multi-view sets are laid out in a grid sized to the number of views; videos as
evenly spaced frames stamped with their timestamps. Below the pictures: the question (for localization, the whole
prompt the model reads), the options, and the answer with its unit, wrapped to the card's width, never cut.

Works on ``ladder build-dataset`` folders and on ``ladder build-bench`` folders, whose rows it reads with
:mod:`ladderdata.io.dataset` (the shards their manifests list, under one vocabulary).
"""

import logging
from pathlib import Path

from ladderdata.cache import atomic_path
from ladderdata.errors import LadderError
from ladderdata.io.dataset import BenchReader, DatasetReader, RowKey, open_builds
from ladderdata.layout import DatasetLayout
from ladderdata.preview.boxes import frame_boxes, metadata_caches, needs_frame_boxes
from ladderdata.preview.cards import (
    OVERLAYS,
    Overlay,
    PreviewSample,
    answer_text,
    caption,
    register_overlay,
    render_card,
    render_sheet,
    route_map_image,
)
from ladderdata.preview.draw import (
    ANSWER_COLOR,
    BOX_COLORS,
    CARD_WIDTH,
    GAP,
    PAD,
    SHEET_BACKGROUND,
    SHEET_COLUMNS,
    TEXT_COLOR,
    font,
    wrap,
)
from ladderdata.preview.route_map import MAP_MARGIN, PATH_COLOR, MapView, route_map_view
from ladderdata.seeding import rng_for

__all__ = [
    "ANSWER_COLOR",
    "BOX_COLORS",
    "CARD_WIDTH",
    "GAP",
    "MAP_MARGIN",
    "OVERLAYS",
    "PAD",
    "PATH_COLOR",
    "SHEET_BACKGROUND",
    "SHEET_COLUMNS",
    "TEXT_COLOR",
    "MapView",
    "Overlay",
    "PreviewSample",
    "answer_text",
    "caption",
    "font",
    "pick_rows",
    "read_cards",
    "register_overlay",
    "render_card",
    "render_preview",
    "render_sheet",
    "route_map_image",
    "route_map_view",
    "wrap",
]

log = logging.getLogger(__name__)


def pick_rows(
    keys: list[RowKey],
    subset: str,
    seed: int,
    samples: int,
    tasks: list[str] | None = None,
    scenes: list[str] | None = None,
) -> dict[str, list[int]]:
    """Task -> up to ``samples`` random row numbers of that task (among ``tasks`` and ``scenes`` when given),
    sorted; drawn by ``rng_for(seed, "preview", subset, task)``: one seed, one choice."""
    by_task: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if (tasks is None or key.task in tasks) and (scenes is None or key.scene_id in scenes):
            by_task.setdefault(key.task, []).append(i)
    picks = {}
    for task, rows in sorted(by_task.items()):
        rng = rng_for(seed, "preview", subset, task)
        picks[task] = sorted(rows[int(i)] for i in rng.choice(len(rows), size=min(samples, len(rows)), replace=False))
    return picks


def read_cards(
    reader: DatasetReader | BenchReader, subset: str, picks: list[int], caches: list[Path] | None = None
) -> tuple[list[PreviewSample], list[list[bytes]]]:
    """Rows ``picks`` of ``subset`` as cards, with their image bytes; multi-view and video rows get their objects'
    per-frame boxes from the per-view metadata ``caches`` when one holds their frames."""
    out: list[PreviewSample] = []
    images: list[list[bytes]] = []
    for row in reader.rows_at(subset, picks, with_images=True):
        sample = PreviewSample.of(row)
        if caches and needs_frame_boxes(sample.modality):
            boxes = frame_boxes(sample.scene_id, sample.frame_ids, sample.objects, sample.image_width, caches)
            sample = sample.model_copy(update={"frame_objects": boxes})
        out.append(sample)
        images.append(row.images or [])
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
    readers = open_builds(dataset_dir)
    written: list[Path] = []
    for reader in readers:
        (ds,) = reader.folders
        if out_dir is None:
            target = DatasetLayout(ds).preview_dir
        else:
            target = out_dir / ds.name if len(readers) > 1 else out_dir
        caches = metadata_caches(ds, metadata_cache)
        for subset in reader.subsets:
            keys = reader.keys(subset)
            picks = pick_rows(keys, subset, seed, samples, tasks, scenes)
            if not keys:
                log.warning("%s has no rows; no sheet for it", DatasetLayout(ds).subset_dir(subset))
            for task, rows in picks.items():
                picked, images = read_cards(reader, subset, rows, caches)
                total = sum(1 for key in keys if key.task == task)
                name = ds.name if subset == ds.name else f"{ds.name} / {subset}"
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
