"""The worked example of docs/tasks.md runs as written (paths pointed at a synthetic root)."""

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from fixtures.factories import load_ground_truth, read_samples
from ladderdata import registry
from ladderdata.tasks import base

DOC = Path(__file__).resolve().parents[1] / "docs" / "tasks.md"


def test_worked_example_builds_a_dataset_with_the_new_task(synthetic_root: Path, tmp_path: Path) -> None:
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)[0]
    code = code.replace('Path("demo/scannet")', f"Path({str(synthetic_root)!r})")
    code = code.replace('Path("demo/', f'Path("{tmp_path}/')
    base.TASKS.unregister("object_height")
    try:
        exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
        rows = [r for r in read_samples(tmp_path / "height-dataset") if r["task"] == "object_height"]
    finally:
        base.TASKS.unregister("object_height")
    assert rows
    for r in rows:
        assert r["question"].startswith("How tall is the ")
        gt = load_ground_truth(synthetic_root, r["scene_id"])
        obj = next(o for o in gt.objects if o.object_id == r["objects"][0]["object_id"])
        height = (obj.aabb_max[2] - obj.aabb_min[2]) * 100
        assert abs(int(r["answer"]) - height) <= 0.5 + 0.2
        assert int(r["answer"]) >= 30


def test_entry_point_plugins_are_loaded_on_demand(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = []

    def load() -> None:
        loaded.append(True)

        @base.register_task("plugin_task")
        class Plugin(base.TaskGenerator):
            answer_type = base.AnswerType.NUMERIC
            supported = (base.Modality.VIDEO,)
            margins = ()

            def drafts(self, ctx, shown, rng: np.random.Generator, rejections):  # type: ignore[no-untyped-def]
                return iter(())

    fake = SimpleNamespace(name="plugin_task", value="x:y", load=load)
    monkeypatch.setattr(registry, "entry_points", lambda group: [fake] if group == base.ENTRY_POINT_GROUP else [])
    try:
        assert base.get_task("plugin_task").name == "plugin_task" and loaded
        with pytest.raises(KeyError, match="unknown task"):
            base.get_task("no_such_task")
    finally:
        base.TASKS.unregister("plugin_task")
