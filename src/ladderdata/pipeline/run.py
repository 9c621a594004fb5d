"""``build_dataset``: the stages in order, inside the output folder's lock, then the card, manifest and stats."""

from contextlib import ExitStack

from ladderdata.cache import claim_folder
from ladderdata.executor import Executor, LocalExecutor
from ladderdata.io.card import write_card_manifest_stats
from ladderdata.pipeline.config import BuildConfig
from ladderdata.pipeline.draft import DraftStage
from ladderdata.pipeline.plan import PlanStage
from ladderdata.pipeline.render import RenderStage
from ladderdata.pipeline.report import BuildSummary, dataset_report
from ladderdata.pipeline.select import SelectStage
from ladderdata.pipeline.stage import BuildContext, BuildProgress
from ladderdata.pipeline.write import WriteStage
from ladderdata.report.html import write_report


def build_dataset(
    config: BuildConfig, executor: Executor | None = None, progress: BuildProgress | None = None
) -> BuildSummary:
    """plan -> draft -> select -> render -> write, per-scan and per-shard work mapped with ``executor``
    (default: in this process). Refuses to start while another run writes into ``config.out`` or into its
    metadata cache (``config.metadata_dir``: ``ladder metadata --out`` or another build may share it)."""
    with ExitStack() as held:
        for folder in dict.fromkeys(p.resolve() for p in (config.out, config.metadata_dir)):
            held.enter_context(claim_folder(folder))
        ctx = BuildContext(config, executor or LocalExecutor(), progress)
        plan = PlanStage()(ctx, config)
        drafted = DraftStage()(ctx, plan)
        selection = SelectStage()(ctx, drafted)
        rendered = RenderStage()(ctx, selection)
        written = WriteStage()(ctx, rendered)
        report = dataset_report(ctx, written)
        write_card_manifest_stats(config.out, report)
        write_report(config.out, report, [config.metadata_dir])
    return BuildSummary.of(config.out, report, ctx.stats)
