"""What a recipe sets on a stage's trainer and model: transformers' training arguments, the precision (weight
dtype and optimizer), Liger and the fused ops, per-layer activation checkpointing and regional compile."""

import importlib.metadata
import importlib.util
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

from ladderdata.errors import install_command
from laddertrain.recipe import TrainRecipe
from laddertrain.stages.config import StageConfig
from laddertrain.vision_attention import Backend

if TYPE_CHECKING:
    import torch

    from laddertrain.optim import StochasticRoundingAdamW

log = logging.getLogger(__name__)


def world_size() -> int:
    """Processes taking part in training (``WORLD_SIZE``, set by accelerate launch and torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def use_liger(recipe: TrainRecipe) -> bool:
    """Liger's kernels when the recipe asks for them and they can run (liger-kernel installed, a CUDA GPU);
    otherwise one log line says why training goes on without them."""
    if not recipe.liger:
        return False
    import torch

    if importlib.util.find_spec("liger_kernel") is None:
        log.warning(
            "liger: true, but liger-kernel is not installed (%s): training without it", install_command("liger")
        )
        return False
    if not torch.cuda.is_available():
        log.warning("liger: true, but Liger's Triton kernels need a CUDA GPU: training without them")
        return False
    try:  # what TRL imports to patch a Qwen2.5-VL; liger-kernel releases lag transformers' model classes
        importlib.import_module("liger_kernel.transformers.model.qwen2_5_vl")
    except ImportError as error:
        log.warning(
            "liger: true, but liger-kernel %s cannot patch transformers %s (%s): training without it",
            importlib.metadata.version("liger-kernel"),
            importlib.metadata.version("transformers"),
            error,
        )
        return False
    return True


def use_recipe_fused_ops(model: Any, recipe: TrainRecipe) -> None:
    """The recipe's ``fused_ops`` on a loaded model (:func:`laddertrain.fused_ops.use_fused_ops`), said in the log."""
    if recipe.fused_ops == "off":
        return
    from laddertrain.fused_ops import use_fused_ops

    counts = use_fused_ops(model, recipe.fused_ops)
    log.info("fused_ops %s: %d RMSNorms and %d MLPs fused", recipe.fused_ops, counts["norms"], counts["mlps"])


def resolve_precision(recipe: TrainRecipe) -> Literal["bf16", "fp32"]:
    """The recipe's ``precision`` here: ``auto`` is bf16 on CUDA and fp32 on CPU; an explicit choice holds on any
    device (CPU runs bf16 too)."""
    if recipe.precision != "auto":
        return recipe.precision
    import torch

    return "bf16" if torch.cuda.is_available() else "fp32"


class ModelKwargs(TypedDict):
    """``from_pretrained`` keyword arguments a recipe sets."""

    dtype: "torch.dtype"
    attn_implementation: str


def model_kwargs(recipe: TrainRecipe, backend: Backend) -> ModelKwargs:
    """``from_pretrained`` keyword arguments: the precision's weight dtype, the attention implementation."""
    import torch

    from laddertrain.vision_attention import attn_implementation

    dtype = torch.bfloat16 if resolve_precision(recipe) == "bf16" else torch.float32
    return {"dtype": dtype, "attn_implementation": attn_implementation(backend)}


class OptimizerArgs(TypedDict):
    lr: float


def optimizer_for(
    recipe: TrainRecipe, stage: StageConfig
) -> "tuple[type[StochasticRoundingAdamW], OptimizerArgs] | None":
    """The optimizer class and arguments a trainer must build (``Trainer.optimizer_cls_and_kwargs``): with bf16
    weights, :class:`laddertrain.optim.StochasticRoundingAdamW`, since torch's AdamW would round most updates away;
    None (the recipe's ``optim``) with fp32 weights."""
    if resolve_precision(recipe) != "bf16":
        return None
    from laddertrain.optim import StochasticRoundingAdamW

    return StochasticRoundingAdamW, {"lr": stage.learning_rate}


def use_precision(trainer: Any, recipe: TrainRecipe, stage: StageConfig) -> None:
    """Give ``trainer`` the optimizer the precision needs (:func:`optimizer_for`), built when training starts."""
    trainer.optimizer_cls_and_kwargs = optimizer_for(recipe, stage)


def layer_levers(model: Any, recipe: TrainRecipe) -> dict[str, int]:
    """Apply the per-layer levers to a Qwen2.5-VL ``...ForConditionalGeneration``: activation checkpointing kept
    on for the vision blocks only with ``checkpoint_vision`` and for every ``checkpoint_every``-th decoder layer
    (never switched on here: transformers' ``Trainer`` switches every layer on at the start of training, and this
    runs after it), and regional ``torch.compile`` of each block (``compile_blocks``). Returns how many vision
    blocks and decoder layers recompute their activations and how many blocks are compiled."""
    inner = model.model
    vision, language = list(inner.visual.blocks), list(inner.language_model.layers)
    for block in vision:
        block.gradient_checkpointing = block.gradient_checkpointing and recipe.checkpoint_vision
    for index, layer in enumerate(language):
        layer.gradient_checkpointing = layer.gradient_checkpointing and index % recipe.checkpoint_every == 0
    compiled = 0
    if recipe.compile_blocks:
        for block in [*vision, *language]:
            if getattr(block, "_compiled_call_impl", None) is None:
                block.compile()
            compiled += 1
    return {
        "vision_checkpointed": sum(b.gradient_checkpointing for b in vision),
        "language_checkpointed": sum(layer.gradient_checkpointing for layer in language),
        "compiled": compiled,
    }


def use_layer_levers(trainer: Any, recipe: TrainRecipe) -> None:
    """:func:`layer_levers` on the trainer's model when training starts (after ``Trainer`` enabled checkpointing)."""
    from transformers import TrainerCallback

    class LayerLevers(TrainerCallback):
        def on_train_begin(self, *_: Any, model: Any = None, **__: Any) -> None:
            applied = layer_levers(model if model is not None else trainer.model, recipe)
            log.info(
                "layers: activations recomputed in %d vision blocks and %d decoder layers; %d blocks compiled",
                applied["vision_checkpointed"],
                applied["language_checkpointed"],
                applied["compiled"],
            )

    trainer.add_callback(LayerLevers())


def _checkpointing_argument() -> Literal["activation_checkpointing", "gradient_checkpointing"]:
    """transformers 5.23 renamed ``gradient_checkpointing`` (kept as a deprecated alias until v6)."""
    from transformers import TrainingArguments

    fields = TrainingArguments.__dataclass_fields__
    return "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"


class TrainingArgs(TypedDict):
    """``SFTConfig``/``GRPOConfig`` keyword arguments shared by every stage (transformers' ``TrainingArguments``
    names); activation checkpointing goes by whichever of its two names the installed transformers has."""

    output_dir: str
    learning_rate: float
    num_train_epochs: float
    max_steps: int
    per_device_train_batch_size: int
    gradient_accumulation_steps: int
    warmup_steps: float
    lr_scheduler_type: str
    activation_checkpointing: NotRequired[bool]
    gradient_checkpointing: NotRequired[bool]
    optim: str
    dataloader_num_workers: int
    dataloader_persistent_workers: bool
    dataloader_prefetch_factor: int | None
    use_liger_kernel: bool
    data_seed: int
    seed: int
    save_strategy: str
    save_steps: int
    save_total_limit: int
    logging_steps: int
    report_to: list[str]
    use_cpu: bool
    bf16: bool


def training_args(recipe: TrainRecipe, stage: StageConfig, out_dir: Path) -> TrainingArgs:
    """``SFTConfig``/``GRPOConfig`` keyword arguments shared by every stage: schedule, batch, speed levers."""
    import torch

    workers = recipe.dataloader_workers
    cuda = torch.cuda.is_available()
    args: TrainingArgs = {
        "output_dir": str(out_dir),
        "learning_rate": stage.learning_rate,
        "num_train_epochs": stage.num_train_epochs,
        "max_steps": stage.max_steps,
        "per_device_train_batch_size": stage.per_device_train_batch_size,
        "gradient_accumulation_steps": stage.accumulation(world_size()),
        "warmup_steps": stage.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of total steps
        "lr_scheduler_type": stage.lr_scheduler_type,
        "optim": recipe.optim,
        "dataloader_num_workers": workers,
        "dataloader_persistent_workers": workers > 0,
        "dataloader_prefetch_factor": 2 if workers else None,
        "use_liger_kernel": use_liger(recipe),
        "data_seed": recipe.data_seed,
        "seed": recipe.data_seed,
        "save_strategy": "steps",
        "save_steps": stage.save_steps,
        "save_total_limit": 2,
        "logging_steps": 1,
        "report_to": [],
        "use_cpu": not cuda,
        "bf16": resolve_precision(recipe) == "bf16" and cuda,
    }
    args[_checkpointing_argument()] = recipe.gradient_checkpointing
    return args
