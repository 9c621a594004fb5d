"""``ladder export``: a built benchmark in the layout, file names, fields and media the official evaluators read.

* ``spatialladder`` (SpatialLadder's ``eval_spld``, whose ``prepare_data`` opens fixed paths under
  ``/datasets``): ``spbench-si`` and ``spbench-mv`` become ``SPBench-SI/SPBench-SI.parquet`` and
  ``SPBench-MV/SPBench-MV.parquet`` whose ``images`` column lists file names under ``<task>/images/<scene_name>/``
  (another image benchmark: ``<name>/<name>.parquet``); the video benchmark becomes
  ``VSI-Bench/test-00000-of-00001.parquet`` with its videos under ``VSI-Bench/``. ``--out /datasets`` is what it
  reads.
* ``vsibench`` (VSI-Bench's card, read by lmms-eval's ``vsibench`` task): video benchmarks only,
  ``<name>/test-00000-of-00001-<key>.parquet`` (config ``full``, as VSI-Bench's) plus one mp4 per scan at
  ``<dataset>/<scene_name>.mp4``, with ``dataset`` the scan's source (``scannet``), and only VSI-Bench's question
  types.

``datasets`` caches a local folder under its name, its card's config name and the card's ``data_files`` (names,
never contents), so every card carries the content key of its parquet (:func:`ladderdata.cache.content_key`): in
the file name (:func:`ladderdata.layout.shard_name`, as ``build-dataset``'s shards) where the reader leaves the
name free, in the config name where SpatialLadder fixes the file names. A re-export with other rows, or another
folder of the same name, is then another cache entry: ``load_dataset`` never serves stale or foreign rows.

Videos hold a benchmark's frames of the scan, one video frame each, at ``fps`` (frame k at k / fps seconds);
``export.json`` states the fps and, per video, the frame ids with their times in the scan and in the video.
Every file is written under a temporary name and renamed; a rerun rewrites only what changed and removes files
a previous export left that the benchmark no longer has.
"""

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
import yaml
from PIL import Image
from pydantic import BaseModel, Field

from ladderdata.cache import atomic_path, content_key
from ladderdata.errors import ConfigError
from ladderdata.eval.official import DIRECTION_FORMS, MCA_TYPES, NA_TYPES, SPATIALLADDER_MCA_TYPES
from ladderdata.eval.report import bench_files, load_bench
from ladderdata.io.card import data_configs
from ladderdata.layout import SHARD_KEY_DIGITS, check_name, is_safe_name, shard_name
from ladderdata.outputs import claim_output, refuse_inside_inputs

log = logging.getLogger(__name__)

SPATIALLADDER_IMAGE_TASKS = {"spbench-si": "SPBench-SI", "spbench-mv": "SPBench-MV"}
"""Benchmark -> SpatialLadder's task, read from ``<task>/<task>.parquet`` with images under ``<task>/images``."""
SPATIALLADDER_VIDEO_TASK = "VSI-Bench"
"""SpatialLadder's video task: ``VSI-Bench/test-00000-of-00001.parquet``, videos under ``VSI-Bench/``."""
SPATIALLADDER_VIDEO_PARQUET = "test-00000-of-00001.parquet"
VSIBENCH_CONFIG = "full"
"""VSI-Bench's card names its benchmark config ``full`` (the default); lmms-eval's ``vsibench`` task asks for it
(``dataset_name: full``; older versions load the default)."""
SPLIT = "test"
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
    folder: str
    """Relative to the export's ``--out``: the folder the evaluator opens (``SPBench-SI``, ``VSI-Bench``, ...)."""
    parquet: str
    """The questions, in ``folder``."""
    config: str
    """The config of ``folder``'s card (``load_dataset(folder)`` reads it: it is the default)."""
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
        key = content_key({"image": data})
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

    parts: dict[str, str | bytes] = {"fps": repr(fps), "codec": VIDEO_FOURCC}
    parts.update((f"frame:{k}", d) for k, d in enumerate(data))
    writer.write(rel, content_key(parts), encode)
    return ExportedVideo(
        path=rel,
        fps=fps,
        frame_ids=row["frame_ids"],
        scan_timestamps=row["timestamps"],
        video_timestamps=[k / fps for k in range(len(data))],
        width=first.shape[1] - first.shape[1] % 2,
        height=first.shape[0] - first.shape[0] % 2,
    )


def _folder(benchmark: str, is_video: bool, fmt: ExportFormat) -> str:
    """The folder (under ``--out``) the format's evaluator opens for ``benchmark``."""
    if fmt is ExportFormat.VSIBENCH:
        return benchmark
    return SPATIALLADDER_VIDEO_TASK if is_video else SPATIALLADDER_IMAGE_TASKS.get(benchmark, benchmark)


def _parquet_and_config(folder: str, is_video: bool, fmt: ExportFormat, key: str) -> tuple[str, str]:
    """The parquet's file name and the card's config name; one of them carries the parquet's content ``key``."""
    if fmt is ExportFormat.VSIBENCH:
        return shard_name(SPLIT, 0, 1, key), VSIBENCH_CONFIG
    parquet = SPATIALLADDER_VIDEO_PARQUET if is_video else f"{folder}.parquet"
    return parquet, f"{folder}-{key[:SHARD_KEY_DIGITS]}"


def _card(result: ExportedBenchmark) -> str:
    """A README whose default config points ``datasets.load_dataset(folder)`` at the parquet only (not the media)."""
    configs = data_configs([(result.config, result.rows, [result.parquet], result.parquet)], SPLIT)
    front = yaml.safe_dump({"configs": configs}, sort_keys=False).strip()
    fmt = result.format.value
    keyed = (
        "The parquet's name ends with its content key"
        if result.format is ExportFormat.VSIBENCH
        else "The config's name ends with the parquet's content key (SpatialLadder opens the parquet by its fixed name)"
    )
    return (
        f"---\n{front}\n---\n\n# {result.folder}: `{result.benchmark}` in the {fmt} layout\n\n"
        f"Exported by `ladder export --format {fmt}`; `{MANIFEST}` states the videos' fps and frame times. "
        f"{keyed}: `datasets` caches a folder by its name, config and file names, so other rows are another entry.\n"
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


def _folders(video_of: dict[str, bool], fmt: ExportFormat) -> dict[str, str]:
    """Benchmark -> its folder under ``--out``; raises when two benchmarks would share one."""
    folder_of = {
        name: check_name(_folder(name, is_video, fmt), "benchmark name") for name, is_video in video_of.items()
    }
    by_folder: dict[str, list[str]] = defaultdict(list)
    for name, folder in folder_of.items():
        by_folder[folder.lower()].append(name)  # case-insensitive file systems would merge them too
    for names in by_folder.values():
        if len(names) > 1:
            raise ConfigError(
                f"benchmarks {', '.join(names)} would all be written to {folder_of[names[0]]}/ "
                f"({fmt.value} reads one benchmark there): export them one at a time, each to its own --out"
            )
    return folder_of


def export_benchmark(
    bench: Path,
    out: Path,
    fmt: ExportFormat,
    fps: float = 2.0,
    on_benchmark: Callable[[], None] | None = None,
    overwrite: bool = False,
) -> list[ExportedBenchmark]:
    """Export one benchmark folder, or every benchmark under a folder, to ``out/<folder>/`` (:func:`_folder`: the
    name the format's evaluator opens).

    Every benchmark is checked, and every ``out/<folder>`` claimed (``ladderdata.outputs``: empty, or this
    format's earlier export at this frame rate unless ``overwrite``), before anything is written; ``out``
    inside ``bench`` is refused.
    """
    if fps <= 0:
        raise ConfigError(f"--fps must be positive, not {fps}")
    refuse_inside_inputs(out, [bench])
    shards_of = _benchmarks(bench)
    all_rows = load_bench(bench)
    rows_of = {name: [r for r in all_rows if r["dataset"] == name] for name in shards_of}
    video_of = {name: _check(name, rows, fmt) for name, rows in rows_of.items()}
    folder_of = _folders(video_of, fmt)
    for folder in folder_of.values():
        settings = {"format": fmt.value, "fps": fps}
        claim_output(out / folder, "benchmark export", settings, overwrite=overwrite, signature=MANIFEST)
    results = []
    for benchmark, shards in shards_of.items():
        folder, is_video = folder_of[benchmark], video_of[benchmark]
        root = out / folder
        writer = _Writer(root, _previous(root))
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
        sink = pa.BufferOutputStream()
        pq.write_table(_table(rows, None if is_video else names), sink)
        data = sink.getvalue().to_pybytes()
        key = content_key({"parquet": data})
        parquet, config = _parquet_and_config(folder, is_video, fmt, key)
        writer.write(parquet, key, _bytes_writer(data))
        result = ExportedBenchmark(
            format=fmt,
            benchmark=benchmark,
            folder=folder,
            parquet=parquet,
            config=config,
            rows=len(rows),
            question_types=dict(sorted(Counter(r["question_type"] for r in rows).items())),
            fps=fps if is_video else None,
            images=sorted(contents),
            videos=list(videos.values()),
        )
        # the card after the parquet it names, the stale files (the previous parquet) after the card
        card = _card(result).encode()
        writer.write("README.md", content_key({"card": card}), _bytes_writer(card))
        writer.remove_stale()
        result.keys = writer.keys
        write_atomic(root / MANIFEST, _bytes_writer((result.model_dump_json(indent=2) + "\n").encode()))
        log.info("%s: %d questions, %d files written to %s", benchmark, len(rows), writer.written, root)
        if on_benchmark:
            on_benchmark()
        results.append(result)
    return results
