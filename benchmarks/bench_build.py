"""``ladder build-dataset`` speed on the demo scans: QA/s and scans/min, cold and resumed.

Synthesises the 4 demo scans (48 frames, `.sens`) once, then builds with the built-in recipe (targets
scaled to 4 scenes) and with every draft kept, for 1 and 2 workers. Each cold build starts from an empty
output folder (metadata included); "resumed" reruns on the finished folder (everything cached).
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from ladderdata.layout import FramesLayout
from ladderdata.pipeline import BuildConfig, build_dataset
from ladderdata.recipe import Recipe
from ladderdata.sources.synthetic import SynthConfig, synthesize_root


def run(config: BuildConfig) -> tuple[float, float, int]:
    """(total seconds, seconds until drafting finished, rows written)."""
    marks: dict[str, float] = {}
    start = time.perf_counter()

    def planned(scans: int, shards: int) -> None:
        if shards:
            marks["drafted"] = time.perf_counter() - start

    summary = build_dataset(config, on_plan=planned)
    return time.perf_counter() - start, marks.get("drafted", 0.0), sum(summary.rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, default=None, help="keep the synthetic scans here")
    parser.add_argument("--scenes", type=int, default=4)
    args = parser.parse_args()
    base = args.cache or Path(tempfile.mkdtemp())
    root = base / "scannet"
    if not (root / "scans").is_dir():
        synthesize_root(root, SynthConfig(scenes=args.scenes, frames=48, layouts=[FramesLayout.SENS], workers=2))
    builtin = Recipe.load("spatialladder-26k")
    builtin = builtin.model_copy(update={"metadata": builtin.metadata.model_copy(update={"frame_stride": 2})})
    recipes = {"spatialladder-26k (scaled)": builtin, "every draft kept": builtin.model_copy(update={"targets": {}})}
    print(f"{args.scenes} synthetic scans x 48 frames, frame stride 2")
    header = ("recipe", "workers", "rows", "cold s", "draft s", "QA/s", "scans/min", "resumed s")
    print(f"{header[0]:28} " + " ".join(f"{h:>9}" for h in header[1:]))
    for name, recipe in recipes.items():
        for workers in (1, 2):
            out = base / f"out-{workers}"
            shutil.rmtree(out, ignore_errors=True)
            config = BuildConfig(scans=root, out=out, split="all", recipe=recipe, workers=workers)
            total, drafted, rows = run(config)
            again, _, _ = run(config)
            print(
                f"{name:28} {workers:>9} {rows:>9} {total:>9.1f} {drafted:>9.1f} {rows / total:>9.1f} "
                f"{60 * args.scenes / total:>9.1f} {again:>9.2f}"
            )


if __name__ == "__main__":
    main()
