"""Output folders: which folder ladder may write into, and what a rerun there replaces.

Every command that writes a folder of its own (``--out``) claims it here first (:func:`claim_output`), before any
work; commands that add a few files to a folder the user chose (``eval``'s reports beside the predictions) claim
those files (:func:`claim_files`). The rules, whatever the command:

* a new or empty folder is taken;
* a folder holding ladder's earlier output of the same kind is taken when it was written with the same settings
  (a rerun resumes); with other settings (another seed, another recipe) the run is refused, saying what would
  change, unless ``overwrite`` (``--overwrite``) makes the replacement explicit;
* a folder holding anything else (the user's files, ladder's output of another kind) is refused: ladder never
  writes over a file it did not write, ``--overwrite`` or not;
* an output equal to or inside one of the command's inputs is refused (``ladder export bench --out bench``
  would make the benchmark its own export).

What ladder wrote is recorded in a marker file, :data:`MARKER`, in the folder: its kind, the settings that
decide its contents and the single files claimed in it. Folders written before markers existed are recognised
by ladder's folder lock (:data:`ladderdata.cache.LOCK_NAME`, which only ladder runs create) and adopted.
Refusals are :class:`OutputFolderError`, one line, exit code 2.
"""

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ladderdata.cache import LOCK_NAME, TEMP_PATTERN, write_text_atomic
from ladderdata.errors import ConfigError

log = logging.getLogger(__name__)

MARKER = ".ladder-output.json"
#: Names a claim ignores when deciding whether a folder is empty: ladder's own bookkeeping, and what file
#: managers leave behind.
_IGNORED = {MARKER, LOCK_NAME, ".DS_Store", "Thumbs.db"}


class OutputFolderError(ConfigError):
    """An output folder (or file) ladder must not write: the user's, another kind of output, one of the inputs,
    or ladder's own output made with other settings (without ``--overwrite``)."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def shown(path: Path | str) -> str:
    """A path (or label) as it may be echoed on one line: quoted with control characters (a newline, NUL)
    escaped when it has any, as it is otherwise.

    >>> shown("out\\nput"), shown("a b")
    ("'out\\\\nput'", 'a b')
    """
    text = os.fspath(path)
    return repr(text) if _CONTROL.search(text) else text


def one_line(text: str) -> str:
    """``text`` with its control characters escaped (``\\n``, ``\\x00``): a message that quotes a label or a
    path from the user's files stays one line, and nothing in it moves the terminal's cursor.

    >>> one_line("label 'chair\\nx' unknown")
    "label 'chair\\\\nx' unknown"
    """
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class _OneLineArgument:
    """A record's string or path argument as a message shows it: ``%s`` escaped by :func:`one_line`, ``%r`` its
    plain ``repr`` (already one line; escaping it again would double its backslashes)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return one_line(self.text)

    def __repr__(self) -> str:
        return repr(self.text)

    def __format__(self, spec: str) -> str:
        return format(one_line(self.text), spec)


class OneLineLogs(logging.Filter):
    """A log filter that escapes control characters in what records quote (their string and path arguments):
    a scan's label with a newline or a NUL is echoed as ``'chair\\nx'``, never as two lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_OneLineArgument(os.fspath(a)) if isinstance(a, str | Path) else a for a in record.args)
        return True


def _read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_marker(folder: Path, marker: Mapping[str, Any]) -> None:
    write_text_atomic(folder / MARKER, json.dumps(marker, indent=1, sort_keys=True) + "\n")


def _entries(folder: Path) -> list[str]:
    """What the folder holds besides ladder's bookkeeping and temp files."""
    return sorted(n for n in os.listdir(folder) if n not in _IGNORED and not TEMP_PATTERN.match(n))


def refuse_inside_inputs(out: Path, inputs: Iterable[Path], option: str = "--out") -> None:
    """Refuse an output folder equal to, or inside, one of ``inputs`` (symlinks resolved)."""
    where = out.resolve()
    for given in inputs:
        source = given.resolve()
        if where == source or where.is_relative_to(source):
            relation = "is" if where == source else "is inside"
            raise OutputFolderError(
                f"{option} {shown(out)} {relation} the input {shown(given)}: writing there would change what is "
                f"read; choose a folder outside it"
            )


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    keys = sorted(set(before) | set(after))
    return ", ".join(f"{k} {before.get(k, '-')} -> {after.get(k, '-')}" for k in keys if before.get(k) != after.get(k))


def claim_output(
    out: Path,
    kind: str,
    settings: Mapping[str, str | int | float] | None = None,
    *,
    overwrite: bool = False,
    inputs: Iterable[Path] = (),
    option: str = "--out",
    signature: str = LOCK_NAME,
) -> None:
    """Take ``out`` as the folder of one ``kind`` of output (``dataset``, ``benchmarks``, ...) made with
    ``settings`` (the choices that decide its contents: seed, recipe), or raise :class:`OutputFolderError`
    (the rules are the module's). The folder is created and marked. A folder without a marker that holds
    ``signature`` (a file only this kind of output has) is ladder's, written before markers existed."""
    settings = {k: v for k, v in (settings or {}).items()}
    refuse_inside_inputs(out, inputs, option)
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"{option} {shown(out)} is a file, not a folder: choose a folder")
    stored = marker = _read_marker(out) if out.is_dir() else None
    if marker is None and out.is_dir():
        held = _entries(out)
        if held and not (out / signature).exists():
            sample = ", ".join(shown(n) for n in held[:3]) + (", ..." if len(held) > 3 else "")
            raise OutputFolderError(
                f"{option} {shown(out)} is not empty and not ladder's output ({sample}): ladder writes only into a "
                f"new or empty folder, or its own earlier {kind}; choose another {option}"
            )
        if held:  # written by ladder before markers: adopted, its settings unknown
            marker = {"kind": kind, "settings": settings}
    if marker is not None:
        held_kind = marker.get("kind")
        if held_kind is not None and held_kind != kind:
            raise OutputFolderError(
                f"{option} {shown(out)} holds ladder's {held_kind}, not a {kind}: choose another {option}"
            )
        before = marker.get("settings") or {}
        changes = _changes(before, settings) if isinstance(before, dict) else "unknown settings"
        if changes and not overwrite:
            raise OutputFolderError(
                f"{option} {shown(out)} holds a {kind} made with other settings ({changes}): pass --overwrite to "
                f"replace it, or choose another {option}"
            )
        if changes:
            log.warning("replacing the %s in %s (%s)", kind, shown(out), changes)
    out.mkdir(parents=True, exist_ok=True)
    new = dict(marker or {}) | {"kind": kind, "settings": settings}
    if new != stored:
        _write_marker(out, new)


def claim_files(folder: Path, names: Iterable[str], kind: str) -> None:
    """Take the files ``names`` in ``folder`` (a folder the user chose, which may hold anything): refused
    (:class:`OutputFolderError`) when one exists and ladder did not write it. The claimed names are recorded in
    the folder's marker, so a rerun replaces them."""
    marker = _read_marker(folder) if folder.is_dir() else None
    owned = dict((marker or {}).get("files") or {})
    wanted = list(names)
    for name in wanted:
        path = folder / name
        if (path.exists() or path.is_symlink()) and name not in owned:
            raise OutputFolderError(
                f"{shown(path)} exists and ladder did not write it: move it, or write the {kind} elsewhere (--out)"
            )
    new = dict(marker or {}) | {"files": owned | {name: kind for name in wanted}}
    if new != marker:
        folder.mkdir(parents=True, exist_ok=True)
        _write_marker(folder, new)
