"""Training recipes (YAML): hyper-parameters per stage. Built-ins live in ``templates/train/``."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ladderdata.prompts import builtin_yaml_names, load_yaml_model


class StageConfig(BaseModel):
    """One supervised or RL stage's optimisation settings (TRL / transformers names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rate: float = Field(1e-5, gt=0)
    num_train_epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, description="> 0 overrides epochs")
    per_device_train_batch_size: int = Field(1, ge=1)
    gradient_accumulation_steps: int = Field(8, ge=1)
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="fraction of the steps spent warming up")
    lr_scheduler_type: str = "cosine"
    save_steps: int = Field(200, ge=1, description="checkpoint every this many steps (resumable)")
    max_samples: int | None = Field(None, ge=1, description="use only the first N rows")
    max_images: int | None = Field(None, ge=1, description="drop rows showing more images than this")


class GRPOStageConfig(StageConfig):
    """Stage 3 (paper Table 8)."""

    learning_rate: float = Field(1e-6, gt=0)
    per_device_train_batch_size: int = Field(2, ge=1)
    gradient_accumulation_steps: int = Field(4, ge=1)
    num_generations: int = Field(8, ge=2)
    beta: float = Field(0.01, ge=0, description="KL weight")
    temperature: float = Field(1.0, gt=0, description="sampling temperature of the rollouts")
    max_completion_length: int = Field(1024, ge=1)
    loss_type: str = "grpo"
    reward_weights: dict[str, float] = Field(default_factory=lambda: {"format": 1.0, "accuracy": 1.0})


class ColdStartDataConfig(BaseModel):
    """Rejection sampling of reasoning answers (paper Eq. 4): keep a sample when format + accuracy > 1 + λ."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    samples_per_question: int = Field(4, ge=1)
    temperature: float = Field(1.0, gt=0)
    max_new_tokens: int = Field(1024, ge=1)
    threshold: float = Field(0.5, description="λ of Eq. 4")
    max_questions: int | None = Field(None, ge=1)
    max_images: int | None = Field(None, ge=1)
    batch_size: int = Field(4, ge=1)


class TrainRecipe(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "custom"
    bf16: bool = True
    gradient_checkpointing: bool = True
    data_seed: int = 42
    min_pixels: int = Field(12_544, ge=784)
    max_pixels: int = Field(100_352, ge=784)
    stage1: StageConfig = Field(default_factory=StageConfig)
    stage2: StageConfig = Field(default_factory=StageConfig)
    coldstart_data: ColdStartDataConfig = Field(default_factory=ColdStartDataConfig)
    coldstart: StageConfig = Field(default_factory=StageConfig)
    stage3: GRPOStageConfig = Field(default_factory=GRPOStageConfig)

    @classmethod
    def builtin_names(cls) -> list[str]:
        return builtin_yaml_names("train")

    @classmethod
    def load(cls, name_or_path: str | Path) -> "TrainRecipe":
        """A built-in training recipe by name (``templates/train/``), or a YAML file."""
        return load_yaml_model(cls, name_or_path, "train", "training recipe")
