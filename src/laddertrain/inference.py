"""Answer benchmark questions with a local Hugging Face VLM (``ladder eval --model``).

Prompts come from ``ladderdata.prompts`` (the ones training used) and images get the same pixel budget as
training (:mod:`laddertrain.processing`).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ladderdata.errors import ConfigError, install_command
from ladderdata.eval.hints import Hint, hinted_images
from ladderdata.geometry.vision_grid import MAX_PIXELS, MIN_PIXELS
from ladderdata.prompts import PromptStyle, user_prompt
from laddertrain.recipe import VisionAttention
from laddertrain.requirements import check_requirements
from laddertrain.rows import ChatTurns, QuestionRow, chat_turns
from laddertrain.vision_attention import attn_implementation, resolve_backend, use_vision_attention

log = logging.getLogger(__name__)


def row_prompt(row: QuestionRow, style: PromptStyle) -> ChatTurns:
    """The chat turns (no answer) for a benchmark row."""
    prompt = user_prompt(row["question"], list(row["options"]), row["answer_type"], style)
    return chat_turns(prompt, len(row["images"]))


def load_model(
    model_path: Path,
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = MAX_PIXELS,
    vision_attention: VisionAttention = "auto",
) -> tuple[Any, Any, str]:
    """(model, processor, device) for generation: bf16 on GPU, float32 on CPU, left padding, the vision
    attention backend ``vision_attention`` resolves to. Checks the package floors first."""
    check_requirements()
    backend = resolve_backend(vision_attention)
    import torch
    from transformers import AutoModelForImageTextToText

    from laddertrain.processing import load_processor

    processor = load_processor(model_path, min_pixels, max_pixels)
    processor.tokenizer.padding_side = "left"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model: Any = AutoModelForImageTextToText.from_pretrained(
        model_path, dtype=dtype, attn_implementation=attn_implementation(backend)
    )
    use_vision_attention(model, backend)
    model.to(device)
    model.eval()
    return model, processor, device


@dataclass(frozen=True)
class Decoding:
    """How :func:`generate` decodes: up to ``max_new_tokens`` tokens, ``samples`` completions per row, sampled at
    ``temperature`` (0: greedy, one completion makes sense)."""

    max_new_tokens: int = 64
    temperature: float = 0.0
    samples: int = 1


GREEDY = Decoding()


def generate(
    model: Any,
    processor: Any,
    device: str,
    rows: list[QuestionRow],
    style: PromptStyle,
    hint: Hint = Hint.NONE,
    decoding: Decoding = GREEDY,
) -> list[list[str]]:
    """``decoding.samples`` completions per row (greedy when ``decoding.temperature`` is 0)."""
    import torch

    texts = [
        processor.apply_chat_template(row_prompt(r, style), add_generation_prompt=True, tokenize=False) for r in rows
    ]
    images = [img for r in rows for img in hinted_images(r, hint)]
    inputs = processor(text=texts, images=images, padding=True, return_tensors="pt").to(device)
    temperature, samples = decoding.temperature, decoding.samples
    sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=decoding.max_new_tokens, num_return_sequences=samples, **sampling)
    decoded = processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    return [[d.strip() for d in decoded[i * samples : (i + 1) * samples]] for i in range(len(rows))]


def predict_transformers(
    rows: list[QuestionRow],
    model_path: Path,
    style: PromptStyle = PromptStyle.ANSWER,
    hint: Hint = Hint.NONE,
    batch_size: int = 4,
    max_new_tokens: int = 64,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, str]]:
    """``[{"id", "prediction"}]`` for ``rows`` (benchmark rows with images), greedy decoding, batched."""
    model, processor, device = load_model(model_path)
    out: list[dict[str, str]] = []
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        answers = generate(model, processor, device, batch, style, hint, Decoding(max_new_tokens=max_new_tokens))
        out.extend({"id": r["id"], "prediction": a[0]} for r, a in zip(batch, answers, strict=True))
        if progress:
            progress(len(batch))
    return out


def predict_vllm(
    rows: list[QuestionRow],
    model_path: Path,
    style: PromptStyle = PromptStyle.ANSWER,
    hint: Hint = Hint.NONE,
    max_new_tokens: int = 64,
) -> list[dict[str, str]]:
    """The same with vLLM (GPU extra); greedy decoding."""
    check_requirements()
    try:
        from vllm import LLM, SamplingParams
    except ImportError:
        raise ConfigError(f"--backend vllm needs vLLM: {install_command('gpu')} on a CUDA machine") from None
    from laddertrain.processing import load_processor

    processor = load_processor(model_path)
    llm = LLM(model=str(model_path), limit_mm_per_prompt={"image": max(len(r["images"]) for r in rows)})
    requests = [
        {
            "prompt": processor.apply_chat_template(row_prompt(r, style), add_generation_prompt=True, tokenize=False),
            "multi_modal_data": {"image": hinted_images(r, hint)},
        }
        for r in rows
    ]
    results = llm.generate(requests, SamplingParams(temperature=0.0, max_tokens=max_new_tokens))
    return [{"id": r["id"], "prediction": res.outputs[0].text.strip()} for r, res in zip(rows, results, strict=True)]
