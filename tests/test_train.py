"""laddertrain on CPU with a tiny offline Qwen2.5-VL: stage adapters, the full schedule, GRPO on videos."""

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fixtures.factories import BuiltDataset, load_ground_truth, project_aabb

pytest.importorskip("trl")

from ladderdata.geometry.vision_grid import resized_size
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig
from ladderdata.synth.scannet import COLOR_K
from laddertrain.data import load_subset, stage1_row
from laddertrain.recipe import TrainRecipe


@pytest.fixture(scope="module")
def demo_dataset(demo_out: Path) -> Path:
    """The training data `ladder demo` writes (a full build of the train scans with the built-in recipe)."""
    return demo_out / "dataset"


def weights(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    out: dict[str, np.ndarray] = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(f))
    return out


def changed(a: Path, b: Path) -> bool:
    wa, wb = weights(a), weights(b)
    return any(not np.array_equal(wa[k], wb[k]) for k in wa if k in wb)


def test_stage1_targets_are_json_once_in_the_resized_pixel_grid(built_dataset: BuiltDataset, tiny_model: Path) -> None:
    from laddertrain.processing import load_processor

    recipe = TrainRecipe.load("tiny")
    processor = load_processor(tiny_model, recipe.min_pixels, recipe.max_pixels)
    ds = load_subset(built_dataset.out, "localization")
    source = ScanNetSource(ScanNetSourceConfig(root=built_dataset.root))
    for row in (ds[i] for i in range(min(6, len(ds)))):
        out = stage1_row(row, recipe.min_pixels, recipe.max_pixels)
        text = out["messages"][-1]["content"][0]["text"]
        assert text is not None
        target = json.loads(text)
        assert isinstance(target, list) and isinstance(target[0]["bbox_2d"], list)  # decoded once
        width, height = resized_size(row["image_width"], row["image_height"], recipe.min_pixels, recipe.max_pixels)
        grid = processor.image_processor(images=row["images"], return_tensors="np")["image_grid_thw"][0]
        assert (int(grid[1]) * 14, int(grid[2]) * 14) == (height, width)  # the processor's own resize
        # the boxes land on the right objects: their centres lie inside the true boxes' projections
        gt = load_ground_truth(built_dataset.root, row["scene_id"])
        frames = source.open_frames(row["scene_id"])
        assert frames is not None
        pose = np.array(gt.axis_alignment) @ frames.raw_poses[frames.position(row["frame_ids"][0])]
        for obj, box in zip(row["objects"], target, strict=True):
            truth = next(o for o in gt.objects if o.object_id == obj["object_id"])
            projected = project_aabb(truth.aabb_min, truth.aabb_max, pose, COLOR_K)
            if projected is None:
                continue
            u, v = projected[0] * width / COLOR_K.width, projected[1] * height / COLOR_K.height
            cx, cy = (box["bbox_2d"][0] + box["bbox_2d"][2]) / 2, (box["bbox_2d"][1] + box["bbox_2d"][3]) / 2
            assert u.min() - 2 <= cx <= u.max() + 2 and v.min() - 2 <= cy <= v.max() + 2


def test_missing_stage_input_is_explained(tmp_path: Path) -> None:
    from laddertrain.runners import StageInputError, input_model

    with pytest.raises(StageInputError, match="run `ladder train stage1` first"):
        input_model("stage2", None, tmp_path)
    with pytest.raises(StageInputError, match="--model"):
        input_model("stage1", None, tmp_path)


def test_train_all_tiny_changes_parameters_at_every_stage(
    demo_dataset: Path, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A random model earns 0 from the paper's rewards on every rollout, so GRPO's advantages are 0 and it
    rightly leaves the weights alone; to show that stage 3 does train, the accuracy reward is replaced by one
    that varies between rollouts (text length), the only change to the real schedule."""
    from ladderdata.cli import app
    from laddertrain.rewards import REWARDS, completion_text

    monkeypatch.setitem(
        REWARDS, "accuracy", lambda completions, **_: [len(completion_text(c)) / 100 for c in completions]
    )

    runs = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        [
            "train",
            "all",
            "--recipe",
            "tiny",
            "--model",
            str(tiny_model),
            "--data",
            str(demo_dataset),
            "--output",
            str(runs),
        ],
    )
    assert result.exit_code == 0, (result.output, result.exception)
    previous = tiny_model
    for stage in ("stage1", "stage2", "coldstart", "stage3"):
        final = runs / stage / "final"
        assert (final / "config.json").is_file(), stage
        assert changed(previous, final), f"{stage} did not change the parameters"
        previous = final
    shard = runs / "coldstart-data" / "data" / "coldstart" / "train-00000-of-00001.parquet"
    assert pq.read_metadata(shard).num_rows > 0
    before = weights(runs / "stage2" / "final")
    args = ["train", "stage2", "--recipe", "tiny", "--data", str(demo_dataset), "--output", str(runs)]
    rerun = CliRunner().invoke(app, args, env={"COLUMNS": "400"})
    assert rerun.exit_code == 0, (rerun.output, rerun.exception)
    said = "".join(rerun.output.split())  # the log wraps long paths
    assert "".join(f"stage2: resuming from {runs / 'stage2' / 'checkpoint-2'}".split()) in said
    after = weights(runs / "stage2" / "final")
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)


def test_a_finished_stage_trains_no_further_step_and_each_stage_ends_with_a_summary(
    built_dataset: BuiltDataset, tiny_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from laddertrain.runners import run_stage

    tiny = TrainRecipe.load("tiny")
    recipe = tiny.model_copy(update={"stage1": tiny.stage1.model_copy(update={"max_samples": 4})})
    runs = tmp_path / "runs"
    with caplog.at_level("INFO", logger="laddertrain"):
        final = run_stage("stage1", recipe, tiny_model, built_dataset.out, runs)
    said = caplog.text
    assert "stage1 done: 2 steps, loss " in said and f"model in {final}" in said
    assert f"next: ladder train stage2 --recipe tiny --data {built_dataset.out} --output {runs}" in said
    before = weights(final)
    caplog.clear()
    with caplog.at_level("INFO", logger="laddertrain"):
        run_stage("stage1", recipe, tiny_model, built_dataset.out, runs)
    assert f"stage1: already finished at step 2 ({runs / 'stage1' / 'checkpoint-2'}): no further step" in caplog.text
    assert "stage1 done: 2 steps" in caplog.text
    assert sorted(p.name for p in (runs / "stage1").glob("checkpoint-*")) == ["checkpoint-2"]
    state = json.loads((runs / "stage1" / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["global_step"] == state["max_steps"] == 2
    after = weights(final)  # written again from the checkpoint: the same weights
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)


def test_tiny_model_command_writes_a_loadable_model_once(tmp_path: Path) -> None:
    from transformers import AutoModelForImageTextToText

    from ladderdata.cli import app
    from laddertrain.processing import load_processor

    out = tmp_path / "tiny-model"
    result = CliRunner().invoke(app, ["train", "tiny-model", "--out", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    model = AutoModelForImageTextToText.from_pretrained(out)
    assert model.config.model_type == "qwen2_5_vl" and sum(p.numel() for p in model.parameters()) < 1_000_000
    assert load_processor(out).tokenizer.convert_tokens_to_ids("<|image_pad|>") == model.config.image_token_id
    assert [p.name for p in tmp_path.iterdir()] == ["tiny-model"]  # no temporary folder left
    again = CliRunner().invoke(app, ["train", "tiny-model", "--out", str(out)])
    assert again.exit_code == 2 and again.output.startswith("error: ") and "not empty" in again.output
    shown = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert "Examples:" in shown.output and "ladder train tiny-model --out tiny-model" in shown.output


def test_resume_checkpoint_is_the_highest_numbered_folder(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from laddertrain.resume import resume_checkpoint

    assert resume_checkpoint("stage1", tmp_path / "absent") is None
    assert resume_checkpoint("stage1", tmp_path) is None
    for name in ("checkpoint-9", "checkpoint-40", "checkpoint-final", "final"):
        (tmp_path / name).mkdir()
    (tmp_path / "checkpoint-100").write_text("a file, not a checkpoint")
    with caplog.at_level("INFO", logger="laddertrain"):
        assert resume_checkpoint("stage1", tmp_path) == str(tmp_path / "checkpoint-40")
    assert f"stage1: resuming from {tmp_path / 'checkpoint-40'}" in caplog.text


def test_grpo_keeps_video_frames_in_every_forward_pass(
    built_dataset: BuiltDataset, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLModel

    from ladderdata.io.dataset import MANIFEST, BuildManifest, DatasetReader, ManifestShard
    from laddertrain.runners import run_stage

    spatial = [shard.path for shard in DatasetReader(built_dataset.out).shards if shard.subset == "spatial"]
    table = pq.read_table(spatial)
    videos = table.filter(pc.equal(table.column("modality"), "video")).slice(0, 2)
    frames = [len(f) for f in videos.column("frame_ids").to_pylist()]
    data = tmp_path / "videos"
    shard = Path("data") / "spatial" / "train-00000-of-00001.parquet"
    (data / shard).parent.mkdir(parents=True)
    pq.write_table(videos, data / shard)
    listed = BuildManifest(shards=[ManifestShard(path=str(shard), rows=videos.num_rows)])
    (data / MANIFEST).write_text(listed.model_dump_json(indent=2))

    calls: list[dict[str, Any]] = []
    original = Qwen2_5_VLModel.forward  # the inner model: every pass, generation and loss alike, goes through it

    @functools.wraps(original)  # generate() validates its kwargs against forward's signature
    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        import torch

        grid = kwargs.get("image_grid_thw")
        ids = kwargs.get("input_ids")
        placeholders = int((ids == self.config.image_token_id).sum()) if ids is not None else 0
        encoded = kwargs.get("mm_encoder_outputs") is not None  # generate() passes the encoded frames instead
        calls.append(
            {
                "loss_pass": torch.is_grad_enabled(),
                "placeholders": placeholders,
                "images": 0 if grid is None else int(grid.shape[0]),
                "visual": encoded or (grid is not None and kwargs.get("pixel_values") is not None),
            }
        )
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Qwen2_5_VLModel, "forward", recording)
    recipe = TrainRecipe.load("tiny")
    recipe = recipe.model_copy(update={"stage3": recipe.stage3.model_copy(update={"max_steps": 1, "max_images": None})})
    run_stage("stage3", recipe, tiny_model, data, tmp_path / "runs")
    # every pass whose tokens hold image placeholders gets the frames (decode steps of generate() hold none)
    with_placeholders = [c for c in calls if c["placeholders"]]
    assert with_placeholders and all(c["visual"] for c in with_placeholders), calls
    loss_passes = [c for c in calls if c["loss_pass"]]
    assert loss_passes and all(c["placeholders"] and c["images"] for c in loss_passes), calls
    # whole videos, never a lost frame: each loss pass holds some number of each prompt's video
    whole = {a * frames[0] + b * frames[1] for a in range(9) for b in range(9)} - {0}
    assert all(c["images"] in whole for c in loss_passes), (frames, calls)


def test_grpo_settings_come_from_the_recipe(
    built_dataset: BuiltDataset, tiny_model: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import trl

    from laddertrain.runners import run_stage

    seen: dict[str, Any] = {}

    class StopError(Exception):
        pass

    class Recorder:
        def __init__(self, model: Any, reward_funcs: Any, args: Any, train_dataset: Any, processing_class: Any) -> None:
            seen.update(model=model, rewards=reward_funcs, args=args)
            raise StopError

    monkeypatch.setattr(trl, "GRPOTrainer", Recorder)
    recipe = TrainRecipe.load("paper-3b")
    recipe = recipe.model_copy(
        update={"stage3": recipe.stage3.model_copy(update={"temperature": 0.7, "max_samples": 2})}
    )
    with pytest.raises(StopError):
        run_stage("stage3", recipe, tiny_model, built_dataset.out, tmp_path)
    args = seen["args"]
    assert (args.temperature, args.beta, args.num_generations, args.loss_type) == (0.7, 0.01, 8, "grpo")
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (4, 8)  # 32 completions per step
    assert args.reward_weights == [1.0, 1.0] and [f.__name__ for f in seen["rewards"]] == [
        "format_reward",
        "accuracy_reward",
    ]
    assert seen["model"] == str(tiny_model)  # a folder, so TRL can build the beta > 0 reference model
