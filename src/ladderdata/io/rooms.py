"""Rooms of built datasets. Rescans of one room (``sceneXXXX_00``, ``sceneXXXX_01``, ...) are the same room:
a benchmark is clean only if no room of it appears in training data (``ladder check-leakage``), and a build can
refuse the rooms of given benchmarks (``build-dataset --exclude-bench``)."""

import json
import re
from pathlib import Path

import pyarrow.parquet as pq

from ladderdata.errors import ConfigError
from ladderdata.io.shards import reading_parquet

SCENE_COLUMNS = ("scene_id", "scene_name")


def room_of(scan_id: str) -> str:
    """``scene0123_02`` -> ``scene0123`` (ids not in ScanNet's pattern are their own room).

    >>> room_of("scene0123_02")
    'scene0123'
    """
    m = re.match(r"^(scene\d{4})_\d{2}$", scan_id)
    return m.group(1) if m else scan_id


def manifest_scan_ids(manifest: Path) -> list[str]:
    """The ``inputs.scan_ids`` of a dataset's ``manifest.json``; an unreadable one is a ``ConfigError`` naming it."""
    try:
        data = json.loads(manifest.read_bytes())
        ids = data["inputs"]["scan_ids"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{manifest} is not a readable ladder manifest ({type(e).__name__}: {e})") from None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ConfigError(f"{manifest}: inputs.scan_ids is not a list of scan ids")
    return ids


def dataset_scenes(path: Path) -> set[str]:
    """Scan ids a built dataset or benchmark used: its manifests' inputs plus every row's scene column."""
    if not path.is_dir():
        raise ConfigError(f"{path} is not a built dataset folder")
    scenes: set[str] = set()
    for manifest in path.rglob("manifest.json"):
        scenes.update(manifest_scan_ids(manifest))
    for shard in path.rglob("*.parquet"):
        if any(part.startswith(".") for part in shard.relative_to(path).parts):
            continue  # caches
        with reading_parquet(shard):
            names = pq.read_schema(shard).names
            for column in SCENE_COLUMNS:
                if column in names:
                    values = pq.read_table(shard, columns=[column]).column(column).unique().to_pylist()
                    scenes.update(str(v) for v in values)
    if not scenes:
        raise ConfigError(f"{path} holds no manifest.json and no shards with a scene column")
    return scenes


def dataset_rooms(path: Path) -> set[str]:
    return {room_of(s) for s in dataset_scenes(path)}
