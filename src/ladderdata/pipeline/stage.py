"""The shape every build stage shares: a name, ``run(ctx, input, stats) -> output``, counters and timing."""

import time
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar, Generic, Protocol, TypeVar

from ladderdata.executor import Executor
from ladderdata.layout import DatasetLayout
from ladderdata.pipeline.config import BuildConfig, Drafted
from ladderdata.sources.base import ScanSource, open_source

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass
class StageStats:
    """What a stage did: named counters (scans drafted, shards reused, ...) and its wall time."""

    seconds: float = 0.0
    counters: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, float | dict[str, int]]:
        return {"seconds": round(self.seconds, 3), "counters": dict(sorted(self.counters.items()))}


class BuildProgress(Protocol):
    """Progress of the stages that fan out over items (progress bars in the CLI)."""

    def start(self, stage: str, total: int) -> None: ...

    def advance(self, stage: str) -> None: ...


@dataclass
class BuildContext:
    """What every stage may use: the config, the executor, progress reporting, the stats of every stage, the scan
    source (opened once, here) and what drafting learned about every scan (:attr:`drafted`)."""

    config: BuildConfig
    executor: Executor
    progress: BuildProgress | None = None
    stats: dict[str, StageStats] = field(default_factory=dict)
    _drafted: Drafted | None = field(default=None, init=False, repr=False)

    @property
    def layout(self) -> DatasetLayout:
        return DatasetLayout(self.config.out)

    @cached_property
    def source(self) -> ScanSource:
        """The build's scan source, opened on first use and kept: listing, rooms and source names are read from
        this one object. (Workers, other processes, open it from its config, which is what crosses to them.)"""
        return open_source(self.config.source)

    @property
    def drafted(self) -> Drafted:
        """What the draft stage learned about every scan (keys, frame digests, views, rejections), recorded by it
        for the stages after it and the build's report."""
        if self._drafted is None:
            raise RuntimeError("the draft stage has not run in this build")
        return self._drafted

    @drafted.setter
    def drafted(self, value: Drafted) -> None:
        self._drafted = value

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
