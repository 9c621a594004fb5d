"""Dataset card (README.md), manifest.json and stats.json / stats.md of a built dataset."""

import json
import platform
from collections import Counter, defaultdict
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from string import Template
from typing import Any

import numpy as np
import yaml

from ladderdata.cache import write_text_atomic
from ladderdata.layout import DatasetLayout
from ladderdata.prompts import resource
from ladderdata.recipe import Recipe
from ladderdata.tasks import SPATIAL_TASKS, AnswerType, Modality, Sample

SHORT_NAMES = {
    "object_counting": "Obj. Cnt.",
    "object_abs_distance": "Abs. Dist.",
    "object_size_estimation": "Obj. Size",
    "room_size_estimation": "Room Size",
    "object_rel_distance": "Rel. Dist.",
    "object_rel_direction": "Rel. Dir.",
    "obj_appearance_order": "Appr. Order",
}
MODALITY_NAMES = {Modality.SINGLE_IMAGE: "Single-Image", Modality.MULTI_VIEW: "Multi-View", Modality.VIDEO: "Video"}
TRAIN_COLUMNS = """Columns: `id`, `task` (VSI-Bench `question_type`), `modality` (single_image / multi_view / video),
`scene_id`, `frame_ids`, `timestamps` (seconds; null when the scan's frames carry no times), `images` (embedded
JPEG), `image_width`/`image_height` (stored size; boxes are in these pixels), `question`, `options`
(`"A. chair"`), `answer` (letter, number, or JSON boxes), `answer_type` (mcq / numeric / boxes), `objects` (id,
category, role, best visibility, visible 2D box for single images), `margins` (every quantity a filter compared
with a threshold: re-threshold with `dataset.filter`), and `messages` (system / user / assistant turns with
image placeholders, the prompts of the SpatialLadder paper, B.2)."""
BENCH_COLUMNS = """Columns (the names SPBench / VSI-Bench evaluators read): `id`, `dataset`, `scene_name`,
`question_type`, `modality`, `frame_ids`, `timestamps`, `images` (embedded JPEG), `image_width`,
`image_height`, `question`, `options`, `ground_truth` (letter or number), `answer_type`, `objects` (with
visible 2D boxes for single images, used by `ladder eval --hints`), `margins`. Score predictions with
`ladder eval --bench DIR --predictions FILE.jsonl`."""
#: Where the project lives, linked from every dataset card; pyproject.toml's ``[project.urls]`` Homepage says the
#: same (a test compares them).
PROJECT_URL = "https://github.com/ladder-project/ladder"
PACKAGES = ("ladder", "numpy", "scipy", "open3d", "pyarrow", "pydantic", "pillow", "opencv-python-headless")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def composition(samples: list[Sample]) -> dict[str, dict[str, int]]:
    """task -> modality -> rows."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for (task, modality), n in sorted(Counter((s.task, s.modality.value) for s in samples).items()):
        counts[task][modality] = n
    return dict(counts)


def composition_table(samples: list[Sample]) -> str:
    """Markdown in the shape of the paper's Table 6 (tasks in columns, modalities in rows)."""
    counts = Counter((s.task, s.modality) for s in samples)
    tasks = [t for t in SPATIAL_TASKS] + sorted({s.task for s in samples} - set(SPATIAL_TASKS))
    header = "| Modality | " + " | ".join(SHORT_NAMES.get(t, t) for t in tasks) + " | Total |"
    lines = [header, "|---" * (len(tasks) + 2) + "|"]
    for m in Modality:
        row = [counts[(t, m)] for t in tasks]
        lines.append(
            f"| {MODALITY_NAMES[m]} | " + " | ".join(f"{n:,}" if n else "-" for n in row) + f" | {sum(row):,} |"
        )
    totals = [sum(counts[(t, m)] for m in Modality) for t in tasks]
    lines.append("| Total | " + " | ".join(f"{n:,}" for n in totals) + f" | {sum(totals):,} |")
    return "\n".join(lines)


def answer_distribution(samples: list[Sample]) -> dict[str, dict[str, Any]]:
    """Per task/modality: letter counts (multiple choice) or quantiles (numbers)."""
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[f"{s.task}/{s.modality.value}"].append(s)
    out: dict[str, dict[str, Any]] = {}
    for key, rows in sorted(groups.items()):
        kind = rows[0].answer_type
        if kind is AnswerType.MCQ:
            out[key] = {"type": "mcq", "letters": dict(sorted(Counter(s.answer for s in rows).items()))}
        elif kind is AnswerType.NUMERIC:
            values = np.array([float(s.answer) for s in rows])
            q = np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0])
            out[key] = {"type": "numeric", "min": q[0], "p25": q[1], "median": q[2], "p75": q[3], "max": q[4]}
            out[key] = {k: (round(float(v), 4) if not isinstance(v, str) else v) for k, v in out[key].items()}
        else:
            out[key] = {"type": "boxes", "boxes_per_answer": dict(Counter(len(json.loads(s.answer)) for s in rows))}
    return out


@dataclass
class DatasetReport:
    """Everything the card, the manifest and the stats describe about one finished build."""

    recipe: Recipe
    seed: int
    benchmark: bool
    split: str
    """Split name of the shards (``train``, ``validation``, ``test``)."""
    inputs: dict[str, Any]
    """The manifest's ``inputs``: the source, the split asked for, ``scan_ids`` used, their ``rooms`` (``source:room``
    keys, for leakage checks) and ``failed`` scans."""
    subsets: dict[str, list[Sample]]
    shards: list[dict[str, object]]
    drafted: Counter[str]
    """``"task/modality"`` -> drafts, over all scans."""
    rejections: dict[str, Counter[str]]
    """``"task/modality"`` -> filter name -> candidates rejected."""
    unknown_labels: dict[str, dict[str, int]]
    """Scan id -> raw labels the label table lacks -> objects carrying them (scans with none are absent)."""
    stages: dict[str, dict[str, Any]]
    """Stage name -> its counters and seconds."""

    @property
    def scans(self) -> list[str]:
        return list(self.inputs["scan_ids"])

    @property
    def failed(self) -> dict[str, str]:
        return dict(self.inputs["failed"])


def write_card_manifest_stats(out: Path, report: DatasetReport) -> None:
    """Write ``stats.json``, ``stats.md``, ``manifest.json`` and the card (``README.md``) of a built dataset."""
    layout = DatasetLayout(out)
    recipe = report.recipe
    all_rows = [s for rows in report.subsets.values() for s in rows]
    spatial = [s for s in all_rows if s.answer_type is not AnswerType.BOXES]
    localization = [s for s in all_rows if s.answer_type is AnswerType.BOXES]
    answers = answer_distribution(all_rows)
    rejections, drafted, unknown_labels = report.rejections, report.drafted, report.unknown_labels
    stats = {
        "scans": {"built": len(report.scans), "failed": report.failed, "unknown_labels": unknown_labels},
        "rows": {subset: len(rows) for subset, rows in report.subsets.items()},
        "counts": {subset: composition(rows) for subset, rows in report.subsets.items()},
        "drafted": dict(sorted(drafted.items())),
        "rejections": {k: dict(sorted(v.items())) for k, v in sorted(rejections.items())},
        "answers": answers,
        "stages": report.stages,
    }
    write_text_atomic(layout.stats_json, json.dumps(stats, indent=2) + "\n")

    md = [f"# Statistics: {recipe.name}", "", "## Spatial questions (paper Table 6 layout)", ""]
    md += [composition_table(spatial), ""]
    md += [f"Localization questions: {len(localization):,}", "", "## Answers", ""]
    md += ["| task/modality | distribution |", "|---|---|"]
    md += [f"| {k} | {json.dumps({x: y for x, y in v.items() if x != 'type'})} |" for k, v in answers.items()]
    md += ["", "## Filters (candidates rejected)", "", "| task/modality | drafted | rejected by |", "|---|---|---|"]
    for key in sorted(set(rejections) | set(drafted)):
        md.append(f"| {key} | {drafted[key]} | {', '.join(f'{f}: {n}' for f, n in sorted(rejections[key].items()))} |")
    if unknown_labels:
        md += ["", "## Labels missing from the label table", "", "| scan | objects | labels |", "|---|---|---|"]
        md += [f"| {s} | {sum(c.values())} | {', '.join(c)} |" for s, c in sorted(unknown_labels.items())]
    md += ["", "## Stages", "", "| stage | seconds | counters |", "|---|---|---|"]
    for name, stage in report.stages.items():
        counters = ", ".join(f"{k}: {v:,}" for k, v in stage["counters"].items())
        md.append(f"| {name} | {stage['seconds']:.2f} | {counters} |")
    if report.failed:
        md += ["", "## Failed scans", ""] + [f"- {s}: {e}" for s, e in sorted(report.failed.items())]
    write_text_atomic(layout.stats_md, "\n".join(md) + "\n")

    manifest = {
        "versions": package_versions(),
        "inputs": report.inputs,
        "seed": report.seed,
        "workers_do_not_change_output": True,
        "recipe": recipe.model_dump(mode="json"),
        "shards": report.shards,
    }
    write_text_atomic(layout.manifest, json.dumps(manifest, indent=2) + "\n")

    configs: list[dict[str, Any]] = []
    descriptions = {
        "spatial": "spatial questions (seven VSI-Bench types)",
        "localization": "object localization",
        recipe.name: recipe.description,
    }
    for subset, rows in report.subsets.items():
        if rows:
            entry: dict[str, Any] = {"config_name": subset}
            if not configs:
                entry["default"] = True
            entry["data_files"] = [{"split": report.split, "path": layout.shard_glob(subset, report.split)}]
            configs.append(entry)
    front = yaml.safe_dump(
        {
            "configs": configs,
            "task_categories": ["visual-question-answering"],
            "tags": ["spatial-reasoning", "scannet"],
        },
        sort_keys=False,
    ).strip()
    card = Template(resource("dataset_card.md")).substitute(
        front_matter=front,
        name=recipe.name,
        version=package_versions()["ladder"],
        project_url=PROJECT_URL,
        scan_count=len(report.scans),
        split=report.inputs["split"],
        recipe=recipe.name,
        seed=report.seed,
        description=recipe.description,
        subset_rows="\n".join(
            f"| {s} | {len(r):,} | {descriptions.get(s, s)} |" for s, r in report.subsets.items() if r
        ),
        out_name=out.name,
        split_name=report.split,
        default_config=configs[0]["config_name"] if configs else "default",
        columns=BENCH_COLUMNS if report.benchmark else TRAIN_COLUMNS,
        table=composition_table(spatial),
        min_visibility=recipe.filters.min_visibility,
    )
    write_text_atomic(layout.card, card)
