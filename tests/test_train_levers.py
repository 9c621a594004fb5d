"""The speed levers of a training recipe: the paper's effective batch on any GPU count, the data path, the rollout
backends, the optional kernels. CPU, tiny offline Qwen2.5-VL."""

import functools
import importlib.metadata
import importlib.util
import logging
import os
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fixtures.factories import BuiltDataset

pytest.importorskip("trl")

from ladderdata.errors import ConfigError
from laddertrain.recipe import TrainRecipe

PAPER_GPUS = 4
"""Paper B.2: 4 x A6000. Table 7 (stages 1-2): 1 per device x 8 accumulation; Table 8 (stage 3): 2 x 4."""
PAPER_SFT_BATCH = 1 * 8 * PAPER_GPUS
PAPER_GRPO_BATCH = 2 * 4 * PAPER_GPUS


def recipe_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("world", [1, 2, 4])
def test_paper_recipe_keeps_the_papers_effective_batch_on_any_gpu_count(
    world: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from trl import SFTConfig

    from laddertrain.levers import training_args

    recipe = TrainRecipe.load("paper-3b")
    SFTConfig(**training_args(recipe, recipe.stage2, tmp_path))  # TRL accepts every setting (one process here)
    monkeypatch.setenv("WORLD_SIZE", str(world))  # what accelerate launch sets on each of `world` processes
    for stage, paper in (("stage1", PAPER_SFT_BATCH), ("stage2", PAPER_SFT_BATCH), ("coldstart", PAPER_SFT_BATCH)):
        args = training_args(recipe, getattr(recipe, stage), tmp_path)
        assert args["per_device_train_batch_size"] * args["gradient_accumulation_steps"] * world == paper, stage
    grpo = training_args(recipe, recipe.stage3, tmp_path)
    assert grpo["per_device_train_batch_size"] * grpo["gradient_accumulation_steps"] * world == PAPER_GRPO_BATCH
    assert recipe.stage3.num_generations == 8 and recipe.stage3.beta == 0.01  # Table 8
    assert recipe.stage2.lr_scheduler_type == "cosine" and recipe.stage2.warmup_ratio == 0.1  # Table 7


def test_batch_arithmetic_that_cannot_hold_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from laddertrain.runners import preflight

    monkeypatch.setenv("WORLD_SIZE", "8")  # 8 GPUs x 8 rows > 32 rows per optimizer step
    with pytest.raises(ConfigError, match=r"effective_batch_size 32 is not a multiple of .* 8 x 8 processes"):
        preflight("stage2", TrainRecipe.load("paper-3b"))
    both = "stage2: {per_device_train_batch_size: 2, effective_batch_size: 8, gradient_accumulation_steps: 4}\n"
    with pytest.raises(ConfigError, match="not both"):
        TrainRecipe.load(recipe_file(tmp_path, both))
    groups = "stage3: {num_generations: 8, effective_batch_size: 12}\n"
    with pytest.raises(ConfigError, match="multiple of num_generations 8"):
        TrainRecipe.load(recipe_file(tmp_path, groups))
    monkeypatch.setenv("WORLD_SIZE", "1")
    for stage in ("stage1", "stage2", "coldstart", "stage3"):
        preflight(stage, TrainRecipe())  # the defaults are a valid schedule
    partial = TrainRecipe.load(recipe_file(tmp_path, "stage3: {num_generations: 8, per_device_train_batch_size: 2}\n"))
    with pytest.raises(ConfigError, match="does not hold whole groups of num_generations 8"):
        preflight("stage3", partial)  # 2 completions per step: TRL would fail later, with a traceback


def test_paged_rollouts_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"continuous batching.*token ids only.*images"):
        TrainRecipe.load(recipe_file(tmp_path, "stage3: {rollouts: paged}\n"))


def test_vllm_rollouts_without_vllm_are_one_line_before_anything_loads(tmp_path: Path) -> None:
    from laddertrain.cli import train_app

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    recipe = recipe_file(tmp_path, "stage3: {rollouts: vllm}\n")
    args = ["stage3", "--recipe", str(recipe), "--model", str(tmp_path / "none"), "--data", str(tmp_path / "none")]
    result = CliRunner().invoke(train_app, args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: stage3.rollouts: vllm needs vLLM"), result.output
    assert "Traceback" not in result.output


def test_rollout_settings_map_onto_trls_grpo_config(
    built_dataset: BuiltDataset, tiny_model: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import trl

    from laddertrain import trainers
    from laddertrain.runners import run_stage

    monkeypatch.setattr(trainers, "vllm_installed", lambda: True)  # the trainer is replaced: vLLM is never used
    seen: dict[str, Any] = {}

    class StopError(Exception):
        pass

    class Recorder:
        def __init__(self, args: Any, **_: Any) -> None:
            seen["args"] = args
            raise StopError

    monkeypatch.setattr(trl, "GRPOTrainer", Recorder)
    recipe = TrainRecipe.load("paper-3b")
    stage3 = recipe.stage3.model_copy(
        update={"rollouts": "vllm", "prompts_per_generation": 8, "vllm_gpu_memory_utilization": 0.4, "max_samples": 2}
    )
    with pytest.raises(StopError):
        run_stage("stage3", recipe.model_copy(update={"stage3": stage3}), tiny_model, built_dataset.out, tmp_path)
    args = seen["args"]
    assert (args.use_vllm, args.vllm_mode, args.vllm_gpu_memory_utilization) == (True, "colocate", 0.4)
    assert args.generation_batch_size == 8 * 8  # 8 prompts x 8 generations in one generation call
    assert args.steps_per_generation == 64 // 4  # micro-batches of 4 completions
    assert args.optim == "adamw_torch_fused"


def grpo_args(recipe: TrainRecipe, built: BuiltDataset, model: Path, tmp_path: Path, monkeypatch: Any) -> Any:
    """The GRPOConfig stage 3 hands TRL for ``recipe`` (the trainer replaced before it loads anything)."""
    import trl

    from laddertrain.runners import run_stage

    seen: dict[str, Any] = {}

    class StopError(Exception):
        pass

    class Recorder:
        def __init__(self, args: Any, **_: Any) -> None:
            seen["args"] = args
            raise StopError

    monkeypatch.setattr(trl, "GRPOTrainer", Recorder)
    stage3 = recipe.stage3.model_copy(update={"max_samples": 2, "rollouts": "hf"})
    with pytest.raises(StopError):
        run_stage("stage3", recipe.model_copy(update={"stage3": stage3}), model, built.out, tmp_path)
    return seen["args"]


def test_grpo_generates_each_optimizer_steps_prompts_together_by_default(
    built_dataset: BuiltDataset, tiny_model: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """paper-3b on one process: 4 completions per micro-batch x 8 accumulation = 32 completions (4 prompts x 8) per
    optimizer step, all generated in one batch, once per step: on-policy, and the largest such batch. On a GPU too
    small for that (rollout_fit), the step's prompts are generated in the fewest equal rounds that fit."""
    from laddertrain import trainers

    recipe = TrainRecipe.load("paper-3b").model_copy(update={"precision": "fp32"})
    args = grpo_args(recipe, built_dataset, tiny_model, tmp_path, monkeypatch)
    assert args.gradient_accumulation_steps == 8 and args.per_device_train_batch_size == 4
    assert args.generation_batch_size == 32 and args.steps_per_generation == args.gradient_accumulation_steps
    assert args.num_iterations == 1  # each rollout trains one optimizer step: on-policy

    monkeypatch.setattr(trainers, "rollout_fit", lambda *_: 20)  # a GPU whose rollout share holds 20 completions
    args = grpo_args(recipe, built_dataset, tiny_model, tmp_path / "small", monkeypatch)
    assert args.generation_batch_size == 16 and args.steps_per_generation == 4  # 2 rounds of 2 prompts x 8
    assert args.gradient_accumulation_steps % args.steps_per_generation == 0  # rounds within one optimizer step
    monkeypatch.setattr(trainers, "rollout_fit", lambda *_: 1)  # nothing fits: one micro-batch of 4 is the least
    args = grpo_args(recipe, built_dataset, tiny_model, tmp_path / "tiny", monkeypatch)
    assert args.generation_batch_size == 8 and args.steps_per_generation == 2  # whole groups of 8 generations


def test_rollout_fit_is_the_kv_cache_of_one_completion_against_the_gpus_share(
    tiny_model: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import json

    import torch

    from laddertrain.trainers import rollout_fit

    config = {
        "text_config": {
            "num_hidden_layers": 36,
            "hidden_size": 2048,
            "num_attention_heads": 16,
            "num_key_value_heads": 2,
        }
    }
    (tmp_path / "config.json").write_text(json.dumps(config))  # Qwen2.5-VL-3B's language model
    recipe = TrainRecipe.load("paper-3b")
    assert (
        not torch.cuda.is_available() and rollout_fit("stage3", recipe, tmp_path) is None
    )  # CPU: the whole step at once
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    gpu = type("Props", (), {"total_memory": 80 * 2**30})()
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda _: gpu)
    per_token = 36 * 2 * 2 * 128 * 2  # layers x (key, value) x heads x head size x bf16 bytes: 36 KiB
    tokens = 8 * (100_352 // 784) + 512 + 1024  # 8 images of 128 tokens, the prompt's text, the completion
    fit = rollout_fit("stage3", recipe, tmp_path)
    assert fit == int(0.3 * 80 * 2**30 // (per_token * tokens)) == 273
    assert fit >= 32  # paper-3b's step of 32 completions: one batch on an H100


def test_liger_requested_but_absent_is_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    from laddertrain.levers import use_liger

    if importlib.util.find_spec("liger_kernel") is not None:
        pytest.skip("liger-kernel is installed here")
    recipe = TrainRecipe.load("tiny")
    assert use_liger(recipe) is False  # not requested: silent
    assert not caplog.records
    with caplog.at_level(logging.WARNING):
        assert use_liger(recipe.model_copy(update={"liger": True})) is False
    assert len(caplog.records) == 1 and "liger-kernel is not installed" in caplog.records[0].getMessage()


def test_liger_that_cannot_patch_this_transformers_is_one_log_line(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Measured on an H100: liger-kernel 0.8.5 with transformers 5.23 fails inside TRL with an ImportError of
    Liger's Qwen2.5-VL output class; the runner must see that before TRL does and train without Liger."""
    import torch

    from laddertrain.levers import use_liger

    package = tmp_path / "liger_kernel" / "transformers" / "model"
    package.mkdir(parents=True)
    for folder in (package.parent.parent, package.parent, package):
        (folder / "__init__.py").write_text("")
    (package / "qwen2_5_vl.py").write_text("from .output_classes import LigerQwen2_5_VLCausalLMOutputWithPast\n")
    (package / "output_classes.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("liger_kernel")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    real_version = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata, "version", lambda name: "0.8.5" if name == "liger-kernel" else real_version(name)
    )
    with caplog.at_level(logging.WARNING):
        assert use_liger(TrainRecipe.load("tiny").model_copy(update={"liger": True})) is False
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "liger-kernel 0.8.5 cannot patch transformers" in message and "LigerQwen2_5_VL" in message


def test_images_stay_as_stored_until_the_dataloader_decodes_them(built_dataset: BuiltDataset) -> None:
    from laddertrain.data import adapt, load_subset, stage2_row

    shard = sorted((built_dataset.out / "data" / "spatial").glob("*.parquet"))
    stored = pq.read_table(shard, columns=["images"]).column("images").to_pylist()
    adapted = adapt(load_subset(built_dataset.out, "spatial"), stage2_row)
    assert adapted.column_names == ["images", "messages"]
    kept = adapted.data.column("images").to_pylist()  # Arrow storage: the embedded JPEG bytes, not re-encoded
    assert [[i["bytes"] for i in row] for row in kept] == [[i["bytes"] for i in row] for row in stored]
    first = adapted[0]
    assert first["images"][0].format == "JPEG"
    placeholders = [block for turn in first["messages"] for block in turn["content"] if block["type"] == "image"]
    assert len(placeholders) == len(first["images"])


def test_dataloader_workers_run_the_image_processor(
    built_dataset: BuiltDataset, tiny_model: Path, tmp_path: Path
) -> None:
    import torch

    from laddertrain.processing import load_processor
    from laddertrain.runners import stage_dataset
    from laddertrain.trainers import sft_trainer

    recipe = TrainRecipe.load("tiny").model_copy(update={"dataloader_workers": 2})
    from transformers import AutoModelForImageTextToText

    train = stage_dataset("stage2", recipe, built_dataset.out, tmp_path)
    processor = load_processor(tiny_model, recipe.min_pixels, recipe.max_pixels)
    net = AutoModelForImageTextToText.from_pretrained(tiny_model)
    trainer = sft_trainer("stage2", recipe, net, processor, train, tmp_path / "out")
    collate = trainer.data_collator

    def tagged(examples: list[dict[str, Any]]) -> Any:
        batch = collate(examples)
        batch["collated_in"] = torch.tensor(os.getpid())
        return batch

    trainer.data_collator = tagged
    loader = trainer.get_train_dataloader()
    assert loader.num_workers == 2
    batch = next(iter(loader))
    assert int(batch["collated_in"]) != os.getpid()  # decoded and processed in a worker process
    assert batch["pixel_values"].shape[0] > 0 and (batch["labels"] != -100).any()


def test_hf_rollouts_generate_several_prompts_in_one_call(
    built_dataset: BuiltDataset, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import Qwen2_5_VLForConditionalGeneration

    from laddertrain.runners import run_stage

    calls: list[dict[str, Any]] = []
    original: Any = Qwen2_5_VLForConditionalGeneration.generate

    @functools.wraps(original)
    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        ids = kwargs["input_ids"]
        calls.append(
            {
                "rows": ids.shape[0],
                "prompts": len({tuple(r.tolist()) for r in ids}),
                "attention": type(self.model.visual.blocks[0].attn).__name__,
            }
        )
        out = original(self, *args, **kwargs)
        calls[-1]["new_tokens"] = out.shape[1] - ids.shape[1]
        return out

    monkeypatch.setattr(Qwen2_5_VLForConditionalGeneration, "generate", recording)
    recipe = TrainRecipe.load("tiny")
    stage3 = recipe.stage3.model_copy(update={"max_steps": 1, "prompts_per_generation": 2, "max_images": 8})
    final = run_stage("stage3", recipe.model_copy(update={"stage3": stage3}), tiny_model, built_dataset.out, tmp_path)
    assert (final / "config.json").is_file()
    assert calls and calls[0]["rows"] == 2 * recipe.stage3.num_generations  # 2 prompts x 2 generations at once
    assert calls[0]["prompts"] == 2
    assert calls[0]["new_tokens"] > 0
    assert calls[0]["attention"].startswith("Grouped")  # the runner switched the vision attention


def test_images_once_gives_the_processors_output_from_one_computation_per_image(tiny_model: Path) -> None:
    import numpy as np
    import torch
    from PIL import Image

    from laddertrain.processing import images_processed_once, load_processor

    processor = load_processor(tiny_model)
    rng = np.random.default_rng(0)
    first = Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    second = Image.fromarray(rng.integers(0, 255, (90, 200, 3), dtype=np.uint8))
    images = [[first], [first.copy(), second], [second]]  # equal pixels, different objects: as TRL's copies are
    texts = [
        processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}] * len(row) + [{"type": "text", "text": "how far?"}]}],
            tokenize=False,
        )
        for row in images
    ]
    reference = processor(images=images, text=texts, padding=True, return_tensors="pt")
    own = processor.image_processor
    with images_processed_once(processor) as once:
        assert once is not None
        for _ in range(2):
            out = processor(images=images, text=texts, padding=True, return_tensors="pt")
            assert out.keys() == reference.keys()
            assert all(torch.equal(out[k], reference[k]) for k in reference), [k for k in reference]
        assert once.processed == 2  # two distinct images, five occurrences in two calls
    assert processor.image_processor is own  # back as it was (it saves as before)


def test_grpo_processes_each_prompts_images_once_per_step(
    built_dataset: BuiltDataset, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TRL hands the processor each prompt num_generations times, twice per generation batch (tokenizing the
    prompts, then the loss pass's pixel values); the images are processed once."""
    from transformers.image_utils import make_flat_list_of_images

    from laddertrain import processing
    from laddertrain.runners import run_stage

    seen: list[tuple[int, int]] = []  # (images handed in, images processed) per call
    original = processing.ImagesOnce.__call__

    def counting(self: Any, images: Any = None, **kwargs: Any) -> Any:
        before = self.processed
        out = original(self, images, **kwargs)
        given: list[Any] = make_flat_list_of_images(images)  # type: ignore[assignment]  # a list for a list
        seen.append((len(given), self.processed - before))
        return out

    monkeypatch.setattr(processing.ImagesOnce, "__call__", counting)
    recipe = TrainRecipe.load("tiny")
    stage3 = recipe.stage3.model_copy(update={"max_steps": 1, "max_images": 8})
    run_stage("stage3", recipe.model_copy(update={"stage3": stage3}), tiny_model, built_dataset.out, tmp_path)
    handed, processed = sum(h for h, _ in seen), sum(p for _, p in seen)
    assert len(seen) == 2 and processed > 0  # one prompt per step in tiny: its frames
    assert handed == 2 * stage3.num_generations * processed


def test_rollouts_auto_is_colocated_vllm_on_cuda_when_installed_else_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    from laddertrain import trainers

    recipe = TrainRecipe.load("paper-3b")
    assert recipe.stage3.rollouts == "auto"
    cases = [(False, False, "hf", "needs a CUDA GPU"), (True, False, "hf", "not installed"), (True, True, "vllm", "")]
    for cuda, vllm, expected, why in cases:
        monkeypatch.setattr(torch.cuda, "is_available", lambda cuda=cuda: cuda)
        monkeypatch.setattr(trainers, "vllm_installed", lambda vllm=vllm: vllm)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="laddertrain"):
            assert trainers.resolve_rollouts("stage3", recipe) == expected
        (line,) = [r.getMessage() for r in caplog.records]
        assert line.startswith(f"stage3: rollouts auto: {expected}") and why in line
    explicit = recipe.model_copy(update={"stage3": recipe.stage3.model_copy(update={"rollouts": "hf"})})
    assert (
        trainers.resolve_rollouts("stage3", explicit) == "hf"
    )  # on CUDA with vLLM installed: the recipe's choice holds


def test_checkpointing_granularity_and_regional_compile_are_per_layer_and_change_no_gradient() -> None:
    import torch

    from laddertrain.levers import layer_levers
    from laddertrain.tiny_model import build_model, build_tokenizer

    tokenizer = build_tokenizer()
    image = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    rows, grid = (
        torch.randn(2 * 48, 3 * 2 * 14 * 14, generator=torch.Generator().manual_seed(0)),
        torch.tensor([[1, 6, 8]] * 2),
    )
    ids = torch.tensor([[5] * 4 + [image] * 24 + [7] * 6])

    def gradients(levers: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, int] | None]:
        model = build_model(tokenizer).train()
        applied = None
        if levers is not None:
            model.gradient_checkpointing_enable()  # what Trainer does before the levers apply
            recipe = TrainRecipe.load("tiny").model_copy(update=levers)
            applied = layer_levers(model, recipe)
        model(input_ids=ids, pixel_values=rows, image_grid_thw=grid, labels=ids).loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}, applied

    reference, _ = gradients(None)
    tiny = build_model(tokenizer)
    blocks, layers = len(tiny.model.visual.blocks), len(tiny.model.language_model.layers)
    for levers, expected in (
        ({}, {"vision_checkpointed": blocks, "language_checkpointed": layers, "compiled": 0}),
        (
            {"checkpoint_vision": False, "checkpoint_every": 2},
            {"vision_checkpointed": 0, "language_checkpointed": 1, "compiled": 0},
        ),
    ):
        grads, applied = gradients(levers)
        assert applied == expected, levers
        assert grads.keys() == reference.keys()
        for name, grad in grads.items():
            torch.testing.assert_close(grad, reference[name], rtol=1e-5, atol=1e-6, msg=name)
    # regional compile: each block compiled on its own (compilation itself happens at the first call)
    applied = layer_levers(tiny, TrainRecipe.load("tiny").model_copy(update={"compile_blocks": True}))
    assert applied["compiled"] == blocks + layers
    assert all(
        b._compiled_call_impl is not None for b in [*tiny.model.visual.blocks, *tiny.model.language_model.layers]
    )
