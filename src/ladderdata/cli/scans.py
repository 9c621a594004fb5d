"""``ladder scans`` and ``ladder metadata``: check scans, and compute their per-view metadata once for the builds."""

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from ladderdata.cli.options import (
    DEFAULT_FRAME_STRIDE,
    ESTIMATE_SAMPLE,
    SPLIT_HELP,
    DryRun,
    RunOptions,
    ScanOptions,
    list_scans,
    with_options,
)
from ladderdata.cli.render import announce_plan, item_bars, progress_bars, scan_row, scan_table
from ladderdata.cli.root import SCANS_FAILED
from ladderdata.extensions import examples
from ladderdata.metadata.config import MetadataConfig

if TYPE_CHECKING:
    from ladderdata.executor import Executor
    from ladderdata.sources.base import ScanSourceConfig

log = logging.getLogger("ladderdata")
commands = typer.Typer()


@commands.command(
    epilog=examples(
        "ladder scans --scans scannet --split val",
        "ladder scans --scans my_scans --label-table scannet/scannetv2-labels.combined.tsv",
        "ladder scans --scans scannet --scans scannetpp --scans arkitscenes   # one mixed source",
    )
)
@with_options
def scans(scan: ScanOptions, split: Annotated[str, typer.Option(help=SPLIT_HELP)] = "all") -> None:
    """Check every scan as a build would need it (files present, the scan loads, valid poses, sample frames
    decode) and summarise it; exit 1 when a scan would fail (each named with its file and reason)."""
    config = scan.source_config()
    failed = summarise_scans(config, list_scans(config, split))
    raise typer.Exit(SCANS_FAILED if failed else 0)


def summarise_scans(source_config: "ScanSourceConfig", ids: list[str]) -> int:
    """Pre-flight every scan of ``ids`` (``sources.preflight``: files, load, poses, sample frames) and print a
    table; returns the number of scans that failed (a build would fail them too)."""
    from ladderdata.executor.base import describe_failure
    from ladderdata.sources.base import open_source
    from ladderdata.sources.preflight import preflight

    source = open_source(source_config)
    table = scan_table()
    failures: dict[str, str] = {}
    with progress_bars() as progress:
        for scan_id in progress.track(ids, description="checking scans"):
            try:
                check = preflight(source, scan_id)
            except Exception as e:  # one bad scan costs that scan only (as in every command that reads scans)
                failures[scan_id] = describe_failure(scan_id, e)
                log.error("%s", failures[scan_id])
                continue
            scan_row(table, scan_id, check)
    Console().print(table)
    log.info("%d scans ready, %d would fail", len(ids) - len(failures), len(failures))
    return len(failures)


@commands.command(
    epilog=examples(
        "ladder metadata --scans scannet --out metadata --workers 8",
        "ladder metadata --scans scannet --out metadata --split val --frame-stride 5",
    )
)
@with_options
def metadata(
    scan: ScanOptions,
    out: Annotated[Path, typer.Option(help="folder for <scan>.parquet files, the cache --metadata-cache reads")],
    split: Annotated[str, typer.Option(help=SPLIT_HELP)] = "all",
    frame_stride: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=f"keep frames whose number is a multiple of K, among valid poses (default {DEFAULT_FRAME_STRIDE})",
        ),
    ] = None,
    *,
    run: RunOptions,
    dry_run: DryRun = False,
) -> None:
    """Per-view metadata (objects seen, visibility, 2D boxes, depth) for every scan, cached per scan: reruns skip
    finished scans, and build-dataset/build-bench reuse it with --metadata-cache (same frame stride)."""
    from ladderdata.outputs import claim_output

    config = scan.source_config()
    ids = list_scans(config, split)
    from ladderdata.pipeline.estimate import metadata_estimate
    from ladderdata.sources.base import open_source

    stride = MetadataConfig().with_frame_stride(frame_stride).frame_stride
    sample = None if dry_run else ESTIMATE_SAMPLE
    announce_plan(metadata_estimate(open_source(config), ids, stride, sample).lines(), dry_run)

    claim_output(out, "metadata cache", inputs=scan.scans)
    with run.open_executor() as runner:
        failed = run_metadata(config, ids, out, frame_stride, runner)
    raise typer.Exit(SCANS_FAILED if failed else 0)


def run_metadata(
    source_config: "ScanSourceConfig", scan_ids: list[str], out: Path, frame_stride: int | None, executor: "Executor"
) -> int:
    """Compute per-view metadata for every scan; returns the number of scans that failed."""
    from ladderdata.metadata.extract import process_scans

    config = MetadataConfig().with_frame_stride(frame_stride)
    start = time.perf_counter()
    with progress_bars() as progress, item_bars(executor, progress, "views cast"):
        task = progress.add_task("per-view metadata", total=len(scan_ids))
        results = process_scans(source_config, scan_ids, config, out, executor, lambda _: progress.advance(task))
    counts = {status: sum(r.status == status for r in results) for status in ("computed", "cached", "failed")}
    for r in results:
        if r.error:
            log.error("%s", r.error)
    log.info(
        "metadata (frame stride %d): %d computed, %d cached, %d failed; %d views in %.1f s -> %s",
        config.frame_stride,
        counts["computed"],
        counts["cached"],
        counts["failed"],
        sum(r.views for r in results),
        time.perf_counter() - start,
        out,
    )
    return counts["failed"]
