"""The one place ``ladder export`` reads a built benchmark: shards on disk carry the evaluators' column names
(``scene_name``, ``question_type``, ``ground_truth``), the questions handed to the layouts carry ladder's
(:class:`BenchQuestion`). When :mod:`ladderdata.io.dataset`'s typed bench reader replaces
:func:`ladderdata.eval.report.load_bench`, :class:`BenchSource` is what changes."""

from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path

import pyarrow.parquet as pq

from ladderdata.errors import ConfigError
from ladderdata.eval.export.records import BenchQuestion
from ladderdata.eval.report import bench_files, load_bench
from ladderdata.io.shards import BENCH_RENAMES

NEEDED_FIELDS = ("source", "scene_name", "modality", "frame_ids", "timestamps")
"""Benchmark columns an export needs besides those ``ladder eval`` reads."""


def _question(row: Mapping[str, object], images: list[bytes]) -> BenchQuestion:
    """A shard row under ladder's names (``dataset`` is the benchmark's name)."""
    fields = {BENCH_RENAMES.get(name, name): value for name, value in row.items() if name not in ("images", "dataset")}
    return BenchQuestion.model_validate({**fields, "benchmark": row["dataset"], "images": images})


def _image_bytes(image: object) -> bytes:
    data = image.get("bytes") if isinstance(image, dict) else None
    if not isinstance(data, bytes):
        raise ConfigError("benchmark image without embedded bytes; rebuild it with ladder build-bench")
    return data


class BenchSource:
    """One benchmark folder, or a folder of benchmarks: its benchmarks' names and shards, their questions
    (checked), and their questions with images, streamed one shard batch at a time."""

    def __init__(self, bench: Path) -> None:
        self.bench = bench
        found: dict[str, list[Path]] = defaultdict(list)
        for path in bench_files(bench):
            for name in pq.read_table(path, columns=["dataset"]).column("dataset").unique().to_pylist():
                found[str(name)].append(path)
        self.shards = dict(sorted(found.items()))
        """Benchmark name (each shard's ``dataset`` value) -> its shards."""

    def questions(self) -> dict[str, list[BenchQuestion]]:
        """Benchmark -> its questions without images, in shard order; a shard the scorers cannot read, or a
        benchmark built before the columns an export needs, is a ``ConfigError``."""
        rows = load_bench(self.bench)
        out: dict[str, list[BenchQuestion]] = {}
        for benchmark in self.shards:
            own = [r for r in rows if r["dataset"] == benchmark]
            missing = sorted(set(NEEDED_FIELDS) - set(own[0]))
            if missing:
                raise ConfigError(f"{benchmark} has no {', '.join(missing)} column: rebuild it with ladder build-bench")
            out[benchmark] = [_question(r, []) for r in own]
        return out

    def with_images(self, benchmark: str) -> Iterator[BenchQuestion]:
        """``benchmark``'s questions with their stored JPEGs, in the order of :meth:`questions`."""
        for path in self.shards[benchmark]:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=64):
                for row in batch.to_pylist():
                    if row["dataset"] == benchmark:
                        yield _question(row, [_image_bytes(image) for image in row["images"]])
