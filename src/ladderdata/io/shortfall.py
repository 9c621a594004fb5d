"""Why a build has fewer questions than its recipe's targets: views per scan at the frame stride, what each
modality needs, and which filters rejected how many candidates (the counts of ``stats.json``)."""

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ladderdata.recipe import Recipe
from ladderdata.tasks import Modality

NEEDS = {
    Modality.SINGLE_IMAGE: "single-image questions need views showing askable objects",
    Modality.MULTI_VIEW: "multi-view sets need {multi_view_size} views that show objects",
    Modality.VIDEO: "videos need 2 views or more from scans whose frame times are known",
}


@dataclass(frozen=True)
class Shortfall:
    """A build with fewer questions than its target (or none at all), and why."""

    questions: int
    target: int | None
    """Questions the recipe's targets ask for at this number of scans; None when it keeps every question."""
    reasons: list[str]

    @property
    def empty(self) -> bool:
        return self.questions == 0

    def message(self, name: str) -> str:
        wanted = f"{self.questions:,} of {self.target:,} questions" if self.target is not None else "no questions"
        return f"{name}: {wanted}; " + "; ".join(self.reasons)


def _scans(n: int) -> str:
    return f"{n} scan{'s' if n != 1 else ''}"


def views_summary(views: Mapping[str, int], frame_stride: int) -> str:
    """``"views per scan at frame stride 30: 3 to 5 (median 4; 2 scans)"``."""
    if not views:
        return "no scan could be read"
    counts = np.array(sorted(views.values()))
    low, high, median = int(counts[0]), int(counts[-1]), float(np.median(counts))
    spread = (
        f"{low} ({_scans(len(views))})" if low == high else f"{low} to {high} (median {median:g}; {_scans(len(views))})"
    )
    return f"views per scan at frame stride {frame_stride}: {spread}"


def find_shortfall(
    recipe: Recipe,
    rows: Mapping[str, int],
    views: Mapping[str, int],
    drafted: Mapping[str, int],
    rejections: Mapping[str, Counter[str]],
    failed: Mapping[str, str],
) -> Shortfall | None:
    """None when the build met its targets (or, without targets, has questions); else the shortfall.

    ``rows``, ``drafted`` and ``rejections`` are keyed ``"task/modality"`` (questions written, drafts,
    candidates rejected per filter), ``views`` is scan id -> views measured at the recipe's frame stride.
    """
    scans = len(views)
    wanted = {
        f"{task}/{modality.value}": n
        for task, per_modality in recipe.targets.items()
        for modality in per_modality
        if (n := recipe.target(task, modality, scans)) is not None
    }
    questions = sum(rows.values())
    target = sum(wanted.values()) if wanted else None
    if questions > 0 and (target is None or questions >= target):
        return None
    reasons = [views_summary(views, recipe.metadata.frame_stride)]
    if failed:
        reasons.append(f"{_scans(len(failed))} failed ({', '.join(sorted(failed)[:5])})")
    asked = {f"{g.name}/{m.value}" for g in recipe.generators() for m in g.modalities}
    groups = sorted(asked | set(wanted) | set(drafted))
    short = [key for key in groups if rows.get(key, 0) < wanted.get(key, 1)]
    undrafted: dict[Modality, list[str]] = defaultdict(list)
    for key in short:
        task, _, modality = key.rpartition("/")
        if not drafted.get(key):
            undrafted[Modality(modality)].append(task)
            continue
        got = f"{rows.get(key, 0)} of {wanted[key]}" if key in wanted else f"{rows.get(key, 0)}"
        rejected = ", ".join(f"{name} {n}" for name, n in rejections.get(key, Counter()).most_common())
        reasons.append(f"{key}: {got} from {drafted[key]} drafts (candidates rejected: {rejected or 'none'})")
    for modality, tasks in undrafted.items():
        need = NEEDS[modality].format(multi_view_size=recipe.modalities.multi_view_size)
        reasons.append(f"nothing drafted for {modality.value} ({', '.join(tasks)}): {need}")
    if recipe.metadata.frame_stride > 1 and undrafted:
        reasons.append("a smaller --frame-stride measures more views per scan")
    return Shortfall(questions, target, reasons)
