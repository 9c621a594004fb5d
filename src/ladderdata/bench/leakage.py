"""``ladder check-leakage``: room overlap between a training dataset and a benchmark."""

import json
from dataclasses import dataclass
from pathlib import Path

from ladderdata.errors import ConfigError
from ladderdata.io.rooms import dataset_rooms
from ladderdata.outputs import shown


@dataclass
class LeakageReport:
    train_rooms: int
    bench_rooms: int
    overlap: list[str]
    """Rooms present in both (sorted)."""

    @property
    def clean(self) -> bool:
        return not self.overlap


def benchmark_flags(path: Path) -> set[bool]:
    """Whether each build under ``path`` is a benchmark, as its ``manifest.json`` says (``benchmark``)."""
    flags = set()
    for manifest in path.rglob("manifest.json"):
        try:
            flags.add(bool(json.loads(manifest.read_bytes()).get("benchmark")))
        except (OSError, ValueError, AttributeError):
            continue  # unreadable manifests are reported by dataset_rooms
    return flags


def check_leakage(train: Path, bench: Path) -> LeakageReport:
    """Rooms of ``bench`` also in ``train``. Arguments given the other way round (a benchmark first, training data
    second, as their manifests say) are refused: the advice to exclude the benchmark would name the training data."""
    a, b = dataset_rooms(train), dataset_rooms(bench)
    if benchmark_flags(train) == {True} and benchmark_flags(bench) == {False}:
        raise ConfigError(
            f"the arguments are swapped: {shown(train)} is a benchmark (build-bench) and {shown(bench)} training "
            f"data (build-dataset); give the training data first: ladder check-leakage {shown(bench)} {shown(train)}"
        )
    return LeakageReport(len(a), len(b), sorted(a & b))
