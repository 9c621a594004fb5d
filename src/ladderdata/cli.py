"""The ``ladder`` command line."""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ladderdata.cache import is_out_of_space
from ladderdata.errors import ConfigError, LadderError, OutOfSpaceError, install_command, validation_text
from ladderdata.eval.hints import Hint
from ladderdata.executor.base import ExecutorKind, describe_failure
from ladderdata.extensions import BackendName, Extension, examples, load_extensions
from ladderdata.layout import FramesLayout
from ladderdata.metadata.config import MetadataConfig

if TYPE_CHECKING:
    from ladderdata.audit.report import DebiasConfig
    from ladderdata.executor import Executor
    from ladderdata.extensions import AnswerBackend
    from ladderdata.pipeline import BuildConfig, BuildSummary
    from ladderdata.recipe import Recipe
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
    from ladderdata.outputs import OneLineLogs

    handler = RichHandler(console=console, show_path=False)
    handler.addFilter(OneLineLogs())  # labels and paths from the user's files are echoed escaped
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(message)s", handlers=[handler], force=True
    )


def _progress() -> Progress:
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

    def __init__(self, progress: Progress, unit: str) -> None:
        self.progress, self.unit = progress, unit
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, name: str, done: int, total: int) -> None:
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(f"  {name}: {self.unit}", total=total)
        self.progress.update(self.tasks[name], completed=done, total=total)
        if done >= total:
            self.progress.remove_task(self.tasks.pop(name))


@contextmanager
def item_bars(executor: "Executor", progress: Progress, unit: str) -> Iterator[None]:
    """While the block runs, ``executor``'s items show their own progress in ``progress``."""
    executor.item_progress = ItemBars(progress, unit)
    try:
        yield
    finally:
        executor.item_progress = None


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


# options shared by the commands that read scans (SCANS in README's CLI table) and that fan out work (RUN)
Scans = Annotated[
    list[Path],
    typer.Option(
        "--scans",
        help="root of scans: ScanNet (holding scans/, or a folder of sceneXXXX_YY folders), ScanNet++ or "
        "ARKitScenes; repeat to mix several roots",
    ),
]
Source = Annotated[
    list[str] | None,
    typer.Option(
        help="scannet, scannetpp or arkitscenes (or a plugin's): once for every --scans root or once per root, in "
        "order; default: detected from each root's layout"
    ),
]
FramesLayoutOption = Annotated[
    FramesLayout | None,
    typer.Option(
        "--frames-layout",
        help="ScanNet frames to read: sens (.sens), export (SensReader folders) or posed (mmdetection3d "
        "posed_images); default the first present",
    ),
]
LabelTable = Annotated[
    Path | None,
    typer.Option(
        "--label-table",
        help="ScanNet's scannetv2-labels.combined.tsv, or ScanNet++'s class list (one class a line, like "
        "top100.txt); default: the one in the --scans root",
    ),
]
SplitDir = Annotated[
    Path | None,
    typer.Option(
        "--split-dir",
        help="folder holding the split lists (ScanNet: scannetv2_<split>.txt, ScanNet++: <split>.txt; "
        "default: in the --scans root)",
    ),
]
Workers = Annotated[
    int | None, typer.Option(min=1, help="local: worker processes (default 1); ray: tasks in flight (default all)")
]
ExecutorOption = Annotated[ExecutorKind, typer.Option("--executor", help="local (this machine) or ray (a Ray cluster)")]
RayAddress = Annotated[
    str | None,
    typer.Option(
        help="Ray cluster to join: its head's HOST:PORT (token: ~/.ray/auth_token or RAY_AUTH_TOKEN), auto, or "
        "ray://HOST:10001; default: a local one for the run"
    ),
]
#: ``MetadataConfig``'s frame stride, which every built-in recipe keeps (docs/scannet.md, "The frame stride").
DEFAULT_FRAME_STRIDE: int = MetadataConfig.model_fields["frame_stride"].default
FrameStride = Annotated[
    int | None,
    typer.Option(
        min=1, help=f"keep frames whose number is a multiple of K (default: the recipe's, {DEFAULT_FRAME_STRIDE})"
    ),
]
MetadataCache = Annotated[
    Path | None,
    typer.Option(
        "--metadata-cache",
        help="per-view metadata folder to reuse and fill, e.g. ladder metadata's --out "
        "(default OUT/.ladder-work/metadata)",
    ),
]
SPLIT_HELP = "train, val, test, all, or a file of scan ids (one per line)"
Seed = Annotated[int, typer.Option(help="seed of every random choice: same seed, same bytes")]
LimitScenes = Annotated[int | None, typer.Option(min=1, help="use only the first K scans of the split")]
Overwrite = Annotated[
    bool,
    typer.Option(
        help="replace ladder's earlier output in --out made with other settings (never a folder ladder did not write)"
    ),
]
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="say what the run would do (scans, views at the stride, videos, targets) and its estimated CPU time "
        "and disk, then exit without writing anything",
    ),
]
TasksModule = Annotated[
    list[Path] | None,
    typer.Option(
        "--tasks-module",
        help="a .py file registering tasks of your own (@register_task), imported before the recipe is read; "
        "repeatable; the recipe's tasks: then name them (docs/tasks.md)",
    ),
]


def recipe_with_task_modules(name: str, modules: list[Path] | None) -> "Recipe":
    """``--recipe`` with the tasks of ``--tasks-module`` files (imported first, so that the recipe may name and
    configure them; tasks it does not name are added with their defaults); the recipe carries the files to the
    workers."""
    from ladderdata.recipe import Recipe
    from ladderdata.tasks.modules import load_task_modules

    registered = load_task_modules(modules or [])
    return Recipe.load(name).with_task_modules(modules or []).with_tasks(registered)


#: Scans a real run looks at for its opening estimate (evenly spaced, scaled to all): --dry-run looks at every one.
ESTIMATE_SAMPLE = 64


def model_label(model: Path | None, predictions: Path | None) -> str:
    """A model's name in eval reports: its folder's last two parts (``runs/stage2/final`` -> ``stage2/final``,
    so that the stages' ``final`` folders tell apart), else the predictions file's name."""
    if model is not None:
        return "/".join(model.parts[-2:])
    return predictions.stem if predictions is not None else "model"


def counted(n: int, thing: str) -> str:
    """``"1 prediction"``, ``"2 predictions"``."""
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


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


def open_run_executor(kind: ExecutorKind, workers: int | None, ray_address: str | None) -> "Executor":
    from ladderdata.executor import ExecutorConfig, open_executor

    if ray_address is not None and kind is not ExecutorKind.RAY:
        raise LadderError("--ray-address needs --executor ray")
    return open_executor(ExecutorConfig(kind=kind, workers=workers, ray_address=ray_address))


def scan_source(
    names: list[str] | None,
    roots: list[Path],
    frames_layout: FramesLayout | None = None,
    label_table: Path | None = None,
    split_dir: Path | None = None,
) -> "ScanSourceConfig":
    """The source config of ``--scans`` roots: each root's ``--source`` (or the one detected from its layout),
    several roots as one mixed source. ``--frames-layout``, ``--label-table`` and ``--split-dir`` apply to the
    roots whose source has that setting (a ``LadderError`` when none has)."""
    from ladderdata.layout import check_scans_root

    if not roots:
        raise LadderError("give --scans ROOT (repeatable)")
    names = list(names or [])
    for root in [] if names else roots:  # roots to detect a source in, before the sources' imports (seconds)
        check_scans_root(root)
    from ladderdata.sources.base import detect_source, get_source, source_config

    if len(names) not in (0, 1, len(roots)):
        raise LadderError(f"give --source once, or once per --scans root ({len(roots)}), not {len(names)} times")
    chosen = [names[0] if len(names) == 1 else names[i] if names else detect_source(r) for i, r in enumerate(roots)]
    given = {"frames_layout": frames_layout, "label_table": label_table, "split_dir": split_dir}
    settings = [
        {k: v for k, v in given.items() if v is not None and k in get_source(name).config_class.model_fields}
        for name in chosen
    ]
    for field, value in given.items():
        if value is not None and not any(field in s for s in settings):
            option = "--" + field.replace("_", "-")
            raise LadderError(f"{option} is not a setting of {' or '.join(sorted(set(chosen)))}: leave it out")
    parts = [source_config(name, root=root, **s) for name, root, s in zip(chosen, roots, settings, strict=True)]
    return parts[0] if len(parts) == 1 else source_config("mixed", parts=parts)


def list_scans(config: "ScanSourceConfig", split: str) -> list[str]:
    """The scans a command will read; wrong paths, a missing label table or split list fail here, before any
    progress bar or worker starts."""
    from ladderdata.pipeline.plan import list_scans as listed
    from ladderdata.sources.base import open_source

    return listed(open_source(config), split)


def run_synth(out: Path, config: "SynthConfig", executor: "Executor") -> list[str]:
    from ladderdata.sources.synthetic import SynthFormat, synthesized
    from ladderdata.sources.synthetic_formats import synthesize

    held = synthesized(out, config)
    if held is not None:
        log.info("%s already holds these %d synthetic scans: nothing to write", out, len(held))
        return held
    start = time.perf_counter()
    with _progress() as progress, item_bars(executor, progress, "frames written"):
        task = progress.add_task("synthesising scans", total=config.scenes)
        ids = synthesize(out, config, executor, progress=lambda _: progress.advance(task))
    layouts = ", ".join(config.layouts) if config.format is SynthFormat.SCANNET else config.format.value
    log.info("wrote %d synthetic scans (%s) to %s in %.1f s", len(ids), layouts, out, time.perf_counter() - start)
    return ids


@app.command(
    epilog=examples(
        "ladder synth --out demo/scannet",
        "ladder synth --out big --scenes 1 --frames 2000 --objects 50 --mesh-vertices 150000 --workers 2",
        "ladder synth --out mm --frames-layout sens --frames-layout posed --posed-max-images 300",
        "ladder synth --out synth-pp --format scannetpp",
    )
)
def synth(
    out: Annotated[Path, typer.Option(help="root folder to write")],
    format: Annotated[
        str, typer.Option("--format", help="layout to write: scannet, scannetpp or arkitscenes")
    ] = "scannet",
    scenes: Annotated[int, typer.Option(min=1, help="scans to write (every 4th goes to the val split)")] = 4,
    seed: Annotated[int, typer.Option(help="which scenes: same seed, same bytes")] = 0,
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
    frames_layout: Annotated[
        list[FramesLayout] | None,
        typer.Option(help="frames layouts to write: sens, export, posed (repeat for several; default sens)"),
    ] = None,
    workers: Workers = None,
    executor: ExecutorOption = ExecutorKind.LOCAL,
    ray_address: RayAddress = None,
    overwrite: Overwrite = False,
    dry_run: DryRun = False,
) -> None:
    """Write synthetic scans (ScanNet, ScanNet++ or ARKitScenes layout) with exact ground truth
    (synthetic_gt/<scan>.json). A root that already holds the same scans is left as it is."""
    from ladderdata.outputs import claim_output
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
    from ladderdata.pipeline.estimate import synth_lines

    announce_plan(synth_lines(config), dry_run)

    claim_output(out, "synthetic scans", synth_settings(config), overwrite=overwrite)
    with open_run_executor(executor, workers, ray_address) as runner:
        run_synth(out, config, runner)


def synth_settings(config: "SynthConfig") -> dict[str, str]:
    """What decides a synthetic root's contents: a rerun with others replaces it."""
    return {k: str(v) for k, v in config.model_dump().items()}


def summarise_scans(source_config: "ScanSourceConfig", ids: list[str]) -> int:
    """Pre-flight every scan of ``ids`` (``sources.preflight``: files, load, poses, sample frames) and print a
    table; returns the number of scans that failed (a build would fail them too)."""
    from ladderdata.sources.base import open_source
    from ladderdata.sources.preflight import preflight

    source = open_source(source_config)
    table = Table()
    table.add_column("scan", overflow="fold")  # full ids, wrapped rather than cut
    for column in ("type", "objects", "categories", "frames", "invalid poses", "layout"):
        table.add_column(column)
    failures: dict[str, str] = {}
    with _progress() as progress:
        for scan_id in progress.track(ids, description="checking scans"):
            try:
                check = preflight(source, scan_id)
            except Exception as e:  # one bad scan costs that scan only (as in every command that reads scans)
                failures[scan_id] = describe_failure(scan_id, e)
                log.error("%s", failures[scan_id])
                continue
            table.add_row(
                scan_id,
                check.scene_type or "-",
                str(check.objects),
                str(check.categories),
                str(check.frames),
                str(check.invalid_poses),
                check.layout,
            )
    Console().print(table)
    log.info("%d scans ready, %d would fail", len(ids) - len(failures), len(failures))
    return len(failures)


@app.command(
    epilog=examples(
        "ladder scans --scans scannet --split val",
        "ladder scans --scans my_scans --label-table scannet/scannetv2-labels.combined.tsv",
        "ladder scans --scans scannet --scans scannetpp --scans arkitscenes   # one mixed source",
    )
)
def scans(
    scans: Scans,
    split: Annotated[str, typer.Option(help=SPLIT_HELP)] = "all",
    frames_layout: FramesLayoutOption = None,
    label_table: LabelTable = None,
    split_dir: SplitDir = None,
    source: Source = None,
) -> None:
    """Check every scan as a build would need it (files present, the scan loads, valid poses, sample frames
    decode) and summarise it; exit 1 when a scan would fail (each named with its file and reason)."""
    config = scan_source(source, scans, frames_layout, label_table, split_dir)
    failed = summarise_scans(config, list_scans(config, split))
    raise typer.Exit(SCANS_FAILED if failed else 0)


def run_metadata(
    source_config: "ScanSourceConfig", scan_ids: list[str], out: Path, frame_stride: int | None, executor: "Executor"
) -> int:
    """Compute per-view metadata for every scan; returns the number of scans that failed."""
    from ladderdata.metadata.extract import process_scans

    config = MetadataConfig().with_frame_stride(frame_stride)
    start = time.perf_counter()
    with _progress() as progress, item_bars(executor, progress, "views cast"):
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


@app.command(
    epilog=examples(
        "ladder metadata --scans scannet --out metadata --workers 8",
        "ladder metadata --scans scannet --out metadata --split val --frame-stride 5",
    )
)
def metadata(
    scans: Scans,
    out: Annotated[Path, typer.Option(help="folder for <scan>.parquet files, the cache --metadata-cache reads")],
    split: Annotated[str, typer.Option(help=SPLIT_HELP)] = "all",
    frame_stride: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=f"keep frames whose number is a multiple of K, among valid poses (default {DEFAULT_FRAME_STRIDE})",
        ),
    ] = None,
    frames_layout: FramesLayoutOption = None,
    label_table: LabelTable = None,
    split_dir: SplitDir = None,
    source: Source = None,
    workers: Workers = None,
    executor: ExecutorOption = ExecutorKind.LOCAL,
    ray_address: RayAddress = None,
    dry_run: DryRun = False,
) -> None:
    """Per-view metadata (objects seen, visibility, 2D boxes, depth) for every scan, cached per scan: reruns skip
    finished scans, and build-dataset/build-bench reuse it with --metadata-cache (same frame stride)."""
    from ladderdata.outputs import claim_output

    config = scan_source(source, scans, frames_layout, label_table, split_dir)
    ids = list_scans(config, split)
    from ladderdata.pipeline.estimate import metadata_estimate
    from ladderdata.sources.base import open_source

    stride = MetadataConfig().with_frame_stride(frame_stride).frame_stride
    sample = None if dry_run else ESTIMATE_SAMPLE
    announce_plan(metadata_estimate(open_source(config), ids, stride, sample).lines(), dry_run)

    claim_output(out, "metadata cache", inputs=scans)
    with open_run_executor(executor, workers, ray_address) as runner:
        failed = run_metadata(config, ids, out, frame_stride, runner)
    raise typer.Exit(SCANS_FAILED if failed else 0)


def run_build(config: "BuildConfig", executor: "Executor") -> "BuildSummary":
    """Build a dataset with progress bars and a final summary."""
    from ladderdata.pipeline import build_dataset

    start = time.perf_counter()
    with _progress() as progress, item_bars(executor, progress, "views cast"):
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
    return summary


def build_settings(config: "BuildConfig") -> dict[str, str | int]:
    """What decides a build's contents besides its scans: a rerun with others replaces the dataset."""
    from ladderdata.cache import content_key

    recipe = config.recipe.model_dump_json()
    return {"recipe": config.recipe.name, "recipe settings": content_key({"recipe": recipe})[:12], "seed": config.seed}


def check_benchmark_folders(folders: list[Path]) -> None:
    for folder in folders:
        if not folder.is_dir():
            raise ConfigError(f"--exclude-bench {folder} is not a folder: pass the --out folder of ladder build-bench")


@app.command(
    "build-dataset",
    epilog=examples(
        "ladder build-dataset --scans scannet --out dataset --exclude-bench bench --workers 8",
        "ladder build-dataset --scans demo/scannet --out small --split all --limit-scenes 2 --frame-stride 2",
        "ladder build-dataset --scans scannet --out ds --split my_scans.txt --recipe my_recipe.yaml",
    ),
)
def build_dataset_command(
    scans: Scans,
    out: Annotated[Path, typer.Option(help="dataset folder to write (shards, card, manifest, stats)")],
    split: Annotated[str, typer.Option(help=SPLIT_HELP)] = "train",
    recipe: Annotated[str, typer.Option(help="built-in recipe (spatialladder-26k, ...) or YAML file")] = (
        "spatialladder-26k"
    ),
    seed: Seed = 0,
    limit_scenes: LimitScenes = None,
    frame_stride: FrameStride = None,
    exclude_bench: Annotated[
        list[Path] | None,
        typer.Option(help="a build-bench --out folder: its rooms are not used (repeatable; check-leakage proves it)"),
    ] = None,
    metadata_cache: MetadataCache = None,
    frames_layout: FramesLayoutOption = None,
    label_table: LabelTable = None,
    split_dir: SplitDir = None,
    source: Source = None,
    workers: Workers = None,
    executor: ExecutorOption = ExecutorKind.LOCAL,
    ray_address: RayAddress = None,
    exclude_public: Annotated[
        str | None,
        typer.Option(help="public benchmarks whose scenes' rooms are not used: vsibench,spbench,spacer (shipped)"),
    ] = None,
    overwrite: Overwrite = False,
    dry_run: DryRun = False,
    tasks_module: TasksModule = None,
) -> None:
    """Generate spatial QA and localization shards (Hugging Face Parquet) from scans; resumes when rerun."""
    source_config = scan_source(source, scans, frames_layout, label_table, split_dir)  # before the pipeline's imports
    from ladderdata.io.public_scenes import public_names
    from ladderdata.outputs import claim_output
    from ladderdata.pipeline import BuildConfig

    config = BuildConfig(
        source=source_config,
        out=out,
        split=split,
        recipe=recipe_with_task_modules(recipe, tasks_module).with_frame_stride(frame_stride),
        seed=seed,
        limit_scenes=limit_scenes,
        exclude=exclude_bench or [],
        exclude_public=public_names(exclude_public or ""),
        metadata_cache=metadata_cache,
    )
    list_scans(config.source, config.split)
    check_benchmark_folders(config.exclude)
    from ladderdata.pipeline.estimate import build_estimate, planned_scans
    from ladderdata.sources.base import open_source

    sample = None if dry_run else ESTIMATE_SAMPLE
    plan = build_estimate(open_source(config.source), planned_scans(config), config.recipe, sample)
    announce_plan(plan.lines(), dry_run)

    claim_output(out, "dataset", build_settings(config), overwrite=overwrite, inputs=[*scans, *config.exclude])
    with open_run_executor(executor, workers, ray_address) as runner:
        summary = run_build(config, runner)
    raise typer.Exit(SCANS_FAILED if summary.failed else 0)


def run_bench(
    source: "ScanSourceConfig",
    out: Path,
    names: list[str],
    split: str,
    seed: int,
    limit_scenes: int | None,
    frame_stride: int | None,
    metadata_cache: Path | None,
    executor: "Executor",
    debias: "DebiasConfig | None" = None,
    task_modules: list[Path] | None = None,
) -> dict[str, "BuildSummary"]:
    """Build benchmarks with progress bars and a table of what was written."""
    from ladderdata.bench.build import build_benchmarks

    start = time.perf_counter()
    with _progress() as progress, item_bars(executor, progress, "views cast"):
        summaries = build_benchmarks(
            source,
            out,
            names,
            split,
            seed=seed,
            limit_scenes=limit_scenes,
            frame_stride=frame_stride,
            executor=executor,
            progress=StageBars(progress),
            metadata_cache=metadata_cache,
            debias=debias,
            task_modules=task_modules,
        )
    table = Table("benchmark", "questions", "scans", "failed scans", title=f"benchmarks written to {out}")
    for name, summary in summaries.items():
        table.add_row(name, f"{sum(summary.rows.values()):,}", str(len(summary.scans)), str(len(summary.failed)))
        for scan_id, error in sorted(summary.failed.items()):
            log.error("%s: failed scan %s: %s", name, scan_id, error)
    Console().print(table)
    log.info("built %d benchmarks in %.1f s", len(summaries), time.perf_counter() - start)
    return summaries


@app.command(
    "build-bench",
    epilog=examples(
        "ladder build-bench --scans scannet --out bench",
        "ladder build-bench --scans scannet --out bench --video --metadata-cache metadata --workers 8",
        "ladder build-bench --scans scannet --out bench --split my_val.txt --benchmark spbench-si",
    ),
)
def build_bench_command(
    scans: Scans,
    out: Annotated[Path, typer.Option(help="folder for the benchmarks (one sub-folder each)")],
    split: Annotated[str, typer.Option(help="val (scannetv2_val.txt), another split, or a file of scan ids")] = "val",
    benchmark: Annotated[
        list[str] | None,
        typer.Option(
            help="spbench-si, spbench-mv, vsi-video, vsti-video or a recipe file (repeatable; default spbench-si, -mv)"
        ),
    ] = None,
    video: Annotated[
        bool, typer.Option(help="also build vsi-video (VSI-Bench's 8 types) and vsti-video (VSTI-Bench's) on videos")
    ] = False,
    seed: Seed = 0,
    limit_scenes: LimitScenes = None,
    frame_stride: FrameStride = None,
    metadata_cache: MetadataCache = None,
    frames_layout: FramesLayoutOption = None,
    label_table: LabelTable = None,
    split_dir: SplitDir = None,
    source: Source = None,
    workers: Workers = None,
    executor: ExecutorOption = ExecutorKind.LOCAL,
    ray_address: RayAddress = None,
    debias: Annotated[
        bool, typer.Option(help="prune the questions a k-fold text-only model answers (needs the audit extra)")
    ] = False,
    debias_margin: Annotated[
        float, typer.Option(min=0, max=1, help="--debias: stop within this of chance (0.05 = 5 points)")
    ] = 0.05,
    debias_budget: Annotated[
        float, typer.Option(min=0, max=1, help="--debias: remove at most this fraction of each question type")
    ] = 0.3,
    overwrite: Overwrite = False,
    dry_run: DryRun = False,
    tasks_module: TasksModule = None,
) -> None:
    """Build held-out SPBench-style benchmarks from validation scans (stricter filters, no near-duplicates).

    Warns when a benchmark gets fewer questions than its target, saying why; exits 4 when one gets none.
    """
    config = scan_source(source, scans, frames_layout, label_table, split_dir)  # before the benchmarks' imports
    from ladderdata.audit.report import DebiasConfig
    from ladderdata.bench.build import BENCHMARKS, VIDEO_BENCHMARKS
    from ladderdata.outputs import claim_output
    from ladderdata.recipe import Recipe

    names = list(benchmark or BENCHMARKS) + (list(VIDEO_BENCHMARKS) if video else [])
    ids = list_scans(config, split)[:limit_scenes]
    from ladderdata.pipeline.estimate import bench_lines
    from ladderdata.tasks.modules import load_task_modules

    load_task_modules(tasks_module or [])  # before the recipes, which may name its tasks
    pruning = DebiasConfig(margin=debias_margin, max_removed=debias_budget, seed=seed) if debias else None
    if pruning is not None:
        from ladderdata.audit.blind import require_sklearn

        require_sklearn()  # before any scan is built
    for name in names:  # every recipe is checked before the output folder is claimed (nothing written on bad input)
        Recipe.load(name).with_frame_stride(frame_stride)
    sample = None if dry_run else ESTIMATE_SAMPLE
    announce_plan(bench_lines(config, ids, names, frame_stride, sample, tasks_module or []), dry_run)
    stride = frame_stride or DEFAULT_FRAME_STRIDE
    claim_output(out, "benchmarks", {"seed": seed, "frame stride": stride}, overwrite=overwrite, inputs=scans)
    with open_run_executor(executor, workers, ray_address) as runner:
        summaries = run_bench(
            config, out, names, split, seed, limit_scenes, frame_stride, metadata_cache, runner, pruning, tasks_module
        )
    empty = [name for name, summary in summaries.items() if not sum(summary.rows.values())]
    if empty:
        log.error("empty benchmarks: %s (the warnings above say why)", ", ".join(empty))
        raise typer.Exit(EMPTY_BENCHMARK)
    raise typer.Exit(SCANS_FAILED if any(s.failed for s in summaries.values()) else 0)


def leakage_check(train: Path, bench: Path) -> bool:
    """Log whether a room is in both a training dataset and a benchmark (and near-duplicate questions); True when
    no room is."""
    from ladderdata.bench.leakage import check_leakage

    report = check_leakage(train, bench)
    if report.clean:
        log.info(
            "leakage check passed: none of the %d benchmark rooms of %s is among the %d training rooms of %s",
            report.bench_rooms,
            bench,
            report.train_rooms,
            train,
        )
        return True
    log.error(
        "%d room%s in both %s and %s (%s): rebuild the training data with "
        "`ladder build-dataset ... --exclude-bench %s`, which leaves them out",
        len(report.overlap),
        " is" if len(report.overlap) == 1 else "s are",
        train,
        bench,
        ", ".join(report.overlap[:20]) + (", ..." if len(report.overlap) > 20 else ""),
        bench,
    )
    if report.near_duplicates:
        log.error(
            "%d training questions repeat a benchmark question (same room, question type and objects), e.g. %s",
            len(report.near_duplicates),
            ", ".join(f"{a} ~ {b}" for a, b in report.near_duplicates[:5]),
        )
    return False


def public_leakage_check(train: Path, names: list[str]) -> bool:
    """Log the rooms of ``train`` that the shipped scene lists of public benchmarks use; True when none is."""
    from ladderdata.io.public_scenes import public_overlap

    clean = True
    for name in names:
        overlap = public_overlap(train, name)
        if overlap:
            clean = False
            log.error(
                "%d room%s of %s %s used by %s (%s): rebuild with `ladder build-dataset ... --exclude-public %s`",
                len(overlap),
                "" if len(overlap) == 1 else "s",
                train,
                "is" if len(overlap) == 1 else "are",
                name,
                ", ".join(overlap[:20]) + (", ..." if len(overlap) > 20 else ""),
                name,
            )
        else:
            log.info("no room of %s is used by %s (shipped scene list)", train, name)
    return clean


@app.command(
    "check-leakage",
    epilog=examples(
        "ladder check-leakage dataset bench",
        "ladder check-leakage demo/dataset demo/bench/spbench-si",
        "ladder check-leakage dataset --against vsibench,spbench",
    ),
)
def check_leakage_command(
    train: Annotated[Path, typer.Argument(help="a dataset written by build-dataset")],
    bench: Annotated[
        Path | None, typer.Argument(help="a benchmark (or folder of benchmarks) written by build-bench")
    ] = None,
    against: Annotated[
        str | None, typer.Option(help="public benchmarks to compare with: vsibench,spbench,spacer (shipped lists)")
    ] = None,
) -> None:
    """Prove zero room overlap between training data and a benchmark (rescans of a room count as the room) and/or
    the public benchmarks' scene lists; exit 1 when a room is in both."""
    from ladderdata.io.public_scenes import public_names

    names = public_names(against or "")
    if bench is None and not names:
        raise ConfigError("give a benchmark folder, --against vsibench,..., or both")
    clean = leakage_check(train, bench) if bench is not None else True
    if names:
        clean = public_leakage_check(train, names) and clean
    if not clean:
        raise typer.Exit(1)


@app.command(
    "audit",
    epilog=examples("ladder audit bench", "ladder audit bench/spbench-si --folds 10 --out audit-si"),
)
def audit_command(
    folder: Annotated[Path, typer.Argument(help="a benchmark, a folder of benchmarks, or a dataset")],
    out: Annotated[Path | None, typer.Option(help="folder for audit.json and audit.md (default: FOLDER)")] = None,
    folds: Annotated[int, typer.Option(min=2, max=50, help="k of the k-fold text-only model")] = 5,
    seed: Seed = 0,
) -> None:
    """Blind baselines per question type: chance, most frequent / median answer and a k-fold text-only model (the
    audit extra: scikit-learn), with every question's blind-answerability."""
    from ladderdata.audit.report import run_audit

    report = run_audit(folder, out, folds, seed)
    table = Table("benchmark", "type", "metric", "n", "chance", "frequent/median", "text-only", title="blind audit")
    for t in report.types:
        cells = ["-" if v is None else f"{100 * v:.1f}" for v in (t.chance, t.frequent, t.blind_model)]
        table.add_row(t.benchmark, t.question_type, t.metric, str(t.questions), *cells)
    Console().print(table)
    log.info("audit: %s", (out or folder) / "audit.md")


class PromptChoice(StrEnum):
    DIRECT = "direct"
    THINK = "think"


@app.command(
    "eval",
    epilog=examples(
        "ladder eval --bench bench --predictions preds.jsonl",
        "ladder eval --bench bench --predictions SPBench-SI_results.jsonl --scoring all",
        "ladder eval --bench bench/spbench-si --model runs/stage3/final --prompt think --backend vllm",
    ),
)
def eval_command(
    bench: Annotated[Path, typer.Option(help="a benchmark folder (or folder of benchmarks)")],
    predictions: Annotated[
        Path | None, typer.Option(help='JSON Lines of {"id", "prediction"}; written here when --model is given')
    ] = None,
    model: Annotated[Path | None, typer.Option(help="local Hugging Face VLM folder to answer the questions")] = None,
    prompt: Annotated[PromptChoice, typer.Option(help="direct (stage-2 prompt) or think (stage-3 prompt)")] = (
        PromptChoice.DIRECT
    ),
    backend: Annotated[BackendName, typer.Option(help="what runs --model: transformers or vllm (GPU extra)")] = (
        BackendName.TRANSFORMERS
    ),
    hints: Annotated[Hint, typer.Option(help="with --model: none, boxes or arrows drawn on images (paper App. A)")] = (
        Hint.NONE
    ),
    batch_size: Annotated[int, typer.Option(min=1, help="with --model: questions answered at once")] = 4,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="with --model: tokens generated per answer, at most")] = 64,
    out: Annotated[
        Path | None, typer.Option(help="folder for report.md/json (default: beside predictions, or eval-<model>)")
    ] = None,
    scoring: Annotated[
        list[str] | None,
        typer.Option(
            help="ladder, spatialladder, thinking-in-space (alias vsibench), lmms-eval, vstibench or all (repeatable: "
            "the modes side by side; all leaves out, and reports, a mode whose tool refuses a benchmark)"
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            help="the model's name in the report (default: --model's last two path parts, runs/stage2/final -> "
            "stage2/final; else the predictions file's name)"
        ),
    ] = None,
) -> None:
    """Score predictions on a benchmark (MCQ exact letter, numbers by MRA, boxes by IoU); optionally run a model."""
    from ladderdata.eval.report import evaluate
    from ladderdata.eval.scorers import RefusedSummary, scoring_modes
    from ladderdata.io.dataset import BenchReader
    from ladderdata.outputs import claim_files, refuse_inside_inputs
    from ladderdata.prompts import PromptStyle

    modes = scoring_modes(scoring or [])
    if predictions is None and model is None:
        raise LadderError("give --predictions FILE, or --model PATH to produce them")
    report_dir = out or (predictions.parent if predictions is not None else Path(f"eval-{model.name if model else ''}"))
    refuse_inside_inputs(report_dir, [bench])

    def claim_reports() -> None:  # before answering or scoring, after the checks that need nothing written
        claim_files(report_dir, ["report.md", "report.json", "scores.jsonl"], "eval report")

    style = PromptStyle.THINK if prompt is PromptChoice.THINK else PromptStyle.ANSWER
    if model is not None:
        from ladderdata.eval.report import write_predictions
        from ladderdata.extensions import AnswerRequest

        answer = answer_backend(backend)
        if not (model / "config.json").is_file():
            raise LadderError(f"--model {model} is not a model folder (no config.json): pass a local HF model folder")
        claim_reports()
        rows = [row.stored_columns() for row in BenchReader(bench).rows(with_images=True)]
        predictions = predictions or (out or Path(f"eval-{model_label(model, None).replace('/', '-')}")) / (
            "predictions.jsonl"
        )
        request = AnswerRequest(style=style, hint=hints, batch_size=batch_size, max_new_tokens=max_new_tokens)
        with _progress() as progress:
            task = progress.add_task("answering", total=len(rows))
            answers = answer(rows, model, request, lambda n: progress.advance(task, n))
        write_predictions(answers, predictions)
        log.info("wrote %s to %s", counted(len(answers), "prediction"), predictions)
    assert predictions is not None
    report_dir = out or predictions.parent
    if model is None:
        claim_reports()
    name = name or model_label(model, predictions)
    thinking = style is PromptStyle.THINK
    summaries = evaluate(bench, predictions, report_dir, name, modes, thinking, skip_refused="all" in (scoring or []))
    for mode, per_dataset in summaries.items():
        for dataset, s in per_dataset.items():
            if isinstance(s, RefusedSummary):
                log.warning("%s, %s scoring: not scored: %s", dataset, mode, s.refused)
                continue
            log.info(
                "%s, %s scoring: avg %s (NQ %s, MCQ %s) over %s, %s, %d without a prediction",
                dataset,
                mode,
                s.avg,
                s.nq_avg,
                s.mcq_avg,
                counted(s.scored, "question"),
                counted(len(s.errors), "error"),
                s.missing_predictions,
            )
    log.info("report: %s", report_dir / "report.md")


@app.command(
    "export",
    epilog=examples(
        "ladder export bench --format spatialladder --out /datasets   # SpatialLadder's eval_spld reads /datasets",
        "ladder export bench/vsi-video --format vsibench --out exported --fps 2",
    ),
)
def export_command(
    bench: Annotated[Path, typer.Argument(help="a benchmark (or folder of benchmarks) written by build-bench")],
    format: Annotated[str, typer.Option("--format", help="spatialladder or vsibench")],
    out: Annotated[
        Path,
        typer.Option(
            help="folder for the exported benchmarks, one sub-folder each: spatialladder writes SPBench-SI, "
            "SPBench-MV and VSI-Bench (its evaluator's /datasets), vsibench the benchmark's name"
        ),
    ],
    fps: Annotated[
        float, typer.Option(help="frame rate of exported videos (one video frame per benchmark frame)")
    ] = 2.0,
    overwrite: Overwrite = False,
) -> None:
    """Write a benchmark in the layout, file names, fields and media an official evaluator reads."""
    from ladderdata.eval.export import ExportFormat, export_benchmark

    try:
        chosen = ExportFormat(format)
    except ValueError:
        raise LadderError(f"--format must be spatialladder or vsibench, not {format!r}") from None
    results = export_benchmark(bench, out, chosen, fps, overwrite=overwrite)
    table = Table("benchmark", "folder", "questions", "file", "images", "videos", title=f"{chosen} export in {out}")
    for r in results:
        table.add_row(r.benchmark, r.folder, f"{r.rows:,}", r.parquet, f"{len(r.images):,}", f"{len(r.videos):,}")
    Console().print(table)


@app.command(
    epilog=examples(
        "ladder push demo/dataset --repo USER/ladder-demo --dry-run",
        "ladder push bench --repo ORG/spbench --private --revision v1",
    )
)
def push(
    folder: Annotated[
        Path,
        typer.Argument(
            help="a dataset (build-dataset --out), benchmarks (build-bench --out) or one exported folder (export --out)"
        ),
    ],
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


@app.command(
    epilog=examples(
        "ladder preview demo/dataset --samples 16",
        "ladder preview demo/bench --out /tmp/sheets --seed 1",
        "ladder preview demo/dataset --task object_counting --scene scene0000_00 --samples 4",
    )
)
def preview(
    dataset: Annotated[Path, typer.Argument(help="a folder written by build-dataset, or build-bench's --out folder")],
    out: Annotated[Path | None, typer.Option(help="folder for the PNG sheets (default DATASET/preview)")] = None,
    samples: Annotated[int, typer.Option(min=1, help="random samples per sheet (one sheet per task)")] = 12,
    seed: Annotated[int, typer.Option(help="which samples are drawn")] = 0,
    task: Annotated[list[str] | None, typer.Option(help="only this task's sheet (repeatable)")] = None,
    scene: Annotated[list[str] | None, typer.Option(help="only samples of this scan (repeatable)")] = None,
    metadata_cache: MetadataCache = None,
) -> None:
    """Render one PNG contact sheet per task of random samples: the question's objects boxed on single images and
    on every frame of multi-view sets and videos (from the build's per-view metadata), question, options and
    answer with its unit."""
    from ladderdata.outputs import claim_output, refuse_inside_inputs
    from ladderdata.preview import render_preview

    if out is not None:  # the default, DATASET/preview, is ladder's; a folder inside the dataset is fine, not itself
        if out.resolve() == dataset.resolve():
            refuse_inside_inputs(out, [dataset])
        claim_output(out, "preview sheets")

    caches = [metadata_cache] if metadata_cache else None
    for path in render_preview(dataset, out, samples, seed, task, scene, caches):
        log.info("wrote %s", path)


#: The demo's synthetic scans have 48 frames (ScanNet's: 1,000-5,000): every 2nd keeps 24 views, enough for
#: 16-frame videos and 8-view sets; ScanNet scans use the default, ``DEFAULT_FRAME_STRIDE`` (docs/scannet.md).
DEMO_FRAME_STRIDE = 2


@app.command(epilog=examples("ladder demo", "ladder demo --out /tmp/demo --workers 1"))
def demo(
    out: Annotated[Path, typer.Option(help="folder for the demo scans and outputs")] = Path("demo"),
    workers: Annotated[int, typer.Option(min=1, help="local worker processes")] = 2,
) -> None:
    """The good practice on 4 synthetic scans: SPBench-SI/MV from the val scan (OUT/bench), training data from
    the train scans with the benchmark's rooms excluded (OUT/dataset), the leakage check, preview sheets.
    Both builds share one per-view metadata cache (OUT/metadata); a rerun resumes in seconds."""
    from ladderdata.bench.build import BENCHMARKS
    from ladderdata.outputs import claim_output
    from ladderdata.pipeline import BuildConfig
    from ladderdata.preview import render_preview
    from ladderdata.recipe import Recipe
    from ladderdata.sources.synthetic import SynthConfig

    start = time.perf_counter()
    root, dataset, bench, metadata_cache = out / "scannet", out / "dataset", out / "bench", out / "metadata"
    source = scan_source(["scannet"], [root])
    recipe = Recipe.load("spatialladder-26k").with_frame_stride(DEMO_FRAME_STRIDE)
    config = BuildConfig(
        source=source, out=dataset, split="train", recipe=recipe, exclude=[bench], metadata_cache=metadata_cache
    )
    # each folder is claimed as its own command would claim it, before any work (docs/reliability.md)
    claim_output(root, "synthetic scans", synth_settings(SynthConfig()))
    claim_output(bench, "benchmarks", {"seed": 0, "frame stride": DEMO_FRAME_STRIDE})
    claim_output(metadata_cache, "metadata cache")
    claim_output(dataset, "dataset", build_settings(config))
    with open_run_executor(ExecutorKind.LOCAL, workers, None) as runner:
        run_synth(root, SynthConfig(), runner)
        benchmarks = run_bench(
            source, bench, list(BENCHMARKS), "val", 0, None, DEMO_FRAME_STRIDE, metadata_cache, runner
        )
        summary = run_build(config, runner)
    clean = leakage_check(dataset, bench)
    sheets = render_preview(dataset) + render_preview(bench)
    failed = summary.failed or any(s.failed for s in benchmarks.values())
    log.info(
        "demo in %.0f s: training data %s (%s rows from train scans %s); benchmarks %s (%s questions from val scans "
        "%s); leakage check %s; %d preview sheets, e.g. %s",
        time.perf_counter() - start,
        dataset,
        " + ".join(f"{n} {subset}" for subset, n in summary.rows.items()),
        ", ".join(summary.scans),
        bench,
        " + ".join(f"{sum(s.rows.values())} {name}" for name, s in benchmarks.items()),
        ", ".join(sorted({scan for s in benchmarks.values() for scan in s.scans})),
        "passed" if clean else "FAILED",
        len(sheets),
        sheets[0],
    )
    raise typer.Exit(SCANS_FAILED if failed or not clean else 0)


@app.command(epilog=examples("ladder schemas", "ladder schemas --out /tmp/schemas"))
def schemas(out: Annotated[Path, typer.Option(help="folder for the JSON Schemas")] = Path("schemas")) -> None:
    """Regenerate the JSON Schemas of every record and config."""
    from ladderdata.schemas import write_schemas

    for path in write_schemas(out):
        log.info("wrote %s", path)


def answer_backend(name: BackendName) -> "AnswerBackend":
    """The ``--backend`` that answers with ``--model``, from the installed extensions."""
    offered = {n: (ext, b) for ext in load_extensions() for n, b in ext.answer_backends.items()}
    if not offered:
        raise LadderError(f"ladder eval --model needs the train extra: {install_command('train')}")
    if name not in offered:
        raise LadderError(f"no installed extension answers with --backend {name}: use {', '.join(sorted(offered))}")
    ext, backend = offered[name]
    if ext.missing():
        raise LadderError(f"ladder eval --model needs the {ext.extra} extra: {ext.install_hint}")
    return backend


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
    from ladderdata.outputs import one_line

    console.print(f"[red]{label}:[/red] {escape(one_line(text))}", soft_wrap=True)
    raise SystemExit(code) from None


def usage_error_line(error: typer.TyperException) -> str:
    """A bad command line as one line: what is wrong, what the option takes, and where the examples are."""
    line = error.format_message().replace("Value error, ", "").rstrip(".")
    param, ctx = getattr(error, "param", None), getattr(error, "ctx", None)
    opts, described = getattr(param, "opts", None), getattr(param, "help", None)
    if opts and described:
        line += f" ({opts[0]}: {described})"
    if ctx is not None:
        line += f"; `{ctx.command_path} --help` lists what it takes, with examples"
    return line


def entrypoint() -> None:
    """``ladder``: exit 0, 1 when some scans failed, 2 on a bad config or input, 3 when the disk is full, 4 when a
    requested benchmark is empty, 70 on an internal error, 130 when interrupted. Every failure is one line on
    stderr, never a traceback."""
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as e:  # a bad command line (typer's click exceptions)
        if type(e).__name__ != "NoArgsIsHelpError":  # that one has shown the help already
            console.print(f"[red]error:[/red] {escape(usage_error_line(e))}", soft_wrap=True)
        code = e.exit_code
    except typer.Abort:
        console.print("[yellow]aborted[/yellow]")
        code = SCANS_FAILED
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
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else BAD_CONFIG)
    except Exception as e:
        if log.isEnabledFor(logging.DEBUG):
            log.exception("internal error")
        _fail(
            INTERNAL_ERROR,
            "internal error",
            f"{type(e).__name__}: {e} (a bug in ladder: please report it; --verbose shows the traceback)",
        )
    if code == INTERRUPTED:  # typer turns Ctrl-C into this exit code, silently
        console.print("[yellow]interrupted:[/yellow] finished work is kept; rerun the same command to resume")
    raise SystemExit(code or 0)
