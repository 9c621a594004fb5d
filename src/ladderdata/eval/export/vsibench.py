"""``vsibench``: VSI-Bench's card, read by lmms-eval's ``vsibench`` task.

Video benchmarks only: ``<name>/test-00000-of-00001-<key>.parquet`` (config ``full``, as VSI-Bench's; the reader
leaves the name free, so the parquet itself carries its content key) plus one mp4 per scan at
``<dataset>/<scene_name>.mp4``, with ``dataset`` the scan's source (``scannet``), and only VSI-Bench's question
types. The folder also holds one ``<dataset>.zip`` per scan source (``scannet.zip``: ``scannet/<scene_name>.mp4``),
the archives lmms-eval unpacks into ``$HF_HOME/vsibench`` after downloading a Hub repository, as VSI-Bench's own
repository holds them.
"""

import logging
import zipfile
from collections import defaultdict
from pathlib import Path

import pyarrow as pa

from ladderdata.cache import content_key
from ladderdata.errors import ConfigError
from ladderdata.eval.export.base import ExportLayout, ParquetNames, keyed_parquet, register_layout
from ladderdata.eval.export.fields import video_frames_note, vsibench_table
from ladderdata.eval.export.files import ExportWriter
from ladderdata.eval.official import direction_forms
from ladderdata.io.dataset import BenchRow
from ladderdata.io.exported import ExportedBenchmark, ExportedVideo
from ladderdata.tasks import OfficialScorer

log = logging.getLogger(__name__)

CONFIG = "full"
"""VSI-Bench's card names its benchmark config ``full`` (the default); lmms-eval's ``vsibench`` task asks for it
(``dataset_name: full``; older versions load the default)."""
ARCHIVE_TIME = (1980, 1, 1, 0, 0, 0)
"""Every archive member's time stamp (zip's earliest): the same videos make the same archive bytes."""


@register_layout
class VsiBenchLayout(ExportLayout):
    name = "vsibench"
    description = "VSI-Bench's Hub layout, read by lmms-eval's vsibench task (video benchmarks only)"
    reader = "lmms-eval's vsibench task"
    scorer = OfficialScorer.VSIBENCH

    def check(self, benchmark: str, questions: list[BenchRow], is_video: bool) -> None:
        if not is_video:
            raise ConfigError(f"{benchmark} holds images: VSI-Bench's layout is for videos; use --format spatialladder")
        super().check(benchmark, questions, is_video)
        missing = sorted(set(direction_forms()) - {q.task for q in questions})
        if missing:
            log.warning("%s has no %s: lmms-eval's vsibench aggregation fails without them", benchmark, missing)

    def unknown_hint(self, unknown: list[str]) -> str:
        if "object_rel_direction" in unknown:
            return " (build the benchmark with the vsi-video recipe, which asks VSI-Bench's three direction forms)"
        return ""

    def folder(self, benchmark: str, is_video: bool) -> str:
        return benchmark

    def parquet_names(self, folder: str, is_video: bool, key: str) -> ParquetNames:
        keyed = keyed_parquet(key)
        return ParquetNames(keyed, keyed, CONFIG)

    def table(self, questions: list[BenchRow], images: list[list[str]] | None) -> pa.Table:
        return vsibench_table(questions, images)

    def finish(self, result: ExportedBenchmark, writer: ExportWriter, frames: int) -> None:
        result.archives = write_archives(writer, result.videos)

    def frames_note(self, result: ExportedBenchmark, frames: int) -> str:
        return video_frames_note(result, frames) if result.videos else super().frames_note(result, frames)

    def usage(self, result: ExportedBenchmark) -> str:
        archives = ", ".join(f"`{a}`" for a in result.archives)
        return (
            f"**lmms-eval** (`vsibench` task): in a copy of its task yaml, `dataset_path: {result.folder}` and "
            f"`dataset_name: {CONFIG}`. The videos are `<dataset>/<scene_name>.mp4`; {archives} hold them "
            "as VSI-Bench's repository does: after `ladder push` of this folder to `USER/NAME`, "
            "`dataset_path: USER/NAME` makes lmms-eval download the repository and unpack them into "
            "`$HF_HOME/vsibench/` (its `cache_dir`). From this local folder, copy the `<dataset>` folders there "
            "instead. The parquet's name carries its content key, so `datasets` never serves an earlier export's "
            "rows from its cache."
        )


def write_archives(writer: ExportWriter, videos: list[ExportedVideo]) -> list[str]:
    """One stored (uncompressed: mp4 is) zip per scan source, members ``<dataset>/<scene_name>.mp4`` in name
    order with a fixed time stamp, keyed by the members' keys."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for video in videos:
        by_source[video.path.split("/")[0]].append(video.path)
    names = []
    for source, members in sorted(by_source.items()):
        members.sort()

        def write(tmp: Path, members: list[str] = members) -> None:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
                for member in members:
                    archive.writestr(zipfile.ZipInfo(member, ARCHIVE_TIME), (writer.root / member).read_bytes())

        writer.write(f"{source}.zip", content_key({m: writer.keys[m] for m in members}), write)
        names.append(f"{source}.zip")
    return names
