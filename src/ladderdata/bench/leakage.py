"""``ladder check-leakage``: room overlap between a training dataset and a benchmark, and near-duplicate
questions across them (same room, question type and objects)."""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from ladderdata.errors import ConfigError
from ladderdata.io.rooms import DEFAULT_SOURCE, dataset_rooms, id_room
from ladderdata.io.shards import reading_parquet
from ladderdata.outputs import shown

#: (question type, scene, source, objects) columns in benchmark and training shards.
QUESTION_COLUMNS = (("question_type", "task"), ("scene_name", "scene_id"))


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
    """(room, question type, sorted object categories) -> ids of the questions of the shards under ``path``."""
    out: dict[tuple[str, str, tuple[str, ...]], list[str]] = defaultdict(list)
    for shard in sorted(path.rglob("*.parquet")):
        if any(part.startswith(".") for part in shard.relative_to(path).parts):
            continue
        with reading_parquet(shard):
            names = pq.read_schema(shard).names
            picked = [next((c for c in pair if c in names), None) for pair in QUESTION_COLUMNS]
            if None in picked or "objects" not in names:
                continue
            qtype, scene = (c for c in picked if c is not None)
            columns = ["id", qtype, scene, "objects", *(["source"] if "source" in names else [])]
            rows = pq.read_table(shard, columns=columns).to_pylist()
        for row in rows:
            room = id_room(str(row.get("source") or DEFAULT_SOURCE), str(row[scene]))
            objects = tuple(sorted(str(o["category"]) for o in row["objects"] or []))
            out[(room, str(row[qtype]), objects)].append(str(row["id"]))
    return out


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
    overlap = sorted(a & b)
    duplicates: list[tuple[str, str]] = []
    if overlap:
        bench_keys = question_keys(bench)
        for key, ids in question_keys(train).items():
            duplicates += [(t, q) for t in ids for q in bench_keys.get(key, [])]
    return LeakageReport(len(a), len(b), overlap, sorted(duplicates))
