import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from ladderdata.geometry.boxes import AxisAlignedBox, Box2D, OrientedBox, min_area_rectangle, minimal_box_sides


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


def rectangle_corners(center: tuple[float, float], sides: tuple[float, float], yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    local = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * np.array(sides) / 2
    corners: np.ndarray = local @ np.array([[c, -s], [s, c]]).T + np.array(center)
    return corners


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(3, 40), st.floats(0.2, 5.0), st.floats(0, 2 * np.pi))
def test_min_area_rectangle_on_random_point_sets(seed: int, n: int, spread: float, yaw: float) -> None:
    """The properties docs/geometry.md states: it encloses the points, no rotation of a tight rectangle has a
    smaller area, and its long side lies between D / sqrt(2) and D, D the points' diameter (largest distance
    between two of them): never longer than the object, whatever the footprint's shape."""
    rng = np.random.default_rng(seed)
    pts = rng.normal(size=(n, 2)) * [spread, 1.0]
    c, s = np.cos(yaw), np.sin(yaw)
    pts = pts @ np.array([[c, -s], [s, c]]).T
    if np.linalg.matrix_rank(pts - pts.mean(axis=0), tol=1e-9) < 2:
        return
    center, (long_side, short_side), got_yaw = min_area_rectangle(pts)
    assert long_side >= short_side > 0
    axis = np.array([np.cos(got_yaw), np.sin(got_yaw)])
    normal = np.array([-axis[1], axis[0]])
    tol = 1e-9 * (1 + np.abs(pts).max())
    assert np.all(np.abs((pts - center) @ axis) <= long_side / 2 + tol)
    assert np.all(np.abs((pts - center) @ normal) <= short_side / 2 + tol)
    for angle in np.linspace(0, np.pi / 2, 721):  # a sweep of tight rectangles: none is smaller
        u = np.array([np.cos(angle), np.sin(angle)])
        assert np.ptp(pts @ u) * np.ptp(pts @ [-u[1], u[0]]) >= long_side * short_side - tol
    diameter = max(np.linalg.norm(p - q) for p in pts for q in pts)
    assert diameter / np.sqrt(2) - tol <= long_side <= diameter + tol


def test_min_area_rectangle_can_be_longer_than_the_axis_aligned_box() -> None:
    """A thin object lying diagonally: the axis-aligned box's longest side (3.6 m) under-measures it; the
    minimal-footprint box measures its length (4.75 m, its diameter)."""
    pts = np.array([[0.6, 3.9], [1.6, 1.8], [3.7, 0.3], [3.7, 0.6]])
    _, (long_side, _), _ = min_area_rectangle(pts)
    assert max(np.ptp(pts, axis=0)) == pytest.approx(3.6)
    assert long_side == pytest.approx(np.linalg.norm(pts[0] - pts[2]), rel=2e-3)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.05, 2.0), st.floats(0.05, 2.0), st.floats(0.05, 2.0), st.integers(0, 2**32 - 1))
def test_minimal_box_sides_of_a_box_rotated_in_3d(w: float, d: float, h: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    half = np.array([w, d, h]) / 2
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * half
    pts = np.vstack([corners, rng.uniform(-half, half, size=(100, 3))])
    rotation = Rotation.random(random_state=seed).as_matrix()
    sides = minimal_box_sides(pts @ rotation.T + rng.uniform(-5, 5, size=3))
    np.testing.assert_allclose(sides, sorted([w, d, h], reverse=True), rtol=1e-5, atol=1e-6)


def test_minimal_box_sides_of_coplanar_points() -> None:
    pts2 = rectangle_corners((0.0, 0.0), (1.5, 0.4), 0.3)
    tilted = np.column_stack([pts2, np.zeros(4)]) @ Rotation.from_euler("xy", [0.4, -0.7]).as_matrix().T
    np.testing.assert_allclose(minimal_box_sides(tilted), [1.5, 0.4, 0.0], atol=1e-9)
