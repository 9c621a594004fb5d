"""Optional parts of ladder, which come in through the ``ladder.extensions`` entry-point group.

ladderdata never imports them by name. laddertrain (the ``train`` extra) registers this way the ``ladder train``
commands, the answer backends of ``ladder eval --model`` and its recipe models (for ``ladder schemas``). An
entry point names a function that returns an :class:`Extension` and imports nothing heavy (``ladder --help`` calls
it to list the extension's commands); when the
extension's own dependencies are missing, ``ladder`` says which extra to install instead of failing.
"""

from __future__ import annotations  # the types below are for annotations only: importing this module stays cheap

import importlib.util
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from ladderdata.errors import install_command
from ladderdata.registry import Registry

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint
    from pathlib import Path

    import typer
    from pydantic import BaseModel

    from ladderdata.eval.hints import Hint
    from ladderdata.prompts import PromptStyle

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ladder.extensions"


class BackendName(StrEnum):
    """The answer backends ``ladder eval --model --backend NAME`` accepts; an extension registers them by name."""

    TRANSFORMERS = "transformers"
    VLLM = "vllm"


def examples(*commands: str) -> str:
    """The epilog of a command's ``--help``: its examples, one per paragraph (the help keeps paragraphs)."""
    return "Examples:\n\n" + "\n\n".join(commands)


@dataclass(frozen=True)
class AnswerRequest:
    """How ``ladder eval --model`` wants benchmark questions answered."""

    style: PromptStyle
    hint: Hint
    batch_size: int
    max_new_tokens: int


class AnswerBackend(Protocol):
    """Answers benchmark rows (with images) with a local model: ``[{"id", "prediction"}]`` in row order;
    ``progress(n)`` after every ``n`` rows answered."""

    def __call__(
        self, rows: list[dict[str, Any]], model: Path, request: AnswerRequest, progress: Callable[[int], None]
    ) -> list[dict[str, str]]: ...


@dataclass(frozen=True)
class Extension:
    name: str
    extra: str
    """The pip extra that installs what the extension needs (:func:`ladderdata.errors.install_command`)."""
    requires: tuple[str, ...] = ()
    """Top-level modules the extension's commands and backends import when they run."""
    commands: Mapping[str, typer.Typer] = field(default_factory=dict)
    """``ladder <name> ...`` command groups."""
    answer_backends: Mapping[BackendName, AnswerBackend] = field(default_factory=dict)
    """``ladder eval --model --backend <name>``."""
    schema_models: Callable[[], tuple[type[BaseModel], ...]] = tuple
    """Configs and records written to ``schemas/`` by ``ladder schemas``, imported when called (a model's module
    can be heavy: ``ladder --help`` loads the extension to list its commands)."""

    def missing(self) -> list[str]:
        return [m for m in self.requires if not _importable(m)]

    @property
    def install_hint(self) -> str:
        return install_command(self.extra)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder that refuses the module, or a half-initialised one
        return False


def _register_extension(entry_point: EntryPoint) -> None:
    extension = entry_point.load()()
    if not isinstance(extension, Extension):
        raise TypeError(f"{entry_point.value} returned {type(extension).__name__}, not an Extension")
    EXTENSIONS.add(entry_point.name, extension)


EXTENSIONS: Registry[Extension] = Registry(
    "ladder extension", entry_point_group=ENTRY_POINT_GROUP, load_entry_point=_register_extension
)


@cache
def load_extensions() -> tuple[Extension, ...]:
    """Every extension of the entry-point group, in name order; a broken one is logged and skipped."""
    EXTENSIONS.load_plugins()
    return tuple(EXTENSIONS.values())
