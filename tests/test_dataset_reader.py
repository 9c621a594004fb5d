"""``ladderdata.io.dataset``: one typed read side for built datasets and benchmarks. Rows come from the shards the
manifest lists (a user's file inside ``data/`` is never read, by any consumer), benchmark columns are read under
ladder's names, and a missing or broken manifest or shard is an error naming the folder and the file."""

import io
import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from fixtures.factories import BuiltDataset, linked_copy
from ladderdata.audit.blind import read_questions
from ladderdata.bench.leakage import check_leakage
from ladderdata.errors import ConfigError
from ladderdata.eval.report import evaluate
from ladderdata.eval.scorers import BenchmarkSummary
from ladderdata.io.dataset import (
    MANIFEST,
    STORED_BENCH_NAMES,
    BenchReader,
    BenchRow,
    DatasetReader,
    Row,
    StoredRow,
    open_builds,
)
from ladderdata.io.public_scenes import dataset_scans, public_overlap
from ladderdata.io.rooms import dataset_rooms
from ladderdata.io.shards import RowFormat, ShardFormat, write_shard
from ladderdata.preview import render_preview
from ladderdata.recipe import ImageConfig
from ladderdata.tasks import AnswerType, Modality, ObjectRef, Sample
from laddertrain.data import subset_files


def shard_rows(path: Path) -> list[dict[str, object]]:
    """Every row of every shard a build's manifest lists, as stored, images left out (the independent reading)."""
    listed = json.loads((path / MANIFEST).read_text())["shards"]
    rows: list[dict[str, object]] = []
    for shard in sorted(listed, key=lambda s: s["path"]):
        names = [n for n in pq.read_schema(path / shard["path"]).names if n != "images"]
        rows += pq.read_table(path / shard["path"], columns=names).to_pylist()
    return rows


def test_dataset_rows_are_the_stored_rows_typed(built_dataset: BuiltDataset) -> None:
    reader = DatasetReader(built_dataset.out)
    rows = list(reader.rows())
    stored = shard_rows(built_dataset.out)
    assert len(rows) == len(stored) == reader.row_count() > 0
    assert reader.subsets == ["localization", "spatial"]
    for row, raw in zip(rows, stored, strict=True):
        assert isinstance(row, Row) and row.images is None
        assert (row.id, row.task, row.scene_id, row.answer, row.answer_type) == (
            raw["id"],
            raw["task"],
            raw["scene_id"],
            raw["answer"],
            raw["answer_type"],
        )
        assert row.subset == ("localization" if row.answer_type is AnswerType.BOXES else "spatial")
        assert row.prompt is not None and row.question in row.prompt
    counting = list(reader.rows(tasks=["object_counting"], subsets=["spatial"]))
    assert counting and counting == [r for r in rows if r.task == "object_counting"]
    picked = reader.rows_at("spatial", [0, 5], with_images=True)
    spatial = [r for r in rows if r.subset == "spatial"]
    assert [r.id for r in picked] == [spatial[0].id, spatial[5].id]
    assert all(r.images is not None and len(r.images) == len(r.frame_ids) for r in picked)
    assert [(k.task, k.scene_id) for k in reader.keys("spatial")] == [(r.task, r.scene_id) for r in spatial]


def test_bench_rows_are_read_under_ladders_names(benches: Path) -> None:
    reader = BenchReader(benches)  # a folder of benchmarks
    rows = list(reader.rows())
    stored = [raw for folder in sorted(benches.glob(f"*/{MANIFEST}")) for raw in shard_rows(folder.parent)]
    assert len(rows) == len(stored) > 0
    for row, raw in zip(rows, stored, strict=True):
        assert isinstance(row, BenchRow)
        for column, field in STORED_BENCH_NAMES.items():
            assert getattr(row, field) == raw[column], (row.id, column)
        assert row.subset == row.benchmark
    assert {r.benchmark for r in rows} == {"spbench-si", "spbench-mv", "vsi-video"}
    assert [r.id for r in BenchReader(benches / "spbench-si").rows()] == [
        r.id for r in rows if r.subset == "spbench-si"
    ]
    assert [type(r).__name__ for r in open_builds(benches)] == ["BenchReader"] * 3


def _sample(task: str, answer_type: AnswerType, answer: str, options: list[str], **extra: object) -> Sample:
    return Sample.model_validate(
        {
            "id": f"q-{task}",
            "task": task,
            "modality": Modality.SINGLE_IMAGE,
            "scene_id": "scene0000_00",
            "source": "scannet",
            "frame_ids": [3],
            "timestamps": [0.1],
            "image_width": 64,
            "image_height": 48,
            "question": f"a {task} question?",
            "options": options,
            "answer": answer,
            "answer_type": answer_type,
            "objects": [
                ObjectRef(object_id=1, category="chair", role="target", visibility=0.9, bbox_2d=[1, 2, 30, 40])
            ],
            "margins": {"visibility_min": 0.9},
            **extra,
        }
    )


def _write_build(folder: Path, samples: list[Sample], row_format: RowFormat, subset: str) -> Path:
    """``samples`` written by the writer ``build-dataset`` / ``build-bench`` use, listed in a manifest."""
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 30, 160)).save(jpeg, format="JPEG")
    path = folder / "data" / subset / "train-00000-of-00001.parquet"
    path.parent.mkdir(parents=True)
    shard_format = ShardFormat(["visibility_min"], ImageConfig(), row_format, dataset_name=subset, extras=True)
    write_shard(path, samples, "key", shard_format, lambda scene, frame: jpeg.getvalue())
    manifest = {
        "benchmark": row_format is RowFormat.BENCH,
        "shards": [{"path": f"data/{subset}/{path.name}", "rows": 3}],
    }
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return path


def test_a_question_reads_the_same_from_a_dataset_and_a_benchmark(tmp_path: Path) -> None:
    """Vocabulary round trip: one question written as a training row and as a benchmark row (evaluator column
    names) reads back with equal fields, and ``stored_columns`` gives back exactly the benchmark shard's row."""
    boxes = json.dumps([{"label": "chair", "bbox_2d": [1.0, 2.0, 30.0, 40.0]}])
    samples = [
        _sample("object_rel_distance", AnswerType.MCQ, "B", ["A. sofa", "B. chair"]),
        _sample("object_counting", AnswerType.NUMERIC, "3", [], extras={"note": [1, 2]}),
        _sample("object_localization", AnswerType.BOXES, boxes, []),
    ]
    _write_build(tmp_path / "dataset", samples, RowFormat.TRAIN, "spatial")
    shard = _write_build(tmp_path / "bench", samples, RowFormat.BENCH, "mybench")
    dataset = list(DatasetReader(tmp_path / "dataset").rows(with_images=True))
    bench = list(BenchReader(tmp_path / "bench").rows(with_images=True))
    common = set(StoredRow.model_fields) - {"subset"}
    for sample, d, b in zip(samples, dataset, bench, strict=True):
        assert d.model_dump(include=common) == b.model_dump(include=common)
        assert (b.answer, b.task, b.scene_id, b.benchmark) == (sample.answer, sample.task, sample.scene_id, "mybench")
        assert d.extras == b.extras == sample.extras
        assert d.messages and d.resized_width is not None
    stored = pq.read_table(shard).to_pylist()
    for row, raw in zip(bench, stored, strict=True):
        columns = row.stored_columns()
        assert set(columns) == set(raw) - ({"extras"} if raw["extras"] is None else set())
        assert all(columns[name] == raw[name] for name in columns), row.id


def stray_files(folder: Path) -> None:
    """A user's files where a glob for shards would find them: not Parquet at all, so any reader of one fails."""
    for subset in (folder / "data").iterdir():
        (subset / "train-00099-of-00100-mine.parquet").write_bytes(b"not parquet")
    (folder / "data" / "notes.parquet").write_bytes(b"my notes")
    (folder / "mine.parquet").write_bytes(b"a user's file")


def test_no_consumer_reads_a_file_the_manifest_does_not_list(
    built_dataset: BuiltDataset, benches: Path, tmp_path: Path
) -> None:
    dataset, bench = linked_copy(built_dataset.out, tmp_path / "dataset"), linked_copy(benches, tmp_path / "bench")
    expected_rows = len(list(DatasetReader(dataset).rows())), len(list(BenchReader(bench).rows()))
    stray_files(dataset)
    for folder in bench.glob(f"*/{MANIFEST}"):
        stray_files(folder.parent)
    (bench / "mine.parquet").write_bytes(b"beside the benchmarks")
    # the readers
    assert (len(list(DatasetReader(dataset).rows())), len(list(BenchReader(bench).rows()))) == expected_rows
    # preview, audit, leakage, rooms, public scenes, training data
    assert render_preview(dataset, tmp_path / "sheets-d", samples=1, tasks=["object_counting"])
    assert render_preview(bench / "spbench-si", tmp_path / "sheets-b", samples=1)
    assert {q.id for q in read_questions(bench)} == {r.id for r in BenchReader(bench).rows()}
    assert check_leakage(dataset, bench).clean
    assert (
        dataset_rooms(dataset)
        == dataset_rooms(built_dataset.out)
        >= {f"scannet:{s[:-3]}" for _, s in dataset_scans(dataset)}
    )
    assert public_overlap(dataset, "vsibench") == public_overlap(built_dataset.out, "vsibench")
    assert all("mine" not in f for f in subset_files(dataset, "spatial"))
    # eval
    rows = list(BenchReader(bench).rows())
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("".join(json.dumps({"id": r.id, "prediction": r.answer}) + "\n" for r in rows))
    summaries = evaluate(bench, predictions, tmp_path / "eval")["ladder"]
    assert all(isinstance(s, BenchmarkSummary) and s.avg == 100.0 for s in summaries.values())


def test_missing_or_broken_manifests_and_shards_are_errors_naming_them(benches: Path, tmp_path: Path) -> None:
    bench = linked_copy(benches / "spbench-si", tmp_path / "bench")
    manifest = bench / MANIFEST
    text = manifest.read_text()
    listed = json.loads(text)["shards"][0]["path"]
    with pytest.raises(ConfigError, match=r"no ladder dataset or benchmark in .*empty \(no manifest\.json\)"):
        (tmp_path / "empty").mkdir()
        BenchReader(tmp_path / "empty")
    manifest.unlink()
    with pytest.raises(ConfigError, match=rf"{bench} holds no manifest\.json"):
        DatasetReader(bench)
    manifest.write_text(text[: len(text) // 2])
    with pytest.raises(ConfigError, match=r"bench/manifest\.json is not a readable ladder manifest"):
        BenchReader(bench)
    manifest.unlink()
    os.mkfifo(manifest)
    with pytest.raises(ConfigError, match=r"manifest\.json: a FIFO \(named pipe\), not a regular file"):
        BenchReader(bench)
    manifest.unlink()
    manifest.write_text(text.replace(listed, "../elsewhere.parquet"))
    with pytest.raises(ConfigError, match=r"lists shard '\.\./elsewhere\.parquet', which is not under data/"):
        BenchReader(bench)
    manifest.write_text(text)
    (bench / listed).unlink()
    with pytest.raises(ConfigError, match=rf"{bench}: shard {listed} is listed in manifest\.json but missing"):
        BenchReader(bench)
    (bench / listed).write_bytes(b"PAR1 truncated")
    with pytest.raises(ConfigError, match=rf"{listed} cannot be read as Parquet"):
        list(BenchReader(bench).rows())
    with pytest.raises(
        ConfigError, match=r"is not a ladder dataset: its manifest says it was written by ladder build-bench"
    ):
        DatasetReader(bench)
