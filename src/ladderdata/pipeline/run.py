"""``build_dataset``: the stages in order, inside the output folder's lock, then the card, manifest and stats."""

from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from ladderdata.cache import claim_folder
from ladderdata.executor import Executor, LocalExecutor
from ladderdata.io.card import DatasetReport, write_card_manifest_stats
from ladderdata.io.rooms import scan_room
from ladderdata.io.shortfall import Shortfall, find_shortfall
from ladderdata.pipeline.config import BuildConfig
from ladderdata.pipeline.draft import DraftStage
from ladderdata.pipeline.plan import PlanStage
from ladderdata.pipeline.render import RenderStage
from ladderdata.pipeline.select import SelectStage
from ladderdata.pipeline.stage import BuildContext, BuildProgress, StageStats
from ladderdata.pipeline.write import WriteStage
from ladderdata.report.html import write_report
from ladderdata.sources.base import open_source


@dataclass
class BuildSummary:
    out: Path
    scans: list[str]
    failed: dict[str, str]
    rows: dict[str, int]
    """Rows per subset."""
    rejections: Counter[str]
    """Filter name -> candidates rejected, over all tasks."""
    shards: list[dict[str, object]]
    stages: dict[str, StageStats]
    """Stage name -> its counters and time (also in ``stats.json`` / ``stats.md``)."""
    shortfall: Shortfall | None
    """Why the build has fewer questions than its recipe's targets, or none; None when it met them."""


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

        rejections: dict[str, Counter[str]] = defaultdict(Counter)
        drafts: Counter[str] = Counter()
        for scene in drafted.scenes:
            for key, counts in scene.rejections.items():
                rejections[key].update(counts)
            drafts.update(f"{r.task}/{r.modality.value}" for r in scene.records)
        scans = [s.scan_id for s in drafted.scenes]
        views = {s.scan_id: s.views for s in drafted.scenes}
        questions = Counter(f"{s.task}/{s.modality.value}" for subset in written.subsets.values() for s in subset)
        shortfall = find_shortfall(config.recipe, questions, views, drafts, rejections, drafted.failed)
        opened = open_source(config.source)
        source = config.source.model_copy(update={"root": config.source.root.resolve()})
        report = DatasetReport(
            recipe=config.recipe,
            seed=config.seed,
            benchmark=config.benchmark,
            split=config.output_split,
            inputs={
                "source": source.model_dump(mode="json"),
                "sources": opened.source_names(),
                "split": config.split,
                "limit_scenes": config.limit_scenes,
                "scan_ids": scans,
                "rooms": {s: scan_room(opened, s) for s in scans},
                "failed": drafted.failed,
            },
            subsets=written.subsets,
            shards=written.shards,
            drafted=drafts,
            rejections=rejections,
            unknown_labels={s.scan_id: s.unknown_labels for s in drafted.scenes if s.unknown_labels},
            stages={name: stats.as_dict() for name, stats in ctx.stats.items()},
            views=views,
            shortfall=shortfall,
        )
        write_card_manifest_stats(config.out, report)
        write_report(config.out, report, [config.metadata_dir])
    return BuildSummary(
        out=config.out,
        scans=scans,
        failed=drafted.failed,
        rows={subset: len(rows) for subset, rows in written.subsets.items()},
        rejections=sum(rejections.values(), Counter()),
        shards=written.shards,
        stages=ctx.stats,
        shortfall=shortfall,
    )
