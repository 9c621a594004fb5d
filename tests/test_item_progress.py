"""Progress inside an item (views cast, frames written) reaches the executor's ``item_progress``, from this process
and from worker processes, ending at done == total, without changing any result; nobody listening costs nothing."""

import time
from pathlib import Path

import pytest

from fixtures.factories import scannet
from ladderdata.executor import LocalExecutor
from ladderdata.executor.progress import MIN_INTERVAL, report_progress
from ladderdata.metadata.config import MetadataConfig
from ladderdata.metadata.extract import process_scans


def counted_work(units: int) -> int:
    for k in range(units):
        time.sleep(MIN_INTERVAL / 3)
        report_progress(k + 1, units)
    return units * 10


@pytest.mark.parametrize("workers", [1, 2])
def test_items_report_their_progress(workers: int) -> None:
    seen: dict[str, list[tuple[int, int]]] = {}
    with LocalExecutor(workers) as executor:
        executor.item_progress = lambda name, done, total: seen.setdefault(name, []).append((done, total))
        outcomes = executor.map(counted_work, [9, 6], names=["a", "b"])
    assert [o.value for o in outcomes] == [90, 60]
    for name, units in (("a", 9), ("b", 6)):
        reports = seen[name]
        assert reports[-1] == (units, units)  # the last unit is always reported
        assert 2 <= len(reports) < units  # thinned, not silent
        assert [d for d, _ in reports] == sorted(d for d, _ in reports)


def test_nobody_listening_changes_nothing() -> None:
    with LocalExecutor(2) as executor:
        assert [o.value for o in executor.map(counted_work, [3, 2])] == [30, 20]
    report_progress(1, 2)  # outside any item: a no-op


def test_metadata_reports_the_views_it_casts(bench_root: Path, tmp_path: Path) -> None:
    seen: dict[str, tuple[int, int]] = {}
    with LocalExecutor(1) as executor:
        executor.item_progress = lambda name, done, total: seen.__setitem__(name, (done, total))
        results = process_scans(
            scannet(bench_root), ["scene0000_00", "scene0001_00"], MetadataConfig(frame_stride=3), tmp_path, executor
        )
    assert {r.scan_id: (r.views, r.views) for r in results} == seen
