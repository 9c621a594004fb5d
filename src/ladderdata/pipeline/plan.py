"""Plan: which scans the build uses (the split, minus rooms of excluded benchmarks, up to ``limit_scenes``)."""

import difflib
import logging
from dataclasses import dataclass
from pathlib import Path

from ladderdata.errors import ConfigError
from ladderdata.io.public_scenes import excluded_scans, public_names
from ladderdata.io.rooms import dataset_rooms, scan_room
from ladderdata.layout import check_name
from ladderdata.pipeline.config import BuildConfig
from ladderdata.pipeline.stage import BuildContext, Stage, StageStats
from ladderdata.sources.base import ScanSource, listed_ids

log = logging.getLogger(__name__)


@dataclass
class Plan:
    scan_ids: list[str]


SPLIT_NAMES = ("train", "val", "test", "all")


def nearest_split(given: str) -> str | None:
    """The split name ``given`` most likely meant: one it starts with (``validation`` -> ``val``), else the
    closest spelling (``trian`` -> ``train``); None when none is close."""
    lowered = given.lower()
    for name in SPLIT_NAMES:
        if lowered.startswith(name) or (len(lowered) >= 2 and name.startswith(lowered)):
            return name
    close = difflib.get_close_matches(lowered, SPLIT_NAMES, n=1, cutoff=0.6)
    return close[0] if close else None


def resolve_scan_ids(source: ScanSource, split: str) -> list[str]:
    """Scan ids of ``split``: ``all``, a split the source knows (``train``, ``val``, ``test``), or a file of ids."""
    if split == "all":
        return source.scan_ids(None)
    if split in ("train", "val", "test"):
        return source.scan_ids(split)
    path = Path(split)
    if not path.exists():  # a FIFO or a device is refused by listed_ids, saying what it is, without opening it
        near = nearest_split(split)
        hint = f": did you mean {near}?" if near else ""
        raise ConfigError(
            f"--split must be train, val, test, all or a file of scan ids; {split!r} is none of them{hint}"
        )
    return listed_ids(path, source.scan_ids(None), source.config.root)


def list_scans(source: ScanSource, split: str) -> list[str]:
    """Scan ids of ``split`` (see :func:`resolve_scan_ids`) after the source's own checks (:meth:`ScanSource.check`):
    what every command that reads scans validates before it starts any work. None is an error."""
    source.check()
    scan_ids = resolve_scan_ids(source, split)
    if not scan_ids:
        raise ConfigError(
            f"no scan under {source.config.root} is in split {split!r}: pass --split all (every scan there), another "
            "split, or --split FILE listing scan ids that are there"
        )
    return scan_ids


class PlanStage(Stage[BuildConfig, Plan]):
    name = "plan"

    def run(self, ctx: BuildContext, data: BuildConfig, stats: StageStats) -> Plan:
        source = ctx.source
        scan_ids = list_scans(source, data.split)
        stats.counters["listed"] = len(scan_ids)
        if data.exclude:
            banned = set().union(*(dataset_rooms(p) for p in data.exclude))
            refused = [s for s in scan_ids if scan_room(source, s) in banned]
            if refused:
                log.warning("refusing %d scans whose rooms are in the given benchmarks: %s", len(refused), refused[:8])
            stats.counters["excluded (benchmark rooms)"] = len(refused)
            scan_ids = [s for s in scan_ids if s not in refused]
        if data.exclude_public:
            public = excluded_scans(source, scan_ids, public_names(data.exclude_public))
            if public:
                log.warning(
                    "leaving out %d scans whose rooms public benchmarks use: %s",
                    len(public),
                    ", ".join(f"{s} ({name})" for s, name in list(public.items())[:8]),
                )
            stats.counters["excluded (public benchmark rooms)"] = len(public)
            scan_ids = [s for s in scan_ids if s not in public]
        if data.limit_scenes is not None:
            scan_ids = scan_ids[: data.limit_scenes]
        for scan_id in scan_ids:  # ids become file names (drafts, metadata)
            check_name(scan_id, f"scan id from {data.source.source} source")
        if not scan_ids:
            raise ConfigError(f"no scans to build from under {data.source.root} (split {data.split!r})")
        stats.counters["planned"] = len(scan_ids)
        return Plan(scan_ids)
