"""``ladder build-dataset`` end to end: HF loading, determinism across workers, resume, bad scans, CLI."""

import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fixtures.factories import BuiltDataset, all_drafts_recipe, copy_root, make_synthetic_root, read_samples, scannet
from fixtures.shared import shared_folder
from ladderdata.cache import TEMP_SUFFIX
from ladderdata.cli import app
from ladderdata.executor import LocalExecutor
from ladderdata.io import shards
from ladderdata.layout import FramesLayout
from ladderdata.pipeline import BuildConfig, build_dataset
from ladderdata.pipeline import write as write_stage
from ladderdata.tasks import Modality

COLUMNS = [
    "id",
    "task",
    "modality",
    "scene_id",
    "source",
    "frame_ids",
    "timestamps",
    "images",
    "image_width",
    "image_height",
    "question",
    "options",
    "answer",
    "answer_type",
    "objects",
    "margins",
    "resized_width",
    "resized_height",
    "messages",
]


def shard_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted((out / "data").rglob("*.parquet"))}


def stats_without_timings(out: Path) -> dict[str, object]:
    stats: dict[str, object] = json.loads((out / "stats.json").read_text())
    stats.pop("stages")
    return stats


def temp_files(out: Path) -> list[Path]:
    return list(out.rglob(f"*{TEMP_SUFFIX}"))


def test_load_dataset_decodes_images_and_has_the_documented_columns(built_dataset: BuiltDataset) -> None:
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    spatial = datasets.load_dataset(str(built_dataset.out), split="train")  # the card's default config
    assert spatial.column_names == COLUMNS
    assert spatial.features["images"].feature.__class__.__name__ == "Image"
    row = spatial[0]
    assert all(isinstance(im, Image.Image) for im in row["images"])
    assert len(row["images"]) == len(row["frame_ids"])
    assert row["images"][0].size == (row["image_width"], row["image_height"])
    user = row["messages"][1]
    assert [c["type"] for c in user["content"]].count("image") == len(row["images"])
    assert row["messages"][-1] == {"role": "assistant", "content": [{"type": "text", "text": row["answer"]}]}
    loc = datasets.load_dataset(str(built_dataset.out), "localization", split="train")
    boxes = json.loads(loc[0]["answer"])
    assert boxes and set(boxes[0]) == {"label", "bbox_2d"}
    assert "Then provide the 2D bounding box coordinates" in loc[0]["messages"][1]["content"][-1]["text"]
    assert len(loc) == sum(1 for m in spatial["modality"] if m == "single_image")  # one twin per single-image question


def test_shards_store_images_as_they_are_and_compress_the_rest(built_dataset: BuiltDataset) -> None:
    """The JPEG bytes are stored uncompressed (they are compressed already); every other column is zstd."""
    import pyarrow.parquet as pq

    paths = sorted((built_dataset.out / "data").rglob("*.parquet"))
    assert paths
    for path in paths:
        meta = pq.ParquetFile(path).metadata
        for group in range(meta.num_row_groups):
            codecs = {
                meta.row_group(group).column(i).path_in_schema: meta.row_group(group).column(i).compression
                for i in range(meta.num_columns)
            }
            assert codecs.pop("images.list.element.bytes") == "UNCOMPRESSED"
            assert set(codecs.values()) == {"ZSTD"}, codecs


def test_card_manifest_stats(built_dataset: BuiltDataset) -> None:
    card = (built_dataset.out / "README.md").read_text()
    assert "config_name: spatial" in card and "config_name: localization" in card
    assert "| Single-Image |" in card
    manifest = json.loads((built_dataset.out / "manifest.json").read_text())
    assert manifest["recipe"]["name"] == "spatialladder-26k" and manifest["seed"] == 0
    for shard in manifest["shards"]:
        import hashlib

        assert hashlib.sha256((built_dataset.out / shard["path"]).read_bytes()).hexdigest() == shard["sha256"]
    stats = json.loads((built_dataset.out / "stats.json").read_text())
    # the filter counts are the sums of what each scan's drafting recorded (.ladder-work/drafts/<scan>.json)
    per_scan: dict[str, Counter[str]] = {}
    for path in sorted((built_dataset.out / ".ladder-work" / "drafts").glob("*.json")):
        for group, counts in json.loads(path.read_text())["rejections"].items():
            per_scan.setdefault(group, Counter()).update(counts)
    assert len(list((built_dataset.out / ".ladder-work" / "drafts").glob("*.json"))) == 3
    assert stats["rejections"] == {group: dict(counts) for group, counts in per_scan.items()}
    assert "distance_ratio" in stats["rejections"]["object_rel_distance/single_image"]
    # and what the filter let through holds: every relative-distance row's stored ratio is at least the
    # recipe's 2 (second-closest over closest candidate, paper B.1)
    rows = read_samples(built_dataset.out)
    ratios = [r["margins"]["distance_ratio"] for r in rows if r["task"] == "object_rel_distance"]
    assert len(ratios) == sum(stats["counts"]["spatial"]["object_rel_distance"].values())
    assert min(ratios) >= 2.0
    stages = stats["stages"]
    assert list(stages) == ["plan", "draft", "select", "render", "write"]
    assert stages["draft"]["counters"]["drafts"] == sum(stats["drafted"].values())
    assert stages["write"]["counters"]["rows"] == sum(sh["rows"] for sh in manifest["shards"])
    singles = sum(n for key, n in stats["drafted"].items() if key.endswith("/single_image"))
    assert stages["render"]["counters"]["derived (object_localization)"] == singles == stats["rows"]["localization"]
    assert "| draft |" in (built_dataset.out / "stats.md").read_text()


@pytest.fixture(scope="module")
def two_workers(built_dataset: BuiltDataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same build from scratch with two worker processes (read-only: copy before rebuilding)."""

    def build(folder: Path) -> None:
        with LocalExecutor(workers=2) as executor:
            config = BuildConfig(
                source=scannet(built_dataset.root), out=folder, split="all", recipe=built_dataset.recipe
            )
            build_dataset(config, executor)

    return shared_folder(tmp_path_factory, "two-workers", build)


def test_same_seed_gives_identical_shards_with_one_or_two_workers(
    built_dataset: BuiltDataset, two_workers: Path
) -> None:
    one, two = shard_bytes(built_dataset.out), shard_bytes(two_workers)
    assert one.keys() == two.keys() and one == two
    assert stats_without_timings(built_dataset.out) == stats_without_timings(two_workers)
    assert (built_dataset.out / "manifest.json").read_text() == (two_workers / "manifest.json").read_text()


def test_other_seed_gives_other_questions(built_dataset: BuiltDataset, tmp_path: Path) -> None:
    out = tmp_path / "seed1"
    shutil.copytree(built_dataset.out / ".ladder-work" / "metadata", out / ".ladder-work" / "metadata")
    config = BuildConfig(source=scannet(built_dataset.root), out=out, split="all", recipe=built_dataset.recipe, seed=1)
    summary = build_dataset(config)
    assert summary.stages["draft"].counters["drafted"] == 3  # other drafts, from the same (cached) metadata
    assert shard_bytes(out) != shard_bytes(built_dataset.out)


def test_rerun_resumes(
    built_dataset: BuiltDataset, two_workers: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dataset"
    shutil.copytree(two_workers, out)
    config = BuildConfig(source=scannet(built_dataset.root), out=out, split="all", recipe=built_dataset.recipe)
    before = {p: p.stat().st_mtime_ns for p in (out / "data").rglob("*.parquet")}
    summary = build_dataset(config)
    assert summary.stages["draft"].counters == {"cached": 3, "drafts": summary.stages["select"].counters["drafts in"]}
    assert summary.stages["write"].counters["reused"] == len(before)
    assert {p: p.stat().st_mtime_ns for p in (out / "data").rglob("*.parquet")} == before  # nothing rewritten

    # an interrupted build: the second shard write crashes; nothing partial is left, the rerun completes
    recipe = built_dataset.recipe.model_copy(update={"rows_per_shard": 40})
    calls = {"n": 0}
    real = shards.write_shard

    def crash_on_second(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real(*args, **kwargs)

    monkeypatch.setattr(write_stage, "write_shard", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(config.model_copy(update={"recipe": recipe}))
    assert not temp_files(out)
    monkeypatch.setattr(write_stage, "write_shard", real)
    build_dataset(config.model_copy(update={"recipe": recipe}))
    fresh = tmp_path / "fresh40"
    shutil.copytree(out / ".ladder-work" / "metadata", fresh / ".ladder-work" / "metadata")
    build_dataset(config.model_copy(update={"recipe": recipe, "out": fresh}))
    assert shard_bytes(out) == shard_bytes(fresh)
    assert len(list((out / "data" / "spatial").glob("*.parquet"))) > 1


def test_finished_scans_are_recognised_without_loading_them(
    built_dataset: BuiltDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resume keys come from the input files: a rerun over finished scans never loads a mesh, and opens the scan
    source once (the build context's: plan, draft, render and the report read it there)."""
    from ladderdata.sources.scannet import ScanNetSource

    out = tmp_path / "dataset"
    shutil.copytree(built_dataset.out, out)

    def no_loading(self: ScanNetSource, scan_id: str) -> None:
        raise AssertionError(f"{scan_id} was loaded")

    opened: list[ScanNetSource] = []
    real_init = ScanNetSource.__init__

    def counted_init(self: ScanNetSource, *args: Any, **kwargs: Any) -> None:
        opened.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(ScanNetSource, "load", no_loading)
    monkeypatch.setattr(ScanNetSource, "__init__", counted_init)
    summary = build_dataset(
        BuildConfig(source=scannet(built_dataset.root), out=out, split="all", recipe=built_dataset.recipe)
    )
    assert summary.stages["draft"].counters["cached"] == 3 and not summary.failed
    assert summary.stages["write"].counters["reused"] > 0 and "written" not in summary.stages["write"].counters
    assert len(opened) == 1  # no worker ran (every scan and shard was current): only the context opened it


def test_bad_scan_is_reported_and_costs_nothing_else(
    synthetic_root: Path, built_alone: Callable[[str, FramesLayout], Path], tmp_path: Path
) -> None:
    root = copy_root(synthetic_root, tmp_path / "scannet")
    bad = root / "scans" / "scene0001_00" / "scene0001_00.aggregation.json"
    bad.write_text("{ not json")
    out = tmp_path / "dataset"
    summary = build_dataset(
        BuildConfig(source=scannet(root, FramesLayout.SENS), out=out, split="all", recipe=all_drafts_recipe(1))
    )
    assert list(summary.failed) == ["scene0001_00"]
    assert "scene0001_00" in summary.failed["scene0001_00"] and "aggregation.json" in summary.failed["scene0001_00"]
    assert summary.scans == ["scene0000_00"]
    # the good scan's rows are exactly those of a build of it alone: the bad one changed nothing else
    assert shard_bytes(out) == shard_bytes(built_alone("scene0000_00", FramesLayout.SENS))
    assert not temp_files(out)
    assert "scene0001_00" in (out / "stats.md").read_text()


def test_splits(synthetic_root: Path, tmp_path: Path) -> None:
    from ladderdata.errors import ConfigError
    from ladderdata.pipeline.plan import resolve_scan_ids
    from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig

    def output_split(split: str, benchmark: bool = False) -> str:
        return BuildConfig(source=scannet(synthetic_root), out=tmp_path, split=split, benchmark=benchmark).output_split

    assert [output_split(s) for s in ("val", "train", "all", "test")] == ["validation", "train", "train", "test"]
    assert output_split("val", benchmark=True) == "test"
    source = ScanNetSource(ScanNetSourceConfig(root=synthetic_root))
    for split in ("train", "val"):
        listed = (synthetic_root / f"scannetv2_{split}.txt").read_text().split()
        assert resolve_scan_ids(source, split) == [s for s in source.scan_ids() if s in listed]
    listing = tmp_path / "mine.txt"
    listing.write_text("scene0001_00\nscene0999_00\n")
    assert resolve_scan_ids(source, str(listing)) == ["scene0001_00"]
    with pytest.raises(ConfigError, match="--split"):
        build_dataset(BuildConfig(source=scannet(synthetic_root), out=tmp_path / "unused", split="nonsense"))


def test_recipes_fail_early_with_a_clear_error(tmp_path: Path) -> None:
    from ladderdata.errors import ConfigError
    from ladderdata.recipe import Recipe

    assert "spatialladder-26k" in Recipe.builtin_names()
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks:\n  object_counting: {min_count: 0}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml"):
        Recipe.load(bad)
    bad.write_text("tasks:\n  no_such_task: {}\n")
    with pytest.raises(ConfigError, match="unknown task 'no_such_task'"):
        Recipe.load(bad)
    with pytest.raises(ConfigError, match="no recipe"):
        Recipe.load("missing-recipe")
    recipe = Recipe.load("spatialladder-26k")
    # the paper's counts (Table 6: 3,061 video relative-direction questions) are for its 1,201 scenes
    assert recipe.target("object_rel_direction", Modality.VIDEO, 1201) == 3061
    assert recipe.target("object_rel_direction", Modality.VIDEO, 5000) == 3061  # more scenes: still the paper's
    # fewer scenes scale them: 1,127 single-image distances x 120 / 1,201 scenes = 112.6 by hand, so 113
    assert recipe.target("object_abs_distance", Modality.SINGLE_IMAGE, 120) == 113
    # 150 room sizes x 4 / 1,201 = 0.5, yet a type the recipe asks for gets at least one question
    assert recipe.target("room_size_estimation", Modality.VIDEO, 4) == 1
    assert recipe.target("room_size_estimation", Modality.SINGLE_IMAGE, 120) is None  # not a target: no cap


def test_cli_build_dataset_and_preview(tmp_path: Path) -> None:
    root = make_synthetic_root(tmp_path / "scannet", scenes=1, frames=24, layouts=[FramesLayout.SENS])
    out = tmp_path / "ds"
    runner = CliRunner()
    result = runner.invoke(
        app, ["build-dataset", "--scans", str(root), "--out", str(out), "--split", "all", "--frame-stride", "2"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "README.md").is_file() and list((out / "data" / "spatial").glob("train-*.parquet"))
    result = runner.invoke(app, ["preview", str(out), "--samples", "4"])
    assert result.exit_code == 0, result.output
    # what the sheets show is checked in test_preview.py; here: the CLI wrote one decodable sheet per task
    from PIL import Image

    tasks = {r["task"] for subset in ("spatial", "localization") for r in read_samples(out, subset)}
    assert {p.stem for p in (out / "preview").glob("*.png")} == tasks
    for task in tasks:
        with Image.open(out / "preview" / f"{task}.png") as sheet:
            sheet.verify()
    result = runner.invoke(app, ["build-dataset", "--scans", str(root), "--out", str(out), "--recipe", "nope"])
    assert result.exit_code != 0
