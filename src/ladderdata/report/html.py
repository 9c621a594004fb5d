"""``report.html``: one self-contained page to check a built dataset or benchmark by eye.

Written with every build (``build-dataset``, each benchmark of ``build-bench``): target against achieved per task
and modality, answer distributions as charts, the filter funnel with each rejection reason explained, questions
per scan, and example cards per task (the preview's cards: the question's objects boxed on every frame of
multi-view sets and videos). Every image is inlined (``data:`` URIs), no script, no network: the file can be
mailed or opened offline.

Charts are drawn with matplotlib, the ``report`` extra (``pip install 'ladder[report]'``): without it the page
has the same tables and cards, and says how to get the charts.
"""

import base64
import html
import io
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from ladderdata.cache import write_text_atomic
from ladderdata.errors import install_command
from ladderdata.io.card import DatasetReport
from ladderdata.io.dataset import open_build
from ladderdata.io.funnel import COUNTS_NOTE, FunnelRow, explain, funnel
from ladderdata.io.shortfall import views_summary
from ladderdata.layout import DatasetLayout
from ladderdata.preview import CARD_WIDTH, GAP, SHEET_COLUMNS, pick_rows, read_cards, render_card
from ladderdata.tasks import AnswerType, Modality, Sample

log = logging.getLogger(__name__)

#: Example cards per task.
EXAMPLES_PER_TASK = 2
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #202020; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.short { color: #b00020; font-weight: bold; }
.note { color: #555; max-width: 60em; }
.cards img { max-width: 100%; margin: 0 0 1em; border: 1px solid #ddd; }
figure { display: inline-block; margin: 0 1em 1em 0; }
"""


def charts_available() -> bool:
    return find_spec("matplotlib") is not None


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72)  # fixed margins: a tight box would draw the figure twice
    import matplotlib.pyplot as plt

    plt.close(figure)
    return _img(buffer.getvalue(), "image/png", "chart")


def _bars_figure(plt: Any, labels: list[str], width: float = 9.0) -> tuple[Any, Any]:
    """A figure for horizontal bars, one per label, with room on the left for the longest label."""
    height = 0.28 * len(labels) + 0.9
    figure, axis = plt.subplots(figsize=(width, height))
    left = min(0.6, (0.075 * max(len(x) for x in labels) + 0.2) / width)
    figure.subplots_adjust(left=left, right=0.97, top=1 - 0.25 / height, bottom=0.6 / height)
    return figure, axis


def _img(data: bytes, mime: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:{mime};base64,{base64.b64encode(data).decode()}">'


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt

    return plt


def target_chart(rows: list[FunnelRow]) -> str:
    plt = _pyplot()
    shown = [r for r in rows if r.kept or r.target]
    figure, axis = _bars_figure(plt, [r.key for r in shown])
    y = range(len(shown))
    axis.barh([i + 0.2 for i in y], [r.kept for r in shown], height=0.4, label="achieved", color="#1f77b4")
    axis.barh(
        [i - 0.2 for i in y],
        [r.target or 0 for r in shown],
        height=0.4,
        label="target (none: all drafted)",
        color="#bbbbbb",
    )
    axis.set_yticks(list(y), [r.key for r in shown])
    axis.invert_yaxis()
    axis.set_xlabel("questions")
    axis.legend(loc="best")
    return _png(figure)


def answer_chart(key: str, rows: list[Sample]) -> str:
    """Letters of multiple choice, a histogram of numbers, boxes per answer for localization."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(3.6, 2.4))
    figure.subplots_adjust(left=0.18, right=0.97, top=0.88, bottom=0.2)
    kind = rows[0].answer_type
    if kind is AnswerType.NUMERIC:
        axis.hist([float(s.answer) for s in rows], bins=min(20, max(5, len(rows) // 3)), color="#2ca02c")
    else:
        counts = (
            Counter(s.answer for s in rows)
            if kind is AnswerType.MCQ
            else Counter(str(len(json.loads(s.answer))) for s in rows)
        )
        labels = sorted(counts)
        axis.bar(labels, [counts[k] for k in labels], color="#ff7f0e")
    axis.set_title(key, fontsize=9)
    return _png(figure)


def funnel_chart(rows: list[FunnelRow]) -> str:
    """All tasks x modalities in one chart: candidates rejected (by every filter), drafted, kept; log scale, as
    rejections outnumber questions by orders of magnitude."""
    plt = _pyplot()
    shown = [r for r in rows if r.drafted or r.rejected]
    figure, axis = _bars_figure(plt, [r.key for r in shown])
    y = list(range(len(shown)))
    for offset, values, label, color in (
        (-0.27, [sum(r.rejected.values()) for r in shown], "candidates rejected", "#d62728"),
        (0.0, [r.drafted for r in shown], "drafted", "#1f77b4"),
        (0.27, [r.kept for r in shown], "kept", "#2ca02c"),
    ):
        axis.barh([i + offset for i in y], [max(v, 0.9) for v in values], height=0.27, label=label, color=color)
    axis.set_xscale("log")
    axis.set_yticks(y, [r.key for r in shown])
    axis.invert_yaxis()
    axis.legend(loc="best")
    return _png(figure)


def scene_chart(per_scene: dict[str, int]) -> str:
    plt = _pyplot()
    figure, axis = _bars_figure(plt, list(per_scene))
    axis.barh(range(len(per_scene)), list(per_scene.values()), color="#9467bd")
    axis.set_yticks(range(len(per_scene)), list(per_scene))
    axis.invert_yaxis()
    axis.set_xlabel("questions")
    return _png(figure)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def example_cards(out: Path, caches: list[Path]) -> dict[str, list[str]]:
    """Task -> ``EXAMPLES_PER_TASK`` cards (inlined JPEGs) drawn from the shards the build's manifest lists (seed
    0): only those, never another file a user keeps in the folder."""
    cards: dict[str, list[str]] = defaultdict(list)
    reader = open_build(out)
    for subset in reader.subsets:
        for task, picks in pick_rows(reader.keys(subset), subset, 0, EXAMPLES_PER_TASK).items():
            samples, images = read_cards(reader, subset, picks, caches)
            for sample, frames in zip(samples, images, strict=True):
                wide = sample.modality is not Modality.SINGLE_IMAGE
                width = SHEET_COLUMNS * CARD_WIDTH + GAP if wide else CARD_WIDTH
                buffer = io.BytesIO()
                render_card(sample, frames, width).save(buffer, format="JPEG", quality=85)
                cards[task].append(_img(buffer.getvalue(), "image/jpeg", f"{task} example"))
    return cards


def report_html(out: Path, report: DatasetReport, caches: list[Path]) -> str:
    """The page (see the module's docstring)."""
    recipe = report.recipe
    rows = [s for subset in report.subsets.values() for s in subset]
    charts = charts_available()
    chart: Callable[..., str] = (lambda fn, *a: fn(*a)) if charts else (lambda fn, *a: "")
    rows_funnel = funnel(recipe, len(report.scans), rows, report.drafted, report.rejections)
    m, stride = recipe.modalities, recipe.metadata.frame_stride
    parts = [
        f"<h1>{html.escape(recipe.name)}: {len(rows):,} questions from {len(report.scans)} scans</h1>",
        f"<p>{html.escape(out.name)} · split {html.escape(report.split)} · seed {report.seed} · frame stride "
        f"{stride} ({html.escape(views_summary(report.views, stride))}) · multi-view sets of {m.multi_view_size} "
        f"views · videos of {m.video_frames} frames asked</p>",
    ]
    if not charts:
        parts.append(
            f'<p class="note">Charts need matplotlib, the report extra: <code>{html.escape(install_command("report"))}'
            "</code>. The tables below hold the same numbers.</p>"
        )
    if report.failed:
        parts.append("<h2>Failed scans</h2><ul>")
        parts += [f"<li>{html.escape(s)}: {html.escape(e)}</li>" for s, e in sorted(report.failed.items())]
        parts.append("</ul>")
    parts.append("<h2>Target and achieved</h2>")
    parts.append(chart(target_chart, rows_funnel))
    table_rows = [
        [
            html.escape(r.key),
            "all drafted" if r.target is None else f"{r.target:,}",
            f'<span class="{"" if r.met else "short"}">{r.kept:,}</span>',
            f"{r.drafted:,}",
        ]
        for r in rows_funnel
    ]
    parts.append(_table(["task/modality", "target", "achieved", "drafted"], table_rows))
    if report.shortfall is not None:
        parts.append(f'<p class="note">Short of target: {html.escape("; ".join(report.shortfall.reasons))}</p>')

    parts.append("<h2>Answers</h2>")
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in rows:
        groups[f"{s.task}/{s.modality.value}"].append(s)
    for key, members in sorted(groups.items()):
        parts.append(
            f"<figure>{chart(answer_chart, key, members)}<figcaption>{html.escape(key)}: "
            f"{html.escape(_distribution(members))}</figcaption></figure>"
        )

    parts.append("<h2>Filter funnel</h2>")
    parts.append(f'<p class="note">{html.escape(COUNTS_NOTE)}</p>')
    parts.append(chart(funnel_chart, rows_funnel))
    for r in rows_funnel:
        if not r.drafted and not r.rejected:
            continue
        parts.append(f"<h3>{html.escape(r.key)}</h3>")
        reasons = [
            [f"<code>{html.escape(name)}</code>", f"{n:,}", html.escape(explain(name))]
            for name, n in sorted(r.rejected.items(), key=lambda kv: -kv[1])
        ]
        parts.append(_table(["rejected by", "candidates", "what it means"], reasons))

    parts.append("<h2>Questions per scan</h2>")
    per_scene = dict(sorted(Counter(s.scene_id for s in rows).items()))
    views = report.views
    parts.append(chart(scene_chart, per_scene) if per_scene else "")
    scene_rows = [[html.escape(s), f"{views.get(s, 0):,}", f"{n:,}"] for s, n in per_scene.items()]
    parts.append(_table(["scan", "views", "questions"], scene_rows))

    parts.append("<h2>Examples</h2>")
    for task, cards in example_cards(out, caches).items():
        parts.append(f'<h3>{html.escape(task)}</h3><div class="cards">{"".join(cards)}</div>')
    body = "\n".join(p for p in parts if p)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(recipe.name)}: report</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def _distribution(rows: list[Sample]) -> str:
    if rows[0].answer_type is AnswerType.NUMERIC:
        values = sorted(float(s.answer) for s in rows)
        return f"{len(rows)} answers, {values[0]:g} to {values[-1]:g}, median {values[len(values) // 2]:g}"
    if rows[0].answer_type is AnswerType.MCQ:
        counts = Counter(s.answer for s in rows)
        return f"{len(rows)} answers: " + ", ".join(f"{k} {counts[k]}" for k in sorted(counts))
    return f"{len(rows)} answers"


def write_report(out: Path, report: DatasetReport, caches: list[Path]) -> Path:
    """Write ``OUT/report.html`` atomically; ``caches``: the build's per-view metadata folders (per-frame boxes)."""
    path = DatasetLayout(out).report_html
    write_text_atomic(path, report_html(out, report, [c for c in caches if c.is_dir()]))
    return path
