"""Length-grouped SFT batches: the token length of every row equals what TRL's collator builds, and the runner's
batches pad less than random ones. CPU, tiny offline Qwen2.5-VL, the rows `ladder demo` writes."""

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")

from laddertrain.data import adapt, load_subset, stage1_row, stage2_row, token_lengths
from laddertrain.recipe import TrainRecipe

PAPER_BUDGET = (12_544, 100_352)
TINY_BUDGET = (3_136, 12_544)


def stage_rows(data: Path, subset: str, budget: tuple[int, int]) -> Any:
    if subset == "localization":
        return adapt(load_subset(data, subset), lambda r: stage1_row(r, *budget))
    return adapt(load_subset(data, subset), stage2_row)


@pytest.mark.parametrize("budget", [TINY_BUDGET, PAPER_BUDGET], ids=["tiny", "paper"])
@pytest.mark.parametrize("subset", ["localization", "spatial"])
def test_token_lengths_equal_the_rows_trl_collates(
    demo_out: Path, tiny_model: Path, subset: str, budget: tuple[int, int]
) -> None:
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from laddertrain.processing import load_processor

    processor = load_processor(tiny_model, *budget)
    rows = stage_rows(demo_out / "dataset", subset, budget)
    lengths = token_lengths(rows, processor, *budget)
    collate = DataCollatorForVisionLanguageModeling(processor)
    collated = [int(collate([dict(rows[i])])["attention_mask"].sum()) for i in range(len(rows))]
    assert lengths == collated
    if subset == "spatial":  # single images, 8-view sets and 16-frame videos: lengths differ by far
        assert max(lengths) > 2 * min(lengths)


def padding_share(loader: Any) -> float:
    real = padded = 0
    for batch in loader:
        mask = batch["attention_mask"]
        real, padded = real + int(mask.sum()), padded + mask.numel()
    return 1 - real / padded


def test_length_grouping_pads_less_than_random_batches(demo_out: Path, tiny_model: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForImageTextToText
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from laddertrain.processing import load_processor
    from laddertrain.runners import stage_dataset
    from laddertrain.trainers import LENGTH_COLUMN, sft_trainer

    tiny = TrainRecipe.load("tiny")
    stage2 = tiny.stage2.model_copy(update={"max_samples": None, "max_images": None, "per_device_train_batch_size": 4})
    processor = load_processor(tiny_model, tiny.min_pixels, tiny.max_pixels)
    net = AutoModelForImageTextToText.from_pretrained(tiny_model)
    shares = {}
    for grouping in (False, True):
        recipe = tiny.model_copy(update={"length_grouping": grouping, "stage2": stage2})
        train = stage_dataset("stage2", recipe, demo_out / "dataset", tmp_path)
        trainer = sft_trainer("stage2", recipe, net, processor, train, tmp_path / f"out-{grouping}")
        sampler = trainer._get_train_sampler()
        if grouping:
            assert isinstance(sampler, LengthGroupedSampler)
            assert list(trainer.train_dataset[LENGTH_COLUMN]) == token_lengths(train, processor, *TINY_BUDGET)
        else:
            assert not isinstance(sampler, LengthGroupedSampler)
        loader = trainer.get_train_dataloader()
        first = next(iter(loader))
        assert LENGTH_COLUMN not in first and (first["labels"] != -100).any()  # the model never sees the column
        shares[grouping] = padding_share(loader)
    # 51 rows in batches of 4 sorted within pools of 12 (the sampler's pool is 50 optimizer steps, capped by the
    # data): 31% of the tokens are padding in random batches here, 18% grouped (0.3% at the paper recipe's batches
    # on 26k rows: docs/performance.md)
    assert shares[True] < 0.75 * shares[False], shares


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("stage2: {learning_rate: .inf}", "finite number"),
        ("stage3: {reward_weights: {format: .nan, accuracy: 1.0}}", "finite number"),
        ("stage3: {reward_weights: {formatt: 1.0}}", "unknown reward formatt"),
        ("stage3: {reward_weights: {format: 0, accuracy: 0}}", "every reward weight 0"),
        ("stage3: {num_generations: 1000000000}", "less than or equal to 1024"),
        ("stage3: {loss_type: grpoo}", "'grpo'"),
        ("stage2: {lr_scheduler_type: cosin}", "'cosine'"),
        ("stage2: {max_steps: 0}", "max_steps 0 trains nothing"),
        ("min_pixels: 100000000000", "less than or equal to 12845056"),
        ("{min_pixels: 200704, max_pixels: 100352}", "min_pixels 200704 is above max_pixels 100352"),
        ("coldstart_data: {threshold: 1.5}", "less than 1"),
        ("name: ../x", "should match pattern"),
    ],
)
def test_training_recipes_are_bounded(tmp_path: Path, setting: str, message: str) -> None:
    from ladderdata.errors import ConfigError

    path = tmp_path / "recipe.yaml"
    path.write_text(setting + "\n")
    with pytest.raises(ConfigError) as error:
        TrainRecipe.load(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_recipe_choices_are_what_transformers_and_trl_accept(tmp_path: Path) -> None:
    from typing import get_args

    from transformers.trainer_utils import SchedulerType
    from trl import GRPOConfig

    from laddertrain.stages.config import GRPOLoss, Scheduler

    assert set(get_args(Scheduler)) <= {s.value for s in SchedulerType}
    for loss in get_args(GRPOLoss):
        assert GRPOConfig(output_dir=str(tmp_path), loss_type=loss, use_cpu=True).loss_type == loss
