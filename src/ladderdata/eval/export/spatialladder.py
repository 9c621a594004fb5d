"""``spatialladder``: SpatialLadder's ``eval_spld``, whose ``prepare_data`` opens fixed paths under ``/datasets``.

``spbench-si`` and ``spbench-mv`` become ``SPBench-SI/SPBench-SI.parquet`` and ``SPBench-MV/SPBench-MV.parquet``
whose ``images`` column lists file names under ``<task>/images/<scene_name>/`` (another image benchmark:
``<name>/<name>.parquet``); the video benchmark becomes ``VSI-Bench/test-00000-of-00001.parquet`` with its videos
under ``VSI-Bench/``. ``--out /datasets`` is what it reads. The evaluator opens its parquet by a fixed name, so the
card's config (the folder name) names a keyed copy under ``data/``.
"""

import logging

import pyarrow as pa

from ladderdata.eval.export.base import DATA_DIR, ExportLayout, ParquetNames, keyed_parquet, register_layout
from ladderdata.eval.export.fields import SPATIALLADDER_NUM_FRAMES, video_frames_note, vsibench_table
from ladderdata.eval.export.files import ExportWriter
from ladderdata.io.dataset import BenchRow
from ladderdata.io.exported import ExportedBenchmark
from ladderdata.tasks import OfficialScorer

log = logging.getLogger(__name__)

IMAGE_TASKS = {"spbench-si": "SPBench-SI", "spbench-mv": "SPBench-MV"}
"""Benchmark -> SpatialLadder's task, read from ``<task>/<task>.parquet`` with images under ``<task>/images``."""
VIDEO_TASK = "VSI-Bench"
"""SpatialLadder's video task: ``VSI-Bench/test-00000-of-00001.parquet``, videos under ``VSI-Bench/``."""
VIDEO_PARQUET = "test-00000-of-00001.parquet"


@register_layout
class SpatialLadderLayout(ExportLayout):
    name = "spatialladder"
    description = "SpatialLadder's eval_spld: SPBench-SI, SPBench-MV and VSI-Bench folders (its /datasets)"
    reader = "SpatialLadder's evaluator"
    scorer = OfficialScorer.SPATIALLADDER

    def folder(self, benchmark: str, is_video: bool) -> str:
        return VIDEO_TASK if is_video else IMAGE_TASKS.get(benchmark, benchmark)

    def parquet_names(self, folder: str, is_video: bool, key: str) -> ParquetNames:
        parquet = VIDEO_PARQUET if is_video else f"{folder}.parquet"
        return ParquetNames(parquet, f"{DATA_DIR}/{keyed_parquet(key)}", folder)

    def table(self, questions: list[BenchRow], images: list[list[str]] | None) -> pa.Table:
        return vsibench_table(questions, images)

    def finish(self, result: ExportedBenchmark, writer: ExportWriter, frames: int) -> None:
        if result.videos and frames < SPATIALLADDER_NUM_FRAMES:
            log.warning(
                "%s: %d frames per video; SpatialLadder's evaluator samples %d by default (frames twice): "
                "run it with --num_frames %d",
                result.benchmark,
                frames,
                SPATIALLADDER_NUM_FRAMES,
                frames,
            )

    def frames_note(self, result: ExportedBenchmark, frames: int) -> str:
        return video_frames_note(result, frames) if result.videos else super().frames_note(result, frames)

    def usage(self, result: ExportedBenchmark) -> str:
        media = "`images/<scene_name>/`" if result.images else "`<dataset>/<scene_name>.mp4`"
        return (
            f"**SpatialLadder's evaluator** (`eval_spld`) opens `/datasets/{result.folder}/{result.parquet}` and "
            f"{media} beside it by fixed names: export with `--out /datasets`. The card's config `{result.config}` "
            f"names `{result.data_file}`, a copy of the parquet whose name carries its content key, so `datasets` "
            "never serves an earlier export's rows from its cache."
        )
