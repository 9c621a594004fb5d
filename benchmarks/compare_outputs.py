"""Byte-compare what two checkouts build from the same scans: the per-view metadata Parquet and every shard.

A speed-up must not change results. This builds ``--scans`` (default: 2 synthetic scans of 200 frames, 50
objects and a ScanNet-sized mesh, written into ``--work`` once) with the source tree ``--base-src`` (e.g. a copy
of the commit before the change) and with this checkout's, each in a fresh process, and compares the bytes of
every metadata file (``.ladder-work/metadata/*.parquet``) and shard (``data/**/*.parquet``)::

    mkdir /tmp/base && git archive HEAD~1 | tar -x -C /tmp/base   # the tree before the change
    python benchmarks/compare_outputs.py --base-src /tmp/base/src --work /tmp/compare --frame-stride 2
    python benchmarks/compare_outputs.py --base-src /tmp/base/src --work /tmp/compare \\
        --scans /tmp/benchscale/scannet-150000v-2000f-50o

Files whose bytes differ are compared as tables too (rows, schema and footer metadata, ``pyarrow.Table.equals``):
a change of Parquet codecs leaves the same rows in different bytes, which is reported as such. Exits 1 when a
file's rows differ or it exists on one side only.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

THIS_SRC = Path(__file__).resolve().parents[1] / "src"


SYNTH = ["--scenes", "2", "--frames", "200", "--objects", "50", "--mesh-vertices", "150000"]


def build(src: Path, scans: Path, out: Path, stride: int, workers: int) -> None:
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "ladderdata", "build-dataset", "--scans", str(scans), "--out", str(out)]
    command += ["--split", "all", "--frame-stride", str(stride), "--workers", str(workers)]
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"build with {src} failed:\n{done.stderr[-3000:]}")


def digests(out: Path) -> dict[str, str]:
    """sha256 of every metadata file and shard, by path relative to ``out``."""
    files = [*out.glob(".ladder-work/metadata/*.parquet"), *out.glob("data/**/*.parquet")]
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(files)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-src", type=Path, required=True, help="the src/ folder of the checkout to compare with")
    parser.add_argument("--work", type=Path, default=Path("/tmp/compare"), help="synthetic scans and both builds")
    parser.add_argument("--scans", type=Path, default=None, help="scans to build (default: synthesised into --work)")
    parser.add_argument("--frame-stride", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    scans = args.scans
    if scans is None:
        scans = args.work / "scans"
        command = [sys.executable, "-m", "ladderdata", "synth", "--out", str(scans), *SYNTH]
        subprocess.run(command, env={**os.environ, "PYTHONPATH": str(THIS_SRC)}, check=True, capture_output=True)
    sides = {"base": args.base_src.resolve(), "this": THIS_SRC}
    found = {}
    for name, src in sides.items():
        build(src, scans, args.work / name, args.frame_stride, args.workers)
        found[name] = digests(args.work / name)
    base, this = found["base"], found["this"]
    other_bytes = sorted(p for p in base.keys() | this.keys() if base.get(p) != this.get(p))
    same_rows = [p for p in other_bytes if p in base and p in this and same_table(args.work, p)]
    differ = [p for p in other_bytes if p not in same_rows]
    for path in same_rows:
        print(f"same rows, other bytes: {path}")
    for path in differ:
        print(f"differs: {path} (base {base.get(path, 'missing')[:12]}, this {this.get(path, 'missing')[:12]})")
    metadata = sum(p.startswith(".ladder-work") for p in this)
    print(
        f"{len(this) - len(differ)} of {len(base.keys() | this.keys())} files with identical rows, "
        f"{len(this) - len(other_bytes)} byte-identical ({metadata} metadata, {len(this) - metadata} shards)"
    )
    sys.exit(1 if differ else 0)


def same_table(work: Path, path: str) -> bool:
    """Whether the two builds' ``path`` hold the same table: rows, schema and footer metadata."""
    base, this = pq.read_table(work / "base" / path), pq.read_table(work / "this" / path)
    return bool(base.equals(this, check_metadata=True))


if __name__ == "__main__":
    main()
