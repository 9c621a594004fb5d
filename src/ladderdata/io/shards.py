"""Parquet shards that ``datasets.load_dataset`` and TRL read directly.

The Hugging Face features (``Image`` for the ``images`` column) travel in the Parquet schema metadata under
the ``huggingface`` key, which is where ``datasets`` looks for them; images are embedded JPEG bytes.
"""

import io
import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from ladderdata.cache import atomic_path, content_key
from ladderdata.geometry.vision_grid import resized_size
from ladderdata.recipe import ImageConfig
from ladderdata.tasks import Sample

SHARD_KEY = b"ladder.shard_key"
SHARD_FORMAT = 2
"""Version of what a shard holds besides its samples' fields (columns, ``messages``); part of the shard key, so
shards written by an older version are rewritten on resume. 2: boxes in ``messages`` on Qwen2.5-VL's grid."""


class RowFormat(StrEnum):
    TRAIN = "train"
    """Training shards: our column names plus ready ``messages``."""
    BENCH = "bench"
    """Benchmarks: the field names SPBench / VSI-Bench evaluators read, no answers in a chat column."""


#: benchmark column -> Sample field it comes from
BENCH_RENAMES = {"scene_name": "scene_id", "question_type": "task", "ground_truth": "answer"}
ROW_GROUP_ROWS = 64
#: A row group is closed once its images reach this many bytes, so a writer holds at most about this much image
#: data whatever the shard's size (video rows carry 16 frames or more).
ROW_GROUP_BYTES = 32 * 2**20


_TEXT = pa.string()
_CONTENT = pa.list_(pa.struct([("type", _TEXT), ("text", _TEXT)]))
MESSAGES_TYPE = pa.list_(pa.struct([("role", _TEXT), ("content", _CONTENT)]))
IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", _TEXT)])
OBJECT_TYPE = pa.struct(
    [
        ("object_id", pa.int64()),
        ("category", _TEXT),
        ("role", _TEXT),
        ("visibility", pa.float64()),
        ("bbox_2d", pa.list_(pa.float64())),
    ]
)


def shard_schema(margin_names: list[str], row_format: RowFormat = RowFormat.TRAIN, extras: bool = False) -> pa.Schema:
    """Arrow schema of a shard; ``margins`` is a struct with one nullable float per known margin name. With
    ``extras`` (a row of the dataset has :attr:`Sample.extras`), a last ``extras`` column holds each row's
    extras as a JSON object (null for rows without): datasets without extras keep their columns."""
    images = [
        ("frame_ids", pa.list_(pa.int64())),
        ("timestamps", pa.list_(pa.float64())),
        ("images", pa.list_(IMAGE_TYPE)),
        ("image_width", pa.int64()),
        ("image_height", pa.int64()),
    ]
    margins = ("margins", pa.struct([(m, pa.float64()) for m in sorted(margin_names)]))
    objects = ("objects", pa.list_(OBJECT_TYPE))
    fields: list[tuple[str, pa.DataType]]
    if row_format is RowFormat.BENCH:
        fields = [
            ("id", _TEXT),
            ("dataset", _TEXT),
            ("source", _TEXT),
            ("scene_name", _TEXT),
            ("question_type", _TEXT),
            ("modality", _TEXT),
            *images,
            ("question", _TEXT),
            ("options", pa.list_(_TEXT)),
            ("ground_truth", _TEXT),
            ("answer_type", _TEXT),
            objects,
            margins,
        ]
    else:
        fields = [
            ("id", _TEXT),
            ("task", _TEXT),
            ("modality", _TEXT),
            ("scene_id", _TEXT),
            ("source", _TEXT),
            *images,
            ("question", _TEXT),
            ("options", pa.list_(_TEXT)),
            ("answer", _TEXT),
            ("answer_type", _TEXT),
            objects,
            margins,
            ("resized_width", pa.int64()),
            ("resized_height", pa.int64()),
            ("messages", MESSAGES_TYPE),
        ]
    if extras:
        fields.append(("extras", _TEXT))
    schema = pa.schema(fields)
    features = {f.name: _feature(f.type, image=f.name == "images") for f in schema}
    return schema.with_metadata({b"huggingface": json.dumps({"info": {"features": features}}).encode()})


def _feature(t: pa.DataType, image: bool = False) -> dict[str, Any]:
    """The ``datasets`` feature dict of an Arrow type (``Image`` for the image column's items)."""
    if pa.types.is_list(t):
        item = {"_type": "Image"} if image else _feature(t.value_type)
        return {"feature": item, "_type": "List"}
    if pa.types.is_struct(t):
        return {t.field(i).name: _feature(t.field(i).type) for i in range(t.num_fields)}
    names = {pa.string(): "string", pa.int64(): "int64", pa.float64(): "float64", pa.binary(): "binary"}
    return {"dtype": names[t], "_type": "Value"}


def stored_size(width: int, height: int, config: ImageConfig) -> tuple[int, int]:
    """Size an image of ``width`` x ``height`` has once stored (downscaled to ``max_side`` if larger)."""
    if config.max_side is None or max(width, height) <= config.max_side:
        return width, height
    scale = config.max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def encode_image(jpeg: bytes, config: ImageConfig) -> bytes:
    """Stored bytes of a frame: untouched when no resize is needed, else resized and re-encoded."""
    if config.max_side is None:
        return jpeg
    with Image.open(io.BytesIO(jpeg)) as img:
        size = stored_size(img.width, img.height, config)
        if size == (img.width, img.height):
            return jpeg
        out = io.BytesIO()
        img.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(out, "JPEG", quality=config.jpeg_quality)
        return out.getvalue()


@dataclass(frozen=True)
class ShardFormat:
    """What every row of one build's shards looks like: the same for all of its shards."""

    margin_names: list[str]
    """The ``margins`` struct's fields (every margin any row of the build has)."""
    images: ImageConfig
    row_format: RowFormat = RowFormat.TRAIN
    dataset_name: str = ""
    """A benchmark's name, stored in its rows' ``dataset`` column (``RowFormat.BENCH``)."""
    extras: bool = False
    """Whether the shards have an ``extras`` column (a row of the build has extras)."""


def shard_key(samples: list[Sample], fmt: ShardFormat, scene_keys: Mapping[str, str] | None = None) -> str:
    """Content key of a shard's rows and settings, stored in the shard: a shard holding it is reused on resume.

    ``scene_keys`` (scan id -> the content key of the scan's input files) cover the bytes the shard embeds: a
    frame replaced in the source changes its scan's key, so every shard showing that scan is rewritten.
    """
    parts = {
        "kind": "shard",
        "images": fmt.images.model_dump_json(),
        "format": f"{fmt.row_format}|{fmt.dataset_name}|{SHARD_FORMAT}",
        "margins": json.dumps(sorted(fmt.margin_names)),
    }
    if fmt.extras:  # only then: shards without the column keep their keys
        parts["extras"] = "column"
    scenes = sorted({s.scene_id for s in samples})
    keys = scene_keys or {}
    parts |= {f"scene:{scene}": keys.get(scene, "") for scene in scenes}
    return content_key(parts | {f"row:{i}": s.model_dump_json() for i, s in enumerate(samples)})


def existing_key(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        value = (pq.read_schema(path).metadata or {}).get(SHARD_KEY)
    except (pa.ArrowInvalid, OSError):
        return None
    return value.decode() if value else None


def leaf_columns(schema: pa.Schema) -> list[str]:
    """Parquet leaf-column paths of ``schema`` (``images.list.element.bytes``): the names per-column writer
    options take."""

    def walk(kind: pa.DataType, path: str) -> Iterator[str]:
        if pa.types.is_struct(kind):
            for child in kind.fields:
                yield from walk(child.type, f"{path}.{child.name}")
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            yield from walk(kind.value_type, f"{path}.list.element")
        else:
            yield path

    return [column for field in schema for column in walk(field.type, field.name)]


def column_codecs(schema: pa.Schema) -> dict[str, str]:
    """zstd for every column but the embedded image bytes, which are JPEG or PNG already: zstd gains 1-2% on them
    for the CPU time of compressing each image once and every reader inflating it again."""
    return {c: "none" if c.startswith("images.") and c.endswith(".bytes") else "zstd" for c in leaf_columns(schema)}


def shard_row(sample: Sample, fmt: ShardFormat, stored_image: Callable[[str, int], bytes]) -> dict[str, Any]:
    """One row of a shard; ``stored_image(scene_id, frame_id)`` gives each image's bytes as stored
    (:func:`encode_image` of the frame's JPEG)."""
    row = sample.model_dump(mode="json")
    row.pop("extras", None)
    if fmt.extras:
        row["extras"] = json.dumps(sample.extras, sort_keys=True, separators=(",", ":")) if sample.extras else None
    row["images"] = [{"bytes": stored_image(sample.scene_id, f), "path": None} for f in sample.frame_ids]
    row["margins"] = {m: sample.margins.get(m) for m in sorted(fmt.margin_names)}
    if fmt.row_format is RowFormat.BENCH:
        row.update({new: row.pop(old) for new, old in BENCH_RENAMES.items()})
        row["dataset"] = fmt.dataset_name
    else:
        row["resized_width"], row["resized_height"] = resized_size(sample.image_width, sample.image_height)
        row["messages"] = sample.messages()
    return row


def group_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """``pa.Table.from_pylist(rows, schema=schema)``, the same table, but for its ``images`` column, whose bytes are
    joined into one buffer that the column then uses as it is: ``from_pylist`` grows the column's buffer by
    doubling it, copying what it holds at each step (2-2.5x the images' bytes of fresh memory, 50 MB of images on
    a ScanNet-sized scan)."""
    images = [image for row in rows for image in row["images"]]
    offsets = pa.array([0, *itertools.accumulate(len(image["bytes"]) for image in images)], pa.int32())
    data = b"".join(image["bytes"] for image in images)
    binary = pa.Array.from_buffers(pa.binary(), len(images), [None, offsets.buffers()[1], pa.py_buffer(data)])
    paths = pa.array([image["path"] for image in images], _TEXT)
    items = pa.StructArray.from_arrays([binary, paths], fields=list(IMAGE_TYPE))
    starts = pa.array([0, *itertools.accumulate(len(row["images"]) for row in rows)], pa.int32())
    field = schema.field("images")
    column = pa.ListArray.from_arrays(starts, items, type=field.type)
    table = pa.Table.from_pylist([{**row, "images": None} for row in rows], schema=schema)
    return table.set_column(schema.get_field_index("images"), field, column)


def write_shard(
    path: Path, samples: list[Sample], key: str, fmt: ShardFormat, image_bytes: Callable[[str, int], bytes]
) -> None:
    """Write one shard atomically (temp name, then rename); ``image_bytes(scene_id, frame_id)`` gives JPEGs.

    Rows are streamed to the Parquet writer one row group at a time (:data:`ROW_GROUP_ROWS` rows, or fewer once
    their images reach :data:`ROW_GROUP_BYTES`), and only that group's images are held in memory, so a writer's
    memory does not grow with ``rows_per_shard``. A frame that several rows of a group show (a video row's frames
    are shown again by single-image and multi-view rows) is read and encoded once per group, and its rows hold
    the same bytes object (a ScanNet-sized scan's 20-row shard: 189 images of 35 frames). The shard carries
    ``key``, its :func:`shard_key` (which the caller has computed to name and plan it: computing it here again
    serialised every sample a second time), so a rerun can tell an up-to-date shard (:func:`existing_key`) without
    reading its rows.
    """
    base = shard_schema(fmt.margin_names, fmt.row_format, fmt.extras)
    schema = base.with_metadata({**(base.metadata or {}), SHARD_KEY: key.encode()})
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema, compression=column_codecs(schema)) as writer:
        group: list[dict[str, Any]] = []
        group_bytes = 0  # every image of the group counted, a frame shown twice twice: what the table holds
        stored: dict[tuple[str, int], bytes] = {}  # the group's images, (scene id, frame) -> stored bytes

        def stored_image(scene_id: str, frame_id: int) -> bytes:
            image = stored.get((scene_id, frame_id))
            if image is None:
                image = stored[scene_id, frame_id] = encode_image(image_bytes(scene_id, frame_id), fmt.images)
            return image

        for i, sample in enumerate(samples):
            row = shard_row(sample, fmt, stored_image)
            group.append(row)
            group_bytes += sum(len(image["bytes"]) for image in row["images"])
            if len(group) == ROW_GROUP_ROWS or group_bytes >= ROW_GROUP_BYTES or i == len(samples) - 1:
                writer.write_table(group_table(group, schema), row_group_size=ROW_GROUP_ROWS)
                group, group_bytes = [], 0
                stored.clear()
