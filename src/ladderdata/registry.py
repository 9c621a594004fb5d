"""The one registry mechanism behind ladder's closed sets: scan sources, tasks, scoring modes, export layouts,
training stages and extensions.

A registry maps names (and aliases) to entries in registration order, refuses a second entry under a taken
name, loads third-party entries from its entry-point group the first time a name is missing, and answers an
unknown name with one line listing the registered ones. What an entry must satisfy stays with the module that
owns the registry (a source's config must name it, a task's subset must be a folder name): that module's
``register_*`` decorator checks it, then calls :meth:`Registry.add`.
"""

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import TypeVar

from ladderdata.errors import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")


class UnknownNameError(ConfigError, KeyError):
    """A name no built-in entry, installed plugin or loaded module registers (a ``KeyError`` too, so a lookup
    that may miss reads like a dictionary's)."""

    def __str__(self) -> str:
        return str(self.args[0])


def import_entry_point(entry_point: EntryPoint) -> None:
    """The default plugin loader: importing the module registers what it defines."""
    entry_point.load()


class Registry(Mapping[str, T]):
    """Name -> entry, in registration order. ``registry[name]`` looks up registered names only;
    :meth:`get_entry` also loads the entry-point group and raises :class:`UnknownNameError` with the choices."""

    def __init__(
        self,
        kind: str,
        *,
        entry_point_group: str | None = None,
        load_entry_point: Callable[[EntryPoint], None] = import_entry_point,
        unknown_hint: str = "",
    ) -> None:
        self.kind = kind
        """What an entry is, in messages (``scan source``, ``task``, ``export format``)."""
        self.entry_point_group = entry_point_group
        self._load_entry_point = load_entry_point
        self._unknown_hint = unknown_hint
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def add(self, name: str, entry: T, aliases: Sequence[str] = ()) -> None:
        """Register ``entry`` as ``name`` (and ``aliases``); registering the same entry again is a no-op."""
        if self._entries.get(name) is entry:
            return
        for taken in (name, *aliases):
            if taken in self._entries or taken in self._aliases:
                owner = self._entries.get(self._aliases.get(taken, taken))
                raise ValueError(f"{self.kind} {taken!r} is already registered by {_origin(owner)}")
        self._entries[name] = entry
        self._aliases.update((alias, name) for alias in aliases)

    def unregister(self, name: str) -> None:
        """Forget ``name`` and its aliases (tests and task modules loaded for one run)."""
        self._entries.pop(name, None)
        for alias in [a for a, target in self._aliases.items() if target == name]:
            del self._aliases[alias]

    def canonical(self, name: str) -> str:
        """The registered name ``name`` is, or is an alias of (``name`` itself when unknown)."""
        return self._aliases.get(name, name)

    def get_entry(self, name: str) -> T:
        """The entry registered as ``name`` or one of its aliases, loading plugins when it is missing."""
        key = self.canonical(name)
        if key not in self._entries:
            self.load_plugins()
            key = self.canonical(name)
        if key not in self._entries:
            raise UnknownNameError(f"unknown {self.kind} {name!r} (registered: {', '.join(self)}){self._unknown_hint}")
        return self._entries[key]

    def load_plugins(self) -> None:
        """Load the entry-point group (again: a plugin installed since is found); a broken plugin is logged and
        skipped, so it never takes the built-in entries down with it."""
        if self.entry_point_group is None:
            return
        for entry_point in sorted(entry_points(group=self.entry_point_group), key=lambda e: e.name):
            try:
                self._load_entry_point(entry_point)
            except Exception as e:
                log.error("could not load %s plugin %s (%s): %s", self.kind, entry_point.name, entry_point.value, e)

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self)})"


def _origin(entry: object) -> str:
    module = getattr(entry, "__module__", None) or type(entry).__module__
    return str(module)
