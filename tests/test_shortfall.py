"""Empty or under-filled builds say why (views per scan at the stride, drafts, filters); build-bench exits 4 when
a requested benchmark ends up empty."""

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ladderdata.cli import EMPTY_BENCHMARK, app
from ladderdata.errors import ConfigError
from ladderdata.io.push import plan_push
from ladderdata.io.shortfall import find_shortfall
from ladderdata.recipe import Recipe


def logged(output: str, level: str, containing: str = "") -> str:
    """The first log record of ``level`` in a command's output that holds ``containing``, its wrapped lines
    joined (a run logs its plan and short-scan warnings before a shortfall's)."""
    text = " ".join(output.split())
    start = 0
    while True:
        start = text.index(f" {level} ", start) + len(level) + 2
        ends = [i for i in (text.find(f" {lv} ", start) for lv in ("INFO", "WARNING", "ERROR")) if i >= 0]
        record = text[start : min(ends, default=len(text))]
        if containing in record:
            return record


def test_under_filled_build_names_views_drafts_and_filters() -> None:
    recipe = Recipe.load("spbench-si").with_frame_stride(10)
    wanted: dict[str, int] = {}
    for task, per in recipe.targets.items():
        for m in per:
            n = recipe.target(task, m, 2)
            assert n is not None
            wanted[f"{task}/{m.value}"] = n
    key = "object_size_estimation/single_image"
    assert wanted[key] > 0
    rows = Counter(wanted)
    rows[key] -= 1
    shortfall = find_shortfall(
        recipe,
        rows,
        views={"scene0000_00": 3, "scene0001_00": 6},
        drafted=Counter({k: 50 for k in wanted}),
        rejections={key: Counter({"min_visibility": 7, "unique_category": 2})},
        failed={},
    )
    assert shortfall is not None and not shortfall.empty
    assert shortfall.target == sum(wanted.values())
    assert shortfall.questions == sum(wanted.values()) - 1
    message = shortfall.message("spbench-si")
    assert message.startswith(f"spbench-si: {shortfall.questions:,} of {shortfall.target:,} questions")
    assert "views per scan at frame stride 10: 3 to 6 (median 4.5; 2 scans)" in message
    assert f"{key}: {wanted[key] - 1} of {wanted[key]} from 50 drafts" in message
    assert "min_visibility 7, unique_category 2" in message
    assert "smaller --frame-stride" not in message  # every group was drafted: the stride is not the cause
    rows[key] += 1
    assert find_shortfall(recipe, rows, {"a": 3, "b": 6}, Counter(), {}, {}) is None


def test_nothing_drafted_points_at_the_stride() -> None:
    recipe = Recipe.load("spbench-mv").with_frame_stride(24)
    shortfall = find_shortfall(recipe, Counter(), {"scene0003_00": 1}, Counter(), {}, {"scene0007_00": "bad"})
    assert shortfall is not None and shortfall.empty
    message = shortfall.message("spbench-mv")
    assert "views per scan at frame stride 24: 1 (1 scan)" in message
    assert "1 scan failed (scene0007_00)" in message
    tasks = ", ".join(sorted(recipe.targets))
    need = f"multi-view sets need {recipe.modalities.multi_view_size} views that show objects"
    assert f"nothing drafted for multi_view ({tasks}): {need}" in message
    assert message.endswith("a smaller --frame-stride measures more views per scan")


def test_empty_benchmark_warns_why_and_exits_4(bench_root: Path, benches: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    args = ["build-bench", "--scans", str(bench_root), "--out", str(out), "--benchmark", "spbench-mv"]
    result = CliRunner().invoke(app, [*args, "--frame-stride", "24"])  # 24 frames: one view per scan
    assert result.exit_code == EMPTY_BENCHMARK == 4, result.output
    warning = logged(result.output, "WARNING", "spbench-mv: 0 of ")
    assert "spbench-mv: 0 of " in warning
    assert "views per scan at frame stride 24: 1 (1 scan)" in warning
    assert "nothing drafted for multi_view" in warning and "multi-view sets need 8 views" in warning
    assert "empty benchmarks: spbench-mv" in logged(result.output, "ERROR")
    stats = json.loads((out / "spbench-mv" / "stats.json").read_text())
    assert stats["shortfall"]["questions"] == 0 and stats["scans"]["views"] == {"scene0003_00": 1}
    assert "**This benchmark is empty**" in (out / "spbench-mv" / "README.md").read_text()
    assert "`spbench-mv` is empty: views per scan at frame stride 24" in (out / "README.md").read_text()
    datasets = pytest.importorskip("datasets")
    with pytest.raises(FileNotFoundError):  # no rows read from manifest.json or stats.json
        datasets.load_dataset(str(out), "spbench-mv", split="test", cache_dir=str(tmp_path / "hf"))
    with pytest.raises(ConfigError, match=r"every benchmark .* is empty"):
        plan_push(out, "someone/bench")
    # the same benchmark with views enough is built, and the run exits 0: the questions are those of the
    # `benches` fixture's spbench-mv (the same scans, seed and stride 1)
    result = CliRunner().invoke(app, [*args, "--frame-stride", "1"])  # another stride replaces only when asked
    assert "(frame stride 24 -> 1): pass --overwrite" in str(result.exception)  # entrypoint makes it exit 2
    result = CliRunner().invoke(app, [*args, "--frame-stride", "1", "--overwrite"])
    assert result.exit_code == 0, result.output
    shards = {p.name: p.read_bytes() for p in (out / "spbench-mv" / "data").rglob("*.parquet")}
    assert shards and shards == {p.name: p.read_bytes() for p in (benches / "spbench-mv" / "data").rglob("*.parquet")}
    assert "is empty" not in (out / "README.md").read_text()


def test_empty_dataset_warns_why(bench_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    args = ["build-dataset", "--scans", str(bench_root), "--out", str(out), "--split", "val"]
    result = CliRunner().invoke(app, [*args, "--recipe", "spbench-mv", "--frame-stride", "24"])
    assert result.exit_code == 0, result.output  # an empty training set is not an error, but says why
    warning = logged(result.output, "WARNING", "spbench-mv: 0 of ")
    assert "spbench-mv: 0 of " in warning and "views per scan at frame stride 24: 1 (1 scan)" in warning
    assert "**This dataset is empty**" in (out / "README.md").read_text()
