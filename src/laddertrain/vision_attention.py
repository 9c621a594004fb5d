"""Qwen2.5-VL vision attention without transformers' per-window loop.

transformers' ``Qwen2_5_VLVisionAttention`` hands packed variable-length segments (the windows of window-attention
layers, whole images in full-attention layers) to a varlen kernel only when the attention implementation's name
contains "flash"; for every other implementation it loops in Python, one attention call per segment and layer.
A Qwen2.5-VL-3B step on 36 images of 364x252 pixels makes 12,240 such calls (28 window layers x 432 windows +
4 full layers x 36 images), which leaves a GPU mostly idle. The attention registry cannot change that: the loop is
in the module, and a registered name containing "flash" makes transformers try to load flash kernels at
``from_pretrained``. So laddertrain swaps the class of each vision attention module in a model it loaded for a
subclass whose ``forward`` differs only in how the segments are attended (:func:`use_vision_attention`, reversible
with :func:`restore_vision_attention`, applied only for transformers versions whose module it was checked against):

* ``grouped`` (any device): segments of equal length are stacked into one batch, one
  ``scaled_dot_product_attention`` call per distinct length and layer (windows come in at most four lengths per
  image size; a full-attention layer whose images share a size makes one call). No masks, exact FLOPs;
* ``varlen`` (CUDA): one ``torch.nn.attention.varlen.varlen_attn`` call per layer (torch's flash varlen kernel);
* ``flash``: transformers' own flash-attention 2 path (one ``flash_attn_varlen_func`` call per layer), no patch;
* ``loop``: transformers' reference loop, no patch.

Segment bookkeeping (lengths, gather indices) needs the boundaries on the host; it is computed once per distinct
``cu_seqlens`` tensor and reused by every layer (the reference loop synchronises once per layer).
"""

import functools
import importlib.util
import itertools
import logging
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, cast

from ladderdata.errors import ConfigError
from laddertrain.recipe import VisionAttention

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

Backend = Literal["loop", "grouped", "varlen", "flash"]

CHECKED_TRANSFORMERS = ">=5.18,<6"
"""transformers releases whose ``Qwen2_5_VLVisionAttention.forward`` the patched forward reproduces."""


def varlen_available() -> bool:
    """torch's varlen attention and a CUDA device to run it on."""
    import torch

    return torch.cuda.is_available() and importlib.util.find_spec("torch.nn.attention.varlen") is not None


def flash_available() -> bool:
    import torch

    return torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None


def _patch_checked() -> bool:
    import transformers
    from packaging.specifiers import SpecifierSet

    return transformers.__version__ in SpecifierSet(CHECKED_TRANSFORMERS, prereleases=True)


def resolve_backend(requested: VisionAttention) -> Backend:
    """The backend a recipe's ``vision_attention`` means here; an explicit choice that cannot run is an error.

    ``auto``: flash when flash-attn is installed (and CUDA), else varlen on CUDA, else grouped; loop when
    the installed transformers is outside the checked range.
    """
    if requested == "auto":
        if flash_available():
            return "flash"
        if not _patch_checked():
            log.info(
                "vision attention: transformers' loop (laddertrain's patch is checked for %s)", CHECKED_TRANSFORMERS
            )
            return "loop"
        return "varlen" if varlen_available() else "grouped"
    if requested == "flash" and not flash_available():
        raise ConfigError(
            "vision_attention: flash needs flash-attn and a CUDA GPU: pip install flash-attn, or use auto"
        )
    if requested == "varlen" and not varlen_available():
        raise ConfigError(
            "vision_attention: varlen needs torch.nn.attention.varlen (torch >= 2.9) and CUDA: use auto or grouped"
        )
    if requested in ("grouped", "varlen") and not _patch_checked():
        import transformers

        raise ConfigError(
            f"vision_attention: {requested} patches Qwen2.5-VL's vision attention, checked for transformers "
            f"{CHECKED_TRANSFORMERS}, not {transformers.__version__}; use auto or loop"
        )
    return requested


def attn_implementation(backend: Backend) -> str:
    """transformers' ``attn_implementation`` to load a model with for this backend."""
    return "flash_attention_2" if backend == "flash" else "sdpa"


class SegmentPlan(NamedTuple):
    """How the segments of one ``cu_seqlens`` are attended.

    ``groups``: (segment length, token indices ``(n_segments, length)`` long, or None when every segment has this
    length and the tokens are simply ``(n_segments, length)`` in order); ``inverse``: the permutation that puts the
    concatenated group outputs back in token order (None with a single in-order group).
    """

    max_length: int
    groups: list[tuple[int, "torch.Tensor | None"]]
    inverse: "torch.Tensor | None"


_PLANS: list[tuple["torch.Tensor", SegmentPlan]] = []
"""The last few plans, keyed by the ``cu_seqlens`` tensor object (kept alive here, so identity is unambiguous)."""


def segment_plan(cu_seqlens: "torch.Tensor") -> SegmentPlan:
    """The (cached) plan for segments ``[cu_seqlens[i], cu_seqlens[i + 1])``."""
    import torch

    for tensor, plan in _PLANS:
        if tensor is cu_seqlens:
            return plan
    starts: dict[int, list[int]] = {}  # segment length -> first token of each segment of that length
    for start, end in itertools.pairwise(cu_seqlens.tolist()):
        if end > start:
            starts.setdefault(end - start, []).append(start)
    device = cu_seqlens.device
    if len(starts) == 1:
        length = next(iter(starts))
        plan = SegmentPlan(length, [(length, None)], None)
    else:
        groups: list[tuple[int, torch.Tensor | None]] = []
        for length, first in sorted(starts.items()):
            offsets = torch.arange(length, device=device)
            groups.append((length, torch.tensor(first, device=device)[:, None] + offsets[None, :]))
        order = torch.cat([index.flatten() for _, index in groups if index is not None])
        plan = SegmentPlan(max(starts), groups, torch.argsort(order))
    _PLANS.insert(0, (cu_seqlens, plan))
    del _PLANS[4:]
    return plan


def grouped_attention(
    query: "torch.Tensor", key: "torch.Tensor", value: "torch.Tensor", cu_seqlens: "torch.Tensor", scale: float
) -> "torch.Tensor":
    """Non-causal attention within each segment; ``query``/``key``/``value`` and the result are ``(T, H, D)``.

    One ``scaled_dot_product_attention`` call per distinct segment length.
    """
    import torch

    heads, dim = query.shape[1:]
    plan = segment_plan(cu_seqlens)
    outputs = []
    for length, index in plan.groups:
        if index is None:  # (n, L, H, D) is a view: no gather
            q, k, v = (t.reshape(-1, length, heads, dim) for t in (query, key, value))
        else:
            q, k, v = query[index], key[index], value[index]
        out = torch.nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), scale=scale
        )
        outputs.append(out.transpose(1, 2).reshape(-1, heads, dim))
    merged = outputs[0] if len(outputs) == 1 else torch.cat(outputs)
    return merged if plan.inverse is None else merged.index_select(0, plan.inverse)


VARLEN_DTYPES = ("torch.bfloat16", "torch.float16")
"""The dtypes torch's varlen (flash) kernel takes, by name (torch is imported lazily)."""


@functools.cache
def _say_grouped_instead(dtype: str) -> None:
    log.info("vision attention: varlen takes bf16/fp16, not %s: grouped attention instead", dtype)


def varlen_attention(
    query: "torch.Tensor", key: "torch.Tensor", value: "torch.Tensor", cu_seqlens: "torch.Tensor", scale: float
) -> "torch.Tensor":
    """The same with one ``torch.nn.attention.varlen.varlen_attn`` call (CUDA, bf16/fp16).

    The kernel refuses other dtypes: a float32 tower (``precision: fp32`` on CUDA) is attended by
    :func:`grouped_attention` instead, which is exact in any dtype. ``varlen_attn``'s default scale is
    ``1 / sqrt(D)``, which is the vision tower's; older torch releases take no ``scale`` argument, so it is passed
    only when it differs.
    """
    if str(query.dtype) not in VARLEN_DTYPES:
        _say_grouped_instead(str(query.dtype))
        return grouped_attention(query, key, value, cu_seqlens, scale)
    from torch.nn.attention.varlen import varlen_attn

    length = segment_plan(cu_seqlens).max_length
    if abs(scale - query.shape[-1] ** -0.5) > 1e-12:
        out = varlen_attn(query, key, value, cu_seqlens, cu_seqlens, length, length, scale=scale)
    else:
        out = varlen_attn(query, key, value, cu_seqlens, cu_seqlens, length, length)
    return cast("torch.Tensor", out)  # a tuple only when auxiliary outputs are requested


ATTENTION = {"grouped": grouped_attention, "varlen": varlen_attention}
"""The attention function of each patching backend (looked up at call time, so tests can count calls)."""

_PATCHED: dict[tuple[type, str], type] = {}


def _patched_class(base: type, backend: str) -> type:
    """A subclass of transformers' ``Qwen2_5_VLVisionAttention`` whose forward attends with ``ATTENTION[backend]``."""
    if (base, backend) in _PATCHED:
        return _PATCHED[(base, backend)]
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import apply_rotary_pos_emb_vision

    def forward(
        self: Any,
        hidden_states: "torch.Tensor",
        cu_seqlens: "torch.Tensor",
        position_embeddings: "tuple[torch.Tensor, torch.Tensor] | None" = None,
        max_seqlen: int | None = None,
        **_: Any,
    ) -> "torch.Tensor":
        """transformers' forward (qkv projection, vision rotary embedding, output projection), one attention call
        per layer (varlen) or per distinct segment length (grouped) instead of one per segment."""
        tokens = hidden_states.shape[0]
        query, key, value = self.qkv(hidden_states).reshape(tokens, 3, self.num_heads, -1).permute(1, 0, 2, 3).unbind(0)
        assert position_embeddings is not None, "Qwen2.5-VL's vision tower always passes its rotary embedding"
        cos, sin = position_embeddings
        query, key = apply_rotary_pos_emb_vision(query, key, cos, sin)
        out = ATTENTION[backend](query, key, value, cu_seqlens, self.scaling)
        projected: torch.Tensor = self.proj(out.reshape(tokens, -1))
        return projected

    cls = type(f"{backend.capitalize()}{base.__name__}", (base,), {"forward": forward, "ladder_backend": backend})
    _PATCHED[(base, backend)] = cls
    return cls


def use_vision_attention(model: Any, backend: Backend) -> int:
    """Switch every Qwen2.5-VL vision attention module of ``model`` to ``backend``; returns how many were switched.

    ``loop`` and ``flash`` restore transformers' class (flash works through the attention implementation the model
    was loaded with); models without Qwen2.5-VL vision attention are left alone.
    """
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLVisionAttention

    switched = 0
    for module in model.modules():
        if not isinstance(module, Qwen2_5_VLVisionAttention):
            continue
        base = next(c for c in type(module).__mro__ if "ladder_backend" not in vars(c))
        module.__class__ = base if backend in ("loop", "flash") else _patched_class(base, backend)
        switched += 1
    if switched:
        log.info("vision attention: %s (%d layers)", backend, switched)
    return switched


def restore_vision_attention(model: Any) -> int:
    """Give every vision attention module of ``model`` back transformers' own class."""
    return use_vision_attention(model, "loop")
