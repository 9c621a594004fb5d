"""Select: per task x modality, near-duplicates dropped (if the recipe asks) and scenes taking turns, in a
seeded order, until the recipe's target is met."""

import logging
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ladderdata.pipeline.config import Drafted, DraftRecord
from ladderdata.pipeline.stage import BuildContext, Stage, StageStats
from ladderdata.seeding import rng_for
from ladderdata.tasks import Modality
from ladderdata.tasks.plausibility import PlausibilityConfig, flag_implausible

log = logging.getLogger(__name__)


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


def implausible_objects(data: Drafted, config: PlausibilityConfig, stats: StageStats) -> set[tuple[str, int]]:
    """(scan id, object id) of the objects whose size is implausible for their category over the whole build
    (``ladderdata.tasks.plausibility``), counted per reason in the stage's stats."""
    sizes = {(s.scan_id, i): size for s in data.scenes for i, size in s.object_sizes.items()}
    flagged = flag_implausible(sizes, config)
    for f in flagged:
        stats.counters[f"implausible objects ({f.reason})"] += 1
    if flagged:
        log.warning(
            "%d objects of implausible size are not asked about (segmentation bleed?), e.g. %s",
            len(flagged),
            "; ".join(
                f"{f.scene_id} object {f.object_id} {f.category!r} {f.size_cm:.0f} cm ({f.prior.origin} median "
                f"{f.prior.median_cm:.0f} cm)"
                for f in flagged[:5]
            ),
        )
    return {(f.scene_id, f.object_id) for f in flagged}


@dataclass
class Selection:
    groups: dict[tuple[str, Modality], list[DraftRecord]]
    """(task, modality) -> the selected records, groups in sorted order."""


class SelectStage(Stage[Drafted, Selection]):
    name = "select"

    def run(self, ctx: BuildContext, data: Drafted, stats: StageStats) -> Selection:
        recipe, seed = ctx.config.recipe, ctx.config.seed
        groups: dict[tuple[str, Modality], list[DraftRecord]] = defaultdict(list)
        implausible = implausible_objects(data, recipe.filters.plausibility, stats)
        for scene in data.scenes:
            for r in scene.records:
                if any((r.scene_id, o.object_id) in implausible for o in r.draft.objects):
                    stats.counters["drafts naming an implausible object"] += 1
                    continue
                groups[(r.task, r.modality)].append(r)
        chosen: dict[tuple[str, Modality], list[DraftRecord]] = {}
        for (task, modality), records in sorted(groups.items()):
            stats.counters["drafts in"] += len(records)
            if recipe.deduplicate:
                kept = deduplicate(records)
                stats.counters["near-duplicates dropped"] += len(records) - len(kept)
                records = kept
            target = recipe.target(task, modality, len(data.scenes))
            chosen[(task, modality)] = select(records, target, rng_for(seed, "select", task, modality))
            stats.counters["selected"] += len(chosen[(task, modality)])
        return Selection(chosen)
