"""``--dry-run`` says what a run will do and what it costs, and writes nothing; a real run opens with the same plan;
the plan's views per scan are the views the run measures (an independent count: the metadata files)."""

import re
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fixtures.factories import scannet
from ladderdata.cli import console, entrypoint
from ladderdata.metadata.extract import metadata_path
from ladderdata.pipeline.estimate import build_estimate, short_scan_warnings
from ladderdata.recipe import Recipe
from ladderdata.sources.base import open_source


def ladder(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["ladder", *args])
    monkeypatch.setattr(console, "width", 400)  # one log record per line
    with pytest.raises(SystemExit) as done:
        entrypoint()
    printed = capsys.readouterr()
    return int(done.value.code or 0), printed.out + printed.err


@pytest.mark.parametrize(
    "command",
    [
        ["synth", "--scenes", "3", "--frames", "300"],
        ["metadata", "--scans", "{root}"],
        ["build-dataset", "--scans", "{root}", "--split", "all", "--frame-stride", "2"],
        ["build-bench", "--scans", "{root}", "--video", "--frame-stride", "2"],
    ],
    ids=lambda c: c[0],
)
def test_dry_run_plans_and_writes_nothing(
    command: list[str],
    bench_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    args = [a.replace("{root}", str(bench_root)) for a in command] + ["--out", str(out), "--dry-run"]
    before = sorted(p.name for p in bench_root.rglob("*"))
    code, printed = ladder(args, monkeypatch, capsys)
    assert code == 0, printed
    assert not out.exists()
    assert sorted(p.name for p in bench_root.rglob("*")) == before
    assert "estimated CPU time" in printed and "dry run: nothing written" in printed
    if command[0] != "synth":
        assert "views at frame stride" in printed
    if command[0].startswith("build"):
        assert "target object_rel_distance" in printed
    if command[0] == "build-bench":
        assert re.search(r"vsi-video: image sets: 1 video of 1[01] frames \(the recipe asks 16\)", printed), printed


def test_a_real_run_opens_with_the_plan_and_measures_the_views_it_planned(
    bench_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "meta"
    code, printed = ladder(
        ["metadata", "--scans", str(bench_root), "--out", str(out), "--frame-stride", "3"], monkeypatch, capsys
    )
    assert code == 0, printed
    recipe = Recipe.load("spatialladder-26k").with_frame_stride(3)
    source = open_source(scannet(bench_root))
    ids = source.scan_ids(None)
    plan = build_estimate(source, ids, recipe)
    measured = {s: pq.read_metadata(metadata_path(out, s)).num_rows for s in ids}
    assert {s.scan_id: s.views for s in plan.scans} == measured
    assert f"({sum(measured.values())} in all)" in printed.split("per-view metadata")[0]  # logged before the work


def test_short_scans_warn_with_a_stride_that_fits(bench_root: Path) -> None:
    source = open_source(scannet(bench_root))
    recipe = Recipe.load("spatialladder-26k").with_frame_stride(2)  # 24 frames -> 12 views, minus invalid poses
    plan = build_estimate(source, source.scan_ids(None), recipe)
    views = {s.scan_id: s.views for s in plan.scans}
    assert all(v <= 12 for v in views.values())
    [video] = [w for w in plan.warnings if "16-frame videos" in w]
    fewest = min(views, key=lambda s: views[s])
    assert f"(fewest: {fewest}, {views[fewest]})" in video and "--frame-stride 1" in video
    assert all(s.video_frames == s.views for s in plan.scans)
    long_enough = recipe.model_copy(update={"modalities": recipe.modalities.model_copy(update={"video_frames": 4})})
    assert not short_scan_warnings(plan.scans, long_enough)
