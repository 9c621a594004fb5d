"""Each stage's settings in a training recipe: the optimisation schedule of an SFT or GRPO stage, and the rejection
sampling of the cold start's answers. A stage names its model in its :class:`laddertrain.stages.base.Stage`.

The optimisation schedule is stated hardware-independently: ``effective_batch_size`` is what one optimizer step
sees summed over every process (the paper's per-device batch x accumulation x GPUs), and the gradient accumulation
follows from the per-device batch and the number of processes, so a recipe tuned for one 80 GB GPU and the
paper's four 48 GB GPUs take the same optimizer steps.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ladderdata.errors import ConfigError
from laddertrain.rewards import REWARDS

Scheduler = Literal[
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "cosine_with_min_lr",
    "warmup_stable_decay",
]
"""transformers' learning-rate schedules that need no extra arguments (``lr_scheduler_type``)."""

GRPOLoss = Literal["grpo", "dr_grpo", "dapo", "bnpo"]
"""TRL's GRPO loss aggregations (``loss_type``; paper: grpo)."""

MAX_TOKENS = 131_072
"""Above any context a Qwen2.5-VL-class model trains or generates with."""

Rollouts = Literal["auto", "hf", "vllm"]
"""Who generates GRPO rollouts: transformers' ``generate`` on the training model, or colocated vLLM; auto: vLLM
on CUDA when it is installed, else hf (:func:`laddertrain.trainers.resolve_rollouts`)."""

PAGED_ROLLOUTS_UNSUPPORTED = (
    "rollouts: paged (transformers continuous batching) is not available for vision-language models: it takes "
    "token ids only, so rollouts could not see the images, and TRL's GRPOTrainer refuses it for models with a "
    "processor; use rollouts: hf (batched generate) or rollouts: vllm"
)


class StageConfig(BaseModel):
    """One supervised or RL stage's optimisation settings (TRL / transformers names)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    learning_rate: float = Field(1e-5, gt=0, le=1)
    num_train_epochs: float = Field(1.0, gt=0, le=1000)
    max_steps: int = Field(-1, ge=-1, le=100_000_000, description="> 0 overrides epochs; -1: run the epochs")
    per_device_train_batch_size: int = Field(1, ge=1, le=4096, description="rows per forward pass on each GPU")
    effective_batch_size: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="rows per optimizer step over all processes; the gradient accumulation is derived from it "
        "(set this or gradient_accumulation_steps, not both)",
    )
    gradient_accumulation_steps: int | None = Field(
        None, ge=1, le=100_000, description="explicit accumulation (default 1) when effective_batch_size is not set"
    )
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="fraction of the steps spent warming up")
    lr_scheduler_type: Scheduler = "cosine"
    save_steps: int = Field(200, ge=1, le=100_000_000, description="checkpoint every this many steps (resumable)")
    max_samples: int | None = Field(None, ge=1, le=1_000_000_000, description="use only the first N rows")
    max_images: int | None = Field(None, ge=1, le=1024, description="drop rows showing more images than this")

    @model_validator(mode="after")
    def _one_batch_rule(self) -> "StageConfig":
        if self.effective_batch_size is not None and self.gradient_accumulation_steps is not None:
            raise ValueError("set effective_batch_size or gradient_accumulation_steps, not both")
        if self.max_steps == 0:
            raise ValueError("max_steps 0 trains nothing: give a positive number of steps, or -1 to run the epochs")
        return self

    def accumulation(self, world_size: int) -> int:
        """Gradient accumulation steps on ``world_size`` processes; keeps ``effective_batch_size`` exact.

        >>> StageConfig(per_device_train_batch_size=8, effective_batch_size=32).accumulation(2)
        2
        """
        if self.effective_batch_size is None:
            return self.gradient_accumulation_steps or 1
        per_step = self.per_device_train_batch_size * world_size
        if self.effective_batch_size % per_step:
            raise ConfigError(
                f"effective_batch_size {self.effective_batch_size} is not a multiple of per_device_train_batch_size "
                f"{self.per_device_train_batch_size} x {world_size} processes: change per_device_train_batch_size"
            )
        return self.effective_batch_size // per_step


class GRPOStageConfig(StageConfig):
    """Stage 3 (paper Table 8). Batches count completions (TRL's convention): 8 generations of 4 prompts are 32."""

    learning_rate: float = Field(1e-6, gt=0, le=1)
    per_device_train_batch_size: int = Field(8, ge=1, le=4096, description="completions per forward pass on each GPU")
    num_generations: int = Field(8, ge=2, le=1024)
    beta: float = Field(0.01, ge=0, le=100, description="KL weight")
    temperature: float = Field(1.0, gt=0, le=100, description="sampling temperature of the rollouts")
    max_completion_length: int = Field(1024, ge=1, le=MAX_TOKENS)
    loss_type: GRPOLoss = "grpo"
    reward_weights: dict[str, Annotated[float, Field(ge=-1000, le=1000)]] = Field(
        default_factory=lambda: {"format": 1.0, "accuracy": 1.0},
        description="weight of each reward of laddertrain.rewards (format, accuracy) in the total reward",
    )
    rollouts: Rollouts = Field(
        "auto",
        description="hf: batched transformers generate; vllm: colocated vLLM (GPU extra); auto: vllm on CUDA when "
        "installed, else hf (one log line says which and why)",
    )
    prompts_per_generation: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="prompts whose rollouts are generated together; default: one optimizer step's worth (on-policy), "
        "in fewer prompts per round on a GPU whose rollout_memory_share cannot hold them (rollouts: hf). More than a "
        "step's worth reuses rollouts for several optimizer steps (off-policy; TRL clips the importance ratio)",
    )
    rollout_memory_share: float = Field(
        0.3,
        gt=0,
        lt=1,
        description="rollouts: hf on CUDA: share of the GPU the rollouts' KV cache may take, which sizes the "
        "generation batch (estimated for prompts of max_images images at max_pixels)",
    )
    vllm_gpu_memory_utilization: float = Field(
        0.3, gt=0, lt=1, description="share of the GPU colocated vLLM may take (rollouts: vllm)"
    )

    @model_validator(mode="before")
    @classmethod
    def _explain_paged(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("rollouts") == "paged":
            raise ValueError(PAGED_ROLLOUTS_UNSUPPORTED)
        return data

    @model_validator(mode="after")
    def _known_rewards(self) -> "GRPOStageConfig":
        unknown = sorted(set(self.reward_weights) - set(REWARDS))
        if unknown:
            raise ValueError(
                f"unknown reward {', '.join(unknown)} in reward_weights (the rewards: {', '.join(REWARDS)})"
            )
        if not self.reward_weights or not any(self.reward_weights.values()):
            raise ValueError("reward_weights gives every reward weight 0: GRPO would learn nothing")
        return self

    @model_validator(mode="after")
    def _whole_groups(self) -> "GRPOStageConfig":
        if self.effective_batch_size is not None and self.effective_batch_size % self.num_generations:
            raise ValueError(
                f"effective_batch_size {self.effective_batch_size} counts completions: make it a multiple of "
                f"num_generations {self.num_generations}"
            )
        return self

    def generation_batch_size(self, world_size: int, fits_per_process: int | None = None) -> int:
        """Completions generated together on all processes (TRL's ``generation_batch_size``).

        ``prompts_per_generation`` when set (whole micro-batches checked). By default all completions of one
        optimizer step (``per_device_train_batch_size`` x accumulation x ``world_size``: on-policy, the largest
        batch that is); when ``fits_per_process`` says fewer completions' rollouts fit one GPU
        (:func:`laddertrain.trainers.rollout_fit`), the step is generated in the fewest equal rounds that fit,
        each of whole groups of ``num_generations`` and whole micro-batches: still on-policy, as the weights
        change only after the step's last round.

        >>> GRPOStageConfig(per_device_train_batch_size=4, effective_batch_size=32).generation_batch_size(1)
        32
        >>> GRPOStageConfig(per_device_train_batch_size=4, effective_batch_size=32).generation_batch_size(1, 20)
        16
        """
        per_step = self.per_device_train_batch_size * world_size
        if self.prompts_per_generation is not None:
            size = self.prompts_per_generation * self.num_generations
            if size % per_step:
                raise ConfigError(
                    f"prompts_per_generation {self.prompts_per_generation} x num_generations {self.num_generations} "
                    f"is not a multiple of per_device_train_batch_size {self.per_device_train_batch_size} x "
                    f"{world_size} processes"
                )
            return size
        accumulation = self.accumulation(world_size)
        step = per_step * accumulation
        if step % self.num_generations:
            raise ConfigError(
                f"an optimizer step of {step} completions (per_device_train_batch_size x accumulation x "
                f"{world_size} processes) does not hold whole groups of num_generations {self.num_generations}: "
                "set effective_batch_size to a multiple of it"
            )
        sizes = [
            step // rounds
            for rounds in range(1, accumulation + 1)
            if accumulation % rounds == 0 and (step // rounds) % self.num_generations == 0
        ]
        if fits_per_process is None:
            return sizes[0]
        fitting = [size for size in sizes if size // world_size <= fits_per_process]
        return fitting[0] if fitting else sizes[-1]


class ColdStartDataConfig(BaseModel):
    """Rejection sampling of reasoning answers (paper Eq. 4): keep a sample when format + accuracy > 1 + λ."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    samples_per_question: int = Field(4, ge=1, le=1024)
    temperature: float = Field(1.0, gt=0, le=100)
    max_new_tokens: int = Field(1024, ge=1, le=MAX_TOKENS)
    threshold: float = Field(
        0.5, ge=-2, lt=1, description="λ of Eq. 4; format + accuracy is at most 2, so λ >= 1 would keep nothing"
    )
    max_questions: int | None = Field(None, ge=1, le=1_000_000_000)
    max_images: int | None = Field(None, ge=1, le=1024)
    batch_size: int = Field(4, ge=1, le=4096)
