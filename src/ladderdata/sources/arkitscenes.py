"""ARKitScenes 3DOD reader: the ARKit mesh of a video, its oriented-box annotations and its low-resolution frames.

File names and formats follow the official repository (apple/ARKitScenes: ``threedod/README.md``, ``DATA.md``,
``threedod/benchmark_scripts/utils/tenFpsDataLoader.py``, ``box_utils.py``, ``rectify_im.py``); docs/sources.md
cites each fact. The world frame is ARKit's gravity-aligned one with z up, metres, so no alignment is applied.
Objects are the annotated oriented boxes with the mesh inside them (:mod:`ladderdata.sources.arkitscenes_boxes`).

Frames are turned upright: a video shot in portrait (or upside down) has its images, intrinsics and poses turned
by quarter turns so that the world's up is up in every image (the majority orientation of the video's poses,
decided per frame as ``rectify_im.py`` does).
"""

import csv
import io
import logging
import re
from functools import cached_property
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from ladderdata.errors import ConfigError, CorruptFileError, InconsistentScanError, MissingFileError
from ladderdata.geometry.camera import CameraIntrinsics, turn_camera, turn_image, valid_pose_mask
from ladderdata.layout import SCANS_HINT
from ladderdata.sources.arkitscenes_boxes import build_box_objects, read_annotation
from ladderdata.sources.base import DataTerms, FrameSource, Scan, ScanSource, ScanSourceConfig, register_source
from ladderdata.sources.files import read_text
from ladderdata.sources.frames import read_image
from ladderdata.sources.labels import read_table_text
from ladderdata.sources.validate import drop_outliers, image_size, pinhole, read_mesh, same_size
from ladderdata.typed import DepthMM, FloatArray, ImageRGB, IntArray, Poses

log = logging.getLogger(__name__)

#: ``--split`` names -> the fold folders of a 3DOD download.
FOLDS = {"train": "Training", "val": "Validation"}
#: Tables that list each video's visit (venue): the 3DOD split list and the raw dataset's metadata.
VISIT_TABLES = ("3dod_train_val_splits.csv", "metadata.csv")
VIDEO_ID = re.compile(r"[0-9]{1,18}")
#: ARKit's colour stream runs at 60 Hz (the raw README's "60FPS" assets): frame ids count its frames.
STREAM_FPS = 60.0
#: Poses are matched to frames by timestamp, within this many seconds (the 3DOD loader allows 5 ms).
POSE_MATCH_S = 0.005
#: Which way is up in a sensor image, by ``rectify_im.decide_pose`` index (upright, left, upside down, right),
#: and the clockwise quarter turns that make it upright.
UP_DIRECTIONS = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


class ARKitScenesSourceConfig(ScanSourceConfig):
    """Where ARKitScenes 3DOD videos live. ``root`` is the download folder (``download_data.py 3dod``)::

        root/
          Training/<video_id>/                     # and Validation/<video_id>/
            <video_id>_3dod_mesh.ply
            <video_id>_3dod_annotation.json        # data[]: label, uid, segments.obbAligned{centroid,
                                                   #   axesLengths, normalizedAxes}
            <video_id>_frames/
              lowres_wide/<video_id>_<timestamp>.png           # 256x192 RGB
              lowres_depth/<video_id>_<timestamp>.png          # uint16 millimetres (optional)
              lowres_wide_intrinsics/<video_id>_<timestamp>.pincam   # "w h fx fy cx cy"
              lowres_wide.traj                     # "timestamp rx ry rz tx ty tz", world -> camera
          3dod_train_val_splits.csv                # video_id, visit_id, fold (rooms; optional)

    The frames may also sit directly in ``<video_id>/`` (the raw dataset's layout), and a folder of
    ``<video_id>/`` folders (no fold folders) is accepted as a root.
    """

    source: Literal["arkitscenes"] = "arkitscenes"

    visits: Path | None = None
    """Table with ``video_id`` and ``visit_id`` columns; default the first of ``root/3dod_train_val_splits.csv``,
    ``root/metadata.csv`` present. Videos of one visit are one room; without the table each video is its own."""
    floor_tolerance: float = Field(0.05, gt=0, le=10)
    """Upward-facing triangles within this many metres of the floor height are the floor."""
    surface_spacing: float = Field(0.02, ge=0.001, le=1.0)
    """Spacing of object surface samples, metres."""


class VideoPaths:
    """Every path of one 3DOD video."""

    def __init__(self, video_dir: Path) -> None:
        vid = video_dir.name
        self.video_id = vid
        self.video_dir = video_dir
        self.mesh = video_dir / f"{vid}_3dod_mesh.ply"
        self.annotation = video_dir / f"{vid}_3dod_annotation.json"
        frames = video_dir / f"{vid}_frames"
        self.frames = frames if frames.is_dir() else video_dir
        self.color = self.frames / "lowres_wide"
        self.depth = self.frames / "lowres_depth"
        self.intrinsics = self.frames / "lowres_wide_intrinsics"
        self.trajectory = self.frames / "lowres_wide.traj"

    def frame_file(self, folder: Path, stamp: str, suffix: str) -> Path:
        return folder / f"{self.video_id}_{stamp}{suffix}"


@register_source("arkitscenes")
class ARKitScenesSource(ScanSource):
    """Reads ARKitScenes 3DOD videos (and the synthetic ones ``ladder synth --format arkitscenes`` writes)."""

    config: ARKitScenesSourceConfig
    config_class = ARKitScenesSourceConfig
    looks_for = "<video_id>/<video_id>_3dod_mesh.ply (in Training/, Validation/ or the root)"
    terms = DataTerms(
        "ARKitScenes license", "arkitscenes-license", "https://github.com/apple/ARKitScenes/blob/main/LICENSE"
    )

    @classmethod
    def detect(cls, root: Path) -> bool:
        return any(root.glob("*/*/*_3dod_mesh.ply")) or any(root.glob("*/*_3dod_mesh.ply"))

    def __init__(self, config: ARKitScenesSourceConfig) -> None:
        super().__init__(config)
        if not config.root.is_dir():
            raise ConfigError(f"--scans {config.root} is not a folder: {SCANS_HINT}")

    @cached_property
    def _video_dirs(self) -> dict[str, tuple[str | None, Path]]:
        """video id -> (fold, folder)."""
        root = self.config.root
        found: dict[str, tuple[str | None, Path]] = {}
        folds: list[tuple[str | None, Path]] = [(f, root / f) for f in FOLDS.values() if (root / f).is_dir()]
        for fold, parent in folds or [(None, root)]:
            for d in sorted(parent.iterdir()):
                if d.is_dir() and VIDEO_ID.fullmatch(d.name):
                    if d.name in found:
                        raise ConfigError(f"video {d.name} is in both {found[d.name][1].parent} and {parent}")
                    found[d.name] = (fold, d)
        return dict(sorted(found.items()))

    @cached_property
    def visits(self) -> dict[str, str]:
        """video id -> visit id, from the visits table (empty without one)."""
        path = self.config.visits
        if path is None:
            path = next((self.config.root / n for n in VISIT_TABLES if (self.config.root / n).is_file()), None)
        elif not path.is_file():
            raise ConfigError(f"visits table {path} not found")
        if path is None:
            return {}
        reader = csv.DictReader(io.StringIO(read_table_text(path, "visits table"), newline=""))
        if not {"video_id", "visit_id"} <= set(reader.fieldnames or []):
            raise ConfigError(f"visits table {path} lacks the video_id and visit_id columns")
        rows = {}
        try:
            for row in reader:
                video, visit = row["video_id"], row["visit_id"]
                if video is None or visit is None:
                    raise ConfigError(f"visits table {path} line {reader.line_num}: too few fields (truncated?)")
                rows[video.strip()] = visit.strip()
        except csv.Error as e:
            raise ConfigError(f"visits table {path} line {reader.line_num}: {e}") from None
        return {video: visit for video, visit in rows.items() if visit and visit != "NA"}

    def check(self) -> None:
        super().check()
        self.visits  # noqa: B018 (reads and checks the visits table)

    def room(self, scan_id: str) -> str:
        """Videos of one visit were shot in one venue: the visit is the room (``visit_<id>``)."""
        visit = self.visits.get(scan_id)
        return f"visit_{visit}" if visit is not None else scan_id

    def scan_ids(self, split: str | None = None) -> list[str]:
        if split is None:
            return list(self._video_dirs)
        fold = FOLDS.get(split)
        if fold is None or not (self.config.root / fold).is_dir():
            raise ConfigError(
                f"no {fold or split} folder under {self.config.root} (splits: train = Training/, val = Validation/); "
                "pass an explicit list of scans"
            )
        return [v for v, (f, _) in self._video_dirs.items() if f == fold]

    def paths(self, scan_id: str) -> VideoPaths:
        if scan_id not in self._video_dirs:
            raise ConfigError(f"no video '{scan_id}' under {self.config.root}")
        return VideoPaths(self._video_dirs[scan_id][1])

    def location(self, scan_id: str) -> Path:
        return self.paths(scan_id).video_dir

    def open_frames(self, scan_id: str) -> FrameSource:
        return LowresFrames(scan_id, self.paths(scan_id))

    def input_files(self, scan_id: str) -> list[Path]:
        paths = self.paths(scan_id)
        files = [paths.mesh, paths.annotation, paths.trajectory]
        folders = [paths.color, paths.depth, paths.intrinsics]
        return files + sorted(p for d in folders if d.is_dir() for p in d.iterdir() if p.is_file())

    def key_settings(self) -> str:
        # rooms are not measurements: the visits table changes no cached metadata
        return self.config.model_dump_json(include={"source", "floor_tolerance", "surface_spacing"})

    def load(self, scan_id: str) -> Scan:
        paths = self.paths(scan_id)
        mesh, _ = drop_outliers(scan_id, paths.mesh, read_mesh(scan_id, paths.mesh))
        annotated = read_annotation(scan_id, paths.annotation)
        objects = build_box_objects(
            scan_id, paths.annotation, mesh, annotated, self.config.floor_tolerance, self.config.surface_spacing
        )
        frames = self.open_frames(scan_id)
        scan = Scan(scan_id=scan_id, mesh=mesh, objects=objects, frames=frames, axis_alignment=np.eye(4))
        unknown = scan.unknown_labels
        if unknown:
            log.warning(
                "%s: %d boxes have labels outside the 3DOD classes: %s",
                scan_id,
                sum(unknown.values()),
                ", ".join(f"{label} ({n})" for label, n in unknown.items()),
            )
        if scan.num_invalid_poses:
            log.info("%s: %d of %d frames have no usable pose", scan_id, scan.num_invalid_poses, len(scan.valid_poses))
        return scan


def read_pincam(scan_id: str, path: Path) -> tuple[int, int, float, float, float, float]:
    """``width height fx fy cx cy`` of a ``.pincam`` file."""
    try:
        values = [float(v) for v in read_text(scan_id, path).split()]
    except ValueError:
        raise CorruptFileError(scan_id, path, "not six numbers (w h fx fy cx cy)") from None
    if len(values) != 6:
        raise CorruptFileError(scan_id, path, f"{len(values)} numbers, expected 6 (w h fx fy cx cy)")
    w, h, fx, fy, cx, cy = values
    if not (np.isfinite([w, h]).all() and w == round(w) and h == round(h)):
        raise InconsistentScanError(scan_id, path, f"image size {w} x {h} is not a whole number of pixels")
    width, height = image_size(scan_id, path, int(w), int(h), "intrinsics' image")
    return width, height, fx, fy, cx, cy


def read_trajectory(scan_id: str, path: Path) -> tuple[FloatArray, Poses]:
    """(N,) timestamps and (N, 4, 4) camera-to-world poses of ``lowres_wide.traj`` (each line: timestamp,
    axis-angle rotation and translation of the world-to-camera transform, as ``TrajStringToMatrix`` reads it)."""
    times, poses = [], []
    for n, line in enumerate(read_text(scan_id, path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values = np.array(line.split(), dtype=np.float64)
        except ValueError:
            raise CorruptFileError(scan_id, path, f"line {n} is not numbers") from None
        if values.size != 7:
            raise CorruptFileError(scan_id, path, f"line {n} has {values.size} numbers, expected 7")
        world_to_camera = np.eye(4)
        world_to_camera[:3, :3] = cv2.Rodrigues(values[1:4])[0]
        world_to_camera[:3, 3] = values[4:7]
        if not np.isfinite(values[0]):
            raise CorruptFileError(scan_id, path, f"line {n} has timestamp {values[0]}")
        times.append(values[0])
        poses.append(np.linalg.inv(world_to_camera) if np.isfinite(values).all() else np.full((4, 4), np.nan))
    if not times:
        raise CorruptFileError(scan_id, path, "no poses")
    return np.array(times), np.stack(poses)


#: A trajectory whose first and last timestamps are both this far (seconds) on the same side of the frames' and
#: by about the same amount (:data:`SHIFT_AGREEMENT` of it) runs on a shifted clock.
MIN_CLOCK_SHIFT_S, SHIFT_AGREEMENT = 0.5, 0.2


def shifted_clock(scan_id: str, path: Path, frame_times: FloatArray, traj_times: FloatArray) -> None:
    """Refuse a trajectory whose timestamps are the frames' shifted by a constant (an export that added an offset,
    another clock): matched by time, every frame would take the pose of a frame a whole number of periods away,
    which the pose matching cannot tell from a true match. Seen as both ends offset alike; a trajectory that
    merely starts late or ends early (tracking began after recording) is not refused."""
    start, end = traj_times[0] - frame_times[0], traj_times[-1] - frame_times[-1]
    same_side = np.sign(start) == np.sign(end)
    if (
        same_side
        and min(abs(start), abs(end)) >= MIN_CLOCK_SHIFT_S
        and abs(start - end) <= SHIFT_AGREEMENT * abs(start)
    ):
        raise InconsistentScanError(
            scan_id,
            path,
            f"the trajectory's timestamps run {start:+.3f} s from the frames' at the start and {end:+.3f} s at the "
            "end: a shifted clock, which would give every frame another frame's pose",
        )


def upright_turns(poses: Poses) -> int:
    """Clockwise quarter turns that make a video's frames upright: per valid frame, the image direction the
    world's +z points to most (``rectify_im.decide_pose``), the most common one over the video."""
    valid = valid_pose_mask(poses)
    if not valid.any():
        return 0
    up_in_camera = poses[valid][:, 2, :3]  # world +z in camera coordinates
    votes = np.bincount(np.argmax(up_in_camera @ UP_DIRECTIONS.T, axis=1), minlength=4)
    return int(np.argmax(votes))


class LowresFrames(FrameSource):
    """``lowres_wide`` frames of a video, turned upright. Frame ids count 60 Hz stream frames from the first
    frame (``round((t - t0) * 60)``), so they are sparse where the 3DOD subset keeps fewer frames; times come
    from the file names (seconds). Every frame has its own intrinsics (its ``.pincam``: ARKit refines the focal
    length frame by frame)."""

    layout = "lowres_wide"

    def __init__(self, scan_id: str, paths: VideoPaths) -> None:
        super().__init__(scan_id)
        self.paths = paths
        if not paths.color.is_dir():
            raise MissingFileError(scan_id, paths.color, "no lowres_wide frames folder")
        prefix = f"{paths.video_id}_"
        stamps = {}
        for p in paths.color.glob("*.png"):
            stamp = p.stem[len(prefix) :] if p.stem.startswith(prefix) else ""
            try:
                time = float(stamp)
            except ValueError:
                time = np.nan
            if not np.isfinite(time):
                raise CorruptFileError(scan_id, p, f"not named {prefix}<timestamp>.png")
            stamps[time] = stamp
        if not stamps:
            raise MissingFileError(scan_id, paths.color, "no frames")
        times = np.array(sorted(stamps))
        self._stamps = [stamps[t] for t in times]
        ids = np.round((times - times[0]) * STREAM_FPS).astype(np.int64)
        if (np.diff(ids) <= 0).any():
            raise InconsistentScanError(scan_id, paths.color, "two frames less than a 60 Hz frame apart")
        self._ids: IntArray = ids
        self._times: IntArray = np.round((times - times[0]) * 1e6).astype(np.int64)
        traj_times, traj_poses = read_trajectory(scan_id, paths.trajectory)
        shifted_clock(scan_id, paths.trajectory, times, traj_times)
        nearest = np.abs(times[:, None] - traj_times[None, :]).argmin(axis=1)
        matched = np.abs(traj_times[nearest] - times) <= POSE_MATCH_S
        sensor_poses = np.where(matched[:, None, None], traj_poses[nearest], np.nan)
        first = read_image(scan_id, paths.frame_file(paths.color, self._stamps[0], ".png"), cv2.IMREAD_UNCHANGED)
        height, width = first.shape[:2]
        self._sensor_size = (width, height)
        sensor_ks = [self._sensor_camera(stamp) for stamp in self._stamps]
        self.turns = upright_turns(sensor_poses)
        # a quarter turn moves the camera about its optical axis whatever its intrinsics: one K turns every pose
        self._poses = np.stack([turn_camera(sensor_ks[0], p, self.turns)[1] for p in sensor_poses])
        self._colors = [turn_camera(k, np.eye(4), self.turns)[0] for k in sensor_ks]
        self._depths: list[CameraIntrinsics] | None = None
        depth_first = paths.frame_file(paths.depth, self._stamps[0], ".png")
        self._depth_size: tuple[int, int] | None = None
        if depth_first.is_file():
            depth = read_image(scan_id, depth_first, cv2.IMREAD_UNCHANGED)
            self._depth_size = (depth.shape[1], depth.shape[0])
            self._depths = [turn_camera(k.scaled_to(*self._depth_size), np.eye(4), self.turns)[0] for k in sensor_ks]

    def pincam_file(self, stamp: str) -> Path:
        """The intrinsics of the frame taken at ``stamp``: ``<video_id>_<stamp>.pincam``, or the file named 1 ms
        earlier or later when there is none (``tenFpsDataLoader`` looks for ``t - 0.001`` then ``t + 0.001``)."""
        paths = self.paths
        time = float(stamp)
        names = (stamp, f"{time - 0.001:.3f}", f"{time + 0.001:.3f}")
        for name in names:
            path = paths.frame_file(paths.intrinsics, name, ".pincam")
            if path.is_file():
                return path
        expected = paths.frame_file(paths.intrinsics, stamp, ".pincam")
        raise MissingFileError(
            self.scan_id, expected, f"no intrinsics for frame {stamp} (nor named {names[1]} or {names[2]}, 1 ms apart)"
        )

    def _sensor_camera(self, stamp: str) -> CameraIntrinsics:
        """The sensor (not yet upright) camera of the frame taken at ``stamp``, from its ``.pincam``."""
        pincam = self.pincam_file(stamp)
        w, h, fx, fy, cx, cy = read_pincam(self.scan_id, pincam)
        width, height = self._sensor_size
        if (w, h) != (width, height):
            raise InconsistentScanError(
                self.scan_id, pincam, f"intrinsics for {w}x{h} images, frames are {width}x{height}"
            )
        return pinhole(self.scan_id, pincam, fx, fy, cx, cy, width, height)

    @property
    def frame_ids(self) -> IntArray:
        return self._ids

    @property
    def raw_poses(self) -> Poses:
        return self._poses

    @property
    def timestamps_us(self) -> IntArray:
        return self._times

    @property
    def color_intrinsics(self) -> CameraIntrinsics:
        return self._colors[0]

    @property
    def depth_intrinsics(self) -> CameraIntrinsics | None:
        return None if self._depths is None else self._depths[0]

    def frame_color_intrinsics(self, frame_id: int) -> CameraIntrinsics:
        return self._colors[self.position(frame_id)]

    def frame_depth_intrinsics(self, frame_id: int) -> CameraIntrinsics | None:
        return None if self._depths is None else self._depths[self.position(frame_id)]

    def color_file(self, frame_id: int) -> Path:
        return self.paths.frame_file(self.paths.color, self._stamps[self.position(frame_id)], ".png")

    @property
    def poses_file(self) -> Path:
        return self.paths.trajectory

    def read_color(self, frame_id: int) -> ImageRGB:
        path = self.color_file(frame_id)
        bgr = read_image(self.scan_id, path, cv2.IMREAD_COLOR)
        same_size(self.scan_id, path, (bgr.shape[1], bgr.shape[0]), self._sensor_size, f"colour frame {frame_id}")
        return np.asarray(turn_image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), self.turns), dtype=np.uint8)

    def read_depth(self, frame_id: int) -> DepthMM:
        stamp = self._stamps[self.position(frame_id)]
        path = self.paths.frame_file(self.paths.depth, stamp, ".png")
        depth = read_image(self.scan_id, path, cv2.IMREAD_UNCHANGED)
        if depth.dtype != np.uint16 or depth.ndim != 2:
            raise CorruptFileError(self.scan_id, path, f"depth must be single-channel uint16, got {depth.dtype}")
        if self._depth_size is not None:
            same_size(self.scan_id, path, (depth.shape[1], depth.shape[0]), self._depth_size, f"depth frame {frame_id}")
        return np.asarray(turn_image(depth, self.turns), dtype=np.uint16)
