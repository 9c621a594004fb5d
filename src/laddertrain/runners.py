"""The three stages on TRL: SFT (localization), SFT (spatial QA), cold start (data + SFT), GRPO.

Each stage writes ``OUTPUT/<stage>/`` (checkpoints, resumable) and ``OUTPUT/<stage>/final`` (model and
processor), and starts from the previous stage's ``final`` unless ``--model`` says otherwise.
"""

import logging
from pathlib import Path
from typing import Any

from ladderdata.cache import atomic_path
from ladderdata.errors import LadderError
from ladderdata.prompts import PromptStyle
from laddertrain.data import coldstart_row, grpo_row, load_subset, stage1_row, stage2_row
from laddertrain.recipe import StageConfig, TrainRecipe
from laddertrain.rewards import REWARDS, accuracy_reward, format_reward

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


def _device_settings(recipe: TrainRecipe) -> dict[str, Any]:
    import torch

    cuda = torch.cuda.is_available()
    return {"use_cpu": not cuda, "bf16": recipe.bf16 and cuda}


def _model_kwargs(recipe: TrainRecipe) -> dict[str, Any]:
    import torch

    from laddertrain.inference import attention_implementation

    dtype = torch.bfloat16 if recipe.bf16 and torch.cuda.is_available() else torch.float32
    return {"dtype": dtype, "attn_implementation": attention_implementation()}


def _common_args(recipe: TrainRecipe, stage: StageConfig, out_dir: Path) -> dict[str, Any]:
    return {
        "output_dir": str(out_dir),
        "learning_rate": stage.learning_rate,
        "num_train_epochs": stage.num_train_epochs,
        "max_steps": stage.max_steps,
        "per_device_train_batch_size": stage.per_device_train_batch_size,
        "gradient_accumulation_steps": stage.gradient_accumulation_steps,
        "warmup_steps": stage.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of total steps
        "lr_scheduler_type": stage.lr_scheduler_type,
        "activation_checkpointing": recipe.gradient_checkpointing,
        "data_seed": recipe.data_seed,
        "seed": recipe.data_seed,
        "save_strategy": "steps",
        "save_steps": stage.save_steps,
        "save_total_limit": 2,
        "logging_steps": 1,
        "report_to": [],
        **_device_settings(recipe),
    }


def _has_checkpoint(out_dir: Path) -> bool:
    return out_dir.is_dir() and any(p.name.startswith("checkpoint-") for p in out_dir.iterdir())


def _limit(ds: Any, stage: StageConfig) -> Any:
    return ds.select(range(min(stage.max_samples, len(ds)))) if stage.max_samples else ds


def _adapted(ds: Any, fn: Any) -> Any:
    return ds.map(fn, remove_columns=ds.column_names)


def stage_dataset(stage: str, recipe: TrainRecipe, data: Path, output: Path) -> Any:
    cfg: StageConfig = getattr(recipe, stage)
    if stage == "stage1":
        ds = _limit(load_subset(data, "localization", cfg.max_images), cfg)
        return _adapted(ds, lambda r: stage1_row(r, recipe.min_pixels, recipe.max_pixels))
    if stage == "stage2":
        return _adapted(_limit(load_subset(data, "spatial", cfg.max_images), cfg), stage2_row)
    if stage == "coldstart":
        source = output / COLDSTART_DATA
        if not (source / "data" / "coldstart").is_dir():
            raise StageInputError(f"coldstart trains on {source}: run `ladder train coldstart-data` first")
        return _adapted(_limit(load_subset(source, "coldstart", cfg.max_images), cfg), coldstart_row)
    if stage == "stage3":
        return _adapted(_limit(load_subset(data, "spatial", cfg.max_images), cfg), grpo_row)
    raise ValueError(f"unknown stage {stage!r}")


def _save_final(trainer: Any, processor: Any, out_dir: Path) -> Path:
    final = out_dir / "final"
    trainer.save_model(str(final))
    processor.save_pretrained(str(final))
    log.info("saved %s", final)
    return final


def run_sft(stage: str, recipe: TrainRecipe, model: Path | None, data: Path, output: Path) -> Path:
    """Stage 1, stage 2 or the cold-start SFT; assistant-only loss. Returns the final model folder."""
    from transformers import AutoModelForImageTextToText
    from trl import SFTConfig, SFTTrainer

    from laddertrain.processing import load_processor

    base = input_model(stage, model, output)
    out_dir = output / stage
    train = stage_dataset(stage, recipe, data, output)
    processor = load_processor(base, recipe.min_pixels, recipe.max_pixels)
    net = AutoModelForImageTextToText.from_pretrained(base, **_model_kwargs(recipe))
    args = SFTConfig(**_common_args(recipe, getattr(recipe, stage), out_dir), assistant_only_loss=True, max_length=None)
    trainer = SFTTrainer(model=net, args=args, train_dataset=train, processing_class=processor)
    log.info("%s: %d rows from %s, model %s", stage, len(train), data, base)
    trainer.train(resume_from_checkpoint=True if _has_checkpoint(out_dir) else None)
    return _save_final(trainer, processor, out_dir)


def run_grpo(recipe: TrainRecipe, model: Path | None, data: Path, output: Path) -> Path:
    """Stage 3: GRPO with the format and accuracy rewards (paper Table 8: 8 generations, beta 0.01)."""
    from trl import GRPOConfig, GRPOTrainer

    from laddertrain.processing import load_processor

    base = input_model("stage3", model, output)
    cfg = recipe.stage3
    out_dir = output / "stage3"
    train = stage_dataset("stage3", recipe, data, output)
    processor = load_processor(base, recipe.min_pixels, recipe.max_pixels)
    names = list(cfg.reward_weights)
    args = GRPOConfig(
        **_common_args(recipe, cfg, out_dir),
        num_generations=cfg.num_generations,
        beta=cfg.beta,
        loss_type=cfg.loss_type,
        temperature=cfg.temperature,
        max_completion_length=cfg.max_completion_length,
        reward_weights=[cfg.reward_weights[n] for n in names],
        model_init_kwargs=_model_kwargs(recipe),
    )
    trainer = GRPOTrainer(
        model=str(base),  # a folder: with beta > 0 TRL builds the reference model from it
        reward_funcs=[REWARDS[n] for n in names],
        args=args,
        train_dataset=train,
        processing_class=processor,
    )
    log.info("stage3: %d prompts from %s, model %s", len(train), data, base)
    trainer.train(resume_from_checkpoint=True if _has_checkpoint(out_dir) else None)
    return _save_final(trainer, processor, out_dir)


def run_coldstart_data(recipe: TrainRecipe, generator: Path | None, data: Path, output: Path) -> Path:
    """Sample reasoning answers from ``generator`` and keep those with format + accuracy > 1 + λ (Eq. 4).

    Writes ``OUTPUT/coldstart-data/data/coldstart/train-00000-of-00001.parquet`` (spatial rows plus
    ``completion`` and ``reward``); ``generator`` defaults to the stage-2 model.
    """
    import datasets

    from laddertrain.inference import generate, load_model

    cfg = recipe.coldstart_data
    source = input_model("coldstart", generator, output)
    rows = load_subset(data, "spatial", cfg.max_images)
    if cfg.max_questions:
        rows = rows.select(range(min(cfg.max_questions, len(rows))))
    model, processor, device = load_model(source, recipe.min_pixels, recipe.max_pixels)
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
    log.info("cold start: kept %d of %d sampled answers -> %s", len(kept), len(rows) * cfg.samples_per_question, target)
    return target


def run_stage(stage: str, recipe: TrainRecipe, model: Path | None, data: Path, output: Path) -> Path:
    if stage == "stage3":
        return run_grpo(recipe, model, data, output)
    return run_sft(stage, recipe, model, data, output)


def run_all(recipe: TrainRecipe, model: Path, data: Path, output: Path, generator: Path | None = None) -> Path:
    """stage 1 -> stage 2 -> cold-start data -> cold start -> stage 3, each from the previous one's model."""
    run_sft("stage1", recipe, model, data, output)
    run_sft("stage2", recipe, None, data, output)
    run_coldstart_data(recipe, generator, data, output)
    run_sft("coldstart", recipe, None, data, output)
    return run_grpo(recipe, None, data, output)
