"""The three stages on TRL: SFT (localization), SFT (spatial QA), cold start (data + SFT), GRPO.

Each stage writes ``OUTPUT/<stage>/`` (checkpoints, resumable) and ``OUTPUT/<stage>/final`` (model and
processor), and starts from the previous stage's ``final`` unless ``--model`` says otherwise.
"""

import functools
import importlib.metadata
import importlib.util
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Literal, NamedTuple

from ladderdata.cache import atomic_path, write_text_atomic
from ladderdata.errors import ConfigError, LadderError, install_command
from ladderdata.io.dataset import MANIFEST, BuildManifest, ManifestShard
from ladderdata.prompts import PromptStyle
from laddertrain.data import adapt, coldstart_row, grpo_row, load_subset, stage1_row, stage2_row, token_lengths
from laddertrain.recipe import StageConfig, TrainRecipe
from laddertrain.requirements import check_requirements
from laddertrain.rewards import REWARDS, accuracy_reward, format_reward
from laddertrain.vision_attention import Backend, resolve_backend, use_vision_attention

log = logging.getLogger(__name__)

STAGES = ("stage1", "stage2", "coldstart", "stage3")
PREVIOUS = {"stage2": "stage1", "coldstart": "stage2", "stage3": "coldstart"}
COLDSTART_DATA = "coldstart-data"


class StageInputError(LadderError):
    """A stage's input (model or data) is missing."""


def final_dir(output: Path, stage: str) -> Path:
    return output / stage / "final"


def input_model(stage: str, model: Path | None, output: Path) -> Path:
    """The model a stage starts from: ``model`` if given, else the previous stage's final model."""
    if model is not None:
        if not (Path(model) / "config.json").is_file():
            raise StageInputError(f"--model {model} is not a model folder (no config.json)")
        return Path(model)
    previous = PREVIOUS.get(stage)
    if previous is None:
        raise StageInputError(f"{stage} needs a base model: pass --model PATH (a local Hugging Face model folder)")
    path = final_dir(output, previous)
    if not (path / "config.json").is_file():
        raise StageInputError(
            f"{stage} starts from the {previous} model at {path}, which does not exist: "
            f"run `ladder train {previous}` first, or pass --model PATH"
        )
    return path


def world_size() -> int:
    """Processes taking part in training (``WORLD_SIZE``, set by accelerate launch and torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def resolve_rollouts(recipe: TrainRecipe) -> Literal["hf", "vllm"]:
    """The rollout backend stage 3 uses: the recipe's, or for ``auto`` colocated vLLM on CUDA when it is
    installed, else transformers' ``generate``; ``auto`` says which in one log line."""
    requested = recipe.stage3.rollouts
    if requested != "auto":
        return requested
    import torch

    if not torch.cuda.is_available():
        log.info("stage3: rollouts auto: hf (vLLM needs a CUDA GPU)")
        return "hf"
    if not vllm_installed():
        log.info("stage3: rollouts auto: hf, as vLLM is not installed (%s for faster rollouts)", install_command("gpu"))
        return "hf"
    log.info("stage3: rollouts auto: vllm, colocated on the training GPU")
    return "vllm"


PROMPT_TEXT_TOKENS = 512
"""Text tokens of a GRPO prompt (system prompt, question, options) allowed for in :func:`rollout_fit`."""
IMAGES_PER_PROMPT = 8
"""Images per prompt :func:`rollout_fit` allows for when ``stage3.max_images`` does not bound them."""


def rollout_fit(recipe: TrainRecipe, base: Path) -> int | None:
    """Completions whose hf rollouts fit one GPU at once: ``stage3.rollout_memory_share`` of its memory over the KV
    cache of one completion (layers x 2 x key-value heads x head size x weight bytes per token; tokens: the
    longest completion plus a prompt of ``max_images`` images at ``max_pixels`` and :data:`PROMPT_TEXT_TOKENS`).
    None off CUDA: CPU runs generate each optimizer step in one batch."""
    import torch

    if not torch.cuda.is_available():
        return None
    cfg = recipe.stage3
    config = json.loads((base / "config.json").read_text())
    text = config.get("text_config", config)
    head = text.get("head_dim") or text["hidden_size"] // text["num_attention_heads"]
    weight_bytes = 2 if resolve_precision(recipe) == "bf16" else 4
    per_token = text["num_hidden_layers"] * 2 * text["num_key_value_heads"] * head * weight_bytes
    image_tokens = recipe.max_pixels // (28 * 28)  # one token per merged 2 x 2 patch of 14 px
    prompt = (cfg.max_images or IMAGES_PER_PROMPT) * image_tokens + PROMPT_TEXT_TOKENS
    budget = cfg.rollout_memory_share * torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
    return max(1, int(budget // (per_token * (prompt + cfg.max_completion_length))))


def preflight(stage: str, recipe: TrainRecipe) -> Backend:
    """Everything that can fail before a model or dataset is loaded: package floors, the vision attention the
    recipe asks for, the rollout backend and the batch arithmetic. Returns the vision attention backend."""
    check_requirements()
    backend = resolve_backend(recipe.vision_attention)
    cfg: StageConfig = getattr(recipe, stage)
    cfg.accumulation(world_size())
    if stage == "stage3":
        recipe.stage3.generation_batch_size(world_size())
        if recipe.stage3.rollouts == "vllm" and not vllm_installed():
            raise ConfigError(
                f"stage3.rollouts: vllm needs vLLM, which is not installed: {install_command('gpu')} on a CUDA "
                "machine, or use rollouts: hf"
            )
    return backend


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


def _device_settings(recipe: TrainRecipe) -> dict[str, Any]:
    import torch

    cuda = torch.cuda.is_available()
    return {"use_cpu": not cuda, "bf16": resolve_precision(recipe) == "bf16" and cuda}


def model_kwargs(recipe: TrainRecipe, backend: Backend) -> dict[str, Any]:
    """``from_pretrained`` keyword arguments: the precision's weight dtype, the attention implementation."""
    import torch

    from laddertrain.vision_attention import attn_implementation

    dtype = torch.bfloat16 if resolve_precision(recipe) == "bf16" else torch.float32
    return {"dtype": dtype, "attn_implementation": attn_implementation(backend)}


def optimizer_for(recipe: TrainRecipe, stage: StageConfig) -> tuple[type, dict[str, Any]] | None:
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


def _checkpointing_argument() -> str:
    """transformers 5.23 renamed ``gradient_checkpointing`` (kept as a deprecated alias until v6)."""
    from transformers import TrainingArguments

    fields = TrainingArguments.__dataclass_fields__
    return "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"


def training_args(recipe: TrainRecipe, stage: StageConfig, out_dir: Path) -> dict[str, Any]:
    """``SFTConfig``/``GRPOConfig`` keyword arguments shared by every stage: schedule, batch, speed levers."""
    workers = recipe.dataloader_workers
    return {
        "output_dir": str(out_dir),
        "learning_rate": stage.learning_rate,
        "num_train_epochs": stage.num_train_epochs,
        "max_steps": stage.max_steps,
        "per_device_train_batch_size": stage.per_device_train_batch_size,
        "gradient_accumulation_steps": stage.accumulation(world_size()),
        "warmup_steps": stage.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of total steps
        "lr_scheduler_type": stage.lr_scheduler_type,
        _checkpointing_argument(): recipe.gradient_checkpointing,
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
        **_device_settings(recipe),
    }


def resume_checkpoint(stage: str, out_dir: Path) -> str | None:
    """The stage's last checkpoint (``OUTPUT/<stage>/checkpoint-N``, highest N) to resume from, said in the log;
    None (a fresh start) when there is none."""
    numbered = {
        int(p.name.removeprefix("checkpoint-")): p
        for p in (out_dir.glob("checkpoint-*") if out_dir.is_dir() else ())
        if p.is_dir() and p.name.removeprefix("checkpoint-").isdigit()
    }
    if not numbered:
        return None
    checkpoint = numbered[max(numbered)]
    log.info("%s: resuming from %s (delete %s to start the stage over)", stage, checkpoint, out_dir)
    return str(checkpoint)


def load_checkpoint_weights(trainer: Any, checkpoint: str, model: Any = None) -> None:
    """Put a checkpoint's weights into the trainer's model, names translated as ``from_pretrained`` does.

    transformers' ``Trainer`` restores them with a raw ``load_state_dict``, but Qwen2.5-VL checkpoints are saved
    under the original names (``visual.*``, ``model.layers.*``) while the model holds ``model.visual.*`` and
    ``model.language_model.*``: nothing would load, and the stage would go on from its starting weights with the
    checkpoint's optimizer state and step (transformers >= 4.52; the same report: modelscope/ms-swift#7947).
    """
    target = trainer.model if model is None else model
    loaded = type(target).from_pretrained(checkpoint, dtype=target.dtype)
    target.load_state_dict(loaded.state_dict())


def checkpoint_state(checkpoint: str) -> dict[str, Any]:
    """A checkpoint's ``trainer_state.json`` (step, total steps, log history)."""
    state: dict[str, Any] = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    return state


def finished(state: dict[str, Any], stage: StageConfig) -> bool:
    """Whether a checkpoint's state reached the stage's ``max_steps`` (or, for a schedule of epochs, the total
    the run computed)."""
    total = stage.max_steps if stage.max_steps > 0 else int(state.get("max_steps", 0))
    return total > 0 and int(state.get("global_step", 0)) >= total


def train_resuming(trainer: Any, stage: str, out_dir: Path, cfg: StageConfig) -> tuple[int, list[dict[str, Any]]]:
    """``trainer.train()``, from the stage's last checkpoint when there is one (:func:`resume_checkpoint`); a
    stage whose checkpoint finished it trains no further step: its weights are loaded and the stage ends there.
    Returns the stage's optimizer steps and its log history (one entry per logged step)."""
    checkpoint = resume_checkpoint(stage, out_dir)
    if checkpoint is not None:
        state = checkpoint_state(checkpoint)
        if finished(state, cfg):
            log.info("%s: already finished at step %d (%s): no further step", stage, state["global_step"], checkpoint)
            load_checkpoint_weights(trainer, checkpoint)
            return int(state["global_step"]), list(state.get("log_history", []))
        trainer._load_from_checkpoint = functools.partial(load_checkpoint_weights, trainer)
    trainer.train(resume_from_checkpoint=checkpoint)
    return int(trainer.state.global_step), list(trainer.state.log_history)


NEXT = {
    "stage1": "ladder train stage2 --recipe {recipe} --data {data} --output {output}",
    "stage2": "ladder train coldstart-data --recipe {recipe} --data {data} --output {output}",
    "coldstart": "ladder train stage3 --recipe {recipe} --data DATASET --output {output}",
    "stage3": "ladder eval --bench BENCH --model {output}/stage3/final --prompt think",
}
"""What to run after each stage."""


class StageSummary(NamedTuple):
    """What a stage did: optimizer steps, the first and last logged training loss, wall seconds, its model."""

    stage: str
    steps: int
    first_loss: float | None
    last_loss: float | None
    seconds: float
    final: Path
    next_command: str

    def lines(self) -> list[str]:
        loss = "no loss logged"
        if self.first_loss is not None and self.last_loss is not None:
            loss = f"loss {self.first_loss:.4g} -> {self.last_loss:.4g}"
        return [
            f"{self.stage} done: {self.steps} steps, {loss}, {self.seconds:.1f} s; model in {self.final}",
            f"next: {self.next_command}",
        ]


def summarize(
    stage: str, recipe: TrainRecipe, run: tuple[int, list[dict[str, Any]]], seconds: float, data: Path, output: Path
) -> StageSummary:
    """The stage's :class:`StageSummary` from what :func:`train_resuming` returned, logged line by line."""
    steps, history = run
    losses = [float(entry["loss"]) for entry in history if "loss" in entry]
    name = recipe.name if recipe.name in TrainRecipe.builtin_names() else "RECIPE.yaml"
    command = NEXT[stage].format(recipe=name, data=data, output=output)
    summary = StageSummary(
        stage,
        steps,
        losses[0] if losses else None,
        losses[-1] if losses else None,
        seconds,
        output / stage / "final",
        command,
    )
    for line in summary.lines():
        log.info("%s", line)
    return summary


def _limit(ds: Any, stage: StageConfig) -> Any:
    return ds.select(range(min(stage.max_samples, len(ds)))) if stage.max_samples else ds


def stage_dataset(stage: str, recipe: TrainRecipe, data: Path, output: Path) -> Any:
    """The stage's rows in TRL's format; images stay encoded until the dataloader's workers decode them."""
    cfg: StageConfig = getattr(recipe, stage)
    if stage == "stage1":
        ds = _limit(load_subset(data, "localization", cfg.max_images), cfg)
        return adapt(ds, lambda r: stage1_row(r, recipe.min_pixels, recipe.max_pixels))
    if stage == "stage2":
        return adapt(_limit(load_subset(data, "spatial", cfg.max_images), cfg), stage2_row)
    if stage == "coldstart":
        source = output / COLDSTART_DATA
        if not (source / "data" / "coldstart").is_dir():
            raise StageInputError(f"coldstart trains on {source}: run `ladder train coldstart-data` first")
        return adapt(_limit(load_subset(source, "coldstart", cfg.max_images), cfg), coldstart_row)
    if stage == "stage3":
        return adapt(_limit(load_subset(data, "spatial", cfg.max_images), cfg), grpo_row)
    raise ValueError(f"unknown stage {stage!r}")


def _save_final(trainer: Any, processor: Any, out_dir: Path) -> Path:
    final = out_dir / "final"
    trainer.save_model(str(final))
    processor.save_pretrained(str(final))
    log.info("saved %s", final)
    return final


LENGTH_COLUMN = "length"


def sft_trainer(stage: str, recipe: TrainRecipe, net: Any, processor: Any, train: Any, out_dir: Path) -> Any:
    """TRL's ``SFTTrainer`` for stage 1, stage 2 or the cold start (assistant-only loss) on a loaded model; with
    ``length_grouping``, batches of rows of similar token length (:func:`laddertrain.data.token_lengths`)."""
    from trl import SFTConfig, SFTTrainer

    sampling: dict[str, Any] = {}
    if recipe.length_grouping:
        lengths = token_lengths(train, processor, recipe.min_pixels, recipe.max_pixels)
        train = train.add_column(LENGTH_COLUMN, lengths)
        # TRL keeps only the columns its collator reads; the sampler needs the lengths, the collator ignores them
        sampling = {
            "train_sampling_strategy": "group_by_length",
            "length_column_name": LENGTH_COLUMN,
            "remove_unused_columns": False,
        }
    cfg: StageConfig = getattr(recipe, stage)
    args = SFTConfig(**training_args(recipe, cfg, out_dir), **sampling, assistant_only_loss=True, max_length=None)
    trainer = SFTTrainer(model=net, args=args, train_dataset=train, processing_class=processor)
    use_precision(trainer, recipe, cfg)
    use_layer_levers(trainer, recipe)
    return trainer


def run_sft(stage: str, recipe: TrainRecipe, model: Path | None, data: Path, output: Path) -> Path:
    """Stage 1, stage 2 or the cold-start SFT; assistant-only loss. Returns the final model folder."""
    backend = preflight(stage, recipe)
    from transformers import AutoModelForImageTextToText

    from laddertrain.processing import load_processor

    base = input_model(stage, model, output)
    out_dir = output / stage
    train = stage_dataset(stage, recipe, data, output)
    processor = load_processor(base, recipe.min_pixels, recipe.max_pixels)
    net = AutoModelForImageTextToText.from_pretrained(base, **model_kwargs(recipe, backend))
    use_vision_attention(net, backend)
    use_recipe_fused_ops(net, recipe)
    trainer = sft_trainer(stage, recipe, net, processor, train, out_dir)
    log.info("%s: %d rows from %s, model %s", stage, len(train), data, base)
    start = time.perf_counter()
    run = train_resuming(trainer, stage, out_dir, getattr(recipe, stage))
    final = _save_final(trainer, processor, out_dir)
    summarize(stage, recipe, run, time.perf_counter() - start, data, output)
    return final


def grpo_trainer(recipe: TrainRecipe, backend: Backend, base: Path, processor: Any, train: Any, out_dir: Path) -> Any:
    """TRL's ``GRPOTrainer`` for stage 3 (paper Table 8: 8 generations, beta 0.01) on the model folder ``base``
    (with beta > 0 TRL builds the reference model from the folder), rollouts as the recipe says."""
    from trl import GRPOConfig, GRPOTrainer

    cfg = recipe.stage3
    names = list(cfg.reward_weights)
    # TRL left-pads prompt ids and re-runs the processor on the prompts for the loss pass: the processor must
    # left-pad too, or mm_token_type_ids of prompts shorter than the longest no longer line up with the image tokens
    processor.tokenizer.padding_side = "left"
    backend_name = resolve_rollouts(recipe)
    fits = rollout_fit(recipe, base) if backend_name == "hf" else None
    size = cfg.generation_batch_size(world_size(), fits)
    log.info(
        "stage3: %d completions generated together (%d prompts; %d per optimizer step)",
        size,
        size // cfg.num_generations,
        cfg.per_device_train_batch_size * world_size() * cfg.accumulation(world_size()),
    )
    rollouts: dict[str, Any] = {"generation_batch_size": size}
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


def run_grpo(recipe: TrainRecipe, model: Path | None, data: Path, output: Path) -> Path:
    """Stage 3: GRPO with the format and accuracy rewards."""
    backend = preflight("stage3", recipe)
    from laddertrain.processing import images_processed_once, load_processor

    base = input_model("stage3", model, output)
    out_dir = output / "stage3"
    train = stage_dataset("stage3", recipe, data, output)
    processor = load_processor(base, recipe.min_pixels, recipe.max_pixels)
    trainer = grpo_trainer(recipe, backend, base, processor, train, out_dir)
    log.info("stage3: %d prompts from %s, model %s", len(train), data, base)
    start = time.perf_counter()
    with images_processed_once(processor):  # TRL processes each prompt's images 2 x num_generations times a step
        run = train_resuming(trainer, "stage3", out_dir, recipe.stage3)
    final = _save_final(trainer, processor, out_dir)
    summarize("stage3", recipe, run, time.perf_counter() - start, data, output)
    return final


def run_coldstart_data(recipe: TrainRecipe, generator: Path | None, data: Path, output: Path) -> Path:
    """Sample reasoning answers from ``generator`` and keep those with format + accuracy > 1 + λ (Eq. 4).

    Writes ``OUTPUT/coldstart-data/data/coldstart/train-00000-of-00001.parquet`` (spatial rows plus
    ``completion`` and ``reward``); ``generator`` defaults to the stage-2 model.
    """
    check_requirements()
    import datasets

    from laddertrain.inference import generate, load_model

    cfg = recipe.coldstart_data
    source = input_model("coldstart", generator, output)
    rows = load_subset(data, "spatial", cfg.max_images)
    if cfg.max_questions:
        rows = rows.select(range(min(cfg.max_questions, len(rows))))
    model, processor, device = load_model(source, recipe.min_pixels, recipe.max_pixels, recipe.vision_attention)
    kept: list[dict[str, Any]] = []
    for start in range(0, len(rows), cfg.batch_size):
        batch = [rows[i] for i in range(start, min(start + cfg.batch_size, len(rows)))]
        samples = generate(
            model,
            processor,
            device,
            batch,
            PromptStyle.THINK,
            max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.temperature,
            samples=cfg.samples_per_question,
        )
        for row, completions in zip(batch, samples, strict=True):
            n = len(completions)
            rewards = [
                f + a
                for f, a in zip(
                    format_reward(completions),
                    accuracy_reward(completions, [row["answer"]] * n, [row["answer_type"]] * n),
                    strict=True,
                )
            ]
            kept += [
                {**row, "completion": c, "reward": r}
                for c, r in zip(completions, rewards, strict=True)
                if r > 1 + cfg.threshold
            ]
    if not kept:
        raise StageInputError(
            f"no sampled answer passed format + accuracy > {1 + cfg.threshold:g}: use a stronger generator "
            "(--generator) or a lower coldstart_data.threshold"
        )
    features = rows.features.copy()
    features["completion"] = datasets.Value("string")
    features["reward"] = datasets.Value("float64")
    target = output / COLDSTART_DATA / "data" / "coldstart" / "train-00000-of-00001.parquet"
    with atomic_path(target) as tmp:
        datasets.Dataset.from_list(kept, features=features).to_parquet(str(tmp))
    listed = ManifestShard(path=str(target.relative_to(output / COLDSTART_DATA)), rows=len(kept))
    write_text_atomic(output / COLDSTART_DATA / MANIFEST, BuildManifest(shards=[listed]).model_dump_json(indent=2))
    log.info("cold start: kept %d of %d sampled answers -> %s", len(kept), len(rows) * cfg.samples_per_question, target)
    return target


def run_stage(stage: str, recipe: TrainRecipe, model: Path | None, data: Path, output: Path) -> Path:
    """One stage by name (stage1, stage2, coldstart, stage3)."""
    if stage == "stage3":
        return run_grpo(recipe, model, data, output)
    return run_sft(stage, recipe, model, data, output)


def run_all(recipe: TrainRecipe, model: Path, data: Path, output: Path, generator: Path | None = None) -> Path:
    """stage 1 -> stage 2 -> cold-start data -> cold start -> stage 3, each from the previous one's model."""
    for stage in STAGES:  # every stage's settings are checked before the first one starts
        preflight(stage, recipe)
    run_sft("stage1", recipe, model, data, output)
    run_sft("stage2", recipe, None, data, output)
    run_coldstart_data(recipe, generator, data, output)
    run_sft("coldstart", recipe, None, data, output)
    return run_grpo(recipe, None, data, output)
