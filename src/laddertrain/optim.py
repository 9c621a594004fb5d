"""AdamW for bf16 weights that loses no update: the step is computed in float32 and written back to the bf16
weights (and bf16 moments) with stochastic rounding.

bf16 keeps 8 bits of mantissa, so an update smaller than half a unit in the last place of a weight (about 1/512 of
it) rounds away: stepped by torch's AdamW at the paper's learning rates (1e-5, 1e-6), bf16 weights barely move
(docs/training.md, "Precision"). Rounding up or down at random, with the probability of the distance to each
neighbour, makes every write unbiased: the expected weight is the exact one, so over many weights and steps the
model moves as the float32 run does. The weights stay bf16 and the two moments are stored in bf16 too, so the
optimizer costs 2 + 2 bytes per parameter (8 with the weight and its gradient), against 16 for float32 master
weights with float32 AdamW (24 GB instead of 48 GB for a 3B model, before activations).

Why not a library: torch-optimi 0.3 compensates with Kahan summation, which keeps the lost low bits in an extra
buffer but leaves the bf16 weights (the ones the forward pass and the saved model see) up to half a unit in the
last place behind; torchao 0.18's ``AdamW(bf16_stochastic_round=True)`` does this same rounding but compiles its
step with ``torch.compile(fullgraph=True)`` (minutes of compilation on CPU, and torchao releases are built for one
torch release each).

Parameters that are not bf16 (float32) get exact AdamW: the same arithmetic without the rounding.
"""

from collections.abc import Callable, Iterable
from typing import Any, TypedDict

import torch

CHUNK = 1 << 24
"""Elements updated at a time: bounds the float32 temporaries to 5 x 64 MiB whatever the tensor's size (a 3B
model's tied embedding has 311M elements)."""


class AdamWState(TypedDict):
    """One parameter's optimizer state (torch's AdamW names, so checkpoints read alike)."""

    step: int
    exp_avg: torch.Tensor
    """First moment, the parameter's shape and dtype."""
    exp_avg_sq: torch.Tensor
    """Second moment, the parameter's shape and dtype."""


def stochastic_round_(target: torch.Tensor, value: torch.Tensor) -> None:
    """Write float32 ``value`` into bf16 ``target`` (same shape), rounding each element up or down at random with
    the probability of its distance to the other neighbour (unbiased). bf16 is the top 16 bits of a float32: adding
    uniform noise below bit 16 and truncating rounds up exactly with probability (low bits) / 2^16."""
    bits = value.view(torch.int32)
    noise = torch.randint_like(bits, 0, 1 << 16)
    rounded = (bits + noise).bitwise_and_(-65536)  # 0xFFFF0000: clear the 16 bits bf16 drops
    target.copy_(rounded.view(torch.float32))  # exact: the dropped bits are zero


def _write(target: torch.Tensor, value: torch.Tensor) -> None:
    if target.dtype == torch.bfloat16:
        stochastic_round_(target, value)
    else:
        target.copy_(value)


class StochasticRoundingAdamW(torch.optim.Optimizer):
    """AdamW (decoupled weight decay, bias-corrected moments; torch's ``AdamW`` arithmetic) whose bf16 weights and
    moments are written with stochastic rounding; the moments are kept in each parameter's dtype.

    The noise comes from torch's global generator, which transformers' ``Trainer`` seeds and saves in checkpoints,
    so a run and its resumption are reproducible.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if not lr > 0.0 or not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0 or not eps > 0 or weight_decay < 0:
            raise ValueError(f"invalid AdamW settings: lr {lr}, betas {betas}, eps {eps}, weight_decay {weight_decay}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise RuntimeError("StochasticRoundingAdamW does not take sparse gradients")
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param, memory_format=torch.contiguous_format)
                    state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.contiguous_format)
                state["step"] += 1
                self._update(param, state, group["lr"], beta1, beta2, group["eps"], group["weight_decay"])
        return loss

    @staticmethod
    def _update(
        param: torch.Tensor, state: AdamWState, lr: float, beta1: float, beta2: float, eps: float, decay: float
    ) -> None:
        step = state["step"]
        step_size = lr / (1 - beta1**step)
        root_correction = (1 - beta2**step) ** 0.5
        flat = param.data.view(-1) if param.data.is_contiguous() else None
        weights = flat if flat is not None else param.data.contiguous().view(-1)
        grads = param.grad.contiguous().view(-1)  # type: ignore[union-attr]  # checked by step()
        firsts, seconds = state["exp_avg"].view(-1), state["exp_avg_sq"].view(-1)
        for start in range(0, weights.numel(), CHUNK):
            part = slice(start, start + CHUNK)
            grad = grads[part].float()
            first = firsts[part].float().lerp_(grad, 1 - beta1)
            second = seconds[part].float().mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            weight = weights[part].float()
            if decay:
                weight.mul_(1 - lr * decay)
            denominator = second.sqrt().div_(root_correction).add_(eps)
            weight.addcdiv_(first, denominator, value=-step_size)
            _write(weights[part], weight)
            _write(firsts[part], first)
            _write(seconds[part], second)
        if flat is None:
            param.data.copy_(weights.view_as(param))
