"""Small readers shared by the ScanNet++ and ARKitScenes sources: JSON files, numeric fields and matrices, each
failure a ``ScanError`` naming the scan and the file (and the field at fault)."""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ladderdata.errors import CorruptFileError, InconsistentScanError, MissingFileError
from ladderdata.typed import FloatArray


def read_json(scan_id: str, path: Path) -> Any:
    """The parsed JSON value of ``path``."""
    if not path.is_file():
        raise MissingFileError(scan_id, path, "file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorruptFileError(scan_id, path, f"invalid JSON ({e})") from None


def read_json_object(scan_id: str, path: Path) -> dict[str, Any]:
    data = read_json(scan_id, path)
    if not isinstance(data, dict):
        raise CorruptFileError(scan_id, path, "top-level JSON value is not an object")
    return data


def field(scan_id: str, path: Path, record: Any, key: str, where: str = "") -> Any:
    """``record[key]``, or a ``CorruptFileError`` saying which field of which record is missing."""
    if not isinstance(record, Mapping) or key not in record:
        raise CorruptFileError(scan_id, path, f"no '{key}' field{f' in {where}' if where else ''}")
    return record[key]


def numbers(scan_id: str, path: Path, value: Any, shape: tuple[int, ...], what: str) -> FloatArray:
    """``value`` as a float64 array of ``shape`` (row-major when given flat); non-finite entries are kept (the
    caller decides whether they are fatal)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CorruptFileError(scan_id, path, f"{what} is not a list of numbers") from None
    size = int(np.prod(shape))
    if array.size != size:
        raise InconsistentScanError(scan_id, path, f"{what} has {array.size} numbers, expected {size} {shape}")
    return array.reshape(shape)


def finite(scan_id: str, path: Path, array: FloatArray, what: str) -> FloatArray:
    if not np.isfinite(array).all():
        raise InconsistentScanError(scan_id, path, f"{what} holds non-finite numbers")
    return array


def rotation(scan_id: str, path: Path, matrix: FloatArray, what: str, tolerance: float = 1e-3) -> FloatArray:
    """``matrix`` if it is a (3, 3) rotation (orthonormal, det +1), else an ``InconsistentScanError``."""
    finite(scan_id, path, matrix, what)
    orthonormal = np.abs(matrix @ matrix.T - np.eye(3)).max() < tolerance
    if not orthonormal or abs(np.linalg.det(matrix) - 1.0) > tolerance:
        raise InconsistentScanError(scan_id, path, f"{what} is not a rotation matrix")
    return matrix


def pinhole(scan_id: str, path: Path, fx: float, fy: float, cx: float, cy: float, width: int, height: int) -> None:
    """Intrinsics that can belong to a ``width x height`` image: positive focal lengths, principal point on the
    image (what a mismatched image resolution or a transposed matrix breaks)."""
    if not all(np.isfinite([fx, fy, cx, cy])) or fx <= 0 or fy <= 0:
        raise InconsistentScanError(scan_id, path, f"intrinsics fx={fx}, fy={fy} are not positive finite numbers")
    if not (0 < cx < width and 0 < cy < height):
        raise InconsistentScanError(
            scan_id, path, f"principal point ({cx:g}, {cy:g}) lies outside the {width}x{height} image"
        )
