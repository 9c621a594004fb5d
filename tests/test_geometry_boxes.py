import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ladderdata.geometry.boxes import AxisAlignedBox, Box2D, OrientedBox, min_area_rectangle


def rect_points(cx: float, cy: float, w: float, d: float, yaw: float, n: int = 50) -> np.ndarray:
    rng = np.random.default_rng(0)
    local = np.vstack(
        [
            [[-w / 2, -d / 2], [w / 2, -d / 2], [w / 2, d / 2], [-w / 2, d / 2]],
            rng.uniform([-w / 2, -d / 2], [w / 2, d / 2], size=(n, 2)),
        ]
    )
    c, s = np.cos(yaw), np.sin(yaw)
    return np.asarray(local @ np.array([[c, -s], [s, c]]).T + [cx, cy], dtype=np.float64)


@settings(max_examples=80, deadline=None)
@given(st.floats(-5, 5), st.floats(-5, 5), st.floats(0.05, 3), st.floats(0.05, 3), st.floats(0, 2 * np.pi))
def test_min_area_rectangle_recovers_rotated_rectangle(cx: float, cy: float, w: float, d: float, yaw: float) -> None:
    (x, y), (long_side, short_side), got_yaw = min_area_rectangle(rect_points(cx, cy, w, d, yaw))
    assert (x, y) == pytest.approx((cx, cy), abs=1e-9)
    assert long_side == pytest.approx(max(w, d), abs=1e-9)
    assert short_side == pytest.approx(min(w, d), abs=1e-9)
    assert 0 <= got_yaw < np.pi
    true_long_dir = yaw if w >= d else yaw + np.pi / 2
    if abs(w - d) > 1e-6:  # direction is defined up to 180 degrees
        diff = (got_yaw - true_long_dir) % np.pi
        assert min(diff, np.pi - diff) < 1e-6


def test_oriented_box_from_points_and_corners() -> None:
    pts2 = rect_points(1.0, 2.0, 2.0, 0.5, 0.3)
    pts = np.column_stack([np.vstack([pts2, pts2]), np.r_[np.zeros(len(pts2)), np.full(len(pts2), 0.8)]])
    box = OrientedBox.from_points(pts)
    assert box.size == pytest.approx((2.0, 0.5, 0.8))
    assert box.yaw == pytest.approx(0.3)
    assert box.center == pytest.approx((1.0, 2.0, 0.4))
    assert box.longest_side == pytest.approx(2.0)
    corners = box.corners()
    assert corners.shape == (8, 3)
    assert OrientedBox.from_points(corners).size == pytest.approx(box.size)


def test_axis_aligned_box_and_gap() -> None:
    a = AxisAlignedBox.from_points(np.array([[0, 0, 0], [1, 1, 1.0]]))
    b = AxisAlignedBox(minimum=(2.0, 0.0, 0.0), maximum=(3.0, 1.0, 1.0))
    c = AxisAlignedBox(minimum=(4.0, 5.0, 1.0), maximum=(5.0, 6.0, 2.0))
    assert a.distance_to(b) == pytest.approx(1.0)
    assert a.distance_to(c) == pytest.approx(np.sqrt(9 + 16))
    assert a.distance_to(a) == 0.0
    assert a.size.tolist() == [1, 1, 1] and a.center.tolist() == [0.5, 0.5, 0.5]


def test_box2d_iou() -> None:
    a = Box2D(x1=0, y1=0, x2=10, y2=10)
    b = Box2D(x1=5, y1=0, x2=15, y2=10)
    assert a.iou(b) == pytest.approx(50 / 150)
    assert a.iou(a) == 1.0
    assert a.iou(Box2D(x1=20, y1=20, x2=30, y2=30)) == 0.0
    assert Box2D.from_pixels(np.array([[3.0, 4.0], [1.0, 9.0]])).as_list() == [1, 4, 3, 9]
