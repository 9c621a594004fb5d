import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.factories import box_mesh
from ladderdata.geometry.measure import ObjectSurface, floor_area, object_size_cm, sample_surface, surface_distance


def rotate_z(points: np.ndarray, yaw: float, shift: np.ndarray | None = None) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    return np.asarray(points @ R.T + (0 if shift is None else shift), dtype=np.float64)


def surface(lo: tuple[float, float, float], hi: tuple[float, float, float], yaw: float = 0.0) -> ObjectSurface:
    v, f = box_mesh(lo, hi)
    return ObjectSurface(rotate_z(v, yaw), f, spacing=0.02)


def test_samples_cover_area_and_include_vertices() -> None:
    v, f = box_mesh((0, 0, 0), (1, 2, 3))
    s = sample_surface(v, f, 0.1)
    assert s.weights.sum() == pytest.approx(2 * (2 + 3 + 6))
    for corner in v:
        assert np.min(np.linalg.norm(s.points - corner, axis=1)) < 1e-12
    assert s.points.shape[0] == s.face_index.shape[0] == s.weights.shape[0]


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        ((1.5, 0, 0), (2.5, 1, 1), 0.5),  # faces parallel, gap 0.5 along x
        ((1.3, 1.4, 0), (2, 2, 1), np.hypot(0.3, 0.4)),  # edge to edge across a corner in xy
        ((1.1, 1.2, 1.3), (2, 2, 2), np.sqrt(0.01 + 0.04 + 0.09)),  # corner to corner
        ((1.0, 0.2, 0.2), (2, 0.8, 0.8), 0.0),  # touching faces
        ((0.2, 0.2, 1.0), (0.6, 0.6, 1.5), 0.0),  # resting on top
        ((0.3, 0.3, 1.25), (0.7, 0.7, 1.5), 0.25),  # hovering above, inside the footprint
    ],
)
def test_surface_distance_matches_analytic(
    lo: tuple[float, float, float], hi: tuple[float, float, float], expected: float
) -> None:
    a = surface((0, 0, 0), (1, 1, 1))
    b = surface(lo, hi)
    assert surface_distance(a, b) == pytest.approx(expected, abs=1e-3)
    assert surface_distance(b, a) == pytest.approx(surface_distance(a, b), abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.floats(0, 2 * np.pi), st.floats(-3, 3), st.floats(-3, 3), st.floats(0.05, 2.0))
def test_surface_distance_rotation_and_translation_invariant(yaw: float, tx: float, ty: float, gap: float) -> None:
    va, fa = box_mesh((0, 0, 0), (1, 0.8, 0.6))
    vb, fb = box_mesh((1 + gap, 0.1, 0), (1.5 + gap, 0.5, 0.9))
    shift = np.array([tx, ty, 0.2])
    a = ObjectSurface(rotate_z(va, yaw, shift), fa)
    b = ObjectSurface(rotate_z(vb, yaw, shift), fb)
    assert surface_distance(a, b) == pytest.approx(gap, abs=1e-3)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.1, 2.0), st.floats(0.1, 2.0), st.floats(0.1, 2.0), st.floats(0, 2 * np.pi))
def test_object_size_is_longest_side_whatever_the_yaw(w: float, d: float, h: float, yaw: float) -> None:
    s = surface((0, 0, 0), (w, d, h), yaw)
    assert object_size_cm(s) == pytest.approx(100 * max(w, d, h), abs=0.1)  # 1 mm


def polygon_mesh(rects: list[tuple[float, float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    verts: list[list[float]] = []
    faces: list[list[int]] = []
    for x0, y0, x1, y1 in rects:
        n = len(verts)
        verts += [[x0, y0, 0], [x1, y0, 0], [x1, y1, 0], [x0, y1, 0]]
        faces += [[n, n + 1, n + 2], [n, n + 2, n + 3]]
    return np.array(verts, dtype=np.float64), np.array(faces)


@pytest.mark.parametrize("yaw", [0.0, 0.37, 1.2])
def test_floor_area_rectangle_and_l_shape(yaw: float) -> None:
    v, f = polygon_mesh([(0, 0, 5.3, 4.1)])
    assert floor_area(rotate_z(v, yaw), f) == pytest.approx(5.3 * 4.1, rel=0.01)
    v, f = polygon_mesh([(0, 0, 6, 3), (0, 3, 4, 5)])  # L-shape: 6x5 minus a 2x2 corner
    assert floor_area(rotate_z(v, yaw), f) == pytest.approx(26.0, rel=0.01)


def test_floor_area_closes_unscanned_gaps_but_not_the_l_notch() -> None:
    # floor with a 0.2 m unscanned strip under furniture, inside an L-shaped room
    v, f = polygon_mesh([(0, 0, 6, 1.4), (0, 1.6, 6, 3), (0, 3, 4, 5)])
    assert floor_area(v, f, close_gaps=0.3) == pytest.approx(26.0, rel=0.01)
    assert floor_area(v, f, close_gaps=0.0) == pytest.approx(26.0 - 6 * 0.2, rel=0.01)


def test_floor_area_counts_overlapping_triangles_once() -> None:
    v, f = polygon_mesh([(0, 0, 3, 3), (1, 1, 4, 4)])
    assert floor_area(v, f, close_gaps=0.0) == pytest.approx(18 - 4, rel=0.01)
