"""``ladder export``: each official evaluator's reading rules, reimplemented here, read what we write.

The readers below do what the evaluators' code does (docs/benchmarks.md cites it): SpatialLadder's
``prepare_data`` (fixed paths under ``/datasets``), ``evaluate_spbench`` (``NAME.parquet``, images under
``image_dir/<scene_name>/``) and ``evaluate_vsibench`` (``<video_dir>/<dataset>/<scene_name>.mp4`` decoded with
decord, 32 frames by ``np.linspace``), and lmms-eval's ``vsibench`` task (``datasets.load_dataset`` of config
``full``, ``doc_to_visual``, ``doc_to_text``). What they read is then answered and scored with the official rules
(``ladder eval --scoring spatialladder|thinking-in-space|lmms-eval`` on the evaluator's own results file, and
lmms-eval's logged samples in today's layout). Every export is a Hub repository as it stands: a card the Hub's
metadata rules accept, ``LICENSE.md``, a stable config, and for ``vsibench`` the archives lmms-eval unpacks.
"""

import functools
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import sys
import types
import zipfile
from collections import Counter
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from typer.testing import CliRunner

from ladderdata.cli import app
from ladderdata.errors import ConfigError
from ladderdata.eval.export import encode_mp4, export_benchmark, write_atomic
from ladderdata.eval.report import evaluate
from ladderdata.eval.scorers import Scorer, get_scorer
from ladderdata.eval.scorers.lmms_eval import strip_reasoning_tags
from ladderdata.io.card import license_file
from ladderdata.io.dataset import BenchReader
from ladderdata.io.hub_card import card_problems, read_card_metadata
from ladderdata.io.push import REQUIRED_METADATA
from ladderdata.layout import SHARD_KEY_DIGITS

MCA = {
    "object_rel_direction_easy",
    "object_rel_direction_medium",
    "object_rel_direction_hard",
    "object_rel_distance",
    "route_planning",
    "obj_appearance_order",
}
NA = {"object_abs_distance", "object_counting", "object_size_estimation", "room_size_estimation"}
SPATIALLADDER_MCA = MCA | {"object_rel_direction"}


def stored_rows(bench: Path, with_images: bool = False) -> list[dict[str, Any]]:
    """The benchmark's rows under the column names its shards store (the evaluators' names, which exports keep)."""
    return [row.stored_columns() for row in BenchReader(bench).rows(with_images=with_images)]


def bench_images(benches: Path) -> dict[str, list[bytes]]:
    return {row.id: row.images or [] for row in BenchReader(benches).rows(with_images=True)}


def rgb(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / max(float(((a - b) ** 2).mean()), 1e-12)))


# ----------------------------------------------------------------------------------- the evaluators' readers


def prepare_data(datasets_root: Path, task: str) -> tuple[Path, Path]:
    """SpatialLadder's ``prepare_data``: the data file and media folder of a task, its ``/datasets`` being
    ``datasets_root``."""
    if "VSI-Bench" in task:
        return datasets_root / "VSI-Bench" / "test-00000-of-00001.parquet", datasets_root / "VSI-Bench"
    if task in ("SPBench-SI", "SPBench-MV"):
        return datasets_root / task / f"{task}.parquet", datasets_root / task / "images"
    raise ValueError(f"Task {task} not recognized for data preparation.")


def read_spbench(image_dir: Path, parquet: Path) -> list[dict[str, Any]]:
    """SpatialLadder's evaluate_spbench up to the model call: the prompt and images of every row, and the
    fields its results line copies."""
    df = pd.read_parquet(parquet)
    out = []
    for _, row in df.iterrows():
        image_paths = [os.path.join(image_dir, row["scene_name"], frame_id) for frame_id in row["images"]]
        question = row["question"]
        options = row.get("options")
        if options is not None and len(options) > 0:
            options = options.tolist()
            question += "\nOptions:\n" + "\n".join(options)
        assert row["question_type"] in SPATIALLADDER_MCA | NA
        assert all(os.path.exists(p) for p in image_paths), image_paths
        images = [Image.open(p).convert("RGB") for p in image_paths]
        out.append(
            {
                "options": options,
                "id": row["id"],
                "dataset": row["dataset"],
                "scene_name": row["scene_name"],
                "question": row["question"],
                "ground_truth": row["ground_truth"],
                "question_type": row["question_type"],
                "prompt": question,
                "images": images,
                "image_files": image_paths,
            }
        )
    return out


def read_vsibench_spatialladder(video_dir: Path, parquet: Path, num_frames: int = 32) -> list[dict[str, Any]]:
    """SpatialLadder's evaluate_vsibench and load_video_frames (decord, uniform indices, integer timestamps)."""
    decord = pytest.importorskip("decord")
    df = pd.read_parquet(parquet)
    out = []
    for _, row in df.iterrows():
        video_path = os.path.join(video_dir, row["dataset"], f"{row['scene_name']}.mp4")
        assert os.path.exists(video_path), video_path
        vr = decord.VideoReader(video_path, ctx=decord.cpu())
        total_frames = len(vr)
        frame_indices = np.linspace(0, total_frames - 1, num_frames, dtype=int)
        frames = vr.get_batch(frame_indices).asnumpy()
        timestamps = [int(idx / vr.get_avg_fps()) for idx in frame_indices]
        out.append({"row": row, "frames": frames, "indices": frame_indices, "timestamps": timestamps})
    return out


def load_with_datasets(folder: Path, config: str | None) -> Any:
    """``datasets.load_dataset`` as lmms-eval calls it (``dataset_name``, reusing the cache), in datasets'
    default cache (which the ``shared_hf_cache`` fixture points at one folder for the test)."""
    datasets = pytest.importorskip("datasets")
    return datasets.load_dataset(str(folder), config, download_mode="reuse_dataset_if_exists")["test"]


def read_lmms_eval(dataset_path: Path, cache_dir: Path) -> list[tuple[dict[str, Any], list[str], str]]:
    """lmms-eval's vsibench task: the dataset's config ``full`` (``dataset_name: full``) loaded with ``datasets``,
    then doc_to_visual (videos under ``cache_dir``) and doc_to_text."""
    docs = load_with_datasets(dataset_path, "full")
    out = []
    for doc in docs:
        video_path = os.path.join(cache_dir, doc["dataset"] + "/" + doc["scene_name"] + ".mp4")
        if not os.path.exists(video_path):
            raise FileExistsError(f"video path:{video_path} does not exist.")
        pre_prompt = "These are frames of a video."
        if doc["question_type"] in NA:
            text = (
                pre_prompt + "\n" + doc["question"] + "\n" + "Please answer the question using a single word or phrase."
            )
        elif doc["question_type"] in MCA:
            options = "Options:\n" + "\n".join(doc["options"])
            post = "Answer with the option's letter from the given choices directly."
            text = "\n".join([pre_prompt, doc["question"], options, post])
        else:
            raise ValueError(f"Unknown question type: {doc['question_type']}")
        out.append((doc, [video_path], text))
    return out


# ------------------------------------------------------------------------ scoring what the readers read


def spatialladder_results(rows: list[dict[str, Any]], answers: dict[str, str]) -> list[dict[str, Any]]:
    """SpatialLadder's ``<task>_results.jsonl``: the fields it copies from each row it read, and the answer."""
    fields = ("id", "dataset", "scene_name", "question", "ground_truth", "question_type")
    return [{**{k: row[k] for k in fields}, "predicted_answer": answers[row["id"]]} for row in rows]


def lmms_eval_samples(docs: list[dict[str, Any]], answers: dict[str, str]) -> list[dict[str, Any]]:
    """lmms-eval's ``--log_samples`` lines before 0.4 (thinking-in-space's copy): each doc it loaded, its target
    and the (filtered) response."""
    return [
        {"doc_id": k, "doc": doc, "target": doc["ground_truth"], "resps": [[answers[doc["id"]]]]}
        | {"filtered_resps": [answers[doc["id"]]]}
        for k, doc in enumerate(docs)
    ]


VSIBENCH_METRICS = (
    "vsibench_overall",
    "obj_appearance_order_accuracy",
    "object_abs_distance_mra",
    "object_counting_mra",
    "object_rel_distance_accuracy",
    "object_size_estimation_mra",
    "room_size_estimation_mra",
    "route_planning_accuracy",
    "object_rel_direction_accuracy",
)
"""The metric names ``vsibench_process_results`` returns, each mapped to the processed doc (lmms-eval @75571cf,
lmms_eval/tasks/vsibench/utils.py)."""


def lmms_eval_logged_samples(
    docs: list[dict[str, Any]], answers: dict[str, str], rows_in_metrics: bool = True
) -> list[dict[str, Any]]:
    """lmms-eval's ``--log_samples`` lines as EvolvingLMMs-Lab/lmms-eval@75571cf writes them for the vsibench task.

    ``lmms_eval/evaluator.py`` (``evaluate``, the scoring loop): the default ``--reasoning_tags`` strip each
    filtered response (the raw one kept for ``resps``), ``process_results`` gets the stripped one, and the line is
    ``{"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "token_counts", "doc_hash"}`` updated
    with the metrics. ``lmms_eval/loggers/evaluation_tracker.py`` (``save_results_samples``): ``input`` =
    ``arguments[0]``, the one-request lists flattened (``filtered_resps`` a plain string), ``resps`` dropped when
    equal to it, ``target`` as text, ``arguments`` and ``doc`` dropped. ``rows_in_metrics=False``: a task whose
    metrics are plain numbers, so that only ``doc_id`` names the row.
    """
    lines = []
    for k, doc in enumerate(docs):
        raw = answers[str(doc["id"])]
        filtered = strip_reasoning_tags(raw)
        processed = {**doc, "prediction": filtered}
        line: dict[str, Any] = {"doc_id": k, "target": str(doc["ground_truth"])}
        if raw != filtered:
            line["resps"] = raw
        line |= {
            "filtered_resps": filtered,
            "token_counts": [None],
            "doc_hash": hashlib.sha256(json.dumps(doc, indent=2, ensure_ascii=False).encode()).hexdigest(),
        }
        line |= {metric: processed if rows_in_metrics else 0.0 for metric in VSIBENCH_METRICS}
        line["input"] = f"These are frames of a video.\n{doc['question']}"
        lines.append(line)
    return lines


def wrong(row: dict[str, Any]) -> str:
    """A wrong response: another option's letter, or 0 for a positive number (a 100% error fails every θ)."""
    options = row["options"]
    if options is not None and len(options) > 0:
        return next(str(o)[0] for o in options if str(o)[0] != row["ground_truth"])
    return "0"


def official_summary(bench: Path, lines: list[dict[str, Any]], mode: Scorer, out: Path) -> dict[str, Any]:
    """``ladder eval --scoring MODE`` of the evaluator's results lines: the benchmark's summary."""
    out.mkdir(parents=True)
    results = out / "results.jsonl"
    results.write_text("".join(json.dumps(line) + "\n" for line in lines))
    (summary,) = evaluate(bench, results, out, modes=[mode])[mode.name].values()
    return summary.model_dump(mode="json")


def assert_scored_end_to_end(
    bench: Path,
    rows: list[dict[str, Any]],
    lines_of: Callable[[dict[str, str]], list[Any]],
    mode: Scorer,
    out: Path,
) -> None:
    """The ground truths a reader read back, answered in its evaluator's results format, score 100 with the official
    rules; one wrong answer in a multiple-choice type and one in a numeric type of n questions each score
    (n - 1) / n of them."""
    truth = {str(r["id"]): str(r["ground_truth"]) for r in rows}
    perfect = official_summary(bench, lines_of(truth), mode, out / "perfect")
    assert perfect["avg"] == 100.0 and set(perfect["tasks"].values()) == {100.0}, perfect
    assert perfect["scored"] == len(rows) == perfect["questions"] and not perfect["errors"]
    counts = Counter(r["question_type"] for r in rows)
    mcq = next(r for r in rows if r["question_type"] in {"object_rel_distance", "obj_appearance_order"})
    numeric = next(r for r in rows if r["question_type"] in NA and float(r["ground_truth"]) > 0)
    partial = official_summary(
        bench, lines_of(truth | {mcq["id"]: wrong(mcq), numeric["id"]: wrong(numeric)}), mode, out / "partial"
    )
    for row in (mcq, numeric):
        n = counts[row["question_type"]]
        assert partial["tasks"][row["question_type"]] == pytest.approx(100 * (n - 1) / n, abs=0.005)
    others = set(partial["tasks"]) - {mcq["question_type"], numeric["question_type"]}
    assert {partial["tasks"][t] for t in others} == {100.0} and partial["avg"] < 100.0


# ----------------------------------------------------------------------------------------------- tests


@pytest.fixture
def shared_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``datasets``' default cache, one folder that every load of the test shares (as a user's ~/.cache does)."""
    datasets = pytest.importorskip("datasets")
    cache = tmp_path / "hf-datasets"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)  # datasets reads the variable on import
    return cache


@pytest.fixture(scope="module")
def exported(benches: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``benches`` exported in SpatialLadder's layout, once per test run; read-only."""
    from fixtures.shared import shared_folder

    def export(out: Path) -> None:
        result = CliRunner().invoke(app, ["export", str(benches), "--format", "spatialladder", "--out", str(out)])
        assert result.exit_code == 0, result.output

    return shared_folder(tmp_path_factory, "exported-spatialladder", export)


def test_spatialladder_layout_is_what_its_evaluator_opens(exported: Path) -> None:
    """``--out`` is SpatialLadder's ``/datasets``: the folders and files its prepare_data names, nothing to link."""
    assert sorted(p.name for p in exported.iterdir()) == ["SPBench-MV", "SPBench-SI", "VSI-Bench"]
    for task in ("SPBench-SI", "SPBench-MV", "VSI-Bench"):
        data_file, media_dir = prepare_data(exported, task)
        assert data_file.is_file() and media_dir.is_dir()


def test_spatialladder_reads_and_scores_the_image_benchmarks(exported: Path, benches: Path, tmp_path: Path) -> None:
    originals = bench_images(benches)
    bench_rows = {r["id"]: r for r in stored_rows(benches)}
    for name, task in (("spbench-si", "SPBench-SI"), ("spbench-mv", "SPBench-MV")):
        data_file, image_dir = prepare_data(exported, task)
        rows = read_spbench(image_dir, data_file)
        assert {r["id"] for r in rows} == {i for i, r in bench_rows.items() if r["dataset"] == name}
        for r in rows:
            source = bench_rows[r["id"]]
            assert (r["dataset"], r["scene_name"]) == ("scannet", source["scene_name"])
            assert (r["question_type"], r["ground_truth"]) == (source["question_type"], source["ground_truth"])
            assert r["prompt"].startswith(source["question"]) and all(o in r["prompt"] for o in source["options"])
            assert [Path(p).read_bytes() for p in r["image_files"]] == originals[r["id"]]  # the stored JPEGs
            assert [im.size for im in r["images"]] == [(source["image_width"], source["image_height"])] * len(
                source["frame_ids"]
            )
        lines = functools.partial(spatialladder_results, rows)
        assert_scored_end_to_end(benches / name, rows, lines, get_scorer("spatialladder"), tmp_path / name)


def test_spatialladder_reads_and_scores_the_video_benchmark(exported: Path, benches: Path, tmp_path: Path) -> None:
    data_file, video_dir = prepare_data(exported, "VSI-Bench")
    manifest = json.loads((video_dir / "export.json").read_text())
    originals = bench_images(benches)
    read = read_vsibench_spatialladder(video_dir, data_file)
    assert read
    compared: set[tuple[str, int]] = set()
    for item in read:
        frames = originals[item["row"]["id"]]
        video = next(v for v in manifest["videos"] if v["path"] == f"scannet/{item['row']['scene_name']}.mp4")
        assert video["frame_ids"] == list(item["row"]["frame_ids"]) and len(frames) == len(video["frame_ids"])
        for k, index in enumerate(item["indices"]):
            if (video["path"], index) in compared:  # every question of a scan reads its one video
                continue
            compared.add((video["path"], index))
            assert (
                psnr(item["frames"][k].astype(np.float64), rgb(frames[index])[: video["height"], : video["width"]]) > 30
            )
        assert item["timestamps"] == [int(i / manifest["fps"]) for i in item["indices"]]
    rows = [item["row"].to_dict() for item in read]
    lines = functools.partial(spatialladder_results, rows)
    assert_scored_end_to_end(benches / "vsi-video", rows, lines, get_scorer("spatialladder"), tmp_path)


def test_vsibench_format_reads_and_scores_in_lmms_eval(benches: Path, tmp_path: Path, shared_hf_cache: Path) -> None:
    av = pytest.importorskip("av")
    out = tmp_path / "vsi"
    (result,) = export_benchmark(benches / "vsi-video", out, "vsibench", fps=3.0)
    folder = out / "vsi-video"
    assert (result.folder, result.config) == ("vsi-video", "full")  # VSI-Bench's config, lmms-eval asks for it
    assert re.fullmatch(rf"test-00000-of-00001-[0-9a-f]{{{SHARD_KEY_DIGITS}}}\.parquet", result.parquet)
    read = read_lmms_eval(folder, folder)  # videos where lmms-eval's cache_dir holds them
    bench_rows = {r["id"]: r for r in stored_rows(benches / "vsi-video")}
    assert {doc["id"] for doc, _, _ in read} == set(bench_rows)
    for doc, (video_path,), text in read:
        source = bench_rows[doc["id"]]
        assert doc["dataset"] == "scannet" and doc["ground_truth"] == source["ground_truth"]
        assert doc["options"] == (source["options"] or None)  # VSI-Bench: null options for numbers
        assert source["question"] in text
        with av.open(video_path) as container:
            stream = container.streams.video[0]
            times = [float(f.pts * stream.time_base) for f in container.decode(video=0)]
        video = next(v for v in result.videos if video_path.endswith(v.path))
        assert stream.average_rate == Fraction(3) and times == pytest.approx(video.video_timestamps)
        assert video.scan_timestamps == pytest.approx(source["timestamps"])
        assert (stream.codec_context.width, stream.codec_context.height) == (video.width, video.height)
    assert result.fps == 3.0 and set(result.question_types) <= MCA | NA
    docs = [doc for doc, _, _ in read]
    lines = functools.partial(lmms_eval_samples, docs)
    bench = benches / "vsi-video"
    assert_scored_end_to_end(bench, docs, lines, get_scorer("thinking-in-space"), tmp_path / "scores")
    # today's lmms-eval logs: the row inside the metric fields, or only its doc_id (the index in this order)
    current = functools.partial(lmms_eval_logged_samples, docs)
    assert_scored_end_to_end(bench, docs, current, get_scorer("lmms-eval"), tmp_path / "current")
    by_index = functools.partial(lmms_eval_logged_samples, docs, rows_in_metrics=False)
    assert_scored_end_to_end(bench, docs, by_index, get_scorer("lmms-eval"), tmp_path / "by-index")
    assert [doc["id"] for doc in docs] == pq.read_table(folder / result.parquet).column("id").to_pylist()
    assert any(shared_hf_cache.iterdir())  # the loads went through the shared default cache


def _fewer_questions(benches: Path, name: str, folder: Path, dropped: int) -> Path:
    """A copy of a benchmark without its first ``dropped`` questions (other rows: other content)."""
    shutil.copytree(benches / name, folder, ignore=shutil.ignore_patterns(".ladder-work"))
    (shard,) = folder.rglob("test-*.parquet")
    table = pq.read_table(shard)
    pq.write_table(table.slice(dropped), shard)
    return folder


@pytest.mark.parametrize(
    ("fmt", "name", "folder"),
    [
        ("vsibench", "vsi-video", "vsi-video"),
        ("spatialladder", "vsi-video", "VSI-Bench"),
        ("spatialladder", "spbench-si", "SPBench-SI"),
    ],
)
def test_exports_never_serve_stale_or_foreign_rows(
    benches: Path, tmp_path: Path, shared_hf_cache: Path, fmt: str, name: str, folder: str
) -> None:
    """``datasets`` caches a local folder by its name, config and card's file names: a re-export in place with
    other rows, and another folder of the same name, must load their own rows through one default cache."""

    def questions(path: Path) -> list[tuple[str, str]]:
        return sorted((r["id"], r["ground_truth"]) for r in load_with_datasets(path, None))

    def on_disk(bench: Path) -> list[tuple[str, str]]:
        return sorted((r["id"], r["ground_truth"]) for r in stored_rows(bench))

    whole, fewer, other = (
        _fewer_questions(benches, name, tmp_path / label / name, dropped)
        for label, dropped in (("whole", 0), ("fewer", 1), ("other", 2))
    )
    out = tmp_path / "a"
    export_benchmark(whole, out, fmt)
    assert questions(out / folder) == on_disk(whole)
    (result,) = export_benchmark(fewer, out, fmt)  # in place, other rows
    assert questions(out / folder) == on_disk(fewer) != on_disk(whole)
    assert [p.name for p in (out / folder).glob("*.parquet")] == [result.parquet]  # the previous one is gone
    keyed = sorted(p.relative_to(out / folder).as_posix() for p in (out / folder).rglob("*.parquet"))
    assert keyed == sorted({result.parquet, result.data_file})
    export_benchmark(other, tmp_path / "b", fmt)  # another folder of the same name
    assert questions(tmp_path / "b" / folder) == on_disk(other) != on_disk(fewer)
    assert questions(out / folder) == on_disk(fewer)
    assert any(shared_hf_cache.iterdir())


def test_formats_refuse_what_their_readers_cannot_read(benches: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="use --format spatialladder"):
        export_benchmark(benches / "spbench-si", tmp_path / "a", "vsibench")
    # a video benchmark with SPBench's single direction type: SpatialLadder reads it, VSI-Bench does not
    bench = tmp_path / "old-video"
    shutil.copytree(benches / "vsi-video", bench, ignore=shutil.ignore_patterns(".ladder-work"))
    (shard,) = bench.rglob("test-*.parquet")
    table = pq.read_table(shard)
    types = table.column("question_type").to_pylist()
    types[0] = "object_rel_direction"
    index = table.schema.get_field_index("question_type")
    pq.write_table(table.set_column(index, "question_type", pa.array(types)), shard)
    with pytest.raises(ConfigError, match=r"object_rel_direction.*vsi-video recipe"):
        export_benchmark(bench, tmp_path / "b", "vsibench")
    assert not (tmp_path / "b").exists()  # checked before anything is written
    export_benchmark(bench, tmp_path / "c", "spatialladder")
    result = CliRunner().invoke(app, ["export", str(bench), "--format", "lmms", "--out", str(tmp_path / "d")])
    assert result.exit_code != 0
    # two video benchmarks: SpatialLadder reads one VSI-Bench
    two = tmp_path / "two"
    shutil.copytree(benches / "vsi-video", two / "vsi-video", ignore=shutil.ignore_patterns(".ladder-work"))
    (shard,) = _fewer_questions(benches, "vsi-video", two / "vsi-video-b", 0).rglob("test-*.parquet")
    table = pq.read_table(shard)
    for column in ("id", "dataset"):
        values = [f"{v}-b" for v in table.column(column).to_pylist()]
        table = table.set_column(table.schema.get_field_index(column), column, pa.array(values))
    pq.write_table(table, shard)
    with pytest.raises(ConfigError, match=r"vsi-video, vsi-video-b would all be written to VSI-Bench/"):
        export_benchmark(two, tmp_path / "e", "spatialladder")
    assert not (tmp_path / "e").exists()


def test_rerun_is_idempotent_and_removes_stale_files(benches: Path, tmp_path: Path) -> None:
    bench = tmp_path / "si"
    shutil.copytree(benches / "spbench-si", bench, ignore=shutil.ignore_patterns(".ladder-work"))
    out = tmp_path / "out"
    export_benchmark(bench, out, "spatialladder")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    export_benchmark(bench, out, "spatialladder")
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    assert {p: b for p, (b, _) in after.items() if p.name != "export.json"} == {
        p: b for p, (b, _) in before.items() if p.name != "export.json"
    }
    assert all(after[p][1] == before[p][1] for p in after if p.name != "export.json")  # nothing rewritten
    # the benchmark loses its first question: its images go unless another question shows them
    (shard,) = bench.rglob("test-*.parquet")
    table = pq.read_table(shard)
    dropped = table.slice(0, 1).to_pylist()[0]
    pq.write_table(table.slice(1), shard)
    export_benchmark(bench, out, "spatialladder")
    kept = {f for r in table.slice(1).to_pylist() for f in r["frame_ids"] if r["scene_name"] == dropped["scene_name"]}
    for frame in dropped["frame_ids"]:
        assert (out / "SPBench-SI" / "images" / dropped["scene_name"] / f"{frame:06d}.jpg").exists() == (frame in kept)
    assert len(pd.read_parquet(out / "SPBench-SI" / "SPBench-SI.parquet")) == table.num_rows - 1
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


def test_writes_are_atomic(tmp_path: Path) -> None:
    target = tmp_path / "video.mp4"

    def fails(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(target, fails)
    assert list(tmp_path.iterdir()) == []


def test_mp4_round_trip_in_every_reader(tmp_path: Path) -> None:
    """opencv-python-headless's mp4v mp4 decodes in OpenCV, decord and PyAV with the stated frame times."""
    import cv2

    frames = [np.full((48, 66, 3), (20 * k, 255 - 20 * k, 90), np.uint8) for k in range(7)]
    path = tmp_path / "v.mp4"
    assert encode_mp4(path, frames, 4.0) == (66, 48)
    capture = cv2.VideoCapture(str(path))
    decoded = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        decoded.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(4.0)
    assert len(decoded) == 7
    assert all(np.abs(d.astype(int) - f.astype(int)).mean() < 4 for d, f in zip(decoded, frames, strict=True))
    decord = pytest.importorskip("decord")
    vr = decord.VideoReader(str(path))
    assert len(vr) == 7 and vr.get_avg_fps() == pytest.approx(4.0)
    assert np.abs(vr[3].asnumpy().astype(int) - frames[3].astype(int)).mean() < 4
    av = pytest.importorskip("av")
    with av.open(str(path)) as container:
        times = [float(f.pts * container.streams.video[0].time_base) for f in container.decode(video=0)]
    assert times == pytest.approx([k / 4.0 for k in range(7)])
    # odd sizes are cropped to even ones
    assert encode_mp4(tmp_path / "odd.mp4", [np.zeros((47, 65, 3), np.uint8)] * 2, 2.0) == (64, 46)


@pytest.mark.parametrize("fmt", ["spatialladder", "vsibench"])
def test_exports_are_hub_ready(benches: Path, tmp_path: Path, shared_hf_cache: Path, fmt: str) -> None:
    """Every export folder is a Hub repository: a card huggingface_hub parses and the Hub's metadata rules accept
    (licence, task and size categories, language, configs naming files that exist), ``LICENSE.md`` as
    build-dataset writes it, one config under a stable name that ``load_dataset(folder, name)`` reads."""
    datasets = pytest.importorskip("datasets")
    bench = benches if fmt == "spatialladder" else benches / "vsi-video"
    results = export_benchmark(bench, tmp_path / "out", fmt)
    assert {r.config for r in results} == ({"full"} if fmt == "vsibench" else {r.folder for r in results})
    for result in results:
        folder = tmp_path / "out" / result.folder
        meta = read_card_metadata((folder / "README.md").read_text())
        assert card_problems(meta, root=folder, required=(*REQUIRED_METADATA, "language")) == []
        assert meta["license"] == "other" and meta["license_link"] == "LICENSE.md" and meta["language"] == ["en"]
        assert meta["size_categories"] == ["n<1K"] and "visual-question-answering" in meta["task_categories"]
        assert (folder / "LICENSE.md").read_text() == license_file(result.sources) and result.sources == ["scannet"]
        (config,) = meta["configs"]
        assert config["config_name"] == result.config and config["default"] is True
        assert config["data_files"] == [{"split": "test", "path": [result.data_file]}]
        assert re.search(rf"-[0-9a-f]{{{SHARD_KEY_DIGITS}}}\.parquet$", result.data_file)  # keyed for the cache
        rows = datasets.load_dataset(str(folder), result.config, split="test")
        assert sorted(rows["id"]) == sorted(pd.read_parquet(folder / result.parquet)["id"])
        card = (folder / "README.md").read_text()
        assert f'load_dataset("{result.folder}", "{result.config}", split="test")' in card
        if result.videos:
            frames = len(result.videos[0].frame_ids)
            assert f"holds the benchmark's {frames} frames" in card and f"--num_frames {frames}" in card


def test_vsibench_export_holds_the_archives_lmms_eval_unpacks(benches: Path, tmp_path: Path) -> None:
    """lmms-eval's ``ConfigurableTask.download`` (lmms_eval/api/task.py @75571cf, ``video: True``): after
    ``snapshot_download`` of ``dataset_path`` it extracts every ``**/*.zip`` into ``$HF_HOME/<cache_dir>``, where
    ``vsibench_doc_to_visual`` opens ``<dataset>/<scene_name>.mp4``. Rerun: the same bytes."""
    (result,) = export_benchmark(benches / "vsi-video", tmp_path / "out", "vsibench")
    folder = tmp_path / "out" / "vsi-video"
    assert result.archives == ["scannet.zip"]
    hf_home = tmp_path / "hf_home" / "vsibench"
    with zipfile.ZipFile(folder / "scannet.zip") as archive:
        assert archive.namelist() == sorted(v.path for v in result.videos)
        for info in archive.infolist():  # as unzip_video_data extracts them
            archive.extract(info, hf_home)
    for row in pd.read_parquet(folder / result.parquet).itertuples():
        video = hf_home / row.dataset / f"{row.scene_name}.mp4"
        assert video.read_bytes() == (folder / row.dataset / f"{row.scene_name}.mp4").read_bytes()
    before = (folder / "scannet.zip").read_bytes()
    (folder / "scannet.zip").unlink()
    export_benchmark(benches / "vsi-video", tmp_path / "out", "vsibench")
    assert (folder / "scannet.zip").read_bytes() == before


def _predictions_like_the_issue(rows: list[dict[str, Any]], variant: int) -> dict[str, str]:
    """Responses in the styles that separate the scorers (``(3)``, ``The answer is 122``, number words, think
    and answer tags, signs, units), each row in the style ``variant`` picks for it."""
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven"]
    out = {}
    for k, row in enumerate(rows):
        truth = str(row["ground_truth"])
        if row["options"] is not None and len(row["options"]) > 0:
            other = wrong(row)
            styles = [truth, f"({truth})", f"{truth}. yes", f" {truth}", f"<think>{other}?</think>{truth}"]
            styles += [f"<answer>{truth}</answer>", f"Answer: {truth}", f"{truth.lower()}.", other]
        else:
            value = float(truth)
            near = f"{value * 1.15:.2f}"
            styles = [truth, f"({truth})", f"The answer is {near}", f"{near} m", f"-{truth}", "none"]
            styles += [f"<think>maybe 7</think><answer>{near}</answer>", f"<think>2 or 3</think> {truth}"]
            if value.is_integer() and value < len(words):
                styles += [words[int(value)], f"{words[int(value)]} chairs, room 2"]
        out[str(row["id"])] = styles[(k + variant) % len(styles)]
    return out


def _lmms_eval_package() -> Path | None:
    spec = importlib.util.find_spec("lmms_eval")
    return Path(spec.origin).parent if spec is not None and spec.origin else None


@pytest.mark.skipif(_lmms_eval_package() is None, reason="lmms-eval is not installed (it needs torch)")
def test_lmms_eval_scores_equal_its_own_code(benches: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """lmms-eval's own ``vsibench`` scorer functions (its ``tasks/vsibench/utils.py`` and ``api/reasoning.py``,
    run as they are; only loguru is replaced when it is missing) on the export's rows equal ``ladder eval
    --scoring lmms-eval`` on every row and in every per-type score, for several prediction sets."""
    package = _lmms_eval_package()
    assert package is not None
    if importlib.util.find_spec("loguru") is None:
        import logging

        monkeypatch.setitem(sys.modules, "loguru", types.SimpleNamespace(logger=logging.getLogger("loguru")))
    spec = importlib.util.spec_from_file_location("lmms_vsibench_utils", package / "tasks/vsibench/utils.py")
    assert spec is not None and spec.loader is not None
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    from lmms_eval.api.reasoning import strip_reasoning_tags as their_strip

    tags = [["<think>", "</think>"], ["<analysis>", "</analysis>"]]  # lmms_eval/__main__.py's default
    (result,) = export_benchmark(benches / "vsi-video", tmp_path / "out", "vsibench")
    docs = pq.read_table(tmp_path / "out" / "vsi-video" / result.parquet).to_pylist()
    differ = 0  # rows where the old rule scores otherwise: the sets do tell the rules apart
    for variant in range(10):
        answers = _predictions_like_the_issue(docs, variant)
        theirs = [utils.vsibench_process_results(dict(doc), [their_strip(answers[doc["id"]], tags)]) for doc in docs]
        processed = [metrics["vsibench_overall"] for metrics in theirs]
        out = tmp_path / f"set{variant}"
        log = out / "samples_vsibench.jsonl"
        out.mkdir()
        log.write_text("".join(json.dumps(line) + "\n" for line in lmms_eval_logged_samples(docs, answers)))
        modes = [get_scorer("lmms-eval"), get_scorer("thinking-in-space")]
        report = evaluate(benches / "vsi-video", log, out, modes=modes)["lmms-eval"]["vsi-video"].model_dump(
            mode="json"
        )
        scores = [json.loads(line)["scores"] for line in (out / "scores.jsonl").read_text().splitlines()]
        ours = dict(zip((doc["id"] for doc in docs), scores, strict=True))  # scores.jsonl keeps the rows' order
        for doc in processed:
            metric = "accuracy" if doc["question_type"] in utils.MCA_QUESTION_TYPES else "MRA:.5:.95:.05"
            assert ours[doc["id"]]["lmms-eval"] == pytest.approx(doc[metric]), (variant, doc["id"], answers[doc["id"]])
            differ += ours[doc["id"]]["lmms-eval"] != ours[doc["id"]]["thinking-in-space"]
        subscores = utils._compute_all_subscores(processed)
        assert report["avg"] == pytest.approx(100 * utils.vsibench_aggregate_overall(processed), abs=0.005)
        for key, value in subscores.items():
            task = key.removesuffix("_accuracy").removesuffix("_MRA:.5:.95:.05")
            if task != "overall":
                assert report["tasks"][task] == pytest.approx(100 * value, abs=0.005), (variant, task)
    assert differ >= len(docs)
