"""``ladder build-dataset`` and ``ladder build-bench``: training shards and held-out benchmarks from scans."""

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ladderdata.cli.options import (
    DEFAULT_FRAME_STRIDE,
    ESTIMATE_SAMPLE,
    SPLIT_HELP,
    BuildOptions,
    OptionGroup,
    RunOptions,
    ScanOptions,
    WriteOptions,
    list_scans,
    with_options,
)
from ladderdata.cli.render import StageBars, announce_plan, item_bars, progress_bars, show_benchmarks, show_build
from ladderdata.cli.root import EMPTY_BENCHMARK, SCANS_FAILED
from ladderdata.errors import ConfigError
from ladderdata.extensions import examples

if TYPE_CHECKING:
    from ladderdata.audit.report import DebiasConfig
    from ladderdata.executor import Executor
    from ladderdata.pipeline import BuildConfig, BuildSummary
    from ladderdata.recipe import Recipe
    from ladderdata.sources.base import ScanSourceConfig

log = logging.getLogger("ladderdata")
commands = typer.Typer()


class ExcludeOptions(OptionGroup):
    """Rooms a training dataset must not use."""

    exclude_bench: Annotated[
        list[Path] | None,
        typer.Option(help="a build-bench --out folder: its rooms are not used (repeatable; check-leakage proves it)"),
    ] = None
    exclude_public: Annotated[
        str | None,
        typer.Option(help="public benchmarks whose scenes' rooms are not used: vsibench,spbench,spacer (shipped)"),
    ] = None

    def benchmark_folders(self) -> list[Path]:
        for folder in self.exclude_bench or []:
            if not folder.is_dir():
                raise ConfigError(
                    f"--exclude-bench {folder} is not a folder: pass the --out folder of ladder build-bench"
                )
        return self.exclude_bench or []


class BenchOptions(OptionGroup):
    """Which benchmarks build-bench writes, and whether it prunes what a text-only model answers."""

    benchmark: Annotated[
        list[str] | None,
        typer.Option(
            help="spbench-si, spbench-mv, vsi-video, vsti-video or a recipe file (repeatable; default spbench-si, -mv)"
        ),
    ] = None
    video: Annotated[
        bool, typer.Option(help="also build vsi-video (VSI-Bench's 8 types) and vsti-video (VSTI-Bench's) on videos")
    ] = False
    debias: Annotated[
        bool, typer.Option(help="prune the questions a k-fold text-only model answers (needs the audit extra)")
    ] = False
    debias_margin: Annotated[
        float, typer.Option(min=0, max=1, help="--debias: stop within this of chance (0.05 = 5 points)")
    ] = 0.05
    debias_budget: Annotated[
        float, typer.Option(min=0, max=1, help="--debias: remove at most this fraction of each question type")
    ] = 0.3

    def names(self) -> list[str]:
        from ladderdata.bench.build import BENCHMARKS, VIDEO_BENCHMARKS

        return list(self.benchmark or BENCHMARKS) + (list(VIDEO_BENCHMARKS) if self.video else [])

    def pruning(self, seed: int) -> "DebiasConfig | None":
        """``--debias``'s settings; the audit extra is checked here, before any scan is built."""
        if not self.debias:
            return None
        from ladderdata.audit.blind import require_sklearn
        from ladderdata.audit.report import DebiasConfig

        require_sklearn()
        return DebiasConfig(margin=self.debias_margin, max_removed=self.debias_budget, seed=seed)


def recipe_with_task_modules(name: str, modules: list[Path] | None) -> "Recipe":
    """``--recipe`` with the tasks of ``--tasks-module`` files (imported first, so that the recipe may name and
    configure them; tasks it does not name are added with their defaults); the recipe carries the files to the
    workers."""
    from ladderdata.recipe import Recipe
    from ladderdata.tasks.modules import load_task_modules

    registered = load_task_modules(modules or [])
    return Recipe.load(name).with_task_modules(modules or []).with_tasks(registered)


def build_settings(config: "BuildConfig") -> dict[str, str | int]:
    """What decides a build's contents besides its scans: a rerun with others replaces the dataset."""
    from ladderdata.cache import content_key

    recipe = config.recipe.model_dump_json()
    return {"recipe": config.recipe.name, "recipe settings": content_key({"recipe": recipe})[:12], "seed": config.seed}


@commands.command(
    "build-dataset",
    epilog=examples(
        "ladder build-dataset --scans scannet --out dataset --exclude-bench bench --workers 8",
        "ladder build-dataset --scans demo/scannet --out small --split all --limit-scenes 2 --frame-stride 2",
        "ladder build-dataset --scans scannet --out ds --split my_scans.txt --recipe my_recipe.yaml",
    ),
)
@with_options
def build_dataset_command(
    scan: ScanOptions,
    out: Annotated[Path, typer.Option(help="dataset folder to write (shards, card, manifest, stats)")],
    split: Annotated[str, typer.Option(help=SPLIT_HELP)] = "train",
    recipe: Annotated[str, typer.Option(help="built-in recipe (spatialladder-26k, ...) or YAML file")] = (
        "spatialladder-26k"
    ),
    *,
    build: BuildOptions,
    exclude: ExcludeOptions,
    run: RunOptions,
    write: WriteOptions,
) -> None:
    """Generate spatial QA and localization shards (Hugging Face Parquet) from scans; resumes when rerun."""
    source_config = scan.source_config()  # before the pipeline's imports
    from ladderdata.io.public_scenes import public_names
    from ladderdata.outputs import claim_output
    from ladderdata.pipeline import BuildConfig

    config = BuildConfig(
        source=source_config,
        out=out,
        split=split,
        recipe=recipe_with_task_modules(recipe, build.tasks_module).with_frame_stride(build.frame_stride),
        seed=build.seed,
        limit_scenes=build.limit_scenes,
        exclude=exclude.exclude_bench or [],
        exclude_public=public_names(exclude.exclude_public or ""),
        metadata_cache=build.metadata_cache,
    )
    list_scans(config.source, config.split)
    exclude.benchmark_folders()
    from ladderdata.pipeline.estimate import build_estimate, planned_scans
    from ladderdata.sources.base import open_source

    sample = None if write.dry_run else ESTIMATE_SAMPLE
    plan = build_estimate(open_source(config.source), planned_scans(config), config.recipe, sample)
    announce_plan(plan.lines(), write.dry_run)

    inputs = [*scan.scans, *config.exclude]
    claim_output(out, "dataset", build_settings(config), overwrite=write.overwrite, inputs=inputs)
    with run.open_executor() as runner:
        summary = run_build(config, runner)
    raise typer.Exit(SCANS_FAILED if summary.failed else 0)


def run_build(config: "BuildConfig", executor: "Executor") -> "BuildSummary":
    """Build a dataset with progress bars and a final summary."""
    from ladderdata.pipeline import build_dataset

    start = time.perf_counter()
    with progress_bars() as progress, item_bars(executor, progress, "views cast"):
        summary = build_dataset(config, executor, StageBars(progress))
    show_build(summary, config.out)
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


@commands.command(
    "build-bench",
    epilog=examples(
        "ladder build-bench --scans scannet --out bench",
        "ladder build-bench --scans scannet --out bench --video --metadata-cache metadata --workers 8",
        "ladder build-bench --scans scannet --out bench --split my_val.txt --benchmark spbench-si",
    ),
)
@with_options
def build_bench_command(
    scan: ScanOptions,
    out: Annotated[Path, typer.Option(help="folder for the benchmarks (one sub-folder each)")],
    split: Annotated[str, typer.Option(help="val (scannetv2_val.txt), another split, or a file of scan ids")] = "val",
    *,
    bench: BenchOptions,
    build: BuildOptions,
    run: RunOptions,
    write: WriteOptions,
) -> None:
    """Build held-out SPBench-style benchmarks from validation scans (stricter filters, no near-duplicates).

    Warns when a benchmark gets fewer questions than its target, saying why; exits 4 when one gets none.
    """
    config = scan.source_config()  # before the benchmarks' imports
    from ladderdata.outputs import claim_output
    from ladderdata.recipe import Recipe

    names = bench.names()
    ids = list_scans(config, split)[: build.limit_scenes]
    from ladderdata.pipeline.estimate import bench_lines
    from ladderdata.tasks.modules import load_task_modules

    load_task_modules(build.tasks_module or [])  # before the recipes, which may name its tasks
    pruning = bench.pruning(build.seed)
    for name in names:  # every recipe is checked before the output folder is claimed (nothing written on bad input)
        Recipe.load(name).with_frame_stride(build.frame_stride)
    sample = None if write.dry_run else ESTIMATE_SAMPLE
    announce_plan(bench_lines(config, ids, names, build.frame_stride, sample, build.tasks_module or []), write.dry_run)
    stride = build.frame_stride or DEFAULT_FRAME_STRIDE
    settings = {"seed": build.seed, "frame stride": stride}
    claim_output(out, "benchmarks", settings, overwrite=write.overwrite, inputs=scan.scans)
    with run.open_executor() as runner:
        summaries = run_bench(config, out, names, split, build, runner, pruning)
    empty = [name for name, summary in summaries.items() if not sum(summary.rows.values())]
    if empty:
        log.error("empty benchmarks: %s (the warnings above say why)", ", ".join(empty))
        raise typer.Exit(EMPTY_BENCHMARK)
    raise typer.Exit(SCANS_FAILED if any(s.failed for s in summaries.values()) else 0)


def run_bench(
    source: "ScanSourceConfig",
    out: Path,
    names: list[str],
    split: str,
    build: BuildOptions,
    executor: "Executor",
    debias: "DebiasConfig | None" = None,
) -> dict[str, "BuildSummary"]:
    """Build benchmarks with progress bars and a table of what was written."""
    from ladderdata.bench.build import BenchBuildConfig, build_benchmarks

    start = time.perf_counter()
    with progress_bars() as progress, item_bars(executor, progress, "views cast"):
        config = BenchBuildConfig(
            source=source,
            out=out,
            benchmarks=names,
            split=split,
            seed=build.seed,
            limit_scenes=build.limit_scenes,
            frame_stride=build.frame_stride,
            metadata_cache=build.metadata_cache,
            debias=debias,
            task_modules=build.tasks_module or [],
        )
        summaries = build_benchmarks(config, executor, StageBars(progress))
    show_benchmarks(summaries, out)
    log.info("built %d benchmarks in %.1f s", len(summaries), time.perf_counter() - start)
    return summaries
