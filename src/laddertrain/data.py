"""Stage adapters: ladder shards -> TRL rows.

* stage 1 (SFT, localization): ``{"images", "messages"}``; the target is the JSON list of labels and boxes with
  every box rescaled to the pixel grid the processor resizes that image to (Qwen2.5-VL answers in those
  absolute coordinates), encoded once;
* stage 2 (SFT, spatial QA): ``{"images", "messages"}`` with the direct-answer prompt;
* cold start (SFT): ``{"images", "messages"}`` with the think prompt and a ``<think>..<answer>`` target;
* stage 3 (GRPO): ``{"images", "prompt", "answer", "answer_type"}`` with the think prompt.

The row functions build the text columns from a shard row's other columns (one image per ``frame_ids`` entry);
:func:`adapt` applies one to a dataset and keeps the ``images`` column exactly as stored, JPEG bytes that the
training dataloader's workers decode (mapping decoded images instead re-encodes every frame as PNG at start-up:
12.4 s instead of 1.6 s for the 67 demo rows, docs/performance.md). Videos are frame lists in the ``images``
column, so every stage sees them as the model's visual input. Prompts come from ``ladderdata.prompts`` (shared
with ``ladder eval``).
"""

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from ladderdata.errors import ConfigError
from ladderdata.geometry.vision_grid import MAX_PIXELS, MIN_PIXELS, rescale_boxes, visual_tokens
from ladderdata.io.dataset import DatasetReader
from ladderdata.prompts import PromptStyle, user_prompt
from laddertrain.rows import GRPORow, SFTRow, ShardRow, TRLRow, chat_turns


def sft_row(row: ShardRow, style: PromptStyle, target: str) -> SFTRow:
    prompt = user_prompt(row["question"], list(row["options"]), row["answer_type"], style)
    return {"messages": chat_turns(prompt, len(row["frame_ids"]), target)}


def stage1_row(row: ShardRow, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS) -> SFTRow:
    target = rescale_boxes(row["answer"], row["image_width"], row["image_height"], min_pixels, max_pixels)
    return sft_row(row, PromptStyle.LOCALIZATION, target)


def stage2_row(row: ShardRow) -> SFTRow:
    return sft_row(row, PromptStyle.ANSWER, row["answer"])


def coldstart_row(row: ShardRow) -> SFTRow:
    """A cold-start shard row (written by ``ladder train coldstart-data``): its ``completion`` is the target."""
    return sft_row(row, PromptStyle.THINK, row["completion"])


def grpo_row(row: ShardRow) -> GRPORow:
    prompt = user_prompt(row["question"], list(row["options"]), row["answer_type"], PromptStyle.THINK)
    turns = chat_turns(prompt, len(row["frame_ids"]))
    return {"prompt": turns, "answer": row["answer"], "answer_type": row["answer_type"]}


def adapt(ds: Any, fn: Callable[[ShardRow], TRLRow]) -> Any:
    """``ds`` with its ``images`` column as stored and every other column replaced by ``fn(row)``'s columns;
    ``fn`` sees the row without its images, which are never decoded here."""
    columns = [c for c in ds.column_names if c != "images"]
    return ds.map(
        lambda *values: fn(cast(ShardRow, dict(zip(columns, values, strict=True)))),
        input_columns=columns,
        remove_columns=columns,
    )


def token_lengths(ds: Any, processor: Any, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS) -> list[int]:
    """Per SFT row (``messages`` + ``images``), the tokens the language model sees: the chat template's text
    tokens with each image placeholder expanded to that image's visual tokens at the pixel budget, which is the
    length of the row TRL's collator builds (tested). Images are read as stored, their sizes from the headers:
    nothing is decoded or rewritten.
    """
    from PIL import Image  # here, not at the top: the stage table imports this module when `ladder` starts

    lengths: list[int] = []
    stored = ds.select_columns(["messages", "images"]).with_format("arrow")
    for batch in stored.iter(batch_size=256):
        texts = processor.apply_chat_template(batch["messages"].to_pylist(), tokenize=False)
        ids = processor.tokenizer(texts, add_special_tokens=False)["input_ids"]
        for text_ids, images in zip(ids, batch["images"].to_pylist(), strict=True):
            tokens = len(text_ids)
            for image in images:
                with Image.open(io.BytesIO(image["bytes"]) if image["bytes"] is not None else image["path"]) as header:
                    tokens += visual_tokens(*header.size, min_pixels, max_pixels) - 1  # minus the placeholder
            lengths.append(tokens)
    return lengths


def subset_files(data: Path, subset: str) -> list[str]:
    """The shards of ``subset`` that the manifest of the dataset at ``data`` lists; a folder that is not a ladder
    dataset, or a subset without shards, is a ``ConfigError`` saying what to do."""
    try:
        reader = DatasetReader(data)
    except ConfigError as e:
        raise ConfigError(
            f"--data {data} is not a ladder dataset ({e}): pass the --out folder of `ladder build-dataset` "
            "(`ladder demo` writes demo/dataset)"
        ) from None
    files = [str(shard.path) for shard in reader.shards if shard.subset == subset]
    if not files:
        raise ConfigError(f"no {subset} shards under {data / 'data' / subset}: build them with `ladder build-dataset`")
    return files


def load_subset(data: Path, subset: str, max_images: int | None = None) -> Any:
    """A subset of a ladder dataset as a ``datasets.Dataset`` (images decoded), optionally without rows
    showing more than ``max_images`` images."""
    import datasets

    ds = datasets.load_dataset("parquet", data_files=subset_files(data, subset), split="train")
    if max_images is not None:
        ds = ds.filter(lambda ids: len(ids) <= max_images, input_columns="frame_ids")
    return ds
