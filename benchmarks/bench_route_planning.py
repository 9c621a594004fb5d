"""What route_planning adds to building ``vsi-video``: CPU seconds of the draft step per scan, with and without it.

Synthesises ``--scenes`` scans (``ladder synth`` defaults: 48 frames, rectangular and L-shaped rooms), measures
their views once, then drafts each scan with the built-in ``vsi-video`` recipe and with the same recipe less
``route_planning``, alternating the order of the two from one repeat to the next (interleaved runs), and prints
per scan the median CPU time (``time.process_time``) of each, the difference (route planning's cost: its
free-space grid, distance fields and candidate routes), that difference as a share of measuring the scan's
views (one run) plus drafting it without route planning, and the route questions drafted. Every run starts from
a fresh ``SceneContext`` and fresh generators, so no cache carries over between runs.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ladderdata.layout import FramesLayout
from ladderdata.metadata.config import ViewRecord
from ladderdata.metadata.extract import extract_views
from ladderdata.pipeline.draft import draft_scene
from ladderdata.recipe import Recipe
from ladderdata.sources.base import Scan, open_source, source_config
from ladderdata.synth.root import SynthConfig
from ladderdata.synth.scannet import synthesize_root
from ladderdata.tasks import SceneContext


def draft_seconds(scan: Scan, views: list[ViewRecord], recipe: Recipe) -> tuple[float, int]:
    """CPU seconds of drafting one scan with ``recipe`` (fresh context), and its route_planning drafts."""
    ctx = SceneContext.from_scan(scan, views)
    start = time.process_time()
    records, _ = draft_scene(ctx, recipe, seed=0)
    seconds = time.process_time() - start
    return seconds, sum(r.task == "route_planning" for r in records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, default=None, help="keep the synthetic scans here")
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frame-stride", type=int, default=2)
    args = parser.parse_args()
    base = args.cache or Path(tempfile.mkdtemp())
    root = base / "scannet"
    if not (root / "scans").is_dir():
        synthesize_root(root, SynthConfig(scenes=args.scenes, frames=48, layouts=[FramesLayout.SENS]))
    source = open_source(source_config("scannet", root=root))
    with_route = Recipe.load("vsi-video").with_frame_stride(args.frame_stride)
    assert "route_planning" in with_route.tasks
    without = with_route.model_copy(
        update={"tasks": {k: v for k, v in with_route.tasks.items() if k != "route_planning"}}
    )
    variants = {"without": without, "with": with_route}
    print(
        f"{args.scenes} synthetic scans x 48 frames, frame stride {args.frame_stride}, vsi-video recipe, "
        f"median of {args.repeats} interleaved runs, CPU seconds of the draft step"
    )
    print(
        f"{'scan':14} {'views s':>8} {'without s':>10} {'with s':>10} {'added s':>10} {'of scan %':>10} {'route Qs':>9}"
    )
    added_all = []
    for scan_id in source.scan_ids()[: args.scenes]:
        scan = source.load(scan_id)
        start = time.process_time()
        views = extract_views(scan, with_route.metadata)
        views_s = time.process_time() - start
        times: dict[str, list[float]] = {name: [] for name in variants}
        routes = 0
        for repeat in range(args.repeats):
            order = list(variants) if repeat % 2 == 0 else list(reversed(variants))
            for name in order:
                seconds, drafted = draft_seconds(scan, views, variants[name])
                times[name].append(seconds)
                routes = max(routes, drafted)
        base_s, with_s = statistics.median(times["without"]), statistics.median(times["with"])
        added_all.append(with_s - base_s)
        share = 100 * (with_s - base_s) / (views_s + base_s)  # of measuring and drafting the scan without it
        print(
            f"{scan_id:14} {views_s:>8.2f} {base_s:>10.3f} {with_s:>10.3f} {with_s - base_s:>10.3f} "
            f"{share:>9.1f}% {routes:>9}"
        )
    print(f"added per scan: median {statistics.median(added_all):.3f} s, max {max(added_all):.3f} s")


if __name__ == "__main__":
    main()
