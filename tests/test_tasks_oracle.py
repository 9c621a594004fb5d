"""Every generated answer, recomputed from the synthetic ground truth (closed-form geometry written by the
synthesiser), never from the generators' own code."""

import json
import math
from collections import Counter
from typing import Any

import numpy as np
import pytest

from fixtures.factories import BuiltDataset, load_ground_truth, project_aabb, read_samples
from ladderdata.layout import DatasetLayout
from ladderdata.metadata.extract import metadata_path, read_views
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig
from ladderdata.synth.scannet import COLOR_K
from ladderdata.synth.truth import SyntheticGroundTruth

ALL_TASKS = {
    "object_counting",
    "object_abs_distance",
    "object_size_estimation",
    "room_size_estimation",
    "object_rel_distance",
    "object_rel_direction",
    "obj_appearance_order",
}


class Oracle:
    def __init__(self, built: BuiltDataset) -> None:
        self.built = built
        self.source = ScanNetSource(ScanNetSourceConfig(root=built.root))
        self._gt: dict[str, SyntheticGroundTruth] = {}

    def gt(self, scan: str) -> SyntheticGroundTruth:
        if scan not in self._gt:
            self._gt[scan] = load_ground_truth(self.built.root, scan)
        return self._gt[scan]

    def center(self, scan: str, object_id: int) -> np.ndarray:
        box = next(o.box for o in self.gt(scan).objects if o.object_id == object_id)
        assert box is not None
        return np.array(box.center)

    def distance(self, scan: str, a: int, b: int) -> float:
        lo, hi = sorted((a, b))
        return next(d.distance for d in self.gt(scan).distances if (d.a, d.b) == (lo, hi))

    def pose(self, scan: str, frame_id: int) -> np.ndarray:
        """Aligned camera-to-world from the raw stored pose and the ground-truth alignment."""
        frames = self.source.open_frames(scan)
        assert frames is not None
        alignment = np.array(self.gt(scan).axis_alignment)
        return np.asarray(alignment @ frames.raw_poses[frames.position(frame_id)], dtype=np.float64)


@pytest.fixture(scope="module")
def oracle(built_dataset: BuiltDataset) -> Oracle:
    return Oracle(built_dataset)


@pytest.fixture(scope="module")
def samples(built_dataset: BuiltDataset) -> list[dict[str, Any]]:
    return read_samples(built_dataset.out)


def by_role(sample: dict[str, Any], role: str) -> dict[str, Any]:
    return next(o for o in sample["objects"] if o["role"] == role)


def chosen(sample: dict[str, Any]) -> str:
    options = {o.split(". ", 1)[0]: o.split(". ", 1)[1] for o in sample["options"]}
    return str(options[sample["answer"]])


def of(samples: list[dict[str, Any]], task: str) -> list[dict[str, Any]]:
    rows = [s for s in samples if s["task"] == task]
    assert rows, f"no {task} samples were generated"
    return rows


def test_every_task_and_modality_of_table_6_is_generated(samples: list[dict[str, Any]]) -> None:
    got = {(s["task"], s["modality"]) for s in samples}
    expected = {
        (t, m)
        for t in ALL_TASKS - {"object_counting", "room_size_estimation", "obj_appearance_order"}
        for m in ("single_image", "multi_view", "video")
    }
    expected |= {("object_counting", "multi_view"), ("object_counting", "video")}
    expected |= {("room_size_estimation", "video"), ("obj_appearance_order", "video")}
    assert expected <= got
    assert {(s["modality"], len(s["frame_ids"])) for s in samples if s["modality"] == "single_image"} == {
        ("single_image", 1)
    }
    assert all(len(s["frame_ids"]) == 8 for s in samples if s["modality"] == "multi_view")
    videos = [s for s in samples if s["modality"] == "video"]
    assert videos and all(8 <= len(s["frame_ids"]) <= 16 for s in videos)
    assert all(
        s["timestamps"] == sorted(s["timestamps"]) and len(set(s["timestamps"])) == len(s["timestamps"]) for s in videos
    )


def test_abs_distance_equals_closed_form(samples: list[dict[str, Any]], oracle: Oracle) -> None:
    for s in of(samples, "object_abs_distance"):
        a, b = by_role(s, "object1")["object_id"], by_role(s, "object2")["object_id"]
        truth = oracle.distance(s["scene_id"], a, b)
        value = float(s["answer"])
        step = 0.01 if value < 1 else 0.1
        assert abs(value - truth) <= step / 2 + 0.002, (s["question"], value, truth)
        sizes = [o.size_cm for o in oracle.gt(s["scene_id"]).objects if o.object_id in (a, b) and o.size_cm is not None]
        assert len(sizes) == 2
        assert truth > min(sizes) / 100  # the filter held on the true geometry too


def test_size_equals_closed_form(samples: list[dict[str, Any]], oracle: Oracle) -> None:
    for s in of(samples, "object_size_estimation"):
        oid = by_role(s, "object")["object_id"]
        truth = next(o.size_cm for o in oracle.gt(s["scene_id"]).objects if o.object_id == oid)
        assert truth is not None
        assert abs(int(s["answer"]) - truth) <= 0.5 + 0.2, (s["question"], s["answer"], truth)


def test_room_size_equals_polygon_area(samples: list[dict[str, Any]], oracle: Oracle) -> None:
    for s in of(samples, "room_size_estimation"):
        truth = oracle.gt(s["scene_id"]).floor_area
        assert abs(float(s["answer"]) - truth) <= 0.05 + 0.002 * truth


def test_rel_distance_picks_the_truly_closest(samples: list[dict[str, Any]], oracle: Oracle) -> None:
    for s in of(samples, "object_rel_distance"):
        target = by_role(s, "target")["object_id"]
        cands = [o for o in s["objects"] if o["role"] == "candidate"]
        truth = {o["category"]: oracle.distance(s["scene_id"], target, o["object_id"]) for o in cands}
        nearest = min(truth, key=truth.__getitem__)
        assert chosen(s) == nearest
        ordered = sorted(truth.values())
        assert ordered[1] >= 1.9 * max(ordered[0], 0.01)


def test_quadrant_direction_matches_ground_truth_boxes(samples: list[dict[str, Any]], oracle: Oracle) -> None:
    rows = [s for s in of(samples, "object_rel_direction") if s["modality"] != "single_image"]
    assert rows
    for s in rows:
        scan = s["scene_id"]
        p, o, q = (
            oracle.center(scan, by_role(s, r)["object_id"])[:2] for r in ("positioning", "orienting", "querying")
        )
        forward = (o - p) / np.linalg.norm(o - p)
        left = np.array([-forward[1], forward[0]])  # z up: left of forward is forward rotated +90 degrees
        x, y = float((q - p) @ left), float((q - p) @ forward)
        expected = f"{'front' if y > 0 else 'back'}-{'left' if x > 0 else 'right'}"
        assert chosen(s) == expected, s["question"]
        assert s["margins"]["angle_margin_deg"] >= 15


def test_camera_direction_matches_projection_of_ground_truth(samples: list[dict[str, Any]], oracle: Oracle) -> None:
    rows = [s for s in of(samples, "object_rel_direction") if s["modality"] == "single_image"]
    for s in rows:
        scan, frame = s["scene_id"], s["frame_ids"][0]
        pose = oracle.pose(scan, frame)
        cam = {}
        for role in ("object1", "object2"):
            c = oracle.center(scan, by_role(s, role)["object_id"])
            cam[role] = pose[:3, :3].T @ (c - pose[:3, 3])
        u1 = COLOR_K.fx * cam["object1"][0] / cam["object1"][2] + COLOR_K.cx
        u2 = COLOR_K.fx * cam["object2"][0] / cam["object2"][2] + COLOR_K.cx
        answer = chosen(s)
        parts = set(answer.split("-"))
        if "left" in parts:
            assert u1 < u2
        if "right" in parts:
            assert u1 > u2
        if "front" in parts:
            assert cam["object1"][2] < cam["object2"][2] - 0.3
        if "back" in parts:
            assert cam["object1"][2] > cam["object2"][2] + 0.3
        if not parts & {"left", "right"}:
            assert abs(math.degrees(math.atan2(u1 - u2, COLOR_K.fx))) < 8
        if not parts & {"front", "back"}:
            assert abs(cam["object1"][2] - cam["object2"][2]) < 0.15


def test_counts_equal_instances_in_view(samples: list[dict[str, Any]], oracle: Oracle) -> None:
    """Truth: instances of the category whose true box centre lies inside some shown frame."""
    for s in of(samples, "object_counting"):
        scan = s["scene_id"]
        category = s["objects"][0]["category"]
        instances = [o for o in oracle.gt(scan).objects if o.label == category]
        seen = 0
        for inst in instances:
            assert inst.box is not None
            for frame in s["frame_ids"]:
                pose = oracle.pose(scan, frame)
                p = pose[:3, :3].T @ (np.array(inst.box.center) - pose[:3, 3])
                u, v = COLOR_K.fx * p[0] / p[2] + COLOR_K.cx, COLOR_K.fy * p[1] / p[2] + COLOR_K.cy
                if p[2] > 0.1 and 0 <= u < COLOR_K.width and 0 <= v < COLOR_K.height:
                    seen += 1
                    break
        assert int(s["answer"]) == seen, (s["question"], s["answer"], seen)
        assert all(o["category"] == category for o in s["objects"])


def test_appearance_order_follows_first_visible_frame(samples: list[dict[str, Any]], oracle: Oracle) -> None:
    cache = DatasetLayout(oracle.built.out).metadata_cache
    for s in of(samples, "obj_appearance_order"):
        views = {v.frame_id: v for v in read_views(metadata_path(cache, s["scene_id"]))}
        first: dict[str, int] = {}
        for k, frame in enumerate(s["frame_ids"]):
            for obj in views[frame].objects:
                if obj.visibility >= 0.4 and obj.category not in first:
                    first[obj.category] = k
        order = chosen(s).split(", ")
        times = [first[c] for c in order]
        assert times == sorted(times) and len(set(times)) == len(times), (order, times)


def test_localization_boxes_lie_inside_projected_ground_truth(built_dataset: BuiltDataset, oracle: Oracle) -> None:
    rows = read_samples(built_dataset.out, "localization")
    assert rows
    for s in rows:
        scan, frame = s["scene_id"], s["frame_ids"][0]
        pose = oracle.pose(scan, frame)
        boxes = json.loads(s["answer"])
        assert [b["label"] for b in boxes] == [o["category"] for o in s["objects"]]
        for obj, box in zip(s["objects"], boxes, strict=True):
            gt = next(o for o in oracle.gt(scan).objects if o.object_id == obj["object_id"])
            projected = project_aabb(gt.aabb_min, gt.aabb_max, pose, COLOR_K)
            if projected is None:
                continue  # the box straddles the camera plane: its projection is unbounded
            u, v = projected
            x1, y1, x2, y2 = box["bbox_2d"]
            assert 0 <= x1 < x2 <= s["image_width"] and 0 <= y1 < y2 <= s["image_height"]
            tol = 3
            assert x1 >= max(u.min(), 0) - tol and x2 <= min(u.max(), s["image_width"]) + tol, (box, u.min(), u.max())
            assert y1 >= max(v.min(), 0) - tol and y2 <= min(v.max(), s["image_height"]) + tol, (box, v.min(), v.max())


def test_referenced_objects_are_visible_and_unique(samples: list[dict[str, Any]]) -> None:
    for s in samples:
        if s["task"] in ("room_size_estimation",):
            continue
        assert min(o["visibility"] for o in s["objects"]) >= 0.4
        assert s["margins"]["visibility_min"] == pytest.approx(min(o["visibility"] for o in s["objects"]))
        if s["task"] != "object_counting":
            cats = Counter(o["category"] for o in s["objects"])
            assert max(cats.values()) == 1


def test_answer_letters_are_balanced(samples: list[dict[str, Any]]) -> None:
    groups: dict[tuple[str, str], Counter[str]] = {}
    for s in samples:
        if s["answer_type"] == "mcq":
            groups.setdefault((s["task"], s["modality"]), Counter())[s["answer"]] += 1
    assert groups
    for key, letters in groups.items():
        n_options = len(next(s["options"] for s in samples if (s["task"], s["modality"]) == key))
        counts = [letters.get(chr(65 + i), 0) for i in range(n_options)]
        assert max(counts) - min(counts) <= 1, (key, counts)


def test_numeric_rounding(samples: list[dict[str, Any]]) -> None:
    for s in samples:
        a = s["answer"]
        if s["task"] == "object_abs_distance":
            assert len(a.split(".")[1]) == (2 if float(a) < 1 else 1)
        elif s["task"] in ("object_size_estimation", "object_counting"):
            assert a.isdigit()
        elif s["task"] == "room_size_estimation":
            assert len(a.split(".")[1]) == 1


def test_stats_match_the_shards(built_dataset: BuiltDataset, samples: list[dict[str, Any]]) -> None:
    stats = json.loads((built_dataset.out / "stats.json").read_text())
    counts = Counter((s["task"], s["modality"]) for s in samples)
    for (task, modality), n in counts.items():
        assert stats["counts"]["spatial"][task][modality] == n
    manifest = json.loads((built_dataset.out / "manifest.json").read_text())
    assert sum(sh["rows"] for sh in manifest["shards"]) == sum(stats["rows"].values())
    assert "| Multi-View |" in (built_dataset.out / "stats.md").read_text()
    assert manifest["inputs"]["source"]["root"] == str(built_dataset.root.resolve())
    assert manifest["inputs"]["scan_ids"] == ["scene0000_00", "scene0001_00", "scene0002_00"]
    views = stats["scans"].pop("views")
    assert stats["scans"] == {"built": 3, "failed": {}, "unknown_labels": {}}
    assert sorted(views) == manifest["inputs"]["scan_ids"]
    assert all(0 < n <= 32 // 2 for n in views.values())  # 32 frames at stride 2, minus invalid poses
