"""Rooms of built datasets. A room is what its source says (``ScanSource.room``): rescans of a ScanNet room
(``sceneXXXX_00``, ``sceneXXXX_01``, ...) are one room, the videos of one ARKitScenes visit are one room, and rooms
of different sources never match (``scannet:scene0001``, ``arkitscenes:visit_421069``). A benchmark is clean only
if no room of it appears in training data (``ladder check-leakage``), and a build can refuse the rooms of given
benchmarks (``build-dataset --exclude-bench``).

Builds record each scan's room in ``manifest.json`` (``inputs.rooms``); a scan known only by its id and source
(older manifests, rows) gets the room its id alone tells (``ScanSource.room_from_id``)."""

import json
from pathlib import Path

from pydantic import BaseModel

from ladderdata.errors import ConfigError
from ladderdata.io.dataset import MANIFEST, find_builds, open_builds
from ladderdata.sources.base import SOURCES, ScanSource, room_key

#: The source of scans whose record names none (datasets built before sources were recorded).
DEFAULT_SOURCE = "scannet"


def scan_room(source: ScanSource, scan_id: str) -> str:
    """The room key of a scan its source can be asked about."""
    return room_key(source.source_of(scan_id), source.room(scan_id))


class ManifestInputs(BaseModel):
    """What leakage checks read from a dataset's ``manifest.json`` (``inputs``): the scans, their source and rooms."""

    scan_ids: list[str]
    source: str = DEFAULT_SOURCE
    rooms: dict[str, str] = {}

    @classmethod
    def read(cls, manifest: Path) -> "ManifestInputs":
        """The manifest's inputs; an unreadable, truncated or foreign manifest is a ``ConfigError`` naming it."""
        try:
            inputs = json.loads(manifest.read_bytes())["inputs"]
            source = inputs.get("source", {}).get("source", DEFAULT_SOURCE)
            return cls.model_validate({**inputs, "source": source})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:  # ValidationError is a ValueError
            reason = str(e).splitlines()[0][:160]
            raise ConfigError(f"{manifest} is not a readable ladder manifest ({type(e).__name__}: {reason})") from None


def id_room(source: str, scan_id: str) -> str:
    """The room key of a scan known only by its id and its source's name."""
    if source not in SOURCES:
        SOURCES.load_plugins()
    cls = SOURCES.get(source)
    return room_key(source, cls.room_from_id(scan_id) if cls is not None else scan_id)


def dataset_rooms(path: Path) -> set[str]:
    """Room keys the builds at ``path`` (a dataset, a benchmark, a folder of benchmarks) used: their manifests'
    recorded rooms (or scan ids) plus the room of every row's scene."""
    recorded: dict[str, str] = {}
    rooms: set[str] = set()
    for folder in find_builds(path):
        inputs = ManifestInputs.read(folder / MANIFEST)
        recorded.update(inputs.rooms)
        for scan_id in inputs.scan_ids:
            rooms.add(recorded.get(scan_id) or id_room(inputs.source, scan_id))
    for reader in open_builds(path):
        for source, scan_id in sorted(reader.scans()):
            rooms.add(recorded.get(scan_id) or id_room(source, scan_id))
    if not rooms:
        raise ConfigError(f"{path}: its manifests list no scans and its shards no rows")
    return rooms
