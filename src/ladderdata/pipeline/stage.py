"""The shape every build stage shares: a name, ``run(ctx, input, stats) -> output``, counters and timing."""

import time
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from ladderdata.executor import Executor
from ladderdata.layout import DatasetLayout
from ladderdata.pipeline.config import BuildConfig

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass
class StageStats:
    """What a stage did: named counters (scans drafted, shards reused, ...) and its wall time."""

    seconds: float = 0.0
    counters: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 3), "counters": dict(sorted(self.counters.items()))}


class BuildProgress(Protocol):
    """Progress of the stages that fan out over items (progress bars in the CLI)."""

    def start(self, stage: str, total: int) -> None: ...

    def advance(self, stage: str) -> None: ...


@dataclass
class BuildContext:
    """What every stage may use: the config, the executor, progress reporting and the stats of every stage."""

    config: BuildConfig
    executor: Executor
    progress: BuildProgress | None = None
    stats: dict[str, StageStats] = field(default_factory=dict)

    @property
    def layout(self) -> DatasetLayout:
        return DatasetLayout(self.config.out)

    def start(self, stage: str, total: int) -> None:
        if self.progress:
            self.progress.start(stage, total)

    def advance(self, stage: str) -> None:
        if self.progress:
            self.progress.advance(stage)


class Stage(ABC, Generic[In, Out]):
    """One step of the build. Calling a stage runs it and records its time under its name in ``ctx.stats``."""

    name: ClassVar[str]

    def __call__(self, ctx: BuildContext, data: In) -> Out:
        stats = ctx.stats.setdefault(self.name, StageStats())
        start = time.perf_counter()
        try:
            return self.run(ctx, data, stats)
        finally:
            stats.seconds += time.perf_counter() - start

    @abstractmethod
    def run(self, ctx: BuildContext, data: In, stats: StageStats) -> Out: ...
