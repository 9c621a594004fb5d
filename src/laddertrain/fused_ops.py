"""Fused RMSNorm and SwiGLU for Qwen2.5-VL (the recipe's ``fused_ops`` lever), independent of Liger's model patches.

transformers' ``Qwen2_5_VLRMSNorm`` runs six elementwise kernels and keeps a float32 copy of its input, the squared
input and the normalised float32 tensor for the backward pass; its ``Qwen2MLP`` / ``Qwen2_5_VLMLP`` keep both
``silu(gate)`` and ``up`` besides ``gate`` for the product. The functions here compute the same values with a
hand-written backward that keeps less: RMSNorm keeps its input and one float per row (the reciprocal RMS), and
``silu(gate) * up`` keeps ``gate`` and ``up`` and recomputes ``silu(gate)``. ``eager`` runs them op by op; ``compiled``
hands the same functions to ``torch.compile`` (inductor fuses each forward and each backward into one kernel);
``liger`` uses Liger's Triton kernels of the same two operations (CUDA, when ``liger_kernel.ops`` imports).
"""

import functools
import importlib
import logging
import types
from collections.abc import Callable
from typing import Any

import torch
from torch.nn.functional import silu

from laddertrain.recipe import FusedOps

log = logging.getLogger(__name__)


class RMSNormFunction(torch.autograd.Function):
    """``weight * (x * rsqrt(mean(x**2) + eps)).to(x.dtype)``, the statistic in float32 (Qwen2.5-VL's RMSNorm);
    keeps ``x`` and the reciprocal RMS per row (x: [..., hidden], weight: [hidden], rstd: [..., 1])."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        x32 = x.float()
        rstd = torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
        ctx.save_for_backward(x, weight, rstd)
        return weight * (x32 * rstd).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        x, weight, rstd = ctx.saved_tensors
        normed32 = x.float() * rstd
        grad_weight = None
        if ctx.needs_input_grad[1]:
            grad_weight = (grad * normed32.to(x.dtype)).sum_to_size(weight.shape).to(weight.dtype)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_normed = (grad * weight).to(x.dtype).float()
            inner = (grad_normed * normed32).mean(-1, keepdim=True)
            grad_x = (rstd * (grad_normed - normed32 * inner)).to(x.dtype)
        return grad_x, grad_weight, None


class SiluMulFunction(torch.autograd.Function):
    """``silu(gate) * up`` (SwiGLU's elementwise part, gate and up: [..., intermediate]); keeps ``gate`` and ``up``
    only and recomputes ``silu(gate)`` in the backward pass, in float32 for half-precision inputs."""

    @staticmethod
    def forward(ctx: Any, gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(gate, up)
        return silu(gate) * up

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        gate, up = ctx.saved_tensors
        gate32 = gate.float()
        sigmoid = torch.sigmoid(gate32)
        grad_up = grad * silu(gate)
        grad_gate = ((grad * up).float() * sigmoid * (1 + gate32 * (1 - sigmoid))).to(gate.dtype)
        return grad_gate, grad_up


def rms_norm_function(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    out: torch.Tensor = RMSNormFunction.apply(x, weight, eps)  # type: ignore[no-untyped-call]
    return out


def silu_mul_function(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = SiluMulFunction.apply(gate, up)  # type: ignore[no-untyped-call]
    return out


@functools.cache
def _compiled(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    # dynamic: one graph for every sequence length (batches of rows of varying length would recompile otherwise)
    return torch.compile(fn, dynamic=True)


def _liger_ops() -> tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]] | None:
    """Liger's RMSNorm and SiLU-mul (its ``ops`` modules, not its model patches), or None with one log line."""
    if not torch.cuda.is_available():
        log.warning("fused_ops: liger, but Liger's Triton kernels need a CUDA GPU: training without fused ops")
        return None
    try:
        rms = importlib.import_module("liger_kernel.ops.rms_norm").LigerRMSNormFunction
        swiglu = importlib.import_module("liger_kernel.ops.swiglu").LigerSiLUMulFunction
    except (ImportError, AttributeError) as error:
        log.warning("fused_ops: liger, but liger-kernel's ops do not import (%s): training without fused ops", error)
        return None

    def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        out: torch.Tensor = rms.apply(x, weight, eps, 0.0, "llama")  # llama casting: Qwen2.5-VL's arithmetic
        return out

    def silu_mul(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = swiglu.apply(gate, up)
        return out

    return rms_norm, silu_mul


def fused_functions(mode: FusedOps) -> tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]] | None:
    """The (rms_norm, silu_mul) pair of ``mode``; None for ``off`` or when Liger cannot run here."""
    if mode == "off":
        return None
    if mode == "liger":
        return _liger_ops()
    if mode == "compiled":
        return _compiled(rms_norm_function), _compiled(silu_mul_function)
    return rms_norm_function, silu_mul_function


def use_fused_ops(model: torch.nn.Module, mode: FusedOps) -> dict[str, int]:
    """Route every Qwen2.5-VL RMSNorm (language model, vision blocks, patch merger) and every SiLU MLP (vision
    and language) of ``model`` through :func:`fused_functions`; ``off`` (or Liger unable to run) gives them back
    transformers' forward. The modules keep their parameters, so saving and loading are unchanged. Returns how
    many norms and MLPs were rerouted."""
    from transformers.activations import SiLUActivation
    from transformers.models.qwen2_5_vl import modeling_qwen2_5_vl as qwen

    norms = [m for m in model.modules() if isinstance(m, qwen.Qwen2_5_VLRMSNorm)]
    mlps = [
        m
        for m in model.modules()
        if isinstance(m, qwen.Qwen2_5_VLMLP | qwen.Qwen2MLP) and isinstance(m.act_fn, SiLUActivation | torch.nn.SiLU)
    ]
    for module in [*norms, *mlps]:
        vars(module).pop("forward", None)  # the class's forward again
    functions = fused_functions(mode)
    if functions is None:
        return {"norms": 0, "mlps": 0}
    rms_norm, silu_mul = functions

    def norm_forward(self: Any, hidden_states: torch.Tensor) -> torch.Tensor:
        return rms_norm(hidden_states, self.weight, self.variance_epsilon)

    def mlp_forward(self: Any, hidden_states: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.down_proj(silu_mul(self.gate_proj(hidden_states), self.up_proj(hidden_states)))
        return out

    for norm in norms:
        norm.forward = types.MethodType(norm_forward, norm)  # type: ignore[method-assign]
    for mlp in mlps:
        mlp.forward = types.MethodType(mlp_forward, mlp)  # type: ignore[method-assign]
    return {"norms": len(norms), "mlps": len(mlps)}
