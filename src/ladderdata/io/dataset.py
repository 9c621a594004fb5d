"""The one read side of ladder's own outputs: built datasets (``ladder build-dataset``) and benchmarks
(``ladder build-bench``), as typed rows under one vocabulary.

A build's ``manifest.json`` lists its shards (``shards[].path``, relative to the build's folder); the readers read
those and nothing else, so a file a user drops inside ``data/`` is never taken for a shard. Benchmark shards store
the field names evaluators read (``scene_name``, ``question_type``, ``ground_truth``, ``dataset``); the readers
rename them on reading (:data:`STORED_BENCH_NAMES`), so every consumer sees ladder's names (``scene_id``, ``task``,
``answer``, ``benchmark``), and the evaluator names appear again only where a benchmark is exported
(:meth:`BenchRow.stored_columns`).

Every problem is a ``ConfigError`` naming the folder and the file: no build under a path, a manifest that is
missing, truncated or not ladder's (or not a regular file: a FIFO would block the reader), a shard listed but
missing, a shard that is not Parquet or lacks the fields, a row whose values do not fit.

>>> from ladderdata.io.dataset import DatasetReader
>>> # for row in DatasetReader(Path("dataset")).rows(tasks=["object_counting"]): print(row.task, row.answer)
"""

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, ValidationError

from ladderdata.cache import regular_file_stat
from ladderdata.errors import ConfigError
from ladderdata.io.shards import BENCH_RENAMES
from ladderdata.layout import DatasetLayout
from ladderdata.prompts import LETTERS
from ladderdata.tasks import AnswerType, QuestionRecord

MANIFEST = "manifest.json"
STORED_BENCH_NAMES: dict[str, str] = {**BENCH_RENAMES, "dataset": "benchmark"}
"""Benchmark shard column -> the field of :class:`BenchRow` it is read into."""
BENCH_COLUMNS = (
    "id",
    "dataset",
    "source",
    "scene_name",
    "question_type",
    "question",
    "options",
    "ground_truth",
    "answer_type",
)
"""Columns a benchmark shard must have (the scorers and the leakage checks read them)."""
DATASET_COLUMNS = ("id", "source", "scene_id", "task", "question", "options", "answer", "answer_type")
"""Columns a training shard must have."""
BATCH_ROWS = 64
"""Rows decoded at a time while iterating (a shard's row group holds at most this many)."""


# ------------------------------------------------------------------------------------------------ rows


class ChatContent(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    text: str | None = None


class ChatTurn(BaseModel):
    """One turn of a training row's ``messages`` (the chat TRL trains on)."""

    model_config = ConfigDict(frozen=True)

    role: str
    content: list[ChatContent]


class StoredRow(QuestionRecord):
    """What every row of a dataset or a benchmark holds, under ladder's names (those of ``tasks.Sample``)."""

    timestamps: list[float] | None = None
    margins: dict[str, float | None] = Field(default_factory=dict)
    extras: dict[str, JsonValue] = Field(default_factory=dict)
    """The row's extras (route_planning: its top-down map); empty when the row or its shard has none."""
    images: list[bytes] | None = None
    """Encoded image bytes, one per ``frame_ids`` entry; None unless the rows were read ``with_images``."""
    subset: str
    """The folder under ``data/`` the row's shard is in (``spatial``, ``localization``; a benchmark's name)."""


class Row(StoredRow):
    """One row of a built dataset (``ladder build-dataset``)."""

    resized_width: int | None = None
    resized_height: int | None = None
    messages: list[ChatTurn] = Field(default_factory=list)
    """The chat a supervised stage trains on (system, user with the images and prompt, assistant answer)."""

    @property
    def prompt(self) -> str | None:
        """The text of the last user turn (the whole prompt the model reads), None without ``messages``."""
        user = [turn for turn in self.messages if turn.role == "user"]
        if not user:
            return None
        return "\n".join(c.text or "" for c in user[-1].content if c.type == "text")


class BenchRow(StoredRow):
    """One question of a benchmark (``ladder build-bench``)."""

    benchmark: str
    """The benchmark's name (stored as evaluators' ``dataset`` column)."""

    def stored_columns(self) -> dict[str, object]:
        """The row as its shard stores it, under the evaluators' column names (``scene_name``, ``question_type``,
        ``ground_truth``, ``dataset``; images as ``{"bytes", "path"}``): for exports and answer backends, which
        hand rows to tools that read those names."""
        fields = self.model_dump(mode="json", exclude={"subset", "images", "extras"})
        out: dict[str, object] = {stored: fields.pop(name) for stored, name in STORED_BENCH_NAMES.items()}
        out |= fields
        if self.images is not None:
            out["images"] = [{"bytes": data, "path": None} for data in self.images]
        if self.extras:
            out["extras"] = json.dumps(self.extras, sort_keys=True, separators=(",", ":"))
        return out


class RowKey(BaseModel):
    """The two fields preview and sampling choose rows by."""

    model_config = ConfigDict(frozen=True)

    task: str
    scene_id: str


# -------------------------------------------------------------------------------------------- manifest


class ManifestShard(BaseModel):
    path: str
    rows: int
    sha256: str = ""


class BuildManifest(BaseModel):
    """What the readers use of a build's ``manifest.json``."""

    model_config = ConfigDict(extra="ignore")

    benchmark: bool = False
    shards: list[ManifestShard] = []


@dataclass(frozen=True)
class Shard:
    """One shard a manifest lists."""

    path: Path
    subset: str
    rows: int


@contextmanager
def reading_parquet(path: Path) -> Iterator[None]:
    """Turn a Parquet file that cannot be read (truncated, not Parquet, unreadable) into a ``ConfigError`` naming
    it."""
    try:
        yield
    except (pa.ArrowException, OSError) as e:
        raise ConfigError(f"{path} cannot be read as Parquet ({e}); truncated or not ladder's? rebuild it") from None


def read_manifest(folder: Path) -> BuildManifest:
    """The manifest of the build in ``folder``; missing, unreadable, truncated or foreign is a ``ConfigError``."""
    path = folder / MANIFEST
    try:
        regular_file_stat(path)  # a FIFO would block the reader forever
    except FileNotFoundError:
        raise ConfigError(
            f"{folder} holds no {MANIFEST}: not a folder written by ladder build-dataset or build-bench "
            "(or its build was interrupted: rerun it)"
        ) from None
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror or e}; a manifest must be a regular file") from None
    try:
        return BuildManifest.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as e:
        reason = str(e).splitlines()[0][:160]
        raise ConfigError(f"{path} is not a readable ladder manifest ({reason}); rebuild {folder}") from None


def find_builds(path: Path) -> list[Path]:
    """Build folders at ``path``: every folder holding a ``manifest.json``, ``path`` itself included
    (``build-bench`` writes one per benchmark), hidden folders (caches) skipped, sorted."""
    if not path.is_dir():
        raise ConfigError(f"{path} is not a folder: give a folder written by ladder build-dataset or build-bench")
    found = sorted(
        m.parent for m in path.rglob(MANIFEST) if not any(p.startswith(".") for p in m.relative_to(path).parts)
    )
    if not found:
        raise ConfigError(
            f"no ladder dataset or benchmark in {path} (no {MANIFEST}): give a folder written by "
            "ladder build-dataset or build-bench"
        )
    return found


def listed_shards(folder: Path, manifest: BuildManifest) -> list[Shard]:
    """The shards ``manifest`` lists, in path order (subset, then shard number), each checked to exist inside
    ``folder`` and be a regular file."""
    shards = []
    for entry in manifest.shards:
        relative = Path(entry.path)
        if relative.is_absolute() or ".." in relative.parts or len(relative.parts) < 3 or relative.parts[0] != "data":
            raise ConfigError(f"{folder / MANIFEST} lists shard {entry.path!r}, which is not under data/<subset>/")
        path = folder / relative
        try:
            regular_file_stat(path)
        except FileNotFoundError:
            raise ConfigError(
                f"{folder}: shard {entry.path} is listed in {MANIFEST} but missing; rebuild it (a rerun resumes)"
            ) from None
        except OSError as e:
            raise ConfigError(f"{path}: {e.strerror or e}; a shard must be a regular file") from None
        shards.append(Shard(path, relative.parts[1], entry.rows))
    return sorted(shards, key=lambda s: s.path)


def is_benchmark(folder: Path) -> bool:
    """Whether the build in ``folder`` is a benchmark, as its manifest says."""
    return read_manifest(folder).benchmark


# ---------------------------------------------------------------------------------------------- readers

R = TypeVar("R", bound=StoredRow)


class ShardReader(Generic[R]):
    """Rows of the builds at a path, typed as :attr:`row_model`; the base of :class:`DatasetReader` and
    :class:`BenchReader`."""

    row_model: ClassVar[type[StoredRow]]
    kind: ClassVar[str]
    """What the builds are, in messages."""
    shard_kind: ClassVar[str]
    required: ClassVar[tuple[str, ...]]
    renames: ClassVar[Mapping[str, str]] = {}
    benchmark: ClassVar[bool]

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = list(folders)
        self.shards: list[Shard] = []
        for folder in self.folders:
            manifest = read_manifest(folder)
            if manifest.benchmark is not self.benchmark:
                hint = "build-bench" if manifest.benchmark else "build-dataset"
                raise ConfigError(f"{folder} is not {self.kind}: its manifest says it was written by ladder {hint}")
            self.shards += listed_shards(folder, manifest)

    @property
    def subsets(self) -> list[str]:
        """Subsets (folders under ``data/``) that have shards, sorted."""
        return sorted({s.subset for s in self.shards})

    def row_count(self, subset: str | None = None) -> int:
        """Rows the manifests list (of ``subset`` only when given)."""
        return sum(s.rows for s in self.shards if subset is None or s.subset == subset)

    def _columns(self, shard: Shard, with_images: bool) -> list[str]:
        with reading_parquet(shard.path):
            names = pq.read_schema(shard.path).names
        missing = [c for c in self.required if c not in names]
        if missing:
            raise ConfigError(f"{shard.path} is not {self.shard_kind} (no {', '.join(missing)}); rebuild it")
        return names if with_images else [c for c in names if c != "images"]

    def _row(self, shard: Shard, number: int, stored: Mapping[str, object]) -> R:
        """The typed row of a shard's ``number``-th (1-based) stored row."""
        fields = {self.renames.get(name, name): value for name, value in stored.items()}
        if "images" in fields:
            images = fields["images"]
            fields["images"] = [image["bytes"] for image in images] if isinstance(images, list) else images
        extras = fields.get("extras")
        fields["extras"] = json.loads(extras) if isinstance(extras, str) else {}
        fields["subset"] = shard.subset
        try:
            return self.row_model.model_validate(fields)  # type: ignore[return-value]
        except ValidationError as e:
            bad = ", ".join(".".join(str(p) for p in err["loc"]) for err in e.errors())
            raise ConfigError(
                f"{shard.path} row {number} (question {stored.get('id')!r:.80}): not {self.kind} row (bad: {bad})"
            ) from None

    def _stored(self, shard: Shard, with_images: bool) -> Iterator[Mapping[str, object]]:
        columns = self._columns(shard, with_images)
        with reading_parquet(shard.path):
            for batch in pq.ParquetFile(shard.path).iter_batches(batch_size=BATCH_ROWS, columns=columns):
                yield from batch.to_pylist()

    def _checked(self, rows: Iterator[tuple[Shard, R]]) -> Iterator[R]:
        """The rows, checked across shards (a benchmark's ids are unique)."""
        return (row for _, row in rows)

    def rows(
        self,
        with_images: bool = False,
        subsets: Iterable[str] | None = None,
        tasks: Iterable[str] | None = None,
    ) -> Iterator[R]:
        """Every row, shard by shard in path order, read a batch at a time; image bytes only ``with_images``;
        only the rows of ``subsets`` and of ``tasks`` when given."""
        wanted_subsets = None if subsets is None else set(subsets)
        wanted_tasks = None if tasks is None else set(tasks)
        shards = [s for s in self.shards if wanted_subsets is None or s.subset in wanted_subsets]
        read = (
            (shard, self._row(shard, number, stored))
            for shard in shards
            for number, stored in enumerate(self._stored(shard, with_images), start=1)
        )
        for row in self._checked(read):
            if wanted_tasks is None or row.task in wanted_tasks:
                yield row

    def _stored_columns(self, shard: Shard, fields: Sequence[str]) -> list[list[object]]:
        """The stored values of ``fields`` (ladder's names) of every row of ``shard``, one list per field, reading
        only those columns."""
        stored = {name: column for column, name in self.renames.items()}
        columns = [stored.get(field, field) for field in fields]
        self._columns(shard, with_images=False)
        with reading_parquet(shard.path):
            table = pq.read_table(shard.path, columns=columns)
        return [table.column(column).to_pylist() for column in columns]

    def keys(self, subset: str) -> list[RowKey]:
        """(task, scene) of every row of ``subset``, in order, reading only those two columns."""
        out: list[RowKey] = []
        for shard in self.shards:
            if shard.subset == subset:
                tasks, scenes = self._stored_columns(shard, ["task", "scene_id"])
                out += [RowKey(task=str(t), scene_id=str(s)) for t, s in zip(tasks, scenes, strict=True)]
        return out

    def scans(self) -> set[tuple[str, str]]:
        """(source, scan id) of every row, reading only those two columns."""
        out: set[tuple[str, str]] = set()
        for shard in self.shards:
            sources, scenes = self._stored_columns(shard, ["source", "scene_id"])
            out |= {(str(source), str(scene)) for source, scene in zip(sources, scenes, strict=True)}
        return out

    def rows_at(self, subset: str, positions: Sequence[int], with_images: bool = True) -> list[R]:
        """Rows ``positions`` (0-based, over ``subset``'s rows in order), reading only the row groups that hold
        them."""
        shards = [s for s in self.shards if s.subset == subset]
        counts = []
        for shard in shards:  # as the files say: a manifest edited by hand must not shift the rows read
            with reading_parquet(shard.path):
                counts.append(pq.read_metadata(shard.path).num_rows)
        out: list[R] = []
        for position in positions:
            index, local = 0, position
            while index < len(shards) and local >= counts[index]:
                local -= counts[index]
                index += 1
            if index == len(shards):
                raise IndexError(f"{subset} has no row {position}")
            shard = shards[index]
            columns = self._columns(shard, with_images)
            number = local + 1
            with reading_parquet(shard.path):
                parquet = pq.ParquetFile(shard.path)
                group = 0
                while local >= parquet.metadata.row_group(group).num_rows:
                    local -= parquet.metadata.row_group(group).num_rows
                    group += 1
                stored = parquet.read_row_group(group, columns=columns).slice(local, 1).to_pylist()[0]
            out.append(self._row(shard, number, stored))
        return out


class DatasetReader(ShardReader[Row]):
    """The rows of one built dataset: ``DatasetReader(Path("dataset")).rows()``."""

    row_model = Row
    kind = "a ladder dataset"
    shard_kind = "a dataset shard"
    required = DATASET_COLUMNS
    benchmark = False

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise ConfigError(f"{folder} is not a folder: give the --out folder of ladder build-dataset")
        super().__init__([folder])
        self.layout = DatasetLayout(folder)


class BoxAnswer(BaseModel):
    label: str
    bbox_2d: list[float] = Field(min_length=4, max_length=4)


_BOXES = TypeAdapter(list[BoxAnswer])


def _mcq_truth_problem(truth: str, options: list[str]) -> str | None:
    letters = LETTERS[: len(options)]
    if not 1 <= len(options) <= len(LETTERS) or truth.strip().upper() not in letters:
        return f"ground_truth {truth!r:.40} is not the letter of one of its {len(options)} options"
    return None


def _numeric_truth_problem(truth: str, options: list[str]) -> str | None:
    try:
        value = float(truth)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        return f"ground_truth {truth!r:.40} of a numeric question is not a finite number"
    return None


def _boxes_truth_problem(truth: str, options: list[str]) -> str | None:
    try:
        boxes = _BOXES.validate_json(truth)
    except ValidationError:
        boxes = []
    if not boxes or not all(math.isfinite(v) for b in boxes for v in b.bbox_2d):
        return f"ground_truth {truth!r:.40} of a boxes question is not a JSON list of boxes"
    return None


_TRUTH_PROBLEMS: dict[AnswerType, Callable[[str, list[str]], str | None]] = {
    AnswerType.MCQ: _mcq_truth_problem,
    AnswerType.NUMERIC: _numeric_truth_problem,
    AnswerType.BOXES: _boxes_truth_problem,
}
"""Answer type -> what is wrong with a ground truth (as stored) of that type, given the options."""


def bench_row_problem(stored: Mapping[str, object]) -> str | None:
    """What is wrong with a stored benchmark row's values (the scorers rely on them), None when nothing is:
    text fields that are non-empty strings, options a list of strings, a known answer type, and a ground truth of
    that type (an option's letter, a finite number, a JSON list of boxes). Names the stored columns, as the
    file holds them."""
    for name in ("dataset", "question_type", "question", "ground_truth", "answer_type"):
        value = stored.get(name)
        if not isinstance(value, str) or not value.strip():
            return f"{name} is {value!r:.60}, not a non-empty string"
    options, kind, truth = stored.get("options"), str(stored["answer_type"]), str(stored["ground_truth"])
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        return f"options is {options!r:.60}, not a list of strings"
    if kind not in _TRUTH_PROBLEMS:
        return f"answer_type {kind!r:.40} is not one of {', '.join(t.value for t in AnswerType)}"
    return _TRUTH_PROBLEMS[AnswerType(kind)](truth, options)


class BenchReader(ShardReader[BenchRow]):
    """The questions of one benchmark folder, or of every benchmark under a folder (``build-bench --out``):
    ``BenchReader(Path("bench")).rows()``. Rows are checked as they are read: question ids unique over the
    folder, values the scorers can use (:func:`bench_row_problem`)."""

    row_model = BenchRow
    kind = "a ladder benchmark"
    shard_kind = "a benchmark shard"
    required = BENCH_COLUMNS
    renames = STORED_BENCH_NAMES
    benchmark = True

    def __init__(self, path: Path, allow_empty: bool = False, builds: Sequence[Path] | None = None) -> None:
        """``allow_empty``: a benchmark whose manifests list no shard is read as no rows, not refused;
        ``builds``: read these build folders only (default: every build under ``path``)."""
        super().__init__(find_builds(path) if builds is None else builds)
        self.path = path
        if not self.shards and not allow_empty:
            raise ConfigError(f"no benchmark shards under {path}: its manifests list none")

    def _row(self, shard: Shard, number: int, stored: Mapping[str, object]) -> BenchRow:
        qid = stored.get("id")
        if not isinstance(qid, str) or not qid:
            raise ConfigError(f"{shard.path}: a question without an id")
        problem = bench_row_problem(stored)
        if problem is not None:
            raise ConfigError(f"{shard.path} row {number} (question {qid!r:.80}): {problem}")
        return super()._row(shard, number, stored)

    def _checked(self, rows: Iterator[tuple[Shard, BenchRow]]) -> Iterator[BenchRow]:
        seen: dict[str, Path] = {}
        for shard, row in rows:
            if row.id in seen:
                raise ConfigError(f"{shard.path}: question id {row.id!r} appears twice (also in {seen[row.id]})")
            seen[row.id] = shard.path
            yield row


def open_build(folder: Path) -> DatasetReader | BenchReader:
    """The reader of the one build in ``folder``, by what its manifest says it is."""
    return BenchReader(folder, allow_empty=True, builds=[folder]) if is_benchmark(folder) else DatasetReader(folder)


def open_builds(path: Path) -> list[DatasetReader | BenchReader]:
    """A reader per build at ``path`` (a dataset, a benchmark, a folder of benchmarks), in path order."""
    return [open_build(folder) for folder in find_builds(path)]
