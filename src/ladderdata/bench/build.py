"""``ladder build-bench``: SPBench-style benchmarks from validation scans only.

Each benchmark is a built-in recipe (``templates/recipes/spbench-si.yaml``, ``spbench-mv.yaml``,
``vsi-video.yaml``) with stricter filters than training, near-duplicates removed and answer letters
balanced, written as ``OUT/<benchmark>/`` with evaluator field names (``question_type``, ``ground_truth``...).
"""

import logging
from pathlib import Path

from ladderdata.cache import claim_folder
from ladderdata.executor import Executor
from ladderdata.io.card import write_benchmarks_card
from ladderdata.layout import DatasetLayout
from ladderdata.pipeline import BuildConfig, BuildProgress, BuildSummary, build_dataset
from ladderdata.pipeline.plan import list_scans
from ladderdata.recipe import Recipe
from ladderdata.sources.base import ScanSourceConfig, open_source

log = logging.getLogger(__name__)

BENCHMARKS = ("spbench-si", "spbench-mv")
VIDEO_BENCHMARK = "vsi-video"


def build_benchmarks(
    source: ScanSourceConfig,
    out: Path,
    benchmarks: list[str],
    split: str = "val",
    seed: int = 0,
    limit_scenes: int | None = None,
    frame_stride: int | None = None,
    executor: Executor | None = None,
    progress: BuildProgress | None = None,
    metadata_cache: Path | None = None,
    task_modules: list[Path] | None = None,
) -> dict[str, BuildSummary]:
    """Build each benchmark into ``out/<name>`` from the scans of ``split`` (a split name or a file of scan ids,
    checked before anything is built), then ``out/README.md`` (every benchmark in ``out``); returns their
    summaries, and warns about each benchmark with fewer questions than its target (``BuildSummary.shortfall``
    says why). The benchmarks share the executor and the per-view metadata cache (``metadata_cache``, default
    ``out/.ladder-work/metadata``): a scan is measured once for all of them. ``task_modules`` (imported already)
    are carried by every recipe to the workers."""
    recipes = [  # all read before any work
        Recipe.load(name).with_frame_stride(frame_stride).with_task_modules(task_modules or []) for name in benchmarks
    ]
    list_scans(open_source(source), split)
    summaries = {}
    with claim_folder(out):
        for recipe in recipes:
            config = BuildConfig(
                source=source,
                out=out / recipe.name,
                split=split,
                recipe=recipe,
                seed=seed,
                limit_scenes=limit_scenes,
                benchmark=True,
                metadata_cache=metadata_cache or DatasetLayout(out).metadata_cache,
            )
            summaries[recipe.name] = summary = build_dataset(config, executor, progress)
            if summary.shortfall is not None:
                log.warning("%s", summary.shortfall.message(recipe.name))
        write_benchmarks_card(out)
    return summaries
