"""The export-layout registry: a layout is one module and one registration, and ``ladder export --format NAME``
finds it. The toy layout below is all a new layout needs (docs/index.md, "Adding an export format")."""

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from ladderdata.cli import app
from ladderdata.errors import ConfigError
from ladderdata.eval.export import (
    EXPORT_LAYOUTS,
    ExportedBenchmark,
    ExportLayout,
    ExportOptions,
    export_benchmark,
    get_layout,
    register_layout,
)
from ladderdata.io.dataset import BenchReader, BenchRow

TOY = "toy-questions"


class ToyOptions(ExportOptions):
    truth_column: str = "truth"
    """The name of the ground-truth column."""


class ToyLayout(ExportLayout):
    """Every question type (no official scorer), ``<benchmark>-toy/<benchmark>-toy.parquet`` with its own field
    names, images under ``images/<scene>/``."""

    name = TOY
    description = "a test layout: the questions under their own field names"
    reader = "the toy reader"
    options_model = ToyOptions

    def folder(self, benchmark: str, is_video: bool) -> str:
        return f"{benchmark}-toy"

    def table(self, questions: list[BenchRow], images: list[list[str]] | None) -> pa.Table:
        assert isinstance(self.options, ToyOptions)
        truth = self.options.truth_column
        return pa.Table.from_pylist(
            [
                {
                    "qid": q.id,
                    "scene": q.scene_id,
                    "kind": q.task,
                    truth: q.answer,
                    "files": (images or [[]] * len(questions))[k],
                }
                for k, q in enumerate(questions)
            ]
        )

    def usage(self, result: ExportedBenchmark) -> str:
        return f"The toy reader opens `{result.parquet}`."


@pytest.fixture
def toy_layout() -> Iterator[None]:
    """The toy layout registered for one test (as its own module would register it on import)."""
    register_layout(ToyLayout)
    yield
    EXPORT_LAYOUTS.unregister(TOY)


def test_built_in_layouts_are_registered() -> None:
    assert list(EXPORT_LAYOUTS) == ["spatialladder", "vsibench"]
    assert get_layout("vsibench").reader == "lmms-eval's vsibench task"
    with pytest.raises(ConfigError, match=r"unknown export format 'lmms' \(registered: spatialladder, vsibench\)"):
        get_layout("lmms")


def test_a_registered_layout_exports_through_the_cli(benches: Path, tmp_path: Path, toy_layout: None) -> None:
    """``ladder export --format toy-questions`` writes the toy layout: every question of the benchmark with its
    ground truth (read back from the benchmark's own shards), its images as the stored JPEGs, the card with the
    layout's usage, ``LICENSE.md`` and ``export.json`` naming the layout."""
    bench, out = benches / "spbench-si", tmp_path / "out"
    result = CliRunner().invoke(app, ["export", str(bench), "--format", TOY, "--out", str(out)])
    assert result.exit_code == 0, result.output
    folder = out / "spbench-si-toy"
    manifest = ExportedBenchmark.model_validate_json((folder / "export.json").read_text())
    assert manifest.format == TOY and manifest.folder == folder.name and manifest.config == folder.name
    assert manifest.parquet == "spbench-si-toy.parquet" and manifest.data_file.startswith("data/test-00000-of-00001-")
    typed = list(BenchReader(bench).rows(with_images=True))
    rows = [row.stored_columns() for row in typed]
    table = pq.read_table(folder / manifest.parquet).to_pylist()
    assert pq.read_table(folder / manifest.data_file).to_pylist() == table
    assert {(r["qid"], r["scene"], r["kind"], r["truth"]) for r in table} == {
        (r["id"], r["scene_name"], r["question_type"], r["ground_truth"]) for r in rows
    }
    stored = {r.id: r.images or [] for r in typed}
    for row in table:
        images = stored[row["qid"]]
        assert len(row["files"]) == len(images) > 0
        for name, image in zip(row["files"], images, strict=True):
            assert (folder / "images" / row["scene"] / name).read_bytes() == image
    card = (folder / "README.md").read_text()
    assert "The toy reader opens `spbench-si-toy.parquet`." in card and "for the toy reader" in card
    assert (folder / "LICENSE.md").is_file()
    assert json.loads((out / "spbench-si-toy" / "export.json").read_text())["rows"] == len(rows)
    (again,) = export_benchmark(bench, out, TOY)  # a rerun: the same files, under the same keys
    assert again.keys == manifest.keys
    # the layout's own options: validated by its model, part of the folder's claim
    with pytest.raises(ValidationError, match="colour"):
        export_benchmark(bench, tmp_path / "other", TOY, settings={"colour": "red"})
    with pytest.raises(ConfigError, match="--overwrite"):
        export_benchmark(bench, out, TOY, settings={"truth_column": "answer"})
    (renamed,) = export_benchmark(bench, out, TOY, settings={"truth_column": "answer"}, overwrite=True)
    assert pq.read_table(folder / renamed.parquet).column("answer").to_pylist() == [r["truth"] for r in table]


def test_the_unknown_format_line_lists_the_layouts(benches: Path, tmp_path: Path, toy_layout: None) -> None:
    result = CliRunner().invoke(app, ["export", str(benches), "--format", "lmms", "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    assert f"registered: spatialladder, vsibench, {TOY}" in str(result.exception)
    assert not (tmp_path / "o").exists()
