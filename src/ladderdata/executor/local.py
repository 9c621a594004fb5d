"""The local executor: in this process for one worker, else a pool of worker processes forked from a fork server.

The pool is written for failure, not only for speed: the parent knows which item each worker runs, so a
worker that dies (SIGKILL, out of memory, a crash in native code) costs exactly that item, which is retried
once on a fresh worker and then reported; the other items go on and the map never hangs. Workers die with
their parent (a lifeline pipe to this process, plus ``prctl(PR_SET_PDEATHSIG)`` on Linux for the process that
forked them), ignore Ctrl-C (the parent stops them, so an interrupt ends the run within seconds) and run one
thread per numeric library (``WORKER_THREADS_ENV``).

Workers are started with the ``forkserver`` method: one fresh interpreter (the fork server, started with the
first worker, with this process's environment and the worker-threads variables) imports what a worker's work
needs once (``WORKER_PRELOAD`` and the mapped function's module: open3d, scipy, pyarrow, pandas, OpenCV, about
2 CPU s), and each worker is forked from it, so a worker's start costs a fork, not those imports. The server is
not this process (which has threads: rich's refresh, Ray's), and it has none of its own but jemalloc's background
thread, which pyarrow starts at import and a forked child does not have (docs/performance.md, "Worker processes").
A worker does not re-run the parent's main module (for the ``ladder`` console script that is the CLI, typer,
rich and the extensions) unless the function it runs is defined there. The server and multiprocessing's resource
tracker are stopped when the last open pool closes, so no process of a run outlives its command.
"""

import contextlib
import ctypes
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import types
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

from ladderdata.executor.base import (
    WORKER_THREADS_ENV,
    Executor,
    ExecutorKind,
    Outcome,
    call_item,
    describe_failure,
    failed_outcome,
    item_names,
)
from ladderdata.executor.preload import PRELOAD_ENV
from ladderdata.executor.progress import ProgressMessage, reporting_to

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

_PR_SET_PDEATHSIG = 1
_STOP_SECONDS = 5.0

#: What the fork server imports before it forks the first worker: the heavy libraries a worker's work imports
#: (a cold build casts rays with open3d, boxes objects with scipy, decodes frames with OpenCV, writes Parquet with
#: pyarrow, which imports pandas on its first ``from_pylist``), each otherwise imported again by every worker.
#: One missing (an optional extra not installed) is skipped. The mapped function's module is added to these.
WORKER_PRELOAD = (
    "numpy",
    "scipy.spatial",
    "scipy.ndimage",
    "cv2",
    "open3d",
    "pyarrow",
    "pyarrow.parquet",
    "pandas",
    "PIL.Image",
    "ladderdata.metadata.kernels",  # numba's compiled passes, where the fast extra is installed (skipped otherwise)
)

_open_pools = 0  # pools of this process that have started a worker and are not closed: they share the fork server


def _die_with_parent(lifeline: Connection) -> None:
    """Make this worker exit when the process that started it dies, however it dies.

    Its parent process is the fork server, which exits when that process does (end of file on its own pipe from
    it): ``PR_SET_PDEATHSIG`` kills the worker then, even if it is stuck in native code; the lifeline, whose
    other end only the starting process holds, covers the rest."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            log.debug("prctl(PR_SET_PDEATHSIG) unavailable; relying on the lifeline pipe")
    if lifeline.poll():  # the starting process died before the request above took effect (it never sends)
        os._exit(1)

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv()  # the parent never sends: this returns only by EOF, when the parent is gone
        os._exit(1)

    threading.Thread(target=watch, name="ladder-lifeline", daemon=True).start()


def _worker_main(tasks: Connection, lifeline: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _die_with_parent(lifeline)
    while True:
        try:
            task = tasks.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        index, fn, item, watched = task

        def send(done: int, total: int, index: int = index) -> None:
            with contextlib.suppress(EOFError, OSError):
                tasks.send(ProgressMessage(index, done, total))

        with reporting_to(send if watched else None):
            reply: tuple[int, bool, Any] = (index, *call_item(fn, item))
        try:
            tasks.send(reply)
        except (EOFError, OSError):
            return
        except Exception as e:  # the value does not pickle
            tasks.send((index, False, f"result could not be sent back: {type(e).__name__}: {e}"))


@contextlib.contextmanager
def _worker_env(preload: Sequence[str]) -> Iterator[None]:
    """While the block runs, ``os.environ`` also holds the ``WORKER_THREADS_ENV`` variables it lacks and the
    modules to preload (``PRELOAD_ENV``): the fork server, started with the first worker, has the environment this
    process has then, and its workers have it."""
    added = {key: value for key, value in WORKER_THREADS_ENV.items() if key not in os.environ}
    added[PRELOAD_ENV] = ",".join(preload)
    saved = os.environ.get(PRELOAD_ENV)
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            del os.environ[key]
        if saved is not None:
            os.environ[PRELOAD_ENV] = saved


@contextlib.contextmanager
def _main_module_hidden(hide: bool) -> Iterator[None]:
    """While the block runs (a worker's start), ``sys.modules["__main__"]`` is a bare module if ``hide``: the
    start tells the child to re-run the main module it finds there (by ``__spec__`` name or ``__file__``), and a
    bare one has neither, so the child runs none."""
    if not hide:
        yield
        return
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _needs_main(fn: Callable[..., Any], items: Sequence[Any]) -> bool:
    """Whether unpickling ``fn`` or an item needs the main module (something in them is defined in ``__main__``);
    what does not pickle counts as needing it (its own error is reported when it is sent)."""
    try:
        return b"__main__" in pickle.dumps((fn, list(items)))
    except Exception:
        return True


class _Worker:
    def __init__(
        self, context: multiprocessing.context.ForkServerContext, with_main: bool, preload: Sequence[str]
    ) -> None:
        self.with_main = with_main
        self.tasks, child_tasks = context.Pipe()
        lifeline_child, self._lifeline = context.Pipe(duplex=False)
        self.process: BaseProcess = context.Process(
            target=_worker_main, args=(child_tasks, lifeline_child), name="ladder-worker", daemon=True
        )
        # A Ctrl-C must neither be lost nor cut the start short (a child whose start data never arrives dies with
        # a traceback). The fork server, started by the first worker's start, inherits this thread's mask with
        # SIGINT blocked and passes it to every worker it forks; a worker ignores Ctrl-C before unblocking it (the
        # parent stops it). In the parent, a SIGINT taken by another thread (rich's refresh thread) runs Python's
        # handler in this thread: while starting, that handler only notes it, and the interrupt is raised once the
        # worker is started (the first start waits for the server's imports: about 2 CPU s).
        interrupted: list[int] = []
        in_main = threading.current_thread() is threading.main_thread()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        handler = signal.signal(signal.SIGINT, lambda signum, _: interrupted.append(signum)) if in_main else None
        try:
            with _worker_env(preload), _main_module_hidden(not with_main):
                self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            if in_main:
                signal.signal(signal.SIGINT, handler)
        child_tasks.close()
        lifeline_child.close()
        if interrupted and handler is not signal.SIG_IGN:  # an ignored Ctrl-C (nohup, `&`) stays ignored
            self.stop(kill=True)
            if callable(handler):
                handler(signal.SIGINT, None)
            else:  # the default action: end as the process would have without a pool
                signal.raise_signal(signal.SIGINT)

    def stop(self, kill: bool) -> None:
        if kill:
            self.process.kill()
        else:
            with contextlib.suppress(OSError):
                self.tasks.send(None)
        self.process.join(_STOP_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(_STOP_SECONDS)
        self.tasks.close()
        self._lifeline.close()

    def death(self) -> str:
        self.process.join(_STOP_SECONDS)
        code = self.process.exitcode
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            hint = ", e.g. by the out-of-memory killer" if -code == signal.SIGKILL else ""
            return f"worker process killed by {name}{hint}"
        return f"worker process exited with code {code}"


class _PoolRun(Generic[T, R]):
    """One map over the pool's workers: the items queued, the outcomes so far and the attempts per item."""

    def __init__(
        self,
        pool: "LocalExecutor",
        fn: Callable[[T], R],
        items: Sequence[T],
        labels: list[str],
        on_done: Callable[[Outcome[R]], None] | None,
        busy: dict[_Worker, int],
        with_main: bool,
    ) -> None:
        self.pool, self.fn, self.items, self.labels, self.on_done = pool, fn, items, labels, on_done
        self.busy, self.with_main = busy, with_main
        self.outcomes: list[Outcome[R] | None] = [None] * len(items)
        self.attempts = [0] * len(items)
        self.queue = deque(range(len(items)))

    def finish(self, index: int, outcome: Outcome[R]) -> None:
        self.outcomes[index] = outcome
        if self.on_done:
            self.on_done(outcome)

    def dispatch(self) -> None:
        """Queued items to idle workers (or new ones) while fewer than ``workers`` are busy."""
        pool = self.pool
        while self.queue and len(self.busy) < pool.workers:
            if not pool._idle:
                pool._hold_fork_server(self.fn)
            worker = pool._idle.pop() if pool._idle else _Worker(pool._context, self.with_main, pool._preload)
            index = self.queue.popleft()
            try:
                worker.tasks.send((index, self.fn, self.items[index], pool.item_progress is not None))
            except (EOFError, OSError):
                self.queue.appendleft(index)  # the worker had died or was stopped: drop it, try another
                worker.stop(kill=True)
                continue
            except Exception as e:  # fn or item does not pickle
                pool._idle.append(worker)
                self.finish(index, Outcome[R](self.labels[index], error=describe_failure(self.labels[index], e)))
                continue
            self.busy[worker] = index

    def collect(self, worker: _Worker) -> None:
        """What a busy worker whose pipe or sentinel is ready has to say: progress, its item's outcome, or its
        death (the item is retried up to ``retries`` times)."""
        index = self.busy.pop(worker)
        reply = None
        if worker.tasks.poll():
            try:
                reply = worker.tasks.recv()
            except (EOFError, OSError):
                reply = None
        label = self.labels[index]
        if isinstance(reply, ProgressMessage):  # the item goes on
            self.busy[worker] = index
            if self.pool.item_progress is not None:
                self.pool.item_progress(label, reply.done, reply.total)
            return
        if reply is not None:
            self.pool._idle.append(worker)
            _, ok, payload = reply
            self.finish(index, Outcome[R](label, value=payload) if ok else failed_outcome(label, payload))
            return
        why = worker.death()
        worker.stop(kill=True)
        self.attempts[index] += 1
        if self.attempts[index] <= self.pool.retries:
            log.warning("%s: %s; retrying it", label, why)
            self.queue.appendleft(index)
        else:
            tries = f"{self.attempts[index]} attempts" if self.attempts[index] > 1 else "1 attempt"
            self.finish(index, Outcome[R](label, error=f"[{label}] {why} ({tries})"))


class LocalExecutor(Executor):
    """``workers`` = 1: in this process. More: that many worker processes (forked from the fork server), reused
    across maps."""

    kind = ExecutorKind.LOCAL

    def __init__(self, workers: int = 1, retries: int = 1) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.retries = retries
        self._context = multiprocessing.get_context("forkserver")
        self._idle: list[_Worker] = []
        self._started = False  # a worker was started: this pool holds the fork server and the resource tracker
        self._preload: list[str] = []  # what a fork server started by this pool imports

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        names: Sequence[str] | None = None,
        on_done: Callable[[Outcome[R]], None] | None = None,
    ) -> list[Outcome[R]]:
        labels = item_names(items, names)
        if self.workers == 1:
            return self._map_here(fn, items, labels, on_done)
        busy: dict[_Worker, int] = {}
        try:
            return self._map_pool(fn, items, labels, on_done, busy)
        except BaseException:  # Ctrl-C, or a failing callback: no worker outlives the map
            for worker in busy:
                worker.stop(kill=True)
            self._stop_all(kill=True)
            raise

    def _map_here(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        labels: list[str],
        on_done: Callable[[Outcome[R]], None] | None,
    ) -> list[Outcome[R]]:
        out: list[Outcome[R]] = []
        for item, label in zip(items, labels, strict=True):
            with reporting_to(self._reporter(label)):
                ok, payload = call_item(fn, item)
            outcome: Outcome[R] = Outcome(label, value=payload) if ok else failed_outcome(label, payload)
            out.append(outcome)
            if on_done:
                on_done(outcome)
        return out

    def _reporter(self, label: str) -> Callable[[int, int], None] | None:
        """Where an item run in this process reports its progress (``item_progress``, with its name)."""
        watch = self.item_progress
        if watch is None:
            return None

        def send(done: int, total: int) -> None:
            watch(label, done, total)

        return send

    def _map_pool(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        labels: list[str],
        on_done: Callable[[Outcome[R]], None] | None,
        busy: dict[_Worker, int],
    ) -> list[Outcome[R]]:
        """Items go to idle workers; ``busy`` maps each working worker to the index of its item."""
        with_main = _needs_main(fn, items)
        if with_main:  # workers started without the main module cannot unpickle this map's work
            for worker in [w for w in self._idle if not w.with_main]:
                self._idle.remove(worker)
                worker.stop(kill=False)
        run = _PoolRun(self, fn, items, labels, on_done, busy, with_main)
        while run.queue or busy:
            run.dispatch()
            if not busy:  # every queued item finished without a worker (it did not pickle): nothing to wait for
                continue
            by_handle: dict[Any, _Worker] = {}  # pipes and process sentinels
            for worker in busy:
                by_handle[worker.tasks] = worker
                by_handle[worker.process.sentinel] = worker
            for ready in wait(list(by_handle)):
                worker = by_handle[ready]
                if worker in busy:  # not when both its pipe and its sentinel were ready
                    run.collect(worker)
        return [o for o in run.outcomes if o is not None]

    def _stop_all(self, kill: bool) -> None:
        workers, self._idle = self._idle, []
        for worker in workers:
            worker.stop(kill)

    def _hold_fork_server(self, fn: Callable[..., Any]) -> None:
        """Count this pool among those using the fork server (once) and name what a server started now imports
        (through ``ladderdata.executor.preload``): ``WORKER_PRELOAD`` and the module of ``fn`` (not a script's
        ``__main__``: a worker runs that only when its work needs it)."""
        global _open_pools
        if self._started:
            return
        self._started = True
        _open_pools += 1
        module = getattr(getattr(fn, "func", fn), "__module__", None)
        extra = [module] if isinstance(module, str) and module != "__main__" else []
        self._preload = [*WORKER_PRELOAD, *extra]
        self._context.set_forkserver_preload(["ladderdata.executor.preload"])

    def close(self) -> None:
        global _open_pools
        self._stop_all(kill=False)
        if self._started:
            self._started = False
            _open_pools -= 1
            if _open_pools == 0:
                _stop_helpers()


def _stop_helpers() -> None:
    """Stop the fork server, then multiprocessing's resource tracker, both started with the first worker, which
    would otherwise exit only after this process has (so no process of a run outlives its command). Stopping the
    server kills the workers it forked (their ``PR_SET_PDEATHSIG``): only done once no open pool has one. The
    tracker tracks nothing of ladder's (the workers share pipes, not semaphores or shared memory). The next worker
    started restarts both."""
    from multiprocessing import forkserver, resource_tracker

    for helper in (forkserver._forkserver, resource_tracker._resource_tracker):
        stop = getattr(helper, "_stop", None)
        if callable(stop):
            stop()
