"""TRL's trainers as the stages use them: ``SFTTrainer`` (assistant-only loss, batches grouped by token length)
and ``GRPOTrainer`` (the rewards, rollouts by transformers' ``generate`` or colocated vLLM, the generation batch
sized to the GPU). Each takes a stage's name and finds its settings in the recipe through the stage table."""

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

from ladderdata.errors import ConfigError, install_command
from laddertrain.data import token_lengths
from laddertrain.levers import (
    model_kwargs,
    resolve_precision,
    training_args,
    use_layer_levers,
    use_precision,
    use_recipe_fused_ops,
    world_size,
)
from laddertrain.recipe import TrainRecipe
from laddertrain.rewards import REWARDS
from laddertrain.stages import get_stage
from laddertrain.stages.config import GRPOStageConfig, StageConfig
from laddertrain.vision_attention import Backend, use_vision_attention

log = logging.getLogger(__name__)

LENGTH_COLUMN = "length"

PROMPT_TEXT_TOKENS = 512
"""Text tokens of a GRPO prompt (system prompt, question, options) allowed for in :func:`rollout_fit`."""
IMAGES_PER_PROMPT = 8
"""Images per prompt :func:`rollout_fit` allows for when ``max_images`` does not bound them."""


class LengthGrouping(TypedDict, total=False):
    """``SFTConfig`` settings that batch rows of similar token length."""

    train_sampling_strategy: Literal["group_by_length"]
    length_column_name: str
    remove_unused_columns: bool


class RolloutArgs(TypedDict):
    """``GRPOConfig`` settings of the rollouts."""

    generation_batch_size: int
    use_vllm: NotRequired[bool]
    vllm_mode: NotRequired[Literal["colocate"]]
    vllm_gpu_memory_utilization: NotRequired[float]


def sft_settings(stage: str, recipe: TrainRecipe) -> StageConfig:
    return recipe.settings(get_stage(stage), StageConfig)


def grpo_settings(stage: str, recipe: TrainRecipe) -> GRPOStageConfig:
    return recipe.settings(get_stage(stage), GRPOStageConfig)


def sft_trainer(stage: str, recipe: TrainRecipe, net: Any, processor: Any, train: Any, out_dir: Path) -> Any:
    """TRL's ``SFTTrainer`` for an SFT stage (assistant-only loss) on a loaded model; with ``length_grouping``,
    batches of rows of similar token length (:func:`laddertrain.data.token_lengths`)."""
    from trl import SFTConfig, SFTTrainer

    grouping: LengthGrouping = {}
    if recipe.length_grouping:
        lengths = token_lengths(train, processor, recipe.min_pixels, recipe.max_pixels)
        train = train.add_column(LENGTH_COLUMN, lengths)
        # TRL keeps only the columns its collator reads; the sampler needs the lengths, the collator ignores them
        grouping = {
            "train_sampling_strategy": "group_by_length",
            "length_column_name": LENGTH_COLUMN,
            "remove_unused_columns": False,
        }
    cfg = sft_settings(stage, recipe)
    args = SFTConfig(**training_args(recipe, cfg, out_dir), **grouping, assistant_only_loss=True, max_length=None)
    trainer = SFTTrainer(model=net, args=args, train_dataset=train, processing_class=processor)
    use_precision(trainer, recipe, cfg)
    use_layer_levers(trainer, recipe)
    return trainer


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def check_rollouts(stage: str, recipe: TrainRecipe) -> None:
    """What can fail in a GRPO stage's rollout settings before anything loads: the generation batch arithmetic,
    vLLM asked for but not installed."""
    cfg = grpo_settings(stage, recipe)
    cfg.generation_batch_size(world_size())
    if cfg.rollouts == "vllm" and not vllm_installed():
        raise ConfigError(
            f"{get_stage(stage).section}.rollouts: vllm needs vLLM, which is not installed: {install_command('gpu')} "
            "on a CUDA machine, or use rollouts: hf"
        )


def resolve_rollouts(stage: str, recipe: TrainRecipe) -> Literal["hf", "vllm"]:
    """The rollout backend a GRPO stage uses: the recipe's, or for ``auto`` colocated vLLM on CUDA when it is
    installed, else transformers' ``generate``; ``auto`` says which in one log line."""
    requested = grpo_settings(stage, recipe).rollouts
    if requested != "auto":
        return requested
    import torch

    if not torch.cuda.is_available():
        log.info("%s: rollouts auto: hf (vLLM needs a CUDA GPU)", stage)
        return "hf"
    if not vllm_installed():
        log.info(
            "%s: rollouts auto: hf, as vLLM is not installed (%s for faster rollouts)", stage, install_command("gpu")
        )
        return "hf"
    log.info("%s: rollouts auto: vllm, colocated on the training GPU", stage)
    return "vllm"


def rollout_fit(stage: str, recipe: TrainRecipe, base: Path) -> int | None:
    """Completions whose hf rollouts fit one GPU at once: ``rollout_memory_share`` of its memory over the KV
    cache of one completion (layers x 2 x key-value heads x head size x weight bytes per token; tokens: the
    longest completion plus a prompt of ``max_images`` images at ``max_pixels`` and :data:`PROMPT_TEXT_TOKENS`).
    None off CUDA: CPU runs generate each optimizer step in one batch."""
    import torch

    if not torch.cuda.is_available():
        return None
    cfg = grpo_settings(stage, recipe)
    config = json.loads((base / "config.json").read_text())
    text = config.get("text_config", config)
    head = text.get("head_dim") or text["hidden_size"] // text["num_attention_heads"]
    weight_bytes = 2 if resolve_precision(recipe) == "bf16" else 4
    per_token = text["num_hidden_layers"] * 2 * text["num_key_value_heads"] * head * weight_bytes
    image_tokens = recipe.max_pixels // (28 * 28)  # one token per merged 2 x 2 patch of 14 px
    prompt = (cfg.max_images or IMAGES_PER_PROMPT) * image_tokens + PROMPT_TEXT_TOKENS
    budget = cfg.rollout_memory_share * torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
    return max(1, int(budget // (per_token * (prompt + cfg.max_completion_length))))


def grpo_trainer(
    stage: str, recipe: TrainRecipe, backend: Backend, base: Path, processor: Any, train: Any, out_dir: Path
) -> Any:
    """TRL's ``GRPOTrainer`` for a GRPO stage (paper Table 8: 8 generations, beta 0.01) on the model folder
    ``base`` (with beta > 0 TRL builds the reference model from the folder), rollouts as the recipe says."""
    from trl import GRPOConfig, GRPOTrainer

    cfg = grpo_settings(stage, recipe)
    names = list(cfg.reward_weights)
    # TRL left-pads prompt ids and re-runs the processor on the prompts for the loss pass: the processor must
    # left-pad too, or mm_token_type_ids of prompts shorter than the longest no longer line up with the image tokens
    processor.tokenizer.padding_side = "left"
    backend_name = resolve_rollouts(stage, recipe)
    fits = rollout_fit(stage, recipe, base) if backend_name == "hf" else None
    size = cfg.generation_batch_size(world_size(), fits)
    log.info(
        "%s: %d completions generated together (%d prompts; %d per optimizer step)",
        stage,
        size,
        size // cfg.num_generations,
        cfg.per_device_train_batch_size * world_size() * cfg.accumulation(world_size()),
    )
    rollouts: RolloutArgs = {"generation_batch_size": size}
    if backend_name == "vllm":
        rollouts |= {
            "use_vllm": True,
            "vllm_mode": "colocate",
            "vllm_gpu_memory_utilization": cfg.vllm_gpu_memory_utilization,
        }
    args = GRPOConfig(
        **training_args(recipe, cfg, out_dir),
        num_generations=cfg.num_generations,
        beta=cfg.beta,
        loss_type=cfg.loss_type,
        temperature=cfg.temperature,
        max_completion_length=cfg.max_completion_length,
        reward_weights=[cfg.reward_weights[n] for n in names],
        model_init_kwargs=model_kwargs(recipe, backend),
        **rollouts,
    )
    trainer = GRPOTrainer(
        model=str(base),
        reward_funcs=[REWARDS[n] for n in names],
        args=args,
        train_dataset=train,
        processing_class=processor,
    )
    for net in (trainer.model, trainer.ref_model):
        if net is not None:
            use_vision_attention(net, backend)
            use_recipe_fused_ops(net, recipe)
    use_precision(trainer, recipe, cfg)
    use_layer_levers(trainer, recipe)
    return trainer
