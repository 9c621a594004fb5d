"""Task modules a run is given without packaging them: ``--tasks-module FILE.py`` and a recipe's ``plugins:``.

Each entry is a Python file or an importable module name; importing it runs its ``@register_task``. The recipe
carries the entries (``Recipe.plugins``), and every process that draws questions imports them before it looks a
task up, so spawned workers and Ray tasks know the tasks too. A file is imported once per process, whatever path
names it; its bytes key the drafts cache (:func:`task_modules_digest`), so editing the file redrafts.
"""

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from ladderdata.errors import ConfigError
from ladderdata.tasks.base import TASKS

#: Resolved file or module name -> the names of the tasks importing it registered (in this process).
_LOADED: dict[str, list[str]] = {}


def is_file_entry(entry: str) -> bool:
    return entry.endswith(".py") or "/" in entry or Path(entry).is_file()


def load_task_modules(entries: Sequence[str | Path]) -> list[str]:
    """Import every entry (a ``.py`` file or a module name) not imported yet; returns the names of the tasks the
    entries register, in order. A ``ConfigError`` names the entry that is missing or fails to import, with the
    error it raised."""
    registered: list[str] = []
    for raw in entries:
        entry = str(raw)
        key = str(Path(entry).expanduser().resolve()) if is_file_entry(entry) else entry
        if key not in _LOADED:
            before = set(TASKS)
            _import(entry, key)
            _LOADED[key] = [t for t in TASKS if t not in before]
        registered += _LOADED[key]
    return registered


def _import(entry: str, key: str) -> None:
    if not is_file_entry(entry):
        try:
            importlib.import_module(entry)
        except Exception as e:
            raise ConfigError(
                f"task module {entry!r} failed to import: {type(e).__name__}: {e} (give a module name on the "
                "Python path, or the path of a .py file)"
            ) from None
        return
    path = Path(key)
    if not path.is_file():
        raise ConfigError(f"task module {entry} is not a file")
    name = f"ladder_task_module_{hashlib.sha256(key.encode()).hexdigest()[:12]}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"task module {entry} cannot be imported: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise ConfigError(f"task module {entry} failed to import: {type(e).__name__}: {e}") from None


def task_modules_digest(entries: Sequence[str | Path]) -> str:
    """A digest of the entries and the bytes of the files among them (module names count by name)."""
    digest = hashlib.sha256()
    for raw in entries:
        entry = str(raw)
        digest.update(entry.encode() + b"\0")
        if is_file_entry(entry):
            path = Path(entry).expanduser()
            digest.update(path.read_bytes() if path.is_file() else b"missing")
    return digest.hexdigest()
