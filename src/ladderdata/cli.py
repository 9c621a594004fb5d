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
    from ladderdata.sources.synthetic import SynthConfig

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


def run_synth(out: Path, config: "SynthConfig") -> list[str]:
    from ladderdata.sources.synthetic import synthesize_root

    start = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task("synthesising scans", total=config.scenes)
        ids = synthesize_root(out, config, progress=lambda _: progress.advance(task))
    log.info(
        "wrote %d synthetic scans (%s) to %s in %.1f s",
        len(ids),
        ", ".join(config.layouts),
        out,
        time.perf_counter() - start,
    )
    return ids


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="root folder to write (ScanNet layout)")],
    scenes: Annotated[int, typer.Option(min=1)] = 4,
    seed: int = 0,
    frames: Annotated[int, typer.Option(min=4, max=20_000, help="frames per scan (ScanNet: 1,000-5,000)")] = 48,
    objects: Annotated[
        int | None, typer.Option(min=1, max=60, help="furniture objects per scan, at least (default 10-30)")
    ] = None,
    mesh_vertices: Annotated[
        int | None,
        typer.Option(
            min=1_000, max=3_000_000, help="mesh vertices per scan, about (_vh_clean_2: ~150000, _vh_clean: ~1300000)"
        ),
    ] = None,
    posed_max_images: Annotated[
        int | None, typer.Option(min=1, help="posed layout: a random subset of this many frames, as mmdetection3d")
    ] = None,
    frames_layout: Annotated[list[FramesLayout] | None, typer.Option(help="repeat for several")] = None,
    workers: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Write synthetic ScanNet scans with exact ground truth (synthetic_gt/<scan>.json)."""
    from ladderdata.sources.synthetic import SynthConfig

    config = SynthConfig(
        scenes=scenes,
        seed=seed,
        frames=frames,
        objects=objects,
        mesh_vertices=mesh_vertices,
        posed_max_images=posed_max_images,
        layouts=frames_layout or [FramesLayout.SENS],
        workers=workers,
    )
    run_synth(out, config)


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
    frame_stride: Annotated[
        int, typer.Option(min=1, help="keep frames whose number is a multiple of K (and whose pose is valid)")
    ] = 10,
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
    frame_stride: Annotated[
        int | None, typer.Option(min=1, help="override the recipe's: keep frames whose number is a multiple of K")
    ] = None,
    frames_layout: FramesLayout | None = None,
    exclude_bench: Annotated[
        list[Path] | None, typer.Option(help="built benchmark whose rooms must not be used (repeatable)")
    ] = None,
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
        exclude=exclude_bench or [],
    )
    raise typer.Exit(1 if run_build(config) else 0)


@app.command("build-bench")
def build_bench_command(
    scans: Annotated[Path, typer.Option("--scans", help="ScanNet root or folder of scan folders")],
    out: Annotated[Path, typer.Option(help="folder for the benchmarks (one sub-folder each)")],
    split: Annotated[str, typer.Option(help="split whose list (scannetv2_<split>.txt) names the scans")] = "val",
    split_file: Annotated[Path | None, typer.Option(help="file of scan ids, instead of the root's split list")] = None,
    benchmark: Annotated[
        list[str] | None, typer.Option(help="spbench-si, spbench-mv, vsi-video or a recipe file (repeatable)")
    ] = None,
    video: Annotated[bool, typer.Option(help="also build vsi-video (all seven types on videos)")] = False,
    workers: Annotated[int, typer.Option(min=1)] = 1,
    seed: int = 0,
    limit_scenes: Annotated[int | None, typer.Option(min=1)] = None,
    frame_stride: Annotated[
        int | None, typer.Option(min=1, help="override the recipes': keep frames whose number is a multiple of K")
    ] = None,
    frames_layout: FramesLayout | None = None,
) -> None:
    """Build held-out SPBench-style benchmarks from validation scans (stricter filters, no near-duplicates)."""
    from ladderdata.bench.build import BENCHMARKS, VIDEO_BENCHMARK, build_benchmarks

    names = list(benchmark or BENCHMARKS) + ([VIDEO_BENCHMARK] if video else [])
    start = time.perf_counter()
    summaries = build_benchmarks(
        scans, out, names, split, split_file, seed, workers, frames_layout, limit_scenes, frame_stride
    )
    table = Table("benchmark", "questions", "scans", "failed scans", title=f"benchmarks written to {out}")
    failed = 0
    for name, summary in summaries.items():
        table.add_row(name, f"{sum(summary.rows.values()):,}", str(len(summary.scans)), str(len(summary.failed)))
        failed += len(summary.failed)
        for scan_id, error in sorted(summary.failed.items()):
            log.error("%s: failed scan %s: %s", name, scan_id, error)
    Console().print(table)
    log.info("built %d benchmarks in %.1f s", len(summaries), time.perf_counter() - start)
    raise typer.Exit(1 if failed else 0)


@app.command("check-leakage")
def check_leakage_command(
    train: Annotated[Path, typer.Argument(help="a dataset written by build-dataset")],
    bench: Annotated[Path, typer.Argument(help="a benchmark (or folder of benchmarks) written by build-bench")],
) -> None:
    """Prove zero room overlap between training data and a benchmark (rescans of a room count as the room)."""
    from ladderdata.bench.leakage import check_leakage

    report = check_leakage(train, bench)
    if report.clean:
        log.info("no overlap: %d training rooms, %d benchmark rooms", report.train_rooms, report.bench_rooms)
        return
    log.error("%d rooms in both: %s", len(report.overlap), ", ".join(report.overlap[:20]))
    raise typer.Exit(1)


@app.command("eval")
def eval_command(
    bench: Annotated[Path, typer.Option(help="a benchmark folder (or folder of benchmarks)")],
    predictions: Annotated[
        Path | None, typer.Option(help='JSON Lines of {"id", "prediction"}; written here when --model is given')
    ] = None,
    model: Annotated[Path | None, typer.Option(help="local Hugging Face VLM folder to answer the questions")] = None,
    prompt: Annotated[str, typer.Option(help="direct (stage-2 prompt) or think (stage-3 prompt)")] = "direct",
    backend: Annotated[str, typer.Option(help="transformers or vllm")] = "transformers",
    hints: Annotated[str, typer.Option(help="none, boxes or arrows (paper Appendix A)")] = "none",
    batch_size: Annotated[int, typer.Option(min=1)] = 4,
    max_new_tokens: Annotated[int, typer.Option(min=1)] = 64,
    out: Annotated[
        Path | None, typer.Option(help="folder for report.md/json (default: beside predictions, or eval-<model>)")
    ] = None,
) -> None:
    """Score predictions on a benchmark (MCQ exact letter, numbers by MRA, boxes by IoU); optionally run a model."""
    from ladderdata.eval.hints import Hint
    from ladderdata.eval.report import evaluate, load_bench
    from ladderdata.prompts import PromptStyle

    if predictions is None and model is None:
        raise LadderError("give --predictions FILE, or --model PATH to produce them")
    style = {"direct": PromptStyle.ANSWER, "think": PromptStyle.THINK}.get(prompt)
    if style is None:
        raise LadderError(f"--prompt must be direct or think, not {prompt!r}")
    try:
        hint = Hint(hints)
    except ValueError:
        raise LadderError(f"--hints must be none, boxes or arrows, not {hints!r}") from None
    if model is not None:
        try:
            from laddertrain import inference
        except ImportError as e:
            raise LadderError(f"--model needs the train extra (pip install 'ladder[train]'): {e}") from None
        rows = load_bench(bench, with_images=True)
        predictions = predictions or (out or Path(f"eval-{model.name}")) / "predictions.jsonl"
        with _progress() as progress:
            task = progress.add_task("answering", total=len(rows))
            if backend == "vllm":
                answers = inference.predict_vllm(rows, model, style, hint, max_new_tokens)
            elif backend == "transformers":
                answers = inference.predict_transformers(
                    rows, model, style, hint, batch_size, max_new_tokens, lambda n: progress.advance(task, n)
                )
            else:
                raise LadderError(f"--backend must be transformers or vllm, not {backend!r}")
        inference.write_predictions(answers, predictions)
        log.info("wrote %d predictions to %s", len(answers), predictions)
    assert predictions is not None
    report_dir = out or predictions.parent
    summary = evaluate(bench, predictions, report_dir, model.name if model else predictions.stem)
    for dataset, s in summary.items():
        log.info(
            "%s: avg %.1f (NQ %s, MCQ %s) over %d questions",
            dataset,
            s["avg"],
            s["nq_avg"],
            s["mcq_avg"],
            s["questions"],
        )
    log.info("report: %s", report_dir / "report.md")


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
    from ladderdata.sources.synthetic import SynthConfig

    root = out / "scannet"
    run_synth(root, SynthConfig(workers=workers))
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


def _add_train_commands() -> None:
    """``ladder train ...`` comes from laddertrain (its CLI module imports no torch until a command runs)."""
    try:
        from laddertrain.cli import train_app
    except ImportError:  # a ladderdata-only install
        return
    app.add_typer(train_app, name="train")


_add_train_commands()


def entrypoint() -> None:
    try:
        app()
    except LadderError as e:
        console.print(f"[red]error:[/red] {e}")
        raise SystemExit(2) from None
