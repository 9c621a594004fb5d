"""Camera and in-view question types (VSTI-Bench's family, ``ladderdata.tasks.camera_*`` / ``obj_obj_*``).

Every answer of a ``vsti`` build on synthetic scans is re-derived here from the scene's own construction (the
camera trajectory and the solid parts ``generate_scene`` made, the ground-truth boxes), without the generators'
helpers; and every filter is shown to reject a hand-made case built to be ambiguous.
"""

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fixtures.factories import load_ground_truth, make_synthetic_root, read_samples, scannet
from fixtures.shared import shared_folder
from ladderdata.bench.build import BenchBuildConfig, build_benchmarks
from ladderdata.errors import ConfigError
from ladderdata.eval.report import evaluate
from ladderdata.eval.scorers import SCORERS, scoring_modes
from ladderdata.geometry.boxes import OrientedBox
from ladderdata.geometry.camera import look_at
from ladderdata.io.dataset import BenchReader
from ladderdata.layout import FramesLayout
from ladderdata.metadata.config import ObjectInView, ViewRecord
from ladderdata.pipeline import BuildConfig, build_dataset
from ladderdata.recipe import Recipe
from ladderdata.synth.scannet import COLOR_K
from ladderdata.synth.scene import SyntheticScene, generate_scene
from ladderdata.tasks import Draft, ObjectFacts, Rejections, SceneContext, Shown, get_task
from test_task_filters import NO_GUARD_BANDS

FRAMES = 32
SEED = 0
NEW_TYPES = (
    "camera_displacement",
    "camera_movement_direction",
    "camera_obj_abs_dist",
    "camera_obj_rel_dist_v1",
    "camera_obj_rel_dist_v2",
    "camera_obj_rel_dist_v3",
    "obj_obj_relative_pos_nf",
    "obj_obj_relative_pos_lr",
    "obj_obj_relative_pos_ud",
    "obj_obj_visibility",
)


# ----------------------------------------------------------------------------------------------- the build


@pytest.fixture(scope="module")
def vsti_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """Two synthetic scans and the ``vsti`` recipe's questions on them (every frame); read-only."""

    def build(folder: Path) -> None:
        make_synthetic_root(folder / "scannet", scenes=2, frames=FRAMES, seed=SEED, layouts=[FramesLayout.SENS])
        recipe = Recipe.load("vsti").with_frame_stride(1)
        build_dataset(
            BuildConfig(source=scannet(folder / "scannet"), out=folder / "dataset", split="all", recipe=recipe)
        )

    folder = shared_folder(tmp_path_factory, "vsti-build", build)
    return folder / "scannet", read_samples(folder / "dataset")


_scenes: dict[str, SyntheticScene] = {}


def scene_of(scan_id: str) -> SyntheticScene:
    """The scene as ``generate_scene`` made it: its exact camera poses and solid parts (aligned frame)."""
    if scan_id not in _scenes:
        _scenes[scan_id] = generate_scene(int(scan_id[5:9]), SEED, FRAMES)
    return _scenes[scan_id]


def frame_numbers(question: str) -> list[int]:
    """1-based ``frame k`` references of a question, in the order it names them."""
    return [int(k) for k in re.findall(r"frame (\d+)", question)]


def view_pose(sample: dict[str, Any], k: int | None) -> np.ndarray:
    """(4, 4) true camera-to-world of shown frame ``k`` (1-based; None: the single image)."""
    frame = sample["frame_ids"][0 if k is None else k - 1]
    return np.asarray(scene_of(sample["scene_id"]).poses[frame], dtype=np.float64)


def the_frame(sample: dict[str, Any]) -> int | None:
    numbers = frame_numbers(sample["question"])
    if sample["modality"] == "single_image":
        assert "this image" in sample["question"] and not numbers
        return None
    assert len(numbers) == 1 and f"of {len(sample['frame_ids'])}" in sample["question"]
    return numbers[0]


def answer_text(sample: dict[str, Any]) -> str:
    options: dict[str, str] = dict(o.split(". ", 1) for o in sample["options"])
    return options[sample["answer"]]


def surface_distance(scan_id: str, object_id: int, point: np.ndarray) -> float:
    """Metres from a point outside the object to its solid parts (the object is their union)."""
    obj = next(o for o in scene_of(scan_id).objects if o.object_id == object_id)
    return min(float(part.distance_from_points(point[None])[0]) for part in obj.parts)


def true_box_corners(root: Path, scan_id: str, object_id: int) -> np.ndarray:
    """(8, 3) world corners of the object's ground-truth gravity-aligned box."""
    box = next(o.box for o in load_ground_truth(root, scan_id).objects if o.object_id == object_id)
    assert box is not None
    c, s = math.cos(box.yaw), math.sin(box.yaw)
    local = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * np.array(box.size) / 2
    return np.asarray(local @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T + np.array(box.center))


def in_camera(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    return np.asarray((points - pose[:3, 3]) @ pose[:3, :3])


def role_ids(sample: dict[str, Any]) -> dict[str, int]:
    return {o["role"]: o["object_id"] for o in sample["objects"]}


def test_every_new_type_on_every_supported_modality(vsti_build: tuple[Path, list[dict[str, Any]]]) -> None:
    _, samples = vsti_build
    made = {(s["task"], s["modality"]) for s in samples}
    for task in NEW_TYPES:
        for modality in get_task(task).supported:
            assert (task, modality.value) in made, (task, modality)


def test_camera_displacement(vsti_build: tuple[Path, list[dict[str, Any]]]) -> None:
    _, samples = vsti_build
    rows = [s for s in samples if s["task"] == "camera_displacement"]
    for s in rows:
        start, end = frame_numbers(s["question"])
        assert start < end and f"frame {end} of {len(s['frame_ids'])}" in s["question"]
        moved = float(np.linalg.norm(view_pose(s, end)[:3, 3] - view_pose(s, start)[:3, 3]))
        assert float(s["answer"]) == pytest.approx(moved, abs=0.05 + 1e-6)
        assert s["margins"]["displacement_over_noise"] == pytest.approx(moved / 0.05, rel=1e-6)
        assert moved >= 0.2
    assert len(rows) >= 10


def test_camera_movement_direction(vsti_build: tuple[Path, list[dict[str, Any]]]) -> None:
    _, samples = vsti_build
    rows = [s for s in samples if s["task"] == "camera_movement_direction"]
    answers = set()
    for s in rows:
        start, end = frame_numbers(s["question"])
        first, last = view_pose(s, start), view_pose(s, end)
        forward = first[:2, 2] / np.linalg.norm(first[:2, 2])  # optical axis in the floor plane
        left = np.array([-forward[1], forward[0]])  # counter-clockwise seen from above (z up)
        moved = last[:2, 3] - first[:2, 3]
        along, across = float(moved @ forward), float(moved @ left)
        if abs(along) > abs(across):
            expected = "Forward" if along > 0 else "Backward"
        else:
            expected = "Left" if across > 0 else "Right"
        assert answer_text(s) == expected, s["question"]
        # the margin: degrees from the nearest diagonal (where |along| = |across|)
        off = math.degrees(math.atan2(abs(across), abs(along)))
        assert s["margins"]["angle_margin_deg"] == pytest.approx(abs(off - 45.0), abs=1e-3)
        assert s["margins"]["angle_margin_deg"] >= 15.0
        assert sorted(o.split(". ", 1)[1] for o in s["options"]) == ["Backward", "Forward", "Left", "Right"]
        answers.add(expected)
    assert len(rows) >= 10 and len(answers) >= 2


def test_camera_obj_abs_dist(vsti_build: tuple[Path, list[dict[str, Any]]]) -> None:
    _, samples = vsti_build
    rows = [s for s in samples if s["task"] == "camera_obj_abs_dist"]
    for s in rows:
        pose = view_pose(s, the_frame(s))
        (obj,) = s["objects"]
        truth = surface_distance(s["scene_id"], obj["object_id"], pose[:3, 3])
        assert float(s["answer"]) == pytest.approx(truth, abs=0.05 + 2e-3), s["question"]
        assert f"nearest point of the {obj['category']} in" in s["question"]
    assert len(rows) >= 10


@pytest.mark.parametrize(
    "task,n", [("camera_obj_rel_dist_v1", 4), ("camera_obj_rel_dist_v2", 3), ("camera_obj_rel_dist_v3", 2)]
)
def test_camera_obj_rel_dist(vsti_build: tuple[Path, list[dict[str, Any]]], task: str, n: int) -> None:
    _, samples = vsti_build
    rows = [s for s in samples if s["task"] == task]
    for s in rows:
        pose = view_pose(s, the_frame(s))
        assert len(s["options"]) == len(s["objects"]) == n
        distance = {o["category"]: surface_distance(s["scene_id"], o["object_id"], pose[:3, 3]) for o in s["objects"]}
        ranked = sorted(distance, key=distance.__getitem__)
        assert answer_text(s) == ranked[0], s["question"]
        ratio = distance[ranked[1]] / distance[ranked[0]]
        assert s["margins"]["distance_ratio"] == pytest.approx(ratio, rel=0.01)
        assert s["margins"]["distance_ratio"] >= 1.5 and distance[ranked[0]] >= 0.5 - 1e-3
    assert rows


def _gap(a: np.ndarray, b: np.ndarray) -> float:
    """How far every value of ``a`` lies above every value of ``b``."""
    return float(a.min() - b.max())


def test_obj_obj_relative_position(vsti_build: tuple[Path, list[dict[str, Any]]]) -> None:
    root, samples = vsti_build
    counts = {"nf": 0, "lr": 0, "ud": 0}
    for s in samples:
        kind = s["task"].removeprefix("obj_obj_relative_pos_")
        if kind not in counts:
            continue
        counts[kind] += 1
        pose = view_pose(s, the_frame(s))
        ids = role_ids(s)
        world_a = true_box_corners(root, s["scene_id"], ids["object_a"])
        world_b = true_box_corners(root, s["scene_id"], ids["object_b"])
        a, b = in_camera(world_a, pose), in_camera(world_b, pose)
        names = {o["role"]: o["category"] for o in s["objects"]}
        assert f"{names['object_a']}" in s["question"] and f"{names['object_b']}" in s["question"]
        m = s["margins"]
        if kind == "nf":  # depth along the optical axis
            near, far = _gap(b[:, 2], a[:, 2]), _gap(a[:, 2], b[:, 2])
            expected, gap = ("Near", near) if near > 0 else ("Far", far)
            assert gap >= 0.15 and m["depth_gap"] == pytest.approx(gap, abs=1e-4)
        elif kind == "lr":  # image x grows to the right
            ha, hb = np.degrees(np.arctan2(a[:, 0], a[:, 2])), np.degrees(np.arctan2(b[:, 0], b[:, 2]))
            right = _gap(ha, hb) > 0
            expected = "Right" if right else "Left"
            deg = _gap(ha, hb) if right else _gap(hb, ha)
            metres = _gap(a[:, 0], b[:, 0]) if right else _gap(b[:, 0], a[:, 0])
            assert deg >= 2.0 and metres >= 0.15
            assert m["lateral_gap_deg"] == pytest.approx(deg, abs=1e-3)
            assert m["lateral_gap_m"] == pytest.approx(metres, abs=1e-4)
        else:  # gravity (world z) and the image's vertical (camera -y)
            up = _gap(world_a[:, 2], world_b[:, 2]) > 0
            expected = "Up" if up else "Down"
            metres = _gap(world_a[:, 2], world_b[:, 2]) if up else _gap(world_b[:, 2], world_a[:, 2])
            ea, eb = np.degrees(np.arctan2(-a[:, 1], a[:, 2])), np.degrees(np.arctan2(-b[:, 1], b[:, 2]))
            deg = _gap(ea, eb) if up else _gap(eb, ea)
            assert metres >= 0.15 and deg >= 2.0
            assert m["vertical_gap_m"] == pytest.approx(metres, abs=1e-4)
            assert m["vertical_gap_deg"] == pytest.approx(deg, abs=1e-3)
        assert answer_text(s) == expected, s["question"]
    assert min(counts.values()) >= 5, counts


# --------------------------------------------------------------------------------- visibility, ray cast here


def _segment_hits_cuboids(origin: np.ndarray, points: np.ndarray, parts: list[Any]) -> np.ndarray:
    """(N,) whether the segment from ``origin`` to each point passes through a solid part before reaching it
    (slab test in each part's own frame)."""
    blocked = np.zeros(len(points), dtype=bool)
    for part in parts:
        o = (origin - part.center) @ part.rotation  # (3,)
        d = (points - part.center) @ part.rotation - o  # (N, 3): the segments, t in [0, 1]
        half = np.asarray(part.size) / 2
        parallel = d == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (-half - o) / d, (half - o) / d
        within = np.abs(o) <= half  # a segment parallel to a slab is inside it everywhere or nowhere
        lo = np.where(parallel, np.where(within, -np.inf, np.inf), np.minimum(t1, t2))
        hi = np.where(parallel, np.where(within, np.inf, -np.inf), np.maximum(t1, t2))
        near, far = lo.max(axis=1), hi.min(axis=1)
        blocked |= (near < far) & (near < 1 - 1e-4) & (far > 1e-4)
    return blocked


def _walls_hit(
    origin: np.ndarray, points: np.ndarray, panels: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> np.ndarray:
    blocked = np.zeros(len(points), dtype=bool)
    for corner, u, v in panels:
        normal = np.cross(u, v)
        d = points - origin
        denom = d @ normal
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((corner - origin) @ normal) / denom
        hit = origin + t[:, None] * d - corner
        a, b = hit @ u / (u @ u), hit @ v / (v @ v)
        blocked |= (t > 1e-4) & (t < 1 - 1e-4) & (a >= 0) & (a <= 1) & (b >= 0) & (b <= 1)
    return blocked


def visible_fraction(scene: SyntheticScene, object_id: int, pose: np.ndarray, spacing: float = 0.03) -> float:
    """Area fraction of the object's parts' faces inside the colour image and hidden by no other object (samples
    on a grid over every face, each segment to the camera tested against the solid parts of every other object
    and the walls; as ladder defines visibility, the object's own back faces do not count against it)."""
    obj = next(o for o in scene.objects if o.object_id == object_id)
    points, weights = [], []
    for part in obj.parts:
        size = np.asarray(part.size)
        for axis in range(3):
            u_axis, v_axis = [k for k in range(3) if k != axis]
            nu, nv = max(1, math.ceil(size[u_axis] / spacing)), max(1, math.ceil(size[v_axis] / spacing))
            gu = (np.arange(nu) + 0.5) / nu - 0.5
            gv = (np.arange(nv) + 0.5) / nv - 0.5
            uu, vv = np.meshgrid(gu * size[u_axis], gv * size[v_axis])
            for sign in (-1.0, 1.0):
                local = np.zeros((uu.size, 3))
                local[:, u_axis], local[:, v_axis], local[:, axis] = uu.ravel(), vv.ravel(), sign * size[axis] / 2
                points.append(local @ part.rotation.T + part.center)
                weights.append(np.full(uu.size, size[u_axis] * size[v_axis] / uu.size))
    p, w = np.concatenate(points), np.concatenate(weights)
    cam = in_camera(p, pose)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = COLOR_K.fx * cam[:, 0] / cam[:, 2] + COLOR_K.cx
        v = COLOR_K.fy * cam[:, 1] / cam[:, 2] + COLOR_K.cy
    inside = (cam[:, 2] > 0.05) & (u >= -0.5) & (u < COLOR_K.width - 0.5) & (v >= -0.5) & (v < COLOR_K.height - 0.5)
    parts = [part for o in scene.objects if o.object_id != object_id for part in o.parts]
    walls = [panel for o in scene.objects if o.label == "wall" for panel in o.panels]
    origin = pose[:3, 3]
    seen = inside.copy()
    seen[inside] &= ~_segment_hits_cuboids(origin, p[inside], parts) & ~_walls_hit(origin, p[inside], walls)
    return float(w[seen].sum() / w.sum())


def test_obj_obj_visibility(vsti_build: tuple[Path, list[dict[str, Any]]]) -> None:
    _, samples = vsti_build
    rows = [s for s in samples if s["task"] == "obj_obj_visibility"]
    for s in rows:
        pose = view_pose(s, the_frame(s))
        scene = scene_of(s["scene_id"])
        truth = {o["category"]: visible_fraction(scene, o["object_id"], pose) for o in s["objects"]}
        more = max(truth, key=truth.__getitem__)
        assert answer_text(s) == more, (s["question"], truth)
        stored = sorted((o["visibility"] for o in s["objects"]), reverse=True)
        assert sorted(truth.values(), reverse=True) == pytest.approx(stored, abs=0.08), (s["question"], truth)
        assert s["margins"]["visibility_gap"] >= 0.2 and s["margins"]["visibility_ratio"] >= 1.5
    assert len(rows) >= 10


# ------------------------------------------------------------------------------ filters on hand-made scenes


def cube_scene(
    objects: dict[int, tuple[str, tuple[float, float, float], float]], views: list[ViewRecord]
) -> SceneContext:
    """Objects: id -> (category, centre, cube side); camera-to-cube distances analytic."""
    facts = {
        i: ObjectFacts(i, cat, cat, OrientedBox(center=c, size=(s, s, s), yaw=0.0), s * 100)
        for i, (cat, c, s) in objects.items()
    }

    def to_point(i: int, points: np.ndarray) -> np.ndarray:
        excess = np.maximum(np.abs(points - np.array(objects[i][1])) - objects[i][2] / 2, 0.0)
        return np.asarray(np.linalg.norm(excess, axis=1))

    return SceneContext("scene9999_00", None, facts, views, lambda a, b: 1.0, None, point_distance_fn=to_point)


def make_view(visibility: dict[int, float], categories: dict[int, str], pose: np.ndarray, frame: int = 0) -> ViewRecord:
    objs = [
        ObjectInView(
            object_id=i,
            label=categories[i],
            category=categories[i],
            visibility=v,
            in_frustum=v,
            pixel_fraction=0.1,
            bbox_2d=[10.0, 10.0, 60.0, 80.0],
            depth_min=1.0,
            depth_median=1.5,
            centroid_cam=[0.0, 0.0, 1.0],
        )
        for i, v in visibility.items()
    ]
    return ViewRecord(
        frame_id=frame,
        timestamp_us=frame * 100_000,
        cam_to_world=pose.reshape(-1).tolist(),
        image_width=1296,
        image_height=968,
        sharpness=None,
        depth_agreement=None,
        objects=objs,
    )


def run(task: str, ctx: SceneContext, shown: Shown, **config: object) -> tuple[list[Draft], Rejections]:
    """Drafts with the thresholds alone: these cases sit on them (tests/test_guard_bands.py checks the bands)."""
    cls = get_task(task)
    gen = cls(cls.config_class.model_validate(config), NO_GUARD_BANDS)
    rejections = Rejections()
    return list(gen.drafts(ctx, shown, np.random.default_rng(0), rejections)), rejections


def facing_north(x: float, y: float, z: float = 1.5, pitch_down: float = 0.0) -> np.ndarray:
    """A camera at (x, y, z) looking along world +y, tilted down by ``pitch_down`` metres per metre."""
    return look_at(np.array([x, y, z]), np.array([x, y + 1.0, z - pitch_down]))


def test_displacement_below_pose_noise_is_rejected() -> None:
    ctx = cube_scene({}, [])
    small = Shown([make_view({}, {}, facing_north(0, 0), 0), make_view({}, {}, facing_north(0.1, 0.1), 1)])
    kept, rej = run("camera_displacement", ctx, small)
    assert kept == [] and rej.counts["displacement_over_noise"] == 1  # 0.14 m < 4 x 5 cm
    clear = Shown([make_view({}, {}, facing_north(0, 0), 0), make_view({}, {}, facing_north(0.6, 0.8), 1)])
    (draft,), _ = run("camera_displacement", ctx, clear)
    assert draft.answer == "1.0" and draft.margins["displacement_over_noise"] == pytest.approx(20.0)
    assert draft.fields == {"start_frame_description": "frame 1", "end_frame_description": "frame 2 of 2"}


@pytest.mark.parametrize(
    "dx,dy,expected",
    [(0.0, 1.0, "Forward"), (0.0, -1.0, "Backward"), (-1.0, 0.2, "Left"), (1.0, -0.3, "Right")],
)
def test_movement_direction_in_the_first_frames_heading(dx: float, dy: float, expected: str) -> None:
    # the first camera looks north and down (pitched): forward is north in the floor plane, left is west
    first = facing_north(0, 0, pitch_down=0.8)
    shown = Shown([make_view({}, {}, first, 0), make_view({}, {}, facing_north(dx, dy, pitch_down=0.1), 1)])
    (draft,), _ = run("camera_movement_direction", cube_scene({}, []), shown)
    assert draft.choices[0] == expected and sorted(draft.choices) == ["Backward", "Forward", "Left", "Right"]


def test_movement_near_a_diagonal_is_rejected() -> None:
    # 40° left of forward: 5° from the forward/left boundary
    angle = math.radians(40)
    moved = (-math.sin(angle), math.cos(angle))
    shown = Shown([make_view({}, {}, facing_north(0, 0), 0), make_view({}, {}, facing_north(*moved), 1)])
    kept, rej = run("camera_movement_direction", cube_scene({}, []), shown)
    assert kept == [] and rej.counts["angle_margin"] == 1
    (draft,), _ = run("camera_movement_direction", cube_scene({}, []), shown, min_angle_margin_deg=4)
    assert draft.choices[0] == "Forward" and draft.margins["angle_margin_deg"] == pytest.approx(5.0)


def test_camera_object_distance_and_per_frame_uniqueness() -> None:
    cats = {1: "chair", 2: "chair", 3: "lamp"}
    objects = {
        1: ("chair", (0.0, 3.0, 0.5), 0.5),
        2: ("chair", (2.0, 4.0, 0.5), 0.5),
        3: ("lamp", (0.0, 0.15, 1.5), 0.2),
    }
    pose = facing_north(0, 0)
    # frame 1 shows one chair, frame 2 both: "the chair in frame 1" is unambiguous, in frame 2 it is not
    views = [make_view({1: 0.9}, cats, pose, 0), make_view({1: 0.9, 2: 0.8}, cats, pose, 1)]
    ctx = cube_scene(objects, views)
    kept, rej = run("camera_obj_abs_dist", ctx, Shown(views))
    assert [d.fields["frame_description"] for d in kept] == ["frame 1 of 2"]
    assert float(kept[0].answer) == pytest.approx(math.dist((0, 0, 1.5), (0, 2.75, 0.75)), abs=0.05)
    assert rej.counts["not_unique"] == 2
    # the lamp hangs 5 cm in front of the camera: too close to ask about
    near = [make_view({3: 0.9}, cats, pose, 0)]
    kept, rej = run("camera_obj_abs_dist", cube_scene(objects, near), Shown(near))
    assert kept == [] and rej.counts["distance_range"] == 1


def test_camera_obj_abs_dist_is_to_the_closest_surface_point() -> None:
    pose = facing_north(0, 0)
    views = [make_view({1: 0.9}, {1: "chair"}, pose)]
    ctx = cube_scene({1: ("chair", (1.0, 3.0, 0.5), 0.5)}, views)
    (draft,), _ = run("camera_obj_abs_dist", ctx, Shown(views))
    # closest point of the cube [0.75, 1.25] x [2.75, 3.25] x [0.25, 0.75] to (0, 0, 1.5)
    assert float(draft.answer) == pytest.approx(math.dist((0, 0, 1.5), (0.75, 2.75, 0.75)), abs=0.05)


def test_camera_obj_rel_dist_ratio_filter() -> None:
    cats = {1: "chair", 2: "table"}
    pose = facing_north(0, 0, z=0.5)
    views = [make_view({1: 0.9, 2: 0.9}, cats, pose)]
    close = cube_scene({1: ("chair", (0.0, 2.25, 0.5), 0.5), 2: ("table", (0.0, 2.65, 0.5), 0.5)}, views)
    kept, rej = run("camera_obj_rel_dist_v3", close, Shown(views))  # 2.0 m against 2.4 m: ratio 1.2
    assert kept == [] and rej.counts["distance_ratio"] >= 1
    clear = cube_scene({1: ("chair", (0.0, 2.25, 0.5), 0.5), 2: ("table", (0.0, 4.25, 0.5), 0.5)}, views)
    kept, _ = run("camera_obj_rel_dist_v3", clear, Shown(views))
    assert kept and kept[0].choices[0] == "chair" and kept[0].margins["distance_ratio"] == pytest.approx(2.0)


def test_near_far_needs_separated_depths() -> None:
    cats = {1: "chair", 2: "table"}
    pose = facing_north(0, 0, z=0.5)
    views = [make_view({1: 0.9, 2: 0.9}, cats, pose)]
    overlapping = cube_scene({1: ("chair", (-1.0, 3.0, 0.5), 0.6), 2: ("table", (1.0, 3.4, 0.5), 0.6)}, views)
    kept, rej = run("obj_obj_relative_pos_nf", overlapping, Shown(views))
    assert kept == [] and rej.counts["gap"] == 2  # depths [2.7, 3.3] and [3.1, 3.7] overlap, either way round
    apart = cube_scene({1: ("chair", (-1.0, 3.0, 0.5), 0.6), 2: ("table", (1.0, 4.0, 0.5), 0.6)}, views)
    kept, _ = run("obj_obj_relative_pos_nf", apart, Shown(views))
    answers = {(d.fields["obj_A_name"], d.choices[0]) for d in kept}
    assert answers == {("chair", "Near"), ("table", "Far")}
    assert all(d.margins["depth_gap"] == pytest.approx(0.4) for d in kept)


def test_left_right_needs_image_and_metric_sides_to_agree() -> None:
    cats = {1: "lamp", 2: "plant"}
    pose = facing_north(0, 0, z=0.5)
    views = [make_view({1: 0.9, 2: 0.9}, cats, pose)]
    # the lamp is near and 0.3 m left; the plant far and 0.9 m left: in the image the lamp is further left
    # (-30° to -12° against -7° to -6°), in metres the plant is (VSTI-Bench's rule: the lamp is to its right)
    conflict = cube_scene({1: ("lamp", (-0.3, 0.8, 0.5), 0.2), 2: ("plant", (-0.9, 8.0, 0.5), 0.2)}, views)
    kept, rej = run("obj_obj_relative_pos_lr", conflict, Shown(views))
    assert kept == [] and rej.counts["gap"] == 2
    agree = cube_scene({1: ("lamp", (-1.0, 2.0, 0.5), 0.2), 2: ("plant", (0.8, 3.0, 0.5), 0.2)}, views)
    kept, _ = run("obj_obj_relative_pos_lr", agree, Shown(views))
    assert {(d.fields["obj_A_name"], d.choices[0]) for d in kept} == {("lamp", "Left"), ("plant", "Right")}


def test_up_down_needs_a_vertical_gap_and_everything_in_front() -> None:
    cats = {1: "picture", 2: "sofa"}
    pose = facing_north(0, 0, z=1.0)
    views = [make_view({1: 0.9, 2: 0.9}, cats, pose)]
    touching = cube_scene({1: ("picture", (0.0, 4.0, 1.3), 0.4), 2: ("sofa", (0.5, 4.0, 0.55), 1.1)}, views)
    kept, rej = run("obj_obj_relative_pos_ud", touching, Shown(views))
    assert kept == [] and rej.counts["gap"] == 2  # heights [1.1, 1.5] and [0, 1.1]: no gap
    above = cube_scene({1: ("picture", (0.0, 4.0, 1.8), 0.4), 2: ("sofa", (0.5, 4.0, 0.55), 1.1)}, views)
    kept, _ = run("obj_obj_relative_pos_ud", above, Shown(views))
    assert {(d.fields["obj_A_name"], d.choices[0]) for d in kept} == {("picture", "Up"), ("sofa", "Down")}
    assert all(d.margins["vertical_gap_m"] == pytest.approx(0.5) for d in kept)
    behind = cube_scene({1: ("picture", (0.0, 0.0, 1.8), 0.4), 2: ("sofa", (0.5, 4.0, 0.55), 1.1)}, views)
    kept, rej = run("obj_obj_relative_pos_ud", behind, Shown(views))
    assert kept == [] and rej.counts["behind_camera"] == 2


def test_visibility_comparison_filters() -> None:
    cats = {1: "chair", 2: "table"}
    pose = facing_north(0, 0)
    objects = {1: ("chair", (0.0, 3.0, 0.5), 0.5), 2: ("table", (1.0, 3.0, 0.5), 0.5)}
    for visibility, rejection in (({1: 0.8, 2: 0.6}, "visibility_ratio"), ({1: 0.2, 2: 0.1}, "visibility_gap")):
        views = [make_view(visibility, cats, pose)]
        kept, rej = run("obj_obj_visibility", cube_scene(objects, views), Shown(views))
        assert kept == [] and rej.counts[rejection] == 1
    views = [make_view({1: 0.3, 2: 0.9}, cats, pose)]
    (draft,), _ = run("obj_obj_visibility", cube_scene(objects, views), Shown(views))
    assert draft.choices == ["table", "chair"] and draft.margins["visibility_ratio"] == pytest.approx(3.0)
    # an object barely in the frame is not named at all
    views = [make_view({1: 0.05, 2: 0.9}, cats, pose)]
    kept, rej = run("obj_obj_visibility", cube_scene(objects, views), Shown(views))
    assert kept == [] and rej.counts["visibility"] == 1


# ----------------------------------------------------------------------------------------- benchmark, scoring


def test_vsti_video_benchmark_scores_its_ground_truth_100(
    vsti_build: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    root, _ = vsti_build
    bench = tmp_path / "bench"
    summaries = build_benchmarks(
        BenchBuildConfig(
            source=scannet(root), out=bench, benchmarks=["vsi-video", "vsti-video"], split="all", frame_stride=1
        )
    )
    assert sum(summaries["vsti-video"].rows.values())
    rows = list(BenchReader(bench).rows())
    vsti_types = set(NEW_TYPES) - {"obj_obj_visibility"}  # VSTI-Bench's own types: its scorer stops at others
    assert {r.task for r in rows if r.benchmark == "vsti-video"} == vsti_types
    predictions = tmp_path / "truth.jsonl"
    predictions.write_text("".join(json.dumps({"id": r.id, "prediction": r.answer}) + "\n" for r in rows))
    modes = scoring_modes(["ladder", "vstibench", "vsibench"])
    scored = evaluate(bench, predictions, tmp_path / "eval", modes=modes, skip_refused=True)
    report = {mode: {name: s.model_dump(mode="json") for name, s in per.items()} for mode, per in scored.items()}
    ladder, vsti = report["ladder"]["vsti-video"], report["vstibench"]["vsti-video"]
    assert set(ladder["tasks"]) == vsti_types and set(ladder["tasks"].values()) == {100.0}
    assert set(vsti["tasks"]) == vsti_types and set(vsti["tasks"].values()) == {100.0}
    assert vsti["avg"] == 100.0 and vsti["errors"] == []
    # each official scorer scores only the benchmark whose types it knows and says why it refuses the other
    assert "avg" in report["thinking-in-space"]["vsi-video"] and "avg" in report["vstibench"]["vsti-video"]
    assert "camera_displacement" in report["thinking-in-space"]["vsti-video"]["refused"]
    assert "object_rel_direction_easy" in report["vstibench"]["vsi-video"]["refused"]
    # named alone on a benchmark it refuses: an error naming both
    with pytest.raises(ConfigError, match="--scoring vstibench refuses vsi-video: "):
        evaluate(bench, predictions, tmp_path / "eval", modes=scoring_modes(["vstibench"]))
    markdown = (tmp_path / "eval" / "report.md").read_text()
    assert "Cam. Disp." in markdown and "Rel. Pos. (up/down)" in markdown
    # the card suggests exports only of what each evaluator can read (ladder export refuses the rest)
    card = (bench / "README.md").read_text()
    assert "ladder export BENCH/vsi-video --format spatialladder" in card
    assert "ladder export BENCH/vsi-video --format vsibench" in card
    assert "vsti-video --format" not in card and "ladder export BENCH --format" not in card
    # a wrong letter scores 0
    wrong = next(r for r in rows if r.task == "camera_movement_direction")
    other = next(o[0] for o in wrong.options if o[0] != wrong.answer)
    assert SCORERS["vstibench"].score(other, wrong, thinking=False).value == 0.0
