"""Running the training stages of the stage table (:mod:`laddertrain.stages`) on TRL.

Each SFT or GRPO stage writes ``OUTPUT/<stage>/`` (checkpoints, resumable) and ``OUTPUT/<stage>/final`` (model and
processor), and starts from the ``final`` of the stage it names unless ``--model`` says otherwise; a sampling
stage writes a shard under ``OUTPUT/<stage>/data/`` that a later stage trains on. :func:`run_stage` runs one
stage by name, :func:`run_all` every stage in the table's order.
"""

import functools
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ladderdata.cache import atomic_path, write_text_atomic
from ladderdata.errors import LadderError
from ladderdata.io.dataset import MANIFEST, BuildManifest, ManifestShard
from ladderdata.prompts import PromptStyle
from laddertrain.data import adapt, load_subset
from laddertrain.levers import model_kwargs, use_recipe_fused_ops, world_size
from laddertrain.recipe import TrainRecipe
from laddertrain.requirements import check_requirements
from laddertrain.resume import StageRun, checkpoint_state, finished, load_checkpoint_weights, resume_checkpoint
from laddertrain.rewards import accuracy_reward, format_reward
from laddertrain.stages import all_stages, get_stage, next_stage
from laddertrain.stages.base import Stage, Trainer
from laddertrain.stages.config import ColdStartDataConfig, StageConfig
from laddertrain.trainers import check_rollouts, grpo_trainer, sft_trainer
from laddertrain.vision_attention import Backend, resolve_backend, use_vision_attention

log = logging.getLogger(__name__)


class StageInputError(LadderError):
    """A stage's input (model or data) is missing."""


def final_dir(output: Path, stage: str) -> Path:
    return output / stage / "final"


def input_model(stage: str, model: Path | None, output: Path) -> Path:
    """The model a stage starts from: ``model`` if given, else the final model of the stage it starts from."""
    declared = get_stage(stage)
    option = f"--{declared.model_option}"
    if model is not None:
        if not (Path(model) / "config.json").is_file():
            raise StageInputError(f"{option} {model} is not a model folder (no config.json)")
        return Path(model)
    previous = declared.starts_from
    if previous is None:
        raise StageInputError(f"{stage} needs a base model: pass {option} PATH (a local Hugging Face model folder)")
    path = final_dir(output, previous)
    if not (path / "config.json").is_file():
        raise StageInputError(
            f"{stage} starts from the {previous} model at {path}, which does not exist: "
            f"run `ladder train {previous}` first, or pass {option} PATH"
        )
    return path


def stage_data(stage: Stage, data: Path | None, output: Path) -> Path:
    """The dataset folder ``stage`` reads: ``--data``, or the output folder of the stage that writes its data."""
    if stage.data_from is not None:
        source = output / stage.data_from
        if not (source / "data" / stage.subset).is_dir():
            raise StageInputError(f"{stage.name} trains on {source}: run `ladder train {stage.data_from}` first")
        return source
    if data is None:
        raise StageInputError(f"{stage.name} reads a dataset: pass --data (the --out folder of `ladder build-dataset`)")
    return data


def preflight(stage: str, recipe: TrainRecipe) -> Backend:
    """Everything that can fail before a model or dataset is loaded: package floors, the vision attention the
    recipe asks for, the batch arithmetic and, for GRPO, the rollout backend. Returns the vision attention
    backend."""
    check_requirements()
    backend = resolve_backend(recipe.vision_attention)
    declared = get_stage(stage)
    if declared.trainer is Trainer.SAMPLE:
        recipe.settings(declared, ColdStartDataConfig)
        return backend
    recipe.settings(declared, StageConfig).accumulation(world_size())
    if declared.trainer is Trainer.GRPO:
        check_rollouts(stage, recipe)
    return backend


def stage_dataset(stage: str, recipe: TrainRecipe, data: Path | None, output: Path) -> Any:
    """The stage's rows in its trainer's format; images stay encoded until the dataloader's workers decode them."""
    declared = get_stage(stage)
    cfg = recipe.settings(declared, StageConfig)
    adapter = declared.row
    if adapter is None:
        raise ValueError(f"{stage} is a {declared.trainer} stage: it adapts no rows")
    ds = load_subset(stage_data(declared, data, output), declared.subset, cfg.max_images)
    if cfg.max_samples:
        ds = ds.select(range(min(cfg.max_samples, len(ds))))
    pixels = recipe.pixels
    return adapt(ds, lambda row: adapter(row, pixels))


def train_resuming(trainer: Any, stage: str, out_dir: Path, cfg: StageConfig) -> StageRun:
    """``trainer.train()``, from the stage's last checkpoint when there is one (:func:`resume_checkpoint`); a
    stage whose checkpoint finished it trains no further step: its weights are loaded and the stage ends there."""
    checkpoint = resume_checkpoint(stage, out_dir)
    if checkpoint is not None:
        state = checkpoint_state(checkpoint)
        if finished(state, cfg):
            log.info("%s: already finished at step %d (%s): no further step", stage, state["global_step"], checkpoint)
            load_checkpoint_weights(trainer, checkpoint)
            return StageRun(int(state["global_step"]), list(state.get("log_history", [])))
        trainer._load_from_checkpoint = functools.partial(load_checkpoint_weights, trainer)
    trainer.train(resume_from_checkpoint=checkpoint)
    return StageRun(int(trainer.state.global_step), list(trainer.state.log_history))


def next_command(stage: Stage, recipe: TrainRecipe, data: Path | None, output: Path) -> str:
    """What to run after ``stage``: the next stage of the table with this run's recipe, data (``DATASET`` when
    ``stage`` read none) and output, or after the last one the evaluation of its model."""
    following = next_stage(stage)
    if following is None:
        prompt = "think" if stage.trainer is Trainer.GRPO else "direct"
        return f"ladder eval --bench BENCH --model {final_dir(output, stage.name)} --prompt {prompt}"
    name = recipe.name if recipe.name in TrainRecipe.builtin_names() else "RECIPE.yaml"
    given = data if stage.reads_dataset and data is not None else "DATASET"
    dataset = f" --data {given}" if following.reads_dataset else ""
    return f"ladder train {following.name} --recipe {name}{dataset} --output {output}"


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
    stage: Stage, recipe: TrainRecipe, run: StageRun, seconds: float, data: Path, output: Path
) -> StageSummary:
    """The stage's :class:`StageSummary` from what :func:`train_resuming` returned, logged line by line."""
    losses = [float(entry["loss"]) for entry in run.history if "loss" in entry]
    summary = StageSummary(
        stage.name,
        run.steps,
        losses[0] if losses else None,
        losses[-1] if losses else None,
        seconds,
        final_dir(output, stage.name),
        next_command(stage, recipe, data, output),
    )
    for line in summary.lines():
        log.info("%s", line)
    return summary


def _save_final(trainer: Any, processor: Any, out_dir: Path) -> Path:
    final = out_dir / "final"
    trainer.save_model(str(final))
    processor.save_pretrained(str(final))
    log.info("saved %s", final)
    return final


def run_sft(stage: Stage, recipe: TrainRecipe, model: Path | None, data: Path | None, output: Path) -> Path:
    """An SFT stage; assistant-only loss. Returns the final model folder."""
    backend = preflight(stage.name, recipe)
    from transformers import AutoModelForImageTextToText

    from laddertrain.processing import load_processor

    base = input_model(stage.name, model, output)
    out_dir = output / stage.name
    source = stage_data(stage, data, output)
    train = stage_dataset(stage.name, recipe, source, output)
    processor = load_processor(base, recipe.min_pixels, recipe.max_pixels)
    net = AutoModelForImageTextToText.from_pretrained(base, **model_kwargs(recipe, backend))
    use_vision_attention(net, backend)
    use_recipe_fused_ops(net, recipe)
    trainer = sft_trainer(stage.name, recipe, net, processor, train, out_dir)
    log.info("%s: %d rows from %s, model %s", stage.name, len(train), source, base)
    start = time.perf_counter()
    run = train_resuming(trainer, stage.name, out_dir, recipe.settings(stage, StageConfig))
    final = _save_final(trainer, processor, out_dir)
    summarize(stage, recipe, run, time.perf_counter() - start, source, output)
    return final


def run_grpo(stage: Stage, recipe: TrainRecipe, model: Path | None, data: Path | None, output: Path) -> Path:
    """A GRPO stage with the recipe's rewards. Returns the final model folder."""
    backend = preflight(stage.name, recipe)
    from laddertrain.processing import images_processed_once, load_processor

    base = input_model(stage.name, model, output)
    out_dir = output / stage.name
    source = stage_data(stage, data, output)
    train = stage_dataset(stage.name, recipe, source, output)
    processor = load_processor(base, recipe.min_pixels, recipe.max_pixels)
    trainer = grpo_trainer(stage.name, recipe, backend, base, processor, train, out_dir)
    log.info("%s: %d prompts from %s, model %s", stage.name, len(train), source, base)
    start = time.perf_counter()
    with images_processed_once(processor):  # TRL processes each prompt's images 2 x num_generations times a step
        run = train_resuming(trainer, stage.name, out_dir, recipe.settings(stage, StageConfig))
    final = _save_final(trainer, processor, out_dir)
    summarize(stage, recipe, run, time.perf_counter() - start, source, output)
    return final


def run_sample(stage: Stage, recipe: TrainRecipe, generator: Path | None, data: Path | None, output: Path) -> Path:
    """Sample reasoning answers with ``generator`` and keep those with format + accuracy > 1 + λ (Eq. 4).

    Writes ``OUTPUT/<stage>/data/<writes>/train-00000-of-00001.parquet`` (the rows plus ``completion`` and
    ``reward``); ``generator`` defaults to the final model of the stage it starts from.
    """
    preflight(stage.name, recipe)
    import datasets

    from laddertrain.inference import Decoding, generate, load_model

    cfg = recipe.settings(stage, ColdStartDataConfig)
    source = input_model(stage.name, generator, output)
    rows = load_subset(stage_data(stage, data, output), stage.subset, cfg.max_images)
    if cfg.max_questions:
        rows = rows.select(range(min(cfg.max_questions, len(rows))))
    model, processor, device = load_model(source, recipe.min_pixels, recipe.max_pixels, recipe.vision_attention)
    kept: list[Mapping[str, object]] = []  # the rows as read (every column), plus completion and reward
    for start in range(0, len(rows), cfg.batch_size):
        batch = [rows[i] for i in range(start, min(start + cfg.batch_size, len(rows)))]
        samples = generate(
            model,
            processor,
            device,
            batch,
            PromptStyle.THINK,
            decoding=Decoding(cfg.max_new_tokens, cfg.temperature, cfg.samples_per_question),
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
            f"(--generator) or a lower {stage.section}.threshold"
        )
    features = rows.features.copy()
    features["completion"] = datasets.Value("string")
    features["reward"] = datasets.Value("float64")
    target = output / stage.name / "data" / str(stage.writes) / "train-00000-of-00001.parquet"
    with atomic_path(target) as tmp:
        datasets.Dataset.from_list(kept, features=features).to_parquet(str(tmp))
    listed = ManifestShard(path=str(target.relative_to(output / stage.name)), rows=len(kept))
    write_text_atomic(output / stage.name / MANIFEST, BuildManifest(shards=[listed]).model_dump_json(indent=2))
    log.info(
        "%s: kept %d of %d sampled answers -> %s", stage.name, len(kept), len(rows) * cfg.samples_per_question, target
    )
    if next_stage(stage) is not None:
        log.info("next: %s", next_command(stage, recipe, data, output))
    return target


RUNNERS: dict[Trainer, Callable[[Stage, TrainRecipe, Path | None, Path | None, Path], Path]] = {
    Trainer.SFT: run_sft,
    Trainer.GRPO: run_grpo,
    Trainer.SAMPLE: run_sample,
}
"""How each kind of stage runs: (stage, recipe, model, data, output) -> its final model or its shard."""


def run_stage(stage: str, recipe: TrainRecipe, model: Path | None, data: Path | None, output: Path) -> Path:
    """One stage by name (``ladder train --help`` lists them); ``model`` is its ``--model`` (``--generator`` of a
    sampling stage), ``data`` its ``--data`` (None for a stage that reads an earlier stage's output)."""
    declared = get_stage(stage)
    return RUNNERS[declared.trainer](declared, recipe, model, data, output)


def run_all(recipe: TrainRecipe, model: Path, data: Path, output: Path, generator: Path | None = None) -> Path:
    """Every stage in the table's order, each from the model of the stage it starts from; ``model`` is the base
    model of the stages that start from none, ``generator`` the sampling stages' model (default: their
    ``starts_from`` stage's). Returns the last stage's output."""
    stages = all_stages()
    for stage in stages:  # every stage's settings are checked before the first one starts
        preflight(stage.name, recipe)
    given = {"model": model, "generator": generator}
    last = output
    for stage in stages:
        start = given[stage.model_option] if stage.starts_from is None or stage.trainer is Trainer.SAMPLE else None
        last = run_stage(stage.name, recipe, start, data, output)
    return last
