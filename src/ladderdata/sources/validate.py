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
  refusing non-finite or non-positive focal lengths and a principal point off the image's centre (intrinsics
  of another resolution); :func:`pinhole` the same from focal lengths and principal point.
* :func:`same_size`: an image's size against the size its camera declares.
* :func:`int_array`: a JSON list of integers (no floats, booleans, nulls or numbers beyond int64).
* :func:`jpeg_size` / :func:`checked_jpeg`: a colour frame's JPEG header read without decoding, and a frame
  verified: JPEG, the declared size, complete, and (``decode=True``) decoding to the end.
"""

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ladderdata.errors import CorruptFileError, InconsistentScanError
from ladderdata.geometry.camera import CameraIntrinsics
from ladderdata.typed import FloatArray, IntArray, Matrix4

#: Longest image side a reader accepts (ScanNet: 1296; phone and DSLR scans: up to ~8,000).
MAX_IMAGE_SIDE = 16_384
#: The principal point may sit this fraction of the image size away from the image's centre. Calibrated
#: cameras are within a few percent; intrinsics of another resolution (half, double) are at 25% or more.
MAX_PRINCIPAL_OFFSET = 0.2
#: Rotation tolerance of a rigid transform (orthonormality and determinant), as for camera poses.
RIGID_TOLERANCE = 1e-3
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
    return pinhole(scan_id, path, fx, fy, cx, cy, width, height)


def pinhole(
    scan_id: str, path: Path, fx: float, fy: float, cx: float, cy: float, width: int, height: int
) -> CameraIntrinsics:
    """:class:`CameraIntrinsics` from focal lengths and principal point, checked as :func:`intrinsics_for` says."""
    image_size(scan_id, path, width, height, "image")
    if not all(np.isfinite([fx, fy, cx, cy])) or fx <= 0 or fy <= 0:
        raise CorruptFileError(
            scan_id, path, f"focal lengths must be finite and positive (fx={fx}, fy={fy}, cx={cx}, cy={cy})"
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
    if value and not (min(value) >= -(2**63) and max(value) < 2**63):
        raise CorruptFileError(scan_id, path, f"{what} holds integers beyond 64 bits")
    return np.asarray(value, dtype=np.int64).reshape(len(value))


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's header, without decoding it; None when ``data`` is not a JPEG."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return (img.width, img.height) if img.format == "JPEG" else None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def checked_jpeg(
    scan_id: str, path: Path, data: bytes, declared: tuple[int, int], frame_id: int, decode: bool = False
) -> bytes:
    """``data`` when it is a complete JPEG of the declared (width, height); with ``decode``, it must also decode
    to its end (at 1/8 scale: libjpeg still reads every coefficient, at a third of the cost)."""
    size = jpeg_size(data)
    if size is None:
        raise CorruptFileError(scan_id, path, f"colour frame {frame_id} is not a JPEG image")
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
