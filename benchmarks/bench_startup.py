"""CPU time (user + system) of ``ladder`` commands that end before any work: ``--help`` and errors found in the
command line, by source tree, in interleaved runs (median and range), each in a fresh process::

    mkdir -p /tmp/base && git archive HEAD~1 | tar -x -C /tmp/base     # the tree before a change
    python benchmarks/bench_startup.py --base-src /tmp/base/src --repeat 5

Each run is ``python -m ladderdata ARGS`` with ``PYTHONPATH`` set to the tree; CPU time is read from the child's
rusage, so the shared machine's load changes it little (wall time would change 10-30x). The ``floor`` rows run the
same arguments on ``startup_floor.py``, a bare typer app of two commands: typer's and rich's share of each figure.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

THIS_SRC = Path(__file__).resolve().parents[1] / "src"
FLOOR = Path(__file__).resolve().with_name("startup_floor.py")
COMMANDS = {
    "ladder --help": ["--help"],
    "ladder build-dataset --help": ["build-dataset", "--help"],
    "build-dataset --scans /nonexistent": ["build-dataset", "--scans", "/nonexistent", "--out", "/tmp/never-written"],
}


def cpu_seconds(src: Path | None, args: list[str]) -> float:
    """CPU time of ``ladder ARGS`` run from the source tree ``src``; of the floor app with ``ARGS`` when None."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "PYTHONPATH": str(src or THIS_SRC)}
    program = ["-m", "ladderdata"] if src else [str(FLOOR)]
    subprocess.run([sys.executable, *program, *args], env=env, capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-src", type=Path, help="a second source tree to measure, interleaved with this one")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    trees: dict[str, Path | None] = {"this": THIS_SRC, "floor": None} | (
        {"base": args.base_src} if args.base_src else {}
    )
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeat):
        for label, command in COMMANDS.items():
            for tree, src in trees.items():
                times.setdefault((label, tree), []).append(cpu_seconds(src, command))
    for (label, tree), values in times.items():
        print(
            f"{label:40s} {tree:5s} CPU s median {statistics.median(values):.2f} "
            f"(range {min(values):.2f}-{max(values):.2f}, {len(values)} runs)"
        )


if __name__ == "__main__":
    main()
