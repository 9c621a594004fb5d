"""Checks every scan reader runs on what the geometry relies on, each failure a ``ScanError`` naming scan and file.

Readers call these on the numbers they parse instead of trusting them: header counts and image sizes are
bounded before anything is allocated, geometry must be finite, transforms rigid, intrinsics must fit the
images they describe, and every colour frame a dataset embeds must be a JPEG of the size its camera declares.

* :func:`bounded_count`: a count read from a header, within ``[low, high]``.
* :func:`image_size`: a width and height read from a header or an image, within :data:`MAX_IMAGE_SIDE`.
* :func:`finite`: no NaN or inf in an array (vertices, matrices).
* :func:`rotation` / :func:`rigid_transform`: a 3x3 rotation (orthonormal, det +1), a 4x4 rotation + translation
  (last row 0 0 0 1).
* :func:`intrinsics_for`: a camera matrix turned into :class:`CameraIntrinsics` for an image of a given size,
  refusing a matrix that is not a pinhole camera's (skew, a third row other than ``0 0 1``), non-finite or
  non-positive focal lengths, a field of view no camera has (:data:`FIELD_OF_VIEW_DEG`), non-square pixels and
  a principal point off the image's centre (intrinsics of another resolution); :func:`pinhole` the same from
  focal lengths and principal point.
* :func:`same_size`: an image's size against the size its camera declares.
* :func:`int_array`: a JSON list of integers (no floats, booleans, nulls or numbers beyond int64).
* :func:`jpeg_size` / :func:`checked_jpeg`: a colour frame's JPEG header read without decoding, and a frame
  verified: an RGB (3-channel) JPEG, the declared size, complete, and (``decode=True``) decoding to the end.
* :func:`read_mesh` / :func:`drop_outliers`: a scan's PLY mesh, and the mesh without the vertices far outside
  the room (:data:`OUTLIER_MARGIN`), whose extent must then be a room's (:data:`MAX_SCENE_EXTENT`).
* :func:`frame_clock_problem`: why stored frame timestamps are not the clock of a stream of known rate (not an
  error: the reader then times frames by their number, docs/metadata.md#frame-times).
"""

import io
import logging
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from ladderdata.errors import CorruptFileError, InconsistentScanError
from ladderdata.geometry.camera import CameraIntrinsics
from ladderdata.sources.files import regular_file
from ladderdata.sources.ply import PlyFormatError, TriangleMesh, read_ply
from ladderdata.typed import BoolArray, FloatArray, IntArray, Matrix4

log = logging.getLogger(__name__)

#: Longest image side a reader accepts (ScanNet: 1296; phone and DSLR scans: up to ~8,000).
MAX_IMAGE_SIDE = 16_384
#: The principal point may sit this fraction of the image size away from the image's centre. Calibrated
#: cameras are within a few percent; intrinsics of another resolution (half, double) are at 25% or more.
MAX_PRINCIPAL_OFFSET = 0.2
#: Field of view, degrees, along either image axis, that a camera matrix may give (``2 atan(side / 2f)``). Every
#: camera of ScanNet (colour and depth: 58° x 45°), ScanNet++ (iPhone ~60°, undistorted DSLR ~110°) and
#: ARKitScenes (~60°) is well inside; a focal length off by orders of magnitude (1e30, 1e-6) is far outside.
FIELD_OF_VIEW_DEG = (10.0, 170.0)
#: Most a focal length ratio fy / fx (or its inverse) may be: pixels of RGB-D cameras are square (1.00).
MAX_PIXEL_ASPECT = 2.0
#: Skew (``K[0, 1]``, relative to fx) and deviation of the third row from ``0 0 1`` a camera matrix may have:
#: the pinhole model ladder projects with has neither.
MATRIX_TOLERANCE = 1e-3
#: Rotation tolerance of a rigid transform (orthonormality and determinant), as for camera poses.
RIGID_TOLERANCE = 1e-3
#: Stored frame timestamps are trusted when their median interval is within this factor of the nominal one
#: (30 Hz: 26.7 to 41.7 ms) ...
CLOCK_RATE_TOLERANCE = 1.25
#: ... and their mean interval at most this many nominal intervals (at most half the frames of the stream lost).
CLOCK_MAX_MEAN_INTERVALS = 2.0
#: A vertex farther than this (metres) outside the box of the middle 98% of the mesh's vertices (1st to 99th
#: percentile per axis) is not part of the room: a stray vertex of a reconstruction, a corrupted coordinate. Such
#: vertices and their triangles are dropped (with a warning), so one of them cannot stretch a box or a floor.
OUTLIER_MARGIN = 10.0
#: Longest side (metres) of a scan's mesh once outliers are dropped: ScanNet rooms are under ~30 m, ScanNet++ and
#: ARKitScenes scenes too. A longer one is no room (wrong units, a corrupted file) and fails the scan; the bound
#: also bounds the work of every measurement on it.
MAX_SCENE_EXTENT = 100.0
_JPEG_END = b"\xff\xd9"
#: A complete JPEG ends with its end-of-image marker, in the last bytes (some writers pad after it).
_JPEG_END_WITHIN = 1024


def bounded_count(scan_id: str, path: Path, value: int, what: str, low: int, high: int) -> int:
    """``value`` when ``low <= value <= high``; else the file is corrupt (a header number nobody could mean)."""
    if not low <= value <= high:
        raise CorruptFileError(scan_id, path, f"{what} is {value}, outside [{low:,}, {high:,}]")
    return value


def image_size(scan_id: str, path: Path, width: int, height: int, what: str) -> tuple[int, int]:
    """(width, height) when both are in ``[1, MAX_IMAGE_SIDE]``."""
    if not (1 <= width <= MAX_IMAGE_SIDE and 1 <= height <= MAX_IMAGE_SIDE):
        raise CorruptFileError(
            scan_id, path, f"{what} size {width}x{height} is not a plausible image size (1 to {MAX_IMAGE_SIDE:,})"
        )
    return width, height


def finite(scan_id: str, path: Path, values: FloatArray, what: str) -> FloatArray:
    """``values`` when every entry is finite."""
    bad = ~np.isfinite(values)
    if bad.any():
        raise CorruptFileError(scan_id, path, f"{what} holds {int(bad.sum())} NaN or infinite values")
    return values


def is_rotation(matrix: FloatArray) -> bool:
    """Whether a 3x3 matrix is finite, orthonormal and of determinant +1 (within :data:`RIGID_TOLERANCE`)."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (3, 3) or not np.isfinite(m).all():
        return False
    orthonormal = np.abs(m @ m.T - np.eye(3)).max() < RIGID_TOLERANCE
    return bool(orthonormal and abs(np.linalg.det(m) - 1.0) < RIGID_TOLERANCE)


def is_rigid(matrix: FloatArray) -> bool:
    """Whether a 4x4 matrix is finite, its rotation a rotation (:func:`is_rotation`) and its last row 0 0 0 1."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (4, 4) or not np.isfinite(m).all():
        return False
    return is_rotation(m[:3, :3]) and bool(np.abs(m[3] - [0.0, 0.0, 0.0, 1.0]).max() < 1e-6)


def rotation(scan_id: str, path: Path, matrix: FloatArray, what: str) -> FloatArray:
    """``matrix`` when it is a 3x3 rotation (orthonormal, det +1): an axis system that is not would shear
    every box built on it."""
    if not is_rotation(matrix):
        raise InconsistentScanError(scan_id, path, f"{what} is not a rotation matrix (orthonormal, determinant +1)")
    return np.asarray(matrix, dtype=np.float64)


def rigid_transform(scan_id: str, path: Path, matrix: FloatArray, what: str) -> Matrix4:
    """``matrix`` when it is a rigid transform (rotation + translation): a shear, a scale or a reflection
    would silently distort every distance and size."""
    if not is_rigid(matrix):
        raise InconsistentScanError(
            scan_id, path, f"{what} is not a rigid transform (rotation + translation; no shear, scale or reflection)"
        )
    return np.asarray(matrix, dtype=np.float64)


def intrinsics_for(scan_id: str, path: Path, matrix: FloatArray, width: int, height: int) -> CameraIntrinsics:
    """The intrinsics of a 3x3 or 4x4 camera matrix for ``width`` x ``height`` images.

    Focal lengths must be finite and positive, the principal point finite and within
    :data:`MAX_PRINCIPAL_OFFSET` of the image's centre: a matrix for another resolution fails here rather than
    putting every box and visibility in the wrong place.
    """
    K = np.asarray(matrix, dtype=np.float64)
    if K.shape not in ((3, 3), (4, 4)):
        raise InconsistentScanError(scan_id, path, f"intrinsic matrix must be 3x3 or 4x4, found shape {K.shape}")
    fx, fy, cx, cy = (float(v) for v in (K[0, 0], K[1, 1], K[0, 2], K[1, 2]))
    intrinsics = pinhole(scan_id, path, fx, fy, cx, cy, width, height)
    zeros = np.array([K[1, 0], K[2, 0], K[2, 1], K[2, 2] - 1.0])
    if not (np.abs(zeros) <= MATRIX_TOLERANCE).all() or not abs(K[0, 1]) <= MATRIX_TOLERANCE * fx:
        raise CorruptFileError(
            scan_id,
            path,
            "intrinsic matrix is not a pinhole camera's [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] "
            f"(skew {K[0, 1]:.4g}, rows {np.round(K[1:3, :3], 4).tolist()})",
        )
    return intrinsics


def pinhole(
    scan_id: str, path: Path, fx: float, fy: float, cx: float, cy: float, width: int, height: int
) -> CameraIntrinsics:
    """:class:`CameraIntrinsics` from focal lengths and principal point, checked as :func:`intrinsics_for` says."""
    image_size(scan_id, path, width, height, "image")
    if not all(np.isfinite([fx, fy, cx, cy])) or fx <= 0 or fy <= 0:
        raise CorruptFileError(
            scan_id, path, f"focal lengths must be finite and positive (fx={fx}, fy={fy}, cx={cx}, cy={cy})"
        )
    low, high = FIELD_OF_VIEW_DEG
    for axis, side, focal in (("horizontal", width, fx), ("vertical", height, fy)):
        fov = math.degrees(2 * math.atan(side / (2 * focal)))
        if not low <= fov <= high:
            raise CorruptFileError(
                scan_id,
                path,
                f"{axis} field of view {fov:.3g}° (focal length {focal:.4g} for {side} pixels) is outside "
                f"[{low:g}°, {high:g}°]: no camera has it",
            )
    if not 1 / MAX_PIXEL_ASPECT <= fy / fx <= MAX_PIXEL_ASPECT:
        raise CorruptFileError(
            scan_id, path, f"focal lengths fx={fx:.4g} and fy={fy:.4g} differ by more than {MAX_PIXEL_ASPECT:g}x"
        )
    off_x, off_y = abs(cx - (width - 1) / 2) / width, abs(cy - (height - 1) / 2) / height
    if max(off_x, off_y) > MAX_PRINCIPAL_OFFSET:
        raise InconsistentScanError(
            scan_id,
            path,
            f"principal point ({cx:.1f}, {cy:.1f}) is far from the centre of the {width}x{height} images: "
            "these intrinsics are for another image size",
        )
    return CameraIntrinsics(fx=fx, fy=fy, cx=cx, cy=cy, width=width, height=height)


def same_size(scan_id: str, path: Path, found: tuple[int, int], declared: tuple[int, int], what: str) -> None:
    """An image of ``found`` (width, height) where its camera declares ``declared``."""
    if found != declared:
        raise InconsistentScanError(
            scan_id,
            path,
            f"{what} is {found[0]}x{found[1]} but its camera (intrinsics, header) says {declared[0]}x{declared[1]}",
        )


def int_array(scan_id: str, path: Path, value: Any, what: str) -> IntArray:
    """A JSON list of integers as a (N,) int64 array; floats, booleans, nulls, nesting and numbers beyond int64
    are refused (numpy would truncate or overflow them)."""
    if not isinstance(value, list) or not set(map(type, value)) <= {int}:
        raise CorruptFileError(scan_id, path, f"{what} is not a list of integers")
    try:
        return np.asarray(value, dtype=np.int64).reshape(len(value))
    except OverflowError:  # numpy refuses a Python int beyond int64 (no min and max over the list first)
        raise CorruptFileError(scan_id, path, f"{what} holds integers beyond 64 bits") from None


def jpeg_header(data: bytes) -> tuple[int, int, str] | None:
    """(width, height, PIL mode) from a JPEG's header, without decoding it; None when ``data`` is not a JPEG.
    Colour JPEGs are mode ``RGB``; ``L`` is greyscale, ``CMYK`` four channels."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return (img.width, img.height, img.mode) if img.format == "JPEG" else None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's header, without decoding it; None when ``data`` is not a JPEG."""
    header = jpeg_header(data)
    return None if header is None else header[:2]


def checked_jpeg(
    scan_id: str, path: Path, data: bytes, declared: tuple[int, int], frame_id: int, decode: bool = False
) -> bytes:
    """``data`` when it is a complete RGB JPEG of the declared (width, height); with ``decode``, it must also
    decode to its end (at 1/8 scale: libjpeg still reads every coefficient, at a third of the cost).

    A greyscale or CMYK JPEG fails too: a colour camera does not write one (a frame replaced by a converted copy),
    models are shown RGB, and decoders disagree on CMYK's colours (Adobe's inverted CMYK among them)."""
    header = jpeg_header(data)
    if header is None:
        raise CorruptFileError(scan_id, path, f"colour frame {frame_id} is not a JPEG image")
    width, height, mode = header
    if mode != "RGB":
        raise CorruptFileError(
            scan_id, path, f"colour frame {frame_id} is a {mode} JPEG ({len(mode)}-channel), not a 3-channel RGB one"
        )
    size = (width, height)
    same_size(scan_id, path, size, declared, f"colour frame {frame_id}")
    if _JPEG_END not in data[-_JPEG_END_WITHIN:]:
        raise CorruptFileError(scan_id, path, f"colour frame {frame_id} is truncated (no JPEG end marker)")
    if decode:
        try:
            with warnings.catch_warnings(), Image.open(io.BytesIO(data)) as img:
                warnings.simplefilter("ignore")
                img.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
                img.load()
        except (OSError, ValueError, SyntaxError) as e:
            raise CorruptFileError(scan_id, path, f"colour frame {frame_id} does not decode ({e})") from None
    return data


def frame_clock_problem(timestamps_us: NDArray[np.uint64], fps: float) -> str | None:
    """Why per-frame timestamps (microseconds, in stream order) are not the clock of a stream captured at ``fps``,
    or None when they are: strictly increasing, a median interval within :data:`CLOCK_RATE_TOLERANCE` of
    ``1 / fps`` (the rate), a mean interval at most :data:`CLOCK_MAX_MEAN_INTERVALS` nominal ones (no jump that
    would leave most of the stream's frames missing). Fewer than two timestamps have nothing to contradict."""
    t = timestamps_us
    if t.size < 2:
        return None
    if not t.any():
        return "all 0"
    back = np.flatnonzero(t[1:] <= t[:-1])
    if back.size:
        i = int(back[0]) + 1
        return f"not increasing (frame {i} at {int(t[i])} us, frame {i - 1} at {int(t[i - 1])} us)"
    steps = (t[1:] - t[:-1]).astype(np.float64)
    nominal = 1e6 / fps
    median = float(np.median(steps))
    if not nominal / CLOCK_RATE_TOLERANCE <= median <= nominal * CLOCK_RATE_TOLERANCE:
        return f"{1e6 / median:.3g} frames per second (median interval), not about {fps:g}"
    mean = float(t[-1] - t[0]) / (t.size - 1)
    if mean > CLOCK_MAX_MEAN_INTERVALS * nominal:
        return f"{float(t[-1] - t[0]) / 1e6:.6g} s long for {t.size} frames at {fps:g} per second"
    return None


def read_mesh(scan_id: str, path: Path) -> TriangleMesh:
    """A scan's mesh (a regular file that :func:`~ladderdata.sources.ply.read_ply` reads); its faults name it."""
    regular_file(scan_id, path)
    try:
        return read_ply(path)
    except PlyFormatError as e:
        raise CorruptFileError(scan_id, path, str(e)) from None


def drop_outliers(scan_id: str, path: Path, mesh: TriangleMesh) -> tuple[TriangleMesh, IntArray]:
    """The mesh without the vertices more than :data:`OUTLIER_MARGIN` outside the box of its middle 98% (1st to
    99th percentile per axis) and without the triangles that use them, and the (V',) indices of the vertices
    kept (to filter per-vertex arrays such as segment ids). What is left must fit in :data:`MAX_SCENE_EXTENT`.

    Robust on purpose: a real mesh may carry a few stray vertices, and one vertex 300 m away would otherwise
    stretch its object's box and the floor, and make every sample of its triangles cost memory."""
    vertices = mesh.vertices
    lo, hi = np.percentile(vertices, [1.0, 99.0], axis=0) if len(vertices) else (np.zeros(3), np.zeros(3))
    rows = np.ascontiguousarray(vertices.T)  # (3, V): per-axis tests and bounds on whole rows
    low, high = lo - OUTLIER_MARGIN, hi + OUTLIER_MARGIN
    inside: BoolArray = (rows[0] >= low[0]) & (rows[0] <= high[0])
    for axis in (1, 2):
        inside &= (rows[axis] >= low[axis]) & (rows[axis] <= high[axis])
    kept = np.flatnonzero(inside)
    if kept.size < len(vertices):
        far = int(np.flatnonzero(~inside)[0])
        log.warning(
            "%s: %d vertices of %s lie more than %g m outside the room (e.g. vertex %d at %s): dropped with their "
            "triangles",
            scan_id,
            len(vertices) - kept.size,
            path,
            OUTLIER_MARGIN,
            far,
            np.round(vertices[far], 2).tolist(),
        )
        remap = np.full(len(vertices), -1, dtype=np.int64)
        remap[kept] = np.arange(kept.size)
        faces = mesh.faces[inside[mesh.faces].all(axis=1)]
        mesh = TriangleMesh(vertices=vertices[kept], faces=remap[faces], colors=mesh.colors[kept])
    if len(mesh.vertices):
        if mesh.vertices is not vertices:
            rows = np.ascontiguousarray(mesh.vertices.T)
        extent = rows.max(axis=1) - rows.min(axis=1)
        if extent.max() > MAX_SCENE_EXTENT:
            raise InconsistentScanError(
                scan_id,
                path,
                f"the mesh spans {np.round(extent, 1).tolist()} m: no room is over {MAX_SCENE_EXTENT:g} m "
                "(units other than metres? a corrupted file?)",
            )
    return mesh, kept
