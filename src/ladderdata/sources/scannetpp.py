"""ScanNet++ reader: the laser-scan mesh with its instance annotation, and iPhone (or pinhole DSLR) frames.

File names and formats follow the official toolkit (scannetpp/scannetpp: ``common/scene_release.py``,
``iphone/prepare_iphone_data.py``, ``dslr/undistort.py``, ``semantic/transforms/mesh.py``) and COLMAP's text
model format (:mod:`ladderdata.sources.colmap`); docs/sources.md cites each fact. The mesh is already in
ScanNet++'s gravity-aligned frame (z up, metres), so no alignment is applied; annotations use ScanNet's
``segIndices``/``segGroups`` scheme and are read by the ScanNet code.
"""

import csv
import io
import logging
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from ladderdata.errors import ConfigError
from ladderdata.layout import SCANS_HINT, is_safe_name
from ladderdata.sources.base import (
    DataTerms,
    FrameSource,
    Scan,
    ScanSource,
    ScanSourceConfig,
    listed_ids,
    register_source,
)
from ladderdata.sources.files import ascii_int
from ladderdata.sources.labels import LabelEntry, LabelTable, read_table_text
from ladderdata.sources.scannet import SharedSegments, build_objects, read_segments
from ladderdata.sources.scannetpp_frames import DslrFrames, IPhoneFrames, ScanNetPPPaths, dslr_model
from ladderdata.sources.validate import drop_outliers, read_mesh

log = logging.getLogger(__name__)

DATA_DIR = "data"
SPLITS_DIR = "splits"
#: ``--split`` names -> the official split lists under ``splits/`` (other names are looked up as given).
SPLIT_FILES = {"train": "nvs_sem_train", "val": "nvs_sem_val", "test": "sem_test"}
CLASSES_FILE = Path("metadata/semantic_benchmark/top100.txt")
LABEL_MAP_FILE = Path("metadata/semantic_benchmark/map_benchmark.csv")


class ScanNetPPSourceConfig(ScanSourceConfig):
    """Where ScanNet++ scenes live and which camera to read. ``root`` is the download folder::

        root/
          data/<scene_id>/                       # 10 hex characters, e.g. 355e5e32db
            scans/mesh_aligned_0.05.ply  segments.json  segments_anno.json
            iphone/pose_intrinsic_imu.json       # per frame: aligned_pose, intrinsic
            iphone/rgb/frame_000000.jpg ...      # extracted by iphone/prepare_iphone_data.py (or rgb.mkv / rgb.mp4)
            iphone/rgb_masks/frame_000000.png    # anonymisation masks (or rgb_mask.mkv; optional)
            iphone/depth/frame_000000.png        # uint16 mm, 256x192 (optional)
            dslr/undistorted_images/ dslr/undistorted_anon_masks/ dslr/nerfstudio/transforms_undistorted.json
            dslr/colmap/cameras.txt images.txt   # or a pinhole COLMAP model of dslr/resized_images/
          splits/nvs_sem_train.txt nvs_sem_val.txt sem_test.txt
          metadata/semantic_benchmark/top100.txt map_benchmark.csv

    A folder of ``<scene_id>/`` folders (no ``data/``) is accepted as a root too.
    """

    source: Literal["scannetpp"] = "scannetpp"

    camera: Literal["iphone", "dslr"] = "iphone"
    """iPhone video frames (timed, with depth) or pinhole DSLR photos (untimed, no depth)."""
    label_table: Path | None = None
    """The class list (``--label-table``): one class a line, like ``top100.txt``; default
    ``root/metadata/semantic_benchmark/top100.txt``. Objects whose (mapped) label is not listed are measured and
    occlude but are not asked about unless the recipe keeps them."""
    label_map: Path | None = None
    """Raw label -> class (``class``, ``semantic_map_to``, ``count`` columns); default
    ``root/metadata/semantic_benchmark/map_benchmark.csv`` when present."""
    split_dir: Path | None = None
    """Folder of the split lists (``--split-dir``); default ``root/splits``."""
    max_masked_fraction: float = Field(0.05, ge=0, le=1)
    """Frames whose anonymisation mask blurs more than this fraction of the image are not used (their pose is
    masked like an invalid one)."""
    surface_spacing: float = Field(0.02, ge=0.001, le=1.0)
    """Spacing of object surface samples, metres."""


def read_label_table(classes_path: Path, map_path: Path | None) -> LabelTable:
    """ScanNet++'s vocabulary as a label table: every listed class names itself, and ``map_benchmark.csv`` maps
    raw labels onto classes (``books`` -> ``book``). No NYU40 classes: the class list is the vocabulary. Both are
    shared by every scene: a binary or malformed one is a ``ConfigError`` (it stops the run at its start)."""
    text = read_table_text(classes_path, "ScanNet++ class list")
    classes = [line.strip() for line in text.splitlines() if line.strip()]
    if not classes:
        raise ConfigError(f"ScanNet++ class list {classes_path} lists no classes")
    counts: dict[str, int] = {}
    entries = {c: LabelEntry(category=c, nyu40_id=0, nyu40_class="") for c in classes}
    if map_path is not None and map_path.is_file():
        reader = csv.DictReader(io.StringIO(read_table_text(map_path, "ScanNet++ label map"), newline=""))
        if "class" not in (reader.fieldnames or []):
            raise ConfigError(f"label map {map_path} has no 'class' column")
        try:
            for row in reader:
                raw = row["class"]
                if not raw:
                    raise ConfigError(f"label map {map_path} line {reader.line_num}: no class (truncated?)")
                target = (row.get("semantic_map_to") or "").strip()
                mapped = target if target and target != "None" else raw
                counts[raw] = ascii_int((row.get("count") or "").strip(), max_digits=11) or 0
                if mapped in classes:
                    entries[raw] = LabelEntry(category=mapped, nyu40_id=0, nyu40_class="", count=counts[raw])
        except csv.Error as e:
            raise ConfigError(f"label map {map_path} line {reader.line_num}: {e}") from None
    return LabelTable(entries, classes_path)


@register_source("scannetpp")
class ScanNetPPSource(ScanSource):
    """Reads ScanNet++ scenes (and the synthetic ones ``ladder synth --format scannetpp`` writes)."""

    config: ScanNetPPSourceConfig
    config_class = ScanNetPPSourceConfig
    looks_for = "data/<scene_id>/scans/ folders"
    terms = DataTerms(
        "ScanNet++ Terms of Use",
        "scannetpp-terms-of-use",
        "https://kaldir.vc.in.tum.de/scannetpp/static/scannetpp-terms-of-use.pdf",
    )

    @classmethod
    def detect(cls, root: Path) -> bool:
        parent = root / DATA_DIR if (root / DATA_DIR).is_dir() else root
        return any((d / "scans").is_dir() for d in parent.iterdir() if d.is_dir())

    def __init__(self, config: ScanNetPPSourceConfig) -> None:
        super().__init__(config)
        if not config.root.is_dir():
            raise ConfigError(f"--scans {config.root} is not a folder: {SCANS_HINT}")

    @cached_property
    def _scene_dirs(self) -> dict[str, Path]:
        root = self.config.root
        parent = root / DATA_DIR if (root / DATA_DIR).is_dir() else root
        dirs = {}
        for d in sorted(parent.iterdir()):
            if not (d / "scans").is_dir():
                continue
            if is_safe_name(d.name):
                dirs[d.name] = d
            else:
                log.warning("ignoring folder %r in %s: not a scene id", d.name, parent)
        return dirs

    @cached_property
    def labels(self) -> LabelTable:
        root = self.config.root
        label_map = self.config.label_map or root / LABEL_MAP_FILE
        if self.config.label_map is not None and not label_map.is_file():
            raise ConfigError(f"ScanNet++ label map {label_map} not found")
        classes = self.config.label_table or root / CLASSES_FILE
        if self.config.label_table is not None and not classes.exists():
            raise ConfigError(
                f"--label-table {classes} does not exist: pass ScanNet++'s {CLASSES_FILE} (one class a line)"
            )
        if not classes.exists():
            raise ConfigError(
                f"ScanNet++ class list {CLASSES_FILE.name} not found in {classes.parent}: copy ScanNet++'s "
                f"{CLASSES_FILE.parent}/ there or pass --label-table FILE (one class a line, like {CLASSES_FILE.name})"
            )
        return read_label_table(classes, label_map)

    def check(self) -> None:
        super().check()
        self.labels  # noqa: B018 (reads and checks the class list and the label map)

    def split_file(self, split: str) -> Path:
        return (self.config.split_dir or self.config.root / SPLITS_DIR) / f"{SPLIT_FILES.get(split, split)}.txt"

    def scan_ids(self, split: str | None = None) -> list[str]:
        ids = list(self._scene_dirs)
        if split is None:
            return ids
        path = self.split_file(split)
        if not path.is_file():
            raise ConfigError(
                f"split list {path.name} not found in {path.parent}: copy ScanNet++'s {SPLITS_DIR}/ there, pass "
                "--split-dir DIR (the folder holding it), or --split FILE (scan ids, one per line)"
            )
        wanted = set(listed_ids(path, ids, self.config.root))
        return [i for i in ids if i in wanted]

    def paths(self, scan_id: str) -> ScanNetPPPaths:
        if scan_id not in self._scene_dirs:
            raise ConfigError(f"no scene '{scan_id}' under {self.config.root}")
        return ScanNetPPPaths(self._scene_dirs[scan_id])

    def location(self, scan_id: str) -> Path:
        return self.paths(scan_id).scene_dir

    def open_frames(self, scan_id: str) -> FrameSource:
        paths = self.paths(scan_id)
        if self.config.camera == "dslr":
            return DslrFrames(scan_id, paths, self.config.max_masked_fraction)
        return IPhoneFrames(scan_id, paths, self.config.max_masked_fraction)

    def input_files(self, scan_id: str) -> list[Path]:
        paths = self.paths(scan_id)
        files = [paths.mesh, paths.segments, paths.annotation, self.labels.path or paths.annotation]
        label_map = self.config.label_map or self.config.root / LABEL_MAP_FILE
        if label_map.is_file():
            files.append(label_map)
        if self.config.camera == "dslr":
            model = dslr_model(paths)
            files += model.files
            folders = [model.image_dir, model.mask_dir]
        else:
            folders = [paths.iphone_rgb, paths.iphone_masks, paths.iphone_depth]
            files.append(paths.iphone_poses)
            video = paths.iphone_video
            if not paths.iphone_rgb.is_dir():
                files.append(video or paths.iphone_videos[0])
            if not paths.iphone_masks.is_dir() and paths.iphone_mask_video.is_file():
                files.append(paths.iphone_mask_video)
        return files + sorted(p for d in folders if d.is_dir() for p in d.iterdir() if p.is_file())

    def load(self, scan_id: str) -> Scan:
        paths = self.paths(scan_id)
        raw_mesh = read_mesh(scan_id, paths.mesh)
        mesh, kept = drop_outliers(scan_id, paths.mesh, raw_mesh)
        seg = read_segments(scan_id, paths.segments, len(raw_mesh.vertices))[kept]
        objects = build_objects(
            scan_id, paths.annotation, mesh, seg, self.labels, self.config.surface_spacing, SharedSegments.SMALLEST
        )
        frames = self.open_frames(scan_id)
        scan = Scan(scan_id=scan_id, mesh=mesh, objects=objects, frames=frames, axis_alignment=np.eye(4))
        if scan.num_invalid_poses:
            log.info(
                "%s: %d of %d frames unusable (invalid pose or anonymised beyond %.0f%%)",
                scan_id,
                scan.num_invalid_poses,
                len(scan.valid_poses),
                100 * self.config.max_masked_fraction,
            )
        return scan
