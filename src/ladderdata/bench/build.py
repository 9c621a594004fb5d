"""``ladder build-bench``: SPBench-style benchmarks from validation scans only.

Each benchmark is a built-in recipe (``templates/recipes/spbench-si.yaml``, ``spbench-mv.yaml``,
``vsi-video.yaml``, ``vsti-video.yaml``) with stricter filters than training, near-duplicates removed and answer letters
balanced, written as ``OUT/<benchmark>/`` with evaluator field names (``question_type``, ``ground_truth``...).
"""

import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ladderdata.audit.blind import read_questions
from ladderdata.audit.report import DEBIAS_JSON, DebiasConfig, audit_questions, debias, write_audit, write_debias
from ladderdata.cache import claim_folder
from ladderdata.executor import Executor
from ladderdata.io.card import write_benchmarks_card
from ladderdata.layout import DatasetLayout
from ladderdata.pipeline import BuildConfig, BuildProgress, BuildSummary, build_dataset
from ladderdata.pipeline.plan import list_scans
from ladderdata.recipe import Recipe
from ladderdata.sources.base import SourceConfigField, open_source

log = logging.getLogger(__name__)

BENCHMARKS = ("spbench-si", "spbench-mv")
VIDEO_BENCHMARKS = ("vsi-video", "vsti-video")
"""``build-bench --video``: VSI-Bench's question types and VSTI-Bench's (camera and in-view relations)."""


class BenchBuildConfig(BaseModel):
    """Inputs of one ``ladder build-bench`` run (where the work runs is not part of it: see the executor). Each
    benchmark's :class:`~ladderdata.pipeline.BuildConfig` checks the values it takes over."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    source: SourceConfigField
    out: Path
    """Each benchmark is written to ``out/<name>``, the card of them all to ``out/README.md``."""
    benchmarks: list[str]
    """Built-in recipe names (:data:`BENCHMARKS`, :data:`VIDEO_BENCHMARKS`)."""
    split: str = "val"
    """A split name or a file of scan ids, checked before anything is built."""
    seed: int = 0
    limit_scenes: int | None = None
    frame_stride: int | None = None
    metadata_cache: Path | None = None
    """Default ``out/.ladder-work/metadata``, shared by the benchmarks: a scan is measured once for all of them."""
    debias: DebiasConfig | None = None
    task_modules: list[Path] = []
    """``.py`` files registering tasks (imported already), carried by every recipe to the workers."""


def build_benchmarks(
    config: BenchBuildConfig, executor: Executor | None = None, progress: BuildProgress | None = None
) -> dict[str, BuildSummary]:
    """Build each benchmark into ``out/<name>`` from the scans of ``split`` (a split name or a file of scan ids,
    checked before anything is built), then ``out/README.md`` (every benchmark in ``out``); returns their
    summaries, and warns about each benchmark with fewer questions than its target (``BuildSummary.shortfall``
    says why). The benchmarks share the executor and the per-view metadata cache (``metadata_cache``, default
    ``out/.ladder-work/metadata``): a scan is measured once for all of them.

    ``debias``: after each build, prune the questions a k-fold text-only model answers best
    (:func:`~ladderdata.audit.report.debias`), rebuild without them (drafts and metadata come from the caches),
    write ``debias.json`` and the before/after table into the benchmark folder and its card, and the final
    ``audit.json`` / ``audit.md`` (``ladder eval`` shows those baselines beside a model's scores).

    ``task_modules`` (imported already) are carried by every recipe to the workers."""
    out, debias = config.out, config.debias
    recipes = [  # all read before any work
        Recipe.load(name).with_frame_stride(config.frame_stride).with_task_modules(config.task_modules)
        for name in config.benchmarks
    ]
    list_scans(open_source(config.source), config.split)
    summaries = {}
    with claim_folder(out):
        for recipe in recipes:
            build = BuildConfig(
                source=config.source,
                out=out / recipe.name,
                split=config.split,
                recipe=recipe,
                seed=config.seed,
                limit_scenes=config.limit_scenes,
                benchmark=True,
                metadata_cache=config.metadata_cache or DatasetLayout(out).metadata_cache,
            )
            summaries[recipe.name] = summary = build_dataset(build, executor, progress)
            if debias is not None and sum(summary.rows.values()) > 0:
                summaries[recipe.name] = summary = debias_benchmark(build, debias, executor, progress)
            else:
                (build.out / DEBIAS_JSON).unlink(missing_ok=True)  # a pruning this build did not do
            if summary.shortfall is not None:
                log.warning("%s", summary.shortfall.message(recipe.name))
        write_benchmarks_card(out)
    return summaries


def debias_benchmark(
    config: BuildConfig, settings: DebiasConfig, executor: Executor | None, progress: BuildProgress | None
) -> BuildSummary:
    """Prune the built benchmark ``config.out`` of its most blind-answerable questions (see :func:`build_benchmarks`)
    and return the summary of the rebuild."""
    questions = read_questions(config.out)
    result = debias(questions, settings)
    summary = build_dataset(config.model_copy(update={"drop_ids": result.removed}), executor, progress)
    kept = [q for q in questions if q.id not in set(result.removed)]
    write_audit(audit_questions(kept, str(config.out), settings.folds, settings.seed), config.out)
    write_debias(result, config.out)
    log.info("%s: debiasing removed %d of %d questions", config.out.name, len(result.removed), len(questions))
    return summary
