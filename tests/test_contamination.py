"""Public benchmarks' scene lists (shipped package data), ``build-dataset --exclude-public``, ``check-leakage
--against`` and near-duplicate questions between a training set and a benchmark."""

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fixtures.factories import make_synthetic_root, scannet
from ladderdata.bench.leakage import check_leakage
from ladderdata.cli import app
from ladderdata.errors import ConfigError
from ladderdata.io.public_scenes import PUBLIC_BENCHMARKS, public_names, public_overlap, public_scenes
from ladderdata.pipeline import BuildConfig, build_dataset
from ladderdata.recipe import Recipe

LISTED = "scene0025_00"  # VSI-Bench uses scene0025_01 (same room); ScanNet's validation split holds both


def test_shipped_lists_hold_what_their_sources_say() -> None:
    vsi = public_scenes("vsibench")
    per_source = {s: sum(1 for src, _ in vsi.scans if src == s) for s in ("scannet", "scannetpp", "arkitscenes")}
    assert per_source == {"scannet": 88, "scannetpp": 50, "arkitscenes": 150}  # VSI-Bench's 288 videos
    assert "vision-x-nyu/thinking-in-space" in vsi.header and "51e089c3ae69b9435e9489058610f5b3964c56a8" in vsi.header
    spbench, spacer = public_scenes("spbench"), public_scenes("spacer")
    assert len(spbench.scans) == 312 and spbench.scans == spacer.scans  # SpaceR excludes ScanNet v2's val split
    assert {s for s in vsi.scans if s[0] == "scannet"} <= spbench.scans
    assert "scannet:scene0025" in vsi.rooms
    assert public_names("vsibench, spbench,vsibench") == ["vsibench", "spbench"]
    with pytest.raises(ConfigError, match="unknown public benchmark nope"):
        public_names("vsibench,nope")
    assert sorted(PUBLIC_BENCHMARKS) == ["spacer", "spbench", "vsibench"]


@pytest.fixture(scope="module")
def listed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic scans, the second renamed to a room VSI-Bench and SPBench use."""
    root = make_synthetic_root(tmp_path_factory.mktemp("public") / "scannet", scenes=2, frames=8)
    scan = root / "scans" / "scene0001_00"
    for f in scan.iterdir():
        f.rename(scan / f.name.replace("scene0001_00", LISTED))
    scan.rename(root / "scans" / LISTED)
    return root


def build(root: Path, out: Path, seed: int = 0, exclude_public: list[str] | None = None) -> Path:
    recipe = Recipe.load("spatialladder-26k").with_frame_stride(2)
    config = BuildConfig(
        source=scannet(root), out=out, split="all", recipe=recipe, seed=seed, exclude_public=exclude_public or []
    )
    build_dataset(config)
    return out


def test_exclude_public_leaves_no_overlap_with_the_shipped_lists(listed_root: Path, tmp_path: Path) -> None:
    clean = build(listed_root, tmp_path / "clean", exclude_public=list(PUBLIC_BENCHMARKS))
    manifest = json.loads((clean / "manifest.json").read_text())
    assert manifest["inputs"]["scan_ids"] == ["scene0000_00"]
    plan = json.loads((clean / "stats.json").read_text())["stages"]["plan"]["counters"]
    assert plan["excluded (public benchmark rooms)"] == 1
    assert all(public_overlap(clean, name) == [] for name in PUBLIC_BENCHMARKS)
    assert CliRunner().invoke(app, ["check-leakage", str(clean), "--against", "vsibench,spbench,spacer"]).exit_code == 0

    leaky = build(listed_root, tmp_path / "leaky")
    assert public_overlap(leaky, "vsibench") == ["scannet:scene0025"]
    result = CliRunner().invoke(app, ["check-leakage", str(leaky), "--against", "vsibench"])
    assert result.exit_code == 1


def test_near_duplicate_questions_are_reported(listed_root: Path, tmp_path: Path) -> None:
    train, bench = build(listed_root, tmp_path / "a", seed=0), build(listed_root, tmp_path / "b", seed=1)
    report = check_leakage(train, bench)
    assert report.overlap and report.near_duplicates

    def rows(folder: Path) -> dict[str, dict[str, Any]]:
        return {r["id"]: r for p in folder.rglob("train-*.parquet") for r in pq.read_table(p).to_pylist()}

    a, b = rows(train), rows(bench)
    for left, right in report.near_duplicates:
        x, y = a[left], b[right]
        assert x["scene_id"][:9] == y["scene_id"][:9] and x["task"] == y["task"]
        assert sorted(o["category"] for o in x["objects"]) == sorted(o["category"] for o in y["objects"])
    assert check_leakage(train, train).near_duplicates  # every question repeats itself
