"""The ``ladder`` command line."""

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ladderdata.cache import is_out_of_space
from ladderdata.errors import LadderError, OutOfSpaceError, validation_text
from ladderdata.executor.base import ExecutorKind, describe_failure
from ladderdata.extensions import Extension, load_extensions
from ladderdata.layout import FramesLayout

if TYPE_CHECKING:
    from ladderdata.executor import Executor
    from ladderdata.extensions import AnswerBackend
    from ladderdata.pipeline import BuildConfig
    from ladderdata.sources.base import ScanSourceConfig
    from ladderdata.sources.synthetic import SynthConfig

#: Exit codes (docs/reliability.md): some scans failed; bad configuration or input; no space left on the device;
#: a requested benchmark ended up with no question (build-bench); an internal error (a bug: one line, the
#: traceback with --verbose); interrupted (Ctrl-C, as shells report SIGINT).
SCANS_FAILED, BAD_CONFIG, OUT_OF_SPACE, EMPTY_BENCHMARK, INTERNAL_ERROR, INTERRUPTED = 1, 2, 3, 4, 70, 130

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


STAGE_LABELS = {"draft": "drafting scans", "write": "writing shards"}


class StageBars:
    """One progress bar per build stage that fans out (drafting scans, writing shards)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def start(self, stage: str, total: int) -> None:
        self.tasks[stage] = self.progress.add_task(STAGE_LABELS.get(stage, stage), total=total)

    def advance(self, stage: str) -> None:
        self.progress.advance(self.tasks[stage])


# options shared by the commands that read scans and fan out work
Scans = Annotated[
    list[Path],
    typer.Option("--scans", help="root of scans (ScanNet, ScanNet++ or ARKitScenes); repeat to mix several roots"),
]
Source = Annotated[
    list[str] | None,
    typer.Option(
        help="scannet, scannetpp or arkitscenes (or a plugin's): once for every --scans root or once per root, in "
        "order; default: detected from each root's layout"
    ),
]
Workers = Annotated[
    int | None, typer.Option(min=1, help="local: worker processes (default 1); ray: tasks in flight (default all)")
]
ExecutorOption = Annotated[ExecutorKind, typer.Option("--executor", help="local (this machine) or ray (a Ray cluster)")]
RayAddress = Annotated[
    str | None, typer.Option(help="Ray cluster to join (auto, ray://HOST:10001); default: a local one for the run")
]
FrameStride = Annotated[
    int | None, typer.Option(min=1, help="override the recipe's: keep frames whose number is a multiple of K")
]


def open_run_executor(kind: ExecutorKind, workers: int | None, ray_address: str | None) -> "Executor":
    from ladderdata.executor import ExecutorConfig, open_executor

    if ray_address is not None and kind is not ExecutorKind.RAY:
        raise LadderError("--ray-address needs --executor ray")
    return open_executor(ExecutorConfig(kind=kind, workers=workers, ray_address=ray_address))


def scan_source(
    names: list[str] | None, roots: list[Path], frames_layout: FramesLayout | None = None
) -> "ScanSourceConfig":
    """The source config of ``--scans`` roots: each root's ``--source`` (or the one detected from its layout),
    several roots as one mixed source. ``--frames-layout`` applies to the ScanNet roots."""
    from ladderdata.sources.base import detect_source, source_config

    if not roots:
        raise LadderError("give --scans ROOT (repeatable)")
    names = list(names or [])
    if len(names) not in (0, 1, len(roots)):
        raise LadderError(f"give --source once, or once per --scans root ({len(roots)}), not {len(names)} times")
    chosen = [names[0] if len(names) == 1 else names[i] if names else detect_source(r) for i, r in enumerate(roots)]
    if frames_layout is not None and "scannet" not in chosen:
        raise LadderError("--frames-layout picks among ScanNet's frame layouts; no --scans root is read as scannet")
    parts = [
        source_config(name, root=root, frames_layout=frames_layout if name == "scannet" else None)
        for name, root in zip(chosen, roots, strict=True)
    ]
    return parts[0] if len(parts) == 1 else source_config("mixed", parts=parts)


def run_synth(out: Path, config: "SynthConfig", executor: "Executor") -> list[str]:
    from ladderdata.sources.synthetic import SynthFormat
    from ladderdata.sources.synthetic_formats import synthesize

    start = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task("synthesising scans", total=config.scenes)
        ids = synthesize(out, config, executor, progress=lambda _: progress.advance(task))
    layouts = ", ".join(config.layouts) if config.format is SynthFormat.SCANNET else config.format.value
    log.info("wrote %d synthetic scans (%s) to %s in %.1f s", len(ids), layouts, out, time.perf_counter() - start)
    return ids


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="root folder to write")],
    format: Annotated[
        str, typer.Option("--format", help="layout to write: scannet, scannetpp or arkitscenes")
    ] = "scannet",
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
    workers: Workers = None,
    executor: ExecutorOption = ExecutorKind.LOCAL,
    ray_address: RayAddress = None,
) -> None:
    """Write synthetic scans (ScanNet, ScanNet++ or ARKitScenes layout) with exact ground truth
    (synthetic_gt/<scan>.json)."""
    from ladderdata.sources.synthetic import SynthConfig, SynthFormat

    try:
        chosen = SynthFormat(format)
    except ValueError:
        raise LadderError(f"--format must be one of {', '.join(SynthFormat)}, not {format!r}") from None
    if chosen is not SynthFormat.SCANNET and (frames_layout or posed_max_images is not None):
        raise LadderError("--frames-layout and --posed-max-images are ScanNet's: use them with --format scannet")
    config = SynthConfig(
        format=chosen,
        scenes=scenes,
        seed=seed,
        frames=frames,
        objects=objects,
        mesh_vertices=mesh_vertices,
        posed_max_images=posed_max_images,
        layouts=frames_layout or [FramesLayout.SENS],
    )
    with open_run_executor(executor, workers, ray_address) as runner:
        run_synth(out, config, runner)


def summarise_scans(source_config: "ScanSourceConfig", split: str | None) -> int:
    """Load every scan of a source and print a table; returns the number of scans that failed."""
    from ladderdata.sources.base import open_source

    source = open_source(source_config)
    source.check_shared_inputs()
    ids = source.scan_ids(split)
    table = Table("scan", "type", "objects", "categories", "frames", "invalid poses", "layout")
    failures: dict[str, str] = {}
    with _progress() as progress:
        for scan_id in progress.track(ids, description="reading scans"):
            try:
                scan = source.load(scan_id)
            except Exception as e:  # one bad scan costs that scan only (as in every command that reads scans)
                failures[scan_id] = describe_failure(scan_id, e)
                log.error("%s", failures[scan_id])
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
    scans: Scans,
    split: Annotated[str | None, typer.Option(help="train, val or test (needs scannetv2_<split>.txt)")] = None,
    frames_layout: FramesLayout | None = None,
    source: Source = None,
) -> None:
    """Read every scan and summarise it (objects, frames, invalid poses); bad scans are reported, not fatal."""
    failed = summarise_scans(scan_source(source, scans, frames_layout), split)
    raise typer.Exit(SCANS_FAILED if failed else 0)


def run_metadata(
    source_config: "ScanSourceConfig", out: Path, split: str | None, frame_stride: int, executor: "Executor"
) -> int:
    """Compute per-view metadata for every scan; returns the number of scans that failed."""
    from ladderdata.metadata.config import MetadataConfig
    from ladderdata.metadata.extract import process_scans
    from ladderdata.sources.base import open_source

    source = open_source(source_config)
    source.check_shared_inputs()
    scan_ids = source.scan_ids(split)
    config = MetadataConfig(frame_stride=frame_stride)
    start = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task("per-view metadata", total=len(scan_ids))
        results = process_scans(source_config, scan_ids, config, out, executor, lambda _: progress.advance(task))
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
    scans: Scans,
    out: Annotated[Path, typer.Option(help="folder for <scan>.parquet files (the cache)")],
    split: Annotated[str | None, typer.Option(help="train, val or test")] = None,
    frame_stride: Annotated[
        int, typer.Option(min=1, help="keep frames whose number is a multiple of K (and whose pose is valid)")
    ] = 10,
    source: Source = None,
    workers: Workers = None,
    executor: ExecutorOption = ExecutorKind.LOCAL,
    ray_address: RayAddress = None,
) -> None:
    """Per-view metadata (objects seen, visibility, 2D boxes, depth) for every scan, cached per scan."""
    with open_run_executor(executor, workers, ray_address) as runner:
        failed = run_metadata(scan_source(source, scans), out, split, frame_stride, runner)
    raise typer.Exit(SCANS_FAILED if failed else 0)


def run_build(config: "BuildConfig", executor: "Executor") -> int:
    """Build a dataset with progress bars and a final summary; returns the number of scans that failed."""
    from ladderdata.pipeline import build_dataset

    start = time.perf_counter()
    with _progress() as progress:
        summary = build_dataset(config, executor, StageBars(progress))
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
    if summary.shortfall is not None and summary.shortfall.empty:
        log.warning("%s", summary.shortfall.message(config.recipe.name))
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
    scans: Scans,
    out: Annotated[Path, typer.Option(help="dataset folder to write (shards, card, manifest, stats)")],
    split: Annotated[str, typer.Option(help="train, val, test, all, or a file of scan ids")] = "train",
    recipe: Annotated[str, typer.Option(help="built-in recipe name or YAML file")] = "spatialladder-26k",
    seed: int = 0,
    limit_scenes: Annotated[int | None, typer.Option(min=1, help="use only the first K scans")] = None,
    frame_stride: FrameStride = None,
    frames_layout: FramesLayout | None = None,
    exclude_bench: Annotated[
        list[Path] | None, typer.Option(help="built benchmark whose rooms must not be used (repeatable)")
    ] = None,
    source: Source = None,
    workers: Workers = None,
    executor: ExecutorOption = ExecutorKind.LOCAL,
    ray_address: RayAddress = None,
) -> None:
    """Generate spatial QA and localization shards (Hugging Face Parquet) from scans; resumes when rerun."""
    from ladderdata.pipeline import BuildConfig
    from ladderdata.recipe import Recipe

    config = BuildConfig(
        source=scan_source(source, scans, frames_layout),
        out=out,
        split=split,
        recipe=Recipe.load(recipe).with_frame_stride(frame_stride),
        seed=seed,
        limit_scenes=limit_scenes,
        exclude=exclude_bench or [],
    )
    with open_run_executor(executor, workers, ray_address) as runner:
        failed = run_build(config, runner)
    raise typer.Exit(SCANS_FAILED if failed else 0)


@app.command("build-bench")
def build_bench_command(
    scans: Scans,
    out: Annotated[Path, typer.Option(help="folder for the benchmarks (one sub-folder each)")],
    split: Annotated[str, typer.Option(help="split whose list (scannetv2_<split>.txt) names the scans")] = "val",
    split_file: Annotated[Path | None, typer.Option(help="file of scan ids, instead of the root's split list")] = None,
    benchmark: Annotated[
        list[str] | None, typer.Option(help="spbench-si, spbench-mv, vsi-video or a recipe file (repeatable)")
    ] = None,
    video: Annotated[bool, typer.Option(help="also build vsi-video (all seven types on videos)")] = False,
    seed: int = 0,
    limit_scenes: Annotated[int | None, typer.Option(min=1)] = None,
    frame_stride: FrameStride = None,
    frames_layout: FramesLayout | None = None,
    source: Source = None,
    workers: Workers = None,
    executor: ExecutorOption = ExecutorKind.LOCAL,
    ray_address: RayAddress = None,
) -> None:
    """Build held-out SPBench-style benchmarks from validation scans (stricter filters, no near-duplicates).

    Warns when a benchmark gets fewer questions than its target, saying why; exits 4 when one gets none.
    """
    from ladderdata.bench.build import BENCHMARKS, VIDEO_BENCHMARK, build_benchmarks

    names = list(benchmark or BENCHMARKS) + ([VIDEO_BENCHMARK] if video else [])
    start = time.perf_counter()
    with open_run_executor(executor, workers, ray_address) as runner, _progress() as progress:
        summaries = build_benchmarks(
            scan_source(source, scans, frames_layout),
            out,
            names,
            split,
            split_file,
            seed,
            limit_scenes,
            frame_stride,
            runner,
            StageBars(progress),
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
    empty = [name for name, summary in summaries.items() if not sum(summary.rows.values())]
    if empty:
        log.error("empty benchmarks: %s (the warnings above say why)", ", ".join(empty))
        raise typer.Exit(EMPTY_BENCHMARK)
    raise typer.Exit(SCANS_FAILED if failed else 0)


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
    scoring: Annotated[
        list[str] | None,
        typer.Option(help="ladder, spatialladder, vsibench or all (repeatable: the modes side by side)"),
    ] = None,
) -> None:
    """Score predictions on a benchmark (MCQ exact letter, numbers by MRA, boxes by IoU); optionally run a model."""
    from ladderdata.eval.hints import Hint
    from ladderdata.eval.report import evaluate, load_bench, scoring_modes
    from ladderdata.prompts import PromptStyle

    modes = scoring_modes(scoring or [])
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
        from ladderdata.eval.report import write_predictions
        from ladderdata.extensions import AnswerRequest

        answer = answer_backend(backend)
        rows = load_bench(bench, with_images=True)
        predictions = predictions or (out or Path(f"eval-{model.name}")) / "predictions.jsonl"
        request = AnswerRequest(style=style, hint=hint, batch_size=batch_size, max_new_tokens=max_new_tokens)
        with _progress() as progress:
            task = progress.add_task("answering", total=len(rows))
            answers = answer(rows, model, request, lambda n: progress.advance(task, n))
        write_predictions(answers, predictions)
        log.info("wrote %d predictions to %s", len(answers), predictions)
    assert predictions is not None
    report_dir = out or predictions.parent
    name = model.name if model else predictions.stem
    summaries = evaluate(bench, predictions, report_dir, name, modes, thinking=style is PromptStyle.THINK)
    for mode, per_dataset in summaries.items():
        for dataset, s in per_dataset.items():
            log.info(
                "%s, %s scoring: avg %s (NQ %s, MCQ %s) over %d questions, %d errors, %d without a prediction",
                dataset,
                mode,
                s["avg"],
                s["nq_avg"],
                s["mcq_avg"],
                s["scored"],
                len(s["errors"]),
                s["missing_predictions"],
            )
    log.info("report: %s", report_dir / "report.md")


@app.command("export")
def export_command(
    bench: Annotated[Path, typer.Argument(help="a benchmark (or folder of benchmarks) written by build-bench")],
    format: Annotated[str, typer.Option("--format", help="spatialladder or vsibench")],
    out: Annotated[Path, typer.Option(help="folder for the exported benchmarks (one sub-folder each)")],
    fps: Annotated[
        float, typer.Option(help="frame rate of exported videos (one video frame per benchmark frame)")
    ] = 2.0,
) -> None:
    """Write a benchmark in the layout, file names, fields and media an official evaluator reads."""
    from ladderdata.eval.export import ExportFormat, export_benchmark

    try:
        chosen = ExportFormat(format)
    except ValueError:
        raise LadderError(f"--format must be spatialladder or vsibench, not {format!r}") from None
    results = export_benchmark(bench, out, chosen, fps)
    table = Table("benchmark", "questions", "file", "images", "videos", title=f"{chosen} export in {out}")
    for r in results:
        table.add_row(r.benchmark, f"{r.rows:,}", r.parquet, f"{len(r.images):,}", f"{len(r.videos):,}")
    Console().print(table)


@app.command()
def push(
    folder: Annotated[Path, typer.Argument(help="a dataset (build-dataset --out) or benchmarks (build-bench --out)")],
    repo: Annotated[str, typer.Option(help="Hub dataset repository to push to: USER/NAME or ORG/NAME")],
    private: Annotated[bool, typer.Option(help="create the repository private (an existing one is unchanged)")] = False,
    dry_run: Annotated[bool, typer.Option(help="list the files and sizes that would be sent; send nothing")] = False,
    revision: Annotated[str | None, typer.Option(help="branch to push to, created if needed (default: main)")] = None,
) -> None:
    """Upload shards, card, manifest, stats and previews to a Hugging Face dataset repository (one commit).

    The card is checked against the Hub's metadata rules first; nothing under .ladder-work/ is ever sent.
    """
    from ladderdata.io.push import plan_push
    from ladderdata.io.push import push as push_plan

    plan = plan_push(folder, repo)
    table = Table("file", "bytes", title=f"{'would send' if dry_run else 'sending'} to {repo} ({plan.kind})")
    for f in plan.files:
        table.add_row(f.repo_path, f"{f.size:,}")
    table.add_row(f"{len(plan.files)} files", f"{plan.total_bytes:,}")
    Console().print(table)
    if dry_run:
        return
    url = push_plan(plan, private=private, revision=revision)
    log.info("pushed %d files (%s bytes) to %s: %s", len(plan.files), f"{plan.total_bytes:,}", repo, url)


@app.command()
def preview(
    dataset: Annotated[Path, typer.Argument(help="a folder written by build-dataset, or build-bench's --out folder")],
    out: Annotated[Path | None, typer.Option(help="folder for the PNG sheets (default DATASET/preview)")] = None,
    samples: Annotated[int, typer.Option(min=1, help="random samples per sheet")] = 12,
    seed: Annotated[int, typer.Option(help="which samples are drawn")] = 0,
) -> None:
    """Render one PNG contact sheet per subset (or benchmark) of random samples: objects' boxes and labels on
    single images, multi-view sets and video frames in grids, question, options and answer with its unit.

    Example: ladder preview demo/dataset --samples 16
    """
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
    dataset = out / "dataset"
    with open_run_executor(ExecutorKind.LOCAL, workers, None) as runner:
        run_synth(root, SynthConfig(), runner)
        recipe = Recipe.load("spatialladder-26k").with_frame_stride(2)
        failed = run_build(
            BuildConfig(source=scan_source(["scannet"], [root]), out=dataset, split="all", recipe=recipe), runner
        )
    for path in render_preview(dataset):
        log.info("preview: %s", path)
    raise typer.Exit(SCANS_FAILED if failed else 0)


@app.command()
def schemas(out: Annotated[Path, typer.Option(help="folder for the JSON Schemas")] = Path("schemas")) -> None:
    """Regenerate the JSON Schemas of every record and config."""
    from ladderdata.schemas import write_schemas

    for path in write_schemas(out):
        log.info("wrote %s", path)


def answer_backend(name: str) -> "AnswerBackend":
    """The ``--backend`` that answers with ``--model``, from the installed extensions."""
    offered = [(ext, b) for ext in load_extensions() for b in ext.answer_backends.items()]
    if not offered:
        raise LadderError("ladder eval --model needs the train extra: pip install 'ladder[train]'")
    for ext, (backend_name, backend) in offered:
        if backend_name == name:
            if ext.missing():
                raise LadderError(f"ladder eval --model needs the {ext.extra} extra: {ext.install_hint}")
            return backend
    raise LadderError(f"--backend must be one of {', '.join(sorted(n for _, (n, _b) in offered))}, not {name!r}")


def needs_extra(name: str, extension: Extension) -> None:
    """Stand in for an extension's command group whose dependencies are missing: one line, exit 2."""

    @app.command(
        name,
        help=f"(needs the {extension.extra} extra: {extension.install_hint})",
        add_help_option=False,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def missing(ctx: typer.Context) -> None:
        raise LadderError(f"ladder {name} needs the {extension.extra} extra: {extension.install_hint}")


def add_extension_commands() -> None:
    """Command groups of the installed extensions (``ladder train`` from laddertrain)."""
    for extension in load_extensions():
        for name, group in extension.commands.items():
            if extension.missing():
                needs_extra(name, extension)
            else:
                app.add_typer(group, name=name)


add_extension_commands()


def _fail(code: int, label: str, text: str) -> NoReturn:
    console.print(f"[red]{label}:[/red] {escape(text)}", soft_wrap=True)
    raise SystemExit(code) from None


def entrypoint() -> None:
    """``ladder``: exit 0, 1 when some scans failed, 2 on a bad config or input, 3 when the disk is full, 70 on an
    internal error, 130 when interrupted. Every failure is one line on stderr, never a traceback."""
    try:
        app()
    except OutOfSpaceError as e:
        _fail(OUT_OF_SPACE, "out of space", str(e))
    except LadderError as e:
        _fail(BAD_CONFIG, "error", str(e))
    except ValidationError as e:
        _fail(BAD_CONFIG, "error", f"invalid settings: {validation_text(e)}")
    except OSError as e:
        if is_out_of_space(e):
            _fail(OUT_OF_SPACE, "out of space", f"{e}; free some and rerun: finished work is kept")
        _fail(BAD_CONFIG, "error", str(e))
    except SystemExit as e:
        if e.code == INTERRUPTED:  # typer turns Ctrl-C into this exit code, silently
            console.print("[yellow]interrupted:[/yellow] finished work is kept; rerun the same command to resume")
        raise
    except Exception as e:
        if log.isEnabledFor(logging.DEBUG):
            log.exception("internal error")
        _fail(
            INTERNAL_ERROR,
            "internal error",
            f"{type(e).__name__}: {e} (a bug in ladder: please report it; --verbose shows the traceback)",
        )
