"""The Ray executor: one Ray task per item, on an existing cluster or a local one started for the run.

Ray retries a task whose worker process died (``max_retries``) and reports it after that; exceptions raised by
the function are caught inside the task and come back as that item's error, so they are never retried.
Workers read the scans and write their outputs themselves, so on a multi-node cluster the scans and the output
folder must be on storage every node sees at the same path (docs/scaling.md). Tasks run in workers started with
one thread per numeric library (``WORKER_THREADS_ENV``, or the driver's own value of each variable).
"""

import logging
import os
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ladderdata.errors import ConfigError, install_command
from ladderdata.executor.base import (
    WORKER_THREADS_ENV,
    Executor,
    ExecutorKind,
    Outcome,
    call_item,
    failed_outcome,
    item_names,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Object store of a local cluster started by ladder: results are per-scan drafts, far below this.
LOCAL_OBJECT_STORE_BYTES = 512 * 2**20


def _call(fn: Callable[[Any], Any], item: Any) -> tuple[bool, Any]:
    """Runs inside a Ray worker."""
    return call_item(fn, item)


def _last_line(error: BaseException) -> str:
    """The last line of a Ray error, without terminal colours (Ray puts the cause last)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(error).splitlines()]
    return next((line for line in reversed(lines) if line), "no details")


class RayExecutor(Executor):
    """Items as Ray tasks; at most ``workers`` in flight (default: as many as the cluster schedules)."""

    kind = ExecutorKind.RAY

    def __init__(self, address: str | None = None, workers: int | None = None, retries: int = 1) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError(f"--executor ray needs Ray: {install_command('ray')}") from None
        self.workers = workers
        self.retries = retries
        self._owns_cluster = not ray.is_initialized()
        if self._owns_cluster:
            options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
            if address is None:  # a local cluster for this run
                options |= {"num_cpus": workers, "object_store_memory": LOCAL_OBJECT_STORE_BYTES}
            try:
                ray.init(address=address, **options)
            except (ConnectionError, ValueError, RuntimeError) as e:
                raise ConfigError(f"cannot start or join a Ray cluster (address {address!r}): {e}") from None
        threads = {key: os.environ.get(key, value) for key, value in WORKER_THREADS_ENV.items()}
        self._remote = ray.remote(num_cpus=1, max_retries=retries, runtime_env={"env_vars": threads})(_call)

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        names: Sequence[str] | None = None,
        on_done: Callable[[Outcome[R]], None] | None = None,
    ) -> list[Outcome[R]]:
        import ray

        labels = item_names(items, names)
        outcomes: list[Outcome[R] | None] = [None] * len(items)
        limit = self.workers or len(items)
        fn_ref = ray.put(fn)
        pending: dict[Any, int] = {}
        submitted = 0
        try:
            while submitted < len(items) or pending:
                while submitted < len(items) and len(pending) < limit:
                    pending[self._remote.remote(fn_ref, items[submitted])] = submitted
                    submitted += 1
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    index = pending.pop(ref)
                    label = labels[index]
                    try:
                        ok, payload = ray.get(ref)
                        outcome = Outcome[R](label, value=payload) if ok else failed_outcome(label, payload)
                    except ray.exceptions.RayError as e:  # worker died (after retries), node lost, out of memory
                        outcome = Outcome[R](label, error=f"[{label}] {type(e).__name__}: {_last_line(e)}")
                    outcomes[index] = outcome
                    if on_done:
                        on_done(outcome)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        return [o for o in outcomes if o is not None]

    def close(self) -> None:
        if self._owns_cluster:
            import ray

            ray.shutdown()
