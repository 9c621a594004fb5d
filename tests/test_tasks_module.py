"""A task of your own from the command line: docs/tasks.md's multiple-choice example, saved as a file, builds
through ``ladder build-dataset --tasks-module`` (in spawned workers too) and every answer is right; a recipe's
``plugins:`` does the same; an unknown task is one line naming the ways in."""

import re
import sys
from pathlib import Path

import pytest

from fixtures.factories import load_ground_truth, read_samples
from ladderdata import tasks
from ladderdata.cli import console, entrypoint
from ladderdata.pipeline import BuildConfig, build_dataset
from ladderdata.recipe import Recipe
from ladderdata.sources.base import source_config
from ladderdata.tasks import base
from ladderdata.tasks.modules import load_task_modules, task_modules_digest

DOC = Path(__file__).resolve().parents[1] / "docs" / "tasks.md"


def ladder(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["ladder", *args])
    monkeypatch.setattr(console, "width", 400)
    with pytest.raises(SystemExit) as done:
        entrypoint()
    printed = capsys.readouterr()
    return int(done.value.code or 0), printed.out + printed.err


@pytest.fixture
def taller_file(tmp_path: Path) -> object:
    code = next(c for c in re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S) if "object_taller" in c)
    path = tmp_path / "object_taller.py"
    path.write_text(code)
    yield path
    base.TASKS.unregister("object_taller")


def check_taller_rows(root: Path, dataset: Path) -> int:
    rows = [r for r in read_samples(dataset) if r["task"] == "object_taller"]
    for r in rows:
        assert r["question"].startswith("Which is taller, the ") and len(r["options"]) == 2
        chosen = next(o for o in r["options"] if o.startswith(r["answer"] + ".")).split(". ", 1)[1]
        other = next(o for o in r["options"] if not o.startswith(r["answer"] + ".")).split(". ", 1)[1]
        gt = {o.object_id: o for o in load_ground_truth(root, r["scene_id"]).objects}
        by_category = {o["category"]: gt[o["object_id"]] for o in r["objects"]}
        heights = {c: by_category[c].aabb_max[2] - by_category[c].aabb_min[2] for c in (chosen, other)}
        assert heights[chosen] >= 1.2 * heights[other] - 0.01, (r["question"], heights)
    return len(rows)


def test_the_docs_multiple_choice_task_builds_from_one_file_and_one_flag(
    taller_file: Path,
    bench_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "taller"
    args = ["build-dataset", "--scans", str(bench_root), "--out", str(out), "--split", "all", "--frame-stride", "2"]
    code, printed = ladder([*args, "--tasks-module", str(taller_file), "--workers", "2"], monkeypatch, capsys)
    assert code == 0, printed
    assert "target object_taller: single_image all, multi_view all" in printed
    assert check_taller_rows(bench_root, out) > 0
    letters = {r["answer"] for r in read_samples(out) if r["task"] == "object_taller"}
    assert letters == {"A", "B"}  # the correct choice is not always first
    card = (out / "README.md").read_text()
    assert "object_taller" in card and "seven VSI-Bench types" not in card


def test_a_recipe_names_its_plugins(
    taller_file: Path,
    bench_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    recipe = tmp_path / "taller.yaml"
    recipe.write_text(
        f"name: taller\nplugins: [{taller_file}]\ntasks:\n  object_taller: {{modalities: [multi_view]}}\n"
    )
    out = tmp_path / "ds"
    args = ["build-dataset", "--scans", str(bench_root), "--out", str(out), "--split", "all", "--frame-stride", "2"]
    code, printed = ladder([*args, "--recipe", str(recipe)], monkeypatch, capsys)
    assert code == 0, printed
    rows = read_samples(out)
    assert rows and {r["task"] for r in rows} == {"object_taller"}
    assert {r["modality"] for r in rows} == {"multi_view"}
    assert check_taller_rows(bench_root, out) == len(rows)


def test_a_module_in_the_tasks_package_is_a_built_in_task_with_no_other_edit(
    taller_file: Path, bench_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A built-in task is its module alone: placed among the tasks package's modules (here a second folder of the
    package), importing the package registers it, a recipe builds it, and the card heads its column with the
    short name the class declares; no list outside the module names it."""
    folder = tmp_path / "more_tasks"
    folder.mkdir()
    (folder / "object_taller.py").write_text(taller_file.read_text() + '\nObjectTaller.short_name = "Taller"\n')
    monkeypatch.setattr(tasks, "__path__", [*tasks.__path__, str(folder)])
    monkeypatch.delitem(sys.modules, "ladderdata.tasks.object_taller", raising=False)
    assert "object_taller" not in base.TASKS
    tasks.import_builtin_tasks()
    try:
        assert base.get_task("object_taller").__module__ == "ladderdata.tasks.object_taller"
        out = tmp_path / "ds"
        recipe = Recipe(name="taller", tasks={"object_taller": {}, "object_counting": {}}, metadata={"frame_stride": 2})
        scans = source_config("scannet", root=bench_root)
        summary = build_dataset(BuildConfig(source=scans, out=out, split="all", recipe=recipe))
    finally:
        sys.modules.pop("ladderdata.tasks.object_taller", None)
    assert check_taller_rows(bench_root, out) > 0
    card = (out / "README.md").read_text()
    assert "| Taller |" in card and "| Obj. Cnt. |" in card
    assert "object_taller/multi_view" in (out / "stats.json").read_text()
    assert summary.rejections  # the task's filters are counted with the others


def test_an_unknown_task_names_the_ways_in(
    bench_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("tasks:\n  object_height: {}\n")
    args = ["build-dataset", "--scans", str(bench_root), "--out", str(tmp_path / "o"), "--recipe", str(recipe)]
    code, printed = ladder(args, monkeypatch, capsys)
    lines = [line for line in printed.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, printed
    assert "unknown task 'object_height'" in lines[0]
    assert "--tasks-module" in lines[0] and "'ladderdata.tasks' entry point" in lines[0]
    assert "Value error" not in lines[0] and "value:" not in lines[0]


def test_a_broken_or_missing_module_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('oops')\n")
    with pytest.raises(Exception, match=r"broken.py failed to import: RuntimeError: oops"):
        load_task_modules([broken])
    with pytest.raises(Exception, match=r"missing.py is not a file"):
        load_task_modules([tmp_path / "missing.py"])


def test_editing_a_task_file_changes_the_drafts_key(tmp_path: Path) -> None:
    path = tmp_path / "t.py"
    path.write_text("x = 1\n")
    first = task_modules_digest([str(path)])
    path.write_text("x = 2\n")
    assert task_modules_digest([str(path)]) != first
