"""The export-layout registry: each layout writes a built benchmark the way one evaluator reads it (folder, file
names, fields, media), in one module registered with :func:`register_layout`; ``ladder export --format NAME``
picks it by name (:func:`get_layout`).

A layout answers where a benchmark goes (:meth:`ExportLayout.folder`, :meth:`ExportLayout.parquet_names`), which
benchmarks it can hold (:meth:`ExportLayout.check`), the parquet its evaluator reads (:meth:`ExportLayout.table`:
the only place the evaluator's field names appear), anything it writes beside it (:meth:`ExportLayout.finish`)
and the card's paragraph on how the evaluator reads the folder (:meth:`ExportLayout.usage`). The driver
(:mod:`ladderdata.eval.export.run`) does the rest the same way for every layout: the checks before anything is
written, images and videos, ``LICENSE.md``, the card, ``export.json`` and the resumable, atomic writes.
"""

from abc import ABC, abstractmethod
from collections.abc import Collection
from typing import ClassVar, NamedTuple, TypeVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from ladderdata.errors import ConfigError
from ladderdata.eval.export.files import ExportWriter
from ladderdata.eval.export.records import SPLIT
from ladderdata.eval.official import mca_types, na_types
from ladderdata.io.dataset import BenchRow
from ladderdata.io.exported import ExportedBenchmark
from ladderdata.layout import shard_name
from ladderdata.registry import Registry
from ladderdata.tasks import OfficialScorer

DATA_DIR = "data"
"""Where a layout whose evaluator opens its parquet by a fixed name keeps the keyed copy its card names."""


class ExportOptions(BaseModel):
    """The settings of an export (a layout with more subclasses this and names it
    :attr:`ExportLayout.options_model`). Every field is part of the output folder's claim: a folder exported with
    other settings is refused unless ``--overwrite``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fps: float = 2.0
    """Frame rate of exported videos: frame k at k / fps seconds."""


class ParquetNames(NamedTuple):
    parquet: str
    """The file name the evaluator opens, in the benchmark's folder."""
    data_file: str
    """The file the card names: its name carries the parquet's content key (``datasets`` caches by names)."""
    config: str
    """The card's config name (stable across exports)."""


def keyed_parquet(key: str) -> str:
    """``test-00000-of-00001-<key>.parquet``: a parquet name that carries its content key."""
    return shard_name(SPLIT, 0, 1, key)


class ExportLayout(ABC):
    """One evaluator's layout, made for one export with its :attr:`options`. Subclasses set the class attributes
    and implement :meth:`folder`, :meth:`table` and :meth:`usage`; the other methods have the defaults most
    layouts want."""

    name: ClassVar[str]
    """``ladder export --format NAME``."""
    description: ClassVar[str]
    """What it writes, in one line (``--help``, docs)."""
    reader: ClassVar[str]
    """The evaluator that reads it, in messages and on the card (``SpatialLadder's evaluator``)."""
    scorer: ClassVar[OfficialScorer | None] = None
    """Whose question-type lists bound what it holds (the tool stops at other types); None: any type."""
    options_model: ClassVar[type[ExportOptions]] = ExportOptions
    """The layout's settings (``fps`` and any of its own)."""

    def __init__(self, options: ExportOptions) -> None:
        self.options = options

    def question_types(self) -> Collection[str] | None:
        """The question types its evaluator reads (None: any)."""
        if self.scorer is None:
            return None
        return (*mca_types(self.scorer), *na_types(self.scorer))

    def check(self, benchmark: str, questions: list[BenchRow], is_video: bool) -> None:
        """Raise ``ConfigError`` when the layout cannot hold the benchmark (checked for every benchmark before
        anything is written); log what its evaluator will make of it. Default: question types only."""
        known = self.question_types()
        if known is None:
            return
        unknown = sorted({q.task for q in questions} - set(known))
        if unknown:
            raise ConfigError(
                f"{benchmark}: {self.reader} stops at question types {unknown}{self.unknown_hint(unknown)}"
            )

    def unknown_hint(self, unknown: list[str]) -> str:
        """What to do about question types the evaluator does not read (appended to the error)."""
        return ""

    @abstractmethod
    def folder(self, benchmark: str, is_video: bool) -> str:
        """The folder (under ``--out``) the evaluator opens for ``benchmark``."""

    def parquet_names(self, folder: str, is_video: bool, key: str) -> ParquetNames:
        """Where the parquet goes, given its content ``key``. Default: ``<folder>.parquet`` (a fixed name), its
        keyed copy under ``data/`` and config ``folder``."""
        return ParquetNames(f"{folder}.parquet", f"{DATA_DIR}/{keyed_parquet(key)}", folder)

    @abstractmethod
    def table(self, questions: list[BenchRow], images: list[list[str]] | None) -> pa.Table:
        """The parquet's rows under the evaluator's field names; ``images``: per question the file names of its
        images (``images/<scene_id>/<name>``), None for video benchmarks."""

    def finish(self, result: ExportedBenchmark, writer: ExportWriter, frames: int) -> None:
        """Write what the layout adds beside the parquet and media (through ``writer``), record it in ``result``,
        and log what its evaluator needs told (``frames``: the most frames of a question). Default: nothing."""
        return

    @abstractmethod
    def usage(self, result: ExportedBenchmark) -> str:
        """The card's paragraph on how the evaluator reads the folder."""

    def frames_note(self, result: ExportedBenchmark, frames: int) -> str:
        """The card's paragraph on the frames the folder holds (``frames``: the most frames of a question)."""
        if not result.videos:
            return f"Each question shows up to {frames} stored frames (`images`: the benchmark's JPEGs, unchanged)."
        return (
            f"Each video holds the benchmark's {frames} frames of its scan, one video frame each at {result.fps:g} fps."
        )


EXPORT_LAYOUTS: Registry[type[ExportLayout]] = Registry("export format", entry_point_group="ladder.export_layouts")
"""Layout name -> its layout, in registration order."""

_L = TypeVar("_L", bound=type[ExportLayout])


def register_layout(cls: _L) -> _L:
    """Class decorator: make an export layout available as ``ladder export --format cls.name``."""
    EXPORT_LAYOUTS.add(cls.name, cls)
    return cls


def get_layout(name: str) -> type[ExportLayout]:
    """The layout named ``name``; ``ConfigError`` listing the layouts otherwise."""
    return EXPORT_LAYOUTS.get_entry(name)
