"""ScanNet v2 reader: mesh, segments, aggregation -> object instances; axis alignment; frames in any layout."""

import itertools
import json
import logging
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from ladderdata.errors import ConfigError, CorruptFileError, InconsistentScanError, MissingFileError
from ladderdata.geometry.measure import ObjectSurface, vertex_region
from ladderdata.layout import LABEL_TABLE, SCAN_ID_PATTERN, SCAN_SUBDIRS, SPLIT_LIST, FramesLayout, ScanPaths
from ladderdata.sources.base import (
    DataTerms,
    FrameSource,
    ObjectInfo,
    Scan,
    ScanObject,
    ScanSource,
    ScanSourceConfig,
    read_id_list,
    register_source,
)
from ladderdata.sources.files import read_json_object
from ladderdata.sources.frames import frame_files, open_frames, read_meta
from ladderdata.sources.labels import LabelTable
from ladderdata.sources.ply import PlyFormatError, TriangleMesh, read_ply
from ladderdata.sources.validate import int_array, rigid_transform
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


def vertex_groups(seg: IntArray, groups: list[IntArray]) -> IntArray:
    """(V,) index into ``groups`` of the group holding each vertex's segment, -1 for none (groups do not overlap)."""
    segments = np.concatenate([np.zeros(0, np.int64), *groups])
    group = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    order = np.argsort(segments)
    at = np.searchsorted(segments[order], seg)
    # a sentinel past the end, of group -1, for the vertices whose segment sorts after every grouped one
    segments, group = np.append(segments[order], 0), np.append(group[order], -1)
    return np.where(segments[at] == seg, group[at], -1)


def faces_touching(faces: Faces, vertex_group: IntArray, groups: int) -> list[IntArray]:
    """For each group, the indices (ascending) of the faces with at least one corner in it."""
    corner = vertex_group[faces]
    # each (group, face) pair once: a corner's group counts unless it is -1 or an earlier corner's
    first = corner >= 0
    first[:, 1] &= corner[:, 1] != corner[:, 0]
    first[:, 2] &= (corner[:, 2] != corner[:, 0]) & (corner[:, 2] != corner[:, 1])
    face = np.broadcast_to(np.arange(len(faces))[:, None], corner.shape)
    keyed = np.sort(corner[first] * len(faces) + face[first])  # by group, then face
    bounds = np.searchsorted(keyed // len(faces), np.arange(groups + 1))
    return [keyed[a:b] % len(faces) for a, b in itertools.pairwise(bounds)]


def build_objects(
    scan_id: str, path: Path, mesh: TriangleMesh, seg: IntArray, labels: LabelTable, spacing: float
) -> list[ScanObject]:
    """Object instances from ``segGroups``: every vertex of their segments (boxes and sizes, as ScanNet's and
    mmdetection3d's converters do) and their part of the mesh surface (:func:`vertex_region`). Each segment
    belongs to one object at most: overlapping groups would count one surface twice."""
    data = read_json_object(scan_id, path)
    groups = data.get("segGroups")
    if not isinstance(groups, list):
        raise CorruptFileError(scan_id, path, "no 'segGroups' list")
    if not groups:
        raise InconsistentScanError(scan_id, path, "no objects ('segGroups' is empty)")
    known_segments = np.unique(seg)
    parsed = [_seg_group(scan_id, path, g) for g in groups]
    owners: dict[int, int] = {}
    for object_id, _, segments in parsed:
        for s in np.unique(segments).tolist():
            other = owners.setdefault(s, object_id)
            if other != object_id:
                raise InconsistentScanError(
                    scan_id, path, f"segment {s} belongs to objects {other} and {object_id}: segment groups overlap"
                )
    vertex_group = vertex_groups(seg, [segments for _, _, segments in parsed])
    group_faces = faces_touching(mesh.faces, vertex_group, len(parsed))
    objects = []
    for group, (object_id, label, segments) in enumerate(parsed):
        unknown = np.setdiff1d(segments, known_segments)
        if unknown.size:
            raise InconsistentScanError(
                scan_id,
                path,
                f"object {object_id} ({label}) references segment ids {unknown[:5].tolist()} that no vertex has",
            )
        in_object = vertex_group == group
        touching = mesh.faces[group_faces[group]]
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
    ids = [o.info.object_id for o in objects]
    if len(set(ids)) != len(ids):
        raise InconsistentScanError(scan_id, path, "duplicate objectId values")
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
        m = re.match(r"^(scene\d{4})_\d{2}$", scan_id)
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
        if self.config.label_table is not None and not path.is_file():
            raise ConfigError(f"--label-table {path} does not exist: pass ScanNet's {LABEL_TABLE}")
        if not path.is_file():
            raise ConfigError(
                f"label table {LABEL_TABLE} not found in {path.parent}: copy ScanNet's {LABEL_TABLE} there "
                "or pass --label-table FILE (docs/scannet.md)"
            )
        return LabelTable.read(path)

    def check(self) -> None:
        if not self._scan_dirs:
            raise ConfigError(f"no scan folders (sceneXXXX_YY) in {self.config.root}: {SCANS_HINT}")
        _ = self.labels  # every annotated scan needs it: fail once now, not once per scan

    def split_file(self, split: str) -> Path:
        return (self.config.split_dir or self.config.root) / SPLIT_LIST.format(split=split)

    def split_ids(self, split: str) -> list[str]:
        """Scan ids listed in ``scannetv2_{split}.txt``."""
        path = self.split_file(split)
        if not path.is_file():
            raise ConfigError(
                f"split list {path.name} not found in {path.parent}: copy ScanNet's {path.name} there, pass "
                "--split-dir DIR (the folder holding it), or --split FILE (scan ids, one per line)"
            )
        return read_id_list(path)

    def scan_ids(self, split: str | None = None) -> list[str]:
        ids = list(self._scan_dirs)
        if split is not None:
            wanted = set(self.split_ids(split))
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
        if not paths.mesh.is_file():
            raise MissingFileError(scan_id, paths.mesh, "file not found")
        try:
            raw_mesh = read_ply(paths.mesh)
        except PlyFormatError as e:
            raise CorruptFileError(scan_id, paths.mesh, str(e)) from None
        vertices = raw_mesh.vertices @ alignment[:3, :3].T + alignment[:3, 3]
        mesh = TriangleMesh(vertices=vertices, faces=raw_mesh.faces, colors=raw_mesh.colors)
        objects: list[ScanObject] = []
        if self._annotated(paths):
            seg = read_segments(scan_id, paths.segments, len(mesh.vertices))
            objects = build_objects(scan_id, paths.aggregation, mesh, seg, self.labels, self.config.surface_spacing)
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
