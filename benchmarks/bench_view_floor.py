"""Per-view metadata against its floor, open3d's ``cast_rays`` alone, CPU time, one thread (issue 28).

A view's metadata is one ray cast at the render width (324 x 242 by default) plus what ladder does around it:
the rays, the owners of the hits, the per-object statistics, the sensor depth decoded and compared with the
rendered depth. Its floor is the ``cast_rays`` call alone on the same rays. For each mesh of
``bench_metadata.py``'s scan (48 objects, ~180k and ~1.37M vertices, ``--frames`` views) each run, in a fresh
process per source tree, measures ``--rounds`` times (this machine's speed drifts by 10% within a minute: each
view and its floor are measured milliseconds apart):

* per view: CPU seconds of ``measure_scan`` (every selected view: cast, statistics, depth decode and agreement,
  the view's record) less its once-per-scan setup (BVH, object samples), divided by the views;
* the floor: CPU seconds of ``cast_rays`` on the same views' rays, divided by the views: each view's rays cast a
  second time right after its own cast, in the same BVH (one built again elsewhere in memory casts up to 10%
  faster or slower), and that second cast's time taken out of the view's (its caches are warm from the first
  cast: the floor is if anything low, the ratio high);
* the setup once per scan (``ViewMeasurer``: the BVH, the owners of the triangles, the object samples);
* the start of the compiled path once per process (``views.compiled_kernels``: importing numba and loading the
  compiled passes from its cache, as a worker pool's fork server does before forking workers), outside the views;

and prints, per tree and path (``compiled``: numba's, the ``fast`` extra; ``numpy``: ``LADDER_NO_JIT=1`` or no
numba), the median and range of the rounds of ``--repeat`` interleaved runs (``--base-src``: the tree before a
change)::

    python benchmarks/bench_view_floor.py --cache /tmp/benchmeta --base-src /tmp/base/src --repeat 3 --rounds 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

THIS_SRC = Path(__file__).resolve().parents[1] / "src"
SCAN_ID = "scene0002_00"


def child(root: Path, rounds: int) -> None:
    """``rounds`` measurements of the scan's views in this process (the source tree on ``PYTHONPATH``), each ray
    cast followed by the floor's cast of the same rays in the same BVH: one JSON line."""
    import open3d as o3d

    from ladderdata.geometry import raycast
    from ladderdata.metadata import views
    from ladderdata.metadata.config import MetadataConfig
    from ladderdata.metadata.extract import measure_scan
    from ladderdata.sources.base import open_source, source_config

    scan = open_source(source_config("scannet", root=root)).load(SCAN_ID)
    config = MetadataConfig(frame_stride=1)
    start = time.process_time()
    compiled = getattr(views, "compiled_kernels", lambda: None)() is not None  # trees before it: the numpy code
    jit_start = time.process_time() - start
    setup, floor = [0.0], [0.0]
    build, cast = views.ViewMeasurer.__init__, raycast.TriangleScene.cast

    def timed_build(self: views.ViewMeasurer, *args: object) -> None:
        start = time.process_time()
        build(self, *args)  # type: ignore[arg-type]
        setup[0] += time.process_time() - start

    def cast_and_floor(self: raycast.TriangleScene, rays: Any) -> Any:
        hits = cast(self, rays)
        if rays.size > 6:  # a view's rays, not the single ray that builds the BVH
            tensor = o3d.core.Tensor.from_numpy(rays)
            start = time.process_time()
            self._scene.cast_rays(tensor, nthreads=raycast.query_threads())
            floor[0] += time.process_time() - start
        return hits

    views.ViewMeasurer.__init__ = timed_build  # type: ignore[method-assign,assignment]
    raycast.TriangleScene.cast = cast_and_floor  # type: ignore[method-assign]
    per_view, floors, setups = [], [], []
    for _ in range(rounds):
        setup[0] = floor[0] = 0.0
        start = time.process_time()
        records, _ = measure_scan(scan, config)
        spent = time.process_time() - start
        per_view.append((spent - setup[0] - floor[0]) / len(records))
        floors.append(floor[0] / len(records))
        setups.append(setup[0])
    result = {
        "path": "compiled" if compiled else "numpy",
        "views": len(records),
        "per_view_ms": [1000 * t for t in per_view],
        "floor_ms": [1000 * t for t in floors],
        "setup_s": setups,
        "jit_start_s": jit_start,
    }
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/benchmeta"), help="keeps the synthetic scans")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--base-src", type=Path, help="a second source tree, measured interleaved with this one")
    parser.add_argument("--repeat", type=int, default=3, help="processes per tree, interleaved")
    parser.add_argument("--rounds", type=int, default=2, help="measurements of the views per process")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rounds)
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_metadata import MESHES, build

    # this tree by both paths (the numpy one forced by LADDER_NO_JIT), and the tree before the change
    trees = {"this": (THIS_SRC, False), "this, LADDER_NO_JIT=1": (THIS_SRC, True)}
    trees |= {"base": (args.base_src, False)} if args.base_src else {}
    for name, vertices in MESHES.items():
        root = args.cache / name.split()[0]
        build(root, vertices, args.frames)
        runs: dict[str, list[dict[str, Any]]] = {tree: [] for tree in trees}
        for _ in range(args.repeat):
            for tree, (src, no_jit) in trees.items():
                env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
                env.pop("LADDER_NO_JIT", None)
                env |= {"LADDER_NO_JIT": "1"} if no_jit else {}
                done = subprocess.run(
                    [sys.executable, __file__, "--child", str(root), "--rounds", str(args.rounds)],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if done.returncode != 0:
                    raise SystemExit(f"{tree} failed:\n{done.stderr[-3000:]}")
                runs[tree].append(json.loads(done.stdout.strip().splitlines()[-1]))
        rounds = args.repeat * args.rounds
        print(
            f"{name}, {runs['this'][0]['views']} views, CPU ms per view, median (range) of {rounds} rounds "
            f"({args.repeat} processes x {args.rounds}; the ratio: of each round's own two figures):"
        )
        for tree, results in runs.items():
            per_view = [t for r in results for t in r["per_view_ms"]]
            floor = [t for r in results for t in r["floor_ms"]]
            ratio = [v / f for v, f in zip(per_view, floor, strict=True)]
            setup = [t for r in results for t in r["setup_s"]]
            jit_start = statistics.median(r["jit_start_s"] for r in results)
            print(
                f"  {tree} ({results[0]['path']}): "
                f"per view {statistics.median(per_view):.2f} ({min(per_view):.2f}-{max(per_view):.2f}), "
                f"cast_rays alone {statistics.median(floor):.2f} ({min(floor):.2f}-{max(floor):.2f}), "
                f"ratio {statistics.median(ratio):.2f}x ({min(ratio):.2f}-{max(ratio):.2f}); setup once per scan "
                f"{statistics.median(setup):.2f} s ({min(setup):.2f}-{max(setup):.2f})"
                + (f"; compiled path's start once per process {jit_start:.2f} s" if jit_start > 0.05 else "")
            )


if __name__ == "__main__":
    main()
