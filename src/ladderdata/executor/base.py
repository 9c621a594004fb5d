"""The executor interface: map a function over items, one :class:`Outcome` per item, in input order."""

import gc
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ladderdata.errors import LadderError, StopRunError
from ladderdata.executor.progress import ItemProgress

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: The numeric libraries' thread pools in a worker process: one thread each. A run's parallelism is its workers;
#: N workers each running a BLAS pool of N threads oversubscribe the cores, and numpy's small matrix products
#: (the camera transform of every view's object samples) then spend most of their CPU time in spinning BLAS
#: threads: the per-view object statistics cost about 3x (docs/performance.md#scale). The libraries read these
#: variables when they load, so a worker is given them when it starts; a value the environment sets is kept.
WORKER_THREADS_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class ExecutorKind(StrEnum):
    LOCAL = "local"
    """This machine: in this process for one worker, else a pool of worker processes."""
    RAY = "ray"
    """A Ray cluster: an existing one (``ray_address``) or a local one started for the run."""


class ExecutorConfig(BaseModel):
    """Where per-item work (scans, shards) runs. Outputs never depend on it."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    kind: ExecutorKind = ExecutorKind.LOCAL
    workers: int | None = Field(
        None,
        ge=1,
        le=4096,
        description="local: worker processes (default 1, in-process); ray: tasks in flight (default all)",
    )
    ray_address: str | None = Field(None, description="Ray cluster to join (``auto``, ``ray://host:10001``, ...)")
    retries: int = Field(1, ge=0, le=10, description="times an item is retried after its worker process died")


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """What became of one item: its value, or an error message that names it."""

    item: str
    value: R | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def exception_text(error: BaseException) -> str:
    """A ``LadderError``'s own message (it names scan and file), else the exception's type and message."""
    return str(error) if isinstance(error, LadderError) else f"{type(error).__name__}: {error}"


def describe_failure(item: str, error: BaseException | str) -> str:
    """One line that names the item."""
    text = error if isinstance(error, str) else exception_text(error)
    return text if item in text else f"[{item}] {text}"


def call_item(fn: Callable[[T], R], item: T) -> tuple[bool, Any]:
    """``(True, fn(item))``, or ``(False, error text)`` when ``fn`` raises; an :class:`StopRunError` comes back as the
    exception itself (it pickles), for :func:`failed_outcome` to raise in the parent.

    While ``fn`` runs, the objects alive before it are frozen out of the cyclic garbage collector (``gc.freeze``):
    they are mostly the imported libraries' modules, classes and functions (about 230k objects once a scan's are
    imported), which a full collection would otherwise traverse each time the item's own objects trigger one, about
    0.1 CPU s per full collection on a ScanNet-sized scan (docs/performance.md, "Garbage collection"). The item's
    own cycles are collected as before; the frozen objects are unfrozen when it returns."""
    gc.freeze()
    try:
        return True, fn(item)
    except StopRunError as e:
        return False, e
    except Exception as e:
        log.debug("%s failed", item, exc_info=True)
        return False, exception_text(e)
    finally:
        gc.unfreeze()


def failed_outcome(label: str, payload: Any) -> "Outcome[Any]":
    """The outcome of an item whose function raised: its error, or the run stops (an :class:`StopRunError`)."""
    if isinstance(payload, StopRunError):
        raise payload
    return Outcome(label, error=describe_failure(label, payload))


class Executor(ABC):
    """Maps a function over items. Use as a context manager: worker processes or the cluster connection
    live until the block ends, so several stages (and several builds) share them."""

    kind: ExecutorKind
    item_progress: ItemProgress | None = None
    """Called with ``(item name, done, total)`` as items report progress inside themselves
    (:func:`~ladderdata.executor.progress.report_progress`: views cast, frames written); set it to show it.
    The local executor reports from this process and from its workers; the Ray executor does not."""

    @abstractmethod
    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        names: Sequence[str] | None = None,
        on_done: Callable[[Outcome[R]], None] | None = None,
    ) -> list[Outcome[R]]:
        """``fn(item)`` for every item; outcomes in input order, ``on_done`` called as each one finishes.

        ``fn`` and the items must pickle (module-level functions, ``functools.partial`` of them). An exception
        in ``fn`` becomes that item's error, except an :class:`~ladderdata.errors.StopRunError` (the disk is full),
        which stops the map and is raised; a worker process that dies is retried, then reported as the item's
        error. ``names`` (default ``str(item)``) name the items in outcomes and messages.
        """

    @abstractmethod
    def close(self) -> None:
        """Release workers or the cluster connection."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def item_names(items: Sequence[object], names: Sequence[str] | None) -> list[str]:
    if names is None:
        return [str(item) for item in items]
    if len(names) != len(items):
        raise ValueError(f"{len(names)} names for {len(items)} items")
    return list(names)
