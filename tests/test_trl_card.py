"""TRL out of the box: the card's own TRL snippet trains on the shards (tiny offline Qwen2.5-VL, CPU), and the
localization targets of ``messages`` are in the pixels of the image as Qwen2.5-VL's processor resizes it."""

import json
import math
from pathlib import Path
from typing import Any

import pytest

from fixtures.factories import BuiltDataset
from fixtures.shared import shared_folder
from ladderdata.geometry.vision_grid import MAX_PIXELS, MIN_PIXELS

pytest.importorskip("trl")

MODEL_ID = "Qwen/Qwen2.5-VL-3B-Instruct"


def card_snippet(card: str) -> str:
    """The Python block of the card's "Training with TRL" section, verbatim."""
    section = card.split("## Training with TRL", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the tiny Qwen2.5-VL under the card's model id, so the id resolves locally."""
    from fixtures.tiny_qwen import save_tiny_qwen

    return shared_folder(tmp_path_factory, "card-models", lambda f: save_tiny_qwen(f / MODEL_ID))


def test_card_trl_snippet_trains_on_the_shards(
    built_dataset: BuiltDataset, models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import transformers
    import trl

    from laddertrain.processing import _image_only_processor

    snippet = card_snippet((built_dataset.out / "README.md").read_text())
    assert "max_length=None" in snippet and "assistant_only_loss=True" in snippet
    work = tmp_path / "work"  # the card loads its folder by name and the model by id: both resolve here
    shutil.copytree(built_dataset.out, work / built_dataset.out.name)
    (work / "Qwen").symlink_to(models / "Qwen")
    monkeypatch.chdir(work)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))

    # the environment, not the settings: AutoProcessor needs torchvision for the video processor (absent here),
    # so the same processor is built for images only; a short CPU run instead of a full one
    def processor(path: str, *args: Any, **kwargs: Any) -> Any:
        assert path == MODEL_ID
        return _image_only_processor(path)

    monkeypatch.setattr(transformers.AutoProcessor, "from_pretrained", processor)
    card_config = trl.SFTConfig
    short_run: dict[str, Any] = {"max_steps": 1, "per_device_train_batch_size": 2, "use_cpu": True, "bf16": False}
    short_run |= {"report_to": [], "save_strategy": "no", "logging_steps": 1}

    def config(**settings: Any) -> Any:
        assert not set(settings) & set(short_run)
        return card_config(**settings, **short_run)

    trainers: list[Any] = []

    class Recorded(trl.SFTTrainer):  # type: ignore[misc]  # TRL is untyped here
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            trainers.append(self)

    monkeypatch.setattr(trl, "SFTConfig", config)
    monkeypatch.setattr(trl, "SFTTrainer", Recorded)
    exec(compile(snippet, "README.md", "exec"), {})

    (trainer,) = trainers
    tokenizer = trainer.processing_class.tokenizer
    # one step of an untrained model, whose next-token guess is close to uniform: cross-entropy about ln(vocabulary)
    assert trainer.state.global_step == 1
    assert trainer.state.log_history[0]["loss"] == pytest.approx(math.log(len(tokenizer)), abs=0.2)
    size = trainer.processing_class.image_processor.size
    assert (size["shortest_edge"], size["longest_edge"]) == (MIN_PIXELS, MAX_PIXELS)
    rows = trainer.train_dataset
    longest = [rows[list(rows["modality"]).index("video")]]  # the most images per row
    batch = trainer.data_collator(longest)
    pads = batch["input_ids"] == tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int(pads.sum()) == int(batch["image_grid_thw"].prod(dim=1).sum()) // 4  # every image whole (merge 2x2)
    assert int(pads.sum()) > 1024  # longer than TRL's default max_length
    supervised = batch["labels"] != -100
    assert 0 < int(supervised.sum()) < int(batch["attention_mask"].sum())
    assert not (supervised & pads).any()  # the loss covers the answer, not the prompt

    # without the card's max_length=None, TRL's default cuts such a row inside its image tokens
    default_length = snippet.replace("    max_length=None,\n", "").replace("trainer.train()", "")
    exec(compile(default_length, "README.md", "exec"), {})
    with pytest.raises(ValueError, match="Mismatch in `image` token count"):
        trainers[-1].data_collator(longest)


def test_messages_boxes_are_on_the_processors_grid(built_dataset: BuiltDataset) -> None:
    """Qwen2.5-VL answers in the pixels of the resized image: the processor's own grid gives the size, and the
    boxes of ``messages`` are the stored boxes (``answer``) scaled onto it."""
    datasets = pytest.importorskip("datasets")
    from transformers import Qwen2VLImageProcessorPil

    processor = Qwen2VLImageProcessorPil(
        patch_size=14, merge_size=2, size={"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}
    )
    rows = datasets.load_dataset(str(built_dataset.out), "localization", split="train")
    checked = 0
    for row in rows.select(range(min(12, len(rows)))):
        grid = processor(images=row["images"], return_tensors="np")["image_grid_thw"][0]
        height, width = int(grid[1]) * 14, int(grid[2]) * 14
        assert (row["resized_width"], row["resized_height"]) == (width, height)
        stored = json.loads(row["answer"])
        target = json.loads(row["messages"][-1]["content"][0]["text"])
        assert [b["label"] for b in target] == [b["label"] for b in stored]
        sx, sy = width / row["image_width"], height / row["image_height"]
        for old, new in zip(stored, target, strict=True):
            x1, y1, x2, y2 = old["bbox_2d"]
            assert new["bbox_2d"] == pytest.approx([x1 * sx, y1 * sy, x2 * sx, y2 * sy], abs=0.5)
            checked += 1
    assert checked and (width, height) != (row["image_width"], row["image_height"])  # a real change of grid
