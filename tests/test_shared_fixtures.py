"""``shared_folder``: one build per test run however many workers ask at once, and a failed build is redone."""

import threading
import time
from pathlib import Path
from typing import cast

import pytest

from fixtures.shared import shared_folder


class Base:
    """The one method of ``pytest.TempPathFactory`` that ``shared_folder`` calls, on a folder of this test."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def getbasetemp(self) -> Path:
        return self.base


def factory(tmp_path: Path) -> pytest.TempPathFactory:
    return cast(pytest.TempPathFactory, Base(tmp_path))


def test_two_concurrent_builders_build_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    builds: list[int] = []

    def slow_build(folder: Path) -> None:
        builds.append(threading.get_ident())
        time.sleep(0.3)  # long enough for the other thread to ask while this one holds the lock
        (folder / "made").write_text(str(len(builds)))

    got: list[Path] = []
    threads = [
        threading.Thread(target=lambda: got.append(shared_folder(factory(tmp_path), "model", slow_build)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(builds) == 1  # the second thread waited for the first one's build and used it
    assert got == [tmp_path / "shared" / "model"] * 2
    assert (tmp_path / "shared" / "model" / "made").read_text() == "1"


def test_a_builder_that_raised_is_rebuilt_from_an_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)

    def half_then_fail(folder: Path) -> None:
        (folder / "half").write_text("partial")
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        shared_folder(factory(tmp_path), "model", half_then_fail)
    seen: list[list[str]] = []

    def build(folder: Path) -> None:
        seen.append(sorted(p.name for p in folder.iterdir()))
        (folder / "whole").write_text("done")

    folder = shared_folder(factory(tmp_path), "model", build)
    assert seen == [[]]  # the half-made folder was removed before building again
    assert sorted(p.name for p in folder.iterdir()) == ["whole"]
    assert shared_folder(factory(tmp_path), "model", build) == folder and len(seen) == 1  # built: not again


def test_xdist_workers_share_the_parent_of_their_base_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each xdist worker's base temp is ``.../pytest-N/popen-gwK``: the shared folder is in ``.../pytest-N``."""
    builds: list[str] = []
    folders = []
    for worker in ("gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        base = tmp_path / f"popen-{worker}"
        base.mkdir()

        def build(folder: Path, worker: str = worker) -> None:
            builds.append(worker)

        folders.append(shared_folder(factory(base), "model", build))
    assert folders == [tmp_path / "shared" / "model"] * 2 and builds == ["gw0"]
