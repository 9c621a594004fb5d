"""Per-scan metadata extraction with a Parquet cache keyed by the inputs and the config."""

import hashlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ladderdata.errors import ScanError
from ladderdata.layout import ScanPaths
from ladderdata.metadata.config import MetadataConfig, ViewRecord
from ladderdata.metadata.views import Timings, ViewMeasurer, depth_agreement, sharpness
from ladderdata.sources.base import Scan
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig
from ladderdata.typed import IntArray

log = logging.getLogger(__name__)

#: Bump when the meaning of any stored quantity changes: old caches are then recomputed.
METADATA_VERSION = "2"
CACHE_KEY = b"ladder.cache_key"

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


def cache_key(scan: Scan, files: list[Path], config: MetadataConfig) -> str:
    """sha256 of the annotation files' bytes, the frames' poses and intrinsics, and the config."""
    h = hashlib.sha256(f"v{METADATA_VERSION}|{config.model_dump_json()}".encode())
    for path in files:
        h.update(path.name.encode())
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    if scan.frames is not None:
        h.update(np.ascontiguousarray(scan.frames.raw_poses).tobytes())
        h.update(scan.frames.frame_ids.tobytes())
        h.update(scan.frames.color_intrinsics.model_dump_json().encode())
    return h.hexdigest()


def select_frames(scan: Scan, config: MetadataConfig) -> IntArray:
    """Positions (into the frame arrays) of the frames whose number is a multiple of ``frame_stride`` and whose
    pose is valid (docs/metadata.md: the same frames whatever the layout, gaps and invalid poses included)."""
    if scan.frames is None:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(scan.valid_poses & (scan.frames.frame_ids % config.frame_stride == 0))


def extract_views(scan: Scan, config: MetadataConfig, timings: Timings | None = None) -> list[ViewRecord]:
    """Measure every selected view of ``scan`` (which must have frames)."""
    if scan.frames is None:
        raise ValueError(f"[{scan.scan_id}] has no frames")
    timings = timings or Timings()
    frames = scan.frames
    image = frames.color_intrinsics
    with timings.stage("setup"):
        measurer = ViewMeasurer(scan, config, image)
    records = []
    times = frames.timestamps_us
    for pos in select_frames(scan, config):
        frame_id = int(frames.frame_ids[pos])
        sharp = None
        if config.blur_threshold is not None:
            with timings.stage("decode"):
                sharp = sharpness(frames.read_color(frame_id))
            if sharp < config.blur_threshold:
                continue
        pose = scan.poses[pos]
        objects, view = measurer.measure(pose, timings)
        agreement = None
        if config.sensor_depth and frames.depth_intrinsics is not None:
            with timings.stage("decode"):
                sensor = frames.read_depth(frame_id)
            with timings.stage("objects"):
                agreement = depth_agreement(sensor, frames.depth_intrinsics, view, measurer.render_k)
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
    return records


def write_views(path: Path, records: list[ViewRecord], key: str, scan_id: str, config: MetadataConfig) -> None:
    """Write atomically: a temp file in the same folder, renamed into place."""
    table = pa.Table.from_pylist([r.model_dump() for r in records], schema=VIEW_SCHEMA)
    table = table.replace_schema_metadata(
        {
            CACHE_KEY: key.encode(),
            b"ladder.scan_id": scan_id.encode(),
            b"ladder.config": config.model_dump_json().encode(),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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


def ensure_metadata(
    scan: Scan, paths: ScanPaths, config: MetadataConfig, out_dir: Path, timings: Timings | None = None
) -> tuple[str, str]:
    """Compute ``scan``'s metadata file unless the cache holds it already; returns (status, cache key)."""
    timings = timings or Timings()
    key = cache_key(scan, [paths.mesh, paths.segments, paths.aggregation, paths.meta], config)
    out = metadata_path(out_dir, scan.scan_id)
    if stored_key(out) == key:
        return "cached", key
    records = extract_views(scan, config, timings)
    with timings.stage("write"):
        write_views(out, records, key, scan.scan_id, config)
    return "computed", key


def process_scan(source_config: ScanNetSourceConfig, scan_id: str, config: MetadataConfig, out_dir: Path) -> ScanResult:
    """Compute (or reuse) one scan's metadata file. Bad input is reported, never raised."""
    timings = Timings()
    try:
        source = ScanNetSource(source_config)
        with timings.stage("load"):
            scan = source.load(scan_id)
            paths = source.paths(scan_id)
        if scan.frames is None:
            return ScanResult(scan_id, "failed", error=f"[{scan_id}] no frames in {paths.scan_dir}")
        status, _ = ensure_metadata(scan, paths, config, out_dir, timings)
        views = pq.read_metadata(metadata_path(out_dir, scan_id)).num_rows
        return ScanResult(scan_id, status, views=views, timings=dict(timings.seconds))
    except ScanError as e:
        return ScanResult(scan_id, "failed", error=str(e))


def process_scans(
    source_config: ScanNetSourceConfig,
    scan_ids: list[str],
    config: MetadataConfig,
    out_dir: Path,
    workers: int = 1,
    progress: Callable[[ScanResult], None] | None = None,
) -> list[ScanResult]:
    """Run :func:`process_scan` over scans, in parallel when ``workers > 1``; results in ``scan_ids`` order."""
    results = []
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            futures = [pool.submit(process_scan, source_config, s, config, out_dir) for s in scan_ids]
            for fut in futures:
                results.append(fut.result())
                if progress:
                    progress(results[-1])
    else:
        for s in scan_ids:
            results.append(process_scan(source_config, s, config, out_dir))
            if progress:
                progress(results[-1])
    return results
