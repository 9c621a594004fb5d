"""Each filter on hand-made scenes: it rejects the ambiguous case and keeps the clear one."""

import json

import numpy as np
import pytest

from ladderdata.geometry.boxes import OrientedBox
from ladderdata.geometry.measure import object_size_cm
from ladderdata.metadata.config import ObjectInView, ViewRecord
from ladderdata.pipeline import DraftRecord
from ladderdata.pipeline.render import Renderer
from ladderdata.recipe import Recipe
from ladderdata.tasks import Draft, FilterConfig, Modality, ObjectFacts, Rejections, SceneContext, Shown, get_task
from ladderdata.tasks.base import GuardBands
from ladderdata.tasks.object_rel_direction import RelDirectionConfig, camera_relation, quadrant

CAMERA_AT_ORIGIN = np.eye(4)  # OpenCV camera at the world origin looking along +z (x right, y down)


def scene(objects: dict[int, tuple[str, tuple[float, float, float], float]], views: list[ViewRecord]) -> SceneContext:
    """Objects: id -> (category, centre, cube side in metres); distances between cube surfaces (axis-aligned)."""
    facts = {
        i: ObjectFacts(i, cat, cat, OrientedBox(center=c, size=(s, s, s), yaw=0.0), s * 100)
        for i, (cat, c, s) in objects.items()
    }

    def gap(a: int, b: int) -> float:
        ca, cb = np.array(objects[a][1]), np.array(objects[b][1])
        half = (objects[a][2] + objects[b][2]) / 2
        return float(np.linalg.norm(np.maximum(np.abs(ca - cb) - half, 0)))

    return SceneContext("scene9999_00", None, facts, views, gap, floor_area=20.0)


def view(
    visibility: dict[int, float], categories: dict[int, str], frame: int = 0, pose: np.ndarray = CAMERA_AT_ORIGIN
) -> ViewRecord:
    objs = [
        ObjectInView(
            object_id=i,
            label=categories[i],
            category=categories[i],
            visibility=v,
            in_frustum=v,
            pixel_fraction=0.1,
            bbox_2d=[10.0 * i, 10.0, 10.0 * i + 50, 80.0],
            depth_min=1.0,
            depth_median=1.5,
            centroid_cam=[0.0, 0.0, 1.0],
        )
        for i, v in visibility.items()
    ]
    return ViewRecord(
        frame_id=frame,
        timestamp_us=frame * 33_333,
        cam_to_world=pose.reshape(-1).tolist(),
        image_width=1296,
        image_height=968,
        sharpness=None,
        depth_agreement=None,
        objects=objs,
    )


#: The thresholds alone: these tests put values just past them (tests/test_guard_bands.py checks the bands).
NO_GUARD_BANDS = FilterConfig(guard_bands=GuardBands(visibility=0, ratio=0, angle_deg=0, depth=0))


def drafts(
    task: str, ctx: SceneContext, shown: Shown, seed: int = 0, filters: FilterConfig = NO_GUARD_BANDS, **config: object
) -> tuple[list[Draft], Rejections]:
    cls = get_task(task)
    gen = cls(cls.config_class.model_validate(config), filters)
    rej = Rejections()
    return list(gen.drafts(ctx, shown, np.random.default_rng(seed), rej)), rej


def test_visibility_threshold() -> None:
    cats = {1: "chair", 2: "lamp"}
    ctx = scene({1: ("chair", (0, 0, 3), 0.5), 2: ("lamp", (1, 0, 3), 0.4)}, [])
    kept, rej = drafts("object_size_estimation", ctx, Shown([view({1: 0.41, 2: 0.39}, cats)]))
    assert [d.objects[0].category for d in kept] == ["chair"]
    assert rej.counts["visibility"] == 1
    assert kept[0].margins["visibility_min"] == pytest.approx(0.41)


def test_uniqueness_counts_any_visible_rival() -> None:
    cats = {1: "chair", 2: "chair", 3: "lamp"}
    ctx = scene({1: ("chair", (0, 0, 3), 0.5), 2: ("chair", (2, 0, 3), 0.5), 3: ("lamp", (1, 0, 3), 0.4)}, [])
    ambiguous, rej = drafts("object_size_estimation", ctx, Shown([view({1: 0.9, 2: 0.02, 3: 0.9}, cats)]))
    assert [d.objects[0].category for d in ambiguous] == ["lamp"]
    assert (
        rej.counts["not_unique"] == 1 and rej.counts["visibility"] == 1
    )  # the faint chair still makes chair 1 ambiguous
    clear, _ = drafts("object_size_estimation", ctx, Shown([view({1: 0.9, 3: 0.9}, cats)]))
    assert sorted(d.objects[0].category for d in clear) == ["chair", "lamp"]


def test_noisy_categories_are_never_asked() -> None:
    cats = {1: "wall", 2: "lamp"}
    ctx = scene({1: ("wall", (0, 0, 3), 2.0), 2: ("lamp", (1, 0, 3), 0.4)}, [])
    kept, rej = drafts("object_size_estimation", ctx, Shown([view({1: 1.0, 2: 1.0}, cats)]))
    assert [d.objects[0].category for d in kept] == ["lamp"] and rej.counts["noisy_category"] == 1


@pytest.mark.parametrize(("far", "ok"), [(1.9, False), (2.1, True)])
def test_rel_distance_needs_far_near_ratio_two(far: float, ok: bool) -> None:
    # unit-gap geometry: target cube at 0, candidates whose surfaces are 1.0 and `far` metres away
    cats = {1: "bed", 2: "lamp", 3: "desk"}
    ctx = scene({1: ("bed", (0, 0, 5), 1.0), 2: ("lamp", (2.0, 0, 5), 1.0), 3: ("desk", (-1 - far, 0, 5), 1.0)}, [])
    kept, rej = drafts("object_rel_distance", ctx, Shown([view({1: 1, 2: 1, 3: 1}, cats)]))
    kept = [d for d in kept if d.fields["category"] == "bed"]
    if ok:
        assert kept and kept[0].choices[0] == "lamp" and kept[0].margins["distance_ratio"] == pytest.approx(far)
    else:
        assert not kept and rej.counts["distance_ratio"] >= 1


@pytest.mark.parametrize(("gap", "ok"), [(0.3, False), (0.7, True)])
def test_abs_distance_must_exceed_smaller_size(gap: float, ok: bool) -> None:
    cats = {1: "bed", 2: "lamp"}
    ctx = scene({1: ("bed", (0, 0, 5), 1.0), 2: ("lamp", (0.5 + gap + 0.25, 0, 5), 0.5)}, [])
    kept, rej = drafts("object_abs_distance", ctx, Shown([view({1: 1, 2: 1}, cats)]))
    assert bool(kept) is ok
    if ok:
        assert float(kept[0].answer) == pytest.approx(gap, abs=0.005)
        assert kept[0].margins["distance_over_size"] == pytest.approx(gap / 0.5)
    else:
        assert rej.counts["distance_over_size"] == 1


def test_size_bounds() -> None:
    cats = {1: "cup", 2: "lamp", 3: "building"}
    ctx = scene({1: ("cup", (0, 0, 3), 0.05), 2: ("lamp", (1, 0, 3), 0.5), 3: ("building", (2, 0, 3), 4.0)}, [])
    kept, rej = drafts("object_size_estimation", ctx, Shown([view({1: 1, 2: 1, 3: 1}, cats)]))
    assert [d.answer for d in kept] == ["50"] and rej.counts["size_range"] == 2


def test_counting_rejects_partially_visible_instances() -> None:
    cats = {1: "chair", 2: "chair", 3: "chair"}
    ctx = scene({i: ("chair", (i, 0, 3), 0.5) for i in cats}, [])
    views = [view({1: 1.0, 2: 0.2}, cats, 0), view({2: 0.3, 3: 0.8}, cats, 1)]
    kept, rej = drafts("object_counting", ctx, Shown(views))
    assert not kept and rej.counts["partial_instance"] == 1
    views = [view({1: 1.0, 2: 0.2}, cats, 0), view({2: 0.7, 3: 0.8}, cats, 1)]
    kept, _ = drafts("object_counting", ctx, Shown(views))
    assert [d.answer for d in kept] == ["3"] and kept[0].margins["visibility_min"] == pytest.approx(0.7)


def test_camera_relation_margins() -> None:
    cfg = RelDirectionConfig()
    assert camera_relation(-20.0, 0.0, cfg) == "left"
    assert camera_relation(20.0, 0.8, cfg) == "right-back"
    assert camera_relation(0.5, -0.8, cfg) == "front"
    assert camera_relation(5.0, 0.0, cfg) is None  # between "no side" and "clearly a side": ambiguous
    assert camera_relation(20.0, 0.25, cfg) is None
    assert camera_relation(0.5, 0.05, cfg) is None  # same place


def test_camera_direction_from_positions() -> None:
    """Object 1 clearly left of and nearer than object 2 -> left-front; distractors never share a part."""
    cats = {1: "lamp", 2: "desk"}
    ctx = scene({1: ("lamp", (-1.0, 0, 2.0), 0.3), 2: ("desk", (0.5, 0, 4.0), 0.3)}, [])
    kept, _ = drafts("object_rel_direction", ctx, Shown([view({1: 1, 2: 1}, cats)]))
    lamp_first = next(d for d in kept if d.fields["object1"] == "lamp")
    assert lamp_first.choices[0] == "left-front"
    assert all(not {"left", "front"} & set(c.split("-")) for c in lamp_first.choices[1:])
    desk_first = next(d for d in kept if d.fields["object1"] == "desk")
    assert desk_first.choices[0] == "right-back"


@pytest.mark.parametrize(
    ("angle", "expected"), [(45, "front-left"), (-60, "front-right"), (135, "back-left"), (10, None)]
)
def test_quadrant_needs_angular_margin(angle: float, expected: str | None) -> None:
    cats = {1: "bed", 2: "door", 3: "lamp"}
    a = np.radians(90 + angle)  # facing +y from the bed; `angle` counter-clockwise from there
    ctx = scene(
        {
            1: ("bed", (0, 0, 0.5), 0.3),
            2: ("door", (0, 3, 0.5), 0.3),
            3: ("lamp", (2 * np.cos(a), 2 * np.sin(a), 0.5), 0.3),
        },
        [],
    )
    views = [view({1: 1, 2: 1, 3: 1}, cats, k) for k in range(2)]
    kept, _ = drafts("object_rel_direction", ctx, Shown(views), tries=500)
    mine = [
        d
        for d in kept
        if (d.fields["positioning"], d.fields["orienting"], d.fields["querying"]) == ("bed", "door", "lamp")
    ]
    if expected is None:
        assert not mine
    else:
        assert mine and mine[0].choices[0] == expected == quadrant(angle)
        assert mine[0].margins["angle_margin_deg"] == pytest.approx(
            min(abs(angle), 180 - abs(angle), abs(abs(angle) - 90))
        )


def test_appearance_order_needs_a_gap_between_first_sightings() -> None:
    cats = {1: "bed", 2: "lamp", 3: "desk", 4: "sofa"}
    ctx = scene({i: (c, (i, 0, 3), 0.5) for i, c in cats.items()}, [])
    together = [view({1: 1, 2: 1}, cats, 0), view({3: 1}, cats, 1), view({4: 1}, cats, 2)]
    kept, rej = drafts("obj_appearance_order", ctx, Shown(together))
    assert not kept and rej.counts["first_seen_gap"] >= 1
    apart = [view({1: 1}, cats, 0), view({2: 1, 1: 0.5}, cats, 1), view({3: 1}, cats, 2), view({4: 1}, cats, 3)]
    kept, _ = drafts("obj_appearance_order", ctx, Shown(apart))
    assert kept and kept[0].choices[0] == "bed, lamp, desk, sofa"
    assert len(set(kept[0].choices)) == 4


def test_caps_per_scene_and_category() -> None:
    cats = {i: f"thing{i}" for i in range(1, 9)}
    ctx = scene({i: (c, (i, 0, 3), 0.5) for i, c in cats.items()}, [])
    contexts = [Shown([view(dict.fromkeys(cats, 1.0), cats, k)]) for k in range(10)]
    cls = get_task("object_size_estimation")
    gen = cls(cls.config_class(max_per_scene=5, max_per_category=1, max_per_context=3))
    rej = Rejections()
    kept = gen.generate(ctx, contexts, np.random.default_rng(0), rej)
    assert len(kept) == 5
    cats_used = [d.objects[0].category for _, d in kept]
    assert len(set(cats_used)) == len(cats_used)
    assert rej.counts["category_cap"] + rej.counts["scene_cap"] > 0


def test_letters_are_balanced_exactly() -> None:
    recipe = Recipe(targets={})
    records = [
        DraftRecord(
            task="object_rel_direction",
            modality=Modality.VIDEO,
            scene_id="scene0000_00",
            frame_ids=[k],
            timestamps=[0.0],
            image_width=1296,
            image_height=968,
            draft=Draft(
                template="object_rel_direction.quadrant",
                fields={"positioning": "bed", "orienting": "door", "querying": f"lamp{k}"},
                choices=["front-left", "front-right", "back-left", "back-right"],
                objects=[],
            ),
        )
        for k in range(10)
    ]
    samples = Renderer(recipe, seed=3, source=lambda _: "scannet").render_group(
        "object_rel_direction", Modality.VIDEO, records
    )
    letters = [s.answer for s in samples]
    assert sorted(letters.count(x) for x in "ABCD") == [2, 2, 3, 3]
    for s in samples:
        assert s.options[ord(s.answer) - 65].endswith("front-left")
        assert s.question.endswith("positive y-axis).")


def test_localization_answer_is_json_once_in_stored_pixels() -> None:
    from ladderdata.tasks import ObjectRef
    from ladderdata.tasks.object_localization import boxes_answer

    answer = boxes_answer(
        [ObjectRef(object_id=1, category="chair", role="a", visibility=1, bbox_2d=[100.2, 50, 300.7, 4e2])]
    )
    parsed = json.loads(answer)
    assert parsed == [{"label": "chair", "bbox_2d": [100, 50, 301, 400]}]
    assert isinstance(parsed, list)  # decoding once gives the list: never a JSON string inside JSON


@pytest.mark.parametrize(("box", "expected"), [("gravity", "97"), ("minimal_3d", "100")])
def test_size_box_is_a_recipe_option(box: str, expected: str) -> None:
    """A 100 x 20 x 20 cm plank leaning at 30 degrees: the default measures its gravity-aligned box (footprint
    cos 30 * 100 + sin 30 * 20 = 96.6 cm), VSI-Bench's minimal 3D box measures the plank (100 cm)."""
    corners = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.1, 0.1) for z in (-0.1, 0.1)])
    t = np.radians(30)
    plank = corners @ np.array([[np.cos(t), 0, -np.sin(t)], [0, 1, 0], [np.sin(t), 0, np.cos(t)]]).T + [0, 0, 3]
    facts = {
        1: ObjectFacts(
            1, "plank", "plank", OrientedBox.from_points(plank), object_size_cm(plank), "table", vertices=plank
        )
    }
    ctx = SceneContext("scene9999_00", None, facts, [], lambda a, b: 0.0, floor_area=None)
    kept, _ = drafts("object_size_estimation", ctx, Shown([view({1: 1.0}, {1: "plank"})]), box=box)
    assert [d.answer for d in kept] == [expected]


def test_a_gate_with_a_guard_band_counts_which_check_failed() -> None:
    """``reaches``: below the threshold counts the gate's name, inside the band ``guard_band:<name>``."""
    rejections = Rejections()
    gen = get_task("object_rel_distance")()
    assert not gen.reaches("ratio", 1.9, 2.0, 0.1, rejections)
    assert not gen.reaches("ratio", 2.05, 2.0, 0.1, rejections)
    assert gen.reaches("ratio", 2.1, 2.0, 0.1, rejections)  # exactly the band away is clear (up to rounding)
    assert rejections.counts == {"ratio": 1, "guard_band:ratio": 1}


def test_a_task_config_is_the_class_its_type_argument_names() -> None:
    """``TaskGenerator[XConfig]`` sets ``config_class`` (what recipes validate with) and refuses another config."""
    from ladderdata.tasks.object_rel_distance import ObjectRelDistance, RelDistanceConfig

    assert ObjectRelDistance.config_class is RelDistanceConfig
    assert ObjectRelDistance().config == RelDistanceConfig()
    other = get_task("object_counting").config_class()
    with pytest.raises(TypeError, match="ObjectRelDistance takes a RelDistanceConfig, not CountingConfig"):
        ObjectRelDistance(other)  # type: ignore[arg-type]
