"""The filter funnel of a build: per task and modality, the target, the drafts, what each filter rejected and what
was kept, with every rejection reason explained in words (``stats.md``, ``report.html``)."""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from ladderdata.recipe import Recipe
from ladderdata.tasks import Modality, Sample

#: Rejection name -> what it means (the names ``Rejections.check`` counts; docs/tasks.md, "Filters").
REJECTION_REASONS = {
    "visibility": "an object the question names is less visible than min_visibility in every view shown",
    "not_unique": "another object of the same category is present in the views shown, so its name would be "
    "ambiguous ('the chair' when two chairs are seen)",
    "noisy_category": "the object's label is room structure or a vague label (wall, floor, object, ...)",
    "rare_label": "the object's raw label is a rare one of NYU40's catch-all classes (fewer than min_label_count "
    "instances in the label table)",
    "unknown_label": "the object's raw label is missing from the label table",
    "distance_ratio": "relative distance: the nearest and the farthest candidate are too close in distance to tell "
    "apart (far/near below the ratio)",
    "distance_over_size": "absolute distance: the objects are closer than the smaller one's size",
    "size_range": "object size outside the human-scale range",
    "partial_instance": "counting: an instance is present but less visible than min_visibility, so the count "
    "would be uncertain",
    "count_range": "counting: the count is outside the task's range",
    "direction_margin": "direction: the objects are too near the left/right or front/back boundary",
    "angle_margin": "direction: the angle is too near a quadrant boundary",
    "behind_camera": "direction: an object is behind the camera",
    "too_close": "direction: the objects stand too close together for a direction to mean something",
    "first_seen_gap": "appearance order: two objects are first seen in the same shown frame",
    "small_box": "localization: the object's visible box is too small",
    "no_floor": "room size: the scan has no floor annotation",
    "area_range": "room size: the floor area is outside the task's range",
    "scene_cap": "the scan already gave max_per_scene questions of this task and modality",
    "category_cap": "the scan already gave max_per_category questions naming this category",
}
COUNTS_NOTE = (
    "Rejections count candidates, not questions: every image set checks each object (or pair, or triple) it "
    "shows, so one scan's 40 single images and 6 multi-view sets make thousands of checks, and a question is "
    "drafted only from candidates that pass every filter. Large counts next to few rows are expected; a "
    "shortfall is explained by the filter that dominates its row."
)


def explain(reason: str) -> str:
    return REJECTION_REASONS.get(reason, "a filter of the task's own (see its module)")


@dataclass(frozen=True)
class FunnelRow:
    """One task x modality: what the recipe aimed for and what came out."""

    task: str
    modality: str
    target: int | None
    """None: the recipe keeps every question drafted."""
    drafted: int
    rejected: dict[str, int]
    kept: int

    @property
    def key(self) -> str:
        return f"{self.task}/{self.modality}"

    @property
    def met(self) -> bool:
        return self.target is None or self.kept >= self.target


def funnel(
    recipe: Recipe,
    scans: int,
    rows: list[Sample],
    drafted: Mapping[str, int],
    rejections: Mapping[str, Mapping[str, int]],
) -> list[FunnelRow]:
    """One row per task x modality the recipe generates or the build holds, in recipe order."""
    kept = Counter(f"{s.task}/{s.modality.value}" for s in rows)
    out: list[FunnelRow] = []
    seen: set[str] = set()
    for g in [*recipe.generators(), *recipe.derivers()]:
        for modality in g.modalities:
            key = f"{g.name}/{modality.value}"
            seen.add(key)
            target = recipe.target(g.name, modality, scans)
            out.append(
                FunnelRow(g.name, modality.value, target, drafted.get(key, 0), dict(rejections.get(key, {})), kept[key])
            )
    for key in sorted(set(kept) - seen):
        task, _, mode = key.partition("/")
        out.append(FunnelRow(task, Modality(mode).value, None, drafted.get(key, 0), {}, kept[key]))
    return out
