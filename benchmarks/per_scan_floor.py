"""The floor under a cold build's per-scan part: the library calls whose results the outputs are made of, alone
(issue 28).

What a build spends on a scan besides its views' metadata is ladder's own code around a few calls into native
libraries, each fed the scan's own data, and each fixing bits of the outputs or guarding them (the frames'
decodes: whether a scan is kept; the fingerprints: whether a cache is reused):

* the mesh's BVH (Embree, through open3d's ``RaycastingScene``), which every view's ray cast needs;
* convex hulls (qhull): each object's 3D hull (joggled, ``QJ``), whose vertices sharpen the 2D boxes, and the 2D
  hull of its footprint, whose edges its gravity-aligned box is fitted to;
* the closest-surface distances' point queries (open3d: one BVH per object queried and its queries);
* the decode, at 1/8 scale, of every colour frame the drafts show (libjpeg-turbo, through Pillow), so that no
  shard embeds a frame that does not decode;
* the input fingerprints (a read of every input file and its xxh3 hash: the ``.sens`` stream is 0.8-2 GB);
* the floor's raster (OpenCV's triangle fills, SciPy's hole filling; the few array operations around them
  included);
* the annotations' JSON parse (the standard library's ``json``).

In a fresh process per stride (one thread), this builds ``bench_scale.py``'s :data:`BATCH_SCANS` copies of its
ScanNet-sized scan cold, recording the inputs of those calls for each further scan of the build; then it calls
them alone on the same inputs, ``--rounds`` times, and prints the CPU milliseconds per further scan of each
(median and range of the rounds) and their sum. With two strides, it also prints the line through the two sums
against the views, as ``bench_scale.py`` gives a build's cost per view and per scan besides: that line's per-scan
part is what ladder's cannot go below while the outputs and guarantees stay as they are::

    python benchmarks/per_scan_floor.py --cache /tmp/perf/scale --strides 30 10 --rounds 5
"""

import argparse
import contextlib
import functools
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from PIL import Image
from scipy.spatial import ConvexHull, QhullError

from ladderdata import cache
from ladderdata.geometry import measure
from ladderdata.geometry.raycast import TriangleScene
from ladderdata.metadata import views
from ladderdata.metadata.extract import metadata_path
from ladderdata.pipeline import BuildConfig, build_dataset, draft
from ladderdata.recipe import Recipe
from ladderdata.sources import files, validate
from ladderdata.sources.base import source_config
from ladderdata.typed import Faces, Points3

#: bench_scale.py's ScanNet-sized scan (its defaults: ``_vh_clean_2``-like mesh, 2,000 frames, 50 objects).
SCAN_VERTICES, SCAN_FRAMES, SCAN_OBJECTS = 150_000, 2000, 50
#: The per-scan part of a cold build the issue measured (CPU s), and the target: half of it.
ISSUE_PER_SCAN_S = 1.1


@dataclass
class ScanCalls:
    """The inputs of one scan's library calls, as the build made them."""

    mesh: list[tuple[Points3, Faces]] = field(default_factory=list)
    """The mesh whose BVH was built (once)."""
    hulls: list[tuple[Points3, str]] = field(default_factory=list)
    """The points and qhull options of each convex hull."""
    surfaces: dict[int, tuple[Points3, Faces]] = field(default_factory=dict)
    """Each object surface queried for distances (by the identity of its ``TriangleScene``)."""
    queries: list[tuple[int, Points3]] = field(default_factory=list)
    """Each distance query: the surface queried and its (N, 3) points, in the build's order."""
    jpegs: list[bytes] = field(default_factory=list)
    """Each colour frame decoded to its end."""
    digests: list[tuple[Path, str]] = field(default_factory=list)
    """Each input file hashed, and the hash function (``cache.DIGESTS``)."""
    floors: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    """The arguments of each floor area."""
    json_files: list[bytes] = field(default_factory=list)
    """The bytes of each JSON file parsed."""


@contextlib.contextmanager
def patched(module: Any, name: str, make: Callable[[Any], Any]) -> Iterator[None]:
    """``module.name`` replaced by ``make(original)``, there and wherever a module of ladderdata imported it."""
    original = getattr(module, name)
    replacement = make(original)
    owners = [module] + [
        other
        for other in list(sys.modules.values())
        if getattr(other, "__name__", "").startswith("ladderdata") and vars(other).get(name) is original
    ]
    for owner in owners:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for owner in owners:
            setattr(owner, name, original)


def keep_scene(c: ScanCalls, scene: TriangleScene, vertices: Points3, faces: Faces) -> None:
    scene.floor_inputs = (vertices, faces)  # type: ignore[attr-defined]


def keep_mesh(c: ScanCalls, scene: TriangleScene) -> None:
    c.mesh.append(scene.floor_inputs)  # type: ignore[attr-defined]


def keep_query(c: ScanCalls, scene: TriangleScene, points: Points3) -> None:
    c.surfaces[id(scene)] = scene.floor_inputs  # type: ignore[attr-defined]
    c.queries.append((id(scene), points))


def keep_hull(c: ScanCalls, points: Points3, qhull_options: str = "") -> None:
    c.hulls.append((points, qhull_options))


def keep_jpeg(c: ScanCalls, *args: Any, decode: bool = False) -> None:
    if decode or (len(args) > 5 and args[5]):  # (scan_id, path, data, declared, frame_id, decode)
        c.jpegs.append(args[2])


def keep_digest(c: ScanCalls, path: Path, algorithm: str = "sha256") -> None:
    c.digests.append((path, algorithm))


def keep_floor(c: ScanCalls, *args: Any, **kwargs: Any) -> None:
    c.floors.append((args, kwargs))


def keep_json(c: ScanCalls, scan_id: str, path: Path) -> None:
    c.json_files.append(path.read_bytes())


#: What is recorded: (owner, name, what of its arguments to keep); ``ConvexHull`` also where geometry.boxes
#: imported it.
RECORDED: tuple[tuple[Any, str, Callable[..., None]], ...] = (
    (TriangleScene, "__init__", keep_scene),
    (TriangleScene, "build", keep_mesh),
    (TriangleScene, "distance", keep_query),
    (views, "ConvexHull", keep_hull),
    (validate, "checked_jpeg", keep_jpeg),
    (cache, "file_digest", keep_digest),
    (measure, "floor_area", keep_floor),
    (files, "read_json", keep_json),
)


class Recorder:
    """The inputs of the library calls of each scan of a build (``calls``; "": outside any scan's work)."""

    def __init__(self) -> None:
        self.calls: dict[str, ScanCalls] = defaultdict(ScanCalls)
        self.scan_id = ""

    def for_scan(self, original: Any) -> Any:
        """``original(..., scan_id)``, with the calls it makes counted to ``scan_id``."""

        @functools.wraps(original)
        def wrapper(*args: Any) -> Any:
            outer, self.scan_id = self.scan_id, args[-1]
            try:
                return original(*args)
            finally:
                self.scan_id = outer

        return wrapper

    def recording(self, original: Any, keep: Callable[..., None]) -> Any:
        """``original``, keeping (``keep``) what it is called with."""

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            keep(self.calls[self.scan_id], *args, **kwargs)
            return original(*args, **kwargs)

        return wrapper


def record(root: Path, out: Path, stride: int) -> tuple[dict[str, ScanCalls], Path]:
    """A cold build of ``root``'s scans at ``stride``, in this process: each scan's library calls' inputs, and the
    build's metadata folder."""
    recorder = Recorder()
    shutil.rmtree(out, ignore_errors=True)
    recipe = Recipe.load("spatialladder-26k").with_frame_stride(stride)
    with contextlib.ExitStack() as patches:
        patches.enter_context(patched(draft, "draft_scan", recorder.for_scan))  # the scan's work
        patches.enter_context(patched(draft, "scan_keys", recorder.for_scan))  # its fingerprints, when planning
        for owner, name, keep in RECORDED:
            patches.enter_context(patched(owner, name, functools.partial(recorder.recording, keep=keep)))
        config = BuildConfig(source=source_config("scannet", root=root), out=out, split="all", recipe=recipe)
        summary = build_dataset(config)
    assert not summary.failed, summary.failed
    return dict(recorder.calls), config.metadata_dir


def mesh_bvh(c: ScanCalls) -> None:
    for inputs in c.mesh:
        TriangleScene(*inputs).build()


def hulls(c: ScanCalls) -> None:
    for points, options in c.hulls:
        with contextlib.suppress(QhullError, ValueError):  # as ladder does: the object's vertices then
            ConvexHull(points, qhull_options=options)


def distances(c: ScanCalls) -> None:
    scenes = {key: TriangleScene(*inputs) for key, inputs in c.surfaces.items()}
    for key, points in c.queries:
        scenes[key].distance(points)


def jpeg_decodes(c: ScanCalls) -> None:
    for data in c.jpegs:
        with warnings.catch_warnings(), Image.open(io.BytesIO(data)) as img:
            warnings.simplefilter("ignore")
            img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))
            img.load()


def fingerprints(c: ScanCalls) -> None:
    for path, algorithm in c.digests:
        cache.file_digest(path, algorithm)  # type: ignore[arg-type]


def floor_rasters(c: ScanCalls) -> None:
    for args, kwargs in c.floors:
        measure.floor_area(*args, **kwargs)


def json_parses(c: ScanCalls) -> None:
    for data in c.json_files:
        json.loads(data)


#: (label, the calls on one scan's inputs, what they were fed): each timed alone.
FLOOR: tuple[tuple[str, Callable[[ScanCalls], None], Callable[[ScanCalls], str]], ...] = (
    ("the mesh's BVH (Embree, through open3d)", mesh_bvh, lambda c: f"{sum(len(f) for _, f in c.mesh):,} triangles"),
    ("convex hulls (qhull: objects' 3D, footprints' 2D)", hulls, lambda c: f"{len(c.hulls)} hulls"),
    (
        "closest-point queries (open3d: objects' BVHs, queries)",
        distances,
        lambda c: f"{len(c.surfaces)} objects, {len(c.queries)} queries, {sum(len(p) for _, p in c.queries):,} points",
    ),
    ("colour frames decoded at 1/8 (libjpeg-turbo)", jpeg_decodes, lambda c: f"{len(c.jpegs)} frames"),
    (
        "input fingerprints (read, xxh3)",
        fingerprints,
        lambda c: f"{len(c.digests)} files, {sum(p.stat().st_size for p, _ in c.digests) / 1e6:,.0f} MB",
    ),
    (
        "floor raster (OpenCV fills, SciPy hole filling)",
        floor_rasters,
        lambda c: f"{sum(len(args[1]) for args, _ in c.floors):,} floor triangles",
    ),
    (
        "annotation JSON parsed (json)",
        json_parses,
        lambda c: f"{len(c.json_files)} files, {sum(map(len, c.json_files)) / 1e6:.1f} MB",
    ),
)


def child(root: Path, out: Path, stride: int, rounds: int) -> None:
    """Record a cold build of ``root``'s scans, then time the floor's calls on each further scan's inputs, every
    call ``rounds`` times, interleaved: one JSON line of CPU seconds per scan, per call and round."""
    calls, metadata = record(root, out, stride)
    outside = calls.pop("", ScanCalls())  # the shards' checksums (sha256), once per build: not a scan's
    assert {name for name, inputs in vars(outside).items() if inputs} <= {"digests"}, "a scan's call not counted"
    further = sorted(calls)[1:]
    times: dict[str, list[float]] = {label: [] for label, *_ in FLOOR}
    for _ in range(rounds):
        for label, run, _ in FLOOR:
            start = time.process_time()
            for scan_id in further:
                run(calls[scan_id])
            times[label].append((time.process_time() - start) / len(further))
    fed = {label: describe(calls[further[0]]) for label, _, describe in FLOOR}
    views = pq.read_metadata(metadata_path(metadata, further[0])).num_rows
    print(json.dumps({"scans": len(calls), "views": views, "times": times, "fed": fed}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/perf/scale"), help="bench_scale.py's --cache")
    parser.add_argument("--strides", type=int, nargs="+", default=[30, 10])
    parser.add_argument("--rounds", type=int, default=5, help="times each call is timed, interleaved")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stride", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.cache / "floor-build", args.stride, args.rounds)
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_scale import BATCH_SCANS, batch_root, root_for

    root = batch_root(root_for(args.cache, SCAN_VERTICES, SCAN_FRAMES, SCAN_OBJECTS), BATCH_SCANS)
    command = [sys.executable, __file__, "--child", str(root), "--cache", str(args.cache)]
    floors: dict[int, float] = {}  # views -> the floor
    for stride in args.strides:
        done = subprocess.run(
            [*command, "--stride", str(stride), "--rounds", str(args.rounds)],
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"stride {stride} failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"stride {stride} ({result['views']} views): the library calls alone, CPU ms per further scan of a "
            f"{result['scans']}-scan cold build, median (range) of {args.rounds} rounds [what the first further "
            "scan fed them]:"
        )
        medians = []
        for label, spent in result["times"].items():
            medians.append(statistics.median(spent))
            print(
                f"  {label:56s} {1000 * medians[-1]:6.1f} ({1000 * min(spent):.1f}-{1000 * max(spent):.1f})"
                f"  [{result['fed'][label]}]"
            )
        floors[result["views"]] = sum(medians)
        print(f"  the floor: {floors[result['views']]:.2f} s per scan")
    if len(floors) >= 2:  # the line through the first two strides, as bench_scale.py gives the per-scan part
        (v0, f0), (v1, f1) = list(floors.items())[:2]
        per_view = (f1 - f0) / (v1 - v0)
        besides = f0 - per_view * v0
        print(
            f"the floor's line through strides {args.strides[0]} and {args.strides[1]}: {1000 * per_view:.2f} ms per "
            f"view, {besides:.2f} s per scan besides, against {ISSUE_PER_SCAN_S / 2:.2f} s (the issue's per-scan "
            f"part, {ISSUE_PER_SCAN_S} s, halved): {besides / (ISSUE_PER_SCAN_S / 2):.2f}x the target"
        )


if __name__ == "__main__":
    main()
