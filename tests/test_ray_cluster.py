"""Joining a Ray cluster someone started, as a user whose data outgrew one machine would: ``ray start --head`` on the
loopback address with token authentication, then ``ladder build-dataset --executor ray --ray-address 127.0.0.1:PORT``
writes what a local build writes; a missing or wrong token and an unreachable head are one line each (exit 2). The
head is stopped in teardown and no process of it outlives the test."""

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

LADDER = [sys.executable, "-c", "from ladderdata.cli import entrypoint; entrypoint()"]
RAY_CLI = Path(sys.executable).parent / "ray"
#: Ray's variables of the test's own environment (a Ray cluster started earlier in the run sets RAY_AUTH_MODE).
RAY_VARIABLES = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_environment(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without Ray's variables, with ``home`` as HOME (where ``~/.ray/auth_token`` is)."""
    env = {k: v for k, v in os.environ.items() if k not in RAY_VARIABLES}
    return env | {"HOME": str(home)} | extra


def live_processes_of(group: int, marker: str) -> list[int]:
    """Live (non-zombie) processes in process group ``group`` or whose command line holds ``marker``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if fields[0] != "Z" and (int(fields[2]) == group or marker in cmdline):
            found.append(int(stat.parent.name))
    return found


@dataclass(frozen=True)
class Head:
    address: str
    home: Path  # HOME of the head's user: ~/.ray/auth_token holds the cluster's token


@pytest.fixture(scope="module")
def ray_head() -> Iterator[Head]:
    """``ray start --head --block`` on 127.0.0.1 with token authentication, in its own process group; stopped (the
    whole group, then anything left that names its temp folder) in teardown."""
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
    if not RAY_CLI.is_file():
        pytest.skip(f"no ray command beside {sys.executable}")
    root = Path(tempfile.mkdtemp(prefix="ladray", dir="/tmp"))  # short: Ray's socket paths live under it
    home = root / "home"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text(secrets.token_hex(32))
    port = free_port()
    command = [str(RAY_CLI), "start", "--head", "--block", "--port", str(port), "--node-ip-address", "127.0.0.1"]
    command += ["--temp-dir", str(root / "ray"), "--num-cpus", "2", "--include-dashboard", "false"]
    command += ["--disable-usage-stats"]
    log = root / "head.log"
    with log.open("wb") as out:
        head = subprocess.Popen(
            command,
            env=clean_environment(home, RAY_AUTH_MODE="token"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while b"Ray runtime started" not in log.read_bytes():
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Ray head did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        yield Head(f"127.0.0.1:{port}", home)
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=20)
        for pid in live_processes_of(head.pid, str(root)):
            os.kill(pid, signal.SIGKILL)
        head.wait(timeout=20)
        deadline = time.monotonic() + 20
        while live_processes_of(head.pid, str(root)) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = live_processes_of(head.pid, str(root))
        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"processes of the Ray head outlived it: {left}"


def ladder(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LADDER, *args], env=env, capture_output=True, text=True, timeout=300)


def build_args(scans: Path, out: Path) -> list[str]:
    return ["build-dataset", "--scans", str(scans), "--frames-layout", "sens", "--out", str(out), "--split", "all"]


def shard_bytes(out: Path) -> tuple[dict[Path, bytes], str]:
    shards = {p.relative_to(out): p.read_bytes() for p in (out / "data").rglob("*.parquet")}
    return shards, (out / "manifest.json").read_text().replace(str(out), "OUT")


def test_joining_a_running_cluster_by_address_gives_the_bytes_of_a_local_build(
    ray_head: Head, synthetic_root: Path, tmp_path: Path
) -> None:
    """The token is the head's ``~/.ray/auth_token`` and RAY_AUTH_MODE is unset, as after ``ray start --head``."""
    args = ["--frame-stride", "3"]
    local = ladder([*build_args(synthetic_root, tmp_path / "local"), *args], clean_environment(ray_head.home))
    assert local.returncode == 0, local.stderr
    joined = ladder(
        [*build_args(synthetic_root, tmp_path / "ray"), *args, "--executor", "ray", "--ray-address", ray_head.address],
        clean_environment(ray_head.home),
    )
    assert joined.returncode == 0, joined.stderr
    shards, manifest = shard_bytes(tmp_path / "ray")
    assert shards and (shards, manifest) == shard_bytes(tmp_path / "local")


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The run's one error line (exit 2), after the plan every build logs first: no Ray noise, no traceback."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 2 and len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr and "InvalidAuthToken" not in result.stderr, result.stderr
    assert result.stderr.rstrip().endswith(errors[0]), result.stderr  # nothing after it
    return errors[0]


def test_a_missing_or_wrong_token_is_one_line_naming_the_address(
    ray_head: Head, synthetic_root: Path, tmp_path: Path
) -> None:
    stranger = tmp_path / "home"  # a HOME without ~/.ray/auth_token
    stranger.mkdir()
    args = [*build_args(synthetic_root, tmp_path / "out"), "--executor", "ray", "--ray-address", ray_head.address]
    missing = one_error_line(ladder(args, clean_environment(stranger)))
    assert ray_head.address in missing and "no token here" in missing and "~/.ray/auth_token" in missing
    wrong = one_error_line(ladder(args, clean_environment(stranger, RAY_AUTH_TOKEN=secrets.token_hex(32))))
    assert ray_head.address in wrong and "RAY_AUTH_TOKEN is not the cluster's" in wrong
    assert not (tmp_path / "out" / "data").exists()


def test_an_unreachable_head_is_one_line_naming_the_address(synthetic_root: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    args = [*build_args(synthetic_root, tmp_path / "out"), "--executor", "ray", "--ray-address", address]
    line = one_error_line(ladder(args, clean_environment(tmp_path)))
    assert f"no Ray cluster answers at {address}" in line and "ray start --head" in line
