"""The ``ladder`` command line."""

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ladderdata.errors import LadderError, ScanError
from ladderdata.layout import FramesLayout

if TYPE_CHECKING:
    from ladderdata.pipeline import BuildConfig

app = typer.Typer(
    help="ladder: spatial-reasoning data from 3D indoor scans.", no_args_is_help=True, pretty_exceptions_enable=False
)
console = Console(stderr=True)
log = logging.getLogger("ladderdata")


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
        force=True,
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def run_synth(out: Path, scenes: int, seed: int, frames: int, layouts: list[FramesLayout], workers: int) -> list[str]:
    from ladderdata.sources.synthetic import SynthConfig, synthesize_root

    config = SynthConfig(scenes=scenes, seed=seed, frames=frames, layouts=layouts, workers=workers)
    start = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task("synthesising scans", total=scenes)
        ids = synthesize_root(out, config, progress=lambda _: progress.advance(task))
    log.info(
        "wrote %d synthetic scans (%s) to %s in %.1f s", len(ids), ", ".join(layouts), out, time.perf_counter() - start
    )
    return ids


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="root folder to write (ScanNet layout)")],
    scenes: Annotated[int, typer.Option(min=1)] = 4,
    seed: int = 0,
    frames: Annotated[int, typer.Option(min=4, help="frames per scan")] = 48,
    frames_layout: Annotated[list[FramesLayout] | None, typer.Option(help="repeat for several")] = None,
    workers: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Write synthetic ScanNet scans with exact ground truth (synthetic_gt/<scan>.json)."""
    run_synth(out, scenes, seed, frames, frames_layout or [FramesLayout.SENS], workers)


def summarise_scans(root: Path, split: str | None, layout: FramesLayout | None) -> int:
    """Load every scan under ``root`` and print a table; returns the number of scans that failed."""
    from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig

    source = ScanNetSource(ScanNetSourceConfig(root=root, frames_layout=layout))
    ids = source.scan_ids(split)
    table = Table("scan", "type", "objects", "categories", "frames", "invalid poses", "layout")
    failures: dict[str, str] = {}
    with _progress() as progress:
        for scan_id in progress.track(ids, description="reading scans"):
            try:
                scan = source.load(scan_id)
            except ScanError as e:
                failures[scan_id] = str(e)
                log.error("%s", e)
                continue
            n_frames = len(scan.valid_poses)
            table.add_row(
                scan_id,
                scan.scene_type or "-",
                str(len(scan.objects)),
                str(len({o.info.category for o in scan.objects})),
                str(n_frames),
                str(scan.num_invalid_poses),
                scan.frames.layout if scan.frames else "-",
            )
    Console().print(table)
    log.info("%d scans read, %d failed", len(ids) - len(failures), len(failures))
    return len(failures)


@app.command()
def scans(
    scans: Annotated[Path, typer.Option("--scans", help="ScanNet root or folder of scan folders")],
    split: Annotated[str | None, typer.Option(help="train, val or test (needs scannetv2_<split>.txt)")] = None,
    frames_layout: FramesLayout | None = None,
) -> None:
    """Read every scan and summarise it (objects, frames, invalid poses); bad scans are reported, not fatal."""
    failed = summarise_scans(scans, split, frames_layout)
    raise typer.Exit(1 if failed else 0)


def run_metadata(root: Path, out: Path, split: str | None, workers: int, frame_stride: int) -> int:
    """Compute per-view metadata for every scan; returns the number of scans that failed."""
    from ladderdata.metadata.config import MetadataConfig
    from ladderdata.metadata.extract import process_scans
    from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig

    source_config = ScanNetSourceConfig(root=root)
    scan_ids = ScanNetSource(source_config).scan_ids(split)
    config = MetadataConfig(frame_stride=frame_stride)
    start = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task("per-view metadata", total=len(scan_ids))
        results = process_scans(source_config, scan_ids, config, out, workers, lambda _: progress.advance(task))
    counts = {status: sum(r.status == status for r in results) for status in ("computed", "cached", "failed")}
    for r in results:
        if r.error:
            log.error("%s", r.error)
    log.info(
        "metadata: %d computed, %d cached, %d failed; %d views in %.1f s -> %s",
        counts["computed"],
        counts["cached"],
        counts["failed"],
        sum(r.views for r in results),
        time.perf_counter() - start,
        out,
    )
    return counts["failed"]


@app.command()
def metadata(
    scans: Annotated[Path, typer.Option("--scans", help="ScanNet root or folder of scan folders")],
    out: Annotated[Path, typer.Option(help="folder for <scan>.parquet files (the cache)")],
    split: Annotated[str | None, typer.Option(help="train, val or test")] = None,
    workers: Annotated[int, typer.Option(min=1)] = 1,
    frame_stride: Annotated[int, typer.Option(min=1, help="every k-th valid frame")] = 10,
) -> None:
    """Per-view metadata (objects seen, visibility, 2D boxes, depth) for every scan, cached per scan."""
    failed = run_metadata(scans, out, split, workers, frame_stride)
    raise typer.Exit(1 if failed else 0)


def run_build(config: "BuildConfig") -> int:
    """Build a dataset with progress bars and a final summary; returns the number of scans that failed."""
    from ladderdata.pipeline import build_dataset

    start = time.perf_counter()
    with _progress() as progress:
        scans_task = progress.add_task("drafting scans", total=None)
        shards_task = progress.add_task("writing shards", total=None)

        def planned(scans: int, shards: int) -> None:
            progress.update(scans_task, total=scans)
            if shards:
                progress.update(shards_task, total=shards)

        summary = build_dataset(
            config,
            on_scan=lambda _: progress.advance(scans_task),
            on_shard=lambda _: progress.advance(shards_task),
            on_plan=planned,
        )
    table = Table("subset", "rows", title=f"dataset written to {config.out}")
    for subset, rows in summary.rows.items():
        table.add_row(subset, f"{rows:,}")
    Console().print(table)
    filtered = Table("filter", "candidates rejected", title="filtered out")
    for name, n in summary.rejections.most_common():
        filtered.add_row(name, f"{n:,}")
    Console().print(filtered)
    for scan_id, error in sorted(summary.failed.items()):
        log.error("failed scan %s: %s", scan_id, error)
    log.info(
        "%d scans built, %d failed, %d shards in %.1f s (see %s)",
        len(summary.scans),
        len(summary.failed),
        len(summary.shards),
        time.perf_counter() - start,
        config.out / "stats.md",
    )
    return len(summary.failed)


@app.command("build-dataset")
def build_dataset_command(
    scans: Annotated[Path, typer.Option("--scans", help="ScanNet root or folder of scan folders")],
    out: Annotated[Path, typer.Option(help="dataset folder to write (shards, card, manifest, stats)")],
    split: Annotated[str, typer.Option(help="train, val, test, all, or a file of scan ids")] = "train",
    recipe: Annotated[str, typer.Option(help="built-in recipe name or YAML file")] = "spatialladder-26k",
    workers: Annotated[int, typer.Option(min=1)] = 1,
    seed: int = 0,
    limit_scenes: Annotated[int | None, typer.Option(min=1, help="use only the first K scans")] = None,
    frame_stride: Annotated[int | None, typer.Option(min=1, help="override the recipe's metadata frame stride")] = None,
    frames_layout: FramesLayout | None = None,
) -> None:
    """Generate spatial QA and localization shards (Hugging Face Parquet) from scans; resumes when rerun."""
    from ladderdata.pipeline import BuildConfig
    from ladderdata.recipe import Recipe

    chosen = Recipe.load(recipe)
    if frame_stride is not None:
        chosen = chosen.model_copy(
            update={"metadata": chosen.metadata.model_copy(update={"frame_stride": frame_stride})}
        )
    config = BuildConfig(
        scans=scans,
        out=out,
        split=split,
        recipe=chosen,
        seed=seed,
        workers=workers,
        limit_scenes=limit_scenes,
        frames_layout=frames_layout,
    )
    raise typer.Exit(1 if run_build(config) else 0)


@app.command()
def preview(
    dataset: Annotated[Path, typer.Argument(help="a folder written by build-dataset")],
    out: Annotated[Path | None, typer.Option(help="folder for the PNG sheets (default DATASET/preview)")] = None,
    samples: Annotated[int, typer.Option(min=1)] = 12,
    seed: int = 0,
) -> None:
    """Render PNG contact sheets of random samples, boxes and answers drawn."""
    from ladderdata.preview import render_preview

    for path in render_preview(dataset, out, samples, seed):
        log.info("wrote %s", path)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="folder for the demo scans and outputs")] = Path("demo"),
    workers: Annotated[int, typer.Option(min=1)] = 2,
) -> None:
    """Synthesise 4 demo scans, build a dataset from them and render a preview sheet."""
    from ladderdata.pipeline import BuildConfig
    from ladderdata.preview import render_preview
    from ladderdata.recipe import Recipe

    root = out / "scannet"
    run_synth(root, 4, 0, 48, [FramesLayout.SENS], workers)
    recipe = Recipe.load("spatialladder-26k")
    recipe = recipe.model_copy(update={"metadata": recipe.metadata.model_copy(update={"frame_stride": 2})})
    dataset = out / "dataset"
    failed = run_build(BuildConfig(scans=root, out=dataset, split="all", recipe=recipe, workers=workers))
    for path in render_preview(dataset):
        log.info("preview: %s", path)
    raise typer.Exit(1 if failed else 0)


@app.command()
def schemas(out: Annotated[Path, typer.Option(help="folder for the JSON Schemas")] = Path("schemas")) -> None:
    """Regenerate the JSON Schemas of every record and config."""
    from ladderdata.schemas import write_schemas

    for path in write_schemas(out):
        log.info("wrote %s", path)


def entrypoint() -> None:
    try:
        app()
    except LadderError as e:
        console.print(f"[red]error:[/red] {e}")
        raise SystemExit(2) from None
