"""The three frame layouts met in the wild: ``.sens`` streams, SensReader exports, mmdetection3d
``posed_images``. Each one maps file-level problems to ``ScanError`` subclasses naming scan and file."""

from abc import abstractmethod
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from ladderdata.errors import CorruptFileError, InconsistentScanError, MissingFileError
from ladderdata.geometry.camera import CameraIntrinsics
from ladderdata.layout import FramesLayout, ScanPaths
from ladderdata.sources.base import DEFAULT_FPS, FrameSource, TimeBasis
from ladderdata.sources.files import ascii_int, read_text, regular_file
from ladderdata.sources.sens import SensFormatError, decode_color, decode_depth, read_frame_bytes, read_sens_index
from ladderdata.sources.validate import frame_clock_problem, image_size, intrinsics_for, jpeg_size, same_size
from ladderdata.typed import DepthMM, FloatArray, ImageRGB, IntArray, Poses


def read_matrix(scan_id: str, path: Path) -> FloatArray:
    """A 4x4 matrix stored as text (whitespace separated); inf/nan tokens are kept, not fatal."""
    try:
        values = np.array(read_text(scan_id, path).split(), dtype=np.float64)
    except ValueError as e:
        raise CorruptFileError(scan_id, path, f"not a matrix of numbers ({e})") from None
    if values.size != 16:
        raise InconsistentScanError(scan_id, path, f"expected a 4x4 matrix (16 numbers), found {values.size}")
    return values.reshape(4, 4)


def read_meta(scan_id: str, path: Path) -> dict[str, str]:
    """The ``key = value`` lines of a scan's ``sceneXXXX_YY.txt``."""
    regular_file(scan_id, path)
    values = {}
    for line in path.read_text(errors="replace").splitlines():
        if "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


#: Most frames a scan's stream may declare (``numColorFrames``): over 90 hours at 30 Hz.
MAX_FRAMES = 10_000_000


def frame_count(scan_id: str, path: Path, meta: dict[str, str]) -> int | None:
    """``numColorFrames`` of a meta file's values (None when absent); a value that is not a count of at most
    :data:`MAX_FRAMES` frames is corrupt."""
    text = meta.get("numColorFrames")
    if text is None:
        return None
    count = ascii_int(text)
    if count is None or count > MAX_FRAMES:
        raise CorruptFileError(
            scan_id, path, f"numColorFrames is {text[:40]!r}, not a frame count (0 to {MAX_FRAMES:,})"
        )
    return count


def read_image(scan_id: str, path: Path, flags: int) -> np.ndarray:
    regular_file(scan_id, path)
    img = cv2.imread(str(path), flags)
    if img is None:
        raise CorruptFileError(scan_id, path, "image does not decode")
    return img


def _image_size(scan_id: str, path: Path) -> tuple[int, int]:
    """(width, height) of an image file from its header (nothing is decoded), checked plausible."""
    regular_file(scan_id, path)
    try:
        with Image.open(path) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise CorruptFileError(scan_id, path, f"not a readable image ({e})") from None
    return image_size(scan_id, path, width, height, "image")


def frame_number_times(frame_ids: IntArray) -> IntArray:
    """Frame number / 30 Hz, microseconds: when each frame of a ScanNet stream was captured (the capture app runs
    colour and depth in sync at 30 Hz and the stream keeps its frames in order; docs/metadata.md#frame-times)."""
    return np.round(frame_ids * 1e6 / DEFAULT_FPS).astype(np.int64)


def _numbered_files(directory: Path, suffix: str) -> dict[int, Path]:
    found = {}
    for p in directory.glob(f"*{suffix}"):
        number = ascii_int(p.stem)
        if number is not None:
            found[number] = p
    return found


class SensFrames(FrameSource):
    """Frames streamed from ``sceneXXXX_YY.sens``: the index is read once, images decoded on request.

    The stream holds every frame the capture app recorded, in order, so frame numbers are positions in it.
    Its colour timestamps are used only when they are a plausible 30 Hz clock (``validate.frame_clock_problem``);
    in most ScanNet scans they are all 0 or scattered, and frames are then timed by their number
    (``stored_times_problem`` says why).
    """

    layout = FramesLayout.SENS

    def __init__(self, scan_id: str, path: Path) -> None:
        super().__init__(scan_id)
        self.path = regular_file(scan_id, path)
        try:
            self.index = read_sens_index(path)
        except SensFormatError as e:
            raise CorruptFileError(scan_id, path, str(e)) from None
        h = self.index.header
        if h.num_frames == 0:
            raise InconsistentScanError(scan_id, path, "the stream holds no frames")
        self._color = intrinsics_for(scan_id, path, h.intrinsic_color, h.color_width, h.color_height)
        self._depth = intrinsics_for(scan_id, path, h.intrinsic_depth, h.depth_width, h.depth_height)
        if h.color_compression == 2:  # the header's size must be the JPEGs' (one header read, nothing decoded)
            first = int(self.frame_ids[0])
            found = jpeg_size(self._stored_color(first))
            if found is None:
                raise CorruptFileError(scan_id, path, f"colour frame {first} is not a JPEG image")
            same_size(scan_id, path, found, (h.color_width, h.color_height), f"colour frame {first}")
        self.stored_times_problem = frame_clock_problem(self.index.timestamps_color, DEFAULT_FPS)
        """Why the stream's colour timestamps are not used (``"all 0"``, ...); None when they are."""

    @cached_property
    def frame_ids(self) -> IntArray:
        return np.arange(self.index.header.num_frames, dtype=np.int64)

    @property
    def raw_poses(self) -> Poses:
        return self.index.poses

    @property
    def time_basis(self) -> TimeBasis:
        return TimeBasis.STORED if self.stored_times_problem is None else TimeBasis.FRAME_NUMBER

    @cached_property
    def timestamps_us(self) -> IntArray:
        """The stored colour timestamps counted from the first frame, or frame number / 30 Hz (``time_basis``)."""
        if self.stored_times_problem is not None:
            return frame_number_times(self.frame_ids)
        stored = self.index.timestamps_color
        since_first: IntArray = (stored - stored[0]).astype(np.int64)
        return since_first

    @property
    def depth_shift(self) -> float:
        return self.index.header.depth_shift

    @property
    def color_intrinsics(self) -> CameraIntrinsics:
        return self._color

    @property
    def depth_intrinsics(self) -> CameraIntrinsics:
        return self._depth

    def color_file(self, frame_id: int) -> Path:
        return self.path

    def _stored_color(self, frame_id: int) -> bytes:
        i = self.position(frame_id)
        return read_frame_bytes(self.path, int(self.index.color_offsets[i]), int(self.index.color_sizes[i]))

    def read_color(self, frame_id: int) -> ImageRGB:
        data = self._stored_color(frame_id)
        try:
            return decode_color(data, self.index.header)
        except (SensFormatError, ValueError) as e:
            raise CorruptFileError(self.scan_id, self.path, f"frame {frame_id} colour: {e}") from None

    def read_color_jpeg(self, frame_id: int) -> bytes:
        if self.index.header.color_compression != 2:
            return super().read_color_jpeg(frame_id)
        return self._stored_color(frame_id)

    def read_depth(self, frame_id: int) -> DepthMM:
        i = self.position(frame_id)
        data = read_frame_bytes(self.path, int(self.index.depth_offsets[i]), int(self.index.depth_sizes[i]))
        try:
            return decode_depth(data, self.index.header)
        except (SensFormatError, ValueError) as e:
            raise CorruptFileError(self.scan_id, self.path, f"frame {frame_id} depth: {e}") from None


class _FolderFrames(FrameSource):
    """Shared logic of the layouts that keep one file per frame and per stream."""

    def __init__(self, scan_id: str, paths: ScanPaths) -> None:
        super().__init__(scan_id)
        self.paths = paths
        poses = self._pose_files()
        if not poses:
            raise MissingFileError(scan_id, self._pose_dir(), "no pose files")
        self._ids = np.array(sorted(poses), dtype=np.int64)
        self._poses = np.stack([read_matrix(scan_id, poses[i]) for i in self._ids])
        color_matrix, depth_matrix = self._intrinsic_files()
        self._color = self._intrinsics(color_matrix, self._color_path(self._ids[0]))
        depth_image = self._depth_path(self._ids[0])
        has_depth = depth_image.is_file() and depth_matrix.is_file()
        self._depth = self._intrinsics(depth_matrix, depth_image) if has_depth else None

    @abstractmethod
    def _pose_dir(self) -> Path: ...

    @abstractmethod
    def _pose_files(self) -> dict[int, Path]: ...

    @abstractmethod
    def _color_path(self, frame_id: int) -> Path: ...

    @abstractmethod
    def _depth_path(self, frame_id: int) -> Path: ...

    @abstractmethod
    def _intrinsic_files(self) -> tuple[Path, Path]:
        """Colour and depth intrinsic matrix files."""

    @property
    def color_intrinsics(self) -> CameraIntrinsics:
        return self._color

    @property
    def depth_intrinsics(self) -> CameraIntrinsics | None:
        return self._depth

    @property
    def poses_file(self) -> Path:
        return self._pose_dir()

    @property
    def frame_ids(self) -> IntArray:
        return self._ids

    @property
    def raw_poses(self) -> Poses:
        return self._poses

    @cached_property
    def timestamps_us(self) -> IntArray | None:
        """Frame number / 30 Hz: the file numbers of this layout are frame numbers of the stream (SensReader writes
        no timestamps)."""
        return frame_number_times(self._ids)

    @property
    def time_basis(self) -> TimeBasis | None:
        return TimeBasis.FRAME_NUMBER if self.time_known else None

    def color_file(self, frame_id: int) -> Path:
        self.position(frame_id)
        return self._color_path(frame_id)

    def read_color(self, frame_id: int) -> ImageRGB:
        path = self.color_file(frame_id)
        bgr = read_image(self.scan_id, path, cv2.IMREAD_COLOR)
        K = self._color
        same_size(self.scan_id, path, (bgr.shape[1], bgr.shape[0]), (K.width, K.height), f"colour frame {frame_id}")
        return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)

    def read_color_jpeg(self, frame_id: int) -> bytes:
        return regular_file(self.scan_id, self.color_file(frame_id)).read_bytes()

    def read_depth(self, frame_id: int) -> DepthMM:
        self.position(frame_id)
        path = self._depth_path(frame_id)
        depth = read_image(self.scan_id, path, cv2.IMREAD_UNCHANGED)
        if depth.dtype != np.uint16 or depth.ndim != 2:
            raise CorruptFileError(self.scan_id, path, f"depth must be single-channel uint16, got {depth.dtype}")
        if self._depth is not None:
            declared = (self._depth.width, self._depth.height)
            same_size(self.scan_id, path, (depth.shape[1], depth.shape[0]), declared, f"depth frame {frame_id}")
        return depth

    def _intrinsics(self, matrix_path: Path, image_path: Path) -> CameraIntrinsics:
        K = read_matrix(self.scan_id, matrix_path)
        width, height = _image_size(self.scan_id, image_path)
        return intrinsics_for(self.scan_id, matrix_path, K, width, height)


class ExportFrames(_FolderFrames):
    """SensReader export: ``color/N.jpg``, ``depth/N.png``, ``pose/N.txt``, ``intrinsic/intrinsic_*.txt``."""

    layout = FramesLayout.EXPORT

    def _pose_dir(self) -> Path:
        return self.paths.export_pose_dir

    def _pose_files(self) -> dict[int, Path]:
        return _numbered_files(self.paths.export_pose_dir, ".txt")

    def _color_path(self, frame_id: int) -> Path:
        return self.paths.export_color(frame_id)

    def _depth_path(self, frame_id: int) -> Path:
        return self.paths.export_depth(frame_id)

    def _intrinsic_files(self) -> tuple[Path, Path]:
        d = self.paths.export_intrinsic_dir
        return d / "intrinsic_color.txt", d / "intrinsic_depth.txt"


class PosedFrames(_FolderFrames):
    """mmdetection3d ``posed_images/<scan>/``: ``NNNNN.jpg``, ``NNNNN.png``, ``NNNNN.txt``, ``intrinsic.txt``
    (colour) and, when present, ``depth_intrinsic.txt``.

    mmdetection3d's ``extract_posed_images.py`` keeps a random subset of the stream (300 frames by default,
    ``--max-images-per-scene``), in stream order, and numbers the files 0, 1, 2, ... within that subset: the
    numbers are not frame numbers. Only when every frame was exported (as many files, numbered 0..N-1, as the
    scan's ``numColorFrames``) are they frame numbers; otherwise time is unknown (``timestamps_us`` is None).
    """

    layout = FramesLayout.POSED

    @cached_property
    def timestamps_us(self) -> IntArray | None:
        meta = read_meta(self.scan_id, self.paths.meta) if self.paths.meta.is_file() else {}
        # ids are sorted and unique: 0..N-1 exactly when there are N of them from 0 to N-1
        every_frame = frame_count(self.scan_id, self.paths.meta, meta) == len(self._ids) == self._ids[-1] + 1
        return frame_number_times(self._ids) if every_frame else None

    def _pose_dir(self) -> Path:
        return self.paths.posed_dir

    def _pose_files(self) -> dict[int, Path]:
        return _numbered_files(self.paths.posed_dir, ".txt")

    def _color_path(self, frame_id: int) -> Path:
        return self.paths.posed_color(frame_id)

    def _depth_path(self, frame_id: int) -> Path:
        return self.paths.posed_depth(frame_id)

    def _intrinsic_files(self) -> tuple[Path, Path]:
        return self.paths.posed_intrinsic, self.paths.posed_depth_intrinsic


def chosen_layout(paths: ScanPaths, layout: FramesLayout | None) -> FramesLayout | None:
    """``layout``, or the first layout present (sens, export, posed); None if none is."""
    if layout is not None:
        return layout
    available = paths.available_layouts()
    return available[0] if available else None


def frame_files(paths: ScanPaths, layout: FramesLayout | None) -> list[Path]:
    """Every file the frames are read from in :func:`chosen_layout` (what their cache keys must cover)."""
    layout = chosen_layout(paths, layout)
    if layout is FramesLayout.SENS:
        return [paths.sens]
    if layout is FramesLayout.EXPORT:
        folders = [paths.export_color_dir, paths.export_depth_dir, paths.export_pose_dir, paths.export_intrinsic_dir]
    elif layout is FramesLayout.POSED:
        folders = [paths.posed_dir]
    else:
        return []
    return sorted(p for d in folders if d.is_dir() for p in d.iterdir() if p.is_file())


def open_frames(scan_id: str, paths: ScanPaths, layout: FramesLayout | None) -> FrameSource | None:
    """Frames of a scan in ``layout``, or in the first layout present (sens, export, posed); None if none."""
    layout = chosen_layout(paths, layout)
    if layout is None:
        return None
    if layout is FramesLayout.SENS:
        return SensFrames(scan_id, paths.sens)
    if layout is FramesLayout.EXPORT:
        if not paths.export_pose_dir.is_dir():
            raise MissingFileError(scan_id, paths.export_pose_dir, "no SensReader export (pose/ folder)")
        return ExportFrames(scan_id, paths)
    if not paths.posed_dir.is_dir():
        raise MissingFileError(scan_id, paths.posed_dir, "no posed_images folder")
    return PosedFrames(scan_id, paths)
