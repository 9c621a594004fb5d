"""``ladder check-leakage``: room overlap between a training dataset and a benchmark."""

from dataclasses import dataclass
from pathlib import Path

from ladderdata.io.rooms import dataset_rooms


@dataclass
class LeakageReport:
    train_rooms: int
    bench_rooms: int
    overlap: list[str]
    """Rooms present in both (sorted)."""

    @property
    def clean(self) -> bool:
        return not self.overlap


def check_leakage(train: Path, bench: Path) -> LeakageReport:
    a, b = dataset_rooms(train), dataset_rooms(bench)
    return LeakageReport(len(a), len(b), sorted(a & b))
