"""Training throughput per stage on one GPU: a randomly initialised Qwen2.5-VL-3B-shaped model, batches from a
ladder dataset (real image sizes, paper pixel budget 12,544-100,352), bf16, AdamW.

Prints, per stage: samples/s, tokens/s (text + vision tokens through the language model), peak GPU memory
and model FLOPs utilisation (6 x language-model parameters x tokens per second / peak bf16 FLOP/s).
Stage 3 times rollouts (8 generations per prompt, like paper Table 8) and the loss pass separately.

    python benchmarks/bench_train.py --data demo/dataset                 # GPU, 3B shape
    python benchmarks/bench_train.py --data demo/dataset --shape tiny --device cpu --steps 1   # smoke run
"""

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fixtures.tiny_qwen import build_model, build_processor, build_tokenizer
from laddertrain.data import grpo_row, load_subset, stage1_row, stage2_row

PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "A6000": 155e12}

QWEN25_VL_3B = {
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
    "vision": {
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
    },
}


def model_3b(tokenizer: Any) -> Any:
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tid = tokenizer.convert_tokens_to_ids
    text = {**QWEN25_VL_3B["text"], "bos_token_id": tid("<|endoftext|>"), "eos_token_id": tid("<|im_end|>")}
    sdpa: dict[str, Any] = {"attn_implementation": "sdpa"}  # every config takes it; this one's signature omits it
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=QWEN25_VL_3B["vision"],
        image_token_id=tid("<|image_pad|>"),
        video_token_id=tid("<|video_pad|>"),
        vision_start_token_id=tid("<|vision_start|>"),
        vision_end_token_id=tid("<|vision_end|>"),
        **sdpa,
    )
    torch.manual_seed(0)
    return Qwen2_5_VLForConditionalGeneration(config)


def batches(rows: list[dict[str, Any]], processor: Any, size: int, device: str) -> list[Any]:
    out = []
    for start in range(0, len(rows) - size + 1, size):
        chunk = rows[start : start + size]
        key = "messages" if "messages" in chunk[0] else "prompt"
        texts = [
            processor.apply_chat_template(r[key], tokenize=False, add_generation_prompt=key == "prompt") for r in chunk
        ]
        images = [img for r in chunk for img in r["images"]]
        enc = processor(text=texts, images=images, padding=True, return_tensors="pt").to(device)
        if key == "messages":
            enc["labels"] = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        out.append(enc)
    return out


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def lm_params(model: Any) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if "visual" not in n)


def report(name: str, samples: int, tokens: int, seconds: float, params: int, peak: float, device: str) -> None:
    mem = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
    mfu = 6 * params * tokens / seconds / peak if peak else float("nan")
    print(f"{name:22} {samples / seconds:9.2f} {tokens / seconds:11.0f} {mem:9.1f} {100 * mfu:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("demo/dataset"))
    parser.add_argument("--shape", choices=["3b", "tiny"], default="3b")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=1, help="per-device batch (paper: 1 for SFT, 2 for GRPO)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--completion-tokens", type=int, default=256)
    args = parser.parse_args()
    device = args.device
    tokenizer = build_tokenizer()
    processor = build_processor(tokenizer)
    processor.image_processor.size = {"shortest_edge": 12_544, "longest_edge": 100_352}
    model = model_3b(tokenizer) if args.shape == "3b" else build_model(tokenizer)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model.to(device=device, dtype=dtype)
    model.gradient_checkpointing_enable()
    params = lm_params(model)
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    peak = next((v for k, v in PEAK_BF16.items() if k in name), 0.0)
    print(f"{args.shape} model: {params / 1e9:.2f} B language-model parameters on {name}")
    optim = torch.optim.AdamW(model.parameters(), lr=1e-6)
    need = args.steps * args.batch + args.batch
    stages = {
        "stage1 localization": [stage1_row(r) for r in load_subset(args.data, "localization").select(range(need))],
        "stage2 spatial QA": [stage2_row(r) for r in load_subset(args.data, "spatial", 8).select(range(need))],
    }
    print(f"{'stage':22} {'samples/s':>9} {'tokens/s':>11} {'peak GiB':>9} {'MFU %':>7}")
    for stage, rows in stages.items():
        data = batches(rows, processor, args.batch, device)
        model.train()
        for i, enc in enumerate(data[: args.steps + 1]):
            if i == 1:  # the first step warms up kernels and the allocator
                sync(device)
                if device == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                start, tokens = time.perf_counter(), 0
            model(**enc).loss.backward()
            optim.step()
            optim.zero_grad(set_to_none=True)
            if i >= 1:
                tokens += int(enc["attention_mask"].sum())
        sync(device)
        report(stage, args.steps * args.batch, tokens, time.perf_counter() - start, params, peak, device)

    prompts = [grpo_row(r) for r in load_subset(args.data, "spatial", 8).select(range(args.batch))]
    enc = batches(prompts, processor, args.batch, device)[0]
    model.eval()
    sync(device)
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            **enc,
            max_new_tokens=args.completion_tokens,
            min_new_tokens=args.completion_tokens,
            do_sample=True,
            num_return_sequences=args.generations,
        )
    sync(device)
    seconds = time.perf_counter() - start
    new_tokens = (out.shape[1] - enc["input_ids"].shape[1]) * out.shape[0]
    report("stage3 rollouts", out.shape[0], new_tokens, seconds, params, peak, device)
    model.train()
    repeat = {
        k: v.repeat_interleave(args.generations, 0) if k in ("input_ids", "attention_mask") else v
        for k, v in enc.items()
    }
    full = torch.cat([repeat["input_ids"], out[:, enc["input_ids"].shape[1] :]], dim=1)
    pixel_rows = enc["pixel_values"].repeat(args.generations, 1)
    grid = enc["image_grid_thw"].repeat(args.generations, 1)
    sync(device)
    start = time.perf_counter()
    loss = model(input_ids=full, pixel_values=pixel_rows, image_grid_thw=grid, labels=full).loss
    loss.backward()
    optim.step()
    optim.zero_grad(set_to_none=True)
    sync(device)
    report("stage3 loss pass", full.shape[0], full.numel(), time.perf_counter() - start, params, peak, device)


if __name__ == "__main__":
    main()
