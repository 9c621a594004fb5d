"""Guard bands: a question is kept only when each gated quantity clears its threshold by the band's tolerance.
Cases are built on the threshold (just past it, inside the band) and clear of it, for every question type with a
gate (the camera and in-view types and route planning too); the counting salience rule too."""

import math
from typing import Any

import numpy as np
import pytest

from ladderdata.tasks import Draft, FilterConfig, Rejections, Shown, get_task
from ladderdata.tasks.base import GuardBands
from test_camera_tasks import cube_scene, facing_north, make_view
from test_route_planning import L_FLOOR, L_ROOM, NO_BANDS, R1, R2, R2_FLOOR, RECT, plan, room, shown
from test_task_filters import drafts, scene, view

BANDS = FilterConfig()  # the defaults every recipe gets
assert BANDS.guard_bands == GuardBands(visibility=0.03, ratio=0.05, angle_deg=1.0, depth=0.03)


@pytest.mark.parametrize(("visibility", "kept"), [(0.41, False), (0.429, False), (0.43, True), (0.6, True)])
def test_visibility_band(visibility: float, kept: bool) -> None:
    cats = {1: "chair"}
    ctx = scene({1: ("chair", (0, 0, 3), 0.5)}, [])
    out, rej = drafts("object_size_estimation", ctx, Shown([view({1: visibility}, cats)]), filters=BANDS)
    assert bool(out) is kept
    assert rej.counts["guard_band:visibility"] == (0 if kept else 1)
    if kept:
        assert out[0].margins["visibility_min"] == pytest.approx(visibility)  # the measured value stays stored


@pytest.mark.parametrize(("far", "kept"), [(2.05, False), (2.099, False), (2.11, True)])
def test_distance_ratio_band(far: float, kept: bool) -> None:
    cats = {1: "bed", 2: "lamp", 3: "desk"}
    ctx = scene({1: ("bed", (0, 0, 5), 1.0), 2: ("lamp", (2.0, 0, 5), 1.0), 3: ("desk", (-1 - far, 0, 5), 1.0)}, [])
    out, rej = drafts("object_rel_distance", ctx, Shown([view({1: 1, 2: 1, 3: 1}, cats)]), filters=BANDS)
    mine = [d for d in out if d.fields["category"] == "bed"]
    assert bool(mine) is kept
    if not kept:
        assert rej.counts["guard_band:distance_ratio"] >= 1


@pytest.mark.parametrize(("angle", "kept"), [(15.5, False), (16.5, True), (74.5, False), (73.5, True)])
def test_angle_band(angle: float, kept: bool) -> None:
    """Quadrant boundaries at 0 and 90 degrees: 15.5 and 74.5 are 15.5 from one, inside 15 + 1."""
    cats = {1: "bed", 2: "door", 3: "lamp"}
    a = np.radians(90 + angle)
    lamp = (2 * np.cos(a), 2 * np.sin(a), 0.5)
    ctx = scene({1: ("bed", (0, 0, 0.5), 0.3), 2: ("door", (0, 3, 0.5), 0.3), 3: ("lamp", lamp, 0.3)}, [])
    views = [view({1: 1, 2: 1, 3: 1}, cats, k) for k in range(2)]
    out, rej = drafts("object_rel_direction", ctx, Shown(views), tries=500, filters=BANDS)
    triple = ("bed", "door", "lamp")
    mine = [d for d in out if (d.fields["positioning"], d.fields["orienting"], d.fields["querying"]) == triple]
    assert bool(mine) is kept
    if not kept:
        assert rej.counts["guard_band:angle_margin"] >= 1


def test_camera_lateral_band() -> None:
    """Left/right needs 8 degrees: a lamp 8.5 degrees left of the desk is inside the 1-degree band."""
    cats = {1: "lamp", 2: "desk"}

    def at(degrees: float) -> list[str]:
        x = 3.0 * np.tan(np.radians(-degrees))
        ctx = scene({1: ("lamp", (x, 0, 3.0), 0.3), 2: ("desk", (0.0, 0, 3.0), 0.3)}, [])
        out, _ = drafts("object_rel_direction", ctx, Shown([view({1: 1, 2: 1}, cats)]), filters=BANDS)
        return [d.choices[0] for d in out if d.fields["object1"] == "lamp"]

    assert at(8.5) == [] and at(9.5) == ["left"]


def test_counting_salience_rule_and_its_band() -> None:
    cats = {1: "chair", 2: "chair", 3: "chair"}
    ctx = scene({i: ("chair", (i, 0, 3), 0.5) for i in cats}, [])
    on_threshold = [view({1: 1.0, 2: 0.41}, cats, 0), view({3: 0.8}, cats, 1)]
    out, rej = drafts("object_counting", ctx, Shown(on_threshold), filters=BANDS)
    assert not out and rej.counts["guard_band:count_visibility"] == 1
    clear = [view({1: 1.0, 2: 0.45}, cats, 0), view({3: 0.8}, cats, 1)]
    out, _ = drafts("object_counting", ctx, Shown(clear), filters=BANDS)
    assert [d.answer for d in out] == ["3"]
    assert out[0].margins["count_visibility_threshold"] == pytest.approx(0.43)
    # an uncounted instance partly visible in the frames shown makes the count ambiguous, whatever counts as present
    faint = [view({1: 1.0, 2: 0.05}, cats, 0), view({3: 0.8}, cats, 1)]
    present_above = FilterConfig(presence_visibility=0.1)
    out, rej = drafts("object_counting", ctx, Shown(faint), filters=present_above)
    assert not out and rej.counts["partial_instance"] == 1


def test_first_sighting_band() -> None:
    """Appearance order: a first sighting at 0.42 (threshold 0.4) could move to a later frame with other samples."""
    cats = {i: c for i, c in enumerate(["bed", "door", "lamp", "desk", "sofa"], start=1)}
    ctx = scene({i: (c, (2.0 * i, 0, 3), 0.5) for i, c in cats.items()}, [])

    def shown(bed_first: float) -> Shown:
        visible = [{1: bed_first}, {1: 1.0, 2: 1.0}, {3: 1.0}, {4: 1.0}, {5: 1.0}]
        return Shown([view(v, cats, k) for k, v in enumerate(visible)])

    out, rej = drafts("obj_appearance_order", ctx, shown(0.41), filters=BANDS, objects=4, choices=2)
    assert all("bed" not in d.choices[0] for d in out) and rej.counts["guard_band:first_seen"] >= 1
    out, _ = drafts("obj_appearance_order", ctx, shown(0.8), filters=BANDS, objects=4, choices=2)
    assert any(d.choices[0].startswith("bed") for d in out)


# ------------------------------------------------------------------------ camera and in-view types (one frame)


def in_view(visibility: dict[int, float], categories: dict[int, str], pose: np.ndarray, frame: int = 0) -> Shown:
    return Shown([make_view(visibility, categories, pose, frame)])


@pytest.mark.parametrize(("visibility", "kept"), [(0.41, False), (0.429, False), (0.43, True), (0.6, True)])
def test_in_view_visibility_band(visibility: float, kept: bool) -> None:
    """Questions about one frame name objects by their visibility in that frame: 0.4 plus the band."""
    shown = in_view({1: visibility}, {1: "chair"}, facing_north(0, 0))
    ctx = cube_scene({1: ("chair", (1.0, 3.0, 0.5), 0.5)}, shown.views)
    out, rej = drafts("camera_obj_abs_dist", ctx, shown, filters=BANDS)
    assert bool(out) is kept
    assert rej.counts["guard_band:visibility"] == (0 if kept else 1)
    if kept:
        assert out[0].margins["visibility_min"] == pytest.approx(visibility)


@pytest.mark.parametrize(("metres", "kept"), [(0.205, False), (0.2099, False), (0.2101, True), (0.3, True)])
def test_camera_displacement_band(metres: float, kept: bool) -> None:
    """4 x 5 cm of pose noise at least: 0.2 m, and 5% more clear of it."""
    shown = Shown([make_view({}, {}, facing_north(0, 0), 0), make_view({}, {}, facing_north(0, metres), 1)])
    out, rej = drafts("camera_displacement", cube_scene({}, []), shown, filters=BANDS)
    assert bool(out) is kept
    assert rej.counts["guard_band:displacement_over_noise"] == (0 if kept else 1)
    if kept:
        assert out[0].margins["displacement_over_noise"] == pytest.approx(metres / 0.05)


@pytest.mark.parametrize(("degrees", "kept"), [(29.5, False), (28.5, True), (60.5, False), (61.5, True)])
def test_camera_movement_angle_band(degrees: float, kept: bool) -> None:
    """Forward/left boundary at 45 degrees, gate 15 degrees from it: 29.5 and 60.5 lie 15.5 away, inside 15 + 1."""
    angle = math.radians(degrees)
    moved = (-math.sin(angle), math.cos(angle))  # left of north by ``degrees``, 1 m
    shown = Shown([make_view({}, {}, facing_north(0, 0), 0), make_view({}, {}, facing_north(*moved), 1)])
    out, rej = drafts("camera_movement_direction", cube_scene({}, []), shown, filters=BANDS)
    assert bool(out) is kept
    assert rej.counts["guard_band:angle_margin"] == (0 if kept else 1)
    if kept:
        assert out[0].choices[0] == ("Forward" if degrees < 45 else "Left")
        assert out[0].margins["angle_margin_deg"] == pytest.approx(abs(degrees - 45))


@pytest.mark.parametrize(("table_y", "kept"), [(3.30, False), (3.45, True)])
def test_camera_closest_object_ratio_band(table_y: float, kept: bool) -> None:
    """The chair's nearest face is 2.0 m from the camera, the table's ``table_y`` - 0.25: ratio 1.525 lies inside
    1.5 x 1.05, 1.6 clear of it."""
    cats = {1: "chair", 2: "table"}
    shown = in_view({1: 0.9, 2: 0.9}, cats, facing_north(0, 0, z=0.5))
    ctx = cube_scene({1: ("chair", (0.0, 2.25, 0.5), 0.5), 2: ("table", (0.0, table_y, 0.5), 0.5)}, shown.views)
    out, rej = drafts("camera_obj_rel_dist_v3", ctx, shown, filters=BANDS)
    assert bool(out) is kept
    if kept:
        assert out[0].choices[0] == "chair"
        assert out[0].margins["distance_ratio"] == pytest.approx((table_y - 0.25) / 2.0)
    else:
        assert rej.counts["guard_band:distance_ratio"] >= 1


@pytest.mark.parametrize(("table_y", "kept"), [(3.76, False), (3.8, True)])
def test_near_far_depth_gap_band(table_y: float, kept: bool) -> None:
    """Depths of the chair's box [2.7, 3.3] and the table's [table_y - 0.3, ...]: a gap of 0.16 m is past the
    0.15 m gate but inside the 3 cm band; 0.2 m is clear."""
    cats = {1: "chair", 2: "table"}
    shown = in_view({1: 0.9, 2: 0.9}, cats, facing_north(0, 0, z=0.5))
    ctx = cube_scene({1: ("chair", (-1.0, 3.0, 0.5), 0.6), 2: ("table", (1.0, table_y, 0.5), 0.6)}, shown.views)
    out, rej = drafts("obj_obj_relative_pos_nf", ctx, shown, filters=BANDS)
    assert bool(out) is kept
    if kept:
        assert {(d.fields["obj_A_name"], d.choices[0]) for d in out} == {("chair", "Near"), ("table", "Far")}
        assert all(d.margins["depth_gap"] == pytest.approx(table_y - 3.6) for d in out)
    else:
        assert rej.counts["guard_band:depth_gap"] == 2  # both orders of the pair


@pytest.mark.parametrize(
    ("less", "more", "reason"),
    [
        (0.11, 0.9, "guard_band:visibility"),  # min_visible 0.1 plus the band
        (0.40, 0.62, "guard_band:visibility_ratio"),  # 1.55 >= 1.5, but 0.59 / 0.43 = 1.37
        (0.15, 0.37, "guard_band:visibility_gap"),  # 0.22 >= 0.2, but 0.34 - 0.18 = 0.16
        (0.15, 0.45, None),  # 0.42 / 0.18 = 2.3 and 0.42 - 0.18 = 0.24: clear
    ],
)
def test_visibility_comparison_bands(less: float, more: float, reason: str | None) -> None:
    """Both visibilities may be off by the band: each gate must still hold with them moved toward each other."""
    cats = {1: "chair", 2: "table"}
    shown = in_view({1: less, 2: more}, cats, facing_north(0, 0))
    ctx = cube_scene({1: ("chair", (0.0, 3.0, 0.5), 0.5), 2: ("table", (1.0, 3.0, 0.5), 0.5)}, shown.views)
    out, rej = drafts("obj_obj_visibility", ctx, shown, filters=BANDS)
    if reason is None:
        (draft,) = out
        assert draft.choices == ["table", "chair"]
        assert draft.margins["visibility_gap"] == pytest.approx(more - less)
    else:
        assert out == [] and rej.counts[reason] == 1
        assert sum(v for k, v in rej.counts.items() if k.startswith("guard_band:")) == 1


# ------------------------------------------------------------------------------------------- route planning


def route_margins(**layout: Any) -> dict[str, float]:
    """The margins of the route the thresholds alone keep (tests/test_route_planning.py checks them against
    routes derived by construction)."""
    _, route = plan(bands=NO_BANDS, **layout)
    assert not isinstance(route, str), route
    return route.margins


@pytest.mark.parametrize(
    ("margin", "gate", "band", "reason"),
    [
        ("landmark_gap", "min_landmark_gap", 0.03, "guard_band:landmark_gap"),
        ("angle_margin_deg", "min_angle_margin_deg", 1.0, "guard_band:angle_margin"),
        ("min_leg", "min_leg", 0.03, "guard_band:min_leg"),
    ],
)
def test_route_gate_bands(margin: str, gate: str, band: float, reason: str) -> None:
    """Two turns over and under (R2): each gate put just below the route's value (inside its band) rejects the
    route with the band's reason; put below it by more than the band, the route is kept."""
    layout: dict[str, Any] = {"objects": R2, "floor": R2_FLOOR}
    value = route_margins(**layout)[margin]
    inside: dict[str, Any] = {gate: value - band / 2}
    assert plan(**layout, **inside)[1] == reason
    clear_of_band: dict[str, Any] = {gate: value - 1.5 * band}
    _, clear = plan(**layout, **clear_of_band)
    assert not isinstance(clear, str), clear
    assert clear.turns == ["right", "left"] and clear.margins[margin] == pytest.approx(value)


def test_route_bearing_band() -> None:
    """An upper gate: the legs' bearing must stay a degree below max_bearing_deg."""
    layout: dict[str, Any] = {"objects": L_ROOM, "floor": L_FLOOR, "facing": "box"}
    bearing = route_margins(**layout)["bearing_offset_deg"]
    assert plan(**layout, max_bearing_deg=bearing + 0.5)[1] == "guard_band:bearing_offset_deg"
    assert not isinstance(plan(**layout, max_bearing_deg=bearing + 1.5)[1], str)


def test_route_detour_band() -> None:
    """The other way round is (1 + detour) times longer; that ratio must clear 1 + min_detour by 5% of it."""
    layout: dict[str, Any] = {"objects": R2, "floor": R2_FLOOR}
    detour = route_margins(**layout)["detour_margin"]
    assert 0.1 < detour < 0.5  # an alternative route exists, below the search's cap
    inside = detour - 0.5 * 0.05 * (1 + detour)
    assert plan(**layout, min_detour=inside)[1] == "guard_band:detour_margin"
    assert not isinstance(plan(**layout, min_detour=detour - 1.5 * 0.05 * (1 + detour))[1], str)


def test_route_landmark_visibility_band() -> None:
    """A landmark seen at 0.41 is not referable with the band: no route turns at it; at 0.6 one does."""
    ctx = room(R1, RECT)
    gen = get_task("route_planning")(None, BANDS)

    def routes(visibility: float) -> tuple[list[Draft], Rejections]:
        rejections = Rejections()
        out = list(gen.drafts(ctx, shown(ctx, {"cabinet": visibility}), np.random.default_rng(0), rejections))
        return out, rejections

    out, rejections = routes(0.41)
    assert not [d for d in out if "cabinet" in {o.category for o in d.objects}]
    assert rejections.counts["guard_band:visibility"] >= 1 and rejections.counts["landmark_not_referable"] >= 1
    out, _ = routes(0.6)
    assert any(d.fields["facing"] == "cabinet" for d in out)
