"""``ladder build-dataset``: plan -> draft every scan (in parallel, cached) -> select -> render -> write.

* **Draft** (per scan, in worker processes): per-view metadata (cached), then every task x modality draws
  image sets and drafts with generators seeded by ``(seed, scan, task, modality)``. Drafts and filter
  counts go to ``.ladder-work/drafts/<scan>.json`` keyed by the metadata key, recipe and seed, so an
  interrupted build resumes and a scan's drafts never depend on other scans or on the worker count.
* **Select**: per task x modality, scenes take turns (in a seeded order) until the recipe's target is met.
* **Render**: template wording, option order with answer letters balanced per task x modality,
  localization twins, chat messages.
* **Write**: shards written atomically, each skipped when its file already holds the same rows.
"""

import hashlib
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from ladderdata.errors import ConfigError, ScanError
from ladderdata.io.shards import RowFormat, Sample, stored_size, write_shard
from ladderdata.layout import DatasetLayout, FramesLayout
from ladderdata.metadata.extract import ensure_metadata, metadata_path, read_views
from ladderdata.prompts import LETTERS, QuestionTemplates, choice_fields
from ladderdata.recipe import LocalizationMode, Recipe
from ladderdata.seeding import rng_for
from ladderdata.sources.base import FrameSource
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig
from ladderdata.tasks import LOCALIZATION_TASK, AnswerType, Draft, Modality, Rejections, SceneContext
from ladderdata.tasks.modalities import image_sets, needs_time
from ladderdata.tasks.object_localization import boxes_answer

log = logging.getLogger(__name__)

#: Bump when drafting changes meaning: cached drafts are then recomputed.
DRAFTS_VERSION = "2"
SUBSETS = ("spatial", "localization")


class DraftRecord(BaseModel):
    """A draft with the image set it was drawn from."""

    model_config = ConfigDict(frozen=True)

    task: str
    modality: Modality
    scene_id: str
    frame_ids: list[int]
    timestamps: list[float] | None
    """Seconds; None when the scan's frames layout does not say when frames were taken."""
    image_width: int
    image_height: int
    draft: Draft


class SceneDrafts(BaseModel):
    scan_id: str
    key: str
    views: int
    records: list[DraftRecord]
    rejections: dict[str, dict[str, int]]
    """``"task/modality"`` -> filter name -> candidates it rejected."""
    unknown_labels: dict[str, int] = {}
    """Raw labels of the scan that the label table lacks -> objects carrying them."""


@dataclass
class SceneOutcome:
    scan_id: str
    status: str
    """"drafted", "cached" or "failed"."""
    error: str | None = None
    drafts: SceneDrafts | None = None


def draft_scene(ctx: SceneContext, recipe: Recipe, seed: int) -> tuple[list[DraftRecord], dict[str, dict[str, int]]]:
    """Every task's drafts for one scene, each task x modality with its own seeded generator."""
    known = set(ctx.objects)
    records: list[DraftRecord] = []
    rejections: dict[str, dict[str, int]] = {}
    generators = recipe.generators()
    timeless = set()
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


#: The recipe fields drafting depends on (targets, wording and image settings only matter later).
DRAFTING_FIELDS = {"metadata", "modalities", "filters", "tasks", "localization", "localization_config"}


def drafts_key(metadata_key: str, recipe: Recipe, seed: int) -> str:
    text = f"v{DRAFTS_VERSION}|{metadata_key}|{seed}|{recipe.model_dump_json(include=DRAFTING_FIELDS)}"
    return hashlib.sha256(text.encode()).hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def process_scene(
    source_config: ScanNetSourceConfig, scan_id: str, recipe: Recipe, seed: int, out: Path
) -> SceneOutcome:
    """Metadata and drafts of one scan, reusing both caches. Bad input is reported, never raised."""
    layout = DatasetLayout(out)
    try:
        source = ScanNetSource(source_config)
        scan = source.load(scan_id)
        paths = source.paths(scan_id)
        if scan.frames is None:
            return SceneOutcome(scan_id, "failed", error=f"[{scan_id}] no frames in {paths.scan_dir}")
        _, meta_key = ensure_metadata(scan, paths, recipe.metadata, layout.metadata_cache)
        key = drafts_key(meta_key, recipe, seed)
        path = layout.drafts(scan_id)
        if path.is_file():
            try:
                cached = SceneDrafts.model_validate_json(path.read_text(encoding="utf-8"))
                if cached.key == key:
                    return SceneOutcome(scan_id, "cached", drafts=cached)
            except ValueError:
                log.warning("%s: unreadable drafts cache %s, recomputing", scan_id, path)
        views = read_views(metadata_path(layout.metadata_cache, scan_id))
        records, rejections = draft_scene(SceneContext.from_scan(scan, views), recipe, seed)
        result = SceneDrafts(
            scan_id=scan_id,
            key=key,
            views=len(views),
            records=records,
            rejections=rejections,
            unknown_labels=scan.unknown_labels,
        )
        _write_atomic(path, result.model_dump_json())
        return SceneOutcome(scan_id, "drafted", drafts=result)
    except ScanError as e:
        return SceneOutcome(scan_id, "failed", error=str(e))


# ----------------------------------------------------------------------------------------------- select


def select(records: list[DraftRecord], target: int | None, rng: np.random.Generator) -> list[DraftRecord]:
    """Up to ``target`` records, scenes taking turns in a seeded order (keeps scenes balanced)."""
    if target is None:
        return list(records)
    by_scene: dict[str, list[DraftRecord]] = defaultdict(list)
    for r in records:
        by_scene[r.scene_id].append(r)
    scenes = sorted(by_scene)
    order = [scenes[int(i)] for i in rng.permutation(len(scenes))]
    out: list[DraftRecord] = []
    depth = 0
    while len(out) < target and any(depth < len(by_scene[s]) for s in order):
        for s in order:
            if depth < len(by_scene[s]) and len(out) < target:
                out.append(by_scene[s][depth])
        depth += 1
    return out


def deduplicate(records: list[DraftRecord]) -> list[DraftRecord]:
    """Drop near-duplicates: questions of one scene with the same template about the same objects."""
    seen: set[tuple[str, str, tuple[int, ...]]] = set()
    out = []
    for r in records:
        key = (r.scene_id, r.draft.template, tuple(sorted(o.object_id for o in r.draft.objects)))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


# ----------------------------------------------------------------------------------------------- render


@dataclass
class Renderer:
    """Turns selected drafts into samples: wording, options, balanced letters, localization twins."""

    recipe: Recipe
    seed: int
    templates: QuestionTemplates = field(init=False)

    def __post_init__(self) -> None:
        self.templates = QuestionTemplates(self.recipe.templates)

    def render_group(self, task: str, modality: Modality, records: list[DraftRecord]) -> list[Sample]:
        rng = rng_for(self.seed, "render", task, modality)
        mcq = [r for r in records if r.draft.choices]
        sizes = Counter(len(r.draft.choices) for r in mcq)
        # answer positions: an exact round-robin per option count, in a seeded order
        positions: dict[int, list[int]] = {
            n: [int(p) for p in rng.permutation(np.arange(count) % n)] for n, count in sorted(sizes.items())
        }
        out = []
        for r in records:
            d = r.draft
            fields = dict(d.fields)
            options: list[str] = []
            answer = d.answer
            if d.choices:
                n = len(d.choices)
                correct = positions[n].pop()
                rest = [d.choices[1 + int(i)] for i in rng.permutation(n - 1)]
                ordered = [*rest[:correct], d.choices[0], *rest[correct:]]
                fields.update(choice_fields(ordered))
                options = [f"{LETTERS[i]}. {c}" for i, c in enumerate(ordered)]
                answer = LETTERS[correct]
            question = self.templates.render(d.template, fields, rng if self.recipe.paraphrases else None)
            width, height = stored_size(r.image_width, r.image_height, self.recipe.images)
            scale = width / r.image_width
            objects = [
                o if o.bbox_2d is None else o.model_copy(update={"bbox_2d": [v * scale for v in o.bbox_2d]})
                for o in d.objects
            ]
            if d.template == LOCALIZATION_TASK:
                answer = boxes_answer(objects)
            digest = hashlib.sha1(f"{r.frame_ids}|{question}|{answer}".encode()).hexdigest()[:12]
            out.append(
                Sample(
                    id=f"{r.scene_id}-{task}-{modality.value}-{digest}",
                    task=task,
                    modality=modality,
                    scene_id=r.scene_id,
                    frame_ids=r.frame_ids,
                    timestamps=r.timestamps,
                    image_width=width,
                    image_height=height,
                    question=question,
                    options=options,
                    answer=answer,
                    answer_type=AnswerType.BOXES if d.template == LOCALIZATION_TASK else _answer_type(d),
                    objects=objects,
                    margins=d.margins,
                )
            )
        return out

    def localization_twin(self, sample: Sample) -> Sample:
        """Paper B.1: the same image and question, answered with the referenced objects' boxes."""
        answer = boxes_answer(sample.objects)
        return sample.model_copy(
            update={
                "id": f"{sample.id}-loc",
                "task": LOCALIZATION_TASK,
                "answer": answer,
                "answer_type": AnswerType.BOXES,
                "options": [],
                "margins": {"visibility_min": min(o.visibility for o in sample.objects)},
            }
        )


def _answer_type(d: Draft) -> AnswerType:
    return AnswerType.MCQ if d.choices else AnswerType.NUMERIC


# ----------------------------------------------------------------------------------------------- build


class BuildConfig(BaseModel):
    """Inputs of one ``ladder build-dataset`` run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scans: Path
    out: Path
    split: str = "train"
    """``train``, ``val``, ``test``, ``all``, or a file listing scan ids."""
    recipe: Recipe = Recipe()
    seed: int = 0
    workers: int = 1
    limit_scenes: int | None = None
    frames_layout: FramesLayout | None = None
    exclude: list[Path] = []
    """Built benchmarks whose rooms must not be used (every rescan ``sceneXXXX_*`` of a room is excluded)."""
    benchmark: bool = False
    """Write a benchmark: one subset named after the recipe, split ``test``, evaluator field names."""


@dataclass
class BuildSummary:
    out: Path
    scans: list[str]
    failed: dict[str, str]
    rows: dict[str, int]
    """Rows per subset."""
    rejections: Counter[str]
    """Filter name -> candidates rejected, over all tasks."""
    shards: list[dict[str, object]]


def resolve_scan_ids(source: ScanNetSource, split: str) -> list[str]:
    if split == "all":
        return source.scan_ids(None)
    if split in ("train", "val", "test"):
        return source.scan_ids(split)
    path = Path(split)
    if not path.is_file():
        raise ConfigError(f"--split must be train, val, test, all or a file of scan ids; {split!r} is none of them")
    wanted = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    available = set(source.scan_ids(None))
    missing = [s for s in wanted if s not in available]
    if missing:
        log.warning("%d scans listed in %s are not under %s: %s", len(missing), path, source.config.root, missing[:5])
    return [s for s in wanted if s in available]


def split_name(split: str) -> str:
    """Name of the output split: ``validation`` for val scans, ``test`` for test scans, else ``train``."""
    return {"val": "validation", "test": "test"}.get(split, "train")


def build_dataset(
    config: BuildConfig,
    on_scan: Callable[[SceneOutcome], None] | None = None,
    on_shard: Callable[[Path], None] | None = None,
    on_plan: Callable[[int, int], None] | None = None,
) -> BuildSummary:
    """Run the whole build; ``on_plan(scans, shards)`` announces work sizes for progress bars."""
    from ladderdata.io.card import write_card_manifest_stats

    recipe = config.recipe
    layout = DatasetLayout(config.out)
    source_config = ScanNetSourceConfig(root=config.scans, frames_layout=config.frames_layout)
    source = ScanNetSource(source_config)
    scan_ids = resolve_scan_ids(source, config.split)
    if config.exclude:
        from ladderdata.bench.leakage import dataset_rooms, room_of

        banned = set().union(*(dataset_rooms(p) for p in config.exclude))
        refused = [s for s in scan_ids if room_of(s) in banned]
        if refused:
            log.warning("refusing %d scans whose rooms are in the given benchmarks: %s", len(refused), refused[:8])
        scan_ids = [s for s in scan_ids if room_of(s) not in banned]
    if config.limit_scenes is not None:
        scan_ids = scan_ids[: config.limit_scenes]
    if not scan_ids:
        raise ConfigError(f"no scans to build from under {config.scans} (split {config.split!r})")
    if on_plan:
        on_plan(len(scan_ids), 0)

    outcomes = _map(
        process_scene, [(source_config, s, recipe, config.seed, config.out) for s in scan_ids], config.workers, on_scan
    )
    done = sorted((o for o in outcomes if o.drafts is not None), key=lambda o: o.scan_id)
    failed = {o.scan_id: o.error or "unknown error" for o in outcomes if o.drafts is None}

    groups: dict[tuple[str, Modality], list[DraftRecord]] = defaultdict(list)
    for o in done:
        assert o.drafts is not None
        for r in o.drafts.records:
            groups[(r.task, r.modality)].append(r)
    renderer = Renderer(recipe, config.seed)
    subsets: dict[str, list[Sample]] = {s: [] for s in ([recipe.name] if config.benchmark else SUBSETS)}
    for (task, modality), records in sorted(groups.items()):
        if recipe.deduplicate:
            records = deduplicate(records)
        chosen = select(
            records, recipe.target(task, modality, len(done)), rng_for(config.seed, "select", task, modality)
        )
        samples = renderer.render_group(task, modality, chosen)
        if config.benchmark:
            subsets[recipe.name].extend(samples)
            continue
        subset = "localization" if task == LOCALIZATION_TASK else "spatial"
        subsets[subset].extend(samples)
        if recipe.localization is LocalizationMode.PAIRED and modality is Modality.SINGLE_IMAGE:
            subsets["localization"].extend(renderer.localization_twin(s) for s in samples)

    margin_names = sorted({m for rows in subsets.values() for s in rows for m in s.margins} | {"visibility_min"})
    split = "test" if config.benchmark else split_name(config.split)
    row_format = RowFormat.BENCH if config.benchmark else RowFormat.TRAIN
    plan: list[tuple[Path, list[Sample]]] = []
    for subset, rows in subsets.items():
        rows = _dedupe(rows)
        order = rng_for(config.seed, "shuffle", subset).permutation(len(rows))
        rows = [rows[int(i)] for i in order]
        subsets[subset] = rows
        count = max(1, -(-len(rows) // recipe.rows_per_shard)) if rows else 0
        planned = set()
        for i in range(count):
            path = layout.shard(subset, split, i, count)
            planned.add(path)
            plan.append((path, rows[i * recipe.rows_per_shard : (i + 1) * recipe.rows_per_shard]))
        for stale in layout.subset_dir(subset).glob(f"{split}-*.parquet") if layout.subset_dir(subset).is_dir() else []:
            if stale not in planned:
                stale.unlink()
    if on_plan:
        on_plan(len(scan_ids), len(plan))
    digests = _map(
        _write_one,
        [(path, rows, margin_names, source_config, recipe, row_format) for path, rows in plan],
        config.workers,
        (lambda _: on_shard(Path())) if on_shard else None,
    )
    shards = [
        {"path": str(path.relative_to(config.out)), "rows": len(rows), "sha256": digest}
        for (path, rows), digest in zip(plan, digests, strict=True)
    ]
    rejections: Counter[str] = Counter()
    for o in done:
        assert o.drafts is not None
        for counts in o.drafts.rejections.values():
            rejections.update(counts)
    summary = BuildSummary(
        out=config.out,
        scans=[o.scan_id for o in done],
        failed=failed,
        rows={s: len(rows) for s, rows in subsets.items()},
        rejections=rejections,
        shards=shards,
    )
    write_card_manifest_stats(config, summary, subsets, [o.drafts for o in done if o.drafts is not None])
    return summary


def _dedupe(rows: list[Sample]) -> list[Sample]:
    seen: set[str] = set()
    out = []
    for r in rows:
        if r.id not in seen:
            seen.add(r.id)
            out.append(r)
    return out


class _FrameReader:
    """JPEG bytes of frames, opening each scan's frame source once."""

    def __init__(self, source_config: ScanNetSourceConfig) -> None:
        self.source = ScanNetSource(source_config)
        self.frames: dict[str, FrameSource] = {}

    def __call__(self, scene_id: str, frame_id: int) -> bytes:
        if scene_id not in self.frames:
            frames = self.source.open_frames(scene_id)
            if frames is None:
                raise ScanError(scene_id, self.source.paths(scene_id).scan_dir, "no frames to read images from")
            self.frames[scene_id] = frames
        return self.frames[scene_id].read_color_jpeg(frame_id)


def _write_one(
    path: Path,
    rows: list[Sample],
    margins: list[str],
    source_config: ScanNetSourceConfig,
    recipe: Recipe,
    row_format: RowFormat,
) -> str:
    return write_shard(path, rows, margins, _FrameReader(source_config), recipe.images, row_format, recipe.name)


def _map(
    fn: Callable[..., object], args: list[tuple[object, ...]], workers: int, done: Callable[..., None] | None
) -> list[Any]:
    """``fn(*a)`` for each ``a``, in order; in ``workers`` processes when more than one."""
    results = []
    if workers > 1 and len(args) > 1:
        with ProcessPoolExecutor(min(workers, len(args))) as pool:
            for fut in [pool.submit(fn, *a) for a in args]:
                results.append(fut.result())
                if done:
                    done(results[-1])
    else:
        for a in args:
            results.append(fn(*a))
            if done:
                done(results[-1])
    return results
