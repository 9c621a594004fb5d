"""The fused_ops lever: Qwen2.5-VL's RMSNorm and SwiGLU MLP through laddertrain.fused_ops give transformers' own
outputs and gradients (tiny model, vision tower and language model, float32 and bfloat16, op by op and compiled)."""

import copy
import logging
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from laddertrain.fused_ops import rms_norm_function, silu_mul_function, use_fused_ops  # noqa: E402
from laddertrain.tiny_model import build_model, build_tokenizer  # noqa: E402

GRID = (1, 4, 8)
"""(t, h, w) patches of the one image: 32 patches, 8 merged image tokens."""


def tiny_qwen(dtype: Any) -> Any:
    """The tests' tiny Qwen2.5-VL with every weight random (no norm weight left at 1), in ``dtype``."""
    model = build_model(build_tokenizer())
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.2 + (1.0 if p.ndim == 1 else 0.0))
    return model.to(dtype)


def batch(model: Any, dtype: Any) -> dict[str, Any]:
    """Two rows of text around one image each: input ids, patch rows, grids and labels."""
    config, tokens = model.config, 8
    image = [config.vision_start_token_id, *[config.image_token_id] * tokens, config.vision_end_token_id]
    generator = torch.Generator().manual_seed(4)
    text = torch.randint(10, 400, (2, 12), generator=generator)
    ids = torch.cat([text[:, :5], torch.tensor([image, image]), text[:, 5:]], dim=1)
    patches = 2 * GRID[0] * GRID[1] * GRID[2]
    return {
        "input_ids": ids,
        "pixel_values": torch.randn(patches, 3 * 2 * 14 * 14, generator=generator).to(dtype),
        "image_grid_thw": torch.tensor([GRID, GRID]),
        "labels": ids,
    }


def forward_backward(model: Any, inputs: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    out = model(**inputs)
    out.loss.backward()
    grads = {n: p.grad.float().clone() for n, p in model.named_parameters() if p.grad is not None}
    return out.loss.detach().float(), out.logits.detach().float(), grads


@pytest.mark.parametrize(("mode", "tolerance"), [("eager", 1e-5), ("compiled", 1e-4)])
def test_fused_ops_give_transformers_outputs_and_gradients_in_float32(mode: Any, tolerance: float) -> None:
    reference = tiny_qwen(torch.float32)
    fused = copy.deepcopy(reference)
    counts = use_fused_ops(fused, mode)
    # language: 2 layers x 2 norms + the final norm; vision: 2 blocks x 2 norms + the merger's; one MLP per layer
    assert counts == {"norms": 2 * 2 + 1 + 2 * 2 + 1, "mlps": 2 + 2}
    inputs = batch(reference, torch.float32)
    loss, logits, grads = forward_backward(reference, inputs)
    fused_loss, fused_logits, fused_grads = forward_backward(fused, inputs)
    assert set(fused_grads) == set(grads) and any("visual" in n and "norm" in n for n in grads)
    torch.testing.assert_close(fused_loss, loss, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(fused_logits, logits, rtol=tolerance, atol=tolerance)
    for name, grad in grads.items():
        torch.testing.assert_close(fused_grads[name], grad, rtol=tolerance, atol=tolerance, msg=name)


def relative_error(value: Any, truth: Any) -> float:
    return float((value - truth).norm() / truth.norm().clamp(min=1e-12))


@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_fused_ops_in_bfloat16_are_as_close_to_float32_as_transformers_own(mode: Any) -> None:
    """bf16 rounds differently once kernels are fused (inductor keeps float32 between fused ops), so the fused
    model is held to the float32 truth of the same weights: its error may not exceed transformers' own bf16
    error by more than half (loss, logits and every parameter's gradient)."""
    reference = tiny_qwen(torch.bfloat16)
    fused = copy.deepcopy(reference)
    use_fused_ops(fused, mode)
    truth = copy.deepcopy(reference).float()  # the bf16 weights exactly, computed in float32
    inputs = batch(reference, torch.bfloat16)
    true_loss, true_logits, true_grads = forward_backward(
        truth, {**inputs, "pixel_values": inputs["pixel_values"].float()}
    )
    loss, logits, grads = forward_backward(reference, inputs)
    fused_loss, fused_logits, fused_grads = forward_backward(fused, inputs)
    assert set(fused_grads) == set(grads) == set(true_grads)
    pairs = [("loss", fused_loss, loss, true_loss), ("logits", fused_logits, logits, true_logits)]
    pairs += [(n, fused_grads[n], grads[n], true_grads[n]) for n in grads]
    for name, fused_value, value, true_value in pairs:
        own = relative_error(value, true_value)
        assert own < 0.1, name  # bf16 itself is close: the comparison below means something
        assert relative_error(fused_value, true_value) <= 1.5 * own + 1e-3, name


def test_the_functions_keep_less_for_the_backward_pass() -> None:
    """Bytes each version keeps for the backward pass besides its inputs (bf16 inputs of 64 rows)."""
    x = torch.randn(64, 32, dtype=torch.bfloat16, requires_grad=True)
    weight = torch.randn(32, dtype=torch.bfloat16, requires_grad=True)
    gate, up = (torch.randn(64, 128, dtype=torch.bfloat16, requires_grad=True) for _ in range(2))
    inputs = {t.data_ptr() for t in (x, weight, gate, up)}

    def saved_bytes(fn: Any) -> int:
        seen: list[int] = []

        def pack(t: Any) -> Any:
            seen.append(0 if t.data_ptr() in inputs else t.numel() * t.element_size())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            fn()
        return sum(seen)

    def reference_norm() -> Any:  # Qwen2_5_VLRMSNorm.forward
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6)
        return weight * h.to(x.dtype)

    assert saved_bytes(lambda: rms_norm_function(x, weight, 1e-6)) == 64 * 4  # one float32 per row
    assert saved_bytes(reference_norm) >= 2 * 64 * 32 * 4  # float32 copies of the rows
    assert saved_bytes(lambda: silu_mul_function(gate, up)) == 0
    assert saved_bytes(lambda: torch.nn.functional.silu(gate) * up) == 64 * 128 * 2  # silu(gate)


def test_off_gives_back_transformers_forward_and_liger_without_cuda_is_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = tiny_qwen(torch.float32)
    assert use_fused_ops(model, "eager") == {"norms": 10, "mlps": 4}
    assert sum("forward" in vars(m) for m in model.modules()) == 14
    assert use_fused_ops(model, "off") == {"norms": 0, "mlps": 0}
    assert all("forward" not in vars(m) for m in model.modules())
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is here: Liger's kernels may run")
    with caplog.at_level(logging.WARNING):
        assert use_fused_ops(model, "liger") == {"norms": 0, "mlps": 0}
    assert len(caplog.records) == 1 and "need a CUDA GPU" in caplog.records[0].getMessage()
