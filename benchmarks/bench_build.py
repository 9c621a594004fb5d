"""``ladder build-dataset`` speed on the demo scans: QA/s and scans/min, cold and resumed.

Synthesises the 4 demo scans (48 frames, `.sens`) once, then builds with the built-in recipe (targets
scaled to 4 scenes) and with every draft kept, for 1 and 2 local workers (or ``--executor ray``). Each cold
build starts from an empty output folder (metadata included); "resumed" reruns on the finished folder
(everything cached): its draft stage is what a rerun over finished scans costs, printed per scan.
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from ladderdata.executor import ExecutorConfig, ExecutorKind, open_executor
from ladderdata.layout import FramesLayout
from ladderdata.pipeline import BuildConfig, BuildSummary, build_dataset
from ladderdata.recipe import Recipe
from ladderdata.sources.base import source_config
from ladderdata.synth.root import SynthConfig
from ladderdata.synth.scannet import synthesize_root


def run(config: BuildConfig, executor: ExecutorConfig) -> tuple[float, BuildSummary]:
    """(total seconds, summary with per-stage seconds)."""
    with open_executor(executor) as runner:
        start = time.perf_counter()
        summary = build_dataset(config, runner)
        return time.perf_counter() - start, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, default=None, help="keep the synthetic scans here")
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--executor", type=ExecutorKind, default=ExecutorKind.LOCAL)
    parser.add_argument("--workers", type=int, action="append", default=None, help="repeatable (default 1 and 2)")
    args = parser.parse_args()
    base = args.cache or Path(tempfile.mkdtemp())
    root = base / "scannet"
    if not (root / "scans").is_dir():
        with open_executor(ExecutorConfig(workers=2)) as runner:
            synthesize_root(root, SynthConfig(scenes=args.scenes, frames=48, layouts=[FramesLayout.SENS]), runner)
    builtin = Recipe.load("spatialladder-26k").with_frame_stride(2)
    recipes = {"spatialladder-26k (scaled)": builtin, "every draft kept": builtin.model_copy(update={"targets": {}})}
    print(f"{args.scenes} synthetic scans x 48 frames, frame stride 2, executor {args.executor}")
    header = ("recipe", "workers", "rows", "cold s", "draft s", "QA/s", "scans/min", "resumed s", "resume ms/scan")
    print(f"{header[0]:28} " + " ".join(f"{h:>9}" for h in header[1:]))
    for name, recipe in recipes.items():
        for workers in args.workers or [1, 2]:
            out = base / f"out-{workers}"
            shutil.rmtree(out, ignore_errors=True)
            config = BuildConfig(source=source_config("scannet", root=root), out=out, split="all", recipe=recipe)
            executor = ExecutorConfig(kind=args.executor, workers=workers)
            total, summary = run(config, executor)
            again, resumed = run(config, executor)
            assert resumed.stages["draft"].counters["cached"] == args.scenes
            rows = sum(summary.rows.values())
            per_scan = 1000 * resumed.stages["draft"].seconds / args.scenes
            print(
                f"{name:28} {workers:>9} {rows:>9} {total:>9.1f} {summary.stages['draft'].seconds:>9.1f} "
                f"{rows / total:>9.1f} {60 * args.scenes / total:>9.1f} {again:>9.2f} {per_scan:>9.1f}"
            )


if __name__ == "__main__":
    main()
