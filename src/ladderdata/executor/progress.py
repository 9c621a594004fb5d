"""Progress inside one item (views cast in a scan, frames written), from wherever the item runs.

Work calls :func:`report_progress` as it goes; it costs nothing when nobody listens. The executor that runs the
item decides where the report goes (its ``item_progress`` callback): in this process, straight there; from a local
worker process, over the worker's pipe to the parent, which calls it. Reports are thinned to one every
:data:`MIN_INTERVAL` seconds per item, plus the last. The Ray executor reports whole items only.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

#: Seconds between two reports of one item (a bar redraws a few times a second; a scan casts 30 views a second).
MIN_INTERVAL = 0.2

#: ``(item name, done, total)``.
ItemProgress = Callable[[str, int, int], None]


class ProgressMessage(NamedTuple):
    """What a worker process sends its parent between an item's start and its result."""

    item: int
    """Position of the item in the map."""
    done: int
    total: int


_sink: Callable[[int, int], None] | None = None


def report_progress(done: int, total: int) -> None:
    """``done`` of ``total`` units of the item being run (views, frames); a no-op when nobody listens."""
    if _sink is not None:
        _sink(done, total)


def thinned(send: Callable[[int, int], None]) -> Callable[[int, int], None]:
    """``send``, called at most every :data:`MIN_INTERVAL` seconds, and always for the last unit."""
    last = [0.0]

    def sink(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] >= MIN_INTERVAL:
            last[0] = now
            send(done, total)

    return sink


@contextmanager
def reporting_to(send: Callable[[int, int], None] | None) -> Iterator[None]:
    """While the block runs, :func:`report_progress` goes to ``send`` (thinned); None: nowhere."""
    global _sink
    previous = _sink
    _sink = thinned(send) if send is not None else None
    try:
        yield
    finally:
        _sink = previous
