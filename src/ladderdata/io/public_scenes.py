"""Scans used by public benchmarks (contamination): lists shipped as package data (``templates/public_scenes/``),
each file citing the repository, path and commit it was read from in its header.

A training build leaves them out (``build-dataset --exclude-public vsibench``) and ``check-leakage --against
vsibench`` reports a dataset's overlap with them. A listed scan excludes its whole room (rescans of a ScanNet room,
videos of one ARKitScenes visit when the scans at hand say which visit a video belongs to).
"""

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

from ladderdata.errors import ConfigError
from ladderdata.io.dataset import open_builds
from ladderdata.io.rooms import dataset_rooms, id_room, scan_room
from ladderdata.sources.base import ScanSource

#: Benchmark name -> its list file under ``resources/public_scenes/``.
PUBLIC_BENCHMARKS = {"vsibench": "vsibench.txt", "spbench": "spbench.txt", "spacer": "spacer.txt"}


@dataclass(frozen=True)
class PublicScenes:
    """The scans of one public benchmark."""

    name: str
    scans: frozenset[tuple[str, str]]
    """(source, scan id) pairs."""
    header: str
    """The file's comment lines: what the list is and where it comes from."""

    @property
    def rooms(self) -> set[str]:
        """Room keys of the scans as their ids tell them (``scannet:scene0011``)."""
        return {id_room(source, scan_id) for source, scan_id in self.scans}


def public_names(names: str | list[str]) -> list[str]:
    """Benchmark names from ``vsibench,spbench`` (or a list of such); an unknown name is a ``ConfigError``."""
    parts = [names] if isinstance(names, str) else names
    out = [n.strip() for part in parts for n in part.split(",") if n.strip()]
    unknown = [n for n in out if n not in PUBLIC_BENCHMARKS]
    if unknown:
        raise ConfigError(
            f"unknown public benchmark {', '.join(unknown)}: ladder ships the scene lists of "
            f"{', '.join(sorted(PUBLIC_BENCHMARKS))}"
        )
    return list(dict.fromkeys(out))


@cache
def public_scenes(name: str) -> PublicScenes:
    """The shipped list of benchmark ``name`` (see :data:`PUBLIC_BENCHMARKS`)."""
    (name,) = public_names(name)
    text = (files("ladderdata") / "resources" / "public_scenes" / PUBLIC_BENCHMARKS[name]).read_text(encoding="utf-8")
    scans = set()
    header = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            header.append(line[1:].strip())
            continue
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise ConfigError(f"public_scenes/{PUBLIC_BENCHMARKS[name]} line {number}: expected `<source> <scan id>`")
        scans.add((fields[0], fields[1]))
    return PublicScenes(name, frozenset(scans), "\n".join(header))


def excluded_scans(source: ScanSource, scan_ids: list[str], names: list[str]) -> dict[str, str]:
    """Scan id -> the public benchmark whose room it shares, for the scans of ``scan_ids`` in a listed room.

    Rooms are compared as the source tells them (:func:`~ladderdata.io.rooms.scan_room`) and as the listed ids
    tell them; a listed scan the source also holds contributes its room as the source knows it (an ARKitScenes
    video's visit)."""
    available = set(scan_ids)
    banned: dict[str, str] = {}
    for name in names:
        listed = public_scenes(name)
        rooms = listed.rooms
        for src, scan_id in listed.scans:
            if scan_id in available and source.source_of(scan_id) == src:
                rooms.add(scan_room(source, scan_id))
        for scan_id in scan_ids:
            if scan_id in banned:
                continue
            src = source.source_of(scan_id)
            if (src, scan_id) in listed.scans or scan_room(source, scan_id) in rooms:
                banned[scan_id] = name
    return banned


def dataset_scans(path: Path) -> set[tuple[str, str]]:
    """(source, scan id) of every row of the builds at ``path`` (a dataset, a benchmark, a folder of them)."""
    return {scan for reader in open_builds(path) for scan in reader.scans()}


def public_overlap(path: Path, name: str) -> list[str]:
    """Rooms (room keys) of the dataset at ``path`` that public benchmark ``name`` uses: rooms its scans share with
    the listed ones, or listed scans it holds."""
    listed = public_scenes(name)
    hit = dataset_rooms(path) & listed.rooms
    hit |= {id_room(src, scan_id) for src, scan_id in dataset_scans(path) if (src, scan_id) in listed.scans}
    return sorted(hit)
