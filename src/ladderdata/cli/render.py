"""What the commands show: progress bars, the tables that summarise a run, plans and counts. Commands decide what
to do; this module only draws it (on stderr, except the tables, which go to stdout)."""

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from ladderdata.cli.root import console

if TYPE_CHECKING:  # rich's progress and tables are imported when a command draws them, not to parse its options
    from rich.progress import Progress, TaskID
    from rich.table import Table

    from ladderdata.audit.report import AuditReport
    from ladderdata.eval.export import ExportedBenchmark
    from ladderdata.executor import Executor
    from ladderdata.io.push import PushPlan
    from ladderdata.pipeline import BuildSummary
    from ladderdata.sources.preflight import ScanCheck

log = logging.getLogger("ladderdata")


def progress_bars() -> "Progress":
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
    )


class ItemBars:
    """A bar per item in progress (a scan's views cast, its frames written), shown under the stage's bar while the
    item runs: the executor's ``item_progress``."""

    def __init__(self, progress: "Progress", unit: str) -> None:
        self.progress, self.unit = progress, unit
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, name: str, done: int, total: int) -> None:
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(f"  {name}: {self.unit}", total=total)
        self.progress.update(self.tasks[name], completed=done, total=total)
        if done >= total:
            self.progress.remove_task(self.tasks.pop(name))


@contextmanager
def item_bars(executor: "Executor", progress: "Progress", unit: str) -> Iterator[None]:
    """While the block runs, ``executor``'s items show their own progress in ``progress``."""
    executor.item_progress = ItemBars(progress, unit)
    try:
        yield
    finally:
        executor.item_progress = None


STAGE_LABELS = {"draft": "drafting scans", "write": "writing shards"}


class StageBars:
    """One progress bar per build stage that fans out (drafting scans, writing shards)."""

    def __init__(self, progress: "Progress") -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def start(self, stage: str, total: int) -> None:
        self.tasks[stage] = self.progress.add_task(STAGE_LABELS.get(stage, stage), total=total)

    def advance(self, stage: str) -> None:
        self.progress.advance(self.tasks[stage])


def counted(n: int, thing: str) -> str:
    """``"1 prediction"``, ``"2 predictions"``."""
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def model_label(model: Path | None, predictions: Path | None) -> str:
    """A model's name in eval reports: its folder's last two parts (``runs/stage2/final`` -> ``stage2/final``,
    so that the stages' ``final`` folders tell apart), else the predictions file's name."""
    if model is not None:
        return "/".join(model.parts[-2:])
    return predictions.stem if predictions is not None else "model"


def announce_plan(lines: list[str], dry_run: bool) -> None:
    """Log a run's plan and estimate (``ladder.pipeline.estimate``); with --dry-run, stop there (exit 0)."""
    for line in lines:
        if line.startswith("warning: "):
            log.warning("%s", line.removeprefix("warning: "))
        else:
            log.info("plan: %s", line)
    if dry_run:
        log.info("dry run: nothing written")
        raise typer.Exit(0)


def new_table(*columns: str, title: str | None = None) -> "Table":
    from rich.table import Table

    return Table(*columns, title=title)


def scan_table() -> "Table":
    """The table ``ladder scans`` fills, a row per scan (:func:`scan_row`)."""
    table = new_table()
    table.add_column("scan", overflow="fold")  # full ids, wrapped rather than cut
    for column in ("type", "objects", "categories", "frames", "invalid poses", "layout"):
        table.add_column(column)
    return table


def scan_row(table: "Table", scan_id: str, check: "ScanCheck") -> None:
    table.add_row(
        scan_id,
        check.scene_type or "-",
        str(check.objects),
        str(check.categories),
        str(check.frames),
        str(check.invalid_poses),
        check.layout,
    )


def show_build(summary: "BuildSummary", out: Path) -> None:
    """A build's rows per subset and its filters' rejections."""
    table = new_table("subset", "rows", title=f"dataset written to {out}")
    for subset, rows in summary.rows.items():
        table.add_row(subset, f"{rows:,}")
    Console().print(table)
    filtered = new_table("filter", "candidates rejected", title="filtered out")
    for name, n in summary.rejections.most_common():
        filtered.add_row(name, f"{n:,}")
    Console().print(filtered)


def show_benchmarks(summaries: "dict[str, BuildSummary]", out: Path) -> None:
    """Questions, scans and failed scans per benchmark (each failed scan logged with its reason)."""
    table = new_table("benchmark", "questions", "scans", "failed scans", title=f"benchmarks written to {out}")
    for name, summary in summaries.items():
        table.add_row(name, f"{sum(summary.rows.values()):,}", str(len(summary.scans)), str(len(summary.failed)))
        for scan_id, error in sorted(summary.failed.items()):
            log.error("%s: failed scan %s: %s", name, scan_id, error)
    Console().print(table)


def show_audit(report: "AuditReport") -> None:
    table = new_table("benchmark", "type", "metric", "n", "chance", "frequent/median", "text-only", title="blind audit")
    for t in report.types:
        cells = ["-" if v is None else f"{100 * v:.1f}" for v in (t.chance, t.frequent, t.blind_model)]
        table.add_row(t.benchmark, t.question_type, t.metric, str(t.questions), *cells)
    Console().print(table)


def show_export(results: "Sequence[ExportedBenchmark]", layout: str, out: Path) -> None:
    table = new_table("benchmark", "folder", "questions", "file", "images", "videos", title=f"{layout} export in {out}")
    for r in results:
        table.add_row(r.benchmark, r.folder, f"{r.rows:,}", r.parquet, f"{len(r.images):,}", f"{len(r.videos):,}")
    Console().print(table)


def show_push(plan: "PushPlan", repo: str, dry_run: bool) -> None:
    table = new_table("file", "bytes", title=f"{'would send' if dry_run else 'sending'} to {repo} ({plan.kind})")
    for f in plan.files:
        table.add_row(f.repo_path, f"{f.size:,}")
    table.add_row(f"{len(plan.files)} files", f"{plan.total_bytes:,}")
    Console().print(table)
