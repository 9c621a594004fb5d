"""The precision policy: a `precision: bf16` stage moves the weights as far as a float32 one at the paper's learning
rates (1e-5 for stages 1-2, 1e-6 for stage 3), in memory and in the saved model; pure bf16 (torch's AdamW on bf16
weights) does not. Real runner (`run_sft`), CPU, tiny offline Qwen2.5-VL from a base whose weights are exact in
bf16, so every run starts from the same weights."""

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fixtures.factories import BuiltDataset

pytest.importorskip("trl")

import torch

from laddertrain.recipe import TrainRecipe

STEPS = 8
MIN_ELEMENTS = 1024
"""Tensors compared: every weight of two or more dimensions with at least this many elements (the mean |Δw| of a
32-element norm weight is too noisy to compare)."""


@pytest.fixture(scope="module")
def bf16_exact_base(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with every weight rounded to bf16 and saved in float32."""
    from transformers import AutoModelForImageTextToText

    from laddertrain.processing import load_processor

    folder = tmp_path_factory.mktemp("bf16-exact")
    net = AutoModelForImageTextToText.from_pretrained(tiny_model, dtype=torch.float32)
    with torch.no_grad():
        for param in net.parameters():
            param.copy_(param.bfloat16().float())
    net.save_pretrained(folder)
    load_processor(tiny_model).save_pretrained(folder)
    return folder


def recipe(lr: float, precision: str) -> TrainRecipe:
    tiny = TrainRecipe.load("tiny")
    stage = tiny.stage1.model_copy(
        update={
            "learning_rate": lr,
            "max_steps": STEPS,
            "lr_scheduler_type": "constant",
            "warmup_ratio": 0.0,
            "per_device_train_batch_size": 1,  # bf16 convolutions are slow on CPU: few images per step
            "max_samples": 2,
        }
    )
    return tiny.model_copy(update={"precision": precision, "stage1": stage, "length_grouping": False})


def float_weights(named: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: torch.as_tensor(v).float().numpy() for k, v in named.items()}


def saved_weights(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.torch import load_file

    out: dict[str, Any] = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(f))
    return float_weights(out)


@functools.cache
def loaded_weights(folder: Path) -> dict[str, np.ndarray]:
    """Weights under the names a loaded model gives them (the saved files use Qwen2.5-VL's original names)."""
    from transformers import AutoModelForImageTextToText

    return float_weights(dict(AutoModelForImageTextToText.from_pretrained(folder).state_dict()))


def movement(before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean |Δw| of each compared tensor."""
    return {
        k: float(np.abs(after[k] - before[k]).mean())
        for k in before
        if before[k].ndim >= 2 and before[k].size >= MIN_ELEMENTS and k in after
    }


_RUNS: dict[tuple[float, str], tuple[dict[str, float], dict[str, float], Any]] = {}


def run(
    lr: float, precision: str, base: Path, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pure: bool
) -> tuple[dict[str, float], dict[str, float], Any]:
    """(movement in memory, movement in the saved model, the trainer's optimizer) of stage 1 from ``base``."""
    from laddertrain import levers, runners

    key = (lr, "pure" if pure else precision)
    if key in _RUNS:
        return _RUNS[key]
    trainers: list[Any] = []
    original = runners.train_resuming

    @functools.wraps(original)
    def recording(trainer: Any, *args: Any) -> Any:
        trainers.append(trainer)
        return original(trainer, *args)

    with monkeypatch.context() as patch:
        patch.setattr(runners, "train_resuming", recording)
        if pure:  # what ladder did before the policy: bf16 weights stepped by torch's AdamW
            patch.setattr(levers, "optimizer_for", lambda *_: None)
        final = runners.run_stage("stage1", recipe(lr, precision), base, data, tmp_path / f"{key[1]}-{lr:g}")
    (trainer,) = trainers
    in_memory = movement(loaded_weights(base), float_weights(dict(trainer.model.state_dict())))
    optimizer = getattr(trainer.optimizer, "optimizer", trainer.optimizer)  # unwrap accelerate's
    _RUNS[key] = (in_memory, movement(saved_weights(base), saved_weights(final)), optimizer)
    return _RUNS[key]


def ratios(run_a: dict[str, float], run_b: dict[str, float]) -> dict[str, float]:
    return {k: run_a[k] / run_b[k] for k in run_b if run_b[k] > 0}


@pytest.mark.parametrize("lr", [1e-5, 1e-6])
def test_bf16_precision_moves_weights_like_fp32_and_pure_bf16_does_not(
    lr: float,
    bf16_exact_base: Path,
    built_dataset: BuiltDataset,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from laddertrain.optim import StochasticRoundingAdamW

    args = (bf16_exact_base, built_dataset.out, tmp_path, monkeypatch)
    fp32_memory, fp32_saved, fp32_optimizer = run(lr, "fp32", *args, pure=False)
    bf16_memory, bf16_saved, bf16_optimizer = run(lr, "bf16", *args, pure=False)
    assert not isinstance(fp32_optimizer, StochasticRoundingAdamW)
    assert isinstance(bf16_optimizer, StochasticRoundingAdamW)
    assert len(fp32_memory) >= 10 and sorted(fp32_memory.values()) == pytest.approx(sorted(fp32_saved.values()))
    for where, bf16, fp32 in (("memory", bf16_memory, fp32_memory), ("saved", bf16_saved, fp32_saved)):
        within = ratios(bf16, fp32)
        assert len(within) >= 10 and all(0.5 <= r <= 2 for r in within.values()), (where, within)
    pure_memory, pure_saved, _ = run(lr, "bf16", *args, pure=True)
    for where, pure, fp32 in (("memory", pure_memory, fp32_memory), ("saved", pure_saved, fp32_saved)):
        lost = ratios(pure, fp32)
        assert np.median(list(lost.values())) < 0.5, (where, lost)  # the same check fails


def test_bf16_precision_stores_bf16_weights_and_moments(
    bf16_exact_base: Path, built_dataset: BuiltDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """8 bytes per parameter: bf16 weights, gradients and both AdamW moments (docs/training.md, "Precision")."""
    *_, optimizer = run(1e-5, "bf16", bf16_exact_base, built_dataset.out, tmp_path, monkeypatch, pure=False)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    assert params and all(p.dtype == torch.bfloat16 for p in params)
    moments = [optimizer.state[p][name] for p in params if optimizer.state[p] for name in ("exp_avg", "exp_avg_sq")]
    assert moments and all(m.dtype == torch.bfloat16 for m in moments)


def test_precision_auto_is_bf16_on_cuda_and_fp32_on_cpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from laddertrain.levers import model_kwargs, resolve_precision, training_args

    auto = TrainRecipe.load("tiny")
    assert auto.precision == "auto" and TrainRecipe.load("paper-3b").precision == "bf16"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_precision(auto) == "fp32" and model_kwargs(auto, "grouped")["dtype"] == torch.float32
    bf16 = auto.model_copy(update={"precision": "bf16"})
    assert resolve_precision(bf16) == "bf16" and model_kwargs(bf16, "grouped")["dtype"] == torch.bfloat16
    assert training_args(bf16, bf16.stage1, tmp_path)["bf16"] is False  # CPU: bf16 weights, no autocast
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_precision(auto) == "bf16" and training_args(auto, auto.stage1, tmp_path)["bf16"] is True
    assert resolve_precision(auto.model_copy(update={"precision": "fp32"})) == "fp32"


def test_the_old_bf16_field_names_its_replacement(tmp_path: Path) -> None:
    from ladderdata.errors import ConfigError

    path = tmp_path / "old.yaml"
    path.write_text("bf16: true\n")
    with pytest.raises(ConfigError, match="precision: bf16"):
        TrainRecipe.load(path)


def test_stochastic_rounding_is_unbiased_and_adamw_exact_in_float32() -> None:
    from laddertrain.optim import StochasticRoundingAdamW, stochastic_round_

    torch.manual_seed(0)
    # bf16 holds 1 and 1 + 2^-7 (its unit in the last place at 1); 1 + 2^-9 lies a quarter of the way between
    value = torch.full((200_000,), 1.0 + 2**-9)
    rounded = torch.empty(200_000, dtype=torch.bfloat16)
    stochastic_round_(rounded, value)
    assert set(rounded.float().tolist()) == {1.0, 1.0 + 2**-7}
    assert float(rounded.float().mean()) == pytest.approx(1.0 + 2**-9, abs=2e-5)  # 4 sigma of 200k draws
    negative = torch.empty(200_000, dtype=torch.bfloat16)
    stochastic_round_(negative, -value)
    assert float(negative.float().mean()) == pytest.approx(-(1.0 + 2**-9), abs=2e-5)
    # float32 parameters: torch's AdamW exactly (weight decay, bias correction), including non-contiguous ones
    start = torch.randn(64, 48)
    ours = torch.nn.Parameter(start.clone().t())
    theirs = torch.nn.Parameter(start.clone().t())
    mine = StochasticRoundingAdamW([ours], lr=1e-2, weight_decay=0.1)
    reference = torch.optim.AdamW([theirs], lr=1e-2, weight_decay=0.1)
    for _ in range(5):
        grad = torch.randn(48, 64)
        ours.grad, theirs.grad = grad.clone(), grad.clone()
        mine.step()
        reference.step()
    assert torch.allclose(ours, theirs, atol=1e-6)
