"""Byte-compare what two checkouts' ``ladder export`` write from the same benchmarks, in every layout, and the
cards, manifests and stats their ``ladder build-bench`` writes.

A refactor of the export layouts or the cards must not change a byte. This synthesises a few scans and builds the
three built-in benchmarks with the source tree ``--base-src`` (e.g. a copy of the commit before the change) and
with this checkout's, into ``--work``, and compares every file of the two builds but the work folders and
``report.html`` (``stats.json`` and ``stats.md`` without their stage timings, which are wall-clock seconds). Then
it exports the base build with ``--base-src`` and with this checkout's tree, each in a fresh process:
``spatialladder`` (every benchmark: images and one video benchmark) and ``vsibench`` (the video benchmark, with
its archives). Every file the exports write (parquets, keyed copies, JPEGs, mp4s, zips, cards, ``LICENSE.md``,
``export.json``, the output-folder markers) is compared by sha256::

    mkdir /tmp/base && git archive HEAD~1 | tar -x -C /tmp/base   # the tree before the change
    python benchmarks/compare_exports.py --base-src /tmp/base/src --work /tmp/compare-exports

Prints one line per layout and every file that differs or exists on one side only; exits 1 when any does.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

THIS_SRC = Path(__file__).resolve().parents[1] / "src"
LAYOUTS = {"spatialladder": "", "vsibench": "vsi-video"}
"""Layout -> what it exports: the folder of benchmarks (``""``) or one benchmark in it."""


def ladder(src: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, "-m", "ladderdata", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"ladder {' '.join(args[:1])} with {src} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")


def files(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root``."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


TIMED = re.compile(r"\n## Stages\n.*?(?=\n## |\Z)", re.S)
"""``stats.md``'s stage table (seconds differ between any two runs)."""


def build_files(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file a benchmark build writes for readers (no work folders, locks or
    report.html), stage timings left out."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or p.name in ("report.html", ".ladder.lock") or ".ladder-work" in rel.parts:
            continue
        data = p.read_bytes()
        if p.name == "stats.json":
            data = json.dumps({k: v for k, v in json.loads(data).items() if k != "stages"}).encode()
        elif p.name == "stats.md":
            data = TIMED.sub("", data.decode()).encode()
        out[str(rel)] = hashlib.sha256(data).hexdigest()
    return out


def report(name: str, base: dict[str, str], this: dict[str, str]) -> bool:
    """Print how many files are identical and which are not; True when any differs or is on one side only."""
    differ = sorted(p for p in base.keys() & this.keys() if base[p] != this[p])
    one_side = sorted(base.keys() ^ this.keys())
    same = len(base.keys() & this.keys()) - len(differ)
    print(f"{name:14s} {same} of {len(base.keys() | this.keys())} files identical")
    for path in differ:
        print(f"  differs: {path}")
    for path in one_side:
        print(f"  only in {'base' if path in base else 'this'}: {path}")
    return bool(differ or one_side)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-src", type=Path, required=True, help="the src/ folder of the checkout to compare with")
    parser.add_argument("--work", type=Path, default=Path("/tmp/compare-exports"), help="scans, benchmarks, exports")
    parser.add_argument("--scenes", type=int, default=4, help="synthetic scans (every 4th is the val split)")
    parser.add_argument("--frames", type=int, default=24, help="frames per synthetic scan")
    args = parser.parse_args()
    scans, bench = args.work / "scans", args.work / "bench"
    built = ["--benchmark", "spbench-si", "--benchmark", "spbench-mv", "--benchmark", "vsi-video"]
    if not (bench / "README.md").is_file():
        shutil.rmtree(args.work, ignore_errors=True)
        ladder(args.base_src, "synth", "--out", str(scans), "--scenes", str(args.scenes), "--frames", str(args.frames))
        ladder(args.base_src, "build-bench", "--scans", str(scans), "--out", str(bench), "--frame-stride", "1", *built)
    this_bench = args.work / "this-build" / bench.name  # the folder name is in the card
    shutil.rmtree(this_bench, ignore_errors=True)
    ladder(THIS_SRC, "build-bench", "--scans", str(scans), "--out", str(this_bench), "--frame-stride", "1", *built)
    failed = report("build-bench", build_files(bench), build_files(this_bench))
    for layout, what in LAYOUTS.items():
        outs = {}
        for side, src in (("base", args.base_src), ("this", THIS_SRC)):
            out = args.work / side / layout
            shutil.rmtree(out, ignore_errors=True)
            ladder(src, "export", str(bench / what), "--format", layout, "--out", str(out))
            outs[side] = files(out)
        failed |= report(layout, outs["base"], outs["this"])
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
