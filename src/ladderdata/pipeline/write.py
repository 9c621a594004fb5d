"""Write: each subset cut into shards (one executor item each), written atomically and skipped when the file
already holds the same rows; shards a previous run planned but this one does not are removed."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ladderdata.cache import FileHashes
from ladderdata.errors import LadderError
from ladderdata.executor import Outcome
from ladderdata.io.shards import RowFormat, ShardFormat, existing_key, shard_key, write_shard
from ladderdata.layout import DatasetLayout
from ladderdata.pipeline.frames import frame_digest, open_scan_frames
from ladderdata.pipeline.render import Rendered
from ladderdata.pipeline.stage import BuildContext, Stage, StageStats
from ladderdata.sources.base import ScanSourceConfig
from ladderdata.tasks import Sample

log = logging.getLogger(__name__)


class FrameReader:
    """JPEG bytes of frames. Every frame is checked (``FrameSource.checked_color_jpeg``: a complete JPEG of its
    camera's size that decodes); a shard must never embed an image that does not decode. Bytes that decoded at
    drafting (``verified``: scan id -> frame -> :func:`~ladderdata.pipeline.draft.frame_digest`) passed that check
    already, so only a frame whose bytes differ (the file may have changed since) is checked and decoded, once per
    reader (one reader per shard)."""

    def __init__(
        self, source: ScanSourceConfig, verified: Mapping[str, Mapping[int, str]], scene_keys: Mapping[str, str]
    ) -> None:
        self.source = source
        self.verified = verified
        self.scene_keys = scene_keys
        self.decoded: dict[tuple[str, int], set[str | None]] = {}
        """(scan id, frame) -> digests of its bytes known to decode."""

    def __call__(self, scene_id: str, frame_id: int) -> bytes:
        frames = open_scan_frames(self.source, scene_id, self.scene_keys.get(scene_id, ""))
        data = frames.read_color_jpeg(frame_id)
        digest = frame_digest(data)
        known = self.decoded.setdefault((scene_id, frame_id), {self.verified.get(scene_id, {}).get(frame_id)})
        if digest not in known:
            frames.check_color_jpeg(frame_id, data, decode=True)
            known.add(digest)
        return data


@dataclass(frozen=True)
class ShardJob:
    """What writing one shard needs besides its rows (sent with every shard)."""

    source: ScanSourceConfig
    format: ShardFormat
    scene_keys: dict[str, str]
    """Scan id -> content key of its inputs: a shard's key covers the files its images come from."""


@dataclass(frozen=True)
class PlannedShard:
    path: Path
    """Named after ``key`` (:meth:`DatasetLayout.shard`)."""
    rows: list[Sample]
    key: str
    """:func:`shard_key` of the rows and the job's settings."""
    verified: dict[str, dict[int, str]]
    """Scan id -> frame -> digest of the bytes that decoded at drafting, for the frames of these rows."""


def write_planned(job: ShardJob, shard: PlannedShard) -> None:
    write_shard(shard.path, shard.rows, shard.key, job.format, FrameReader(job.source, shard.verified, job.scene_keys))


def verified_frames(rows: list[Sample], digests: Mapping[str, Mapping[int, str]]) -> dict[str, dict[int, str]]:
    """The digests (scan id -> frame -> digest) of the frames ``rows`` show, where drafting recorded one."""
    out: dict[str, dict[int, str]] = {}
    for row in rows:
        known = digests.get(row.scene_id, {})
        out.setdefault(row.scene_id, {}).update({f: known[f] for f in row.frame_ids if f in known})
    return out


def written_by_ladder(layout: DatasetLayout, path: Path, split: str) -> bool:
    """Whether ``path`` is a shard ladder wrote: named as :meth:`DatasetLayout.shard` names them, with the content
    key its footer stores matching its name. Only such files are removed as stale: a user's file in the folder
    stays, whatever its name."""
    digits = layout.shard_key_digits(path, split)
    if digits is None:
        return False
    stored = existing_key(path)
    return stored is not None and stored.startswith(digits)


def is_current(shard: PlannedShard) -> bool:
    """The file already holds exactly these rows, written with these settings."""
    return existing_key(shard.path) == shard.key


@dataclass
class Written:
    subsets: dict[str, list[Sample]]
    shards: list[dict[str, object]]
    """``{"path", "rows", "sha256"}`` per shard, paths relative to the output folder (the manifest's list)."""


class WriteStage(Stage[Rendered, Written]):
    name = "write"

    def run(self, ctx: BuildContext, data: Rendered, stats: StageStats) -> Written:
        config, layout = ctx.config, ctx.layout
        recipe, split = config.recipe, config.output_split
        margins = sorted({m for rows in data.subsets.values() for s in rows for m in s.margins} | {"visibility_min"})
        row_format = RowFormat.BENCH if config.benchmark else RowFormat.TRAIN
        extras = any(s.extras for rows in data.subsets.values() for s in rows)
        shard_format = ShardFormat(margins, recipe.images, row_format, recipe.name, extras)
        job = ShardJob(config.source, shard_format, ctx.drafted.scene_keys)
        plan: list[PlannedShard] = []
        for subset, rows in data.subsets.items():
            count = -(-len(rows) // recipe.rows_per_shard)
            planned = set()
            for i in range(count):
                part = rows[i * recipe.rows_per_shard : (i + 1) * recipe.rows_per_shard]
                key = shard_key(part, shard_format, job.scene_keys)
                path = layout.shard(subset, split, i, count, key)
                planned.add(path)
                plan.append(PlannedShard(path, part, key, verified_frames(part, ctx.drafted.frame_digests)))
            folder = layout.subset_dir(subset)
            for stale in folder.glob(f"{split}-*.parquet") if folder.is_dir() else []:
                if stale in planned:
                    continue
                if written_by_ladder(layout, stale, split):
                    stale.unlink()
                    stats.counters["stale shards removed"] += 1
                else:
                    log.warning("%s is not a shard ladder wrote: left in place (the card does not list it)", stale)

        def done(outcome: Outcome[None]) -> None:
            stats.counters["written" if outcome.ok else "failed"] += 1
            ctx.advance(self.name)

        ctx.start(self.name, len(plan))
        todo = []
        for shard in plan:  # up-to-date shards are recognised here: a rerun starts no worker for them
            if is_current(shard):
                stats.counters["reused"] += 1
                ctx.advance(self.name)
            else:
                todo.append(shard)
        names = [str(p.path.relative_to(config.out)) for p in todo]
        outcomes = ctx.executor.map(partial(write_planned, job), todo, names=names, on_done=done)
        failed = [o.error for o in outcomes if not o.ok]
        if failed:
            raise LadderError(
                f"{len(failed)} of {len(plan)} shards could not be written: {'; '.join(map(str, failed))}"
            )
        stats.counters["rows"] = sum(len(p.rows) for p in plan)
        hashes = FileHashes(layout.shard_hashes)
        shards: list[dict[str, object]] = [
            {"path": str(p.path.relative_to(config.out)), "rows": len(p.rows), "sha256": hashes.digest(p.path)}
            for p in plan
        ]
        hashes.save()
        return Written(data.subsets, shards)
