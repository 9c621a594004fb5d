"""Per-scan metadata extraction with a Parquet cache keyed by the inputs and the config."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ladderdata.cache import Digest, FileHashes, atomic_path, claim_folder, content_key
from ladderdata.errors import InaccessibleFileError, InconsistentScanError, MissingFileError, ScanError
from ladderdata.executor import Executor, LocalExecutor, Outcome
from ladderdata.executor.progress import report_progress
from ladderdata.metadata.config import MetadataConfig, ViewRecord
from ladderdata.metadata.depth_check import DepthVerdict, ViewDepth, check_depth, view_depth
from ladderdata.metadata.views import Timings, ViewMeasurer, depth_agreement, sharpness
from ladderdata.sources.base import Scan, ScanSource, ScanSourceConfig, TimeBasis, open_source
from ladderdata.sources.files import scan_file_errors
from ladderdata.typed import IntArray

log = logging.getLogger(__name__)

#: Bump when the meaning of any stored quantity changes: old caches are then recomputed.
#: How input files are fingerprinted for the metadata key (a cache key only: the fast one, ladderdata.cache.DIGESTS).
INPUT_DIGEST: Digest = "xxh3_128"
# 3: stray mesh vertices dropped, .sens depth_shift used, frame times checked, per-frame cameras; 4: depth gate
METADATA_VERSION = "4"
CACHE_KEY = b"ladder.cache_key"
#: The depth gate's warning (``depth_check``), kept with the views so every build that reads them repeats it.
DEPTH_WARNING_KEY = b"ladder.depth_warning"
TIME_BASIS_KEY = b"ladder.time_basis"

OBJECT_TYPE = pa.struct(
    [
        ("object_id", pa.int64()),
        ("label", pa.string()),
        ("category", pa.string()),
        ("visibility", pa.float64()),
        ("in_frustum", pa.float64()),
        ("pixel_fraction", pa.float64()),
        ("bbox_2d", pa.list_(pa.float64(), 4)),
        ("depth_min", pa.float64()),
        ("depth_median", pa.float64()),
        ("centroid_cam", pa.list_(pa.float64(), 3)),
    ]
)
VIEW_SCHEMA = pa.schema(
    [
        ("frame_id", pa.int64()),
        ("timestamp_us", pa.int64()),
        ("cam_to_world", pa.list_(pa.float64(), 16)),
        ("image_width", pa.int64()),
        ("image_height", pa.int64()),
        ("sharpness", pa.float64()),
        ("depth_agreement", pa.float64()),
        ("objects", pa.list_(OBJECT_TYPE)),
    ]
)


def metadata_path(out_dir: Path, scan_id: str) -> Path:
    return out_dir / f"{scan_id}.parquet"


def hashes_path(out_dir: Path, scan_id: str) -> Path:
    """Sidecar memoising the fingerprints of the scan's input files (see :class:`ladderdata.cache.FileHashes`)."""
    return out_dir / ".file-hashes" / f"{scan_id}.json"


def metadata_key(source: ScanSource, scan_id: str, config: MetadataConfig, hashes: FileHashes) -> str:
    """Content key of a scan's metadata: the bytes of every input file (frames included), the source's
    settings and the config. Computed without loading the scan, so a finished scan is recognised cheaply."""
    parts = {
        "kind": "metadata",
        "version": METADATA_VERSION,
        "config": config.model_dump_json(),
        "source": source.key_settings(),
    }
    root = source.config.root
    with scan_file_errors(scan_id, source.location(scan_id)):  # a folder listing that fails, say
        files = source.input_files(scan_id)
    for path in files:
        try:
            digest = hashes.digest(path)
        except FileNotFoundError:
            raise MissingFileError(scan_id, path, "file not found") from None
        except OSError as e:  # a folder or a FIFO in a file's place (never opened), no permission, an I/O error
            raise InaccessibleFileError(scan_id, path, e.strerror or str(e)) from None
        parts[f"file:{path.relative_to(root) if path.is_relative_to(root) else path.name}"] = digest
    return content_key(parts)


def scan_metadata_key(source: ScanSource, scan_id: str, config: MetadataConfig, out_dir: Path) -> str:
    """:func:`metadata_key` with the file hashes memoised beside the cache in ``out_dir``."""
    hashes = FileHashes(hashes_path(out_dir, scan_id), algorithm=INPUT_DIGEST)
    key = metadata_key(source, scan_id, config, hashes)
    hashes.save()
    return key


def select_frames(scan: Scan, config: MetadataConfig) -> IntArray:
    """Positions (into the frame arrays) of the frames whose number is a multiple of ``frame_stride`` and whose
    pose is valid (docs/metadata.md: the same frames whatever the layout, gaps and invalid poses included)."""
    if scan.frames is None:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(scan.valid_poses & (scan.frames.frame_ids % config.frame_stride == 0))


def extract_views(scan: Scan, config: MetadataConfig, timings: Timings | None = None) -> list[ViewRecord]:
    """Measure every selected view of ``scan`` (which must have frames); see :func:`measure_scan`."""
    return measure_scan(scan, config, timings)[0]


def measure_scan(
    scan: Scan, config: MetadataConfig, timings: Timings | None = None
) -> tuple[list[ViewRecord], DepthVerdict | None]:
    """Measure every selected view of ``scan`` (which must have frames), and pass its views' sensor-depth
    agreement through the gate (``depth_check.check_depth``: a scan whose depth disagrees with its mesh fails
    here, naming the likely cause); returns the views and the gate's verdict (None without sensor depth)."""
    if scan.frames is None:
        raise ValueError(f"[{scan.scan_id}] has no frames")
    timings = timings or Timings()
    frames = scan.frames
    image = frames.color_intrinsics
    with timings.stage("setup"):
        measurer = ViewMeasurer(scan, config, image)
    selected = select_frames(scan, config)
    if selected.size == 0:
        raise InconsistentScanError(
            scan.scan_id,
            frames.poses_file,
            f"no usable view: none of the {len(frames.frame_ids)} frames has both a valid pose "
            f"({scan.num_invalid_poses} invalid) and a frame number that is a multiple of the frame stride "
            f"{config.frame_stride}",
        )
    records = []
    depths: list[ViewDepth] = []
    times = frames.timestamps_us
    for k, pos in enumerate(selected):
        report_progress(k, len(selected))
        frame_id = int(frames.frame_ids[pos])
        sharp = None
        if config.blur_threshold is not None:
            with timings.stage("decode"):
                sharp = sharpness(frames.read_color(frame_id))
            if sharp < config.blur_threshold:
                continue
        pose = scan.poses[pos]
        objects, view = measurer.measure(pose, timings, frames.frame_color_intrinsics(frame_id))
        agreement = None
        depth_k = frames.frame_depth_intrinsics(frame_id)
        if config.sensor_depth and depth_k is not None:
            with timings.stage("decode"):
                sensor = frames.read_depth(frame_id)
            with timings.stage("objects"):
                agreement = depth_agreement(sensor, depth_k, view, depth_shift=frames.depth_shift)
                if agreement is not None:
                    depths.append(view_depth(agreement, sensor, frames.depth_shift, view.depth))
        records.append(
            ViewRecord(
                frame_id=frame_id,
                timestamp_us=None if times is None else int(times[pos]),
                cam_to_world=pose.reshape(-1).tolist(),
                image_width=image.width,
                image_height=image.height,
                sharpness=sharp,
                depth_agreement=agreement,
                objects=objects,
            )
        )
    report_progress(len(selected), len(selected))
    if not records:
        raise InconsistentScanError(
            scan.scan_id,
            frames.color_file(int(frames.frame_ids[selected[0]])),
            f"no usable view: all {selected.size} selected frames are blurrier than blur_threshold "
            f"{config.blur_threshold}",
        )
    verdict = check_depth(scan.scan_id, frames.poses_file, depths, frames.depth_shift)
    if verdict is not None and verdict.warning:
        log.warning("%s", verdict.warning)
    return records, verdict


def write_views(
    path: Path,
    records: list[ViewRecord],
    key: str,
    scan_id: str,
    config: MetadataConfig,
    time_basis: TimeBasis | None,
    depth_warning: str | None = None,
) -> None:
    """Write atomically: a temp file in the same folder, renamed into place. ``time_basis`` (where the views'
    timestamps come from, ``unknown`` when they have none) and the depth gate's warning are kept in the file's
    metadata."""
    table = pa.Table.from_pylist([r.model_dump() for r in records], schema=VIEW_SCHEMA)
    table = table.replace_schema_metadata(
        {
            CACHE_KEY: key.encode(),
            b"ladder.scan_id": scan_id.encode(),
            b"ladder.config": config.model_dump_json().encode(),
            TIME_BASIS_KEY: (time_basis or "unknown").encode(),
        }
        | ({DEPTH_WARNING_KEY: depth_warning.encode()} if depth_warning else {})
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def depth_warning(path: Path) -> str | None:
    """The depth gate's warning stored with a scan's views, if any."""
    value = (pq.read_schema(path).metadata or {}).get(DEPTH_WARNING_KEY)
    return value.decode() if value else None


def read_views(path: Path) -> list[ViewRecord]:
    return [ViewRecord.model_validate(row) for row in pq.read_table(path).to_pylist()]


def stored_key(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        meta = pq.read_schema(path).metadata or {}
    except (pa.ArrowInvalid, OSError):
        return None
    value = meta.get(CACHE_KEY)
    return value.decode() if value else None


@dataclass
class ScanResult:
    scan_id: str
    status: str
    """"computed", "cached" or "failed"."""
    views: int = 0
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ScanViews:
    """A scan's views, from its metadata file or just measured and written to it."""

    status: str
    """"computed" or "cached"."""
    views: list[ViewRecord]
    depth_warning: str | None
    """The depth gate's warning about the views (``metadata.depth_check``), if any."""


def ensure_metadata(scan: Scan, key: str, config: MetadataConfig, out_dir: Path, timings: Timings) -> ScanViews:
    """``scan``'s views: read from the cache when it holds them under ``key``, else measured and written to it.
    Views just measured are returned as they are, not read back: every field of the file is int64, float64 or
    a string, which hold a record's values exactly (``tests/test_metadata.py`` checks that the views read back
    are the same)."""
    out = metadata_path(out_dir, scan.scan_id)
    if stored_key(out) == key:
        return ScanViews("cached", read_views(out), depth_warning(out))
    records, verdict = measure_scan(scan, config, timings)
    time_basis = None if scan.frames is None else scan.frames.time_basis
    warning = verdict.warning if verdict else None
    with timings.stage("write"):
        write_views(out, records, key, scan.scan_id, config, time_basis, warning)
    return ScanViews("computed", records, warning)


def cached_result(source: ScanSource, config: MetadataConfig, out_dir: Path, scan_id: str) -> ScanResult | None:
    """The result of a scan whose metadata file is current (decided without loading the scan), else None."""
    path = metadata_path(out_dir, scan_id)
    try:
        current = stored_key(path) == scan_metadata_key(source, scan_id, config, out_dir)
    except ScanError:
        return None  # processing the scan reports it
    return ScanResult(scan_id, "cached", views=pq.read_metadata(path).num_rows) if current else None


def process_scan(source_config: ScanSourceConfig, config: MetadataConfig, out_dir: Path, scan_id: str) -> ScanResult:
    """Compute (or reuse) one scan's metadata file. Bad input is reported, never raised."""
    timings = Timings()
    try:
        source = open_source(source_config)
        with scan_file_errors(scan_id, source.location(scan_id)):
            with timings.stage("key"):
                key = scan_metadata_key(source, scan_id, config, out_dir)
            path = metadata_path(out_dir, scan_id)
            if stored_key(path) == key:
                views = pq.read_metadata(path).num_rows
                return ScanResult(scan_id, "cached", views=views, timings=dict(timings.seconds))
            with timings.stage("load"):
                scan = source.load(scan_id)
            if scan.frames is None:
                return ScanResult(scan_id, "failed", error=f"[{scan_id}] no frames in {source.location(scan_id)}")
            measured = ensure_metadata(scan, key, config, out_dir, timings)
        return ScanResult(scan_id, measured.status, views=len(measured.views), timings=dict(timings.seconds))
    except ScanError as e:
        return ScanResult(scan_id, "failed", error=str(e))


def process_scans(
    source_config: ScanSourceConfig,
    scan_ids: list[str],
    config: MetadataConfig,
    out_dir: Path,
    executor: Executor | None = None,
    progress: Callable[[Outcome[ScanResult]], None] | None = None,
) -> list[ScanResult]:
    """Run :func:`process_scan` over scans with ``executor`` (default: in this process); results in order.
    Scans whose metadata is current are recognised here, so a rerun starts no worker for them."""
    results: dict[str, ScanResult] = {}
    with claim_folder(out_dir):
        source = open_source(source_config)
        for scan_id in scan_ids:
            hit = cached_result(source, config, out_dir, scan_id)
            if hit is not None:
                results[scan_id] = hit
                if progress:
                    progress(Outcome(scan_id, value=hit))
        todo = [s for s in scan_ids if s not in results]
        outcomes = (executor or LocalExecutor()).map(
            partial(process_scan, source_config, config, out_dir), todo, names=todo, on_done=progress
        )
    for o in outcomes:
        results[o.item] = o.value if o.value is not None else ScanResult(o.item, "failed", error=o.error)
    return [results[s] for s in scan_ids]
