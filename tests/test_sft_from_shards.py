"""One TRL SFT step on a batch read straight from the shards (tiny offline Qwen2.5-VL, CPU)."""

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
    image_tokens = (batch["input_ids"] == tokenizer.convert_tokens_to_ids("<|image_pad|>")).sum().item()
    assert image_tokens > 0
    supervised = batch["labels"] != -100
    assert 0 < supervised.sum() < batch["attention_mask"].sum()  # assistant-only loss
    result = trainer.train()
    assert result.training_loss > 0
    assert any((p != before[n]).any() for n, p in model.named_parameters())
