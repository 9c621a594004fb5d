"""One way to map work over items (scans, shards): ``local`` (this process, or a pool of worker processes)
or ``ray`` (a Ray cluster). Every stage that fans out uses :func:`open_executor`; outputs never depend on which.

    with open_executor(ExecutorConfig(kind="local", workers=4)) as executor:
        outcomes = executor.map(fn, items, names=[...], on_done=progress)
"""

from ladderdata.executor.base import (
    Executor,
    ExecutorConfig,
    ExecutorKind,
    Outcome,
    describe_failure,
    exception_text,
)
from ladderdata.executor.local import LocalExecutor
from ladderdata.executor.ray_cluster import RayExecutor


def open_executor(config: ExecutorConfig | None = None) -> Executor:
    """The executor ``config`` describes (default: in this process)."""
    config = config or ExecutorConfig()
    if config.kind is ExecutorKind.RAY:
        return RayExecutor(config.ray_address, config.workers, config.retries)
    return LocalExecutor(config.workers or 1, config.retries)


__all__ = [
    "Executor",
    "ExecutorConfig",
    "ExecutorKind",
    "LocalExecutor",
    "Outcome",
    "RayExecutor",
    "describe_failure",
    "exception_text",
    "open_executor",
]
