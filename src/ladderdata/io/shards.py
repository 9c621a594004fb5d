"""Parquet shards that ``datasets.load_dataset`` and TRL read directly.

The Hugging Face features (``Image`` for the ``images`` column) travel in the Parquet schema metadata under
the ``huggingface`` key, which is where ``datasets`` looks for them; images are embedded JPEG bytes.
"""

import io
import json
from collections.abc import Callable
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


def shard_schema(margin_names: list[str], row_format: RowFormat = RowFormat.TRAIN) -> pa.Schema:
    """Arrow schema of a shard; ``margins`` is a struct with one nullable float per known margin name."""
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


def shard_key(
    samples: list[Sample],
    margin_names: list[str],
    config: ImageConfig,
    row_format: RowFormat = RowFormat.TRAIN,
    dataset_name: str = "",
) -> str:
    """Content key of a shard's rows and settings, stored in the shard: a shard holding it is reused on resume."""
    parts = {
        "kind": "shard",
        "images": config.model_dump_json(),
        "format": f"{row_format}|{dataset_name}|{SHARD_FORMAT}",
        "margins": json.dumps(sorted(margin_names)),
    }
    return content_key(parts | {f"row:{i}": s.model_dump_json() for i, s in enumerate(samples)})


def existing_key(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        value = (pq.read_schema(path).metadata or {}).get(SHARD_KEY)
    except (pa.ArrowInvalid, OSError):
        return None
    return value.decode() if value else None


def write_shard(
    path: Path,
    samples: list[Sample],
    margin_names: list[str],
    image_bytes: Callable[[str, int], bytes],
    config: ImageConfig,
    row_format: RowFormat = RowFormat.TRAIN,
    dataset_name: str = "",
) -> None:
    """Write one shard atomically (temp name, then rename); ``image_bytes(scene_id, frame_id)`` gives JPEGs.

    The shard carries its :func:`shard_key`, so a rerun can tell an up-to-date shard (:func:`existing_key`)
    without reading its rows.
    """
    key = shard_key(samples, margin_names, config, row_format, dataset_name)
    schema = shard_schema(margin_names, row_format)
    rows = []
    for s in samples:
        row = s.model_dump(mode="json")
        row["images"] = [{"bytes": encode_image(image_bytes(s.scene_id, f), config), "path": None} for f in s.frame_ids]
        row["margins"] = {m: s.margins.get(m) for m in sorted(margin_names)}
        if row_format is RowFormat.BENCH:
            row.update({new: row.pop(old) for new, old in BENCH_RENAMES.items()})
            row["dataset"] = dataset_name
        else:
            row["resized_width"], row["resized_height"] = resized_size(s.image_width, s.image_height)
            row["messages"] = s.messages()
        rows.append(row)
    table = pa.Table.from_pylist(rows, schema=schema)
    table = table.replace_schema_metadata({**(schema.metadata or {}), SHARD_KEY: key.encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_ROWS, compression="zstd")
