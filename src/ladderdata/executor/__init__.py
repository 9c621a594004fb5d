"""One way to map work over items (scans, shards): ``local`` (this process, or a pool of worker processes)
or ``ray`` (a Ray cluster). Every stage that fans out uses :func:`open_executor`; outputs never depend on which.

    with open_executor(ExecutorConfig(kind="local", workers=4)) as executor:
        outcomes = executor.map(fn, items, names=[...], on_done=progress)

The executors' modules (process pools, Ray's client) are imported when one is opened or named, not with this
package: the command line imports it for :class:`ExecutorConfig` before any work starts.
"""

from typing import TYPE_CHECKING, Any

from ladderdata.executor.base import (
    Executor,
    ExecutorConfig,
    ExecutorKind,
    Outcome,
    describe_failure,
    exception_text,
)

if TYPE_CHECKING:
    from ladderdata.executor.local import LocalExecutor
    from ladderdata.executor.ray_cluster import RayExecutor


def open_executor(config: ExecutorConfig | None = None) -> Executor:
    """The executor ``config`` describes (default: in this process)."""
    config = config or ExecutorConfig()
    if config.kind is ExecutorKind.RAY:
        from ladderdata.executor.ray_cluster import RayExecutor

        return RayExecutor(config.ray_address, config.workers, config.retries)
    from ladderdata.executor.local import LocalExecutor

    return LocalExecutor(config.workers or 1, config.retries)


def __getattr__(name: str) -> Any:
    """``LocalExecutor`` and ``RayExecutor``, their modules imported when first named."""
    if name == "LocalExecutor":
        from ladderdata.executor.local import LocalExecutor

        return LocalExecutor
    if name == "RayExecutor":
        from ladderdata.executor.ray_cluster import RayExecutor

        return RayExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
