"""One TRL SFT step on a batch read straight from the shards (tiny offline Qwen2.5-VL, CPU)."""

import math
from pathlib import Path

import pytest

from fixtures.factories import BuiltDataset

pytest.importorskip("trl")


@pytest.mark.parametrize("subset", ["spatial", "localization"])
def test_one_sft_step_on_shards(built_dataset: BuiltDataset, tmp_path: Path, subset: str) -> None:
    import datasets
    from trl import SFTConfig, SFTTrainer

    from fixtures.tiny_qwen import build_model, build_processor, build_tokenizer

    ds = datasets.load_dataset(str(built_dataset.out), subset, split="train")
    ds = ds.filter(lambda m: m != "video", input_columns="modality").select(range(4))
    ds = ds.select_columns(["images", "messages"])
    tokenizer = build_tokenizer()
    processor = build_processor(tokenizer)
    model = build_model(tokenizer)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    config = SFTConfig(
        output_dir=str(tmp_path / "out"),
        max_steps=1,
        per_device_train_batch_size=2,
        use_cpu=True,
        bf16=False,
        report_to=[],
        save_strategy="no",
        logging_steps=1,
        max_length=None,
        assistant_only_loss=True,
    )
    trainer = SFTTrainer(model=model, args=config, train_dataset=ds, processing_class=processor)
    batch = next(iter(trainer.get_train_dataloader()))
    assert "pixel_values" in batch and "image_grid_thw" in batch
    # every stored image is 1296x968; by hand, the tiny processor (at most 28*28*16 pixels) shrinks it by
    # sqrt(1296*968/12544) = 10.0 and floors each side to a multiple of 28: 84x112, a 6x8 patch grid,
    # 3x4 = 12 tokens after the 2x2 merge
    images = len(batch["image_grid_thw"])
    assert images >= 2 and batch["image_grid_thw"].tolist() == [[1, 6, 8]] * images
    image_tokens = (batch["input_ids"] == tokenizer.convert_tokens_to_ids("<|image_pad|>")).sum().item()
    assert image_tokens == 12 * images
    supervised = batch["labels"] != -100
    assert 0 < supervised.sum() < batch["attention_mask"].sum()  # assistant-only loss
    result = trainer.train()
    # an untrained model's next-token guess is close to uniform: its cross-entropy is about ln(vocabulary)
    assert result.training_loss == pytest.approx(math.log(len(tokenizer)), abs=0.2)
    assert any((p != before[n]).any() for n, p in model.named_parameters())
