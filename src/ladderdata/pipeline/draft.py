"""Draft: per scan (one executor item each), per-view metadata (cached) then every task x modality's drafts.

Each task x modality draws image sets and drafts with generators seeded by ``(seed, scan, task, modality)``,
so a scan's drafts never depend on other scans or on the workers. Drafts and filter counts are cached in
``.ladder-work/drafts/<scan>.json`` under a key made of the metadata key (the scan's input files, the
source's settings, the metadata config), the drafting recipe fields and the seed. Both keys are computed
from the input files without loading the scan, so a rerun over finished scans reads no mesh.
"""

import json
import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ladderdata.cache import content_key, write_text_atomic
from ladderdata.errors import LadderError, MissingFileError
from ladderdata.executor import Outcome
from ladderdata.layout import DatasetLayout
from ladderdata.metadata.extract import ensure_metadata, scan_metadata_key
from ladderdata.metadata.views import Timings
from ladderdata.pipeline.config import Drafted, DraftRecord, SceneDrafts
from ladderdata.pipeline.frames import frame_digest, keep_scan_frames
from ladderdata.pipeline.plan import Plan
from ladderdata.pipeline.stage import BuildContext, Stage, StageStats
from ladderdata.recipe import Recipe
from ladderdata.seeding import rng_for
from ladderdata.sources.base import FrameSource, ScanSource, ScanSourceConfig, open_source
from ladderdata.sources.files import scan_file_errors
from ladderdata.tasks import Modality, Rejections, SceneContext
from ladderdata.tasks.modalities import image_sets, needs_time
from ladderdata.tasks.modules import task_modules_digest

log = logging.getLogger(__name__)

#: Bump when drafting changes meaning: cached drafts are then recomputed.
DRAFTS_VERSION = "3"
#: The recipe fields drafting depends on (targets, wording and image settings only matter later).
DRAFTING_FIELDS = {
    "metadata",
    "modalities",
    "filters",
    "tasks",
    "localization",
    "localization_config",
    "category_names",
}


def draft_scene(ctx: SceneContext, recipe: Recipe, seed: int) -> tuple[list[DraftRecord], dict[str, dict[str, int]]]:
    """Every task's drafts for one scene, each task x modality with its own seeded generator."""
    known = set(ctx.objects)
    records: list[DraftRecord] = []
    rejections: dict[str, dict[str, int]] = {}
    generators = recipe.generators()
    timeless: set[str] = set()
    for modality in Modality:
        users = [g for g in generators if modality in g.modalities]
        if not ctx.time_known:
            timeless |= {f"{g.name}/{modality.value}" for g in users if needs_time(g, modality)}
            users = [g for g in users if not needs_time(g, modality)]
        if not users:
            continue
        sets = image_sets(ctx.views, modality, recipe.modalities, rng_for(seed, ctx.scan_id, "views", modality), known)
        for gen in users:
            rej = Rejections()
            for shown, draft in gen.generate(ctx, sets, rng_for(seed, ctx.scan_id, gen.name, modality), rej):
                first = shown.views[0]
                records.append(
                    DraftRecord(
                        task=gen.name,
                        modality=modality,
                        scene_id=ctx.scan_id,
                        frame_ids=shown.frame_ids,
                        timestamps=shown.timestamps,
                        image_width=first.image_width,
                        image_height=first.image_height,
                        draft=draft,
                    )
                )
            rejections[f"{gen.name}/{modality.value}"] = dict(sorted(rej.counts.items()))
    if timeless:
        log.warning(
            "%s: frame times unknown (posed_images subsample), so no %s questions",
            ctx.scan_id,
            ", ".join(sorted(timeless)),
        )
    return records, rejections


def drafts_key(metadata_key: str, recipe: Recipe, seed: int) -> str:
    parts = {
        "kind": "drafts",
        "version": DRAFTS_VERSION,
        "metadata": metadata_key,
        "seed": str(seed),
        "recipe": recipe.model_dump_json(include=DRAFTING_FIELDS),
    }
    versions = {g.name: g.drafts_version for g in recipe.generators() if g.drafts_version}
    if versions:  # only then: recipes whose tasks never changed their drafts keep their keys
        parts["task_versions"] = json.dumps(versions, sort_keys=True)
    if recipe.plugins:  # a user's task file, edited, redrafts
        parts["task_modules"] = task_modules_digest(recipe.plugins)
    return content_key(parts)


@dataclass(frozen=True)
class DraftJob:
    """What drafting one scan needs besides the scan id (sent to every worker once per item)."""

    source: ScanSourceConfig
    recipe: Recipe
    seed: int
    out: Path
    metadata_cache: Path


@dataclass(frozen=True)
class ScanDrafts:
    status: str
    """"drafted" or "cached"."""
    drafts: SceneDrafts
    metadata: str | None = None
    """Drafted scans: "computed" or "cached" (the metadata of a scan whose drafts are cached is not looked at)."""
    depth_warning: str | None = None
    """Drafted scans: the depth gate's warning about the scan's views (``metadata.depth_check``), if any."""


def cached_drafts(path: Path, key: str) -> SceneDrafts | None:
    if not path.is_file():
        return None
    try:
        cached = SceneDrafts.model_validate_json(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        log.warning("unreadable drafts cache %s, recomputing", path)
        return None
    return cached if cached.key == key else None


def scan_keys(source: ScanSource, job: DraftJob, scan_id: str) -> tuple[str, str]:
    """(metadata key, drafts key) of a scan, from its input files: the scan is not loaded."""
    meta_key = scan_metadata_key(source, scan_id, job.recipe.metadata, job.metadata_cache)
    return meta_key, drafts_key(meta_key, job.recipe, job.seed)


def drafts_cache_hit(source: ScanSource, job: DraftJob, scan_id: str) -> SceneDrafts | None:
    """The scan's cached drafts if they are current; None when they are not (or a file is missing: drafting
    the scan reports that)."""
    try:
        _, key = scan_keys(source, job, scan_id)
    except LadderError:
        return None
    return cached_drafts(DatasetLayout(job.out).drafts(scan_id), key)


def draft_scan(job: DraftJob, scan_id: str) -> ScanDrafts:
    """Metadata (reusing its cache) and drafts of one scan; bad input raises a ``ScanError``."""
    source = open_source(job.source)
    with scan_file_errors(scan_id, source.location(scan_id)):
        meta_key, key = scan_keys(source, job, scan_id)
        scan = source.load(scan_id)
        if scan.frames is None:
            raise MissingFileError(scan_id, source.location(scan_id), "no frames in any layout")
        metadata = ensure_metadata(scan, meta_key, job.recipe.metadata, job.metadata_cache, Timings())
        ctx = SceneContext.from_scan(scan, metadata.views, job.recipe.category_map())
        records, rejections = draft_scene(ctx, job.recipe, job.seed)
        digests = verify_frames(scan.frames, records)
    keep_scan_frames(job.source, scan_id, key, scan.frames)  # the shard writer reads them, in this process maybe
    path = DatasetLayout(job.out).drafts(scan_id)
    result = SceneDrafts(
        scan_id=scan_id,
        key=key,
        views=len(metadata.views),
        records=records,
        rejections=rejections,
        unknown_labels=scan.unknown_labels,
        object_sizes={i: (o.category, o.size_cm) for i, o in ctx.objects.items()},
        frame_digests=digests,
    )
    write_text_atomic(path, result.model_dump_json())
    return ScanDrafts("drafted", result, metadata.status, metadata.depth_warning)


def verify_frames(frames: FrameSource, records: list[DraftRecord]) -> dict[int, str]:
    """Decode every colour frame the drafts show, once each (``FrameSource.checked_color_jpeg``): a frame that is
    missing, not a complete JPEG of its camera's size or that does not decode fails this scan now, at drafting,
    rather than every scan at shard writing. The result is cached with the drafts, whose key covers the frame
    files' bytes. Returns the digest of each frame's bytes (:func:`frame_digest`), so that the shard writer
    decodes again only bytes that differ from the ones that decoded here."""
    return {
        f: frame_digest(frames.checked_color_jpeg(f, decode=True))
        for f in sorted({f for r in records for f in r.frame_ids})
    }


class DraftStage(Stage[Plan, Drafted]):
    name = "draft"

    def run(self, ctx: BuildContext, data: Plan, stats: StageStats) -> Drafted:
        config = ctx.config
        job = DraftJob(config.source, config.recipe, config.seed, config.out, config.metadata_dir)

        def done(outcome: Outcome[ScanDrafts]) -> None:
            stats.counters[outcome.value.status if outcome.value else "failed"] += 1
            if outcome.value and outcome.value.metadata:
                stats.counters[f"metadata {outcome.value.metadata}"] += 1
            if outcome.value and outcome.value.depth_warning:
                stats.counters["depth agreement warnings"] += 1
                log.warning("%s", outcome.value.depth_warning)
            ctx.advance(self.name)

        ctx.start(self.name, len(data.scan_ids))
        # finished scans are recognised here, from their input files, so a rerun starts no worker for them
        source = ctx.source
        outcomes: dict[str, Outcome[ScanDrafts]] = {}
        for scan_id in data.scan_ids:
            hit = drafts_cache_hit(source, job, scan_id)
            if hit is not None:
                outcomes[scan_id] = Outcome(scan_id, value=ScanDrafts("cached", hit))
                done(outcomes[scan_id])
        todo = [s for s in data.scan_ids if s not in outcomes]
        for outcome in ctx.executor.map(partial(draft_scan, job), todo, names=todo, on_done=done):
            outcomes[outcome.item] = outcome
        ordered = [outcomes[s] for s in data.scan_ids]
        scenes = sorted((o.value.drafts for o in ordered if o.value is not None), key=lambda s: s.scan_id)
        stats.counters["drafts"] = sum(len(s.records) for s in scenes)
        ctx.drafted = Drafted(scenes, {o.item: o.error or "unknown error" for o in ordered if o.value is None})
        return ctx.drafted
