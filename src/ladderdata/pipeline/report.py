"""What a finished build reports: the card, manifest and stats' content (:class:`DatasetReport`, from what drafting
learned and what was written) and the :class:`BuildSummary` ``build_dataset`` returns."""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ladderdata.io.card import DatasetReport
from ladderdata.io.rooms import scan_room
from ladderdata.io.shortfall import Shortfall, find_shortfall
from ladderdata.pipeline.stage import BuildContext, StageStats
from ladderdata.pipeline.write import Written


def dataset_report(ctx: BuildContext, written: Written) -> DatasetReport:
    """The report of the build ``ctx`` ran, once its shards are ``written``."""
    config, drafted, source = ctx.config, ctx.drafted, ctx.source
    scans, rejections = drafted.scan_ids, drafted.rejections
    questions = Counter(f"{s.task}/{s.modality.value}" for rows in written.subsets.values() for s in rows)
    shortfall = find_shortfall(config.recipe, questions, drafted.views, drafted.drafts, rejections, drafted.failed)
    resolved = config.source.model_copy(update={"root": config.source.root.resolve()})
    return DatasetReport(
        recipe=config.recipe,
        seed=config.seed,
        benchmark=config.benchmark,
        split=config.output_split,
        inputs={
            "source": resolved.model_dump(mode="json"),
            "sources": source.source_names(),
            "split": config.split,
            "limit_scenes": config.limit_scenes,
            "scan_ids": scans,
            "rooms": {s: scan_room(source, s) for s in scans},
            "failed": drafted.failed,
        },
        subsets=written.subsets,
        shards=written.shards,
        drafted=drafted.drafts,
        rejections=rejections,
        unknown_labels=drafted.unknown_labels,
        stages={name: stats.as_dict() for name, stats in ctx.stats.items()},
        views=drafted.views,
        shortfall=shortfall,
    )


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

    @classmethod
    def of(cls, out: Path, report: DatasetReport, stages: dict[str, StageStats]) -> "BuildSummary":
        return cls(
            out=out,
            scans=report.scans,
            failed=report.failed,
            rows={subset: len(rows) for subset, rows in report.subsets.items()},
            rejections=sum(report.rejections.values(), Counter()),
            shards=report.shards,
            stages=stages,
            shortfall=report.shortfall,
        )
