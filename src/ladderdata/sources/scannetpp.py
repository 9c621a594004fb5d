"""ScanNet++ reader: the laser-scan mesh with its instance annotation, and iPhone (or undistorted DSLR) frames.

File names and formats follow the official toolkit (scannetpp/scannetpp: ``common/scene_release.py``,
``iphone/prepare_iphone_data.py``, ``dslr/undistort.py``, ``semantic/transforms/mesh.py``); docs/sources.md
cites each fact. The mesh is already in ScanNet++'s gravity-aligned frame (z up, metres), so no alignment is
applied; annotations use ScanNet's ``segIndices``/``segGroups`` scheme and are read by the ScanNet code.
"""

import csv
import io
import logging
import re
from abc import abstractmethod
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field

from ladderdata.errors import ConfigError, CorruptFileError, InconsistentScanError, MissingFileError
from ladderdata.geometry.camera import CameraIntrinsics
from ladderdata.layout import is_safe_name
from ladderdata.sources.base import (
    SCANS_HINT,
    DataTerms,
    FrameSource,
    Scan,
    ScanSource,
    ScanSourceConfig,
    read_id_list,
    register_source,
)
from ladderdata.sources.files import ascii_int, field, numbers, read_json_object
from ladderdata.sources.frames import read_image
from ladderdata.sources.labels import LabelEntry, LabelTable, read_table_text
from ladderdata.sources.scannet import build_objects, read_segments
from ladderdata.sources.validate import drop_outliers, image_size, pinhole, read_mesh, same_size
from ladderdata.typed import DepthMM, ImageRGB, IntArray, Poses

log = logging.getLogger(__name__)

DATA_DIR = "data"
SPLITS_DIR = "splits"
#: ``--split`` names -> the official split lists under ``splits/`` (other names are looked up as given).
SPLIT_FILES = {"train": "nvs_sem_train", "val": "nvs_sem_val", "test": "sem_test"}
CLASSES_FILE = Path("metadata/semantic_benchmark/top100.txt")
LABEL_MAP_FILE = Path("metadata/semantic_benchmark/map_benchmark.csv")
FRAME_NAME = re.compile(r"^frame_([0-9]{1,18})$")
DSLR_NAME = re.compile(r"(?<![0-9])([0-9]{1,18})(?![0-9])")
#: nerfstudio poses are OpenGL cameras (y up, z backwards): flip y and z to get OpenCV's.
OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])
FOCAL = ("fl_x", "fl_y", "cx", "cy")
MASK_VALID = 255
"""Anonymisation masks: 255 where the image is unchanged, lower where people or faces were blurred."""


def whole_number(scan_id: str, path: Path, value: Any, what: str) -> int:
    """A JSON number that must be a whole number (an image size)."""
    number = float(numbers(scan_id, path, value, (1,), what)[0])
    if not np.isfinite(number) or number != round(number):
        raise CorruptFileError(scan_id, path, f"{what} is {value!r}, not a whole number")
    return int(number)


class ScanNetPPPaths:
    """Every path of one ScanNet++ scene (``common/scene_release.py`` of the official toolkit)."""

    def __init__(self, scene_dir: Path) -> None:
        self.scene_dir = scene_dir
        scans = scene_dir / "scans"
        self.mesh = scans / "mesh_aligned_0.05.ply"
        self.segments = scans / "segments.json"
        self.annotation = scans / "segments_anno.json"
        iphone = scene_dir / "iphone"
        self.iphone = iphone
        self.iphone_video = iphone / "rgb.mp4"
        self.iphone_rgb = iphone / "rgb"
        self.iphone_masks = iphone / "rgb_masks"
        self.iphone_depth = iphone / "depth"
        self.iphone_poses = iphone / "pose_intrinsic_imu.json"
        dslr = scene_dir / "dslr"
        self.dslr = dslr
        self.dslr_images = dslr / "undistorted_images"
        self.dslr_masks = dslr / "undistorted_anon_masks"
        self.dslr_transforms = dslr / "nerfstudio" / "transforms_undistorted.json"
        self.dslr_fisheye_transforms = dslr / "nerfstudio" / "transforms.json"

    def iphone_frame(self, folder: Path, frame_id: int, suffix: str) -> Path:
        return folder / f"frame_{frame_id:06d}{suffix}"


class ScanNetPPSourceConfig(ScanSourceConfig):
    """Where ScanNet++ scenes live and which camera to read. ``root`` is the download folder::

        root/
          data/<scene_id>/                       # 10 hex characters, e.g. 355e5e32db
            scans/mesh_aligned_0.05.ply  segments.json  segments_anno.json
            iphone/pose_intrinsic_imu.json       # per frame: aligned_pose, intrinsic, timestamp
            iphone/rgb/frame_000000.jpg ...      # extracted by iphone/prepare_iphone_data.py (or rgb.mp4)
            iphone/rgb_masks/frame_000000.png    # anonymisation masks (optional)
            iphone/depth/frame_000000.png        # uint16 mm, 256x192 (optional)
            dslr/undistorted_images/ dslr/undistorted_anon_masks/ dslr/nerfstudio/transforms_undistorted.json
          splits/nvs_sem_train.txt nvs_sem_val.txt sem_test.txt
          metadata/semantic_benchmark/top100.txt map_benchmark.csv

    A folder of ``<scene_id>/`` folders (no ``data/``) is accepted as a root too.
    """

    source: Literal["scannetpp"] = "scannetpp"

    camera: Literal["iphone", "dslr"] = "iphone"
    """iPhone video frames (timed, with depth) or undistorted DSLR photos (untimed, no depth)."""
    classes: Path | None = None
    """Label vocabulary, one class a line; default ``root/metadata/semantic_benchmark/top100.txt``. Objects whose
    (mapped) label is not listed are measured and occlude but are not asked about unless the recipe keeps them."""
    label_map: Path | None = None
    """Raw label -> class (``class``, ``semantic_map_to``, ``count`` columns); default
    ``root/metadata/semantic_benchmark/map_benchmark.csv`` when present."""
    split_dir: Path | None = None
    """Folder of the split lists; default ``root/splits``."""
    max_masked_fraction: float = Field(0.05, ge=0, le=1)
    """Frames whose anonymisation mask blurs more than this fraction of the image are not used (their pose is
    masked like an invalid one)."""
    surface_spacing: float = Field(0.02, ge=0.001, le=1.0)
    """Spacing of object surface samples, metres."""


def read_label_table(classes_path: Path, map_path: Path | None) -> LabelTable:
    """ScanNet++'s vocabulary as a label table: every listed class names itself, and ``map_benchmark.csv`` maps
    raw labels onto classes (``books`` -> ``book``). No NYU40 classes: the class list is the vocabulary. Both are
    shared by every scene: a missing, binary or malformed one is a ``ConfigError`` (it stops the run at its start)."""
    if not classes_path.is_file():
        raise ConfigError(f"ScanNet++ class list not found at {classes_path}; pass its path (classes)")
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
        return read_label_table(self.config.classes or root / CLASSES_FILE, label_map)

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
                f"split list {path.name} not found in {path.parent}; pass the folder holding it (split_dir) "
                "or an explicit list of scans"
            )
        wanted = set(read_id_list(path))
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
            folders = [paths.dslr_images, paths.dslr_masks]
            files.append(paths.dslr_transforms)
        else:
            folders = [paths.iphone_rgb, paths.iphone_masks, paths.iphone_depth]
            files.append(paths.iphone_poses)
            if not paths.iphone_rgb.is_dir():
                files.append(paths.iphone_video)
        return files + sorted(p for d in folders if d.is_dir() for p in d.iterdir() if p.is_file())

    def load(self, scan_id: str) -> Scan:
        paths = self.paths(scan_id)
        raw_mesh = read_mesh(scan_id, paths.mesh)
        mesh, kept = drop_outliers(scan_id, paths.mesh, raw_mesh)
        seg = read_segments(scan_id, paths.segments, len(raw_mesh.vertices))[kept]
        objects = build_objects(scan_id, paths.annotation, mesh, seg, self.labels, self.config.surface_spacing)
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


class _MaskedFrames(FrameSource):
    """Frames whose anonymisation masks (255 = untouched) may rule them out."""

    def __init__(self, scan_id: str, mask_dir: Path, max_masked_fraction: float) -> None:
        super().__init__(scan_id)
        self.mask_dir = mask_dir
        self.max_masked_fraction = max_masked_fraction

    @abstractmethod
    def mask_path(self, frame_id: int) -> Path: ...

    @cached_property
    def anonymised(self) -> np.ndarray:
        """(T,) True where the frame's mask blurs more than ``max_masked_fraction`` of it (no masks: none)."""
        flags = np.zeros(len(self.frame_ids), dtype=bool)
        if not self.mask_dir.is_dir():
            return flags
        for i, frame_id in enumerate(self.frame_ids):
            path = self.mask_path(int(frame_id))
            if path.is_file():
                mask = read_image(self.scan_id, path, cv2.IMREAD_GRAYSCALE)
                flags[i] = float((mask < MASK_VALID).mean()) > self.max_masked_fraction
        return flags

    def _masked(self, poses: Poses) -> Poses:
        out = poses.copy()
        out[self.anonymised] = np.nan
        return out


class IPhoneFrames(_MaskedFrames):
    """iPhone frames: ``rgb/frame_NNNNNN.jpg`` (or the ``rgb.mp4`` video), poses, intrinsics and timestamps from
    ``pose_intrinsic_imu.json`` (``aligned_pose``: camera-to-world in the mesh frame, OpenCV axes), depth from
    ``depth/frame_NNNNNN.png`` when extracted. Frame ids are the video's frame numbers."""

    layout = "iphone"

    def __init__(self, scan_id: str, paths: ScanNetPPPaths, max_masked_fraction: float) -> None:
        super().__init__(scan_id, paths.iphone_masks, max_masked_fraction)
        self.paths = paths
        path = paths.iphone_poses
        data = read_json_object(scan_id, path)
        entries: dict[int, Any] = {}
        for key, value in data.items():
            m = FRAME_NAME.match(key)
            if m is None:
                raise CorruptFileError(scan_id, path, f"key {key!r} is not a frame name (frame_NNNNNN)")
            entries[int(m.group(1))] = value
        self.video: cv2.VideoCapture | None = None
        if paths.iphone_rgb.is_dir():
            found = (ascii_int(p.stem[6:]) for p in paths.iphone_rgb.glob("frame_*.jpg"))
            stored = {n for n in found if n is not None}
            ids = sorted(set(entries) & stored)
            if not ids:
                raise MissingFileError(scan_id, paths.iphone_rgb, f"no frame_NNNNNN.jpg listed in {path.name}")
            first = read_image(scan_id, paths.iphone_frame(paths.iphone_rgb, ids[0], ".jpg"), cv2.IMREAD_COLOR)
            height, width = first.shape[:2]
        elif paths.iphone_video.is_file():
            ids = sorted(entries)
            width, height = self._video_size()
        else:
            raise MissingFileError(scan_id, paths.iphone_rgb, f"no extracted rgb/ frames and no {paths.iphone_video}")
        self._ids: IntArray = np.array(ids, dtype=np.int64)
        poses, ks, times = [], [], []
        for frame_id in ids:
            entry = entries[frame_id]
            where = f"frame_{frame_id:06d}"
            poses.append(numbers(scan_id, path, field(scan_id, path, entry, "aligned_pose", where), (4, 4), where))
            ks.append(numbers(scan_id, path, field(scan_id, path, entry, "intrinsic", where), (3, 3), where))
            times.append(numbers(scan_id, path, field(scan_id, path, entry, "timestamp", where), (1,), where)[0])
        self._raw = np.stack(poses)
        K = np.median(np.stack(ks), axis=0)  # ARKit refines the focal length slightly from frame to frame
        self._color = pinhole(scan_id, path, K[0, 0], K[1, 1], K[0, 2], K[1, 2], width, height)
        t = np.array(times)
        if not np.isfinite(t).all() or (np.diff(t) <= 0).any():
            raise InconsistentScanError(scan_id, path, "frame timestamps are not finite and increasing")
        self._times: IntArray = np.round((t - t[0]) * 1e6).astype(np.int64)
        self._depth: CameraIntrinsics | None = None
        depth_first = paths.iphone_frame(paths.iphone_depth, ids[0], ".png")
        if depth_first.is_file():
            depth = read_image(scan_id, depth_first, cv2.IMREAD_UNCHANGED)
            self._depth = self._color.scaled_to(depth.shape[1], depth.shape[0])

    def _video_size(self) -> tuple[int, int]:
        capture = self._capture()
        size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        return image_size(self.scan_id, self.paths.iphone_video, *size, "video frame")

    def _capture(self) -> cv2.VideoCapture:
        if self.video is None:
            self.video = cv2.VideoCapture(str(self.paths.iphone_video))
            if not self.video.isOpened():
                raise CorruptFileError(self.scan_id, self.paths.iphone_video, "video does not open")
        return self.video

    def mask_path(self, frame_id: int) -> Path:
        return self.paths.iphone_frame(self.paths.iphone_masks, frame_id, ".png")

    @property
    def frame_ids(self) -> IntArray:
        return self._ids

    @cached_property
    def raw_poses(self) -> Poses:
        return self._masked(self._raw)

    @property
    def timestamps_us(self) -> IntArray:
        return self._times

    @property
    def color_intrinsics(self) -> CameraIntrinsics:
        return self._color

    @property
    def depth_intrinsics(self) -> CameraIntrinsics | None:
        return self._depth

    @property
    def poses_file(self) -> Path:
        return self.paths.iphone_poses

    def color_file(self, frame_id: int) -> Path:
        self.position(frame_id)
        if self.paths.iphone_rgb.is_dir():
            return self.paths.iphone_frame(self.paths.iphone_rgb, frame_id, ".jpg")
        return self.paths.iphone_video

    def read_color(self, frame_id: int) -> ImageRGB:
        path = self.color_file(frame_id)
        if self.paths.iphone_rgb.is_dir():
            bgr = read_image(self.scan_id, path, cv2.IMREAD_COLOR)
        else:
            capture = self._capture()
            capture.set(cv2.CAP_PROP_POS_FRAMES, frame_id)
            ok, bgr = capture.read()
            if not ok:
                raise CorruptFileError(self.scan_id, path, f"frame {frame_id} does not decode")
        K = self._color
        same_size(self.scan_id, path, (bgr.shape[1], bgr.shape[0]), (K.width, K.height), f"colour frame {frame_id}")
        return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)

    def read_color_jpeg(self, frame_id: int) -> bytes:
        if not self.paths.iphone_rgb.is_dir():
            return super().read_color_jpeg(frame_id)
        path = self.color_file(frame_id)
        if not path.is_file():
            raise MissingFileError(self.scan_id, path, "file not found")
        return path.read_bytes()

    def read_depth(self, frame_id: int) -> DepthMM:
        self.position(frame_id)
        path = self.paths.iphone_frame(self.paths.iphone_depth, frame_id, ".png")
        depth = read_image(self.scan_id, path, cv2.IMREAD_UNCHANGED)
        if depth.dtype != np.uint16 or depth.ndim != 2:
            raise CorruptFileError(self.scan_id, path, f"depth must be single-channel uint16, got {depth.dtype}")
        if self._depth is not None:
            declared = (self._depth.width, self._depth.height)
            same_size(self.scan_id, path, (depth.shape[1], depth.shape[0]), declared, f"depth frame {frame_id}")
        return depth


class DslrFrames(_MaskedFrames):
    """Undistorted DSLR photos (``dslr/undistort.py`` of the toolkit): ``nerfstudio/transforms_undistorted.json``
    (PINHOLE intrinsics, OpenGL camera-to-world ``transform_matrix`` per frame, ``is_bad`` flags), images in
    ``undistorted_images/``, masks in ``undistorted_anon_masks/``. Photos have no timestamps: time is unknown.
    Frame ids are the numbers in the file names (``DSC01234.JPG`` -> 1234)."""

    layout = "dslr"

    def __init__(self, scan_id: str, paths: ScanNetPPPaths, max_masked_fraction: float) -> None:
        super().__init__(scan_id, paths.dslr_masks, max_masked_fraction)
        self.paths = paths
        path = paths.dslr_transforms
        if not path.is_file() and paths.dslr_fisheye_transforms.is_file():
            raise MissingFileError(
                scan_id, path, "DSLR photos are fisheye: run the ScanNet++ toolkit's dslr/undistort.py first"
            )
        data = read_json_object(scan_id, path)
        model = data.get("camera_model", "PINHOLE")
        if model != "PINHOLE":
            raise InconsistentScanError(scan_id, path, f"camera_model is {model!r}, expected PINHOLE (undistorted)")
        frames = field(scan_id, path, data, "frames")
        if not isinstance(frames, list) or not frames:
            raise CorruptFileError(scan_id, path, "'frames' is not a non-empty list")
        by_id: dict[int, tuple[str, str | None, Any, bool]] = {}
        for frame in frames:
            name = str(field(scan_id, path, frame, "file_path", "a frame"))
            m = DSLR_NAME.search(Path(name).stem)
            if m is None:
                raise CorruptFileError(scan_id, path, f"frame file {name!r} has no number")
            mask = frame.get("mask_path")
            matrix = field(scan_id, path, frame, "transform_matrix", name)
            by_id[int(m.group(1))] = (name, None if mask is None else str(mask), matrix, bool(frame.get("is_bad")))
        self._ids: IntArray = np.array(sorted(by_id), dtype=np.int64)
        self._files = {i: by_id[i][0] for i in by_id}
        self._masks = {i: by_id[i][1] for i in by_id}
        raw = np.stack([numbers(scan_id, path, by_id[i][2], (4, 4), by_id[i][0]) for i in self._ids])
        raw = raw @ OPENGL_TO_OPENCV
        raw[[by_id[int(i)][3] for i in self._ids]] = np.nan
        self._raw = raw
        fx, fy, cx, cy = (float(numbers(scan_id, path, field(scan_id, path, data, k), (1,), k)[0]) for k in FOCAL)
        width, height = (whole_number(scan_id, path, field(scan_id, path, data, k), k) for k in ("w", "h"))
        self._color = pinhole(scan_id, path, fx, fy, cx, cy, width, height)

    def mask_path(self, frame_id: int) -> Path:
        mask = self._masks.get(frame_id)
        return self.paths.dslr_masks / (mask or f"{Path(self._files[frame_id]).stem}.png")

    @property
    def frame_ids(self) -> IntArray:
        return self._ids

    @cached_property
    def raw_poses(self) -> Poses:
        return self._masked(self._raw)

    @property
    def timestamps_us(self) -> None:
        return None

    @property
    def color_intrinsics(self) -> CameraIntrinsics:
        return self._color

    @property
    def depth_intrinsics(self) -> None:
        return None

    def color_file(self, frame_id: int) -> Path:
        self.position(frame_id)
        return self.paths.dslr_images / self._files[frame_id]

    @property
    def poses_file(self) -> Path:
        return self.paths.dslr_transforms

    def read_color(self, frame_id: int) -> ImageRGB:
        path = self.color_file(frame_id)
        bgr = read_image(self.scan_id, path, cv2.IMREAD_COLOR)
        K = self._color
        same_size(self.scan_id, path, (bgr.shape[1], bgr.shape[0]), (K.width, K.height), f"colour frame {frame_id}")
        return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)

    def read_color_jpeg(self, frame_id: int) -> bytes:
        path = self.color_file(frame_id)
        if path.suffix.lower() not in (".jpg", ".jpeg"):
            return super().read_color_jpeg(frame_id)
        if not path.is_file():
            raise MissingFileError(self.scan_id, path, "file not found")
        return path.read_bytes()

    def read_depth(self, frame_id: int) -> DepthMM:
        raise MissingFileError(self.scan_id, self.paths.dslr, "DSLR photos have no depth frames")
