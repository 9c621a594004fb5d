"""`ladder demo` shows the good practice: training data from the train scans, SPBench-SI/MV from the val scan,
the leakage check passing; and `check-leakage`'s failure says to rebuild with ``--exclude-bench``."""

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from ladderdata.cli import app

#: ``ladder synth`` puts every 4th scene in the val split: of the demo's 4 scenes, the last.
VAL_SCAN = "scene0003_00"
TRAIN_SCANS = {"scene0000_00", "scene0001_00", "scene0002_00"}


def scenes_in(folder: Path, column: str) -> set[str]:
    """Every value of ``column`` in the shards under ``folder/**/data``."""
    shards = [p for p in folder.rglob("*.parquet") if "data" in p.relative_to(folder).parts]
    assert shards, f"no shards under {folder}"
    return {str(s) for p in shards for s in pq.read_table(p, columns=[column]).column(column).to_pylist()}


def test_demo_splits_come_from_the_synthetic_split_lists(demo_out: Path) -> None:
    lists = {s: (demo_out / "scannet" / f"scannetv2_{s}.txt").read_text().split() for s in ("train", "val")}
    assert lists == {"train": sorted(TRAIN_SCANS), "val": [VAL_SCAN]}


def test_demo_trains_on_train_scans_and_benchmarks_the_val_scan(demo_out: Path) -> None:
    assert scenes_in(demo_out / "dataset", "scene_id") == TRAIN_SCANS
    for name in ("spbench-si", "spbench-mv"):
        assert scenes_in(demo_out / "bench" / name, "scene_name") == {VAL_SCAN}, name


def test_demo_reports_the_leakage_check_passing(demo_out: Path) -> None:
    log = (demo_out.parent / "demo.log").read_text()
    assert "leakage check passed" in log and "FAILED" not in log
    result = CliRunner().invoke(app, ["check-leakage", str(demo_out / "dataset"), str(demo_out / "bench")])
    assert result.exit_code == 0, result.output
    assert (demo_out / "dataset" / "preview").is_dir() and list((demo_out / "bench").glob("*/preview/*.png"))


def test_check_leakage_failure_says_to_exclude_the_benchmark(demo_out: Path) -> None:
    """Both benchmarks come from the val scan: as training data and benchmark they share its room."""
    train, bench = demo_out / "bench" / "spbench-si", demo_out / "bench" / "spbench-mv"
    result = CliRunner().invoke(app, ["check-leakage", str(train), str(bench)])
    said = "".join(result.output.split())  # the log wraps long paths
    assert result.exit_code == 1
    assert "1roomisinboth" in said and "scannet:scene0003" in said
    assert f"--exclude-bench{bench}`" in said


def test_builds_reuse_what_ladder_metadata_wrote(demo_out: Path, tmp_path: Path) -> None:
    """`ladder metadata --out M` then `build-dataset --metadata-cache M` with the same stride computes no
    metadata (docs/scannet.md); another stride is another cache entry."""
    root, metadata = str(demo_out / "scannet"), tmp_path / "metadata"
    runner = CliRunner()
    result = runner.invoke(
        app, ["metadata", "--scans", root, "--split", "val", "--frame-stride", "2", "--out", str(metadata)]
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in metadata.glob("*.parquet")] == [f"{VAL_SCAN}.parquet"]
    for stride, cached in (("2", 1), ("3", 0)):
        out = tmp_path / f"stride{stride}"
        args = ["build-dataset", "--scans", root, "--out", str(out), "--split", "val", "--frame-stride", stride]
        result = runner.invoke(app, [*args, "--metadata-cache", str(metadata)])
        assert result.exit_code == 0, result.output
        counters = json.loads((out / "stats.json").read_text())["stages"]["draft"]["counters"]
        assert counters.get("metadata cached", 0) == cached and counters.get("metadata computed", 0) == 1 - cached
