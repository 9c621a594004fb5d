"""The local executor: in this process for one worker, else a pool of spawned worker processes.

The pool is written for failure, not only for speed: the parent knows which item each worker runs, so a
worker that dies (SIGKILL, out of memory, a crash in native code) costs exactly that item, which is retried
once on a fresh worker and then reported; the other items go on and the map never hangs. Workers die with
their parent (``prctl(PR_SET_PDEATHSIG)`` on Linux, plus a lifeline pipe everywhere), ignore Ctrl-C (the
parent stops them, so an interrupt ends the run within seconds) and are started with the ``spawn`` method
(no inherited threads or locks) and one thread per numeric library (``WORKER_THREADS_ENV``). A worker does not
re-run the parent's main module (``spawn`` would: for the ``ladder`` console script that is the CLI, typer, rich
and the extensions) unless the function it runs is defined there: it imports only what its work unpickles.
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
from typing import Any, TypeVar

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
from ladderdata.executor.progress import ProgressMessage, reporting_to

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

_PR_SET_PDEATHSIG = 1
_STOP_SECONDS = 5.0


def _die_with_parent(parent: int, lifeline: Connection) -> None:
    """Make this worker exit when ``parent`` dies, however it dies."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            log.debug("prctl(PR_SET_PDEATHSIG) unavailable; relying on the lifeline pipe")
    if os.getppid() != parent:  # the parent died before the request above took effect
        os._exit(1)

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv()  # the parent never sends: this returns only by EOF, when the parent is gone
        os._exit(1)

    threading.Thread(target=watch, name="ladder-lifeline", daemon=True).start()


def _worker_main(tasks: Connection, lifeline: Connection, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _die_with_parent(parent, lifeline)
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
def _worker_threads_env() -> Iterator[None]:
    """While the block runs, ``os.environ`` also holds the ``WORKER_THREADS_ENV`` variables it lacks: a spawned
    worker starts with the environment its parent has then."""
    added = {key: value for key, value in WORKER_THREADS_ENV.items() if key not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            del os.environ[key]


@contextlib.contextmanager
def _main_module_hidden(hide: bool) -> Iterator[None]:
    """While the block runs (a worker's start), ``sys.modules["__main__"]`` is a bare module if ``hide``: ``spawn``
    tells the child to re-run the main module it finds there (by ``__spec__`` name or ``__file__``), and a bare
    one has neither, so the child runs none."""
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
    def __init__(self, context: multiprocessing.context.SpawnContext, with_main: bool) -> None:
        self.with_main = with_main
        self.tasks, child_tasks = context.Pipe()
        lifeline_child, self._lifeline = context.Pipe(duplex=False)
        self.process: BaseProcess = context.Process(
            target=_worker_main, args=(child_tasks, lifeline_child, os.getpid()), name="ladder-worker", daemon=True
        )
        # A Ctrl-C must neither be lost nor cut the start short (a child whose start data never arrives dies with
        # a traceback). The child inherits this thread's mask with SIGINT blocked, and ignores Ctrl-C before
        # unblocking it (the parent stops it). In the parent, a SIGINT taken by another thread (rich's refresh
        # thread) runs Python's handler in this thread: while starting, that handler only notes it, and the
        # interrupt is raised once the worker is started.
        interrupted: list[int] = []
        in_main = threading.current_thread() is threading.main_thread()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        handler = signal.signal(signal.SIGINT, lambda signum, _: interrupted.append(signum)) if in_main else None
        try:
            with _worker_threads_env(), _main_module_hidden(not with_main):
                self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            if in_main:
                signal.signal(signal.SIGINT, handler)
        child_tasks.close()
        lifeline_child.close()
        if interrupted:
            self.stop(kill=True)
            if callable(handler):
                handler(signal.SIGINT, None)

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


class LocalExecutor(Executor):
    """``workers`` = 1: in this process. More: that many spawned worker processes, reused across maps."""

    kind = ExecutorKind.LOCAL

    def __init__(self, workers: int = 1, retries: int = 1) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.retries = retries
        self._context = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._started = False  # a worker process was started (and with it multiprocessing's resource tracker)

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
        outcomes: list[Outcome[R] | None] = [None] * len(items)
        attempts = [0] * len(items)
        queue = deque(range(len(items)))
        with_main = _needs_main(fn, items)
        if with_main:  # workers started without the main module cannot unpickle this map's work
            for worker in [w for w in self._idle if not w.with_main]:
                self._idle.remove(worker)
                worker.stop(kill=False)

        def finish(index: int, outcome: Outcome[R]) -> None:
            outcomes[index] = outcome
            if on_done:
                on_done(outcome)

        while queue or busy:
            while queue and len(busy) < self.workers:
                if not self._idle:
                    self._started = True
                worker = self._idle.pop() if self._idle else _Worker(self._context, with_main)
                index = queue.popleft()
                try:
                    worker.tasks.send((index, fn, items[index], self.item_progress is not None))
                except (BrokenPipeError, EOFError, ConnectionError):
                    queue.appendleft(index)  # the idle worker had died: drop it, try another
                    worker.stop(kill=True)
                    continue
                except Exception as e:  # fn or item does not pickle
                    self._idle.append(worker)
                    finish(index, Outcome[R](labels[index], error=describe_failure(labels[index], e)))
                    continue
                busy[worker] = index
            by_handle: dict[Any, _Worker] = {}  # pipes and process sentinels
            for worker in busy:
                by_handle[worker.tasks] = worker
                by_handle[worker.process.sentinel] = worker
            for ready in wait(list(by_handle)):
                worker = by_handle[ready]
                if worker not in busy:
                    continue  # both its pipe and its sentinel were ready
                index = busy.pop(worker)
                reply = None
                if worker.tasks.poll():
                    try:
                        reply = worker.tasks.recv()
                    except (EOFError, OSError):
                        reply = None
                if isinstance(reply, ProgressMessage):  # the item goes on
                    busy[worker] = index
                    if self.item_progress is not None:
                        self.item_progress(labels[index], reply.done, reply.total)
                    continue
                if reply is not None:
                    self._idle.append(worker)
                    _, ok, payload = reply
                    label = labels[index]
                    finish(index, Outcome[R](label, value=payload) if ok else failed_outcome(label, payload))
                    continue
                why = worker.death()
                worker.stop(kill=True)
                attempts[index] += 1
                if attempts[index] <= self.retries:
                    log.warning("%s: %s; retrying it", labels[index], why)
                    queue.appendleft(index)
                else:
                    tries = f"{attempts[index]} attempts" if attempts[index] > 1 else "1 attempt"
                    finish(index, Outcome[R](labels[index], error=f"[{labels[index]}] {why} ({tries})"))
        return [o for o in outcomes if o is not None]

    def _stop_all(self, kill: bool) -> None:
        workers, self._idle = self._idle, []
        for worker in workers:
            worker.stop(kill)

    def close(self) -> None:
        self._stop_all(kill=False)
        if self._started:
            _stop_resource_tracker()


def _stop_resource_tracker() -> None:
    """Stop multiprocessing's resource tracker, which ``spawn`` starts with the first worker and which would
    otherwise exit only after this process has (so no process of a run outlives its command; tracks nothing of
    ladder's: the workers share pipes, not semaphores or shared memory). The next worker started restarts it."""
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)
    if callable(stop):
        stop()
