"""Small readers shared by the scan sources: JSON files, numeric fields and matrices, each failure a ``ScanError``
naming the scan and the file (and the field at fault). Checks of what the numbers mean (rigid transforms,
intrinsics that fit their images, ...) are in :mod:`ladderdata.sources.validate`."""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ladderdata.errors import CorruptFileError, InconsistentScanError, MissingFileError
from ladderdata.typed import FloatArray


def read_text(scan_id: str, path: Path) -> str:
    """A scan's text file (matrices, trajectories, intrinsics); one that is not UTF-8 text is corrupt."""
    if not path.is_file():
        raise MissingFileError(scan_id, path, "file not found")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptFileError(scan_id, path, "not a text file (binary or not UTF-8)") from None


def read_json(scan_id: str, path: Path) -> Any:
    """The parsed JSON value of ``path``."""
    if not path.is_file():
        raise MissingFileError(scan_id, path, "file not found")
    try:
        return json.loads(path.read_bytes())
    except (ValueError, RecursionError) as e:  # bad JSON, bad UTF-8, numbers too long to parse, deep nesting
        raise CorruptFileError(scan_id, path, f"invalid JSON ({str(e)[:120]})") from None


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
    caller decides whether they are fatal: ``validate.finite``)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):  # not numbers, ragged lists, integers beyond float64
        raise CorruptFileError(scan_id, path, f"{what} is not a list of numbers") from None
    size = int(np.prod(shape))
    if array.size != size:
        raise InconsistentScanError(scan_id, path, f"{what} has {array.size} numbers, expected {size} {shape}")
    return array.reshape(shape)
