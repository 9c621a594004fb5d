"""The Ray executor: one Ray task per item, on an existing cluster or a local one started for the run.

Ray retries a task whose worker process died (``max_retries``) and reports it after that; exceptions raised by
the function are caught inside the task and come back as that item's error, so they are never retried.
Workers read the scans and write their outputs themselves, so on a multi-node cluster the scans and the output
folder must be on storage every node sees at the same path (docs/scaling.md). Tasks run in workers started with
one thread per numeric library (``WORKER_THREADS_ENV``, or the driver's own value of each variable).

Joining a cluster at ``HOST:PORT`` (docs/scaling.md, "Joining a running cluster"): the head's port must answer
within seconds (Ray itself waits on an unreachable head for more than ten minutes), and Ray's token
authentication is used as Ray documents it (https://docs.ray.io/en/latest/ray-security/token-auth.html; Ray
2.60, ``ray/_private/authentication/authentication_token_setup.py`` and ``_private/worker.py``, ray-project/ray
commit 01538627b84f240c9e04ccc8912e264f317edea0): the token is ``RAY_AUTH_TOKEN``, else the file
``RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token``, and is sent when ``RAY_AUTH_MODE=token``. ``ray start --head``
turns token mode on by itself when a token exists on the head, and ``ray.init("auto")`` does when one exists
here, but ``ray.init("HOST:PORT")`` does not, so a driver holding the cluster's token was refused. Here, with
``RAY_AUTH_MODE`` unset and a token available, token mode is turned on for this process (``RAY_AUTH_MODE=disabled``
opts out), and the head is asked once, before joining, whether it accepts this driver: a missing or wrong token is
one line naming the address and where the token was looked for, not twenty seconds of refused retries.
"""

import contextlib
import logging
import os
import re
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
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


#: Seconds the head's port has to answer before the address is reported unreachable.
CONNECT_SECONDS = 5.0
AUTH_MODE_ENV = "RAY_AUTH_MODE"


def token_source() -> str | None:
    """Where Ray will read this driver's token from, in Ray's order of precedence; None when there is none."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return os.environ["RAY_AUTH_TOKEN_PATH"]
    default = Path.home() / ".ray" / "auth_token"
    return str(default) if default.is_file() else None


def head_host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``HOST:PORT`` address; None for ``auto`` and ``ray://`` (Ray Client) addresses."""
    if address == "auto" or "://" in address:
        return None
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--ray-address {address!r}: give HOST:PORT (the address `ray start --head` printed) or auto")
    return host.strip("[]"), int(port)


def check_head_answers(address: str, host: str, port: int) -> None:
    try:
        socket.create_connection((host, port), timeout=CONNECT_SECONDS).close()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise ConfigError(
            f"no Ray cluster answers at {address} ({reason}): start its head there with "
            f"`ray start --head --port {port}`, or pass the address that command printed"
        ) from None


def use_token_if_available() -> str | None:
    """Turn Ray's token mode on for this process when ``RAY_AUTH_MODE`` is unset and a token is available, as Ray
    does for ``ray start --head`` and ``ray.init("auto")``; returns where the token comes from."""
    source = token_source()
    if source is not None and AUTH_MODE_ENV not in os.environ:
        os.environ[AUTH_MODE_ENV] = "token"
        with contextlib.suppress(ImportError, AttributeError):  # Ray caches its config: refresh it, as Ray does
            from ray._raylet import Config  # type: ignore[attr-defined]

            Config.initialize("")
        log.debug("joining with Ray token authentication, token from %s", source)
    return source


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Ray's C++ client logs every refused attempt to file descriptor 2: the one-line error says it instead."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_head_accepts(address: str, source: str | None) -> None:
    """Ask the head once whether it accepts this driver's token (Ray's own client, one attempt)."""
    try:
        from ray._raylet import GcsClient  # type: ignore[attr-defined]
        from ray.exceptions import AuthenticationError
    except ImportError:  # another Ray layout: ray.init reports it, later
        return
    try:
        with _stderr_silenced():
            GcsClient(address=address, cluster_id=None)
    except AuthenticationError:
        mode = os.environ.get(AUTH_MODE_ENV, "")
        if mode.lower() == "disabled":
            why = f"{AUTH_MODE_ENV}=disabled here: unset it"
        elif source is None:
            why = (
                "no token here: copy the head's ~/.ray/auth_token (`ray get-auth-token` on the head prints it) to this "
                "machine's ~/.ray/auth_token, or set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH"
            )
        else:
            why = f"the token from {source} is not the cluster's: use the head's (`ray get-auth-token` on the head)"
        raise ConfigError(f"the Ray cluster at {address} requires its authentication token; {why}") from None
    except Exception as e:  # anything else: ray.init retries and reports it
        log.debug("probing the Ray head at %s: %s", address, e)


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
            else:
                head = head_host_port(address)
                if head is not None:
                    check_head_answers(address, *head)
                    check_head_accepts(address, use_token_if_available())
            try:
                ray.init(address=address, **options)
            except (ConnectionError, ValueError, RuntimeError, ray.exceptions.RayError) as e:
                raise ConfigError(f"cannot start or join a Ray cluster (address {address!r}): {_last_line(e)}") from e
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
