"""laddertrain's entry into ``ladder`` (the ``ladder.extensions`` entry point): ``ladder train``, the answer
backends of ``ladder eval --model`` and the training recipes' schemas. Imports no torch, and nothing heavy until
a backend or the schemas are asked for: ``ladder --help`` loads this module to list ``ladder train``."""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ladderdata.extensions import AnswerRequest, BackendName, Extension

if TYPE_CHECKING:
    from pydantic import BaseModel

    from laddertrain.rows import QuestionRow


def answer_with_transformers(
    rows: "list[QuestionRow]", model: Path, request: AnswerRequest, progress: Callable[[int], None]
) -> list[dict[str, str]]:
    from laddertrain.inference import predict_transformers

    return predict_transformers(
        rows, model, request.style, request.hint, request.batch_size, request.max_new_tokens, progress
    )


def answer_with_vllm(
    rows: "list[QuestionRow]", model: Path, request: AnswerRequest, progress: Callable[[int], None]
) -> list[dict[str, str]]:
    from laddertrain.inference import predict_vllm

    answers = predict_vllm(rows, model, request.style, request.hint, request.max_new_tokens)
    progress(len(rows))
    return answers


def schema_models() -> "tuple[type[BaseModel], ...]":
    """The training recipe and stage configs (``ladder schemas``); their modules import the dataset stack."""
    from laddertrain.recipe import TrainRecipe
    from laddertrain.stages.config import ColdStartDataConfig, GRPOStageConfig, StageConfig

    return (ColdStartDataConfig, GRPOStageConfig, StageConfig, TrainRecipe)


def extension() -> Extension:
    from laddertrain.cli import train_app

    return Extension(
        name="laddertrain",
        extra="train",
        requires=("torch", "transformers", "trl", "accelerate", "peft", "datasets"),
        commands={"train": train_app},
        answer_backends={BackendName.TRANSFORMERS: answer_with_transformers, BackendName.VLLM: answer_with_vllm},
        schema_models=schema_models,
    )
