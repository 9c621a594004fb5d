"""What streaming shard writes save, and what the reliability checks cost (docs/reliability.md).

* **shard memory**: peak RSS of a build whose drafts are cached (plan, draft from cache, select, render, write),
  for several ``rows_per_shard``, each in a fresh process: shards streamed one row group at a time (64 rows or
  32 MiB of images, the default) and, for comparison, with the row-group limits lifted so that a whole shard is
  held in memory before it is written (what the writer did before streaming);
* **frame checks**: milliseconds per colour frame to read it, to check it (JPEG header, size, end marker) and
  to decode it at 1/8 scale (what drafting and the shard writer do once per embedded frame);
* **answer extraction**: seconds to extract the answer of a malformed response (``<answer>`` repeated, never
  closed) with the linear extraction and with the regex it replaced, which is quadratic.

::

    python benchmarks/bench_reliability.py --cache /tmp/benchrel
"""

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ladderdata.io import shards
from ladderdata.layout import FramesLayout
from ladderdata.pipeline import BuildConfig, build_dataset
from ladderdata.recipe import Recipe
from ladderdata.scoring import extract_answer
from ladderdata.sources.base import open_source, source_config
from ladderdata.synth.root import SynthConfig
from ladderdata.synth.scannet import synthesize_root

ROWS_PER_SHARD = (50, 200, 1000)


def peak_rss_mib() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def recipe(rows_per_shard: int) -> Recipe:
    """Every draft (no targets) on every frame: many rows from few scans."""
    base = Recipe.load("spatialladder-26k").with_frame_stride(1)
    return base.model_copy(update={"targets": {}, "rows_per_shard": rows_per_shard})


def config(root: Path, out: Path, rows_per_shard: int) -> BuildConfig:
    return BuildConfig(source=source_config("scannet", root=root), out=out, split="all", recipe=recipe(rows_per_shard))


def write_in_this_process(root: Path, out: Path, rows_per_shard: int, whole: bool) -> dict[str, Any]:
    if whole:  # no row-group limits: the writer holds every row of a shard, images included, then writes it
        shards.ROW_GROUP_ROWS = 10**9
        shards.ROW_GROUP_BYTES = 2**62
    shutil.rmtree(out / "data", ignore_errors=True)
    summary = build_dataset(config(root, out, rows_per_shard))
    assert not summary.failed and summary.stages["draft"].counters["cached"], summary.stages["draft"].counters
    largest = max(int(str(s["rows"])) for s in summary.shards)
    image_bytes = max((out / str(s["path"])).stat().st_size for s in summary.shards)
    return {"write_s": summary.stages["write"].seconds, "largest_shard_rows": largest, "largest_shard_mib": image_bytes}


def shard_memory(root: Path, out: Path) -> None:
    if not (out / "manifest.json").is_file():
        build_dataset(config(root, out, 500))  # drafts the scans once; every measured run reads them from cache
    print("\nshard memory: build with cached drafts, one fresh process per run")
    print(f"{'rows/shard':>10} {'largest shard':>22} | {'peak RSS MiB, streamed':>22} {'whole shard':>12}")
    for rows in ROWS_PER_SHARD:
        results = {}
        for whole in (False, True):
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(rows), "--root", str(root), "--out", str(out)]
                + (["--whole"] if whole else []),
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(done.stderr[-3000:])
            results[whole] = json.loads(done.stdout.strip().splitlines()[-1])
        streamed = results[False]
        size = f"{streamed['largest_shard_rows']} rows, {streamed['largest_shard_mib'] / 2**20:.0f} MiB"
        print(f"{rows:>10} {size:>22} | {streamed['rss_mib']:>22.0f} {results[True]['rss_mib']:>12.0f}")


def frame_checks(root: Path) -> None:
    source = open_source(source_config("scannet", root=root))
    scan_id = source.scan_ids()[0]
    frames = source.open_frames(scan_id)
    assert frames is not None
    ids = [int(i) for i in frames.frame_ids]
    timings = {}
    for name, read in (
        ("read", frames.read_color_jpeg),
        ("read + check", frames.checked_color_jpeg),
        ("read + check + decode 1/8", lambda f: frames.checked_color_jpeg(f, decode=True)),
    ):
        start = time.perf_counter()
        for frame_id in ids:
            read(frame_id)
        timings[name] = 1000 * (time.perf_counter() - start) / len(ids)
    size = sum(len(frames.read_color_jpeg(f)) for f in ids) / len(ids) / 1024
    K = frames.color_intrinsics
    print(f"\nframe checks: {len(ids)} frames of {K.width}x{K.height}, {size:.0f} KiB each on average")
    for name, ms in timings.items():
        print(f"  {name:<28} {ms:6.2f} ms per frame")


def answer_extraction() -> None:
    print("\nanswer extraction of '<answer>' repeated without a closing tag")
    print(f"{'size':>8} {'linear s':>9} {'regex s':>8}")
    regex = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
    for repeats in (2_500, 5_000, 10_000, 40_000):
        text = "<answer>" * repeats
        start = time.perf_counter()
        extract_answer(text)
        linear = time.perf_counter() - start
        if repeats <= 10_000:  # the regex at 312 KB takes about a minute
            start = time.perf_counter()
            regex.findall(text)
            quadratic = f"{time.perf_counter() - start:8.2f}"
        else:
            quadratic = f"{'(skipped)':>8}"
        print(f"{len(text) // 1024:>5} KB {linear:9.4f} {quadratic}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/benchrel"), help="keeps the synthetic scans")
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--whole", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one measured build, one JSON line
        result = write_in_this_process(args.root, args.out, args.child, args.whole)
        print(json.dumps({**result, "rss_mib": peak_rss_mib()}))
        return
    root = args.cache / f"scannet-{args.scenes}s-{args.frames}f"
    if not (root / "scans").is_dir():
        synthesize_root(root, SynthConfig(scenes=args.scenes, frames=args.frames, layouts=[FramesLayout.SENS]))
    shard_memory(root, args.cache / f"dataset-{args.scenes}s-{args.frames}f")
    frame_checks(root)
    answer_extraction()


if __name__ == "__main__":
    main()
