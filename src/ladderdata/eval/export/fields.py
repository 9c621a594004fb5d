"""What the two built-in layouts share: VSI-Bench's field names, which both evaluators read (SpatialLadder's
copies VSI-Bench's), and how both sample a video's frames.

:func:`vsibench_table` is the export boundary where ladder's ``scene_id`` / ``task`` / ``answer`` become
``scene_name`` / ``question_type`` / ``ground_truth``, and ``dataset`` names the scan's source."""

import pyarrow as pa

from ladderdata.io.dataset import BenchRow
from ladderdata.io.exported import ExportedBenchmark

SPATIALLADDER_NUM_FRAMES = 32
"""SpatialLadder's ``evaluator.py --num_frames`` default: frames it samples from each video by
``np.linspace(0, total - 1, num_frames, dtype=int)``."""

_TEXT = pa.string()
COMMON_FIELDS = [
    ("id", _TEXT),
    ("dataset", _TEXT),
    ("scene_name", _TEXT),
    ("question_type", _TEXT),
    ("question", _TEXT),
    ("options", pa.list_(_TEXT)),
    ("ground_truth", _TEXT),
]
"""The fields the evaluators read, VSI-Bench's names (``options`` is null for numeric answers, as there)."""
EXTRA_FIELDS = [
    ("benchmark", _TEXT),
    ("modality", _TEXT),
    ("answer_type", _TEXT),
    ("frame_ids", pa.list_(pa.int64())),
]
"""Ours, after theirs (the evaluators ignore them)."""


def vsibench_table(questions: list[BenchRow], images: list[list[str]] | None) -> pa.Table:
    """The evaluators' fields, ``images`` (file names) for image benchmarks, then ours."""
    fields = list(COMMON_FIELDS)
    if images is not None:
        fields.append(("images", pa.list_(_TEXT)))
    fields += EXTRA_FIELDS
    out = []
    for k, q in enumerate(questions):
        out.append(
            {
                "id": q.id,
                "dataset": q.source,
                "scene_name": q.scene_id,
                "question_type": q.task,
                "question": q.question,
                "options": q.options or None,
                "ground_truth": q.answer,
                **({"images": images[k]} if images is not None else {}),
                "benchmark": q.benchmark,
                "modality": str(q.modality),
                "answer_type": str(q.answer_type),
                "frame_ids": q.frame_ids,
            }
        )
    return pa.Table.from_pylist(out, schema=pa.schema(fields))


def video_frames_note(result: ExportedBenchmark, frames: int) -> str:
    """The card's paragraph on the frames a folder's videos hold and how many of them the two evaluators read."""
    text = (
        f"Each video holds the benchmark's {frames} frames of its scan, one video frame each at {result.fps:g} fps. "
        f"SpatialLadder's evaluator samples `--num_frames` frames (default {SPATIALLADDER_NUM_FRAMES}) by "
        "`np.linspace(0, total - 1, num_frames)`"
    )
    if frames < SPATIALLADDER_NUM_FRAMES:
        text += f": pass `--num_frames {frames}` to read each frame once (the default reads frames twice)"
    return text + ". lmms-eval hands each video to the model, whose own sampler picks the frames it reads."
