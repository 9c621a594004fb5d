"""Vision attention without the per-window loop: same numbers as transformers' loop, far fewer attention calls."""

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from laddertrain import vision_attention  # noqa: E402
from laddertrain.vision_attention import restore_vision_attention, use_vision_attention  # noqa: E402

# (t, h, w) patch grids: images of different sizes and aspect ratios, a two-frame video, two same-size images
GRIDS = [(1, 6, 10), (1, 4, 4), (1, 10, 6), (2, 4, 6), (1, 8, 8), (1, 8, 8)]


def vision_tower(depth: int = 4, full_attention: tuple[int, ...] = (1, 3)) -> Any:
    """A small Qwen2.5-VL vision tower: 2x2 merged-patch windows (window 56 px), window and full-attention layers."""
    from transformers import Qwen2_5_VLConfig
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel

    config = Qwen2_5_VLConfig(
        vision_config={
            "depth": depth,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 48,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": list(full_attention),
        },
    )
    torch.manual_seed(0)
    tower_class: Any = Qwen2_5_VisionTransformerPretrainedModel  # _from_config is untyped
    tower = tower_class._from_config(config.vision_config, attn_implementation="sdpa")
    for p in tower.parameters():  # random init of every weight, so no layer is an identity
        torch.nn.init.normal_(p, std=0.2)
    return tower.eval()


def pixels(grids: list[tuple[int, int, int]], dtype: Any = None) -> tuple[Any, Any]:
    """Random patch rows ``(sum t*h*w, 3*2*14*14)`` and ``grid_thw`` ``(n, 3)``."""
    grid = torch.tensor(grids)
    generator = torch.Generator().manual_seed(1)
    rows = torch.randn(int(grid.prod(dim=1).sum()), 3 * 2 * 14 * 14, generator=generator)
    return rows.to(dtype or torch.float32), grid


def merged(tower: Any, rows: Any, grid: Any) -> Any:
    return tower(rows, grid_thw=grid).pooler_output


def test_grouped_equals_the_loop_in_float32_forward_and_backward() -> None:
    tower = vision_tower()
    rows, grid = pixels(GRIDS)
    reference = merged(tower, rows, grid)
    reference.square().sum().backward()
    reference_grads = {n: p.grad.clone() for n, p in tower.named_parameters()}
    tower.zero_grad()

    assert use_vision_attention(tower, "grouped") == 4
    out = merged(tower, rows, grid)
    out.square().sum().backward()
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-5)
    for name, p in tower.named_parameters():
        torch.testing.assert_close(p.grad, reference_grads[name], rtol=1e-4, atol=1e-4, msg=name)


def test_grouped_equals_the_loop_in_bfloat16() -> None:
    tower = vision_tower().to(torch.bfloat16)
    rows, grid = pixels(GRIDS, torch.bfloat16)
    reference = merged(tower, rows, grid).float()
    use_vision_attention(tower, "grouped")
    out = merged(tower, rows, grid).float()
    scale = reference.abs().max()
    assert (out - reference).abs().max() <= 2e-2 * scale  # bf16 keeps 8 bits of mantissa: 2^-8 per rounding


def test_switching_back_restores_transformers_forward() -> None:
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLVisionAttention

    tower = vision_tower()
    use_vision_attention(tower, "grouped")
    use_vision_attention(tower, "grouped")  # idempotent: no subclass of a subclass
    assert {type(b.attn).__mro__[1] for b in tower.blocks} == {Qwen2_5_VLVisionAttention}
    assert restore_vision_attention(tower) == 4
    assert {type(b.attn) for b in tower.blocks} == {Qwen2_5_VLVisionAttention}


def window_lengths(grids: list[tuple[int, int, int]], window: int = 2, merge: int = 2) -> set[int]:
    """Distinct window lengths in patches, from the geometry: a window is up to ``window`` x ``window`` merged
    units of ``merge`` x ``merge`` patches, cut by the grid's right and bottom edges, per frame."""
    lengths = set()
    for _, h, w in grids:
        rows, cols = h // merge, w // merge
        for r0 in range(0, rows, window):
            for c0 in range(0, cols, window):
                lengths.add(min(window, rows - r0) * min(window, cols - c0) * merge * merge)
    return lengths


@pytest.fixture
def calls_per_layer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Any], Counter[int]]]:
    """Counts ``scaled_dot_product_attention`` calls per vision block during one forward of a tower."""

    def run(tower: Any, grids: list[tuple[int, int, int]] = GRIDS) -> Counter[int]:
        counts: Counter[int] = Counter()
        layer = [-1]
        sdpa = torch.nn.functional.scaled_dot_product_attention

        def counting(*args: Any, **kwargs: Any) -> Any:
            counts[layer[0]] += 1
            return sdpa(*args, **kwargs)

        handles = [
            block.register_forward_pre_hook(lambda _m, _a, i=i: layer.__setitem__(0, i))
            for i, block in enumerate(tower.blocks)
        ]
        monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", counting)
        with torch.no_grad():
            merged(tower, *pixels(grids))
        monkeypatch.undo()
        for h in handles:
            h.remove()
        return counts

    yield run


def test_grouped_makes_one_call_per_distinct_segment_length(calls_per_layer: Callable[[Any], Counter[int]]) -> None:
    tower = vision_tower()
    loop = calls_per_layer(tower)
    windows = sum(  # the reference loop: one call per window per frame
        t * len([(r, c) for r in range(0, h // 2, 2) for c in range(0, w // 2, 2)]) for t, h, w in GRIDS
    )
    frames = sum(t for t, _, _ in GRIDS)
    assert loop == {0: windows, 1: frames, 2: windows, 3: frames}
    use_vision_attention(tower, "grouped")
    grouped = calls_per_layer(tower)
    image_sizes = {h * w for _, h, w in GRIDS}
    assert grouped == {
        0: len(window_lengths(GRIDS)),
        1: len(image_sizes),
        2: len(window_lengths(GRIDS)),
        3: len(image_sizes),
    }
    assert max(grouped.values()) <= 4 < min(loop.values())


def test_full_attention_layers_make_one_call_when_images_share_a_size(
    calls_per_layer: Callable[..., Counter[int]],
) -> None:
    """Every frame of a ladder dataset has the same size (ScanNet's 1296x968), so this is the training case."""
    tower = vision_tower()
    use_vision_attention(tower, "grouped")
    same_size = [(1, 18, 26)] * 5  # the paper pixel budget's grid for a 1296x968 frame
    counts = calls_per_layer(tower, same_size)
    assert counts[1] == counts[3] == 1
    assert counts[0] == counts[2] == len(window_lengths(same_size)) == 3  # 2x2, 2x1 or 1x2, 1x1 merged units


def test_varlen_backend_makes_one_kernel_call_per_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's varlen kernel needs CUDA; on CPU a per-segment stand-in with its signature shows the plumbing:
    one call per layer with the module's packed (T, H, D) tensors and the layer's segment boundaries."""
    tower = vision_tower()
    rows, grid = pixels(GRIDS)
    reference = merged(tower, rows, grid)
    seen: list[tuple[int, int]] = []

    def stand_in(query: Any, key: Any, value: Any, cu_seqlens: Any, scale: float) -> Any:
        seen.append((query.shape[0], len(cu_seqlens) - 1))
        bounds = cu_seqlens.tolist()
        outs = [
            torch.nn.functional.scaled_dot_product_attention(
                *(t[a:b].transpose(0, 1) for t in (query, key, value)), scale=scale
            ).transpose(0, 1)
            for a, b in itertools.pairwise(bounds)
        ]
        return torch.cat(outs)

    monkeypatch.setitem(vision_attention.ATTENTION, "varlen", stand_in)
    use_vision_attention(tower, "varlen")
    out = merged(tower, rows, grid)
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-5)
    tokens = int(grid.prod(dim=1).sum())
    windows = sum(t * len([(r, c) for r in range(0, h // 2, 2) for c in range(0, w // 2, 2)]) for t, h, w in GRIDS)
    frames = sum(t for t, _, _ in GRIDS)
    assert seen == [(tokens, windows), (tokens, frames), (tokens, windows), (tokens, frames)]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="torch's varlen_attn runs on CUDA only")
def test_varlen_equals_the_loop_on_cuda() -> None:
    tower = vision_tower().to("cuda", torch.bfloat16)
    rows, grid = pixels(GRIDS, torch.bfloat16)
    rows, grid = rows.cuda(), grid.cuda()
    reference = merged(tower, rows, grid).float()
    use_vision_attention(tower, "varlen")
    out = merged(tower, rows, grid).float()
    assert (out - reference).abs().max() <= 2e-2 * reference.abs().max()


def test_varlen_never_hands_its_kernel_a_dtype_it_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's varlen kernel takes bf16/fp16 only: a float32 tower (precision fp32 on CUDA) is attended by the
    grouped path, exactly; bf16 reaches the kernel (here a CPU stand-in that refuses what the kernel refuses)."""
    import torch.nn.attention.varlen as varlen_module

    kernel_dtypes: list[Any] = []

    def kernel(query: Any, key: Any, value: Any, cu_q: Any, cu_k: Any, max_q: int, max_k: int, **_: Any) -> Any:
        if query.dtype not in (torch.bfloat16, torch.float16):
            raise RuntimeError(f"varlen_attn does not take {query.dtype}")
        kernel_dtypes.append(query.dtype)
        bounds = cu_q.tolist()
        return torch.cat(
            [
                torch.nn.functional.scaled_dot_product_attention(
                    *(t[a:b].transpose(0, 1) for t in (query, key, value))
                ).transpose(0, 1)
                for a, b in itertools.pairwise(bounds)
            ]
        )

    monkeypatch.setattr(varlen_module, "varlen_attn", kernel)
    for dtype, tolerance in ((torch.float32, 1e-5), (torch.bfloat16, 2e-2)):
        tower = vision_tower().to(dtype)
        rows, grid = pixels(GRIDS, dtype)
        reference = merged(tower, rows, grid).float()
        use_vision_attention(tower, "varlen")
        out = merged(tower, rows, grid).float()
        assert (out - reference).abs().max() <= tolerance * reference.abs().max(), dtype
    assert kernel_dtypes == [torch.bfloat16] * 4  # the float32 tower never reached it; bf16: once per layer


@pytest.mark.skipif(not torch.cuda.is_available(), reason="torch's varlen_attn runs on CUDA only")
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_varlen_gradients_equal_the_loops_on_cuda(dtype: str) -> None:
    """Backward through the real kernel (bf16) and through its float32 fallback, against transformers' loop."""
    tower = vision_tower().to("cuda", getattr(torch, dtype))
    rows, grid = pixels(GRIDS, getattr(torch, dtype))
    rows, grid = rows.cuda(), grid.cuda()
    reference = merged(tower, rows, grid).float()
    reference.square().mean().backward()
    reference_grads = {n: p.grad.float().clone() for n, p in tower.named_parameters()}
    tower.zero_grad()
    use_vision_attention(tower, "varlen")
    out = merged(tower, rows, grid).float()
    out.square().mean().backward()
    tolerance = 2e-2 if dtype == "bfloat16" else 1e-4  # bf16: 2^-8 per rounding, a few roundings deep
    assert (out - reference).abs().max() <= tolerance * reference.abs().max()
    for name, p in tower.named_parameters():
        grad, expected = p.grad.float(), reference_grads[name]
        assert (grad - expected).abs().max() <= 2 * tolerance * expected.abs().max(), name


def test_whole_model_with_grouped_vision_attention_matches(tmp_path: Any) -> None:
    """Through Qwen2_5_VLForConditionalGeneration (what the runners patch): same loss and logits."""
    from fixtures.tiny_qwen import build_model, build_tokenizer

    tokenizer = build_tokenizer()
    model = build_model(tokenizer).eval()
    image = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    grids = [(1, 4, 6), (1, 6, 4), (1, 8, 8)]
    rows, grid = pixels(grids)
    text = tokenizer("How many chairs appear?")["input_ids"]
    ids = torch.tensor([text + [image] * sum(h * w // 4 for _, h, w in grids) + text])
    reference = model(input_ids=ids, pixel_values=rows, image_grid_thw=grid, labels=ids)
    assert use_vision_attention(model, "grouped") == model.config.vision_config.depth
    out = model(input_ids=ids, pixel_values=rows, image_grid_thw=grid, labels=ids)
    torch.testing.assert_close(out.logits, reference.logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.loss, reference.loss)


def test_backend_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    from ladderdata.errors import ConfigError
    from laddertrain.vision_attention import resolve_backend

    monkeypatch.setattr(vision_attention, "varlen_available", lambda: False)
    monkeypatch.setattr(vision_attention, "flash_available", lambda: False)
    assert resolve_backend("auto") == "grouped"
    assert resolve_backend("loop") == "loop"
    with pytest.raises(ConfigError, match="varlen needs"):
        resolve_backend("varlen")
    with pytest.raises(ConfigError, match="flash needs flash-attn"):
        resolve_backend("flash")
    monkeypatch.setattr(vision_attention, "varlen_available", lambda: True)
    assert resolve_backend("auto") == "varlen"
    monkeypatch.setattr(vision_attention, "flash_available", lambda: True)
    assert resolve_backend("auto") == "flash"
    monkeypatch.setattr(vision_attention, "flash_available", lambda: False)
    monkeypatch.setattr(transformers, "__version__", "6.0.0")  # a module the patch was not checked against
    assert resolve_backend("auto") == "loop"
    with pytest.raises(ConfigError, match="checked for transformers"):
        resolve_backend("grouped")
