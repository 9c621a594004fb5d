"""What a run will do and about what it will cost, before it starts (``--dry-run``, and the first lines of every
real run): scans found, views at the frame stride, the image sets and videos each scan gives, the targets per
task and modality, and CPU time and disk from measured costs.

The costs are constants measured by the benchmark scripts named beside them (CPU seconds of one core, ScanNet-
sized synthetic scans: 1296x968 colour, ~150k-vertex mesh, 46-56 objects). They are estimates: the per-scan part
depends on the mesh and the objects, the per-view part on the render width (docs/performance.md). Frame counts
are read from each scan's frame index and poses only (no mesh, no image is decoded), so an estimate costs about
what ``ladder scans`` costs.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ladderdata.executor import LocalExecutor
from ladderdata.geometry.camera import valid_pose_mask
from ladderdata.pipeline.config import BuildConfig
from ladderdata.pipeline.plan import PlanStage
from ladderdata.pipeline.stage import BuildContext
from ladderdata.recipe import Recipe
from ladderdata.sources.base import ScanSource, ScanSourceConfig, open_source
from ladderdata.synth.root import SynthConfig
from ladderdata.tasks import Modality

log = logging.getLogger(__name__)

#: Per-view metadata, CPU s per scan (BVH, object surface samples) and per view (ray cast, per-object
#: statistics, depth agreement), default render width: ``python benchmarks/bench_scale.py --cache /tmp/benchscale``
#: (docs/performance.md#scale: "a per-scan part of about 1.4 s plus 27 ms per view"; 48 ms/view at 67 views).
METADATA_SECONDS_PER_SCAN = 1.4
METADATA_SECONDS_PER_VIEW = 0.028
#: Drafting and writing one scan's rows from cached metadata, CPU s per scan: the "build s (draft, write)" column
#: of the same benchmark (1.5 s at 67 views, 2.6 s at 1,998).
BUILD_SECONDS_PER_SCAN = 1.5
BUILD_SECONDS_PER_VIEW = 0.0006
#: ``ladder synth``, CPU s per scan and per frame of a ScanNet-sized scan (46 objects, 150k vertices, .sens):
#: ``/usr/bin/time python benchmarks/bench_synth.py --scenes 1 --frames 40|160 --objects 46 --mesh-vertices 150000``
#: (3.24 and 5.67 CPU s with the rasterised frames, 2026-12-07; the demo's coarse mesh is cheaper, so this is an
#: upper bound there).
SYNTH_SECONDS_PER_SCAN = 2.4
SYNTH_SECONDS_PER_FRAME = 0.02
#: ``ladder synth`` disk per frame (.sens: JPEG colour + zlib depth, 1296x968 / 640x480) and per scan (mesh,
#: annotations): ``ladder synth --out S --scenes 1 --frames 40 --objects 46 --mesh-vertices 150000; du -sb S``
#: (22.8 MB, of which the .sens 15.9 MB).
SYNTH_BYTES_PER_FRAME = 400_000
SYNTH_BYTES_PER_SCAN = 7_000_000
#: Per-view metadata file (parquet) at 46 objects: ``ladder metadata --scans S --out M --frame-stride 2`` on that
#: scan (49 kB for 18 views).
METADATA_BYTES_PER_VIEW = 3_000
#: Bytes per stored image when a scan's first frame cannot be read to measure it (a 1296x968 JPEG at quality 90).
DEFAULT_IMAGE_BYTES = 250_000


@dataclass
class ScanPlan:
    """One scan as a run will see it: frames, views at the stride, the image sets it gives per modality."""

    scan_id: str
    frames: int
    views: int
    image_bytes: int
    """Bytes of one stored image (the scan's first colour frame as stored), for the disk estimate."""
    sets: dict[Modality, int] = field(default_factory=dict)
    """Modality -> image sets (single images, multi-view sets, videos) drawn from the views."""
    video_frames: int = 0
    error: str | None = None


@dataclass
class Estimate:
    """The plan and cost of a build (``recipe`` set) or of per-view metadata only."""

    scans: list[ScanPlan]
    """The scans looked at: all of them, or an evenly spaced sample (``found`` says how many there are)."""
    found: int
    frame_stride: int
    recipe: Recipe | None = None
    targets: dict[str, dict[Modality, int | None]] = field(default_factory=dict)
    """Task -> modality -> questions the build aims for (None: every question drafted)."""
    cpu_seconds: float = 0.0
    metadata_seconds: float = 0.0
    """The part of ``cpu_seconds`` spent on per-view metadata (builds over the same scans share it)."""
    disk_bytes: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def scale(self) -> float:
        """Scans found per scan looked at: totals of a sample are scaled by it."""
        return self.found / max(1, len(self.scans))

    @property
    def readable(self) -> list[ScanPlan]:
        return [s for s in self.scans if s.error is None]

    def lines(self) -> list[str]:
        """The estimate as log lines."""
        ok = self.readable
        views = [s.views for s in ok]
        sampled = f", {len(self.scans)} of them looked at" if len(self.scans) < self.found else ""
        out = [
            f"{_count(self.found, 'scan')} found{sampled} ({len(self.scans) - len(ok)} unreadable); frames per scan "
            f"{_spread([s.frames for s in ok])}; views at frame stride {self.frame_stride}: {_spread(views)} "
            f"({round(sum(views) * self.scale):,} in all)"
        ]
        if self.recipe is not None:
            m = self.recipe.modalities
            used = {mod for per_modality in self.targets.values() for mod in per_modality}
            sets = {mod: round(self.scale * sum(s.sets.get(mod, 0) for s in ok)) for mod in used}
            described = {
                Modality.SINGLE_IMAGE: lambda n: _count(n, "single image"),
                Modality.MULTI_VIEW: lambda n: f"{_count(n, 'multi-view set')} of {m.multi_view_size} views",
                Modality.VIDEO: lambda n: (
                    f"{_count(n, 'video')} of "
                    f"{_spread([s.video_frames for s in ok if s.sets.get(Modality.VIDEO)])} frames "
                    f"(the recipe asks {m.video_frames})"
                ),
            }
            out.append("image sets: " + ", ".join(described[mod](sets[mod]) for mod in Modality if mod in used))
            for task, per_modality in self.targets.items():
                wanted = ", ".join(f"{mod.value} {'all' if n is None else f'{n:,}'}" for mod, n in per_modality.items())
                out.append(f"target {task}: {wanted}")
        out.append(f"estimated CPU time {_duration(self.cpu_seconds)}, disk {_size(self.disk_bytes)}")
        return out + self.warnings + [f"warning: {s.error}" for s in self.scans if s.error]


def _count(n: int, thing: str) -> str:
    """``"1 scan"``, ``"2 scans"``."""
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def _spread(values: list[int]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return f"{low:,}" if low == high else f"{low:,}-{high:,} (median {float(np.median(values)):g})"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"about {seconds:.0f} CPU s"
    if seconds < 7200:
        return f"about {seconds / 60:.0f} CPU min"
    return f"about {seconds / 3600:.1f} CPU h"


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"about {n / scale:.1f} {unit}"
    return f"{n} B"


def scan_plan(source: ScanSource, scan_id: str, frame_stride: int) -> ScanPlan:
    """Frames and views of one scan from its frame index and poses; an unreadable scan gets ``error`` set."""
    try:
        frames = source.open_frames(scan_id)
        if frames is None:
            return ScanPlan(scan_id, 0, 0, 0, error=f"[{scan_id}] no frames under {source.location(scan_id)}")
        ids = frames.frame_ids
        valid = valid_pose_mask(frames.raw_poses)
        views = int((valid & (ids % frame_stride == 0)).sum())
        try:
            image_bytes = len(frames.read_color_jpeg(int(ids[0])))
        except Exception:  # the build reports a bad frame, naming it; an estimate only needs a size
            image_bytes = DEFAULT_IMAGE_BYTES
        return ScanPlan(scan_id, len(ids), views, image_bytes)
    except Exception as e:  # one bad scan costs that scan only, as in the run itself
        return ScanPlan(scan_id, 0, 0, 0, error=f"[{scan_id}] {type(e).__name__}: {e}")


def sampled(scan_ids: list[str], sample: int | None) -> list[str]:
    """``scan_ids``, or ``sample`` of them evenly spaced (the same ones for the same list)."""
    if sample is None or len(scan_ids) <= sample:
        return list(scan_ids)
    return [scan_ids[int(i)] for i in np.linspace(0, len(scan_ids) - 1, sample).round()]


def metadata_estimate(
    source: ScanSource, scan_ids: list[str], frame_stride: int, sample: int | None = None
) -> Estimate:
    """Views per scan and the CPU time and disk of their per-view metadata; with ``sample``, from that many scans
    evenly spaced, scaled to all (a real run's opening estimate on a large root)."""
    scans = [scan_plan(source, s, frame_stride) for s in sampled(scan_ids, sample)]
    estimate = Estimate(scans, len(scan_ids), frame_stride)
    ok = estimate.readable
    estimate.metadata_seconds = estimate.scale * sum(
        METADATA_SECONDS_PER_SCAN + METADATA_SECONDS_PER_VIEW * s.views for s in ok
    )
    estimate.cpu_seconds = estimate.metadata_seconds
    estimate.disk_bytes = round(estimate.scale * sum(METADATA_BYTES_PER_VIEW * s.views for s in ok))
    return estimate


def images_per_row(recipe: Recipe, modality: Modality, video_frames: int) -> int:
    if modality is Modality.SINGLE_IMAGE:
        return 1
    return recipe.modalities.multi_view_size if modality is Modality.MULTI_VIEW else video_frames


def build_estimate(source: ScanSource, scan_ids: list[str], recipe: Recipe, sample: int | None = None) -> Estimate:
    """What a build of ``recipe`` over ``scan_ids`` will draw and aim for, its CPU time (metadata, drafting,
    writing) and the disk of its shards and metadata cache, with warnings when scans are too short for the
    recipe's multi-view sets or videos."""
    stride, m = recipe.metadata.frame_stride, recipe.modalities
    estimate = metadata_estimate(source, scan_ids, stride, sample)
    estimate.recipe = recipe
    ok = estimate.readable
    for s in ok:
        s.sets[Modality.SINGLE_IMAGE] = min(m.single_images, s.views)
        s.sets[Modality.MULTI_VIEW] = m.multi_view_sets if s.views >= m.multi_view_size else 0
        s.sets[Modality.VIDEO] = 1 if s.views >= 2 else 0
        s.video_frames = min(m.video_frames, s.views)
    generators = [*recipe.generators(), *recipe.derivers()]
    image_bytes = float(np.median([s.image_bytes for s in ok])) if ok else DEFAULT_IMAGE_BYTES
    video_frames = int(np.median([s.video_frames for s in ok])) if ok else 0
    for g in generators:
        per_modality: dict[Modality, int | None] = {}
        for mod in g.modalities:
            target = recipe.target(g.name, mod, round(estimate.scale * len(ok)))
            per_modality[mod] = target
            # per scan, at most max_per_context questions per image set and max_per_scene in all
            cap = g.config
            per_scan = [min(cap.max_per_scene, cap.max_per_context * s.sets.get(mod, 0)) for s in ok]
            reachable = round(estimate.scale * sum(per_scan))
            n = reachable if target is None else min(target, reachable)
            estimate.disk_bytes += int(n * images_per_row(recipe, mod, video_frames) * image_bytes)
        estimate.targets[g.name] = per_modality
    estimate.cpu_seconds += estimate.scale * sum(BUILD_SECONDS_PER_SCAN + BUILD_SECONDS_PER_VIEW * s.views for s in ok)
    estimate.warnings += short_scan_warnings(ok, recipe)
    return estimate


def short_scan_warnings(scans: list[ScanPlan], recipe: Recipe) -> list[str]:
    """A line per setting the scans are too short for: videos with fewer frames than ``video_frames``, scans
    with fewer views than ``multi_view_size`` (no multi-view set), each with the stride that would fix it."""
    m, stride = recipe.modalities, recipe.metadata.frame_stride
    out = []
    short_video = [s for s in scans if s.views < m.video_frames]
    if short_video:
        fewest = min(short_video, key=lambda s: s.views)
        out.append(
            f"warning: {len(short_video)} of {len(scans)} scans have fewer views than the recipe's "
            f"{m.video_frames}-frame videos at frame stride {stride} (fewest: {fewest.scan_id}, {fewest.views}); "
            f"their videos get fewer frames. {_stride_hint(fewest, m.video_frames, stride)}"
        )
    no_sets = [s for s in scans if s.views < m.multi_view_size]
    if no_sets:
        out.append(
            f"warning: {len(no_sets)} of {len(scans)} scans have fewer views than a {m.multi_view_size}-view set "
            f"at frame stride {stride}: they give no multi-view question"
        )
    return out


def _stride_hint(scan: ScanPlan, wanted: int, stride: int) -> str:
    if scan.views == 0 or scan.frames < wanted:
        return "Scans this short cannot fill them at any stride."
    fitting = max(1, stride * scan.views // wanted)
    return f"--frame-stride {fitting} gives about {wanted} (each view costs metadata time: docs/scannet.md)."


def synth_lines(config: SynthConfig) -> list[str]:
    """What ``ladder synth`` will write and about what it costs, as log lines."""
    seconds = config.scenes * (SYNTH_SECONDS_PER_SCAN + SYNTH_SECONDS_PER_FRAME * config.frames)
    disk = config.scenes * (SYNTH_BYTES_PER_SCAN + config.frames * SYNTH_BYTES_PER_FRAME * max(1, len(config.layouts)))
    layouts = ", ".join(config.layouts) if config.format == "scannet" else config.format
    return [
        f"{config.scenes} synthetic scans of {config.frames:,} frames ({layouts}), seed {config.seed}",
        f"estimated CPU time {_duration(seconds)}, disk {_size(disk)}",
    ]


def planned_scans(config: BuildConfig) -> list[str]:
    """The scans ``config``'s build will use (the plan stage: split, benchmark rooms excluded, limit)."""
    return PlanStage()(BuildContext(config, LocalExecutor()), config).scan_ids


def bench_lines(
    source: ScanSourceConfig,
    scan_ids: list[str],
    benchmarks: list[str],
    frame_stride: int | None,
    sample: int | None,
    task_modules: list[Path],
) -> list[str]:
    """The plan of ``ladder build-bench``: each benchmark's, then the total (per-view metadata is shared by the
    benchmarks of one frame stride, so it counts once per stride)."""
    opened = open_source(source)
    lines: list[str] = []
    seconds, disk, strides = 0.0, 0, set()
    for name in benchmarks:
        recipe = Recipe.load(name).with_frame_stride(frame_stride).with_task_modules(task_modules)
        estimate = build_estimate(opened, scan_ids, recipe, sample)
        shared = recipe.metadata.frame_stride in strides
        strides.add(recipe.metadata.frame_stride)
        seconds += estimate.cpu_seconds - (estimate.metadata_seconds if shared else 0.0)
        disk += estimate.disk_bytes
        lines += [f"{recipe.name}: {line}" for line in estimate.lines()]
    return [*lines, f"all benchmarks: estimated CPU time {_duration(seconds)}, disk {_size(disk)}"]
