"""``ladder build-bench``, ``check-leakage`` and ``ladder eval`` on synthetic validation scans."""

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fixtures.factories import BENCHMARKS, BuiltDataset, scannet
from ladderdata.bench.build import BenchBuildConfig, build_benchmarks
from ladderdata.bench.leakage import check_leakage
from ladderdata.cli import app
from ladderdata.errors import ConfigError
from ladderdata.eval.report import evaluate
from ladderdata.eval.scorers import BenchmarkSummary
from ladderdata.io.dataset import BenchReader
from ladderdata.io.rooms import id_room

BENCH_FIELDS = [
    "id",
    "dataset",
    "source",
    "scene_name",
    "question_type",
    "modality",
    "frame_ids",
    "timestamps",
    "images",
    "image_width",
    "image_height",
    "question",
    "options",
    "ground_truth",
    "answer_type",
    "objects",
    "margins",
]


NAMES = BENCHMARKS


def test_benchmarks_share_one_metadata_cache(benches: Path) -> None:
    drafts = [json.loads((benches / name / "stats.json").read_text())["stages"]["draft"]["counters"] for name in NAMES]
    assert [d["drafted"] for d in drafts] == [1, 1, 1]  # the one validation scan
    assert sum(d.get("metadata computed", 0) for d in drafts) == 1
    assert sum(d.get("metadata cached", 0) for d in drafts) == 2
    assert sorted(p.name for p in (benches / ".ladder-work" / "metadata").glob("*.parquet")) == ["scene0003_00.parquet"]


def test_benchmarks_use_only_validation_scans(benches: Path, bench_root: Path) -> None:
    val = set((bench_root / "scannetv2_val.txt").read_text().split())
    assert val == {"scene0003_00"}
    rows = list(BenchReader(benches).rows())
    assert rows and {r.scene_id for r in rows} <= val
    assert {r.benchmark for r in rows} == {"spbench-si", "spbench-mv", "vsi-video"}
    si = {r.task for r in rows if r.benchmark == "spbench-si"}
    assert si <= {"object_abs_distance", "object_size_estimation", "object_rel_distance", "object_rel_direction"}
    assert {r.modality for r in rows if r.benchmark == "spbench-mv"} == {"multi_view"}


def test_bench_parquet_has_exactly_the_documented_fields(benches: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    for name in ("spbench-si", "spbench-mv"):
        # a private cache: the shared one can serve another run's folder of the same name (issue 11, point 4)
        ds = datasets.load_dataset(str(benches / name), split="test", cache_dir=str(tmp_path / "hf"))
        assert ds.column_names == BENCH_FIELDS
        row = ds[0]
        assert row["images"][0].size == (row["image_width"], row["image_height"])
        assert row["dataset"] == name and row["ground_truth"]
    assert "question_type" in (benches / "spbench-si" / "README.md").read_text()


def test_bench_is_stricter_and_has_no_near_duplicates(benches: Path) -> None:
    rows = list(BenchReader(benches).rows())
    assert all(min(o.visibility for o in r.objects) >= 0.6 for r in rows if r.objects)
    keys = Counter(
        (r.benchmark, r.scene_id, r.task, r.modality, tuple(sorted(o.object_id for o in r.objects)))
        for r in rows
        if r.task != "object_rel_direction" or r.modality != "single_image"
    )
    assert max(keys.values()) == 1
    for dataset in {r.benchmark for r in rows}:
        for task in {r.task for r in rows if r.benchmark == dataset and r.answer_type == "mcq"}:
            letters = Counter(r.answer for r in rows if (r.benchmark, r.task) == (dataset, task))
            n = len(next(r.options for r in rows if (r.benchmark, r.task) == (dataset, task)))
            counts = [letters.get(chr(65 + i), 0) for i in range(n)]
            assert max(counts) - min(counts) <= 1


def test_leakage(benches: Path, bench_root: Path, built_dataset: BuiltDataset, tmp_path: Path) -> None:
    # the training build (scenes 0-2) and the validation benchmarks share no room
    assert check_leakage(built_dataset.out, benches).clean
    # a benchmark built from a training scan is caught, and a rescan of a training room too
    listing = tmp_path / "planted.txt"
    listing.write_text("scene0001_00\n")
    planted = tmp_path / "planted"
    build_benchmarks(
        BenchBuildConfig(
            source=scannet(bench_root), out=planted, benchmarks=["spbench-si"], split=str(listing), frame_stride=2
        )
    )
    report = check_leakage(built_dataset.out, planted)
    assert report.overlap == ["scannet:scene0001"]
    rescan = tmp_path / "rescan"
    rescan.mkdir()
    (rescan / "manifest.json").write_text(json.dumps({"inputs": {"scan_ids": ["scene0002_01"]}}))
    assert check_leakage(built_dataset.out, rescan).overlap == ["scannet:scene0002"]
    assert id_room("scannet", "scene0002_01") == id_room("scannet", "scene0002_00") == "scannet:scene0002"
    result = CliRunner().invoke(app, ["check-leakage", str(built_dataset.out), str(planted)])
    assert result.exit_code == 1
    # build-dataset refuses the benchmark's rooms
    from ladderdata.pipeline import BuildConfig, build_dataset

    summary = build_dataset(
        BuildConfig(
            source=scannet(bench_root),
            out=tmp_path / "train",
            split="all",
            recipe=built_dataset.recipe,
            exclude=[planted],
            limit_scenes=3,
        )
    )
    assert "scene0001_00" not in summary.scans and summary.scans
    assert check_leakage(tmp_path / "train", planted).clean


def test_missing_split_list_says_what_to_pass(tmp_path: Path, synthetic_root: Path) -> None:
    import shutil

    root = tmp_path / "root"
    shutil.copytree(synthetic_root, root)
    (root / "scannetv2_val.txt").unlink()
    with pytest.raises(ConfigError, match=r"--split-dir DIR .*--split FILE"):
        build_benchmarks(BenchBuildConfig(source=scannet(root), out=tmp_path / "b", benchmarks=["spbench-si"]))


def test_eval_scores_predictions_files(benches: Path, tmp_path: Path) -> None:
    rows = list(BenchReader(benches).rows())
    perfect = tmp_path / "perfect.jsonl"
    perfect.write_text(
        "".join(json.dumps({"id": r.id, "prediction": f"<answer>{r.answer}</answer>"}) + "\n" for r in rows)
    )
    summary = evaluate(benches, perfect, tmp_path / "perfect")["ladder"]
    scored = [s for s in summary.values() if isinstance(s, BenchmarkSummary)]
    assert len(scored) == len(summary) and all(s.avg == 100.0 and s.missing_predictions == 0 for s in scored)
    half = tmp_path / "half.jsonl"
    half.write_text("".join(json.dumps({"id": r.id, "prediction": r.answer}) + "\n" for r in rows[::2]))
    summary = evaluate(benches, half, tmp_path / "half")["ladder"]
    scored = [s for s in summary.values() if isinstance(s, BenchmarkSummary)]
    assert sum(s.missing_predictions for s in scored) == len(rows) - len(rows[::2])
    assert all(s.avg is not None and s.avg < 100 for s in scored if s.questions > 1)
    report = (tmp_path / "half" / "report.md").read_text()
    assert "NQ Avg." in report and "MCQ Avg." in report and "## spbench-si" in report
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    with pytest.raises(ConfigError, match=r"bad\.jsonl:1"):
        evaluate(benches, bad, tmp_path / "bad")


@pytest.mark.parametrize("hints", ["none", "arrows"])
def test_eval_runs_a_local_model(benches: Path, tmp_path: Path, hints: str) -> None:
    pytest.importorskip("trl")
    from fixtures.tiny_qwen import save_tiny_qwen

    model = save_tiny_qwen(tmp_path / "tiny")
    bench = benches / "spbench-si"
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "--bench",
            str(bench),
            "--model",
            str(model),
            "--out",
            str(out),
            "--hints",
            hints,
            "--max-new-tokens",
            "4",
            "--batch-size",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == pq.read_metadata(next(bench.rglob("test-*.parquet"))).num_rows
    assert json.loads((out / "report.json").read_text())["ladder"]["spbench-si"]["questions"] == len(lines)


def test_hints_draw_on_the_image() -> None:
    from PIL import Image

    from ladderdata.eval.hints import Hint, HintObject, draw_hints

    image = Image.new("RGB", (200, 100), "white")
    objects: list[HintObject] = [
        {"category": "lamp", "role": "object1", "bbox_2d": [10, 10, 60, 60]},
        {"category": "desk", "role": "object2", "bbox_2d": [120, 20, 180, 90]},
    ]
    boxes = draw_hints(image, objects, Hint.BOXES)
    arrows = draw_hints(image, objects, Hint.ARROWS)
    assert boxes.getpixel((10, 30)) != (255, 255, 255)  # box edge
    assert boxes.getpixel((100, 45)) == (255, 255, 255)
    assert arrows.getpixel((100, 45)) != (255, 255, 255)  # the arrow between the two centres
    assert draw_hints(image, objects, Hint.NONE) is image
