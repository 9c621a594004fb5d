"""The executor, the cache module and the process promises: dead workers cost one item, killed parents leave
no workers, Ctrl-C stops a run with exit code 130, one run at a time per output folder, no temp files left."""

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import xxhash

from fixtures.factories import all_drafts_recipe, scannet
from fixtures.workers import environment_variable, frozen_and_collected, is_imported, square_or_die
from ladderdata.bench.build import BenchBuildConfig, build_benchmarks
from ladderdata.cache import (
    LOCK_NAME,
    TEMP_SUFFIX,
    FileHashes,
    FolderBusyError,
    atomic_path,
    claim_folder,
    content_key,
    remove_stale_temps,
    temp_name,
    write_text_atomic,
)
from ladderdata.errors import OutOfSpaceError, install_command
from ladderdata.executor import (
    Executor,
    ExecutorConfig,
    ExecutorKind,
    LocalExecutor,
    Outcome,
    RayExecutor,
    open_executor,
)
from ladderdata.executor.base import WORKER_THREADS_ENV
from ladderdata.layout import FramesLayout
from ladderdata.metadata.config import MetadataConfig
from ladderdata.metadata.extract import process_scans
from ladderdata.pipeline import BuildConfig, build_dataset
from ladderdata.synth.root import SynthConfig, synthesize

LADDER = [sys.executable, "-c", "from ladderdata.cli import entrypoint; entrypoint()"]


def children(pid: int) -> set[int]:
    """Live (non-zombie) processes whose parent is ``pid``, read from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def descendants(pid: int) -> set[int]:
    """Live processes below ``pid``: its children and theirs (workers are the fork server's children)."""
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = set().union(*(children(p) for p in frontier)) - found
        found |= frontier
    return found


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


# ----------------------------------------------------------------------------------------------- executor


@pytest.mark.parametrize("workers", [1, 2])
def test_objects_alive_before_an_item_are_frozen_out_of_collections_while_it_runs(workers: int) -> None:
    """The libraries' objects are left out of the collector's passes while an item runs (a full collection would
    traverse them all); the item's own garbage cycles are still collected, and nothing stays frozen after."""
    import gc

    before = gc.get_freeze_count()
    with LocalExecutor(workers) as executor:
        outcomes = executor.map(frozen_and_collected, [5, 50])
    for outcome, cycles in zip(outcomes, [5, 50], strict=True):
        assert outcome.value is not None, outcome.error
        frozen, collected = outcome.value
        assert frozen > 10_000  # the imported modules' objects, at least
        assert collected >= cycles
    assert gc.get_freeze_count() == before


@pytest.mark.parametrize("workers", [1, 2])
def test_outcomes_in_input_order_errors_name_their_item(workers: int, tmp_path: Path) -> None:
    items = [0, 1, 2, 4, 5, 6]
    seen: list[str] = []
    with LocalExecutor(workers) as executor:
        outcomes = executor.map(
            partial(square_or_die, tmp_path),
            items,
            names=[f"item-{i}" for i in items],
            on_done=lambda o: seen.append(o.item),
        )
    assert [o.item for o in outcomes] == [f"item-{i}" for i in items]
    assert [o.value for o in outcomes] == [0, 1, 4, 16, None, 36]
    failed = outcomes[4]
    assert not failed.ok and failed.error == "[item-5] ValueError: five is not allowed"
    assert sorted(seen) == sorted(o.item for o in outcomes)  # one progress call per item


def test_a_killed_worker_is_retried_once_then_reported(tmp_path: Path) -> None:
    with LocalExecutor(workers=2, retries=1) as executor:
        outcomes = executor.map(partial(square_or_die, tmp_path), list(range(8)))
        again = executor.map(partial(square_or_die, tmp_path), [10, 11])  # the pool recovered
    assert [o.value for o in outcomes if o.item != "3" and o.item != "5"] == [0, 1, 4, 16, 36, 49]
    assert outcomes[3].error is not None and "SIGKILL" in outcomes[3].error and outcomes[3].error.startswith("[3]")
    assert len(list(tmp_path.glob("3.*"))) == 2  # first attempt and one retry, in two different processes
    assert [o.value for o in again] == [100, 121]


def test_no_retry_when_retries_is_zero(tmp_path: Path) -> None:
    with open_executor(ExecutorConfig(workers=2, retries=0)) as executor:
        (outcome,) = executor.map(partial(square_or_die, tmp_path), [3])
    assert outcome.error is not None and "1 attempt" in outcome.error
    assert len(list(tmp_path.glob("3.*"))) == 1


def test_workers_start_with_one_thread_per_numeric_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pool's workers run one BLAS/OpenMP thread each (the workers are the parallelism), unless the environment
    says otherwise; the parent's own environment is left as it was."""
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    names = ["OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"]
    with LocalExecutor(workers=2) as executor:
        outcomes = executor.map(environment_variable, names)
    assert [o.value for o in outcomes] == ["1", "1", "3"]
    assert "OPENBLAS_NUM_THREADS" not in os.environ and "MKL_NUM_THREADS" not in os.environ
    assert os.environ["OMP_NUM_THREADS"] == "3"


def test_workers_start_with_the_preloaded_modules_and_one_failing_to_import_stops_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers are forked from a fork server that imported ``WORKER_PRELOAD`` (and the mapped function's module); a
    listed module whose import raises (not only ``ImportError``: a native library failing to initialise) is
    skipped there, and the pool works (the fork server itself would exit, and no worker could start)."""
    from ladderdata.executor import local

    (tmp_path / "broken_native.py").write_text('raise RuntimeError("native library failed to initialise")\n')
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setattr(local, "WORKER_PRELOAD", ("xml.dom.minidom", "broken_native"))
    names = ["xml.dom.minidom", "broken_native", "wave"]
    with LocalExecutor(workers=2) as executor:
        outcomes = executor.map(is_imported, names)
    assert [o.value for o in outcomes] == [True, False, False]


MAIN_SCRIPT = """
import os, sys
from pathlib import Path
from fixtures.workers import environment_variable
from ladderdata.executor import LocalExecutor

Path(sys.argv[1], f"imported.{os.getpid()}").touch()  # every process that runs this file leaves a marker

def here(name):
    return environment_variable(name)

if __name__ == "__main__":
    fn = here if sys.argv[2] == "main" else environment_variable
    with LocalExecutor(workers=2) as executor:
        outcomes = executor.map(fn, ["OMP_NUM_THREADS", "MKL_NUM_THREADS"])
    assert [o.value for o in outcomes] == ["1", "1"], outcomes
"""


@pytest.mark.parametrize("defined_in", ["a module", "main"])
def test_workers_rerun_the_main_script_only_when_their_work_is_defined_there(tmp_path: Path, defined_in: str) -> None:
    """Started from a script (as the ``ladder`` console script, whose imports are the whole CLI), workers do not
    import it unless the function they run is defined in it; either way the work is done."""
    script = tmp_path / "script.py"
    script.write_text(MAIN_SCRIPT)
    tests_dir = Path(__file__).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests_dir), os.environ.get("PYTHONPATH", "")])}
    env.pop("OMP_NUM_THREADS", None)
    env.pop("MKL_NUM_THREADS", None)
    arg = "main" if defined_in == "main" else "module"
    subprocess.run([sys.executable, str(script), str(tmp_path), arg], env=env, check=True, timeout=120)
    importers = {int(p.suffix[1:]) for p in tmp_path.glob("imported.*")}
    assert len(importers) == (3 if defined_in == "main" else 1)  # the script's own process, plus each worker


def interrupt_while_starting(monkeypatch: pytest.MonkeyPatch, starting: str) -> None:
    """Send this process SIGINT (as a Ctrl-C does) while a worker process is being started: just after the fork
    server exists (before its imports), or just after the server was asked for a worker and before that worker
    has its start data."""
    import multiprocessing.forkserver
    import multiprocessing.util

    if starting == "the fork server":
        real_spawn = multiprocessing.util.spawnv_passfds

        def interrupted_spawn(path: bytes, args: list[bytes], fds: Any) -> int:
            pid = real_spawn(path, args, fds)
            if any(b"forkserver" in os.fsencode(arg) for arg in args):  # not multiprocessing's resource tracker
                os.kill(os.getpid(), signal.SIGINT)
            return pid

        monkeypatch.setattr(multiprocessing.util, "spawnv_passfds", interrupted_spawn)
    else:
        real_connect = multiprocessing.forkserver.connect_to_new_process

        def interrupted_connect(fds: Any) -> tuple[int, int]:
            pipes = real_connect(fds)  # the server forks the worker, which waits for its start data
            os.kill(os.getpid(), signal.SIGINT)
            return pipes

        monkeypatch.setattr(multiprocessing.forkserver, "connect_to_new_process", interrupted_connect)


@pytest.mark.parametrize("other_thread", [False, True], ids=["one thread", "a second thread"])
@pytest.mark.parametrize("starting", ["the fork server", "a worker"])
def test_a_ctrl_c_while_a_worker_starts_is_not_lost(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    other_thread: bool,
    starting: str,
) -> None:
    """The parent's Ctrl-C lands while a worker process is being started (where a build's first scan is handed
    out): the map stops with KeyboardInterrupt, no process is left running (the server included) and none prints
    a traceback. With a second thread (as rich's progress refresh), the kernel hands the signal to that thread."""
    import threading

    before = descendants(os.getpid())
    idle = threading.Event()
    if other_thread:
        threading.Thread(target=idle.wait, daemon=True).start()
    interrupt_while_starting(monkeypatch, starting)

    def started() -> set[int]:
        return descendants(os.getpid()) - before

    try:
        with pytest.raises(KeyboardInterrupt), LocalExecutor(workers=2) as executor:
            executor.map(partial(square_or_die, tmp_path), [0, 1, 2, 4])
    finally:
        idle.set()
    assert wait_for(lambda: not started(), timeout=15), "a process outlived the interrupted map"
    time.sleep(1.0)  # a child left without its start data would print its traceback by now
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("starting", ["the fork server", "a worker"])
def test_an_ignored_ctrl_c_while_a_worker_starts_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starting: str
) -> None:
    """A process that ignores Ctrl-C (started with nohup, or with ``&`` by a script) goes on ignoring it while a
    worker starts: every item runs. (The worker being started used to be stopped, each item then failed to be
    sent to it, and the map waited on no worker at all, for ever.)"""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        interrupt_while_starting(monkeypatch, starting)
        with LocalExecutor(workers=2) as executor:
            outcomes = executor.map(partial(square_or_die, tmp_path), [0, 1, 2, 4])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert [o.value for o in outcomes] == [0, 1, 4, 16]


def test_ray_is_refused_with_a_clear_error_without_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    from ladderdata.errors import ConfigError

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=re.escape(install_command("ray"))):
        open_executor(ExecutorConfig(kind=ExecutorKind.RAY))


# ----------------------------------------------------------------------------------------------- cache


def test_content_keys_are_unambiguous() -> None:
    assert content_key({"a": "bc"}) != content_key({"ab": "c"})
    assert content_key({"a": "b", "c": "d"}) != content_key({"c": "d", "a": "b"})  # order is part of the key
    assert content_key({"a": "1"}) == content_key({"a": b"1"})
    # no parts: sha256 of nothing, the well-known e3b0c442...b855
    assert content_key({}) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    # the documented framing, by hand: name, 0x1f, byte length in decimal, 0x1e, the bytes (UTF-8 for text)
    framed = b"a\x1f2\x1ebc" + "é\x1f2\x1e".encode() + b"\xc3\xa9"
    assert content_key({"a": "bc", "é": "é"}) == hashlib.sha256(framed).hexdigest()


def test_file_hashes_are_memoised_and_follow_changes(tmp_path: Path) -> None:
    data = tmp_path / "big.bin"
    data.write_bytes(b"x" * 1000)
    sidecar = tmp_path / "hashes.json"
    hashes = FileHashes(sidecar)
    assert hashes.digest(data) == hashlib.sha256(b"x" * 1000).hexdigest()
    hashes.save()
    # a planted wrong digest for the same (size, mtime) is believed: proof that the file is not read again
    text = sidecar.read_text()
    sidecar.write_text(text.replace(hashlib.sha256(b"x" * 1000).hexdigest(), "0" * 64))
    assert FileHashes(sidecar).digest(data) == "0" * 64
    # the same file memoised with another algorithm is read again, with that one
    assert FileHashes(sidecar, algorithm="xxh3_128").digest(data) == xxhash.xxh3_128(b"x" * 1000).hexdigest()
    data.write_bytes(b"y" * 1001)  # new size and mtime: read again
    assert FileHashes(sidecar).digest(data) == hashlib.sha256(b"y" * 1001).hexdigest()
    with pytest.raises(FileNotFoundError):
        FileHashes(sidecar).digest(tmp_path / "missing")


def test_atomic_writes_leave_the_old_file_or_the_new_one(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "manifest.json"
    write_text_atomic(target, "old")
    with pytest.raises(OutOfSpaceError, match=r"manifest\.json"), atomic_path(target) as tmp:
        tmp.write_text("half of the new")
        raise OSError(28, "No space left on device")
    assert target.read_text() == "old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["manifest.json"]
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.endswith(TEMP_SUFFIX)
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_stale_temp_files_are_removed_and_nothing_else(tmp_path: Path) -> None:
    stale = tmp_path / "data" / "spatial" / temp_name("train-00000-of-00001.parquet")
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"partial")
    mine = tmp_path / "notes.ladder-tmp"  # not ladder's temp-name pattern
    mine.write_text("keep")
    assert remove_stale_temps(tmp_path) == 1
    assert not stale.exists() and mine.exists()


def test_a_second_run_into_the_same_folder_is_refused(tmp_path: Path, synthetic_root: Path) -> None:
    out = tmp_path / "dataset"
    config = BuildConfig(source=scannet(synthetic_root), out=out, split="all")
    with claim_folder(out):
        with pytest.raises(FolderBusyError, match=f"pid {os.getpid()}"):
            build_dataset(config)
        result = subprocess.run(
            [*LADDER, "build-dataset", "--scans", str(synthetic_root), "--out", str(out), "--split", "all"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2
    assert f"pid {os.getpid()}" in result.stderr and "Traceback" not in result.stderr


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK_NAME).write_text(f"pid {dead.stdout.strip()} on this host\n")
    stale = tmp_path / temp_name("stats.json")
    stale.write_text("{")
    with claim_folder(tmp_path):
        assert (tmp_path / LOCK_NAME).read_text().startswith(f"pid {os.getpid()} ")
        assert not stale.exists()


# ----------------------------------------------------------------------------------------------- processes


def start_synth(out: Path, workers: int) -> subprocess.Popen[str]:
    args = ["synth", "--out", str(out), "--scenes", "12", "--frames", "48", "--workers", str(workers)]
    return subprocess.Popen([*LADDER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def workers_of(pid: int) -> set[int]:
    """The worker processes of ``pid``: the children of its fork server (its own children are the server and
    multiprocessing's resource tracker)."""
    return descendants(pid) - children(pid)


def test_killing_the_parent_kills_its_workers(tmp_path: Path) -> None:
    proc = start_synth(tmp_path / "root", workers=2)
    try:
        assert wait_for(lambda: len(workers_of(proc.pid)) >= 2, timeout=120), "workers never started"
        workers = descendants(proc.pid)
        time.sleep(1.0)  # let them get busy with scenes
        proc.kill()  # SIGKILL, as the out-of-memory killer does: no cleanup code runs in the parent
        proc.wait(timeout=30)
        assert wait_for(lambda: not any(alive(w) for w in workers), timeout=15), "workers outlived their parent"
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_stops_within_seconds_with_exit_code_130(tmp_path: Path, workers: int) -> None:
    out = tmp_path / "root"
    proc = start_synth(out, workers)
    try:
        assert wait_for(lambda: (out / "scans").is_dir(), timeout=120), "synth never started"
        workers_seen = descendants(proc.pid)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)  # a hang fails here
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("interrupted:") and "Traceback" not in stderr
    assert wait_for(lambda: not any(alive(w) for w in workers_seen), timeout=10)
    assert not list(out.rglob(f"*{TEMP_SUFFIX}"))


def live_in_group(group: int) -> list[bytes]:
    """Command lines of the live (non-zombie) processes of process group ``group``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(command_line(int(stat.parent.name)))
    return found


def test_no_process_of_a_run_outlives_its_command(tmp_path: Path) -> None:
    """Right after ``ladder synth --workers 2`` exits, its process group (its own session) holds no live process:
    the workers are stopped and so are the fork server and multiprocessing's resource tracker, which would exit only
    after the command."""
    args = ["synth", "--out", str(tmp_path / "root"), "--scenes", "2", "--frames", "8", "--workers", "2"]
    proc = subprocess.Popen([*LADDER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        seen: set[int] = set()
        while proc.poll() is None:
            seen |= workers_of(proc.pid)
            time.sleep(0.05)
        left = live_in_group(proc.pid)
    finally:
        proc.kill()
        _, stderr = proc.communicate()
    assert proc.returncode == 0, stderr
    assert len(seen) >= 2, "the run started no worker processes: the test proves nothing"
    assert not left, left


def test_ladder_train_without_the_train_extra_says_which_extra(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # as if the train extra were not installed\n"
        "from ladderdata.cli import entrypoint\n"
        "sys.argv = ['ladder', *sys.argv[1:]]\n"
        "entrypoint()\n"
    )
    for args in (
        ["train", "stage1", "--data", str(tmp_path)],
        ["eval", "--bench", str(tmp_path), "--model", str(tmp_path)],
    ):
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and install_command("train") in lines[0], result.stderr


# ----------------------------------------------------------------------------------------------- ray


@pytest.fixture(scope="module")
def ray_executor() -> Iterator[Executor]:
    """A local Ray cluster of two CPUs, started by the test; its workers can import the test helpers."""
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
    tests = str(Path(__file__).parent)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")])))
        with open_executor(ExecutorConfig(kind=ExecutorKind.RAY, workers=2)) as executor:
            yield executor


def test_ray_gives_the_same_bytes_as_local(ray_executor: Executor, synthetic_root: Path, tmp_path: Path) -> None:
    """Every scan and shard a Ray task; the same bytes as in this process (test_build_dataset compares local
    runs with one and two workers)."""
    outputs = {}
    for name, executor in (("local", LocalExecutor()), ("ray", ray_executor)):
        out = tmp_path / name
        config = BuildConfig(source=scannet(synthetic_root), out=out, split="all", recipe=all_drafts_recipe(3))
        summary = build_dataset(config, executor)
        assert summary.stages["draft"].counters["drafted"] == 2 and summary.rows["spatial"] > 0
        shards = {p.relative_to(out): p.read_bytes() for p in (out / "data").rglob("*.parquet")}
        outputs[name] = (shards, (out / "manifest.json").read_text().replace(str(out), "OUT"))
    assert outputs["local"] == outputs["ray"]


@pytest.fixture(scope="module")
def two_local_workers() -> Iterator[Executor]:
    """One pool of two local worker processes for the tests below that compare local and Ray outputs."""
    with LocalExecutor(workers=2) as executor:
        yield executor


def files_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, but folder locks (they name the process that wrote)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != LOCK_NAME
    }


def three_executors(ray_executor: Executor, two_local_workers: Executor) -> list[tuple[str, Executor]]:
    return [("local-1", LocalExecutor()), ("local-2", two_local_workers), ("ray", ray_executor)]


def test_synth_gives_the_same_bytes_local_and_ray(
    ray_executor: Executor, two_local_workers: Executor, tmp_path: Path
) -> None:
    config = SynthConfig(scenes=2, frames=4, seed=5, layouts=[FramesLayout.SENS])
    trees = {}
    for name, executor in three_executors(ray_executor, two_local_workers):
        assert synthesize(tmp_path / name, config, executor) == ["scene0000_00", "scene0001_00"]
        trees[name] = files_bytes(tmp_path / name)
    assert {Path(f).parts[:2] for f in trees["ray"] if f.startswith("scans/")} == {
        ("scans", "scene0000_00"),
        ("scans", "scene0001_00"),
    }
    assert trees["local-1"] == trees["local-2"] == trees["ray"]


def test_metadata_gives_the_same_bytes_local_and_ray(
    ray_executor: Executor, two_local_workers: Executor, synthetic_root: Path, tmp_path: Path
) -> None:
    scans = ["scene0000_00", "scene0001_00"]
    config = MetadataConfig(frame_stride=3)  # frames 0, 3, 6 and 9 of the 10
    outputs = {}
    for name, executor in three_executors(ray_executor, two_local_workers):
        results = process_scans(scannet(synthetic_root, FramesLayout.SENS), scans, config, tmp_path / name, executor)
        assert [(r.scan_id, r.status, r.views) for r in results] == [(s, "computed", 4) for s in scans]
        outputs[name] = {p.name: p.read_bytes() for p in (tmp_path / name).glob("*.parquet")}
    assert sorted(outputs["ray"]) == ["scene0000_00.parquet", "scene0001_00.parquet"]
    assert outputs["local-1"] == outputs["local-2"] == outputs["ray"]


def test_build_bench_with_executor_ray_on_the_cli_gives_the_same_bytes_as_local(
    ray_executor: Executor,
    two_local_workers: Executor,
    synthetic_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``ladder build-bench --executor ray`` joins the running cluster (the fixture's) and writes what local
    builds with one and two workers write."""
    from typer.testing import CliRunner

    from ladderdata.cli import app

    split = tmp_path / "scans.txt"
    split.write_text("scene0000_00\nscene0001_00\n")
    for name, executor in three_executors(ray_executor, two_local_workers)[:2]:
        source = scannet(synthetic_root, FramesLayout.SENS)
        config = BenchBuildConfig(
            source=source, out=tmp_path / name, benchmarks=["spbench-si"], split=str(split), frame_stride=3
        )
        build_benchmarks(config, executor)
    mapped: list[int] = []
    ray_map = RayExecutor.map

    def counted(self: RayExecutor, fn: Any, items: Any, **kwargs: Any) -> Any:
        mapped.append(len(items))
        return ray_map(self, fn, items, **kwargs)

    monkeypatch.setattr(RayExecutor, "map", counted)
    args = ["build-bench", "--scans", str(synthetic_root), "--frames-layout", "sens", "--out", str(tmp_path / "ray")]
    args += ["--split", str(split), "--benchmark", "spbench-si", "--frame-stride", "3", "--executor", "ray"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert mapped and mapped[0] == 2  # the draft stage: one Ray task per scan
    outputs = {}
    for name in ("local-1", "local-2", "ray"):
        bench = tmp_path / name / "spbench-si"
        files = files_bytes(bench / "data") | {"README.md": (bench / "README.md").read_bytes()}
        files["manifest.json"] = (bench / "manifest.json").read_text().replace(str(tmp_path / name), "OUT").encode()
        outputs[name] = files
    assert any(f.endswith(".parquet") for f in outputs["ray"])
    assert outputs["local-1"] == outputs["local-2"] == outputs["ray"]


def test_ray_tasks_start_with_one_thread_per_numeric_library(ray_executor: Executor) -> None:
    names = list(WORKER_THREADS_ENV)
    outcomes: list[Outcome[str | None]] = ray_executor.map(environment_variable, names)
    assert [o.value for o in outcomes] == [os.environ.get(name, "1") for name in names]


def test_ray_reports_a_killed_worker_by_item(ray_executor: Executor, tmp_path: Path) -> None:
    outcomes: list[Outcome[int]] = ray_executor.map(partial(square_or_die, tmp_path), [2, 3, 5])
    assert outcomes[0].value == 4
    assert outcomes[1].error is not None and outcomes[1].error.startswith("[3]")
    assert outcomes[2].error == "[5] ValueError: five is not allowed"
    assert len(list(tmp_path.glob("3.*"))) == 2  # retried once
