"""``ladder build-bench``: SPBench-style benchmarks from validation scans only.

Each benchmark is a built-in recipe (``templates/recipes/spbench-si.yaml``, ``spbench-mv.yaml``,
``vsi-video.yaml``) with stricter filters than training, near-duplicates removed and answer letters
balanced, written as ``OUT/<benchmark>/`` with evaluator field names (``question_type``, ``ground_truth``...).
"""

import logging
from pathlib import Path

from ladderdata.cache import claim_folder
from ladderdata.errors import ConfigError
from ladderdata.executor import Executor
from ladderdata.io.card import write_benchmarks_card
from ladderdata.layout import DatasetLayout
from ladderdata.pipeline import BuildConfig, BuildProgress, BuildSummary, build_dataset
from ladderdata.recipe import Recipe
from ladderdata.sources.base import ScanSourceConfig, open_source

log = logging.getLogger(__name__)

BENCHMARKS = ("spbench-si", "spbench-mv")
VIDEO_BENCHMARK = "vsi-video"


def bench_split(source: ScanSourceConfig, split: str, split_file: Path | None) -> str:
    """The split argument for the build: ``split_file`` if given, else ``split`` when the source knows it."""
    if split_file is not None:
        if not split_file.is_file():
            raise ConfigError(f"--split-file {split_file} does not exist")
        return str(split_file)
    try:
        open_source(source).scan_ids(split)
    except ConfigError as e:
        raise ConfigError(f"{e}; or pass --split-file FILE listing the {split} scan ids (one per line)") from None
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
) -> dict[str, BuildSummary]:
    """Build each benchmark into ``out/<name>``, then ``out/README.md`` (every benchmark in ``out``); returns their
    summaries, and warns about each benchmark with fewer questions than its target (``BuildSummary.shortfall``
    says why). The benchmarks share the executor and the per-view metadata cache (``out/.ladder-work/metadata``):
    a scan is measured once for all of them."""
    recipes = [Recipe.load(name).with_frame_stride(frame_stride) for name in benchmarks]  # all read before any work
    chosen = bench_split(source, split, split_file)
    summaries = {}
    with claim_folder(out):
        for recipe in recipes:
            config = BuildConfig(
                source=source,
                out=out / recipe.name,
                split=chosen,
                recipe=recipe,
                seed=seed,
                limit_scenes=limit_scenes,
                benchmark=True,
                metadata_cache=DatasetLayout(out).metadata_cache,
            )
            summaries[recipe.name] = summary = build_dataset(config, executor, progress)
            if summary.shortfall is not None:
                log.warning("%s", summary.shortfall.message(recipe.name))
        write_benchmarks_card(out)
    return summaries
