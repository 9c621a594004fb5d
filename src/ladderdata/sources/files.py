"""Small readers shared by the scan sources: JSON files, numeric fields and matrices, each failure a ``ScanError``
naming the scan and the file (and the field at fault). Checks of what the numbers mean (rigid transforms,
intrinsics that fit their images, ...) are in :mod:`ladderdata.sources.validate`.

* :func:`regular_file`: a scan's file, checked to be a regular file before anything opens it.
* :func:`scan_file_errors`: any ``OSError`` while one scan's files are read becomes that scan's ``ScanError``.
* :func:`ascii_int`: a whole number written with ASCII digits (``str.isdigit`` accepts ``²`` and ``١``).
"""

import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ladderdata.cache import NotRegularFileError, is_out_of_space, out_of_space, regular_file_stat
from ladderdata.errors import CorruptFileError, InaccessibleFileError, InconsistentScanError, MissingFileError
from ladderdata.typed import FloatArray

_ASCII_DIGITS = re.compile(r"[0-9]+")


def ascii_int(text: str, max_digits: int = 18) -> int | None:
    """``text`` as a non-negative integer when it is 1 to ``max_digits`` ASCII digits, else None.

    ``str.isdigit`` is True for superscripts (``int("²")`` raises) and for other scripts' digits (``int("١")``
    is 1): numbers in files and file names are ASCII. 18 digits always fit an int64.

    >>> ascii_int("0042"), ascii_int("²"), ascii_int("١٢"), ascii_int("12a"), ascii_int("9" * 19)
    (42, None, None, None, None)
    """
    if len(text) > max_digits or _ASCII_DIGITS.fullmatch(text) is None:
        return None
    return int(text)


def regular_file(scan_id: str, path: Path) -> Path:
    """``path`` when it is a regular file (symlinks followed); a missing one is a ``MissingFileError``, a folder,
    FIFO or device in its place (opening a FIFO would block forever) or a file that cannot be looked at an
    ``InaccessibleFileError``."""
    try:
        regular_file_stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise MissingFileError(scan_id, path, "file not found") from None
    except NotRegularFileError as e:
        raise InaccessibleFileError(scan_id, path, str(e.strerror)) from None
    except OSError as e:
        raise InaccessibleFileError(scan_id, path, e.strerror or str(e)) from None
    return path


@contextmanager
def scan_file_errors(scan_id: str, location: Path) -> Iterator[None]:
    """Run a block that reads one scan's files: an ``OSError`` (no permission, an I/O error, a folder where a file
    should be) becomes a ``ScanError`` of that scan naming the file (``location``, the scan's folder, when the
    error names none), so the scan fails alone. A full disk is not the scan's fault: it stops the run
    (``OutOfSpaceError``)."""
    try:
        yield
    except OSError as e:
        path = Path(os.fsdecode(e.filename)) if isinstance(e.filename, str | bytes) and e.filename else location
        if is_out_of_space(e):
            raise out_of_space(path, e) from None
        if isinstance(e, FileNotFoundError):
            raise MissingFileError(scan_id, path, "file not found") from None
        raise InaccessibleFileError(scan_id, path, e.strerror or str(e)) from None


def read_text(scan_id: str, path: Path) -> str:
    """A scan's text file (matrices, trajectories, intrinsics); one that is not UTF-8 text is corrupt."""
    regular_file(scan_id, path)
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptFileError(scan_id, path, "not a text file (binary or not UTF-8)") from None


def read_json(scan_id: str, path: Path) -> Any:
    """The parsed JSON value of ``path``."""
    regular_file(scan_id, path)
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
