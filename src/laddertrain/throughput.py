"""Model FLOPs of a Qwen2.5-VL training step, and GPU peaks, for model FLOPs utilisation (MFU).

MFU = training FLOPs of the step / (step seconds x the GPU's dense bf16 peak). The training FLOPs are three times
the forward FLOPs (backward = 2 x forward), without activation recomputation (MFU counts the model's work, not
the hardware's). Forward FLOPs of one step, with P patches, M = P / 4 merged vision tokens, T_i the length of row
i (text + vision tokens, no padding) and S supervised positions (labels != -100):

    vision   2 (W_patch + W_blocks) P + 2 W_merger M + sum over vision layers and segments of 4 d_v l^2
    language 2 W_decoder sum_i T_i + sum over decoder layers and rows of 4 d T_i^2 + 2 d V S

where W_x is the number of weights of the matrices (and the patch convolution) of part x, d_v and d the vision
and text widths, V the vocabulary, and a segment is a window (window-attention layers) or a frame (full-attention
layers) of l patches. Attention counts the full l^2 and T^2 products (the usual convention; causal masking does
not halve the work of dense kernels). Norms, biases, rotary embeddings and activations are left out (well under
1% at the 3B shape). A test checks this against torch's FLOP counter on a real forward pass.
"""

import itertools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import torch

PEAK_BF16_FLOPS = (
    ("H100 NVL", 835e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),  # SXM5 (reported as "NVIDIA H100 80GB HBM3")
    ("H200 NVL", 835e12),
    ("H200", 989e12),  # SXM: same GH100 compute as the H100 SXM, more and faster memory
    ("A100", 312e12),
    ("A6000", 154.8e12),  # the paper's GPUs
)
"""Dense bf16 tensor-core peaks (NVIDIA datasheets, without structured sparsity), matched in this order against
``torch.cuda.get_device_name()``."""


def peak_bf16_flops(device_name: str) -> float | None:
    """The dense bf16 peak of a GPU by its CUDA name, None when unknown.

    >>> peak_bf16_flops("NVIDIA H100 80GB HBM3"), peak_bf16_flops("NVIDIA H100 PCIe"), peak_bf16_flops("cpu")
    (989000000000000.0, 756000000000000.0, None)
    """
    return next((peak for key, peak in PEAK_BF16_FLOPS if key in device_name), None)


class StepShape(NamedTuple):
    """What a step's FLOPs depend on: row lengths without padding, supervised positions, image grids (t, h, w)."""

    lengths: list[int]
    supervised: int
    grids: list[tuple[int, int, int]]


def step_shape(batch: Mapping[str, "torch.Tensor"]) -> StepShape:
    """The shape of a processed batch (``input_ids``, ``attention_mask``, optional ``labels``/``image_grid_thw``)."""
    mask = batch["attention_mask"]
    labels = batch.get("labels")
    supervised = int((labels[:, 1:] != -100).sum()) if labels is not None else int(mask.sum())
    grid = batch.get("image_grid_thw")
    grids = [] if grid is None else [(int(t), int(h), int(w)) for t, h, w in grid.tolist()]
    return StepShape([int(n) for n in mask.sum(dim=1).tolist()], supervised, grids)


def _weights(modules: Iterable[Any]) -> int:
    """Weights of the matrices and convolutions in ``modules`` (tensors of two or more dimensions)."""
    return sum(p.numel() for m in modules for p in m.parameters() if p.dim() >= 2)


def segment_lengths(grids: list[tuple[int, int, int]], vision_config: Any) -> tuple[list[int], list[int]]:
    """(window lengths, frame lengths) in patches: Qwen2.5-VL's windows are up to ``window_size / patch /
    merge`` merged tokens a side, cut at the right and bottom edges, per frame."""
    merge = vision_config.spatial_merge_size
    side = vision_config.window_size // merge // vision_config.patch_size
    windows, frames = [], []
    for t, h, w in grids:
        rows, cols = h // merge, w // merge
        per_frame = [
            min(side, rows - r) * min(side, cols - c) * merge * merge
            for r, c in itertools.product(range(0, rows, side), range(0, cols, side))
        ]
        windows += per_frame * t
        frames += [h * w] * t
    return windows, frames


def forward_flops(model: Any, shape: StepShape) -> dict[str, float]:
    """Forward FLOPs of a Qwen2.5-VL ``...ForConditionalGeneration`` on a step of this shape, by part
    (``vision``, ``language``)."""
    visual, text = model.model.visual, model.model.language_model
    vcfg, tcfg = model.config.vision_config, model.config.text_config
    patches = sum(t * h * w for t, h, w in shape.grids)
    windows, frames = segment_lengths(shape.grids, vcfg)
    full = set(vcfg.fullatt_block_indexes)
    attention = sum(
        4 * vcfg.hidden_size * sum(n * n for n in (frames if i in full else windows)) for i in range(vcfg.depth)
    )
    vision = 2 * _weights([visual.patch_embed, visual.blocks]) * patches + 2 * _weights([visual.merger]) * patches / 4
    decoder = _weights([text.layers])
    hidden = tcfg.hidden_size
    language = (
        2 * decoder * sum(shape.lengths)
        + 4 * hidden * tcfg.num_hidden_layers * sum(n * n for n in shape.lengths)
        + 2 * hidden * tcfg.vocab_size * shape.supervised
    )
    return {"vision": float(vision + attention), "language": float(language)}


def training_flops(model: Any, shape: StepShape) -> float:
    """Forward + backward model FLOPs (3 x forward) of one training step."""
    return 3 * sum(forward_flops(model, shape).values())
