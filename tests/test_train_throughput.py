"""The MFU formula against torch's FLOP counter, and the throughput benchmark's CPU smoke run."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fixtures.factories import BuiltDataset

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from laddertrain.throughput import StepShape, forward_flops, peak_bf16_flops, segment_lengths, step_shape  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_forward_flops_equal_torchs_flop_counter_on_a_real_forward() -> None:
    """Eager attention makes every attention product a counted matmul; images of several sizes and a two-frame
    video exercise windows cut at the edges and per-frame full attention."""
    from torch.utils.flop_counter import FlopCounterMode

    from fixtures.tiny_qwen import build_model, build_tokenizer

    tokenizer = build_tokenizer()
    model = build_model(tokenizer).eval()
    model.set_attn_implementation("eager")
    image = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    grids = [(1, 4, 6), (1, 8, 8), (2, 4, 4)]
    grid = torch.tensor(grids)
    rows = torch.randn(int(grid.prod(dim=1).sum()), 3 * 2 * 14 * 14)
    text = tokenizer("How many chairs appear?")["input_ids"]
    ids = torch.tensor([text + [image] * sum(t * h * w // 4 for t, h, w in grids) + text])
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(input_ids=ids, pixel_values=rows, image_grid_thw=grid)
    ours = forward_flops(model, StepShape([ids.shape[1]], ids.shape[1], grids))  # logits at every position
    assert sum(ours.values()) == pytest.approx(counter.get_total_flops(), rel=1e-3)
    vision = counter.get_flop_counts()["Qwen2_5_VLForConditionalGeneration.model.visual"]
    assert ours["vision"] == pytest.approx(sum(vision.values()), rel=1e-3)


def test_segments_and_step_shape() -> None:
    from types import SimpleNamespace

    vision = SimpleNamespace(spatial_merge_size=2, window_size=112, patch_size=14)  # the 3B tower: 4x4 merged
    windows, frames = segment_lengths([(1, 18, 26)], vision)  # a 1296x968 frame at the paper's pixel budget
    assert sorted(windows) == sorted([64] * 6 + [16] * 3 + [16] * 2 + [4])  # 9x13 merged: 4,4,1 x 4,4,4,1
    assert sum(windows) == frames[0] == 18 * 26
    batch = {
        "attention_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]]),
        "labels": torch.tensor([[-100, 5, 6, -100], [-100, -100, 7, 8]]),
        "image_grid_thw": torch.tensor([[1, 4, 6]]),
    }
    assert step_shape(batch) == StepShape([3, 4], 4, [(1, 4, 6)])


def test_peaks_by_device_name() -> None:
    assert peak_bf16_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert peak_bf16_flops("NVIDIA H200") == 989e12
    assert peak_bf16_flops("NVIDIA H100 NVL") == 835e12
    assert peak_bf16_flops("NVIDIA GeForce RTX 4090") is None


def test_gpu_check_dry_run_on_cpu(built_dataset: BuiltDataset, tmp_path: Path) -> None:
    """benchmarks/gpu_check.sh --dry: every section of benchmarks/bench_train.py the GPU check runs (the runner
    per lever, the bare loop, rollouts, one GRPO step) on the tiny model, one table, one JSON file of records."""
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "DATA": str(built_dataset.out), "RESULTS": str(tmp_path), "PYTHON": sys.executable},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (written,) = tmp_path.glob("*-cpu.json")
    assert f"wrote {written}" in done.stdout and "| section | stage | variant |" in done.stdout
    report: dict[str, Any] = json.loads(written.read_text())
    assert report["device"] == "cpu" and report["shape"] == "tiny"
    sft = {(r["path"], r["stage"], r["variant"]): r for r in report["records"] if r["section"] in ("raw", "trl")}
    assert set(sft) == {
        ("trl", "stage1", "base"),
        ("trl", "stage2", "base"),
        ("trl", "stage2", "loop"),
        ("trl", "stage2", "checkpoint-every-2"),
        ("trl", "stage2", "fused-eager"),
        ("raw", "stage1", "base"),
        ("raw", "stage2", "base"),
    }
    assert sft[("trl", "stage2", "loop")]["levers"]["vision_attention"] == "loop"
    assert sft[("trl", "stage2", "checkpoint-every-2")]["levers"]["checkpoint_every"] == 2
    assert sft[("trl", "stage2", "fused-eager")]["levers"]["fused_ops"] == "eager"
    assert sft[("trl", "stage2", "base")]["levers"]["fused_ops"] == "off"
    assert sft[("trl", "stage2", "base")]["levers"]["vision_attention"] == "grouped"  # auto on CPU
    for key, row in sft.items():
        assert row["levers"]["precision"] == "fp32" and row["mfu"] is None and row["peak_gib"] is None  # CPU
        # one measured step of --batch 2 rows: rows per second times seconds per step is 2
        assert row["samples_per_s"] * row["step_s"] == pytest.approx(2), (key, row)
        split = row["split_s"]
        assert set(split) == {"preprocess", "vision", "language", "optimizer"}
        assert min(split.values()) >= 0 and split["vision"] > 0 and split["language"] > 0, (key, split)
        # vision, language and optimizer are disjoint spans of the step, from the forward pass's start to the
        # optimizer's end: together no longer than the step
        assert split["vision"] + split["language"] + split["optimizer"] <= row["step_s"], (key, split)
    (rollouts,) = [r for r in report["records"] if r["section"] == "rollouts"]
    assert (rollouts["completions"], rollouts["new_tokens"]) == (2 * 2, 2 * 2 * 4)  # prompts x generations x tokens
    assert rollouts["new_tokens_per_s"] * rollouts["seconds"] == pytest.approx(16)
    (grpo,) = [r for r in report["records"] if r["section"] == "grpo"]
    assert (grpo["completions"], grpo["mean_completion_tokens"], grpo["levers"]["rollouts"]) == (4, 4.0, "hf")
    assert grpo["step_s"] > grpo["generation_s"] > 0  # generation is part of the step
    # the tiny tower (2 layers: windows of 2x2 merged patches, then full attention) on 1296x968 images resized to
    # 84x112 pixels, a 3x4 grid of merged patches: windows of 2x2 and 1x2 in layer 1, whole images in layer 2;
    # grouped attention makes one call per distinct sequence length in a layer: 2 + 1
    (profile,) = [r for r in report["records"] if r["section"] == "profile"]
    assert (profile["rows"], profile["vision_layers"], profile["sdpa_calls"]) == (2, 2, 3)
    assert set(profile["window_attention_ms"]) == {"loop", "grouped"}


def test_projection_is_the_recipes_rows_times_their_flops_over_the_assumed_rate(tmp_path: Path) -> None:
    """SpatialLadder-26k's composition (paper Table 6) and hours = FLOPs / (MFU x peak): arithmetic only."""
    out = tmp_path / "projection.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_train.py"), "--sections", "projection", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["rows"]["stage2"] == 5_928 + 5_698 + 9_000 == 20_626  # Table 6: single image, 8-view, video
    assert result["rows"]["stage1"] == 5_928
    for stage in ("stage1", "stage2"):
        expected = result["training_pflops"][stage] * 1e15 / (0.25 * 989e12) / 3600
        assert result["projected_hours"][stage] == pytest.approx(expected)
    # a 3B-shaped row trains on several TFLOPs per frame, so 20k rows are hundreds of PFLOPs
    assert 100 < result["training_pflops"]["stage2"] < 5_000
