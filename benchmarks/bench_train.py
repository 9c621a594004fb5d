"""Training throughput per stage: a randomly initialised Qwen2.5-VL (3B shape on a GPU), batches from a ladder
dataset (real image sizes and pixel budget), bf16 on CUDA.

Sections (``--sections``):

* ``raw``: a bare loop (processor, forward + backward, AdamW) per stage;
* ``trl``: the real runner path, laddertrain's ``sft_trainer`` (TRL's ``SFTTrainer`` with the recipe's levers:
  dataloader workers, vision attention, fused AdamW, Liger) for a few optimizer steps per stage;
* ``rollouts``: new tokens/s generating ``--prompts`` x ``--generations`` x ``--completion-tokens`` in one call;
* ``grpo``: one optimizer step of laddertrain's ``grpo_trainer`` (TRL's ``GRPOTrainer``, beta 0.01, reference
  model) on ``--prompts`` x ``--generations`` completions, with its generation time;
* ``padding`` (alone: no model, any machine): the language model's padded tokens per stage when SFT batches
  are drawn at random and with the recipe's ``length_grouping`` (transformers' ``LengthGroupedSampler`` over
  optimizer steps of ``--batch`` x ``--accumulation`` rows) over one epoch of SpatialLadder-26k's composition.

Per stage it prints samples/s, tokens/s (text + vision tokens through the language model), MFU (model FLOPs of
:mod:`laddertrain.throughput`, vision tower included, over the GPU's dense bf16 peak), peak GiB and the split of a
step: preprocess (raw: the processor, serial; trl: time the step waited outside model and optimizer), vision
tower and language model (forward + backward, from CUDA events recorded by hooks: the vision features' gradient
marks the end of the language model's backward), optimizer (gradient clipping + AdamW). The first step of each
stage warms up and is not counted.

``--variants`` measures the raw and trl paths once per lever setting on the same model (``base``: the flags as
given; the others change one lever: ``loop``/``grouped``/``varlen``/``flash`` vision attention,
``no-checkpointing``, ``liger``, ``fused-eager``/``fused-compiled``/``fused-liger`` (the recipe's ``fused_ops``)).
``--json PATH`` writes every figure as one record per measurement (device, section, stage, path, levers, samples/s,
tokens/s, MFU, peak GiB, ...); ``benchmarks/gpu_check.sh`` runs this script and keeps the records under
``benchmarks/results/``.

    python benchmarks/bench_train.py --data demo/dataset                                # GPU, 3B shape, all
    python benchmarks/bench_train.py --data demo/dataset --batch 8 --variants base,loop,no-checkpointing
    python benchmarks/bench_train.py --data demo/dataset --shape tiny --device cpu --steps 1 \\
        --prompts 2 --generations 2 --completion-tokens 4                              # CPU smoke run
    python benchmarks/bench_train.py --data demo/dataset --sections padding            # CPU, seconds
"""

import argparse
import datetime
import itertools
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from laddertrain.data import adapt, grpo_row, load_subset, stage1_row, stage2_row, token_lengths
from laddertrain.fused_ops import use_fused_ops
from laddertrain.levers import layer_levers
from laddertrain.recipe import TrainRecipe
from laddertrain.throughput import StepShape, peak_bf16_flops, step_shape, training_flops
from laddertrain.tiny_model import build_model, build_processor, build_tokenizer
from laddertrain.vision_attention import Backend, attn_implementation, resolve_backend, use_vision_attention

VISION_3B = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "out_hidden_size": 2048,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
    "tokens_per_second": 2,
}
SHAPES: dict[str, dict[str, Any]] = {
    "3b": {  # Qwen2.5-VL-3B-Instruct's config.json
        "text": {
            "hidden_size": 2048,
            "intermediate_size": 11008,
            "num_hidden_layers": 36,
            "num_attention_heads": 16,
            "num_key_value_heads": 2,
            "vocab_size": 151936,
            "max_position_embeddings": 128000,
            "tie_word_embeddings": True,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
        },
        "vision": VISION_3B,
    },
    "small": {  # the 3B's windows, full-attention layers and pixel budget at CPU-sized widths (profiling)
        "text": {
            "hidden_size": 128,
            "intermediate_size": 256,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": 1024,
            "max_position_embeddings": 32768,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [4, 6, 6]},
        },
        "vision": {
            **VISION_3B,
            "depth": 8,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_heads": 2,
            "out_hidden_size": 128,
            "fullatt_block_indexes": [3, 7],
        },
    },
}
PIXELS = {"3b": (12_544, 100_352), "small": (12_544, 100_352), "tiny": (3_136, 12_544)}
"""(min, max) pixels per image: the paper's budget, smaller images for the tiny smoke shape."""
STAGES = {"stage1": ("localization", stage1_row), "stage2": ("spatial", stage2_row)}


VARIANTS: dict[str, dict[str, Any]] = {
    "base": {},
    "loop": {"vision_attention": "loop"},
    "grouped": {"vision_attention": "grouped"},
    "varlen": {"vision_attention": "varlen"},
    "flash": {"vision_attention": "flash"},
    "no-checkpointing": {"checkpointing": False},
    "liger": {"liger": True},
    "vision-no-checkpointing": {"checkpoint_vision": False},
    "checkpoint-every-2": {"checkpoint_every": 2},
    "fused-eager": {"fused_ops": "eager"},
    "fused-compiled": {"fused_ops": "compiled"},
    "fused-liger": {"fused_ops": "liger"},
    "compile": {"compile_blocks": True},  # compiles the shared model's blocks for good: measure it last
}
"""Lever settings ``--variants`` measures, each one change from the flags given (``base``)."""


def levers(args: argparse.Namespace, backend: Backend) -> dict[str, Any]:
    """The lever settings of a measurement, as recorded with it."""
    return {
        "precision": args.precision,
        "vision_attention": backend,
        "checkpointing": args.checkpointing,
        "checkpoint_vision": args.checkpoint_vision,
        "checkpoint_every": args.checkpoint_every,
        "compile_blocks": args.compile_blocks,
        "optim": args.optim,
        "liger": args.liger,
        "fused_ops": args.fused_ops,
        "workers": args.workers,
        "batch": args.batch,
        "rollouts": args.rollouts,
    }


def build(shape: str, tokenizer: Any, device: str, backend: Backend, precision: str = "bf16") -> Any:
    """A randomly initialised model of ``shape``, built on ``device`` in the precision's weight dtype."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    torch.manual_seed(0)
    if shape == "tiny":
        model = build_model(tokenizer)
        model.set_attn_implementation(attn_implementation(backend))
        return model.to(device=device, dtype=dtype)
    tid = tokenizer.convert_tokens_to_ids
    special = {
        "bos_token_id": tid("<|endoftext|>"),
        "eos_token_id": tid("<|im_end|>"),
        "pad_token_id": tid("<|endoftext|>"),
    }
    config: Any = Qwen2_5_VLConfig(
        text_config={**SHAPES[shape]["text"], **special},
        vision_config=SHAPES[shape]["vision"],
        image_token_id=tid("<|image_pad|>"),
        video_token_id=tid("<|video_pad|>"),
        vision_start_token_id=tid("<|vision_start|>"),
        vision_end_token_id=tid("<|vision_end|>"),
    )
    factory: Any = Qwen2_5_VLForConditionalGeneration
    with torch.device(device):
        model = factory._from_config(config, dtype=dtype, attn_implementation=attn_implementation(backend))
    model.generation_config.eos_token_id = tid("<|im_end|>")
    model.generation_config.pad_token_id = tid("<|endoftext|>")
    return model


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


class Clock:
    """Named marks on the device timeline: CUDA events on a GPU (marking never synchronises), host time on CPU."""

    def __init__(self, device: str) -> None:
        self.cuda = device == "cuda"
        self.marks: dict[str, list[Any]] = {}
        self.event: Any = torch.cuda.Event  # untyped in torch

    def mark(self, name: str) -> None:
        if self.cuda:
            event = self.event(enable_timing=True)
            event.record()
            self.marks.setdefault(name, []).append(event)
        else:
            self.marks.setdefault(name, []).append(time.perf_counter())

    def seconds(self, start: str, end: str) -> float:
        """From the first ``start`` mark to the last ``end`` mark (0 when either is missing)."""
        if not self.marks.get(start) or not self.marks.get(end):
            return 0.0
        a, b = self.marks[start][0], self.marks[end][-1]
        return float(a.elapsed_time(b)) / 1e3 if self.cuda else float(b - a)

    def split(self) -> dict[str, float]:
        """One step's vision / language / optimizer seconds, then forget the marks."""
        vision_forward = self.seconds("vision_start", "vision_end")
        out = {
            "vision": vision_forward + self.seconds("vision_grad", "backward_end"),
            "language": self.seconds("forward_start", "forward_end")
            - vision_forward
            + self.seconds("forward_end", "vision_grad"),
            "optimizer": self.seconds("backward_end", "optimizer_end"),
        }
        self.marks.clear()
        return out


def instrument(model: Any, clock: Clock, shapes: list[StepShape]) -> list[Any]:
    """Hooks that mark forward/backward boundaries of the vision tower and the whole model, and record each
    forward's :class:`StepShape`; returns the handles."""
    visual = model.model.visual

    def forward_start(_m: Any, _args: Any, kwargs: dict[str, Any]) -> None:
        clock.mark("forward_start")
        if "attention_mask" in kwargs and torch.is_grad_enabled():
            shapes.append(step_shape(kwargs))

    def vision_end(_m: Any, _args: Any, out: Any) -> None:
        clock.mark("vision_end")
        if out.pooler_output.requires_grad:
            out.pooler_output.register_hook(lambda _g: clock.mark("vision_grad"))

    handles = [
        model.register_forward_pre_hook(forward_start, with_kwargs=True),
        model.register_forward_hook(lambda *_: clock.mark("forward_end")),
        visual.register_forward_pre_hook(lambda *_: clock.mark("vision_start")),
        visual.register_forward_hook(vision_end),
    ]
    # the first layers of the forward pass are the last of the backward pass
    for weight in (visual.patch_embed.proj.weight, model.model.language_model.embed_tokens.weight):
        handles.append(weight.register_post_accumulate_grad_hook(lambda _p: clock.mark("backward_end")))
    return handles


def encode(rows: list[dict[str, Any]], processor: Any, device: str) -> Any:
    key = "messages" if "messages" in rows[0] else "prompt"
    texts = [processor.apply_chat_template(r[key], tokenize=False, add_generation_prompt=key == "prompt") for r in rows]
    images = [img for r in rows for img in r["images"]]
    enc = processor(text=texts, images=images, padding=True, return_tensors="pt").to(device)
    if key == "messages":
        enc["labels"] = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    return enc


class StageFigures:
    """Per-step measurements of one stage on one path, and their summary."""

    def __init__(self) -> None:
        self.walls: list[float] = []
        self.rows: list[int] = []
        self.shapes: list[StepShape] = []
        self.splits: list[dict[str, float]] = []

    def summary(self, model: Any, peak: float | None, device: str) -> dict[str, Any]:
        seconds = sum(self.walls)
        tokens = sum(sum(s.lengths) for s in self.shapes)
        flops = sum(training_flops(model, s) for s in self.shapes)
        split = {
            k: statistics.fmean(s[k] for s in self.splits) for k in ("preprocess", "vision", "language", "optimizer")
        }
        return {
            "samples_per_s": sum(self.rows) / seconds,
            "tokens_per_s": tokens / seconds,
            "mfu": flops / seconds / peak if peak else None,
            "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None,
            "step_s": seconds / len(self.walls),
            "split_s": split,
        }


def raw_stage(
    model: Any, batches: list[list[dict[str, Any]]], processor: Any, args: argparse.Namespace
) -> StageFigures:
    device = args.device
    from laddertrain.optim import StochasticRoundingAdamW

    optim: torch.optim.Optimizer
    if args.precision == "bf16":  # what the runners give bf16 weights (laddertrain.levers.optimizer_for)
        optim = StochasticRoundingAdamW(model.parameters(), lr=1e-6)
    else:
        optim = torch.optim.AdamW(model.parameters(), lr=1e-6, fused=args.optim == "adamw_torch_fused")
    clock, figures, shapes = Clock(device), StageFigures(), list[StepShape]()
    handles = instrument(model, clock, shapes)
    if args.checkpointing:  # paper Table 7, as the TRL path does
        model.gradient_checkpointing_enable()
    else:
        model.gradient_checkpointing_disable()
    layer_levers(model, trl_recipe(args))  # checkpointing granularity, regional compile: as the runner does
    model.train()
    for i, rows in enumerate(batches):
        if i == 1 and device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        enc = encode(rows, processor, device)
        sync(device)
        encoded = time.perf_counter()
        model(**enc).loss.backward()
        optim.step()
        clock.mark("optimizer_end")
        optim.zero_grad(set_to_none=True)
        sync(device)
        split = clock.split()
        if i:  # the first step warms up kernels and the allocator
            figures.walls.append(time.perf_counter() - encoded)
            figures.rows.append(len(rows))
            figures.splits.append({"preprocess": encoded - start, **split})
    figures.shapes = shapes[1:]
    for h in handles:
        h.remove()
    return figures


def trl_recipe(args: argparse.Namespace) -> TrainRecipe:
    """paper-3b with the benchmark's per-device batch (one optimizer step per batch) and levers."""
    recipe = TrainRecipe.load("paper-3b")
    low, high = PIXELS[args.shape]
    sft = {
        "per_device_train_batch_size": args.batch,
        "effective_batch_size": None,
        "gradient_accumulation_steps": 1,
        "max_steps": args.steps + 1,
        "save_steps": 10**9,
    }
    grpo = {
        "per_device_train_batch_size": args.grpo_batch or args.generations,
        "effective_batch_size": args.prompts * args.generations,
        "num_generations": args.generations,
        "max_completion_length": args.completion_tokens,
        "max_steps": 2,
        "save_steps": 10**9,
        "max_samples": 2 * args.prompts,
        "max_images": 8,
        "rollouts": args.rollouts,
    }
    return recipe.model_copy(
        update={
            "precision": args.precision,
            "min_pixels": low,
            "max_pixels": high,
            "vision_attention": args.vision_attention,
            "dataloader_workers": args.workers,
            "optim": args.optim,
            "liger": args.liger,
            "fused_ops": args.fused_ops,
            "gradient_checkpointing": args.checkpointing,
            "checkpoint_vision": args.checkpoint_vision,
            "checkpoint_every": args.checkpoint_every,
            "compile_blocks": args.compile_blocks,
            **{s: getattr(recipe, s).model_copy(update=sft) for s in STAGES},
            "stage3": recipe.stage3.model_copy(update=grpo),
        }
    )


def step_callback(device: str, on_step: Callable[[float], None], clock: Clock | None = None) -> Any:
    """A TrainerCallback reporting each optimizer step's wall time (between step ends) to ``on_step``."""
    from transformers import TrainerCallback

    class Steps(TrainerCallback):
        last = 0.0

        def on_train_begin(self, *_: Any, **__: Any) -> None:
            sync(device)
            self.last = time.perf_counter()

        def on_optimizer_step(self, *_: Any, **__: Any) -> None:
            if clock is not None:
                clock.mark("optimizer_end")

        def on_step_end(self, *_: Any, **__: Any) -> None:
            sync(device)
            now = time.perf_counter()
            on_step(now - self.last)
            self.last = now

    return Steps()


def trl_stage(
    stage: str, model: Any, processor: Any, train: Any, recipe: TrainRecipe, args: argparse.Namespace, work: Path
) -> StageFigures:
    from laddertrain.trainers import sft_trainer

    device = args.device
    clock, figures, shapes = Clock(device), StageFigures(), list[StepShape]()
    handles = instrument(model, clock, shapes)
    if not args.checkpointing:  # an earlier variant's trainer may have switched it on
        model.gradient_checkpointing_disable()
    trainer = sft_trainer(stage, recipe, model, processor, train, work / stage)
    trainer.args.save_strategy = "no"  # the runner saves at the last step (resumable runs); not measured here

    def on_step(wall: float) -> None:
        split = clock.split()
        if device == "cuda" and not figures.walls:  # after the warm-up step
            torch.cuda.reset_peak_memory_stats()
        figures.walls.append(wall)
        figures.rows.append(args.batch)
        figures.splits.append({"preprocess": max(0.0, wall - sum(split.values())), **split})

    trainer.add_callback(step_callback(device, on_step, clock))
    trainer.train()
    for h in handles:
        h.remove()
    figures.walls, figures.rows, figures.splits = figures.walls[1:], figures.rows[1:], figures.splits[1:]
    figures.shapes = shapes[1:]
    return figures


def rollouts(model: Any, processor: Any, rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """``--prompts`` prompts x ``--generations`` sampled completions of exactly ``--completion-tokens``, one
    ``generate`` call (what TRL's hf rollouts do with a generation batch)."""
    processor.tokenizer.padding_side = "left"
    enc = encode(rows, processor, args.device)
    model.eval()
    with torch.inference_mode():
        model.generate(**enc, max_new_tokens=2, do_sample=True)  # warm-up
        sync(args.device)
        start = time.perf_counter()
        out = model.generate(
            **enc,
            max_new_tokens=args.completion_tokens,
            min_new_tokens=args.completion_tokens,
            do_sample=True,
            num_return_sequences=args.generations,
        )
        sync(args.device)
    seconds = time.perf_counter() - start
    new_tokens = (out.shape[1] - enc["input_ids"].shape[1]) * out.shape[0]
    processor.tokenizer.padding_side = "right"
    return {
        "completions": out.shape[0],
        "new_tokens": new_tokens,
        "seconds": seconds,
        "new_tokens_per_s": new_tokens / seconds,
    }


def grpo_step(
    model: Any, processor: Any, recipe: TrainRecipe, backend: Backend, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    """The second optimizer step of TRL's GRPOTrainer (the first warms up) through laddertrain's runner."""
    from laddertrain.runners import stage_dataset
    from laddertrain.trainers import grpo_trainer

    folder = work / "grpo-model"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    train = stage_dataset("stage3", recipe, args.data, work)
    trainer = grpo_trainer("stage3", recipe, backend, folder, processor, train, work / "stage3")
    trainer.args.save_strategy = "no"
    generation: list[float] = []
    generate = trainer.model.generate

    def timed(*a: Any, **k: Any) -> Any:
        sync(args.device)
        start = time.perf_counter()
        out = generate(*a, **k)
        sync(args.device)
        generation.append(time.perf_counter() - start)
        return out

    trainer.model.generate = timed
    walls: list[float] = []
    trainer.add_callback(step_callback(args.device, walls.append))
    trainer.train()
    lengths = [h["completions/mean_length"] for h in trainer.state.log_history if "completions/mean_length" in h]
    completions = recipe.stage3.effective_batch_size or 0
    return {
        "completions": completions,
        "step_s": walls[-1],
        "generation_s": generation[-1] if generation else None,
        "mean_completion_tokens": lengths[-1] if lengths else None,
    }


def spatialladder_26k_rows() -> dict[str, int]:
    """Rows per modality of the built-in ``spatialladder-26k`` recipe (paper Table 6)."""
    from ladderdata.recipe import Recipe

    rows: dict[str, int] = {}
    for per_modality in Recipe.load("spatialladder-26k").targets.values():
        for modality, count in per_modality.items():
            rows[modality] = rows.get(modality, 0) + count
    return rows


def padding(processor: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Real and padded language-model tokens of every per-device batch of one epoch of SpatialLadder-26k's
    composition (``--data``'s rows of each modality repeated to the recipe's count: stage 1 one localization row
    per single-image question, stage 2 every modality), drawn at random and in the length-grouped order the SFT
    runner uses (both from the same seeded generator)."""
    from torch.utils.data import RandomSampler
    from transformers.trainer_pt_utils import LengthGroupedSampler

    low, high = PIXELS[args.shape]
    counts = spatialladder_26k_rows()
    result: dict[str, Any] = {}
    for stage in args.stages.split(","):
        subset, row_fn = STAGES[stage]
        rows = load_subset(args.data, subset)
        distinct = token_lengths(adapt(rows, row_fn), processor, low, high)
        by_modality: dict[str, list[int]] = {}
        for modality, length in zip(rows["modality"], distinct, strict=True):
            by_modality.setdefault(modality, []).append(length)
        wanted = {"single_image": counts["single_image"]} if stage == "stage1" else counts
        lengths = [by_modality[m][i % len(by_modality[m])] for m, n in wanted.items() for i in range(n)]
        orders = {
            "random": RandomSampler(lengths, generator=torch.Generator().manual_seed(0)),
            "grouped": LengthGroupedSampler(
                args.batch * args.accumulation, lengths=lengths, generator=torch.Generator().manual_seed(0)
            ),
        }
        result[stage] = {"rows": len(lengths), "distinct_rows": len(distinct)}
        for name, sampler in orders.items():
            order = list(sampler)
            batches = [order[i : i + args.batch] for i in range(0, len(order), args.batch)]
            padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
            real = sum(lengths)
            result[stage][name] = {"real_tokens": real, "padded_tokens": padded, "padding_share": 1 - real / padded}
    return result


def projection(args: argparse.Namespace) -> dict[str, Any]:
    """PROJECTED hours for one epoch of SpatialLadder-26k's stage 1 and stage 2 on one GPU of peak ``--peak-tflops``
    (default H100 SXM) at an ASSUMED MFU: the model FLOPs of every row (3B shape, built on the meta device, no
    weights) from the built-in recipe's composition, ScanNet's 1296x968 frames at the paper's pixel budget and
    ``--text-tokens`` prompt tokens per row, divided by MFU x peak. Nothing is measured here."""
    from ladderdata.geometry.vision_grid import PATCH_FACTOR, resized_size

    model = build("3b", build_tokenizer(), "meta", "grouped")
    width, height = resized_size(1296, 968)
    frame = (1, height // (PATCH_FACTOR // 2), width // (PATCH_FACTOR // 2))
    tokens_per_frame = frame[1] * frame[2] // 4
    frames = {"single_image": 1, "multi_view": 8, "video": 16}  # spatialladder-26k's modalities
    rows = spatialladder_26k_rows()

    def flops(n_frames: int, answer_tokens: int) -> float:
        shape = StepShape([n_frames * tokens_per_frame + args.text_tokens], answer_tokens, [frame] * n_frames)
        return training_flops(model, shape)

    stage2 = sum(count * flops(frames[m], 5) for m, count in rows.items())
    stage1 = rows["single_image"] * flops(1, 40)  # one localization row per single-image question (paired)
    peak = (args.peak_tflops or 989) * 1e12
    hours = {k: v / (args.assume_mfu * peak) / 3600 for k, v in (("stage1", stage1), ("stage2", stage2))}
    return {
        "rows": {"stage1": rows["single_image"], "stage2": sum(rows.values()), **rows},
        "training_pflops": {"stage1": stage1 / 1e15, "stage2": stage2 / 1e15},
        "assumed_mfu": args.assume_mfu,
        "projected_hours": hours,
    }


def window_attention_ms(model: Any, grid: Any, device: str) -> dict[str, float]:
    """Median ms of one window-attention layer's attention alone (random q, k, v of the tower's heads for the
    batch's windows), per backend that runs here: transformers' per-window loop, grouped, varlen (CUDA)."""
    from transformers.vision_utils import get_vision_window_index

    from laddertrain.vision_attention import grouped_attention, varlen_attention, varlen_available

    vcfg = model.config.vision_config
    _, cu = get_vision_window_index(grid, vcfg.spatial_merge_size, vcfg.window_size, vcfg.patch_size)
    cu = cu.to(device)
    heads, dim = vcfg.num_heads, vcfg.hidden_size // vcfg.num_heads
    dtype = next(model.parameters()).dtype
    q, k, v = (torch.randn(int(cu[-1]), heads, dim, device=device, dtype=dtype) for _ in range(3))
    bounds = cu.tolist()

    def loop() -> Any:
        return torch.cat(
            [
                torch.nn.functional.scaled_dot_product_attention(
                    q[a:b].transpose(0, 1), k[a:b].transpose(0, 1), v[a:b].transpose(0, 1)
                ).transpose(0, 1)
                for a, b in itertools.pairwise(bounds)
            ]
        )

    candidates: dict[str, Callable[[], Any]] = {
        "loop": loop,
        "grouped": lambda: grouped_attention(q, k, v, cu, dim**-0.5),
    }
    if device == "cuda" and varlen_available():
        candidates["varlen"] = lambda: varlen_attention(q, k, v, cu, dim**-0.5)
    out = {}
    with torch.no_grad():
        for name, fn in candidates.items():
            times = []
            for _ in range(6):
                sync(device)
                start = time.perf_counter()
                fn()
                sync(device)
                times.append(time.perf_counter() - start)
            out[name] = 1e3 * statistics.median(times[1:])
    return out


def profile_vision(model: Any, processor: Any, args: argparse.Namespace) -> dict[str, Any]:
    """torch.profiler over one vision-tower forward on a stage-2 batch: attention calls per vision layer, and the
    processor's cost per row; then the forward's median time over 5 runs."""
    from torch.profiler import ProfilerActivity, profile

    ds = adapt(load_subset(args.data, "spatial", args.max_images).select(range(args.batch)), stage2_row)
    rows = [ds[i] for i in range(len(ds))]
    start = time.perf_counter()
    enc = encode(rows, processor, args.device)
    processor_ms = 1e3 * (time.perf_counter() - start) / len(rows)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])
    forward_s = []
    with torch.no_grad():
        with profile(activities=activities) as prof:
            start = time.perf_counter()
            model.model.visual(enc["pixel_values"], grid_thw=enc["image_grid_thw"])
            sync(args.device)
            profiled_s = time.perf_counter() - start
        for _ in range(5):
            start = time.perf_counter()
            model.model.visual(enc["pixel_values"], grid_thw=enc["image_grid_thw"])
            sync(args.device)
            forward_s.append(time.perf_counter() - start)
    attention_ms = window_attention_ms(model, enc["image_grid_thw"], args.device)
    events = prof.key_averages()
    sdpa = [e for e in events if e.key == "aten::scaled_dot_product_attention"]
    varlen = sum(e.count for e in events if e.key == "torch_attn::_varlen_attn" or e.key.startswith("flash_attn::"))
    return {
        "rows": len(rows),
        "images": int(enc["image_grid_thw"].shape[0]),
        "processor_ms_per_row": processor_ms,
        "sdpa_calls": sum(e.count for e in sdpa),
        "sdpa_host_share": sum(e.cpu_time_total for e in sdpa) / 1e6 / profiled_s,
        "varlen_calls": varlen,
        "vision_layers": model.config.vision_config.depth,
        "vision_forward_ms": 1e3 * statistics.median(forward_s),
        "window_attention_ms": attention_ms,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("demo/dataset"))
    parser.add_argument("--shape", choices=["3b", "small", "tiny"], default="3b")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--sections",
        default="raw,trl,rollouts,grpo",
        help="comma-separated: raw, trl, rollouts, grpo, profile (attention calls, processor cost), "
        "projection (alone: projected hours for SpatialLadder-26k, arithmetic only), "
        "padding (alone: padded tokens with random and length-grouped batches, no model)",
    )
    parser.add_argument("--stages", default="stage1,stage2")
    parser.add_argument("--batch", type=int, default=8, help="per-device SFT batch (rows)")
    parser.add_argument("--steps", type=int, default=5, help="measured optimizer steps per stage (after 1 warm-up)")
    parser.add_argument("--accumulation", type=int, default=4, help="padding: per-device batches per optimizer step")
    parser.add_argument("--max-images", type=int, default=8, help="drop stage-2 rows with more images")
    parser.add_argument("--vision-attention", default="auto", choices=["auto", "loop", "grouped", "varlen", "flash"])
    parser.add_argument("--optim", default="adamw_torch_fused", choices=["adamw_torch_fused", "adamw_torch"])
    parser.add_argument("--workers", type=int, default=4, help="dataloader workers of the TRL path")
    parser.add_argument(
        "--no-checkpointing",
        dest="checkpointing",
        action="store_false",
        help="keep activations instead of recomputing them in the backward pass (memory for speed)",
    )
    parser.add_argument("--liger", action="store_true", help="Liger kernels in the TRL path (liger-kernel, CUDA)")
    parser.add_argument(
        "--no-checkpoint-vision",
        dest="checkpoint_vision",
        action="store_false",
        help="with checkpointing: keep the vision blocks' activations",
    )
    parser.add_argument("--checkpoint-every", type=int, default=1, help="with checkpointing: every n-th decoder layer")
    parser.add_argument("--compile-blocks", action="store_true", help="regional torch.compile of every block")
    parser.add_argument(
        "--fused-ops",
        default="off",
        choices=["off", "eager", "compiled", "liger"],
        help="RMSNorm and SwiGLU through laddertrain.fused_ops (the recipe's fused_ops)",
    )
    parser.add_argument("--rollouts", default="hf", choices=["hf", "vllm"], help="GRPO rollout backend")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--completion-tokens", type=int, default=256)
    parser.add_argument(
        "--grpo-batch", type=int, default=None, help="GRPO per-device completions (default --generations)"
    )
    parser.add_argument("--peak-tflops", type=float, default=None, help="override the GPU's dense bf16 peak")
    parser.add_argument("--json", type=Path, default=None, help="write every figure as JSON records")
    parser.add_argument(
        "--precision",
        choices=["bf16", "fp32"],
        default="bf16" if torch.cuda.is_available() else "fp32",
        help="weights in bf16 with the stochastic-rounding AdamW (the CUDA default), or float32",
    )
    parser.add_argument(
        "--variants", default="base", help=f"comma-separated lever settings to measure: {', '.join(VARIANTS)}"
    )
    parser.add_argument("--text-tokens", type=int, default=150, help="projection: prompt tokens per row (assumed)")
    parser.add_argument("--assume-mfu", type=float, default=0.25, help="projection: the MFU to project with")
    parser.add_argument(
        "--save-model",
        type=Path,
        default=None,
        help="only write the random model and processor here (for ladder train)",
    )
    return parser


def print_padding(result: dict[str, Any], args: argparse.Namespace) -> None:
    for stage, figures in result.items():
        print(
            f"{stage}: {figures['rows']:,} rows ({figures['distinct_rows']} distinct) in batches of {args.batch}, "
            f"steps of {args.batch * args.accumulation}: padding "
            + ", ".join(
                f"{name} {100 * figures[name]['padding_share']:.1f}% "
                f"({figures[name]['padded_tokens'] / 1e6:.2f} M LM tokens)"
                for name in ("random", "grouped")
            )
        )


TABLE_HEADER = (
    f"{'path':5} {'stage':7} {'variant':16} {'samples/s':>9} {'tokens/s':>9} {'MFU %':>6} {'peak GiB':>8} | "
    f"ms/step: {'preprocess':>10} {'vision':>7} {'language':>8} {'optimizer':>9}"
)


def table_row(path: str, stage: str, variant: str, summary: dict[str, Any]) -> str:
    """One line of the training table under :data:`TABLE_HEADER`."""
    mfu = f"{100 * summary['mfu']:6.1f}" if summary["mfu"] is not None else f"{'n/a':>6}"
    gib = f"{summary['peak_gib']:8.1f}" if summary["peak_gib"] is not None else f"{'n/a':>8}"
    split = summary["split_s"]
    return (
        f"{path:5} {stage:7} {variant:16} {summary['samples_per_s']:9.2f}"
        f" {summary['tokens_per_s']:9.0f} {mfu} {gib} | {' ' * 9}{1e3 * split['preprocess']:10.0f}"
        f" {1e3 * split['vision']:7.0f} {1e3 * split['language']:8.0f} {1e3 * split['optimizer']:9.0f}"
    )


@dataclass
class Run:
    """What every section of one run measures with: the shared random model and its processor, the command
    line, the vision attention backend it resolves to, the device's peak, a scratch folder and the records."""

    model: Any
    processor: Any
    args: argparse.Namespace
    backend: Backend
    peak: float | None
    work: Path
    records: list[dict[str, Any]]
    header_printed: bool = False

    def train_stage(self, path: str, stage: str, variant: str, vargs: argparse.Namespace) -> None:
        """One stage through the bare loop (``raw``) or TRL's trainer (``trl``) with the levers of ``variant``
        (``vargs``: the command line with them): a record and a table row."""
        args, model, device = self.args, self.model, self.args.device
        subset, row_fn = STAGES[stage]
        ds = load_subset(args.data, subset, args.max_images if stage == "stage2" else None)
        # rows repeat when the dataset is smaller than the run: one epoch, no dataloader restarts
        train = adapt(ds.select([i % len(ds) for i in range((args.steps + 1) * args.batch)]), row_fn)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        if path == "raw":
            rows = [train[i] for i in range(len(train))]
            batches = [rows[i : i + args.batch] for i in range(0, len(rows) - args.batch + 1, args.batch)]
            figures = raw_stage(model, batches, self.processor, vargs)
        else:
            figures = trl_stage(stage, model, self.processor, train, trl_recipe(vargs), vargs, self.work / variant)
        summary = figures.summary(model, self.peak, device)
        settings = levers(vargs, resolve_backend(vargs.vision_attention))
        self.records.append(
            {"section": path, "stage": stage, "path": path, "variant": variant, "levers": settings, **summary}
        )
        if not self.header_printed:
            print(TABLE_HEADER)
            self.header_printed = True
        print(table_row(path, stage, variant, summary))

    def train_sections(self, sections: set[str]) -> None:
        """Every variant through the ``raw`` and ``trl`` sections asked for, each stage; then the run's own
        vision attention and fused ops back on the shared model."""
        args = self.args
        for variant in args.variants.split(","):
            vargs = argparse.Namespace(**{**vars(args), **VARIANTS[variant]})
            use_vision_attention(self.model, resolve_backend(vargs.vision_attention))
            use_fused_ops(self.model, vargs.fused_ops)  # the shared model: each variant sets it (off gives it back)
            for path in ("raw", "trl"):
                if path not in sections:
                    continue
                for stage in args.stages.split(","):
                    self.train_stage(path, stage, variant, vargs)
        use_vision_attention(self.model, self.backend)
        use_fused_ops(self.model, args.fused_ops)

    def profile(self) -> None:
        result = profile_vision(self.model, self.processor, self.args)
        self.records.append({"section": "profile", **result})
        print(
            f"profile: {result['rows']} stage-2 rows, {result['images']} images: processor "
            f"{result['processor_ms_per_row']:.0f} ms/row; one vision forward made {result['sdpa_calls']} "
            f"scaled_dot_product_attention calls ({100 * result['sdpa_host_share']:.0f}% of its host time) "
            f"and {result['varlen_calls']} varlen calls over "
            f"{result['vision_layers']} layers; vision forward {result['vision_forward_ms']:.0f} ms (median of 5); "
            "one window layer's attention alone: "
            + ", ".join(f"{k} {v:.1f} ms" for k, v in result["window_attention_ms"].items())
        )

    def rollouts(self) -> None:
        args = self.args
        prompts = adapt(load_subset(args.data, "spatial", 8).select(range(args.prompts)), grpo_row)
        result = rollouts(self.model, self.processor, [prompts[i] for i in range(len(prompts))], args)
        self.records.append({"section": "rollouts", "path": "hf", "levers": levers(args, self.backend), **result})
        print(
            f"rollouts (hf generate): {args.prompts} prompts x {args.generations} generations x "
            f"{args.completion_tokens} tokens in {result['seconds']:.2f} s: "
            f"{result['new_tokens_per_s']:.0f} new tokens/s"
        )

    def grpo(self, recipe: TrainRecipe) -> None:
        args = self.args
        result = grpo_step(self.model, self.processor, recipe, self.backend, args, self.work)
        self.records.append({"section": "grpo", "path": "trl", "levers": levers(args, self.backend), **result})
        print(
            f"GRPO optimizer step ({args.rollouts} rollouts, {result['completions']} completions, mean length "
            f"{result['mean_completion_tokens']}): {result['step_s']:.2f} s, "
            f"of which generation {result['generation_s']:.2f} s"
        )


def write_json(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


def main() -> None:
    args = build_parser().parse_args()
    sections = set(args.sections.split(","))
    if sections == {"projection"}:  # arithmetic only: no data, no device
        result = projection(args)
        print(json.dumps(result, indent=2))
        write_json(args, result)
        return
    device = args.device
    backend = resolve_backend(args.vision_attention)
    tokenizer = build_tokenizer()
    processor = build_processor(tokenizer)
    low, high = PIXELS[args.shape]
    processor.image_processor.size = {"shortest_edge": low, "longest_edge": high}
    if sections == {"padding"}:  # token counts only: no model
        result = padding(processor, args)
        print_padding(result, args)
        write_json(args, result)
        return
    model = build(args.shape, tokenizer, device, backend, args.precision)
    if args.save_model:
        model.save_pretrained(args.save_model)
        processor.save_pretrained(args.save_model)
        print(f"wrote a random {args.shape}-shaped model to {args.save_model}")
        return
    use_vision_attention(model, backend)
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    peak = args.peak_tflops * 1e12 if args.peak_tflops else peak_bf16_flops(name)
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.shape} model ({params / 1e6:,.1f} M parameters) on {name}, vision attention {backend}")
    recipe = trl_recipe(args)
    report: dict[str, Any] = {
        "device": name,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "shape": args.shape,
        "parameters": params,
        "records": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(model, processor, args, backend, peak, Path(tmp), report["records"])
        run.train_sections(sections)
        if "profile" in sections:
            run.profile()
        if "rollouts" in sections:
            run.rollouts()
        if "grpo" in sections:
            run.grpo(recipe)
    write_json(args, report)


if __name__ == "__main__":
    main()
