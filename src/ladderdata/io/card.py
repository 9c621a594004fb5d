"""Dataset card (README.md), manifest.json and stats.json / stats.md of a built dataset."""

import dataclasses
import json
import platform
from collections import Counter, defaultdict
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, metadata, version
from pathlib import Path
from string import Template
from typing import Any, Literal, TypedDict

import numpy as np
import yaml
from pydantic import JsonValue

from ladderdata.cache import write_text_atomic
from ladderdata.geometry.vision_grid import MAX_PIXELS, MIN_PIXELS, resized_size, visual_tokens
from ladderdata.io.funnel import COUNTS_NOTE, explain, funnel
from ladderdata.io.hub_card import CardConfig, FrontMatter, LicenseFields, size_category
from ladderdata.io.shortfall import Shortfall, views_summary
from ladderdata.layout import LICENSE_FILE, DatasetLayout
from ladderdata.prompts import resource
from ladderdata.recipe import Recipe
from ladderdata.sources.base import DataTerms, get_source
from ladderdata.tasks import SPATIAL_TASKS, TASKS, AnswerType, Modality, OfficialScorer, Sample, column_name

MODALITY_NAMES = {Modality.SINGLE_IMAGE: "Single-Image", Modality.MULTI_VIEW: "Multi-View", Modality.VIDEO: "Video"}
TRAIN_COLUMNS = """Columns: `id`, `task` (VSI-Bench `question_type`), `modality` (single_image / multi_view /
video), `scene_id`, `source` (the scan's dataset: `scannet`, `scannetpp` or `arkitscenes`), `frame_ids`,
`timestamps` (seconds; null when the scan's frames carry no times), `images` (embedded JPEG),
`image_width`/`image_height` (stored size; boxes are in these pixels), `question`, `options` (`"A. chair"`),
`answer` (letter, number, or JSON boxes), `answer_type` (mcq / numeric / boxes), `objects` (id, category, role,
best visibility, visible 2D box for single images), `margins` (every quantity a filter compared with a threshold:
re-threshold with `dataset.filter`), `resized_width`/`resized_height` (the size Qwen2.5-VL's processor resizes the
images to at the paper's pixel budget), and `messages` (system / user / assistant turns with image placeholders,
the prompts of the SpatialLadder paper, B.2; boxes in the resized images' pixels). Datasets with route planning
add `extras` (JSON; a route-planning row's top-down map of its route, null on other rows)."""
BENCH_COLUMNS = """Columns (the names SPBench / VSI-Bench evaluators read): `id`, `dataset`, `source`, `scene_name`,
`question_type`, `modality`, `frame_ids`, `timestamps`, `images` (embedded JPEG), `image_width`,
`image_height`, `question`, `options`, `ground_truth` (letter or number), `answer_type`, `objects` (with
visible 2D boxes for single images, used by `ladder eval --hints`), `margins`, and with route planning `extras`
(JSON: each route's top-down map). Score predictions with
`ladder eval --bench DIR --predictions FILE.jsonl`."""
DEFAULT_BENCHMARKS = ("spbench-si", "spbench-mv", "vsi-video")
"""A build-bench card's default config is the first of these it has rows for (SPBench-SI, the paper's first
benchmark, when there), whatever the names sort as; other benchmarks follow by name."""
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
    header = "| Modality | " + " | ".join(column_name(t) for t in tasks) + " | Total |"
    lines = [header, "|---" * (len(tasks) + 2) + "|"]
    for m in Modality:
        row = [counts[(t, m)] for t in tasks]
        lines.append(
            f"| {MODALITY_NAMES[m]} | " + " | ".join(f"{n:,}" if n else "-" for n in row) + f" | {sum(row):,} |"
        )
    totals = [sum(counts[(t, m)] for m in Modality) for t in tasks]
    lines.append("| Total | " + " | ".join(f"{n:,}" for n in totals) + f" | {sum(totals):,} |")
    return "\n".join(lines)


class LetterCounts(TypedDict):
    """Multiple-choice answers: how often each letter is the answer."""

    type: Literal["mcq"]
    letters: dict[str, int]


class NumberQuantiles(TypedDict):
    """Numeric answers: their quantiles (rounded to 4 decimals)."""

    type: Literal["numeric"]
    min: float
    p25: float
    median: float
    p75: float
    max: float


class BoxCounts(TypedDict):
    """Localization answers: how many answers hold each number of boxes."""

    type: Literal["boxes"]
    boxes_per_answer: dict[int, int]


AnswerSummary = LetterCounts | NumberQuantiles | BoxCounts


def answer_distribution(samples: list[Sample]) -> dict[str, AnswerSummary]:
    """Per task/modality: letter counts (multiple choice) or quantiles (numbers)."""
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[f"{s.task}/{s.modality.value}"].append(s)
    out: dict[str, AnswerSummary] = {}
    for key, rows in sorted(groups.items()):
        kind = rows[0].answer_type
        if kind is AnswerType.MCQ:
            out[key] = {"type": "mcq", "letters": dict(sorted(Counter(s.answer for s in rows).items()))}
        elif kind is AnswerType.NUMERIC:
            values = np.array([float(s.answer) for s in rows])
            q = [round(float(v), 4) for v in np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0])]
            out[key] = {"type": "numeric", "min": q[0], "p25": q[1], "median": q[2], "p75": q[3], "max": q[4]}
        else:
            out[key] = {"type": "boxes", "boxes_per_answer": dict(Counter(len(json.loads(s.answer)) for s in rows))}
    return out


class BuildInputs(TypedDict):
    """A build's ``inputs`` (its manifest's): what it read."""

    source: dict[str, JsonValue]
    """The source's settings (its config model, as JSON), root resolved."""
    sources: list[str]
    """The scan sources it reads through (their terms bind the data)."""
    split: str
    limit_scenes: int | None
    scan_ids: list[str]
    rooms: dict[str, str]
    """Scan id -> ``source:room`` key (leakage checks)."""
    failed: dict[str, str]
    """Scan id -> why it failed."""


@dataclass
class DatasetReport:
    """Everything the card, the manifest and the stats describe about one finished build."""

    recipe: Recipe
    seed: int
    benchmark: bool
    split: str
    """Split name of the shards (``train``, ``validation``, ``test``)."""
    inputs: BuildInputs
    """The manifest's ``inputs``."""
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
    views: dict[str, int]
    """Scan id -> views measured at the recipe's frame stride."""
    shortfall: Shortfall | None
    """Why the build has fewer questions than its targets (or none); None when it met them."""

    @property
    def scans(self) -> list[str]:
        return list(self.inputs["scan_ids"])

    @property
    def failed(self) -> dict[str, str]:
        return dict(self.inputs["failed"])

    @property
    def sources(self) -> list[str]:
        return list(self.inputs["sources"])


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
        "scans": {
            "built": len(report.scans),
            "failed": report.failed,
            "unknown_labels": unknown_labels,
            "views": report.views,
        },
        "rows": {subset: len(rows) for subset, rows in report.subsets.items()},
        "counts": {subset: composition(rows) for subset, rows in report.subsets.items()},
        "drafted": dict(sorted(drafted.items())),
        "rejections": {k: dict(sorted(v.items())) for k, v in sorted(rejections.items())},
        "answers": answers,
        "stages": report.stages,
        "shortfall": None if report.shortfall is None else dataclasses.asdict(report.shortfall),
    }
    write_text_atomic(layout.stats_json, json.dumps(stats, indent=2) + "\n")

    md = [f"# Statistics: {recipe.name}", "", "## Spatial questions (paper Table 6 layout)", ""]
    md += [composition_table(spatial), ""]
    md += [f"Localization questions: {len(localization):,}", "", "## Answers", ""]
    md += ["| task/modality | distribution |", "|---|---|"]
    md += [f"| {k} | {json.dumps({x: y for x, y in v.items() if x != 'type'})} |" for k, v in answers.items()]
    md += ["", "## Target and achieved", "", "| task/modality | target | achieved | drafted |", "|---|---|---|---|"]
    rows_funnel = funnel(recipe, len(report.scans), all_rows, drafted, rejections)
    for f in rows_funnel:
        target = "all drafted" if f.target is None else f"{f.target:,}"
        short = "" if f.met else " (short)"
        md.append(f"| {f.key} | {target} | {f.kept:,}{short} | {f.drafted:,} |")
    md += ["", "## Filters (candidates rejected)", "", "| task/modality | drafted | rejected by |", "|---|---|---|"]
    for key in sorted(set(rejections) | set(drafted)):
        md.append(f"| {key} | {drafted[key]} | {', '.join(f'{f}: {n}' for f, n in sorted(rejections[key].items()))} |")
    reasons = sorted({r for counts in rejections.values() for r in counts})
    if reasons:
        md += ["", COUNTS_NOTE, ""] + [f"- `{r}`: {explain(r)}" for r in reasons]
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
        "benchmark": report.benchmark,
        "workers_do_not_change_output": True,
        "recipe": recipe.model_dump(mode="json"),
        "shards": report.shards,
    }
    write_text_atomic(layout.manifest, json.dumps(manifest, indent=2) + "\n")

    write_text_atomic(layout.license, license_file(report.sources))
    write_text_atomic(layout.card, dataset_card(out, report))


def project_reference() -> str:
    """``[ladder](URL) 0.1.0`` with the homepage or repository URL the installed package declares in its metadata
    (pyproject's ``[project.urls]``), else ``ladder 0.1.0``: a card never links to a guessed address."""
    name = "ladder"
    try:
        meta = metadata(name)
    except PackageNotFoundError:
        return name
    urls = dict(
        (label.strip().lower(), url.strip())
        for label, _, url in (entry.partition(",") for entry in meta.get_all("Project-URL") or [])
    )
    url = next((urls[k] for k in ("homepage", "repository", "source") if k in urls), None)
    release = f"{name} {meta['Version']}"
    return f"[{name}]({url}) {meta['Version']}" if url else release


def data_configs(entries: list[tuple[str, int, list[str], str]], split: str) -> list[CardConfig]:
    """The card's ``configs``: one per ``(name, rows, files, glob)`` that has rows, listing its files by name (the
    names carry content keys, see :meth:`DatasetLayout.shard`); the first is the default. With no rows anywhere,
    every entry with its glob: ``load_dataset`` then says no data files were found, instead of reading
    ``manifest.json`` and ``stats.json`` as rows."""
    configs: list[CardConfig] = [
        {"config_name": name, "data_files": [{"split": split, "path": files}]}
        for name, rows, files, _ in entries
        if rows
    ]
    if not configs:
        configs = [
            {"config_name": name, "data_files": [{"split": split, "path": glob}]} for name, _, _, glob in entries
        ]
    if configs:
        first = configs[0]
        configs[0] = {"config_name": first["config_name"], "default": True, "data_files": first["data_files"]}
    return configs


def front_matter(
    pretty_name: str, rows: int, video: bool, configs: list[CardConfig], sources: list[str], tags: list[str]
) -> str:
    """A card's YAML metadata: the Hub's fields (:mod:`ladderdata.io.hub_card` checks them) and the configs."""
    licence = license_metadata(sources)
    meta: FrontMatter = {
        "pretty_name": pretty_name,
        "language": ["en"],
        "license": licence["license"],
        "license_name": licence["license_name"],
        "license_link": licence["license_link"],
        "task_categories": ["visual-question-answering", *(["video-text-to-text"] if video else [])],
        "task_ids": ["visual-question-answering"],
        "size_categories": [size_category(rows)],
        "source_datasets": [f"extended|other-{name}" for name in sources],
        "annotations_creators": ["machine-generated"],
        "tags": ["spatial-reasoning", "3d", *sources, *tags],
    }
    if configs:
        meta["configs"] = configs
    return yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip()


def _terms(sources: list[str]) -> list[tuple[str, DataTerms | None]]:
    return [(name, get_source(name).terms) for name in sources]


def license_metadata(sources: list[str]) -> LicenseFields:
    """A card's licence fields: the terms of the scans' datasets bind data derived from them, so ``other``, named
    after those terms, linked to the ``LICENSE.md`` that quotes them (:func:`license_file`)."""
    ids = [terms.license_id if terms else f"{name}-terms" for name, terms in _terms(sources)]
    return {"license": "other", "license_name": "-and-".join(ids), "license_link": LICENSE_FILE}


def license_file(sources: list[str]) -> str:
    """``LICENSE.md``: the terms of use of every dataset the scans come from, linked."""
    lines = [
        "# Terms of use",
        "",
        f"This data is computed from scans of {', '.join(sources)}; the terms of those datasets bind it:",
        "",
    ]
    for name, terms in _terms(sources):
        if terms is None:
            lines.append(f"- `{name}` scans: the terms of that dataset (its scan source declares none).")
        else:
            lines.append(f"- `{name}` scans: [{terms.title}]({terms.url})")
    lines += ["", f"Generated with {project_reference()}; ladder's own Apache-2.0 licence covers its code only."]
    return "\n".join(lines) + "\n"


def terms_section(sources: list[str]) -> str:
    """The card's "License and terms of use" section."""
    listed = ", ".join(f"[{t.title}]({t.url})" if t else f"the terms of {name}" for name, t in _terms(sources))
    return Template(resource("card_terms.md")).substitute(terms=listed, project=project_reference())


def _shard_files(shards: list[dict[str, object]], folder: str) -> list[str]:
    return [str(s["path"]) for s in shards if str(s["path"]).startswith(folder + "/")]


def dataset_card(out: Path, report: DatasetReport) -> str:
    """README.md of a built dataset or benchmark."""
    layout, recipe = DatasetLayout(out), report.recipe
    all_rows = [s for rows in report.subsets.values() for s in rows]
    spatial = [s for s in all_rows if s.answer_type is not AnswerType.BOXES]
    configs = data_configs(
        [
            (
                subset,
                len(rows),
                _shard_files(report.shards, str(layout.subset_dir(subset).relative_to(out))),
                layout.shard_glob(subset, report.split),
            )
            for subset, rows in report.subsets.items()
        ],
        report.split,
    )
    descriptions = {
        "spatial": spatial_description(report.subsets.get("spatial", [])),
        "localization": "object localization",
        recipe.name: recipe.description,
    }
    default = configs[0]["config_name"] if configs else recipe.name
    names = {"load_path": out.name, "default_config": default, "split_name": report.split}
    video = any(s.modality is Modality.VIDEO for s in all_rows)
    tags = ["benchmark"] if report.benchmark else []
    return Template(resource("dataset_card.md")).substitute(
        names,
        front_matter=front_matter(recipe.name, len(all_rows), video, configs, report.sources, tags),
        name=recipe.name,
        project=project_reference(),
        scan_count=len(report.scans),
        sources=", ".join(report.sources),
        split=report.inputs["split"],
        recipe=recipe.name,
        seed=report.seed,
        description=recipe.description,
        status=_status(report, len(all_rows)),
        subset_rows="\n".join(
            f"| {s} | {len(r):,} | {descriptions.get(s, s)} |" for s, r in report.subsets.items() if r
        ),
        columns=BENCH_COLUMNS if report.benchmark else TRAIN_COLUMNS,
        training="" if report.benchmark or not all_rows else _training(all_rows, names),
        table=composition_table(spatial),
        min_visibility=recipe.filters.min_visibility,
        sampling=sampling_text(report, all_rows),
        terms=terms_section(report.sources),
    )


def spatial_description(rows: list[Sample]) -> str:
    """The spatial subset's question types as built: the VSI-Bench types it holds, then any other (plugin) task."""
    present = {s.task for s in rows}
    vsi = [t for t in SPATIAL_TASKS if t in present]
    others = sorted(present - set(SPATIAL_TASKS))
    parts = [f"{len(vsi)} VSI-Bench type{'s' if len(vsi) != 1 else ''}"] if vsi else []
    parts += [f"plugin task {t}" for t in others]
    return f"spatial questions ({', '.join(parts) or 'none'})"


def sampling_text(report: DatasetReport, rows: list[Sample]) -> str:
    """Which frames the questions show: the frame stride, views per scan, multi-view set size and video length
    (asked and as built)."""
    stride, m = report.recipe.metadata.frame_stride, report.recipe.modalities
    lengths = sorted(len(s.frame_ids) for s in rows if s.modality is Modality.VIDEO)
    videos = (
        f"videos of {m.video_frames} frames asked, {lengths[0]}-{lengths[-1]} built (a video has at most one frame "
        "per view)"
        if lengths
        else f"videos of {m.video_frames} frames asked, none built"
    )
    return (
        f"Frames: every frame whose number is a multiple of {stride} and whose pose is valid is a view; "
        f"{views_summary(report.views, stride)}. Single images: up to {m.single_images} views per scan; "
        f"multi-view sets of {m.multi_view_size} views ({m.multi_view_sets} per scan); {videos}."
    )


def _status(report: DatasetReport, rows: int) -> str:
    shortfall = report.shortfall
    if shortfall is None or not (shortfall.empty or report.benchmark):
        return ""
    why = "; ".join(shortfall.reasons)
    if shortfall.empty:
        return f"\n**This {'benchmark' if report.benchmark else 'dataset'} is empty**: {why}.\n"
    return f"\n**Fewer questions than the recipe's target** ({rows:,} of {shortfall.target:,}): {why}.\n"


def _training(rows: list[Sample], names: dict[str, str]) -> str:
    """The card's TRL section, with the visual-token figures of these rows at the paper's pixel budget."""
    sizes = Counter((s.image_width, s.image_height) for s in rows)
    (width, height), _ = sizes.most_common(1)[0]
    longest = max(rows, key=lambda s: len(s.frame_ids) * visual_tokens(s.image_width, s.image_height))
    resized = resized_size(width, height)
    return Template(resource("dataset_card_trl.md")).substitute(
        names,
        min_pixels=MIN_PIXELS,
        max_pixels=MAX_PIXELS,
        min_pixels_text=f"{MIN_PIXELS:,}",
        max_pixels_text=f"{MAX_PIXELS:,}",
        tokens_per_image=visual_tokens(width, height),
        max_images=len(longest.frame_ids),
        max_row_tokens=f"{len(longest.frame_ids) * visual_tokens(longest.image_width, longest.image_height):,}",
        resized_size=f"{resized[0]} x {resized[1]}",
    )


def card_for_repo(card: str, folder: Path, repo: str) -> str:
    """A card written for ``folder`` with its ``load_dataset`` calls (and an export card's lmms-eval
    ``dataset_path``) pointed at the Hub repository ``repo``."""
    card = card.replace(f"`dataset_path: {folder.name}`", f"`dataset_path: {repo}`")
    return card.replace(f'load_dataset("{folder.name}"', f'load_dataset("{repo}"')


# ------------------------------------------------------------------------------------------ benchmark roots


def benchmark_folders(root: Path) -> list[Path]:
    """The benchmarks (folders whose manifest says so) directly under ``root``, by name."""
    found = []
    for manifest in sorted(root.glob(f"*/{DatasetLayout(root).manifest.name}")):
        try:
            if json.loads(manifest.read_text(encoding="utf-8")).get("benchmark"):
                found.append(manifest.parent)
        except (OSError, ValueError):
            continue
    return found


def _knows(scorer: OfficialScorer, task: str) -> bool:
    """Whether ``scorer``'s question-type lists name ``task`` (its task's ``official``)."""
    return task in TASKS and scorer in TASKS[task].official


def write_benchmarks_card(root: Path) -> None:
    """README.md of a folder of benchmarks (what ``build-bench`` writes): every benchmark in it, its composition,
    one config per non-empty benchmark, and how to score them."""
    entries: list[tuple[str, int, list[str], str]] = []
    table: list[str] = []
    empty: list[str] = []
    videos: list[str] = []
    readers: dict[str, set[OfficialScorer]] = {}  # benchmark -> evaluators that know every question type in it
    sources: set[str] = set()
    for folder in benchmark_folders(root):
        layout = DatasetLayout(folder)
        manifest = json.loads(layout.manifest.read_text(encoding="utf-8"))
        sources.update(manifest["inputs"]["sources"])
        stats = json.loads(layout.stats_json.read_text(encoding="utf-8"))
        name = folder.name
        counts: dict[str, dict[str, int]] = stats["counts"].get(name, {})
        rows = sum(n for per_modality in counts.values() for n in per_modality.values())
        modalities = sorted({m for per_modality in counts.values() for m in per_modality})
        if Modality.VIDEO.value in modalities:
            videos.append(name)
        readers[name] = {scorer for scorer in OfficialScorer if all(_knows(scorer, task) for task in counts)}
        files = [f"{name}/{s['path']}" for s in manifest["shards"]]
        entries.append((name, rows, files, f"{name}/{layout.shard_glob(name, 'test')}"))
        types = ", ".join(f"{task} {sum(m.values())}" for task, m in counts.items())
        table.append(
            f"| {name} | {rows:,} | {len(manifest['inputs']['scan_ids'])} | {', '.join(modalities) or '-'} "
            f"| {types or '-'} |"
        )
        if not rows:
            reasons = (stats.get("shortfall") or {}).get("reasons", [])
            empty.append(f"- `{name}` is empty: {'; '.join(reasons) or 'see its stats.md'}.")
    # the default config: the first of the paper's benchmarks the folder holds, in its order, not the first name
    entries.sort(
        key=lambda e: DEFAULT_BENCHMARKS.index(e[0]) if e[0] in DEFAULT_BENCHMARKS else len(DEFAULT_BENCHMARKS)
    )
    configs = data_configs(entries, "test")
    total = sum(rows for _, rows, _, _ in entries)
    names = [name for name, *_ in entries]
    # ladder export refuses question types the format's evaluator does not know: name only what it can read
    spatialladder = [name for name in names if OfficialScorer.SPATIALLADDER in readers[name]]
    spatialladder_targets = ["BENCH"] if spatialladder == names else [f"BENCH/{name}" for name in spatialladder]
    commands = [
        'ladder eval --bench BENCH --predictions predictions.jsonl --scoring all   # {"id", "prediction"} lines',
        *(
            f"ladder export {target} --format spatialladder --out /datasets   # the folders SpatialLadder's evaluator "
            "opens"
            for target in spatialladder_targets
        ),
        *(
            f"ladder export BENCH/{name} --format vsibench --out exported   # for VSI-Bench's scorer"
            for name in videos
            if OfficialScorer.VSIBENCH in readers[name]
        ),
    ]
    used = sorted(sources)
    pretty = f"{root.name}: {', '.join(names)}"
    card = Template(resource("benchmarks_card.md")).substitute(
        front_matter=front_matter(pretty, total, bool(videos), configs, used, ["benchmark"]),
        name=root.name,
        project=project_reference(),
        benchmark_rows="\n".join(table),
        empty="\n" + "\n".join(empty) + "\n" if empty else "",
        load_path=root.name,
        default_config=configs[0]["config_name"] if configs else "",
        scoring_commands="\n".join(commands),
        terms=terms_section(used),
    )
    layout = DatasetLayout(root)
    write_text_atomic(layout.license, license_file(used))
    write_text_atomic(layout.card, card)
