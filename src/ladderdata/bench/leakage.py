"""``ladder check-leakage``: room overlap between a training dataset and a benchmark, and near-duplicate
questions across them (same room, question type and objects)."""

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ladderdata.errors import ConfigError
from ladderdata.io.dataset import find_builds, is_benchmark, open_builds
from ladderdata.io.rooms import dataset_rooms, id_room
from ladderdata.outputs import shown


@dataclass
class LeakageReport:
    train_rooms: int
    bench_rooms: int
    overlap: list[str]
    """Rooms present in both (sorted)."""
    near_duplicates: list[tuple[str, str]] = field(default_factory=list)
    """(training id, benchmark id) of questions about one room with one question type and the same objects (by
    category, so rescans of a room match too), sorted."""

    @property
    def clean(self) -> bool:
        return not self.overlap


def question_keys(path: Path) -> dict[tuple[str, str, tuple[str, ...]], list[str]]:
    """(room, question type, sorted object categories) -> ids of the questions of the builds under ``path``."""
    out: dict[tuple[str, str, tuple[str, ...]], list[str]] = defaultdict(list)
    for reader in open_builds(path):
        for row in reader.rows():
            objects = tuple(sorted(o.category for o in row.objects))
            out[(id_room(row.source, row.scene_id), row.task, objects)].append(row.id)
    return out


def benchmark_flags(path: Path) -> set[bool]:
    """Whether each build under ``path`` is a benchmark, as its ``manifest.json`` says (``benchmark``)."""
    return {is_benchmark(folder) for folder in find_builds(path)}


def check_leakage(train: Path, bench: Path) -> LeakageReport:
    """Rooms of ``bench`` also in ``train``. Arguments given the other way round (a benchmark first, training data
    second, as their manifests say) are refused: the advice to exclude the benchmark would name the training data."""
    a, b = dataset_rooms(train), dataset_rooms(bench)
    if benchmark_flags(train) == {True} and benchmark_flags(bench) == {False}:
        raise ConfigError(
            f"the arguments are swapped: {shown(train)} is a benchmark (build-bench) and {shown(bench)} training "
            f"data (build-dataset); give the training data first: ladder check-leakage {shown(bench)} {shown(train)}"
        )
    overlap = sorted(a & b)
    duplicates: list[tuple[str, str]] = []
    if overlap:
        bench_keys = question_keys(bench)
        for key, ids in question_keys(train).items():
            duplicates += [(t, q) for t in ids for q in bench_keys.get(key, [])]
    return LeakageReport(len(a), len(b), overlap, sorted(duplicates))
