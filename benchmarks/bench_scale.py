"""ScanNet-scale cost of every stage, per scan, and the extrapolation to ScanNet v2 (1,513 scans).

Synthesises ScanNet-sized scans once into ``--cache`` (``--frames`` 2,000 in a ``.sens``, ``--objects`` 50, a
``_vh_clean_2``-like mesh of ~150k vertices and, with ``--hires``, a ``_vh_clean``-like one of ~1.3M), then runs
each stage of one scan in a fresh process, so that its peak RSS is the stage's own, as a worker's would be:

* ``metadata``: per-view metadata at the recipe's frame stride (what ``ladder metadata`` does per scan);
* ``selection``: the image sets of every modality (single images, 8-view sets, the video) from those views;
* ``build``: ``build-dataset`` with the recipe, reading that metadata cache: draft (load + drafting), select,
  render, write (shards with embedded images);
* ``cold``: ``build-dataset`` from nothing (the draft stage computes the metadata of the scan it loaded): what
  a first build costs per scan, the basis of the extrapolation;
* ``resume``: the same build again, over the finished folder: what a rerun costs per cached scan.

Every stage runs at the recipe's frame stride and at half of it (``--strides``); metadata, selection and build also
at ``--growth-strides`` (default 2 and 1: 1,000 and 2,000 views of a 2,000-frame scan), to show how each grows with
the views: it prints each stage's cost ratio to the first stride's and the cost of each added view, which stays the
same when a stage is linear in views. Child processes get a worker's environment (``WORKER_THREADS_ENV``: one
BLAS/OpenMP thread) and do first what a worker has done once before its first scan (the fork server's imports,
numba's compiled code among them) or does on it (pyarrow imports pandas, about half a CPU second), so their CPU
seconds are those of one scan of many in a worker; that start-up is printed apart. Figures are CPU seconds (user +
system, every thread): the machine may be shared, and on a shared machine the same run varies by 10-20%, so every
stage at ``--strides`` runs ``--repeat`` times (default 3) and the median is reported, with the range. The
extrapolation multiplies the CPU seconds of a cold build of one scan by 1,513 (ScanNet v2's annotated scans: 1,201
train, 312 val), as if every scan were a build's first; disk and time per 100 scans are the per-scan figures times
100 (the scan's input files, its metadata cache entry, the shards and the build's own caches under
``.ladder-work``). With ``--base-src``, only cold builds run, of this tree and that one interleaved: of one scan
and of :data:`BATCH_SCANS` copies of it (hard links), whose difference is what each further scan of a build costs,
and ScanNet v2 is also estimated as one build: its first scan and 1,512 further ones::

    python benchmarks/bench_scale.py --cache /tmp/benchscale                        # ~150k-vertex mesh
    python benchmarks/bench_scale.py --cache /tmp/benchscale --hires                # plus the ~1.3M-vertex mesh
    python benchmarks/bench_scale.py --cache /tmp/benchscale --growth-strides       # stride 30 and 15 only
    python benchmarks/bench_scale.py --cache /tmp/benchscale --strides 30 --profile # where a cold build's CPU goes

With ``--profile``, one cold build per stride runs under cProfile with a CPU-time timer (the profiler adds its own
cost, most to code that makes many small calls) and the cumulative time of each part of a scan's work is printed
(:data:`PARTS`, the report left out), with ``--base-src`` for both trees. With ``--parts``, ``--repeat`` rounds
of cold builds per stride, of one scan and of :data:`BATCH_SCANS` copies of it, run with a CPU timer around each
part only (no profiler), and the median of each part is printed per stride, for the one scan and for each further
scan of a build (which parts a build pays once), with what the parts leave out and the garbage collector's time,
and with two strides its cost per added view: which parts grow with the views::

    python benchmarks/bench_scale.py --cache /tmp/benchscale --strides 30 10 --parts --repeat 3
"""

import argparse
import contextlib
import cProfile
import functools
import gc
import importlib
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ladderdata.executor.base import WORKER_THREADS_ENV
from ladderdata.executor.local import WORKER_PRELOAD
from ladderdata.layout import DatasetLayout, FramesLayout
from ladderdata.metadata.extract import metadata_path, process_scans, read_views
from ladderdata.pipeline import BuildConfig, build_dataset
from ladderdata.pipeline import run as run_module
from ladderdata.recipe import Recipe
from ladderdata.seeding import rng_for
from ladderdata.sources.base import source_config
from ladderdata.synth.root import SynthConfig
from ladderdata.synth.scannet import synthesize_root
from ladderdata.tasks import Modality
from ladderdata.tasks.modalities import image_sets

SCANNET_V2_SCANS = 1513
SCAN_ID = "scene0000_00"
#: Scans of the cold builds (``--base-src``) that measure each further scan of a build: copies of the scan, so that
#: what a further scan costs less than a build's first is the build's (its pipeline, caches and code warmed once),
#: not the scan's.
BATCH_SCANS = 3
STAGES = ("metadata", "selection", "build", "cold", "resume")
#: The parts of a cold build that ``--parts`` and ``--profile`` print: (label, module file, function or
#: ``Class.method``); indented labels are inside the one above, the others do not overlap (what they leave out is
#: printed as "the rest").
PARTS = (
    ("per-view metadata, every view", "metadata/extract.py", "measure_scan"),
    ("  ray cast and statistics of a view", "metadata/views.py", "ViewMeasurer.measure"),
    ("  per-scan metadata setup", "metadata/views.py", "ViewMeasurer.__init__"),
    ("    object samples", "metadata/views.py", "object_samples"),
    ("    BVH of the mesh", "geometry/raycast.py", "TriangleScene.build"),
    ("metadata file written", "metadata/extract.py", "write_views"),
    ("metadata file read back", "metadata/extract.py", "read_views"),
    ("loading the scan", "sources/scannet.py", "ScanNetSource.load"),
    ("input fingerprints", "pipeline/draft.py", "scan_keys"),
    ("scene context (objects, measurements)", "tasks/context.py", "SceneContext.from_scan"),
    ("  floor area", "geometry/measure.py", "floor_area"),
    ("drafting", "pipeline/draft.py", "draft_scene"),
    ("  image sets", "tasks/modalities.py", "image_sets"),
    ("  closest-surface distances", "geometry/measure.py", "surface_distance"),
    ("decoding the frames drafts show", "pipeline/draft.py", "verify_frames"),
    ("shard writing", "pipeline/write.py", "write_planned"),
    ("card, manifest and stats", "io/card.py", "write_card_manifest_stats"),
)
REST = "the rest"
#: The cyclic garbage collector's CPU seconds, wherever it ran (inside the parts above or the rest: not added up).
GARBAGE = "(garbage collection, inside the above)"
#: Whether the parts' timers count (not while the build writes its report, which is not a cost per scan).
PARTS_TIMED = [True]
#: The profiler of ``--profile``, paused likewise while the build writes its report.
PROFILER: list[cProfile.Profile | None] = [None]


def profiled_parts(profile: cProfile.Profile) -> dict[str, float]:
    """CPU seconds under the profiler of each of :data:`PARTS` (every function of that name in that file)."""
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    return {
        label: sum(
            v[3] for (path, _, name), v in stats.items() if path.endswith(module) and name == function.split(".")[-1]
        )
        for label, module, function in PARTS
    }


def time_parts() -> dict[str, float]:
    """Put a CPU timer around each of :data:`PARTS` (in its module or class, and wherever a module of ladderdata
    imported it by name); returns the seconds per label, filled in as the build runs. A part that calls itself
    is timed once (the outermost call). A timer costs about a microsecond a call, against the profiler's cost on
    every call of every function, so the parts' costs per view are not distorted."""
    spent = dict.fromkeys((*(label for label, *_ in PARTS), GARBAGE), 0.0)
    started = [0.0]

    def collecting(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.process_time()
        elif PARTS_TIMED[0]:
            spent[GARBAGE] += time.process_time() - started[0]

    gc.callbacks.append(collecting)
    for label, module_file, qualified in PARTS:
        module = importlib.import_module("ladderdata." + module_file.removesuffix(".py").replace("/", "."))
        *cls, name = qualified.split(".")
        owner = getattr(module, cls[0], None) if cls else module
        raw = vars(owner).get(name) if owner is not None else None
        function = raw.__func__ if isinstance(raw, (classmethod, staticmethod)) else raw
        if not callable(function):  # a tree without it (--base-src of an older tree): 0
            print(f"no {qualified} in {module_file}", file=sys.stderr)
            continue
        timed = _timed(function, label, spent)
        setattr(owner, name, type(raw)(timed) if isinstance(raw, (classmethod, staticmethod)) else timed)
        if not cls:  # a function: also where a module of ladderdata imported it by name
            for other in list(sys.modules.values()):
                if getattr(other, "__name__", "").startswith("ladderdata") and vars(other).get(name) is function:
                    setattr(other, name, timed)
    return spent


def _timed(function: Any, label: str, spent: dict[str, float]) -> Any:
    depth = [0]

    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        if depth[0] or not PARTS_TIMED[0]:
            return function(*args, **kwargs)
        depth[0] += 1
        start = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - start
            depth[0] -= 1

    return timed


GROWTH_STAGES = ("metadata", "selection", "build")


def peak_rss_gib() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far, every thread counted (open3d's ray casting is
    multi-threaded): what a scan costs a machine, whatever else is running on it."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def warm_up() -> float:
    """Do once what a worker has done before its first scan (the fork server's imports, ``WORKER_PRELOAD``: numba's
    compiled passes loaded, where installed) or does on its first scan only (pyarrow imports pandas on first use);
    CPU seconds."""
    before = cpu_seconds()
    for name in WORKER_PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    pa.Table.from_pylist([{"warm": 1}])
    return cpu_seconds() - before


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def root_for(cache: Path, vertices: int, frames: int, objects: int) -> Path:
    root = cache / f"scannet-{vertices}v-{frames}f-{objects}o"
    if not (root / "scans" / SCAN_ID).is_dir():
        config = SynthConfig(
            scenes=1, frames=frames, objects=objects, mesh_vertices=vertices, layouts=[FramesLayout.SENS]
        )
        start = time.perf_counter()
        synthesize_root(root, config)
        print(f"synthesised {root.name} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return root


def run_stage(stage: str, root: Path, work: Path, recipe: Recipe) -> dict[str, Any]:
    """One stage of one scan in this process; seconds and figures."""
    source = source_config("scannet", root=root)
    metadata = work / "metadata"
    if stage == "metadata":
        shutil.rmtree(metadata, ignore_errors=True)
        start = time.perf_counter()
        (result,) = process_scans(source, [SCAN_ID], recipe.metadata, metadata)
        seconds = time.perf_counter() - start
        assert result.status == "computed", result.error
        return {"seconds": seconds, "views": result.views, "bytes": folder_bytes(metadata)}
    if stage == "selection":
        views = read_views(metadata_path(metadata, SCAN_ID))
        known = {o.object_id for v in views for o in v.objects}
        start, cpu = time.perf_counter(), cpu_seconds()
        sets = {m: image_sets(views, m, recipe.modalities, rng_for(0, SCAN_ID, "views", m), known) for m in Modality}
        return {
            "seconds": time.perf_counter() - start,
            "cpu_s": cpu_seconds() - cpu,  # the selection alone, not reading the metadata file
            "views": len(views),
            "sets": {m: len(s) for m, s in sets.items()},
        }
    out = work / ("cold" if stage == "cold" else "dataset")
    if stage in ("build", "cold"):
        shutil.rmtree(out, ignore_errors=True)
    cache = None if stage == "cold" else metadata  # cold: the build's own cache inside its output folder
    config = BuildConfig(source=source, out=out, split="all", recipe=recipe, metadata_cache=cache)
    report_cpu = [0.0]
    write_report = getattr(run_module, "write_report")  # noqa: B009 (patched below: the name the build calls)

    def timed_report(*args: Any) -> Any:  # once per build, whatever its scans: not a cost per scan
        before = cpu_seconds()
        PARTS_TIMED[0] = False  # nor are the parts it calls (it reads the views back)
        if PROFILER[0] is not None:
            PROFILER[0].disable()
        try:
            written = write_report(*args)
        finally:
            PARTS_TIMED[0] = True
            if PROFILER[0] is not None:
                PROFILER[0].enable()
        report_cpu[0] += cpu_seconds() - before
        return written

    setattr(run_module, "write_report", timed_report)  # noqa: B010
    start = time.perf_counter()
    summary = build_dataset(config)
    seconds = time.perf_counter() - start
    assert not summary.failed, summary.failed
    return {
        "report_cpu_s": report_cpu[0],
        "seconds": seconds,
        "rows": sum(summary.rows.values()),
        "stages": {name: stats.seconds for name, stats in summary.stages.items()},
        "draft": dict(summary.stages["draft"].counters),
        "shard_bytes": folder_bytes(out / "data"),
        "work_bytes": folder_bytes(DatasetLayout(out).work),
        "views": pq.read_metadata(metadata_path(config.metadata_dir, SCAN_ID)).num_rows,
    }


def in_fresh_process(
    stage: str, root: Path, work: Path, stride: int, src: Path | None = None, parts: str | None = None
) -> dict[str, Any]:
    """One stage in a child process, with the source tree ``src`` (default: the parent's); ``parts``
    (``--profile`` or ``--parts``): with the CPU seconds of each of :data:`PARTS`, under cProfile or timed."""
    command = [sys.executable, __file__, "--stage", stage, "--root", str(root), "--work", str(work)]
    done = subprocess.run(
        [*command, "--stride", str(stride), *([parts] if parts else [])],
        capture_output=True,
        text=True,
        check=False,
        env={**WORKER_THREADS_ENV, **os.environ} | ({"PYTHONPATH": str(src)} if src else {}),
    )
    if done.returncode != 0:
        raise SystemExit(f"stage {stage} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(root: Path, work: Path, stride: int, stages: tuple[str, ...], repeat: int) -> dict[str, dict[str, Any]]:
    """Each stage ``repeat`` times, in order; per stage the run of median CPU time, with the range of all runs."""
    results = {}
    for stage in stages:
        runs = [in_fresh_process(stage, root, work / f"stride{stride}", stride) for _ in range(repeat)]
        runs.sort(key=lambda r: r["cpu_s"])
        results[stage] = {**runs[len(runs) // 2], "cpu_s_range": [runs[0]["cpu_s"], runs[-1]["cpu_s"]], "runs": repeat}
    return results


def batch_root(root: Path, scans: int) -> Path:
    """A root beside ``root`` (made once) whose ``scans`` scans are copies of its scan: hard links (symbolic links
    across file systems) renamed ``scene0000_00``, ``scene0001_00``, ..., so that each costs what the scan costs."""
    batch = root.with_name(f"{root.name}-x{scans}")
    ids = [f"scene{k:04d}_00" for k in range(scans)]
    if (batch / "scans").is_dir():
        return batch
    partial = batch.with_name(batch.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "scans").mkdir(parents=True)
    for table in root.glob("*.tsv"):
        shutil.copy(table, partial / table.name)
    for split in ("train", "val", "test"):
        (partial / f"scannetv2_{split}.txt").write_text("\n".join(ids) + "\n" if split == "train" else "")
    for scan_id in ids:
        (partial / "scans" / scan_id).mkdir()
        for file in (root / "scans" / SCAN_ID).iterdir():
            copy = partial / "scans" / scan_id / file.name.replace(SCAN_ID, scan_id)
            try:
                os.link(file, copy)
            except OSError:
                copy.symlink_to(file.resolve())
    partial.rename(batch)
    return batch


def compare_cold(root: Path, work: Path, strides: list[int], trees: dict[str, Path], repeat: int) -> None:
    """Cold builds per source tree, interleaved (``repeat`` rounds of each tree in turn, per stride), of one scan
    and of :data:`BATCH_SCANS` copies of it: the median and range of the CPU seconds of the first scan of a build
    and of each further scan (the batch's cost less the one scan's, over the further scans, round by round), and
    the ScanNet v2 estimates from them; with two strides or more, the cost per view and the per-scan part (a line
    through the first and last stride's medians of the first scan)."""
    batch = batch_root(root, BATCH_SCANS)
    print(
        f"cold builds of one scan and of {BATCH_SCANS} copies of it, CPU s (the report, once per build, apart), "
        "median (range):"
    )
    medians: dict[str, list[tuple[int, float]]] = {tree: [] for tree in trees}
    for stride in strides:
        runs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {tree: [] for tree in trees}
        for _ in range(repeat):
            for tree, src in trees.items():
                folder = work / f"{tree}-stride{stride}"
                one = in_fresh_process("cold", root, folder, stride, src)
                runs[tree].append((one, in_fresh_process("cold", batch, folder, stride, src)))
        for tree, results in runs.items():
            first = sorted(one["cpu_s"] for one, _ in results)
            further = sorted((many["cpu_s"] - one["cpu_s"]) / (BATCH_SCANS - 1) for one, many in results)
            median, next_median = statistics.median(first), statistics.median(further)
            medians[tree].append((results[0][0]["views"], median))
            report_cpu = statistics.median(one["report_cpu_s"] for one, _ in results)
            print(
                f"  stride {stride:>3} ({results[0][0]['views']:>4} views) {tree:5s}: first scan {median:.2f} "
                f"({first[0]:.2f}-{first[-1]:.2f}), each further scan {next_median:.2f} ({further[0]:.2f}-"
                f"{further[-1]:.2f}) | ScanNet v2: {scannet_v2_core_hours(median, next_median):.2f} core-hours as "
                f"one build, {median * SCANNET_V2_SCANS / 3600:.2f} as every scan a first | report "
                f"{report_cpu:.2f} once per build"
            )
    for tree, points in medians.items():
        if len(points) > 1:
            (v0, c0), (v1, c1) = points[0], points[-1]
            per_view = (c1 - c0) / (v1 - v0)
            print(f"  {tree:5s}: {1000 * per_view:.1f} ms per view, {c0 - per_view * v0:.2f} s per scan besides")


def scannet_v2_core_hours(first: float, further: float) -> float:
    """Core-hours of one build of ScanNet v2 whose first scan costs ``first`` CPU seconds and each further scan
    ``further`` (one worker; each more worker adds its first scan's difference, about 0.1 s)."""
    return (first + (SCANNET_V2_SCANS - 1) * further) / 3600


def profile_cold(root: Path, work: Path, strides: list[int], trees: dict[str, Path]) -> None:
    """One profiled cold build per stride and tree: the CPU seconds of each part (:data:`PARTS`)."""
    for stride in strides:
        runs = {
            tree: in_fresh_process("cold", root, work / f"{tree}-stride{stride}", stride, src, "--profile")
            for tree, src in trees.items()
        }
        print(
            f"cold build at stride {stride} under cProfile (CPU s): "
            + ", ".join(f"{t} {r['cpu_s']:.2f}" for t, r in runs.items())
        )
        for label, *_ in PARTS:
            print(f"  {label:40s} " + "  ".join(f"{t} {r['parts'][label]:5.2f}" for t, r in runs.items()))


def first_and_further(
    rounds: list[tuple[dict[str, Any], dict[str, Any]]], part: str | None = None
) -> tuple[float, float]:
    """Over rounds of (one-scan build, :data:`BATCH_SCANS`-scan build): the median CPU seconds (of ``part``, else
    of the whole build) for the one scan, and for each further scan (the batch's less the one scan's, over the
    further scans, round by round)."""

    def cpu(result: dict[str, Any]) -> float:
        return float(result["cpu_s"] if part is None else result["parts"][part])

    return (
        statistics.median(cpu(one) for one, _ in rounds),
        statistics.median((cpu(many) - cpu(one)) / (BATCH_SCANS - 1) for one, many in rounds),
    )


def table_line(values: list[float], columns: list[str]) -> str:
    """``values`` right-aligned under ``columns``, 3 decimals."""
    return "".join(f"{v:>{len(c)}.3f}" for v, c in zip(values, columns, strict=True))


def parts_cold(root: Path, work: Path, strides: list[int], trees: dict[str, Path], repeat: int) -> None:
    """``repeat`` rounds of timed cold builds per stride and tree (the trees and strides interleaved within each
    round), each of one scan and of :data:`BATCH_SCANS` copies of it: the median CPU seconds of each part
    (:data:`PARTS`) and of what they leave out, per stride, for the build of one scan and for each further scan of
    a build (the batch's part less the one scan's, over the further scans, round by round), and with two strides or
    more the cost of each part per added view (first to last stride, one-scan builds), so a part that grows with
    the views shows, and one that is paid once per build shows as the difference of the two columns."""
    batch = batch_root(root, BATCH_SCANS)
    runs: dict[tuple[str, int], list[tuple[dict[str, Any], dict[str, Any]]]] = {
        (t, s): [] for t in trees for s in strides
    }
    for _ in range(repeat):
        for stride in strides:
            for tree, src in trees.items():
                folder = work / f"{tree}-stride{stride}"
                one, many = (in_fresh_process("cold", r, folder, stride, src, "--parts") for r in (root, batch))
                for result in (one, many):
                    top = sum(v for label, v in result["parts"].items() if not label.startswith((" ", GARBAGE)))
                    result["parts"][REST] = result["cpu_s"] - top
                runs[tree, stride].append((one, many))
    labels = [*(label for label, *_ in PARTS), REST, GARBAGE]
    for tree in trees:
        views = {s: runs[tree, s][0][0]["views"] for s in strides}
        columns = [
            column
            for s in strides
            for column in (f"  stride {s} ({views[s]} views), one scan", f"  stride {s}, each further")
        ]
        grows = len(strides) > 1 and views[strides[-1]] != views[strides[0]]
        print(
            f"{tree} tree: CPU s per part, median of {repeat} rounds of cold builds (timed, no profiler)\n"
            f"  {'part':45s}{''.join(columns)}" + ("  ms per added view" if grows else "")
        )
        for label in labels:
            median = {s: first_and_further(runs[tree, s], label) for s in strides}
            text = table_line([v for s in strides for v in median[s]], columns)
            if grows:
                first, last = strides[0], strides[-1]
                per_view = 1000 * (median[last][0] - median[first][0]) / (views[last] - views[first])
                text += f"{per_view:>+20.2f}"
            print(f"  {label:45s}{text}")
        total = [v for s in strides for v in first_and_further(runs[tree, s])]
        print(f"  {'cold build (the report left out)':45s}{table_line(total, columns)}")


def report(name: str, scan_bytes: int, results: dict[int, dict[str, dict[str, Any]]]) -> None:
    strides = list(results)
    base = results[strides[0]]
    print(f"\n{name}: CPU seconds per scan (wall seconds of the build's stages in brackets)")
    print(
        f"{'stride':>6} {'views':>5} | {'metadata':>8} {'ms/view':>7} | {'selection':>9} | "
        f"{'build (draft, write)':>22} {'rows':>4} | {'cold':>5} {'resume ms':>9} | "
        f"peak RSS GiB: metadata / build / cold"
    )
    for stride, r in results.items():
        m, sel, b = r["metadata"], r["selection"], r["build"]
        cold = (
            f"{r['cold']['cpu_s']:>5.1f} {1000 * r['resume']['seconds']:>9.0f}" if "cold" in r else f"{'-':>5} {'-':>9}"
        )
        rss = " / ".join(f"{r[s]['rss_gib']:.2f}" for s in ("metadata", "build", "cold") if s in r)
        print(
            f"{stride:>6} {m['views']:>5} | {m['cpu_s']:>8.1f} {1000 * m['cpu_s'] / m['views']:>7.1f} | "
            f"{sel['cpu_s']:>9.3f} | {b['cpu_s']:>5.1f} ({b['stages']['draft']:>5.1f}, {b['stages']['write']:>4.1f} s) "
            f"{b['rows']:>5} | {cold} | {rss}"
        )
    # linear in views: cost = per scan + per view x views, so the cost of each added view stays the same
    for stride in strides[1:]:
        more = results[stride]
        added = more["metadata"]["views"] - base["metadata"]["views"]
        growth = ", ".join(
            f"{stage} {more[stage]['cpu_s'] / base[stage]['cpu_s']:.2f}x "
            f"({1000 * (more[stage]['cpu_s'] - base[stage]['cpu_s']) / added:+.2f} ms per added view)"
            for stage in ("metadata", "selection", "build")
        )
        ratio = more["metadata"]["views"] / base["metadata"]["views"]
        print(f"  stride {stride}: {ratio:.1f}x the views of stride {strides[0]} cost {growth}")
    for r in results.values():
        assert r["build"]["draft"].get("metadata cached") == 1, "the build recomputed the metadata"
    per_scan = base["cold"]["cpu_s"]
    low, high = base["cold"]["cpu_s_range"]
    core_hours = per_scan * SCANNET_V2_SCANS / 3600
    start_up = max(r[s]["start_up_cpu_s"] for r in results.values() for s in r)
    print(
        f"  per scan at stride {strides[0]}: {per_scan:.2f} core-s (CPU seconds of a cold build, all threads, the "
        f"median of {base['cold']['runs']} runs: {low:.2f} to {high:.2f}; "
        f"{base['cold']['seconds']:.1f} s wall; a worker's start-up once: {start_up:.1f} core-s); ScanNet v2 "
        f"({SCANNET_V2_SCANS:,} scans): {core_hours:.2f} core-hours, {60 * core_hours / 16:.1f} min on 16 cores; "
        f"resume {1000 * base['resume']['seconds']:.0f} ms per cached scan (whole build, one scan)"
    )
    gb = 100 / 1e9  # per 100 scans, in GB
    print(
        f"  per 100 scans at stride {strides[0]}: {scan_bytes * gb:.2f} GB of scans read; written: metadata cache "
        f"{base['metadata']['bytes'] * gb:.3f} GB, shards {base['cold']['shard_bytes'] * gb:.3f} GB, build caches "
        f"{base['cold']['work_bytes'] * gb:.3f} GB (metadata included); a cold build {100 * per_scan / 3600:.2f} "
        f"core-hours ({100 * per_scan / 60 / 16:.1f} min on 16 cores)"
    )


def child(args: argparse.Namespace, recipe: Recipe) -> None:
    """One stage in this process (a child of the benchmark): prints one JSON line."""
    start_up = warm_up()
    profile = PROFILER[0] = cProfile.Profile(time.process_time) if args.profile else None
    parts = time_parts() if args.parts else None
    before = cpu_seconds()
    if profile is not None:
        profile.enable()
    result = run_stage(args.stage, args.root, args.work, recipe.with_frame_stride(args.stride))
    if profile is not None:
        profile.disable()
        result["parts"] = profiled_parts(profile)
    if parts is not None:
        result["parts"] = parts
    print(
        json.dumps(
            {
                # the report (once per build) apart: a cost per scan
                "cpu_s": cpu_seconds() - before - result.get("report_cpu_s", 0.0),
                **result,
                "start_up_cpu_s": start_up,
                "rss_gib": peak_rss_gib(),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/benchscale"), help="keeps the synthetic scans")
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--objects", type=int, default=50)
    parser.add_argument("--hires", action="store_true", help="also the ~1.3M-vertex (_vh_clean-like) mesh")
    parser.add_argument("--recipe", default="spatialladder-26k")
    parser.add_argument("--strides", type=int, nargs="+", help="every stage (default: the recipe's and half of it)")
    parser.add_argument(
        "--growth-strides", type=int, nargs="*", default=[2, 1], help="metadata, selection and build only"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each stage at --strides (the median is reported; growth: 1)"
    )
    parser.add_argument(
        "--base-src", type=Path, help="only cold builds at --strides, this tree and this one interleaved (before/after)"
    )
    parser.add_argument("--profile", action="store_true", help="one cold build per stride under cProfile: its parts")
    parser.add_argument(
        "--parts",
        action="store_true",
        help="--repeat cold builds per stride with a CPU timer around each part: median per part, ms per added view",
    )
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stride", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    recipe = Recipe.load(args.recipe)
    if args.stage:  # a child process: one stage, one JSON line
        child(args, recipe)
        return
    stride = recipe.metadata.frame_stride
    every = list(dict.fromkeys(args.strides or [stride, max(1, stride // 2)]))
    growth = [s for s in dict.fromkeys(args.growth_strides) if s not in every]
    print(
        f"recipe {recipe.name}, frame strides {every} (every stage) and {growth} (metadata, selection, build), "
        f"{args.frames} frames, >= {args.objects} objects, 1 scan per run, each stage in its own process"
    )
    meshes = {"_vh_clean_2-like (~150k vertices)": 150_000}
    if args.hires:
        meshes["_vh_clean-like (~1.3M vertices)"] = 1_300_000
    for name, vertices in meshes.items():
        root = root_for(args.cache, vertices, args.frames, args.objects)
        work = args.cache / f"work-{vertices}"
        if args.profile or args.parts:
            trees = {"this": Path(__file__).resolve().parents[1] / "src"} | (
                {"base": args.base_src} if args.base_src else {}
            )
            print(name)
            if args.parts:
                parts_cold(root, work, every, trees, args.repeat)
            else:
                profile_cold(root, work, every, trees)
            continue
        if args.base_src:
            print(name)
            compare_cold(
                root,
                work,
                every,
                {"this": Path(__file__).resolve().parents[1] / "src", "base": args.base_src},
                args.repeat,
            )
            continue
        results = {s: measure(root, work, s, STAGES, args.repeat) for s in every}
        results |= {s: measure(root, work, s, GROWTH_STAGES, 1) for s in growth}
        report(name, folder_bytes(root / "scans" / SCAN_ID), results)


if __name__ == "__main__":
    main()
