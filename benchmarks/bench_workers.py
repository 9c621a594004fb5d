"""CPU time of a whole ``ladder build-dataset`` run, every process it starts included, with 1, N and 2N local
workers (by source tree, interleaved runs, median and range): what starting worker processes costs::

    mkdir -p /tmp/base && git archive HEAD~1 | tar -x -C /tmp/base     # the tree before a change
    python benchmarks/bench_workers.py --work /tmp/benchworkers --base-src /tmp/base/src

The scans (``--scenes`` synthetic scans of 10 frames) are written once into ``--work``. Each build runs in a child
of this process made a child subreaper (``PR_SET_CHILD_SUBREAPER``), so processes that outlive their parent (a
fork server, the resource tracker) are reparented here and their CPU time is counted too. The work itself is the
same with any number of workers, so what a run costs beyond ``--workers 1`` is a one-time part (the fork server's
imports) plus a part per worker (its start and imports)::

    per worker  = (CPU with 2N workers - CPU with N) / N
    one-time    = (CPU with N workers - CPU with 1) - N x per worker
    N workers   = CPU with N workers / CPU with 1 (the issue's "x1.58" for N = 2)

``--scenes`` should be at least 2N, so that every worker gets a scan.
"""

import argparse
import ctypes
import os
import resource
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

THIS_SRC = Path(__file__).resolve().parents[1] / "src"
PR_SET_CHILD_SUBREAPER = 36


def all_cpu_seconds(command: list[str], env: dict[str, str]) -> float:
    """CPU seconds of ``command`` and every process it started, once all of them have exited."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, stderr = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr.decode()[-2000:]}")
    while True:  # reap the orphans reparented to this subreaper
        try:
            os.wait()
        except ChildProcessError:
            break
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/benchworkers"))
    parser.add_argument("--base-src", type=Path, help="a second source tree, measured interleaved with this one")
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--entry",
        choices=["script", "module"],
        default="script",
        help="start ladder as its console script (as users do; spawn re-ran it in each worker) or python -m",
    )
    args = parser.parse_args()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit("prctl(PR_SET_CHILD_SUBREAPER) failed: Linux only")
    scans = args.work / "scannet"
    env = {**os.environ, "PYTHONPATH": str(THIS_SRC)}
    if not scans.is_dir():
        synth = [sys.executable, "-m", "ladderdata", "synth", "--out", str(scans), "--scenes", str(args.scenes)]
        subprocess.run([*synth, "--frames", "10"], env=env, check=True, capture_output=True)
    trees = {"this": THIS_SRC} | ({"base": args.base_src} if args.base_src else {})
    times: dict[tuple[str, int], list[float]] = {}
    counts = (1, args.workers, 2 * args.workers)
    for _ in range(args.repeat):
        for workers in counts:
            for tree, src in trees.items():
                out = args.work / "out"
                shutil.rmtree(out, ignore_errors=True)
                ladder = (
                    [str(Path(sys.executable).parent / "ladder")]
                    if args.entry == "script"
                    else [sys.executable, "-m", "ladderdata"]
                )
                command = [*ladder, "build-dataset", "--scans", str(scans)]
                command += ["--out", str(out)]
                command += ["--split", "all", "--frame-stride", "3", "--workers", str(workers)]
                seconds = all_cpu_seconds(command, {**os.environ, "PYTHONPATH": str(src)})
                times.setdefault((tree, workers), []).append(seconds)
    for (tree, workers), values in sorted(times.items()):
        print(
            f"{tree:5s} --workers {workers}: CPU s median {statistics.median(values):.2f} "
            f"(range {min(values):.2f}-{max(values):.2f}, {len(values)} runs)"
        )
    n = args.workers
    for tree in trees:
        one, some, more = (statistics.median(times[(tree, workers)]) for workers in counts)
        per_worker = (more - some) / n
        print(
            f"{tree:5s} per worker {per_worker:.2f} CPU s, one-time {some - one - n * per_worker:.2f} CPU s; "
            f"--workers {n} costs x{some / one:.2f} of --workers 1 ({some - one:+.2f} CPU s)"
        )


if __name__ == "__main__":
    main()
