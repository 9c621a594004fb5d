"""VSI-Bench's taxonomy: relative direction in its easy / medium / hard forms checked against the synthetic
ground truth, VSI-Bench's category names as a recipe option, and the ``source`` field."""

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fixtures.factories import BuiltDataset, all_drafts_recipe, load_ground_truth, read_samples, scannet
from fixtures.shared import shared_folder
from ladderdata.layout import DatasetLayout
from ladderdata.pipeline import BuildConfig, build_dataset
from ladderdata.recipe import Recipe
from ladderdata.synth.truth import SyntheticGroundTruth

FORMS = ("object_rel_direction_easy", "object_rel_direction_medium", "object_rel_direction_hard")
OPTIONS = {
    "object_rel_direction_easy": {"left", "right"},
    "object_rel_direction_medium": {"left", "right", "back"},
    "object_rel_direction_hard": {"front-left", "front-right", "back-left", "back-right"},
}
WORDING = {
    "object_rel_direction_easy": "If I am standing by the {p} and facing the {o}, is the {q} to the left or the right "
    "of the {o}?",
    "object_rel_direction_medium": "If I am standing by the {p} and facing the {o}, is the {q} to my left, right, or "
    "back?\nAn object is to my back if I would have to turn at least 135 degrees in order to face it.",
    "object_rel_direction_hard": "If I am standing by the {p} and facing the {o}, is the {q} to my front-left, "
    "front-right, back-left, or back-right?\nThe directions refer to the quadrants of a Cartesian plane (if I am "
    "standing at the origin and facing along the positive y-axis).",
}
MIN_MARGIN = 10.0


@pytest.fixture(scope="module")
def vsi_build(built_dataset: BuiltDataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three forms (plus counting and sizes, which name single objects) on the conftest scans, with
    VSI-Bench's category names; the per-view metadata cache is reused from the conftest build. Read-only."""

    def build(folder: Path) -> None:
        out = folder / "dataset"
        shutil.copytree(DatasetLayout(built_dataset.out).metadata_cache, DatasetLayout(out).metadata_cache)
        base = all_drafts_recipe()
        tasks: dict[str, dict[str, Any]] = {t: {"min_angle_margin_deg": MIN_MARGIN} for t in FORMS}
        tasks |= {"object_counting": {}, "object_size_estimation": {"modalities": ["video"]}}
        recipe = Recipe.model_validate(
            base.model_dump() | {"tasks": tasks, "category_names": "vsibench", "localization": "off"}
        )
        build_dataset(BuildConfig(source=scannet(built_dataset.root), out=out, split="all", recipe=recipe))

    return shared_folder(tmp_path_factory, "vsi-build", build) / "dataset"


def frame_coordinates(gt: SyntheticGroundTruth, p: int, o: int, q: int) -> tuple[float, float]:
    """Querying object in the frame standing at P facing O (floor plane, true box centres): (x, y) with y
    forward and x to the left (z up, so left is forward turned by +90°)."""
    centre = {obj.object_id: np.array(obj.box.center[:2]) for obj in gt.objects if obj.box is not None}
    forward = (centre[o] - centre[p]) / np.linalg.norm(centre[o] - centre[p])
    left = np.array([-forward[1], forward[0]])
    d = centre[q] - centre[p]
    return float(d @ left), float(d @ forward)


def expected_answer(form: str, x: float, y: float) -> str:
    if form == "object_rel_direction_easy":
        return "left" if x > 0 else "right"
    if form == "object_rel_direction_medium":
        # turning at least 135° to face it: the direction lies within 45° of straight back
        if y < 0 and abs(x) <= -y:
            return "back"
        return "left" if x > 0 else "right"
    return f"{'front' if y > 0 else 'back'}-{'left' if x > 0 else 'right'}"


def expected_margin(form: str, x: float, y: float) -> float:
    """Degrees from the direction to the nearest answer boundary, from the angle to the forward axis."""
    off_axis = math.degrees(math.atan2(abs(x), y))  # 0 = straight ahead, 180 = straight back
    if form == "object_rel_direction_easy":
        return min(off_axis, 180 - off_axis)
    if form == "object_rel_direction_medium":
        return min(off_axis, abs(off_axis - 135))
    return min(off_axis, 180 - off_axis, abs(off_axis - 90))


def role(sample: dict[str, Any], name: str) -> dict[str, Any]:
    return next(o for o in sample["objects"] if o["role"] == name)


def answer_text(sample: dict[str, Any]) -> str:
    options: dict[str, str] = dict(o.split(". ", 1) for o in sample["options"])
    return options[sample["answer"]]


def test_direction_forms_match_ground_truth(vsi_build: Path, built_dataset: BuiltDataset) -> None:
    samples = read_samples(vsi_build)
    gts: dict[str, SyntheticGroundTruth] = {}
    seen: dict[str, set[str]] = {form: set() for form in FORMS}
    for form in FORMS:
        rows = [s for s in samples if s["task"] == form]
        assert {s["modality"] for s in rows} == {"multi_view", "video"}, form
        for s in rows:
            gt = gts.setdefault(s["scene_id"], load_ground_truth(built_dataset.root, s["scene_id"]))
            ids = [role(s, r)["object_id"] for r in ("positioning", "orienting", "querying")]
            x, y = frame_coordinates(gt, *ids)
            assert answer_text(s) == expected_answer(form, x, y), (s["question"], x, y)
            assert {o.split(". ", 1)[1] for o in s["options"]} == OPTIONS[form]
            margin = s["margins"]["angle_margin_deg"]
            assert margin >= MIN_MARGIN
            assert margin == pytest.approx(expected_margin(form, x, y), abs=1.0)
            names = {r: role(s, r)["category"] for r in ("positioning", "orienting", "querying")}
            p, o, q = names["positioning"], names["orienting"], names["querying"]
            assert s["question"] == WORDING[form].format(p=p, o=o, q=q)
            seen[form].add(answer_text(s))
    assert len(seen["object_rel_direction_easy"]) == 2
    assert len(seen["object_rel_direction_medium"]) >= 2 and len(seen["object_rel_direction_hard"]) >= 3


def test_vsibench_category_names(vsi_build: Path, built_dataset: BuiltDataset) -> None:
    samples = read_samples(vsi_build)
    categories = {o["category"] for s in samples for o in s["objects"]}
    assert "trash can" not in categories and not any("trash can" in s["question"] for s in samples)
    renamed = [s for s in samples if any(o["category"] == "trash bin" for o in s["objects"])]
    assert renamed and all("trash bin" in s["question"] for s in renamed)
    # the renamed objects are the scans' trash cans
    for s in renamed:
        gt = load_ground_truth(built_dataset.root, s["scene_id"])
        labels = {o.object_id: o.label for o in gt.objects}
        assert {labels[o["object_id"]] for o in s["objects"] if o["category"] == "trash bin"} == {"trash can"}
    # without the option, ScanNet's names
    plain = read_samples(built_dataset.out)
    assert any(o["category"] == "trash can" for s in plain for o in s["objects"])


def test_category_names_option_is_validated() -> None:
    assert Recipe(category_names="vsibench").category_map()["couch"] == "sofa"
    assert Recipe(category_names={"tv": "television"}).category_map() == {"tv": "television"}
    assert Recipe().category_map() == {}
    with pytest.raises(ValueError, match="unknown category vocabulary"):
        Recipe(category_names="imagenet")


def test_every_row_names_its_source(vsi_build: Path, built_dataset: BuiltDataset) -> None:
    for out in (vsi_build, built_dataset.out):
        for subset in ("spatial", "localization"):
            if (out / "data" / subset).is_dir():
                rows = read_samples(out, subset)
                assert rows and {r["source"] for r in rows} == {"scannet"}
