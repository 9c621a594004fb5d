"""What the camera and in-view question types (``vsti`` recipe) add to a build, per scan, in CPU seconds.

Synthesises ``--scenes`` demo scans once and measures their per-view metadata once (a shared metadata cache),
then builds, interleaved ``--repeats`` times, each from an empty output folder (drafts are not cached):
SpatialLadder-26k's seven types with every draft kept, and the same recipe with the ``vsti`` recipe's ten
types added. Prints the median CPU seconds of each build and of its draft stage (where questions are made),
and the difference per scan: the added build cost of the new types (one local worker; CPU time of this
process and its worker processes).
"""

import argparse
import resource
import shutil
import statistics
import tempfile
from pathlib import Path

from ladderdata.executor import ExecutorConfig, open_executor
from ladderdata.layout import FramesLayout
from ladderdata.pipeline import BuildConfig, build_dataset
from ladderdata.recipe import Recipe
from ladderdata.sources.base import source_config
from ladderdata.synth.root import SynthConfig
from ladderdata.synth.scannet import synthesize_root


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished child processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cpu_build(config: BuildConfig) -> tuple[float, float, int]:
    """(CPU seconds of the build, its workers included; wall seconds of its draft stage; rows), one worker."""
    start = cpu_seconds()
    with open_executor(ExecutorConfig(workers=1)) as runner:  # closing it joins the worker: its time is counted
        summary = build_dataset(config, runner)
    return cpu_seconds() - start, summary.stages["draft"].seconds, sum(summary.rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, default=None, help="keep the synthetic scans and metadata here")
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    base = args.cache or Path(tempfile.mkdtemp())
    root = base / "scannet"
    if not (root / "scans").is_dir():
        synthesize_root(root, SynthConfig(scenes=args.scenes, frames=args.frames, layouts=[FramesLayout.SENS]))
    spatial = Recipe.load("spatialladder-26k").model_copy(update={"targets": {}}).with_frame_stride(2)
    vsti = Recipe.load("vsti")
    combined = spatial.model_copy(update={"tasks": {**spatial.tasks, **vsti.tasks}})
    recipes = {"spatialladder-26k": spatial, "+ vsti types": combined}
    metadata = base / "metadata"

    def config(recipe: Recipe, out: Path) -> BuildConfig:
        source = source_config("scannet", root=root)
        return BuildConfig(source=source, out=out, split="all", recipe=recipe, metadata_cache=metadata)

    cpu_build(config(spatial, base / "warm"))  # measures every view once: later builds read the cache
    times: dict[str, list[tuple[float, float, int]]] = {name: [] for name in recipes}
    for _ in range(args.repeats):
        for name, recipe in recipes.items():
            out = base / "out"
            shutil.rmtree(out, ignore_errors=True)
            times[name].append(cpu_build(config(recipe, out)))
    print(f"{args.scenes} synthetic scans x {args.frames} frames, stride 2, median of {args.repeats} interleaved runs")
    print(f"{'recipe':20} {'rows':>6} {'CPU s':>8} {'draft s':>8} {'CPU s/scan':>11}")
    medians = {}
    for name, runs in times.items():
        cpu, draft = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        medians[name] = cpu
        print(f"{name:20} {runs[0][2]:>6} {cpu:>8.2f} {draft:>8.2f} {cpu / args.scenes:>11.2f}")
    added = (medians["+ vsti types"] - medians["spatialladder-26k"]) / args.scenes
    print(f"added by the vsti types: {added:.2f} CPU s per scan")


if __name__ == "__main__":
    main()
