"""Size priors: a planted oversize object is flagged (by the build's own statistics and by the shipped table), never
asked about, and counted in the select stage's stats with its reason."""

import numpy as np
import pytest

from ladderdata.executor import LocalExecutor
from ladderdata.pipeline import BuildConfig, DraftRecord
from ladderdata.pipeline.config import Drafted, SceneDrafts
from ladderdata.pipeline.select import SelectStage
from ladderdata.pipeline.stage import BuildContext, StageStats
from ladderdata.recipe import Recipe
from ladderdata.sources.base import source_config
from ladderdata.tasks import Draft, Modality, ObjectRef
from ladderdata.tasks.plausibility import PlausibilityConfig, flag_implausible, shipped_priors

CONFIG = PlausibilityConfig()


def chairs(n: int, seed: int = 0) -> dict[tuple[str, int], tuple[str, float]]:
    """``n`` chairs of log-normal size around 80 cm (10% spread), one per scan."""
    sizes = 80.0 * np.exp(np.random.default_rng(seed).normal(0.0, 0.1, n))
    return {(f"scene{i:04d}_00", 1): ("chair", float(s)) for i, s in enumerate(sizes)}


def test_planted_oversize_object_is_flagged_by_the_builds_statistics() -> None:
    objects = chairs(40) | {("scene9000_00", 7): ("chair", 240.0)}  # a chair segment that swallowed a table
    flagged = flag_implausible(objects, CONFIG)
    assert [(f.scene_id, f.object_id, f.reason) for f in flagged] == [("scene9000_00", 7, "oversize")]
    assert flagged[0].prior.origin == "build" and flagged[0].prior.median_cm == pytest.approx(80, rel=0.05)
    assert flag_implausible(objects, PlausibilityConfig(enabled=False)) == []


def test_rare_categories_use_the_shipped_table_and_its_synonyms() -> None:
    priors = shipped_priors()
    assert priors["monitor"].origin == "shipped" and 50 < priors["monitor"].median_cm < 70
    assert priors["couch"] == priors["sofa"]
    assert priors["trash can"] == priors["trash bin"]  # both names in the table: the better-sampled one
    objects = {
        ("scene0001_00", 1): ("monitor", 60.0),
        ("scene0001_00", 2): ("monitor", 180.0),  # three times the median: bleed
        ("scene0001_00", 3): ("keyboard", 4.0),  # a sliver
        ("scene0001_00", 4): ("spaceship", 900.0),  # no prior anywhere: not judged
    }
    flagged = {(f.object_id, f.reason) for f in flag_implausible(objects, CONFIG)}
    assert flagged == {(2, "oversize"), (3, "undersize")}


def record(scene: str, object_ids: list[int]) -> DraftRecord:
    draft = Draft(
        template="object_size_estimation",
        fields={"object": "chair"},
        answer="80",
        objects=[ObjectRef(object_id=i, category="chair", role="object", visibility=1.0) for i in object_ids],
    )
    return DraftRecord(
        task="object_size_estimation",
        modality=Modality.SINGLE_IMAGE,
        scene_id=scene,
        frame_ids=[0],
        timestamps=[0.0],
        image_width=64,
        image_height=48,
        draft=draft,
    )


def test_select_stage_drops_questions_about_implausible_objects(tmp_path: object) -> None:
    sizes = chairs(30)
    scenes = [
        SceneDrafts(
            scan_id=scan_id,
            key="k",
            views=1,
            records=[record(scan_id, [object_id])],
            rejections={},
            object_sizes={object_id: size} if scan_id != "scene0003_00" else {1: ("chair", 260.0)},
        )
        for (scan_id, object_id), size in sorted(sizes.items())
    ]
    recipe = Recipe(name="sizes", tasks={"object_size_estimation": {}})
    config = BuildConfig(source=source_config("scannet", root="."), out="out", recipe=recipe)
    stats = StageStats()
    selection = SelectStage().run(BuildContext(config, LocalExecutor(), None), Drafted(scenes, {}), stats)
    kept = [r.scene_id for rs in selection.groups.values() for r in rs]
    assert "scene0003_00" not in kept and len(kept) == 29
    assert stats.counters["implausible objects (oversize)"] == 1
    assert stats.counters["drafts naming an implausible object"] == 1
