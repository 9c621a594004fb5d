"""A tiny random Qwen2.5-VL (about 0.2M parameters) with an offline BPE tokenizer: no download anywhere.

``ladder train tiny-model --out DIR`` writes it, so every stage runs on a CPU in seconds (docs/training.md); the
tests train it. It learns nothing useful: its weights are random, its tokenizer is trained on a few prompts.
Without torchvision, transformers has no Qwen2-VL video processor, so the processor here is image-only
(:mod:`laddertrain.processing`).
"""

import json
import os
import shutil
from pathlib import Path
from typing import Any

from ladderdata.cache import temp_name
from ladderdata.errors import ConfigError

SPECIAL_TOKENS = [
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def chat_template() -> str:
    """The real Qwen2.5-VL chat template as TRL ships it (so TRL's training patch applies), else a copy."""
    try:
        from trl.chat_template_utils import qwen2_5_vl_chat_template

        return str(qwen2_5_vl_chat_template)
    except ImportError:
        return FALLBACK_CHAT_TEMPLATE


CORPUS = [
    "How many chairs appear? What is the distance between the table and the sofa (in meters)?",
    "Which of these objects is closer to the bed? Options: A. lamp B. desk. Please answer with the letter.",
    "From the camera's perspective, is the chair to the table's left, right, front or back?",
    '[{"label": "chair", "bbox_2d": [12, 40, 300, 420]}] 0 1 2 3 4 5 6 7 8 9 . , ? ! <think> </think> <answer>',
    "You are a helpful assistant. system user assistant",
] * 20


def build_tokenizer(vocab_size: int = 600) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    data = json.loads(tok.to_str())
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in data["model"]["merges"]]
    tokenizer: Any = Qwen2Tokenizer  # its annotations do not admit BPE merge pairs or a None unknown token
    qt = tokenizer(
        vocab=data["model"]["vocab"],
        merges=merges,
        unk_token=None,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    qt.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS})
    qt.chat_template = chat_template()
    return qt


def build_processor(tokenizer: Any) -> Any:
    from transformers import Qwen2VLImageProcessorPil

    from laddertrain.processing import image_only_processor_class

    size = {"shortest_edge": 56 * 56, "longest_edge": 28 * 28 * 16}  # at most 16 merged tokens per image
    ip = Qwen2VLImageProcessorPil(patch_size=14, merge_size=2, temporal_patch_size=2, size=size)
    return image_only_processor_class()(image_processor=ip, tokenizer=tokenizer, chat_template=chat_template())


def build_model(tokenizer: Any) -> Any:
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tid = tokenizer.convert_tokens_to_ids
    hidden = 64
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": hidden,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 4096,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]},
            "bos_token_id": tid("<|endoftext|>"),
            "eos_token_id": tid("<|im_end|>"),
            "pad_token_id": tid("<|endoftext|>"),
        },
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": hidden,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": [1],
            "tokens_per_second": 2,
        },
        image_token_id=tid("<|image_pad|>"),
        video_token_id=tid("<|video_pad|>"),
        vision_start_token_id=tid("<|vision_start|>"),
        vision_end_token_id=tid("<|vision_end|>"),
    )
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = tid("<|im_end|>")
    model.generation_config.pad_token_id = tid("<|endoftext|>")
    return model


def save_tiny_qwen(folder: Path) -> Path:
    """Model, tokenizer and processor saved to ``folder`` (loadable by path, as trainers need); written to a
    temporary folder beside it and renamed, so an interrupted run leaves no half-written model."""
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} exists and is not empty: choose another --out, or delete it")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(temp_name(folder.name))
    try:
        tokenizer = build_tokenizer()
        build_model(tokenizer).save_pretrained(tmp)
        build_processor(tokenizer).save_pretrained(tmp)
        if folder.exists():
            folder.rmdir()  # empty (checked above)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
