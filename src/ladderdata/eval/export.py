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

Every folder is a Hub dataset repository as it stands (``ladder push``): a card with the Hub's metadata
(licence ``other`` after the scans' terms, with ``LICENSE.md`` beside it, task and size categories, language) and
one config named after the folder's benchmark, ``full`` for ``vsibench`` (VSI-Bench's), the folder name for
``spatialladder`` (``SPBench-SI``). ``datasets`` caches a local folder under its name, config name and the card's
``data_files`` (names, never contents), so the file the card names carries the parquet's content key
(:func:`ladderdata.cache.content_key`, in :func:`ladderdata.layout.shard_name`): the parquet itself for
``vsibench``, whose reader leaves the name free, and a keyed copy under ``data/`` for ``spatialladder``, whose
evaluator opens its parquet by a fixed name. A re-export with other rows, or another folder of the same name, is
then another cache entry: ``load_dataset`` never serves stale or foreign rows. ``vsibench`` folders also hold one
``<dataset>.zip`` per scan source (``scannet.zip``: ``scannet/<scene_name>.mp4``), the archives lmms-eval unpacks
into ``$HF_HOME/vsibench`` after downloading a Hub repository, as VSI-Bench's own repository holds them.

Videos hold a benchmark's frames of the scan, one video frame each, at ``fps`` (frame k at k / fps seconds);
``export.json`` states the fps and, per video, the frame ids with their times in the scan and in the video.
Every file is written under a temporary name and renamed; a rerun rewrites only what changed and removes files
a previous export left that the benchmark no longer has.
"""

import io
import logging
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from string import Template
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image
from pydantic import BaseModel, Field

from ladderdata.cache import atomic_path, content_key, regular_file_stat
from ladderdata.errors import ConfigError
from ladderdata.eval.official import direction_forms, mca_types, na_types
from ladderdata.io.card import data_configs, front_matter, license_file, project_reference, terms_section
from ladderdata.io.dataset import BenchReader
from ladderdata.layout import LICENSE_FILE, check_name, is_safe_name, shard_name
from ladderdata.outputs import claim_output, refuse_inside_inputs
from ladderdata.prompts import resource
from ladderdata.tasks import OfficialScorer

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
DATA_DIR = "data"
"""Where a ``spatialladder`` folder keeps the keyed copy of its parquet that its card names."""
MANIFEST = "export.json"
SPATIALLADDER_NUM_FRAMES = 32
"""SpatialLadder's ``evaluator.py --num_frames`` default: frames it samples from each video by
``np.linspace(0, total - 1, num_frames, dtype=int)``."""
ARCHIVE_TIME = (1980, 1, 1, 0, 0, 0)
"""Every archive member's time stamp (zip's earliest): the same videos make the same archive bytes."""
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
    """The questions, in ``folder``, under the name the evaluator opens."""
    data_file: str
    """The file ``folder``'s card names: ``parquet`` when its name carries the content key (``vsibench``), else
    a copy under ``data/`` whose name does (``spatialladder``)."""
    config: str
    """The config of ``folder``'s card (``load_dataset(folder)`` reads it: it is the default); stable across
    exports (``full``, or the folder name)."""
    sources: list[str] = Field(default_factory=list)
    """The scans' datasets (their terms bind the export: the card's licence and ``LICENSE.md``)."""
    rows: int
    question_types: dict[str, int]
    fps: float | None
    """Videos' frame rate (None when the benchmark has no videos)."""
    images: list[str] = Field(default_factory=list)
    videos: list[ExportedVideo] = Field(default_factory=list)
    archives: list[str] = Field(default_factory=list)
    """``vsibench``: ``<dataset>.zip`` per scan source, holding ``<dataset>/<scene_name>.mp4`` (lmms-eval's Hub
    layout)."""
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
    for path in (shard.path for shard in BenchReader(bench).shards):
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
    scorer = OfficialScorer.SPATIALLADDER if fmt is ExportFormat.SPATIALLADDER else OfficialScorer.VSIBENCH
    known = (*mca_types(scorer), *na_types(scorer))
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
    """The previous export's manifest; None when there is none or it is unreadable (then every file is
    rewritten), and when it is not a regular file (a FIFO would block the read)."""
    try:
        regular_file_stat(root / MANIFEST)
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


def _parquet_names(folder: str, is_video: bool, fmt: ExportFormat, key: str) -> tuple[str, str, str]:
    """The parquet's file name, the file the card names (carrying the parquet's content ``key``) and the
    card's config name (stable)."""
    if fmt is ExportFormat.VSIBENCH:
        keyed = shard_name(SPLIT, 0, 1, key)
        return keyed, keyed, VSIBENCH_CONFIG
    parquet = SPATIALLADDER_VIDEO_PARQUET if is_video else f"{folder}.parquet"
    return parquet, f"{DATA_DIR}/{shard_name(SPLIT, 0, 1, key)}", folder


def _write_archives(writer: _Writer, videos: list[ExportedVideo]) -> list[str]:
    """One stored (uncompressed: mp4 is) zip per scan source, members ``<dataset>/<scene_name>.mp4`` in name
    order with a fixed time stamp, keyed by the members' keys."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for video in videos:
        by_source[video.path.split("/")[0]].append(video.path)
    names = []
    for source, members in sorted(by_source.items()):
        members.sort()

        def write(tmp: Path, members: list[str] = members) -> None:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
                for member in members:
                    archive.writestr(zipfile.ZipInfo(member, ARCHIVE_TIME), (writer.root / member).read_bytes())

        writer.write(f"{source}.zip", content_key({m: writer.keys[m] for m in members}), write)
        names.append(f"{source}.zip")
    return names


def _usage(result: ExportedBenchmark) -> str:
    """The card's paragraph on how the format's evaluator reads the folder."""
    if result.format is ExportFormat.VSIBENCH:
        archives = ", ".join(f"`{a}`" for a in result.archives)
        return (
            f"**lmms-eval** (`vsibench` task): in a copy of its task yaml, `dataset_path: {result.folder}` and "
            f"`dataset_name: {VSIBENCH_CONFIG}`. The videos are `<dataset>/<scene_name>.mp4`; {archives} hold them "
            "as VSI-Bench's repository does: after `ladder push` of this folder to `USER/NAME`, "
            "`dataset_path: USER/NAME` makes lmms-eval download the repository and unpack them into "
            "`$HF_HOME/vsibench/` (its `cache_dir`). From this local folder, copy the `<dataset>` folders there "
            "instead. The parquet's name carries its content key, so `datasets` never serves an earlier export's "
            "rows from its cache."
        )
    media = "`images/<scene_name>/`" if result.images else "`<dataset>/<scene_name>.mp4`"
    return (
        f"**SpatialLadder's evaluator** (`eval_spld`) opens `/datasets/{result.folder}/{result.parquet}` and "
        f"{media} beside it by fixed names: export with `--out /datasets`. The card's config `{result.config}` "
        f"names `{result.data_file}`, a copy of the parquet whose name carries its content key, so `datasets` "
        "never serves an earlier export's rows from its cache."
    )


def _frames(result: ExportedBenchmark, frames: int) -> str:
    """The card's paragraph on how many frames the evaluators read of what the export holds."""
    if not result.videos:
        return f"Each question shows up to {frames} stored frames (`images`: the benchmark's JPEGs, unchanged)."
    text = (
        f"Each video holds the benchmark's {frames} frames of its scan, one video frame each at {result.fps:g} fps. "
        f"SpatialLadder's evaluator samples `--num_frames` frames (default {SPATIALLADDER_NUM_FRAMES}) by "
        "`np.linspace(0, total - 1, num_frames)`"
    )
    if frames < SPATIALLADDER_NUM_FRAMES:
        text += f": pass `--num_frames {frames}` to read each frame once (the default reads frames twice)"
    return text + ". lmms-eval hands each video to the model, whose own sampler picks the frames it reads."


def _card(result: ExportedBenchmark, frames: int) -> str:
    """A Hub card (:mod:`ladderdata.io.hub_card`'s rules) whose one config points ``load_dataset(folder)`` at
    the keyed parquet only (not the media)."""
    configs = data_configs([(result.config, result.rows, [result.data_file], result.data_file)], SPLIT)
    pretty = f"{result.benchmark} ({result.format.value} layout)"
    reader = "lmms-eval's vsibench task" if result.format is ExportFormat.VSIBENCH else "SpatialLadder's evaluator"
    return Template(resource("export_card.md")).substitute(
        front_matter=front_matter(pretty, result.rows, bool(result.videos), configs, result.sources, ["benchmark"]),
        folder=result.folder,
        benchmark=result.benchmark,
        format=result.format.value,
        rows=f"{result.rows:,}",
        question_types=", ".join(f"{t} {n}" for t, n in result.question_types.items()),
        sources=", ".join(result.sources),
        project=project_reference(),
        reader=reader,
        config=result.config,
        usage=_usage(result),
        frames=_frames(result, frames),
        terms=terms_section(result.sources),
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
    missing = sorted(set(direction_forms()) - {r["question_type"] for r in rows})
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
    all_rows = [row.stored_columns() for row in BenchReader(bench).rows()]
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
        parquet, data_file, config = _parquet_names(folder, is_video, fmt, key)
        for name in dict.fromkeys([parquet, data_file]):
            writer.write(name, key, _bytes_writer(data))
        sources = sorted({str(r["source"]) for r in rows})
        result = ExportedBenchmark(
            format=fmt,
            benchmark=benchmark,
            folder=folder,
            parquet=parquet,
            data_file=data_file,
            config=config,
            sources=sources,
            rows=len(rows),
            question_types=dict(sorted(Counter(r["question_type"] for r in rows).items())),
            fps=fps if is_video else None,
            images=sorted(contents),
            videos=list(videos.values()),
        )
        if fmt is ExportFormat.VSIBENCH:
            result.archives = _write_archives(writer, result.videos)
        frames = max(len(r["frame_ids"]) for r in rows)
        if is_video and fmt is ExportFormat.SPATIALLADDER and frames < SPATIALLADDER_NUM_FRAMES:
            log.warning(
                "%s: %d frames per video; SpatialLadder's evaluator samples %d by default (frames twice): "
                "run it with --num_frames %d",
                benchmark,
                frames,
                SPATIALLADDER_NUM_FRAMES,
                frames,
            )
        license_text = license_file(sources).encode()
        writer.write(LICENSE_FILE, content_key({"license": license_text}), _bytes_writer(license_text))
        # the card after the parquet it names, the stale files (the previous parquet) after the card
        card = _card(result, frames).encode()
        writer.write("README.md", content_key({"card": card}), _bytes_writer(card))
        writer.remove_stale()
        result.keys = writer.keys
        write_atomic(root / MANIFEST, _bytes_writer((result.model_dump_json(indent=2) + "\n").encode()))
        log.info("%s: %d questions, %d files written to %s", benchmark, len(rows), writer.written, root)
        if on_benchmark:
            on_benchmark()
        results.append(result)
    return results
