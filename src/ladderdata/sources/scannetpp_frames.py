"""ScanNet++ scene layout and its two cameras: the paths of one scene, the iPhone frames (extracted JPEGs or the
colour video, masks, depth, ``pose_intrinsic_imu.json``) and the pinhole DSLR photos (nerfstudio transforms or a
COLMAP model). :mod:`ladderdata.sources.scannetpp` reads the scene's mesh and annotations and opens these frames.
"""

import re
from abc import abstractmethod
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ladderdata.errors import CorruptFileError, InconsistentScanError, MissingFileError
from ladderdata.geometry.camera import CameraIntrinsics
from ladderdata.sources.base import FrameSource, TimeBasis
from ladderdata.sources.colmap import camera_to_world, pinhole_camera, read_cameras_text, read_images_text
from ladderdata.sources.decoder import decoder_messages, open_video
from ladderdata.sources.files import ascii_int, field, numbers, read_json_object
from ladderdata.sources.frames import read_image
from ladderdata.sources.validate import image_size, pinhole, same_size
from ladderdata.typed import BoolArray, DepthMM, FloatArray, ImageRGB, IntArray, Matrix4, Poses

FRAME_NAME = re.compile(r"^frame_([0-9]{1,18})$")
DSLR_NAME = re.compile(r"(?<![0-9])([0-9]{1,18})(?![0-9])")
#: nerfstudio poses are OpenGL cameras (y up, z backwards): flip y and z to get OpenCV's.
OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])
FOCAL = ("fl_x", "fl_y", "cx", "cy")
#: The iPhone video's frame rate (``prepare_iphone_data.py``: "6 digit frame id = 277 minute video at 60 fps"):
#: frame ``n`` of the video was taken ``n / 60`` s after its first.
IPHONE_FPS = 60.0
MASK_BLURRED_BELOW = 128
"""Anonymisation masks are 255 where the image is unchanged and 0 where people or faces were blurred; a pixel
counts as blurred below half way, so that a lossy-coded mask video's near-255 pixels stay untouched."""
#: What to run when the DSLR photos are fisheye (the toolkit's README, "Undistortion").
UNDISTORT_HINT = (
    "read the undistorted photos instead: run the ScanNet++ toolkit's `python -m dslr.undistort "
    "dslr/configs/undistort.yml` (writes dslr/undistorted_images/ and dslr/nerfstudio/transforms_undistorted.json)"
)
#: What to run when only the mask video is there and it cannot be decoded.
EXTRACT_MASKS_HINT = (
    "extract the masks with the ScanNet++ toolkit's `python -m iphone.prepare_iphone_data "
    "iphone/configs/prepare_iphone_data.yml` (extract_masks: writes iphone/rgb_masks/)"
)


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
        #: The colour video: ``rgb.mkv`` in ScanNet++ v2 releases, ``rgb.mp4`` before.
        self.iphone_videos = (iphone / "rgb.mkv", iphone / "rgb.mp4")
        self.iphone_rgb = iphone / "rgb"
        self.iphone_mask_video = iphone / "rgb_mask.mkv"
        self.iphone_masks = iphone / "rgb_masks"
        self.iphone_depth = iphone / "depth"
        self.iphone_poses = iphone / "pose_intrinsic_imu.json"
        dslr = scene_dir / "dslr"
        self.dslr = dslr
        self.dslr_images = dslr / "undistorted_images"
        self.dslr_masks = dslr / "undistorted_anon_masks"
        self.dslr_transforms = dslr / "nerfstudio" / "transforms_undistorted.json"
        self.dslr_fisheye_transforms = dslr / "nerfstudio" / "transforms.json"
        self.dslr_colmap_cameras = dslr / "colmap" / "cameras.txt"
        self.dslr_colmap_images = dslr / "colmap" / "images.txt"
        self.dslr_resized_images = dslr / "resized_images"
        self.dslr_resized_masks = dslr / "resized_anon_masks"

    @property
    def iphone_video(self) -> Path | None:
        """The colour video present (``rgb.mkv`` first), None when there is none."""
        return next((p for p in self.iphone_videos if p.is_file()), None)

    def iphone_frame(self, folder: Path, frame_id: int, suffix: str) -> Path:
        return folder / f"frame_{frame_id:06d}{suffix}"


def damaged(scan_id: str, path: Path, what: str, messages: list[str]) -> None:
    """A ``CorruptFileError`` when the video decoder reported damage while decoding ``what`` (``decoder_messages``):
    the picture it returned is not the recorded one."""
    if messages:
        more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
        raise CorruptFileError(scan_id, path, f"{what} is damaged: the decoder says {messages[0]!r}{more}")


def masked_fraction(mask: np.ndarray) -> float:
    """Fraction of an anonymisation mask's pixels that were blurred (see :data:`MASK_BLURRED_BELOW`)."""
    return float((mask < MASK_BLURRED_BELOW).mean())


class _MaskedFrames(FrameSource):
    """Frames whose anonymisation masks may rule them out. When the scan has a masks folder, every frame's mask
    must be in it."""

    def __init__(self, scan_id: str, mask_dir: Path, max_masked_fraction: float) -> None:
        super().__init__(scan_id)
        self.mask_dir = mask_dir
        self.max_masked_fraction = max_masked_fraction

    @abstractmethod
    def mask_path(self, frame_id: int) -> Path: ...

    def masked_fractions(self) -> FloatArray:
        """(T,) fraction of each frame its mask blurs: from the masks folder, zeros when there is none."""
        if not self.mask_dir.is_dir():
            return np.zeros(len(self.frame_ids))
        return np.array([masked_fraction(self._mask(int(f))) for f in self.frame_ids])

    def _mask(self, frame_id: int) -> np.ndarray:
        """A frame's mask from the masks folder, checked to be of the frame's size (a mask of another size says
        nothing about which of the frame's pixels were blurred)."""
        path = self.mask_path(frame_id)
        mask = read_image(self.scan_id, path, cv2.IMREAD_GRAYSCALE)
        K = self.color_intrinsics
        same_size(self.scan_id, path, (mask.shape[1], mask.shape[0]), (K.width, K.height), f"mask {frame_id}")
        return mask

    @cached_property
    def anonymised(self) -> BoolArray:
        """(T,) True where the frame's mask blurs more than ``max_masked_fraction`` of it."""
        return np.asarray(self.masked_fractions() > self.max_masked_fraction, dtype=np.bool_)

    def _masked(self, poses: Poses) -> Poses:
        out = poses.copy()
        out[self.anonymised] = np.nan
        return out

    def _read_bgr(self, frame_id: int) -> np.ndarray:
        """A colour frame's file's pixels (BGR), checked to be of the colour camera's size."""
        path = self.color_file(frame_id)
        bgr = read_image(self.scan_id, path, cv2.IMREAD_COLOR)
        K = self.color_intrinsics
        same_size(self.scan_id, path, (bgr.shape[1], bgr.shape[0]), (K.width, K.height), f"colour frame {frame_id}")
        return bgr


class IPhoneFrames(_MaskedFrames):
    """iPhone frames: ``rgb/frame_NNNNNN.jpg`` (or the ``rgb.mkv`` / ``rgb.mp4`` video), poses and per-frame
    intrinsics from ``pose_intrinsic_imu.json`` (``aligned_pose``: camera-to-world in the mesh frame, OpenCV axes),
    depth from ``depth/frame_NNNNNN.png`` when extracted, masks from ``rgb_masks/`` or, when they were not
    extracted, decoded from ``rgb_mask.mkv``. Frame ids are the video's frame numbers, times frame / 60 Hz."""

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
        self.video_path = paths.iphone_video
        if paths.iphone_rgb.is_dir():
            found = (ascii_int(p.stem[6:]) for p in paths.iphone_rgb.glob("frame_*.jpg"))
            stored = {n for n in found if n is not None}
            ids = sorted(set(entries) & stored)
            if not ids:
                raise MissingFileError(scan_id, paths.iphone_rgb, f"no frame_NNNNNN.jpg listed in {path.name}")
            first = read_image(scan_id, paths.iphone_frame(paths.iphone_rgb, ids[0], ".jpg"), cv2.IMREAD_COLOR)
            height, width = first.shape[:2]
        elif self.video_path is not None:
            ids = sorted(entries)
            if not ids:
                raise CorruptFileError(scan_id, path, "lists no frames")
            width, height = self._video_size()
            self._frames_in_video(path, ids[-1])
        else:
            videos = " or ".join(p.name for p in paths.iphone_videos)
            raise MissingFileError(scan_id, paths.iphone_rgb, f"no extracted rgb/ frames and no {videos} video")
        self._ids: IntArray = np.array(ids, dtype=np.int64)
        poses, colors = [], []
        for frame_id in ids:
            entry = entries[frame_id]
            where = f"frame_{frame_id:06d}"
            poses.append(numbers(scan_id, path, field(scan_id, path, entry, "aligned_pose", where), (4, 4), where))
            K = numbers(scan_id, path, field(scan_id, path, entry, "intrinsic", where), (3, 3), where)
            colors.append(pinhole(scan_id, path, K[0, 0], K[1, 1], K[0, 2], K[1, 2], width, height))
        self._raw = np.stack(poses)
        self._colors = colors  # ARKit refines the focal length slightly from frame to frame
        self._times: IntArray = np.round(self._ids * 1e6 / IPHONE_FPS).astype(np.int64)
        self._depths: list[CameraIntrinsics] | None = None
        depth_first = paths.iphone_frame(paths.iphone_depth, ids[0], ".png")
        if depth_first.is_file():
            depth = read_image(scan_id, depth_first, cv2.IMREAD_UNCHANGED)
            self._depths = [k.scaled_to(depth.shape[1], depth.shape[0]) for k in colors]

    def _video_size(self) -> tuple[int, int]:
        capture = self._capture()
        size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        return image_size(self.scan_id, self._video(), *size, "video frame")

    def _frames_in_video(self, poses_file: Path, last: int) -> None:
        """Poses are matched to the video's frames by number (``frame_NNNNNN``): a pose file listing frames the
        video does not hold belongs to another recording (or another frame rate), and every frame would take
        another frame's pose. The container's frame count is an estimate for some formats: one frame of slack,
        and no check when it says nothing."""
        count = int(self._capture().get(cv2.CAP_PROP_FRAME_COUNT))
        if count > 0 and last > count:
            raise InconsistentScanError(
                self.scan_id,
                poses_file,
                f"lists frames up to {last}, but {self._video().name} holds {count}: the poses are not this video's",
            )

    def _video(self) -> Path:
        if self.video_path is None:
            raise MissingFileError(self.scan_id, self.paths.iphone_videos[0], "file not found")
        return self.video_path

    def _capture(self) -> cv2.VideoCapture:
        if self.video is None:
            with decoder_messages() as damage:
                self.video = open_video(self._video())
            damaged(self.scan_id, self._video(), "the video's header", damage)
            if not self.video.isOpened():
                raise CorruptFileError(self.scan_id, self._video(), "video does not open")
        return self.video

    def mask_path(self, frame_id: int) -> Path:
        return self.paths.iphone_frame(self.paths.iphone_masks, frame_id, ".png")

    def masked_fractions(self) -> FloatArray:
        """From ``rgb_masks/`` when extracted; else decoded from ``rgb_mask.mkv`` (never ignored: its frames are
        the anonymised ones); zeros when the scan has neither."""
        path = self.paths.iphone_mask_video
        if self.mask_dir.is_dir() or not path.is_file():
            return super().masked_fractions()
        with decoder_messages() as damage:
            capture = open_video(path)
        damaged(self.scan_id, path, "the mask video's header", damage)
        if not capture.isOpened():
            raise CorruptFileError(self.scan_id, path, f"mask video does not open: {EXTRACT_MASKS_HINT}")
        wanted = {int(f): i for i, f in enumerate(self.frame_ids)}
        fractions = np.zeros(len(self.frame_ids))
        K = self.color_intrinsics
        try:
            for n in range(int(self.frame_ids[-1]) + 1):
                if n not in wanted:
                    with decoder_messages() as damage:  # decoded too: later frames are predicted from it
                        ok = capture.grab()
                    damaged(self.scan_id, path, f"mask frame {n}", damage)
                else:
                    with decoder_messages() as damage:
                        ok, bgr = capture.read()
                    damaged(self.scan_id, path, f"mask frame {n}", damage)
                    if ok:
                        same_size(self.scan_id, path, (bgr.shape[1], bgr.shape[0]), (K.width, K.height), f"mask {n}")
                        fractions[wanted[n]] = masked_fraction(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
                if not ok:
                    raise CorruptFileError(
                        self.scan_id,
                        path,
                        f"mask frame {n} does not decode ({self.paths.iphone_poses.name} lists frames up to "
                        f"{int(self.frame_ids[-1])}): {EXTRACT_MASKS_HINT}",
                    )
        finally:
            capture.release()
        return fractions

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
    def time_basis(self) -> TimeBasis:
        return TimeBasis.FRAME_NUMBER

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

    @property
    def poses_file(self) -> Path:
        return self.paths.iphone_poses

    def color_file(self, frame_id: int) -> Path:
        self.position(frame_id)
        if self.paths.iphone_rgb.is_dir():
            return self.paths.iphone_frame(self.paths.iphone_rgb, frame_id, ".jpg")
        return self._video()

    def read_color(self, frame_id: int) -> ImageRGB:
        if self.paths.iphone_rgb.is_dir():
            bgr = self._read_bgr(frame_id)
        else:
            path = self.color_file(frame_id)
            capture = self._capture()
            with decoder_messages() as damage:
                capture.set(cv2.CAP_PROP_POS_FRAMES, frame_id)
                ok, bgr = capture.read()
            if not ok:
                raise CorruptFileError(self.scan_id, path, f"frame {frame_id} does not decode")
            damaged(self.scan_id, path, f"frame {frame_id}", damage)
            K = self.color_intrinsics
            same_size(self.scan_id, path, (bgr.shape[1], bgr.shape[0]), (K.width, K.height), f"frame {frame_id}")
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
        if self._depths is not None:
            declared = (self._depths[0].width, self._depths[0].height)
            same_size(self.scan_id, path, (depth.shape[1], depth.shape[0]), declared, f"depth frame {frame_id}")
        return depth


#: One DSLR photo: its file name, its mask's file name (None: ``<stem>.png``), its OpenCV camera-to-world pose
#: (NaN when unusable) and its camera.
DslrRecord = tuple[str, str | None, Matrix4, CameraIntrinsics]


@dataclass(frozen=True)
class DslrModel:
    """Where a scene's pinhole DSLR photos are described: the files read, the photos' and masks' folders."""

    files: list[Path]
    image_dir: Path
    mask_dir: Path
    colmap: bool
    """True for a COLMAP model, False for ``transforms_undistorted.json``."""


def dslr_model(paths: ScanNetPPPaths) -> DslrModel:
    """The undistorted photos with ``nerfstudio/transforms_undistorted.json`` when present, else the COLMAP model
    ``colmap/cameras.txt`` + ``images.txt`` of ``resized_images/`` (which must be pinhole: see :class:`DslrFrames`)."""
    if paths.dslr_transforms.is_file() or not paths.dslr_colmap_cameras.is_file():
        return DslrModel([paths.dslr_transforms], paths.dslr_images, paths.dslr_masks, colmap=False)
    files = [paths.dslr_colmap_cameras, paths.dslr_colmap_images]
    return DslrModel(files, paths.dslr_resized_images, paths.dslr_resized_masks, colmap=True)


class DslrFrames(_MaskedFrames):
    """Pinhole DSLR photos. Read from the first of:

    * the undistorted photos of ``dslr/undistort.py``: ``nerfstudio/transforms_undistorted.json`` (PINHOLE
      intrinsics, OpenGL camera-to-world ``transform_matrix`` per frame, ``is_bad`` flags), images in
      ``undistorted_images/``, masks in ``undistorted_anon_masks/``;
    * a COLMAP text model ``colmap/cameras.txt`` + ``images.txt`` (world-to-camera poses; per-image cameras) of
      the photos in ``resized_images/``, masks in ``resized_anon_masks/<stem>.png``. ScanNet++'s own model is
      ``OPENCV_FISHEYE`` (distorted): it is refused, saying how to undistort. A pinhole model (``PINHOLE``,
      ``SIMPLE_PINHOLE``, ``OPENCV`` with zero distortion) is read.

    Photos have no timestamps: time is unknown. Frame ids are the numbers in the file names (``DSC01234.JPG`` ->
    1234)."""

    layout = "dslr"

    def __init__(self, scan_id: str, paths: ScanNetPPPaths, max_masked_fraction: float) -> None:
        model = dslr_model(paths)
        super().__init__(scan_id, model.mask_dir, max_masked_fraction)
        self.paths = paths
        self.image_dir = model.image_dir
        records = self._from_colmap() if model.colmap else self._from_transforms()
        by_id: dict[int, DslrRecord] = {}
        for name, mask, pose, camera in records:
            m = DSLR_NAME.search(Path(name).stem)
            if m is None:
                raise CorruptFileError(scan_id, model.files[-1], f"frame file {name!r} has no number")
            frame_id = int(m.group(1))
            if frame_id in by_id:
                raise CorruptFileError(scan_id, model.files[-1], f"frames {by_id[frame_id][0]} and {name}: one number")
            by_id[frame_id] = (name, mask, pose, camera)
        self._ids: IntArray = np.array(sorted(by_id), dtype=np.int64)
        self._files = {i: by_id[i][0] for i in by_id}
        self._masks = {i: by_id[i][1] for i in by_id}
        self._raw = np.stack([by_id[int(i)][2] for i in self._ids])
        self._colors = [by_id[int(i)][3] for i in self._ids]
        sizes = {(k.width, k.height) for k in self._colors}
        if len(sizes) > 1:
            raise InconsistentScanError(scan_id, model.files[0], f"photos of several sizes {sorted(sizes)}")

    def _from_transforms(self) -> list[DslrRecord]:
        scan_id, paths = self.scan_id, self.paths
        path = paths.dslr_transforms
        if not path.is_file() and paths.dslr_fisheye_transforms.is_file():
            raise MissingFileError(scan_id, path, f"DSLR photos are fisheye: {UNDISTORT_HINT}")
        data = read_json_object(scan_id, path)
        model = data.get("camera_model", "PINHOLE")
        if model != "PINHOLE":
            raise InconsistentScanError(scan_id, path, f"camera_model is {model!r}, expected PINHOLE (undistorted)")
        frames = field(scan_id, path, data, "frames")
        if not isinstance(frames, list) or not frames:
            raise CorruptFileError(scan_id, path, "'frames' is not a non-empty list")
        fx, fy, cx, cy = (float(numbers(scan_id, path, field(scan_id, path, data, k), (1,), k)[0]) for k in FOCAL)
        width, height = (whole_number(scan_id, path, field(scan_id, path, data, k), k) for k in ("w", "h"))
        camera = pinhole(scan_id, path, fx, fy, cx, cy, width, height)
        records: list[DslrRecord] = []
        for frame in frames:
            name = str(field(scan_id, path, frame, "file_path", "a frame"))
            mask = frame.get("mask_path")
            pose = numbers(scan_id, path, field(scan_id, path, frame, "transform_matrix", name), (4, 4), name)
            pose = pose @ OPENGL_TO_OPENCV
            if frame.get("is_bad"):
                pose = np.full((4, 4), np.nan)
            records.append((name, None if mask is None else str(mask), pose, camera))
        return records

    def _from_colmap(self) -> list[DslrRecord]:
        scan_id, paths = self.scan_id, self.paths
        cameras_path, images_path = paths.dslr_colmap_cameras, paths.dslr_colmap_images
        cameras = read_cameras_text(scan_id, cameras_path)
        pinholes: dict[int, CameraIntrinsics] = {}
        records: list[DslrRecord] = []
        for image in read_images_text(scan_id, images_path):
            if image.camera_id not in cameras:
                raise InconsistentScanError(scan_id, images_path, f"{image.name}: no camera {image.camera_id}")
            if image.camera_id not in pinholes:
                pinholes[image.camera_id] = pinhole_camera(
                    scan_id, cameras_path, cameras[image.camera_id], UNDISTORT_HINT
                )
            name = Path(image.name).name
            records.append((name, f"{Path(name).stem}.png", camera_to_world(image), pinholes[image.camera_id]))
        return records

    def mask_path(self, frame_id: int) -> Path:
        mask = self._masks.get(frame_id)
        return self.mask_dir / (mask or f"{Path(self._files[frame_id]).stem}.png")

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
        return self._colors[0]

    @property
    def depth_intrinsics(self) -> None:
        return None

    def frame_color_intrinsics(self, frame_id: int) -> CameraIntrinsics:
        return self._colors[self.position(frame_id)]

    def color_file(self, frame_id: int) -> Path:
        self.position(frame_id)
        return self.image_dir / self._files[frame_id]

    @property
    def poses_file(self) -> Path:
        return self.paths.dslr_transforms

    def read_color(self, frame_id: int) -> ImageRGB:
        bgr = self._read_bgr(frame_id)
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
