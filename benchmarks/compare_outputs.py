"""Byte-compare what two checkouts build from the same scans: the per-view metadata Parquet and every shard.

A speed-up must not change results. This builds ``--scans`` (default: 2 synthetic scans of 200 frames, 50
objects and a ScanNet-sized mesh, written into ``--work`` once) with the source tree ``--base-src`` (e.g. a copy
of the commit before the change) and with this checkout's, each in a fresh process, and compares the bytes of
every metadata file (``.ladder-work/metadata/*.parquet``) and shard (``data/**/*.parquet``)::

    mkdir /tmp/base && git archive HEAD~1 | tar -x -C /tmp/base   # the tree before the change
    python benchmarks/compare_outputs.py --base-src /tmp/base/src --work /tmp/compare --frame-stride 2
    python benchmarks/compare_outputs.py --base-src /tmp/base/src --work /tmp/compare \\
        --scans /tmp/benchscale/scannet-150000v-2000f-50o

Shards are matched by name without their content key (``train-00000-of-00001``), which changes with the cache
keys. Files whose bytes differ are compared as tables too (``pyarrow.Table.equals``): the same rows and footer
metadata in other bytes (a change of Parquet codecs), or the same rows with other footer metadata (the cache and
shard keys, when the inputs are fingerprinted another way), are reported as such. Exits 1 when a file's rows
differ or it exists on one side only.
"""

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

THIS_SRC = Path(__file__).resolve().parents[1] / "src"


SYNTH = ["--scenes", "2", "--frames", "200", "--objects", "50", "--mesh-vertices", "150000"]


def build(src: Path, scans: Path, out: Path, stride: int, workers: int, recipe: str | None) -> None:
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "ladderdata", "build-dataset", "--scans", str(scans), "--out", str(out)]
    command += ["--split", "all", "--frame-stride", str(stride), "--workers", str(workers)]
    command += ["--recipe", recipe] if recipe else []
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"build with {src} failed:\n{done.stderr[-3000:]}")


KEY_SUFFIX = re.compile(r"-[0-9a-f]{8,}(?=\.parquet$)")


def outputs(out: Path) -> dict[str, Path]:
    """Every metadata file and shard, by path relative to ``out`` with a shard's content key left out."""
    files = [*out.glob(".ladder-work/metadata/*.parquet"), *out.glob("data/**/*.parquet")]
    return {KEY_SUFFIX.sub("", str(p.relative_to(out))): p for p in sorted(files)}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compare(base: Path, this: Path) -> str:
    """``identical`` bytes, ``same rows`` (and footer metadata), ``same rows, other keys`` or ``differs``."""
    if sha256(base) == sha256(this):
        return "identical"
    a, b = pq.read_table(base), pq.read_table(this)
    if a.equals(b, check_metadata=True):
        return "same rows"
    return "same rows, other keys" if a.equals(b) else "differs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-src", type=Path, required=True, help="the src/ folder of the checkout to compare with")
    parser.add_argument("--work", type=Path, default=Path("/tmp/compare"), help="synthetic scans and both builds")
    parser.add_argument("--scans", type=Path, default=None, help="scans to build (default: synthesised into --work)")
    parser.add_argument("--frame-stride", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--recipe",
        action="append",
        default=None,
        help="recipe to build with (repeatable: each is built and compared; default: the default recipe); "
        "vsti covers the camera and in-view tasks the default recipe leaves out",
    )
    args = parser.parse_args()
    scans = args.scans
    if scans is None:
        scans = args.work / "scans"
        command = [sys.executable, "-m", "ladderdata", "synth", "--out", str(scans), *SYNTH]
        subprocess.run(command, env={**os.environ, "PYTHONPATH": str(THIS_SRC)}, check=True, capture_output=True)
    sides = {"base": args.base_src.resolve(), "this": THIS_SRC}
    verdicts: dict[str, str] = {}
    for recipe in args.recipe or [None]:
        found = {}
        for name, src in sides.items():
            out = args.work / (name if recipe is None else f"{name}-{Path(recipe).stem}")
            build(src, scans, out, args.frame_stride, args.workers, recipe)
            found[name] = outputs(out)
        base, this = found["base"], found["this"]
        prefix = "" if recipe is None else f"{Path(recipe).stem}: "
        verdicts |= {
            prefix + name: compare(base[name], this[name]) if name in base and name in this else "on one side only"
            for name in sorted(base.keys() | this.keys())
        }
    for name, verdict in verdicts.items():
        print(f"{verdict}: {name}")
    bad = [n for n, v in verdicts.items() if v in ("differs", "on one side only")]
    metadata = sum(".ladder-work" in n for n in verdicts)
    print(
        f"{len(verdicts) - len(bad)} of {len(verdicts)} files with identical rows ({metadata} metadata, "
        f"{len(verdicts) - metadata} shards), {sum(v == 'identical' for v in verdicts.values())} byte-identical"
    )
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
