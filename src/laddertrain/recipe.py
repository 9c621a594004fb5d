"""Training recipes (YAML): the speed levers and one section of settings per stage (their models:
:mod:`laddertrain.stages.config`). Built-ins live in ``templates/train/``.

The built-in stages' sections are fields, so a recipe's schema shows them; a section of a stage registered by a
plugin (:mod:`laddertrain.stages`) is validated against that stage's own model when the recipe loads.
"""

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from ladderdata.errors import ConfigError, validation_text
from ladderdata.geometry.vision_grid import MAX_PIXELS, MIN_PIXELS
from ladderdata.layout import SAFE_NAME_PATTERN
from ladderdata.prompts import builtin_yaml_names, load_yaml_model
from laddertrain.rows import PixelBudget
from laddertrain.stages import all_stages
from laddertrain.stages.base import Stage
from laddertrain.stages.config import ColdStartDataConfig, GRPOStageConfig, StageConfig

SettingsT = TypeVar("SettingsT", bound=BaseModel)

VisionAttention = Literal["auto", "loop", "grouped", "varlen", "flash"]
"""How the vision tower attends within windows and images (:mod:`laddertrain.vision_attention`)."""

MAX_PIXELS_LIMIT = 16_384 * 28 * 28
"""Qwen2.5-VL's own largest pixel budget per image (its processor's default ``max_pixels``)."""

Precision = Literal["auto", "bf16", "fp32"]
"""How weights are stored and updated (:func:`laddertrain.runners.resolve_precision`): bf16 weights and compute with
a stochastic-rounding AdamW (:mod:`laddertrain.optim`), or float32 throughout; auto is bf16 on CUDA, fp32 on CPU."""

FusedOps = Literal["off", "eager", "compiled", "liger"]
"""Qwen2.5-VL's RMSNorm and SwiGLU through :mod:`laddertrain.fused_ops`: off (transformers' modules), eager
(hand-written backward that keeps less), compiled (the same, fused by torch.compile), liger (Liger's Triton ops)."""


class TrainRecipe(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field("custom", pattern=SAFE_NAME_PATTERN)
    precision: Precision = Field(
        "auto",
        description="bf16: bf16 weights and compute, updates written with stochastic rounding so that none is lost "
        "(8 bytes per parameter with AdamW); fp32: float32 throughout (16 bytes per parameter); auto: bf16 on CUDA, "
        "fp32 on CPU",
    )
    gradient_checkpointing: bool = True
    checkpoint_vision: bool = Field(
        True, description="with gradient_checkpointing: recompute the vision tower's blocks too (false: keep them)"
    )
    checkpoint_every: int = Field(
        1, ge=1, le=1024, description="with gradient_checkpointing: recompute every n-th decoder layer (1: all)"
    )
    compile_blocks: bool = Field(
        False, description="regional torch.compile: each vision block and decoder layer compiled on its own"
    )
    data_seed: int = Field(42, ge=0, le=2**32 - 1)
    min_pixels: int = Field(MIN_PIXELS, ge=784, le=MAX_PIXELS_LIMIT, description="smallest image area (pixels)")
    max_pixels: int = Field(MAX_PIXELS, ge=784, le=MAX_PIXELS_LIMIT, description="largest image area (pixels)")
    vision_attention: VisionAttention = Field(
        "auto",
        description="vision-tower attention: auto (flash if flash-attn, else varlen on CUDA, else grouped), loop "
        "(transformers' per-window reference), grouped (one batched call per window length), varlen (torch's "
        "varlen_attn, CUDA), flash (flash-attn)",
    )
    dataloader_workers: int = Field(
        4, ge=0, le=256, description="processes that decode and preprocess images while the GPU trains (0: in the loop)"
    )
    optim: Literal["adamw_torch_fused", "adamw_torch"] = Field(
        "adamw_torch_fused", description="AdamW implementation (transformers' optimizer name)"
    )
    liger: bool = Field(
        False, description="Liger's Triton kernels for RMSNorm, SwiGLU and RoPE when liger-kernel is installed"
    )
    fused_ops: FusedOps = Field(
        "off",
        description="RMSNorm and SwiGLU MLP (vision and language) with a backward that keeps less: eager (op by op), "
        "compiled (torch.compile fuses each into one kernel), liger (Liger's Triton ops, CUDA); off: transformers'",
    )
    length_grouping: bool = Field(
        True,
        description="SFT stages: each optimizer step's rows come from a shuffled pool of 50 steps' worth and are "
        "sorted by token length before being cut into per-device batches (transformers' LengthGroupedSampler), so "
        "a batch pads to rows of similar length",
    )
    stage1: StageConfig = Field(default_factory=StageConfig)
    stage2: StageConfig = Field(default_factory=StageConfig)
    coldstart_data: ColdStartDataConfig = Field(default_factory=ColdStartDataConfig)
    coldstart: StageConfig = Field(default_factory=StageConfig)
    stage3: GRPOStageConfig = Field(default_factory=GRPOStageConfig)
    _plugin_sections: dict[str, BaseModel] = PrivateAttr(default_factory=dict)
    """The sections of stages registered by plugins, each validated by its stage's model."""

    @model_validator(mode="wrap")
    @classmethod
    def _plugin_stage_sections(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> "TrainRecipe":
        plugins = {}
        if isinstance(data, dict) and set(data) - set(cls.model_fields):
            by_section = {s.section: s for s in all_stages() if s.section not in cls.model_fields}
            plugins = {key: (by_section[key], data[key]) for key in data if key in by_section}
            data = {key: value for key, value in data.items() if key not in plugins}
        recipe: TrainRecipe = handler(data)
        for key, (stage, value) in plugins.items():
            try:
                recipe._plugin_sections[key] = stage.config.model_validate(value)
            except ValidationError as e:
                raise ValueError(f"{key} (stage {stage.name}): {validation_text(e)}") from None
        return recipe

    @model_validator(mode="before")
    @classmethod
    def _explain_bf16(cls, data: Any) -> Any:
        if isinstance(data, dict) and "bf16" in data:
            raise ValueError("bf16 is now precision: bf16 | fp32 | auto (bf16 keeps every update; docs/training.md)")
        return data

    @model_validator(mode="after")
    def _pixel_budget(self) -> "TrainRecipe":
        if self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels {self.min_pixels} is above max_pixels {self.max_pixels}")
        return self

    def settings(self, stage: Stage, model: type[SettingsT]) -> SettingsT:
        """``stage``'s settings as ``model`` (its trainer's settings model): its section of the recipe, or its
        config's defaults when the recipe has no such section."""
        if stage.section in type(self).model_fields:
            value = getattr(self, stage.section)
        else:
            value = self._plugin_sections.get(stage.section) or stage.config()
        if not isinstance(value, model):
            raise ConfigError(
                f"recipe section {stage.section} holds {type(value).__name__}; "
                f"stage {stage.name} needs {model.__name__}"
            )
        return value

    @property
    def pixels(self) -> PixelBudget:
        """The pixel budget every image of every stage is resized into."""
        return PixelBudget(self.min_pixels, self.max_pixels)

    @classmethod
    def builtin_names(cls) -> list[str]:
        return builtin_yaml_names("train")

    @classmethod
    def load(cls, name_or_path: str | Path) -> "TrainRecipe":
        """A built-in training recipe by name (``templates/train/``), or a YAML file."""
        return load_yaml_model(cls, name_or_path, "train", "training recipe")
