"""ScanNet v2 reader: mesh, segments, aggregation -> object instances; axis alignment; frames in any layout."""

import itertools
import json
import logging
import re
from collections import Counter
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from ladderdata.errors import ConfigError, CorruptFileError, InconsistentScanError
from ladderdata.geometry.measure import ObjectSurface, vertex_region
from ladderdata.layout import (
    LABEL_TABLE,
    SCAN_ID_PATTERN,
    SCAN_SUBDIRS,
    SPLIT_LIST,
    FramesLayout,
    ScanPaths,
    is_safe_name,
)
from ladderdata.sources.base import (
    DEFAULT_FPS,
    DataTerms,
    FrameSource,
    ObjectInfo,
    Scan,
    ScanObject,
    ScanSource,
    ScanSourceConfig,
    listed_ids,
    read_id_list,
    register_source,
)
from ladderdata.sources.files import read_json_object
from ladderdata.sources.frames import SensFrames, frame_files, open_frames, read_meta
from ladderdata.sources.labels import LabelTable
from ladderdata.sources.ply import TriangleMesh
from ladderdata.sources.validate import drop_outliers, int_array, read_mesh, rigid_transform
from ladderdata.typed import Faces, IntArray, Matrix4

log = logging.getLogger(__name__)

SCANS_HINT = "--scans takes a ScanNet root (holding scans/sceneXXXX_YY/) or a folder of sceneXXXX_YY scan folders"


class ScanNetSourceConfig(ScanSourceConfig):
    """Where ScanNet scans live and how to read them.

    ``root`` is either a ScanNet root::

        root/
          scans/scene0000_00/ ...          # see ladderdata.layout for the files of one scan
          scans_test/scene0707_00/ ...     # read when include_test is set
          posed_images/scene0000_00/ ...   # optional frames layout
          scannetv2-labels.combined.tsv
          scannetv2_train.txt scannetv2_val.txt scannetv2_test.txt   # optional

    or a plain folder of ``sceneXXXX_YY`` scan folders (then pass ``label_table``).
    """

    source: Literal["scannet"] = "scannet"

    label_table: Path | None = None
    """Label table; default ``root/scannetv2-labels.combined.tsv``."""
    split_dir: Path | None = None
    """Folder holding ``scannetv2_{split}.txt``; default ``root``."""
    frames_layout: FramesLayout | None = None
    """Frames layout to read; default the first present of sens, export, posed."""
    include_test: bool = False
    """Also list ``scans_test/`` scans (no annotations)."""
    surface_spacing: float = Field(0.02, ge=0.001, le=1.0)
    """Spacing of object surface samples, metres."""


def read_axis_alignment(scan_id: str, path: Path) -> tuple[Matrix4, str | None]:
    """``axisAlignment`` (identity when absent, as for test scans) and ``sceneType`` from the meta file."""
    values = read_meta(scan_id, path)
    alignment = np.eye(4)
    if "axisAlignment" in values:
        try:
            numbers = np.array(values["axisAlignment"].split(), dtype=np.float64)
        except ValueError:
            raise CorruptFileError(scan_id, path, "axisAlignment is not a list of numbers") from None
        if numbers.size != 16:
            raise InconsistentScanError(scan_id, path, f"axisAlignment has {numbers.size} numbers, expected 16")
        alignment = rigid_transform(scan_id, path, numbers.reshape(4, 4), "axisAlignment")
    return alignment, values.get("sceneType")


def read_segments(scan_id: str, path: Path, num_vertices: int) -> IntArray:
    """(V,) segment id of every mesh vertex."""
    data = read_json_object(scan_id, path)
    if "segIndices" not in data:
        raise CorruptFileError(scan_id, path, "no 'segIndices' key")
    seg = int_array(scan_id, path, data["segIndices"], "'segIndices'")
    if seg.shape != (num_vertices,):
        raise InconsistentScanError(scan_id, path, f"{seg.size} segment indices for a mesh of {num_vertices} vertices")
    return seg


#: ``objectId`` values are small non-negative integers (they become int64 columns and JSON everywhere).
MAX_OBJECT_ID = 2**31 - 1


def _seg_group(scan_id: str, path: Path, group: Any) -> tuple[int, str, IntArray]:
    """(objectId, label, segment ids) of one ``segGroups`` entry, each of the right type."""
    if not isinstance(group, dict) or not {"objectId", "label", "segments"} <= set(group):
        raise CorruptFileError(scan_id, path, f"malformed segGroup {str(group)[:80]}")
    object_id, label = group["objectId"], group["label"]
    if type(object_id) is not int or not 0 <= object_id <= MAX_OBJECT_ID:
        raise CorruptFileError(scan_id, path, f"objectId {str(object_id)[:40]} is not an integer in [0, 2^31)")
    if not isinstance(label, str) or not label.strip():
        raise CorruptFileError(scan_id, path, f"object {object_id} has label {json.dumps(label)[:40]}, not a name")
    return object_id, label, int_array(scan_id, path, group["segments"], f"object {object_id}'s 'segments'")


class SharedSegments(StrEnum):
    """Which object gets a segment that two segment groups list (both annotation tools let that happen)."""

    LATER = "later"
    """The group listed later. ScanNet's ``export_train_mesh_for_evaluation.py`` and mmdetection3d's
    ``load_scannet_data.py`` (``export``) assign per-vertex instance ids in a loop over the groups, each group
    overwriting its vertices, so the last group listing a segment owns it."""
    SMALLEST = "smallest"
    """The object with the fewest vertices (ties: the group listed first): ScanNet++'s single-label training data
    (``semantic/transforms/mesh.py``, ``GetLabelsOnVertices``) keeps the smallest instance of a vertex."""


Group = tuple[int, str, IntArray]
"""(objectId, label, sorted distinct segment ids) of one ``segGroups`` entry."""


def _distinct_groups(scan_id: str, path: Path, parsed: list[Group]) -> list[Group]:
    """``parsed`` without repeats: a group with the label and segments of an earlier one is the same object listed
    twice (ScanNet's scene0217_00 lists all its objects twice, ScanNet/ScanNet#51) and is dropped with a warning.
    One objectId given to two different objects is a contradiction and fails."""
    kept: list[Group] = []
    first_with: dict[tuple[str, bytes], int] = {}
    content_of: dict[int, tuple[str, bytes]] = {}
    repeats: list[str] = []
    for object_id, label, segments in parsed:
        content = (label, segments.tobytes())
        if content_of.get(object_id, content) != content:
            raise InconsistentScanError(scan_id, path, f"objectId {object_id} is given to two different objects")
        if content in first_with:
            repeats.append(f"{object_id} (= {first_with[content]})")
            continue
        first_with[content] = object_id
        content_of[object_id] = content
        kept.append((object_id, label, segments))
    if repeats:
        log.warning(
            "%s: %s lists %d objects twice (same label and segments); dropped the repeats: %s",
            scan_id,
            path,
            len(repeats),
            ", ".join(repeats),
        )
    return kept


def _segment_owners(known: IntArray, seg_sizes: IntArray, groups: list[Group], shared: SharedSegments) -> IntArray:
    """(S,) index into ``groups`` of the object owning each of the ``known`` segment ids (-1: none)."""
    slots = [np.searchsorted(known, segments) for _, _, segments in groups]
    order = list(range(len(groups)))
    if shared is SharedSegments.SMALLEST:  # written largest first, so the smallest (then the first listed) stays
        sizes = [int(seg_sizes[s].sum()) for s in slots]
        order.sort(key=lambda k: (-sizes[k], -k))
    owner = np.full(len(known), -1, dtype=np.int64)
    for k in order:
        owner[slots[k]] = k
    return owner


def faces_touching(faces: Faces, vertex_group: IntArray, groups: int) -> list[IntArray]:
    """For each group, the indices (ascending) of the faces with at least one corner in it."""
    corner = vertex_group[faces]
    # each (group, face) pair once: a corner's group counts unless it is -1 or an earlier corner's
    first = corner >= 0
    first[:, 1] &= corner[:, 1] != corner[:, 0]
    first[:, 2] &= (corner[:, 2] != corner[:, 0]) & (corner[:, 2] != corner[:, 1])
    face = np.broadcast_to(np.arange(len(faces))[:, None], corner.shape)[first]  # ascending
    group = corner[first]
    # by group, then face: a stable sort of the groups keeps each group's faces ascending (radix sort for int16)
    order = np.argsort(group.astype(np.int16) if groups <= np.iinfo(np.int16).max else group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(groups + 1))
    by_group = face[order]
    return [by_group[a:b] for a, b in itertools.pairwise(bounds)]


def _read_groups(scan_id: str, path: Path, known: IntArray) -> list[Group]:
    """Every group of the ``segGroups`` file ``path``, in file order, its segment ids sorted; each group must list
    segments, all of them among the ``known`` segment ids (those some vertex has)."""
    data = read_json_object(scan_id, path)
    groups = data.get("segGroups")
    if not isinstance(groups, list):
        raise CorruptFileError(scan_id, path, "no 'segGroups' list")
    if not groups:
        raise InconsistentScanError(scan_id, path, "no objects ('segGroups' is empty)")
    parsed = []
    for group in groups:
        object_id, label, segments = _seg_group(scan_id, path, group)
        if segments.size == 0:
            raise InconsistentScanError(scan_id, path, f"object {object_id} ({label}) lists no segments")
        distinct = np.unique(segments)
        slot = np.searchsorted(known, distinct)
        found = slot < len(known)
        found[found] = known[slot[found]] == distinct[found]
        unknown = distinct[~found]  # np.setdiff1d(segments, known), on the sorted ids
        if unknown.size:
            raise InconsistentScanError(
                scan_id,
                path,
                f"object {object_id} ({label}) references segment ids {unknown[:5].tolist()} that no vertex has",
            )
        parsed.append((object_id, label, distinct))
    return parsed


def build_objects(
    scan_id: str,
    path: Path,
    mesh: TriangleMesh,
    seg: IntArray,
    labels: LabelTable,
    spacing: float,
    shared: SharedSegments,
) -> list[ScanObject]:
    """Object instances from ``segGroups``: every vertex of their segments (boxes and sizes, as ScanNet's and
    mmdetection3d's converters do) and their part of the mesh surface (:func:`vertex_region`). A vertex belongs
    to one object: repeated groups are dropped, a segment two groups list goes to one of them (``shared``) and
    an object left without segments is dropped, each with a warning (docs/geometry.md)."""
    known, vertex_segment, seg_sizes = np.unique(seg, return_inverse=True, return_counts=True)
    distinct = _distinct_groups(scan_id, path, _read_groups(scan_id, path, known))
    owner = _segment_owners(known, seg_sizes, distinct, shared)
    vertex_owner = owner[vertex_segment]
    object_faces = faces_touching(mesh.faces, vertex_owner, len(distinct))
    moved: Counter[tuple[int, int]] = Counter()
    emptied = []
    objects = []
    for k, (object_id, label, segments) in enumerate(distinct):
        owners = owner[np.searchsorted(known, segments)]
        moved.update((object_id, distinct[o][0]) for o in owners[owners != k].tolist())
        in_object = vertex_owner == k
        if not in_object.any():
            emptied.append(f"{object_id} ({label})")
            continue
        touching = mesh.faces[object_faces[k]]
        if touching.size == 0:
            raise InconsistentScanError(scan_id, path, f"object {object_id} ({label}) has no mesh triangles")
        entry = labels.lookup(label)
        info = ObjectInfo(
            object_id=object_id,
            label=label,
            category=entry.category,
            nyu40_id=entry.nyu40_id,
            nyu40_class=entry.nyu40_class,
            in_label_table=entry.in_table,
            label_count=entry.count,
        )
        vertex_ids = np.flatnonzero(in_object)
        region_vertices, region_faces = vertex_region(mesh.vertices, touching, in_object)
        objects.append(
            ScanObject(
                info=info,
                vertex_ids=vertex_ids,
                points=mesh.vertices[vertex_ids],
                surface=ObjectSurface(region_vertices, region_faces, spacing=spacing),
            )
        )
    if moved:
        log.warning(
            "%s: %s lists segments in two objects; each goes to the %s one (docs/geometry.md): %s",
            scan_id,
            path,
            "later" if shared is SharedSegments.LATER else "smaller",
            ", ".join(f"{n} of object {a} to object {b}" for (a, b), n in sorted(moved.items())),
        )
    if emptied:
        log.warning("%s: %s: objects left without segments, dropped: %s", scan_id, path, ", ".join(emptied))
    return sorted(objects, key=lambda o: o.info.object_id)


@register_source("scannet")
class ScanNetSource(ScanSource):
    """Reads ScanNet v2 scans (and the synthetic scans ``ladder synth`` writes in the same layout)."""

    config: ScanNetSourceConfig
    config_class = ScanNetSourceConfig
    looks_for = "scans/sceneXXXX_YY/ folders (or sceneXXXX_YY/ folders in the root)"
    terms = DataTerms(
        "ScanNet Terms of Use", "scannet-terms-of-use", "http://kaldir.vc.in.tum.de/scannet/ScanNet_TOS.pdf"
    )

    @classmethod
    def detect(cls, root: Path) -> bool:
        pattern = re.compile(SCAN_ID_PATTERN)
        parent = root / SCAN_SUBDIRS[0] if (root / SCAN_SUBDIRS[0]).is_dir() else root
        return any(d.is_dir() and pattern.match(d.name) for d in parent.iterdir())

    @classmethod
    def room_from_id(cls, scan_id: str) -> str:
        """Rescans of one room share ``sceneXXXX``: ``scene0123_02`` -> ``scene0123``."""
        m = re.fullmatch(r"(scene[0-9]{4})_[0-9]{2}", scan_id)
        return m.group(1) if m else scan_id

    def __init__(self, config: ScanNetSourceConfig) -> None:
        super().__init__(config)
        if not config.root.is_dir():
            raise ConfigError(f"--scans {config.root} is not a folder: {SCANS_HINT}")

    @cached_property
    def _scan_dirs(self) -> dict[str, Path]:
        root = self.config.root
        pattern = re.compile(SCAN_ID_PATTERN)
        parents = [root / d for d in SCAN_SUBDIRS[: 2 if self.config.include_test else 1] if (root / d).is_dir()]
        if not parents:
            parents = [root]
        dirs = {}
        for parent in parents:
            for d in parent.iterdir():
                if not d.is_dir():
                    continue
                if pattern.fullmatch(d.name):
                    dirs[d.name] = d
                elif d.name.startswith("scene"):
                    log.warning("ignoring folder %r in %s: not a scan id (sceneXXXX_YY)", d.name, parent)
        return dict(sorted(dirs.items()))

    @property
    def label_table_path(self) -> Path:
        return self.config.label_table or self.config.root / LABEL_TABLE

    @cached_property
    def labels(self) -> LabelTable:
        path = self.label_table_path
        # what is there but is no file (a folder, /dev/zero) is refused by LabelTable.read, saying what it is
        if self.config.label_table is not None and not path.exists():
            raise ConfigError(f"--label-table {path} does not exist: pass ScanNet's {LABEL_TABLE}")
        if not path.exists():
            raise ConfigError(
                f"label table {LABEL_TABLE} not found in {path.parent}: copy ScanNet's {LABEL_TABLE} there "
                "or pass --label-table FILE (docs/scannet.md)"
            )
        return LabelTable.read(path)

    def check(self) -> None:
        if not self._scan_dirs:
            raise self.no_scans_error()
        _ = self.labels  # every annotated scan needs it: fail once now, not once per scan

    def split_file(self, split: str) -> Path:
        return (self.config.split_dir or self.config.root) / SPLIT_LIST.format(split=split)

    def existing_split_file(self, split: str) -> Path:
        """``scannetv2_{split}.txt``, or a ``ConfigError`` saying where it was looked for and what to pass."""
        path = self.split_file(split)
        if not path.is_file():
            raise ConfigError(
                f"split list {path.name} not found in {path.parent}: copy ScanNet's {path.name} there, pass "
                "--split-dir DIR (the folder holding it), or --split FILE (scan ids, one per line)"
            )
        return path

    def split_ids(self, split: str) -> list[str]:
        """Every scan id ``scannetv2_{split}.txt`` lists (each once, in its order), downloaded or not."""
        return list(dict.fromkeys(s for s in read_id_list(self.existing_split_file(split)) if is_safe_name(s)))

    def scan_ids(self, split: str | None = None) -> list[str]:
        ids = list(self._scan_dirs)
        if split is not None:  # listed_ids warns of ids listed twice, odd entries and scans not under the root
            wanted = set(listed_ids(self.existing_split_file(split), ids, self.config.root))
            ids = [i for i in ids if i in wanted]
        return ids

    def paths(self, scan_id: str) -> ScanPaths:
        if scan_id not in self._scan_dirs:
            raise ConfigError(f"no scan '{scan_id}' under {self.config.root}")
        return ScanPaths.at(self._scan_dirs[scan_id], root=self.config.root)

    def open_frames(self, scan_id: str) -> FrameSource | None:
        return open_frames(scan_id, self.paths(scan_id), self.config.frames_layout)

    def location(self, scan_id: str) -> Path:
        return self.paths(scan_id).scan_dir

    def input_files(self, scan_id: str) -> list[Path]:
        paths = self.paths(scan_id)
        files = [paths.meta, paths.mesh]
        if self._annotated(paths):
            files += [paths.segments, paths.aggregation, self.label_table_path]
        return files + frame_files(paths, self.config.frames_layout)

    @staticmethod
    def _annotated(paths: ScanPaths) -> bool:
        """Test scans (``scans_test/``) come without annotations; every other scan must have them."""
        return paths.scan_dir.parent.name != SCAN_SUBDIRS[1] or paths.aggregation.exists()

    def load(self, scan_id: str) -> Scan:
        paths = self.paths(scan_id)
        alignment, scene_type = read_axis_alignment(scan_id, paths.meta)
        raw_mesh = read_mesh(scan_id, paths.mesh)
        vertices = raw_mesh.vertices @ alignment[:3, :3].T + alignment[:3, 3]
        mesh, kept = drop_outliers(
            scan_id, paths.mesh, TriangleMesh(vertices=vertices, faces=raw_mesh.faces, colors=raw_mesh.colors)
        )
        objects: list[ScanObject] = []
        if self._annotated(paths):
            seg = read_segments(scan_id, paths.segments, len(raw_mesh.vertices))[kept]
            objects = build_objects(
                scan_id, paths.aggregation, mesh, seg, self.labels, self.config.surface_spacing, SharedSegments.LATER
            )
        frames = open_frames(scan_id, paths, self.config.frames_layout)
        scan = Scan(
            scan_id=scan_id, mesh=mesh, objects=objects, frames=frames, axis_alignment=alignment, scene_type=scene_type
        )
        if scan.unknown_labels:
            log.warning(
                "%s: %d objects have labels missing from the label table %s: %s",
                scan_id,
                sum(scan.unknown_labels.values()),
                self.labels.path,
                ", ".join(f"{label} ({n})" for label, n in scan.unknown_labels.items()),
            )
        if isinstance(frames, SensFrames) and frames.stored_times_problem is not None:
            log.warning(
                "%s: the colour timestamps of %s are %s: frames are timed by frame number / %g Hz instead",
                scan_id,
                paths.sens,
                frames.stored_times_problem,
                DEFAULT_FPS,
            )
        if frames is not None and not frames.time_known:
            log.info(
                "%s: %s frames are numbered by file, not by frame: when they were taken is unknown",
                scan_id,
                frames.layout,
            )
        if scan.num_invalid_poses:
            log.info(
                "%s: %d of %d frames have invalid poses (masked)",
                scan_id,
                scan.num_invalid_poses,
                len(scan.valid_poses),
            )
        return scan
