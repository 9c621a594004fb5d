"""Guard bands: a question is kept only when each gated quantity clears its threshold by the band's tolerance.
Cases are built on the threshold (just past it, inside the band) and clear of it; the counting salience rule too."""

import numpy as np
import pytest

from ladderdata.tasks import FilterConfig, Shown
from ladderdata.tasks.base import GuardBands
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
