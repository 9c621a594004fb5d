"""Errors raised on bad input. Every message names the scan and the file at fault."""

import json
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

if TYPE_CHECKING:
    from pydantic import ValidationError


class LadderError(Exception):
    """Base class of every error ladder raises on purpose."""


class ScanError(LadderError):
    """A scan cannot be read. ``scan_id`` and ``path`` say which scan and which file."""

    kind = "scan error"

    def __init__(self, scan_id: str, path: Path | str, detail: str) -> None:
        self.scan_id = scan_id
        self.path = Path(path)
        self.detail = detail
        super().__init__(f"[{scan_id}] {self.kind} in {self.path}: {detail}")


class MissingFileError(ScanError):
    """A file the scan needs does not exist."""

    kind = "missing file"


class CorruptFileError(ScanError):
    """A file exists but cannot be parsed (bad JSON, bad PLY header, truncated binary)."""

    kind = "corrupt file"


class InconsistentScanError(ScanError):
    """Files parse but contradict each other (segment ids out of range, wrong matrix shape, empty object)."""

    kind = "inconsistent scan"


class InaccessibleFileError(ScanError):
    """A file of the scan is there but cannot be read as a file: a folder or a FIFO in its place, no permission,
    an I/O error of the disk."""

    kind = "inaccessible file"


class ConfigError(LadderError):
    """A configuration or command-line value is unusable."""


class StopRunError(LadderError):
    """An error no item of a run can avoid (the disk is full): executors stop the whole run instead of
    reporting it as one item's failure."""


class OutOfSpaceError(StopRunError):
    """A write failed because the file system is full or the user's quota is used up (ENOSPC, EDQUOT)."""


def validation_text(error: "ValidationError") -> str:
    """A pydantic error in one line: each wrong field with its location, the reason and the value given."""
    parts = []
    for e in error.errors(include_url=False):
        message = e["msg"].removeprefix("Value error, ")
        if not e["loc"]:  # a check of the whole model: its message says what is wrong
            parts.append(message)
            continue
        given = e.get("input")
        shown = f" (given {given!r:.60})" if isinstance(given, str | int | float | bool) or given is None else ""
        parts.append(f"{'.'.join(map(str, e['loc']))}: {message}{shown}")
    return "; ".join(parts)


def install_command(extra: str) -> str:
    """The pip command that adds ``extra`` to this ladder: ``pip install -e 'CLONE[extra]'`` for an editable
    install from a clone (the way the quickstart installs it; ``ladder[extra]`` would look on the package index),
    else ``pip install 'ladder[extra]'``."""
    try:
        origin = json.loads(distribution("ladder").read_text("direct_url.json") or "{}")
    except (PackageNotFoundError, ValueError):
        origin = {}
    url = urlparse(str(origin.get("url", "")))
    if origin.get("dir_info", {}).get("editable") and url.scheme == "file":
        return f"pip install -e '{unquote(url.path)}[{extra}]'"
    return f"pip install 'ladder[{extra}]'"
