"""``ladder export``: a built benchmark in the layout, file names, fields and media the official evaluators read.

* ``spatialladder`` (SpatialLadder's ``eval_spld``): an image benchmark becomes ``<NAME>.parquet`` whose
  ``images`` column lists file names under ``images/<scene_name>/`` (``SPBench-SI.parquet``, ``SPBench-MV.parquet``
  for ours); a video benchmark becomes VSI-Bench's layout, which it reads for VSI-Bench.
* ``vsibench`` (VSI-Bench on the Hub, read by lmms-eval's ``vsibench`` task and by SpatialLadder): video
  benchmarks only, ``test-00000-of-00001.parquet`` plus one mp4 per scan at ``<dataset>/<scene_name>.mp4``, with
  ``dataset`` the scan's source (``scannet``), and only VSI-Bench's question types.

Videos hold a benchmark's frames of the scan, one video frame each, at ``fps`` (frame k at k / fps seconds);
``export.json`` states the fps and, per video, the frame ids with their times in the scan and in the video.
Every file is written under a temporary name and renamed; a rerun rewrites only what changed and removes files
a previous export left that the benchmark no longer has.
"""

import hashlib
import io
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image
from pydantic import BaseModel, Field

from ladderdata.cache import atomic_path
from ladderdata.errors import ConfigError
from ladderdata.eval.official import DIRECTION_FORMS, MCA_TYPES, NA_TYPES, SPATIALLADDER_MCA_TYPES
from ladderdata.eval.report import bench_files, load_bench
from ladderdata.layout import check_name, is_safe_name

log = logging.getLogger(__name__)

SPATIALLADDER_NAMES = {"spbench-si": "SPBench-SI", "spbench-mv": "SPBench-MV"}
"""Benchmark -> the name SpatialLadder's evaluator gives its parquet (``<NAME>.parquet``)."""
VIDEO_PARQUET = "test-00000-of-00001.parquet"
"""VSI-Bench's file name, read by lmms-eval (through ``datasets``) and SpatialLadder."""
IMAGES_DIR = "images"
MANIFEST = "export.json"
VIDEO_FOURCC = "mp4v"
"""MPEG-4 Part 2: the mp4 encoder opencv-python-headless ships; FFmpeg-based readers (decord, PyAV) decode it."""

_TEXT = pa.string()
COMMON_FIELDS = [
    ("id", _TEXT),
    ("dataset", _TEXT),
    ("scene_name", _TEXT),
    ("question_type", _TEXT),
    ("question", _TEXT),
    ("options", pa.list_(_TEXT)),
    ("ground_truth", _TEXT),
]
"""The fields the evaluators read, VSI-Bench's names (``options`` is null for numeric answers, as there)."""
EXTRA_FIELDS = [
    ("benchmark", _TEXT),
    ("modality", _TEXT),
    ("answer_type", _TEXT),
    ("frame_ids", pa.list_(pa.int64())),
]
"""Ours, after theirs (the evaluators ignore them)."""


NEEDED_FIELDS = ("source", "scene_name", "modality", "frame_ids", "timestamps")
"""Benchmark columns an export needs besides those ``ladder eval`` reads."""


class ExportFormat(StrEnum):
    SPATIALLADDER = "spatialladder"
    VSIBENCH = "vsibench"


class ExportedVideo(BaseModel):
    path: str
    """Relative to the export folder: ``<dataset>/<scene_name>.mp4``."""
    fps: float
    frame_ids: list[int]
    scan_timestamps: list[float]
    """Seconds in the scan's stream of each video frame."""
    video_timestamps: list[float]
    """Seconds in the video of each frame (k / fps)."""
    width: int
    height: int


class ExportedBenchmark(BaseModel):
    """``export.json``: what was exported where (and the keys that let a rerun skip unchanged files)."""

    format: ExportFormat
    benchmark: str
    parquet: str
    rows: int
    question_types: dict[str, int]
    fps: float | None
    """Videos' frame rate (None when the benchmark has no videos)."""
    images: list[str] = Field(default_factory=list)
    videos: list[ExportedVideo] = Field(default_factory=list)
    keys: dict[str, str] = Field(default_factory=dict)
    """Relative path -> sha256 of what the file was written from."""


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` then rename to ``path`` (:func:`ladderdata.cache.atomic_path`, keeping the extension the
    video encoder picks its format by): no partial file is ever left under the final name."""
    with atomic_path(path, keep_suffix=True) as tmp:
        write(tmp)


def _bytes_writer(data: bytes) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    return write


def encode_mp4(path: Path, frames_rgb: list[np.ndarray], fps: float) -> tuple[int, int]:
    """Encode (H, W, 3) uint8 RGB frames as an mp4 at ``fps`` (``path`` must end in ``.mp4``); returns
    (width, height). Frames are cropped to even sizes (the encoder needs them); other sizes are resized."""
    shape = frames_rgb[0].shape[:2]
    height, width = shape[0] - shape[0] % 2, shape[1] - shape[1] % 2
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*VIDEO_FOURCC), fps, (width, height))
    if not writer.isOpened():
        raise ConfigError(f"opencv cannot write {VIDEO_FOURCC} mp4 files here ({path})")
    try:
        for rgb in frames_rgb:
            frame = rgb[:height, :width] if rgb.shape[:2] == shape else cv2.resize(rgb, (width, height))
            writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return width, height


def _image_bytes(image: dict[str, Any]) -> bytes:
    data = image.get("bytes")
    if not isinstance(data, bytes):
        raise ConfigError("benchmark image without embedded bytes; rebuild it with ladder build-bench")
    return data


def _decode_rgb(data: bytes) -> np.ndarray:
    """(H, W, 3) uint8 RGB of encoded image bytes."""
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def _benchmarks(bench: Path) -> dict[str, list[Path]]:
    """Benchmark name (each shard's ``dataset`` value) -> its shards, for one benchmark or a folder of them."""
    found: dict[str, list[Path]] = defaultdict(list)
    for path in bench_files(bench):
        names = pq.read_table(path, columns=["dataset"]).column("dataset").unique().to_pylist()
        for name in names:
            found[str(name)].append(path)
    return dict(sorted(found.items()))


def _rows_with_images(shards: list[Path], benchmark: str) -> Iterator[dict[str, Any]]:
    for path in shards:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=64):
            for row in batch.to_pylist():
                if row["dataset"] == benchmark:
                    yield row


def _check_types(benchmark: str, rows: list[dict[str, Any]], fmt: ExportFormat) -> None:
    known = (*SPATIALLADDER_MCA_TYPES, *NA_TYPES) if fmt is ExportFormat.SPATIALLADDER else (*MCA_TYPES, *NA_TYPES)
    unknown = sorted({r["question_type"] for r in rows} - set(known))
    if unknown:
        reader = "SpatialLadder's evaluator" if fmt is ExportFormat.SPATIALLADDER else "VSI-Bench's scorer"
        hint = (
            " (build the benchmark with the vsi-video recipe, which asks VSI-Bench's three direction forms)"
            if "object_rel_direction" in unknown
            else ""
        )
        raise ConfigError(f"{benchmark}: {reader} stops at question types {unknown}{hint}")


def _table(rows: list[dict[str, Any]], images: list[list[str]] | None) -> pa.Table:
    """The evaluators' fields, ``images`` (file names) for image benchmarks, then ours."""
    fields = list(COMMON_FIELDS)
    if images is not None:
        fields.append(("images", pa.list_(_TEXT)))
    fields += EXTRA_FIELDS
    out = []
    for k, r in enumerate(rows):
        out.append(
            {
                "id": r["id"],
                "dataset": r["source"],
                "scene_name": r["scene_name"],
                "question_type": r["question_type"],
                "question": r["question"],
                "options": r["options"] or None,
                "ground_truth": r["ground_truth"],
                **({"images": images[k]} if images is not None else {}),
                "benchmark": r["dataset"],
                "modality": r["modality"],
                "answer_type": r["answer_type"],
                "frame_ids": r["frame_ids"],
            }
        )
    return pa.Table.from_pylist(out, schema=pa.schema(fields))


def _key(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()


class _Writer:
    """Writes files under ``root`` unless ``export.json`` says the same content is already there."""

    def __init__(self, root: Path, previous: ExportedBenchmark | None) -> None:
        self.root = root
        self.previous = previous.keys if previous else {}
        self.keys: dict[str, str] = {}
        self.written = 0

    def write(self, rel: str, key: str, write: Callable[[Path], None]) -> None:
        self.keys[rel] = key
        path = self.root / rel
        if self.previous.get(rel) == key and path.is_file():
            return
        write_atomic(path, write)
        self.written += 1

    def remove_stale(self) -> None:
        for rel in set(self.previous) - set(self.keys):
            if all(is_safe_name(part) for part in Path(rel).parts):  # never outside the export folder
                (self.root / rel).unlink(missing_ok=True)


def _previous(root: Path) -> ExportedBenchmark | None:
    try:
        return ExportedBenchmark.model_validate_json((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _export_images(writer: _Writer, benchmark: str, row: dict[str, Any], contents: dict[str, str]) -> list[str]:
    """A row's frames as ``images/<scene_name>/<frame_id>.jpg`` (the stored JPEG bytes, unchanged)."""
    names = []
    scene = check_name(row["scene_name"], f"{benchmark}: scene_name")
    for frame_id, image in zip(row["frame_ids"], row["images"], strict=True):
        data = _image_bytes(image)
        name = f"{frame_id:06d}.jpg"
        rel = f"{IMAGES_DIR}/{scene}/{name}"
        key = _key(data)
        if contents.setdefault(rel, key) != key:
            raise ConfigError(f"{benchmark}: two different images for frame {frame_id} of {row['scene_name']}")
        writer.write(rel, key, _bytes_writer(data))
        names.append(name)
    return names


def _export_video(writer: _Writer, row: dict[str, Any], fps: float) -> ExportedVideo:
    """The scan's mp4 from the frames a video question shows, one video frame each."""
    data = [_image_bytes(image) for image in row["images"]]
    rel = f"{check_name(row['source'], 'source')}/{check_name(row['scene_name'], 'scene_name')}.mp4"
    first = _decode_rgb(data[0])

    def encode(tmp: Path) -> None:
        encode_mp4(tmp, [_decode_rgb(d) for d in data], fps)

    writer.write(rel, _key(*data, repr(fps).encode(), VIDEO_FOURCC.encode()), encode)
    return ExportedVideo(
        path=rel,
        fps=fps,
        frame_ids=row["frame_ids"],
        scan_timestamps=row["timestamps"],
        video_timestamps=[k / fps for k in range(len(data))],
        width=first.shape[1] - first.shape[1] % 2,
        height=first.shape[0] - first.shape[0] % 2,
    )


def _card(benchmark: str, parquet: str, fmt: ExportFormat) -> str:
    """A README whose ``configs`` point ``datasets.load_dataset(folder)`` at the parquet only (not the videos)."""
    return (
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: test\n"
        f"    path: {parquet}\n---\n\n# {benchmark} ({fmt.value} layout)\n\n"
        f"Exported by `ladder export --format {fmt.value}`; `{MANIFEST}` states the videos' fps and frame times.\n"
    )


def _check(benchmark: str, rows: list[dict[str, Any]], fmt: ExportFormat) -> bool:
    """Whether the benchmark is a video one; raises when the format cannot hold it."""
    missing_fields = sorted(set(NEEDED_FIELDS) - set(rows[0]))
    if missing_fields:
        raise ConfigError(f"{benchmark} has no {', '.join(missing_fields)} column: rebuild it with ladder build-bench")
    kinds = {r["modality"] == "video" for r in rows}
    if len(kinds) > 1:
        raise ConfigError(f"{benchmark} mixes videos with images; the evaluators read one or the other")
    is_video = kinds == {True}
    if fmt is ExportFormat.VSIBENCH and not is_video:
        raise ConfigError(f"{benchmark} holds images: VSI-Bench's layout is for videos; use --format spatialladder")
    _check_types(benchmark, rows, fmt)
    frames_of: dict[str, list[int]] = {}
    for r in rows:
        if is_video and frames_of.setdefault(r["scene_name"], r["frame_ids"]) != r["frame_ids"]:
            raise ConfigError(
                f"{benchmark}: questions about {r['scene_name']} show different frames, but a scan has one video"
            )
    missing = sorted(set(DIRECTION_FORMS) - {r["question_type"] for r in rows})
    if is_video and fmt is ExportFormat.VSIBENCH and missing:
        log.warning("%s has no %s: lmms-eval's vsibench aggregation fails without them", benchmark, missing)
    return is_video


def export_benchmark(
    bench: Path, out: Path, fmt: ExportFormat, fps: float = 2.0, on_benchmark: Callable[[], None] | None = None
) -> list[ExportedBenchmark]:
    """Export one benchmark folder, or every benchmark under a folder, to ``out/<benchmark>/``.

    Every benchmark is checked before anything is written.
    """
    if fps <= 0:
        raise ConfigError(f"--fps must be positive, not {fps}")
    shards_of = _benchmarks(bench)
    all_rows = load_bench(bench)
    rows_of = {name: [r for r in all_rows if r["dataset"] == name] for name in shards_of}
    video_of = {name: _check(name, rows, fmt) for name, rows in rows_of.items()}
    results = []
    for benchmark, shards in shards_of.items():
        root = out / benchmark
        writer = _Writer(root, _previous(root))
        is_video = video_of[benchmark]
        rows: list[dict[str, Any]] = []
        names: list[list[str]] = []
        videos: dict[str, ExportedVideo] = {}
        contents: dict[str, str] = {}
        for row in _rows_with_images(shards, benchmark):
            if is_video:
                if row["scene_name"] not in videos:
                    videos[row["scene_name"]] = _export_video(writer, row, fps)
            else:
                names.append(_export_images(writer, benchmark, row, contents))
            rows.append({k: v for k, v in row.items() if k != "images"})
        parquet = VIDEO_PARQUET if is_video else f"{SPATIALLADDER_NAMES.get(benchmark, benchmark)}.parquet"
        sink = pa.BufferOutputStream()
        pq.write_table(_table(rows, None if is_video else names), sink)
        data = sink.getvalue().to_pybytes()
        writer.write(parquet, _key(data), _bytes_writer(data))
        card = _card(benchmark, parquet, fmt).encode()
        writer.write("README.md", _key(card), _bytes_writer(card))
        writer.remove_stale()
        result = ExportedBenchmark(
            format=fmt,
            benchmark=benchmark,
            parquet=parquet,
            rows=len(rows),
            question_types=dict(sorted(Counter(r["question_type"] for r in rows).items())),
            fps=fps if is_video else None,
            images=sorted(contents),
            videos=list(videos.values()),
            keys=writer.keys,
        )
        write_atomic(root / MANIFEST, _bytes_writer((result.model_dump_json(indent=2) + "\n").encode()))
        log.info("%s: %d questions, %d files written to %s", benchmark, len(rows), writer.written, root)
        if on_benchmark:
            on_benchmark()
        results.append(result)
    return results
