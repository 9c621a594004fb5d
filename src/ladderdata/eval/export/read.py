"""The one place ``ladder export`` reads a built benchmark: through :class:`ladderdata.io.dataset.BenchReader`, so
the questions handed to the layouts carry ladder's names (:class:`BenchRow`); each layout's table gives them the
names its evaluator reads."""

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from ladderdata.errors import ConfigError
from ladderdata.io.dataset import BenchReader, BenchRow


class BenchSource:
    """One benchmark folder, or a folder of benchmarks: its benchmarks' names, their questions (checked), and
    their questions with images, streamed one shard batch at a time."""

    def __init__(self, bench: Path) -> None:
        self.reader = BenchReader(bench)
        found: dict[str, list[BenchRow]] = defaultdict(list)
        for row in self.reader.rows():
            found[row.benchmark].append(row)
        self._questions = dict(sorted(found.items()))

    @property
    def benchmarks(self) -> list[str]:
        return list(self._questions)

    def questions(self) -> dict[str, list[BenchRow]]:
        """Benchmark -> its questions without images, in shard order (checked by the reader)."""
        return self._questions

    def with_images(self, benchmark: str) -> Iterator[BenchRow]:
        """``benchmark``'s questions with their stored JPEGs, in the order of :meth:`questions`."""
        for row in self.reader.rows(with_images=True, subsets=[benchmark]):
            if row.benchmark != benchmark:
                continue
            if not row.images:
                raise ConfigError(
                    f"{benchmark}: question {row.id} has no embedded images; rebuild it with ladder build-bench"
                )
            yield row
