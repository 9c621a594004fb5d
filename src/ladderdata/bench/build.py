"""``ladder build-bench``: SPBench-style benchmarks from validation scans only.

Each benchmark is a built-in recipe (``templates/recipes/spbench-si.yaml``, ``spbench-mv.yaml``,
``vsi-video.yaml``) with stricter filters than training, near-duplicates removed and answer letters
balanced, written as ``OUT/<benchmark>/`` with evaluator field names (``question_type``, ``ground_truth``...).
"""

from pathlib import Path

from ladderdata.cache import claim_folder
from ladderdata.errors import ConfigError
from ladderdata.executor import Executor
from ladderdata.layout import DatasetLayout
from ladderdata.pipeline import BuildConfig, BuildProgress, BuildSummary, build_dataset
from ladderdata.pipeline.plan import list_scans
from ladderdata.recipe import Recipe
from ladderdata.sources.base import ScanSourceConfig

BENCHMARKS = ("spbench-si", "spbench-mv")
VIDEO_BENCHMARK = "vsi-video"


def bench_split(source: ScanSourceConfig, split: str, split_file: Path | None) -> str:
    """The split argument for the build: ``split_file`` if given, else ``split`` (a split name or a file of scan
    ids); checked (:func:`list_scans`) before anything is built."""
    if split_file is not None:
        if not split_file.is_file():
            raise ConfigError(f"--split-file {split_file} does not exist")
        split = str(split_file)
    list_scans(source, split)
    return split


def build_benchmarks(
    source: ScanSourceConfig,
    out: Path,
    benchmarks: list[str],
    split: str = "val",
    split_file: Path | None = None,
    seed: int = 0,
    limit_scenes: int | None = None,
    frame_stride: int | None = None,
    executor: Executor | None = None,
    progress: BuildProgress | None = None,
    metadata_cache: Path | None = None,
) -> dict[str, BuildSummary]:
    """Build each benchmark into ``out/<name>``; returns their summaries. The benchmarks share the executor and
    the per-view metadata cache (``metadata_cache``, default ``out/.ladder-work/metadata``): a scan is measured
    once for all of them."""
    chosen = bench_split(source, split, split_file)
    summaries = {}
    with claim_folder(out):
        for name in benchmarks:
            recipe = Recipe.load(name).with_frame_stride(frame_stride)
            config = BuildConfig(
                source=source,
                out=out / recipe.name,
                split=chosen,
                recipe=recipe,
                seed=seed,
                limit_scenes=limit_scenes,
                benchmark=True,
                metadata_cache=metadata_cache or DatasetLayout(out).metadata_cache,
            )
            summaries[recipe.name] = build_dataset(config, executor, progress)
    return summaries
