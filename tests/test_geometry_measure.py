import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.factories import box_mesh
from ladderdata.geometry.boxes import coordinate_bounds
from ladderdata.geometry.measure import (
    MAX_SUBDIVISIONS,
    SAMPLE_RUN,
    ObjectSurface,
    SampleGrid,
    SizeBox,
    distinct_float32_rows,
    floor_area,
    near_box,
    object_size_cm,
    sample_surface,
    surface_distance,
    triangle_areas,
    vertex_region,
)
from ladderdata.geometry.raycast import query_threads


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


def test_a_few_samples_are_the_same_bits_as_all_of_them() -> None:
    """Per-view metadata picks a few samples of each object without building all of them: the picked positions
    and every weight equal those of sample_surface bit for bit (triangles of many sizes, so many subdivision counts,
    including the longest ones' cap)."""
    rng = np.random.default_rng(7)
    vertices = rng.uniform(-1.5, 1.5, size=(300, 3)) * rng.uniform(0.01, 1.0, size=(300, 1))
    faces = rng.integers(0, 300, size=(400, 3))
    full = sample_surface(vertices, faces, 0.02)
    grid = SampleGrid.of(vertices, faces, 0.02)
    assert len(grid.groups) > 10
    index = rng.integers(0, len(full.points), size=2000)
    assert np.array_equal(grid.weights(), full.weights)
    assert grid.points(index).tobytes() == full.points[index].tobytes()
    lazy = ObjectSurface(vertices, faces, spacing=0.02)
    assert lazy.sample_points(index).tobytes() == full.points[index].tobytes() and "samples" not in lazy.__dict__


def test_areas_and_sample_grid_are_the_bits_of_the_per_triangle_arrays() -> None:
    """Areas and subdivision counts computed on rows of coordinates (and the cached barycentric grids) are the bits
    of the (F, 3, 3) expressions they replace: numpy's cross and norms, each edge's norm before the longest."""
    rng = np.random.default_rng(11)
    cases = [(np.zeros((3, 3)), np.zeros((0, 3), dtype=np.int64)), (*box_mesh((0, 0, 0), (1, 2, 3)),)]
    for n in (1, 2, 7, 300, 5000):
        for scale in (1e-3, 0.05, 1.0, 4.0):
            v = rng.normal(size=(n + 3, 3)) * scale * rng.uniform(0.01, 1, size=(n + 3, 1)) + rng.normal(size=3) * 5
            cases.append((v, rng.integers(0, n + 3, size=(n, 3))))
    for v, f in cases:
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        areas = np.asarray(0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1), dtype=np.float64)
        tri = v[f]
        longest = np.linalg.norm(tri - np.roll(tri, -1, axis=1), axis=2).max(axis=1, initial=0.0)
        k_per_face = np.clip(np.ceil(longest / 0.02), 1, MAX_SUBDIVISIONS).astype(np.int64)
        grid = SampleGrid.of(v, f, 0.02)
        assert triangle_areas(v, f).tobytes() == areas.tobytes() == grid.areas.tobytes()
        assert [g.b1.size for g in grid.groups] == [(k + 1) * (k + 2) // 2 for k in np.unique(k_per_face)]
        for g, k in zip(grid.groups, np.unique(k_per_face), strict=True):
            i, j = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
            bary = np.stack([i[(i + j) <= k], j[(i + j) <= k]], axis=1) / k
            assert np.array_equal(g.ids, np.flatnonzero(k_per_face == k))
            assert g.b1.tobytes() == bary[:, 0].tobytes() and g.b2.tobytes() == bary[:, 1].tobytes()


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
    v, _ = box_mesh((0, 0, 0), (w, d, h))
    for box in SizeBox:
        assert object_size_cm(rotate_z(v, yaw), box) == pytest.approx(100 * max(w, d, h), abs=0.1)  # 1 mm


def test_sizes_of_a_tilted_box_differ_by_definition() -> None:
    """A 1.0 x 0.2 x 0.2 m plank leaning at 30 degrees: the gravity-aligned box measures its footprint and
    height; the minimal 3D box (VSI-Bench) measures the plank itself."""
    v, _ = box_mesh((-0.5, -0.1, -0.1), (0.5, 0.1, 0.1))
    tilt = np.radians(30)
    R = np.array([[np.cos(tilt), 0, -np.sin(tilt)], [0, 1, 0], [np.sin(tilt), 0, np.cos(tilt)]])
    leaning = v @ R.T
    footprint = np.cos(tilt) * 1.0 + np.sin(tilt) * 0.2
    assert object_size_cm(leaning, SizeBox.GRAVITY) == pytest.approx(100 * footprint, abs=0.01)
    assert object_size_cm(leaning, SizeBox.MINIMAL_3D) == pytest.approx(100.0, abs=0.01)


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


def grid(n: int, h: float) -> tuple[np.ndarray, np.ndarray]:
    """A flat (n + 1) x (n + 1) vertex grid of spacing h in z = 0, each cell split along the same diagonal."""
    ij = np.stack(np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij"), axis=-1).reshape(-1, 2)
    vertices = np.column_stack([ij * h, np.zeros(len(ij))])
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    return vertices, np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])


def test_vertex_regions_partition_the_surface_with_analytic_areas() -> None:
    """On a regular grid every interior vertex's cell (a third of its six triangles) has area h^2, so a rug of
    k interior vertices has area k h^2; rug and floor share their border, so they touch; together they are the
    whole mesh."""
    h, n = 0.1, 20
    vertices, faces = grid(n, h)
    ij = np.round(vertices[:, :2] / h).astype(int)
    rug = (ij[:, 0] >= 5) & (ij[:, 0] <= 11) & (ij[:, 1] >= 8) & (ij[:, 1] <= 10)  # 7 x 3 vertices
    rug_v, rug_f = vertex_region(vertices, faces, rug)
    floor_v, floor_f = vertex_region(vertices, faces, ~rug)
    rug_area = triangle_areas(rug_v, rug_f).sum()
    assert rug_area == pytest.approx(21 * h * h, rel=1e-9)
    assert rug_area + triangle_areas(floor_v, floor_f).sum() == pytest.approx((n * h) ** 2, rel=1e-9)
    assert surface_distance(ObjectSurface(rug_v, rug_f), ObjectSurface(floor_v, floor_f)) == pytest.approx(0, abs=1e-6)
    # beyond its vertices the rug reaches the centroids of its border triangles: 2/3 of a cell, no further
    lo, hi = rug_v[:, :2].min(axis=0), rug_v[:, :2].max(axis=0)
    np.testing.assert_allclose(lo, [0.5 - 2 * h / 3, 0.8 - 2 * h / 3], atol=1e-12)
    np.testing.assert_allclose(hi, [1.1 + 2 * h / 3, 1.0 + 2 * h / 3], atol=1e-12)


def test_vertex_region_keeps_whole_triangles_and_winding() -> None:
    vertices, faces = grid(4, 0.5)
    everything, faces_out = vertex_region(vertices, faces, np.ones(len(vertices), dtype=bool))
    assert len(faces_out) == len(faces) and triangle_areas(everything, faces_out).sum() == pytest.approx(4.0)
    one = np.zeros(len(vertices), dtype=bool)
    one[12] = True  # the centre vertex (2, 2): six triangles, none whole
    v, f = vertex_region(vertices, faces, one)
    assert triangle_areas(v, f).sum() == pytest.approx(0.25)
    normals = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    assert (normals[:, 2] > 0).all()  # wound like the grid's triangles (counter-clockwise from above)


@settings(max_examples=40, deadline=None)
@given(
    st.tuples(*[st.floats(-2.0, 2.0)] * 3),
    st.tuples(*[st.floats(0.05, 1.5)] * 3),
    st.tuples(*[st.floats(-2.0, 2.0)] * 3),
    st.tuples(*[st.floats(0.05, 1.5)] * 3),
    st.floats(0.0, np.pi),
)
def test_pruned_surface_distance_is_the_minimum_over_every_sample(
    lo_a: tuple[float, float, float],
    size_a: tuple[float, float, float],
    lo_b: tuple[float, float, float],
    size_b: tuple[float, float, float],
    yaw: float,
) -> None:
    """The bound-and-prune search returns exactly what querying every sample of both sides returns, for
    separate, touching and interpenetrating boxes."""
    a = surface(lo_a, tuple(lo + s for lo, s in zip(lo_a, size_a, strict=True)))  # type: ignore[arg-type]
    b = surface(lo_b, tuple(lo + s for lo, s in zip(lo_b, size_b, strict=True)), yaw)  # type: ignore[arg-type]
    every = min(a.distances_from(b.samples.points).min(), b.distances_from(a.samples.points).min())
    assert surface_distance(a, b) == float(every)


@settings(max_examples=40, deadline=None)
@given(
    st.tuples(*[st.floats(-2.0, 2.0)] * 3),
    st.tuples(*[st.floats(0.0, 1.0)] * 3),
    st.floats(0.0, 0.5),
    st.floats(0.0, np.pi),
)
def test_samples_near_a_box_are_those_each_sample_tested_alone_keeps(
    lo: tuple[float, float, float], size: tuple[float, float, float], radius: float, yaw: float
) -> None:
    """Testing runs of samples first (their boxes) keeps exactly the samples, in order, that testing each sample
    against the box keeps: a run it skips holds none of them."""
    shape = surface((0.0, 0.0, 0.0), (1.2, 0.7, 0.9), yaw)  # several thousand samples: many runs
    box = np.array([lo, [a + s for a, s in zip(lo, size, strict=True)]])
    points = shape.samples.points
    assert len(points) > 10 * SAMPLE_RUN
    expected = points[near_box(points, points, box, radius)]
    np.testing.assert_array_equal(shape.samples_near(box, radius), expected)


def test_distinct_float32_rows_are_each_rounded_point_once() -> None:
    """Each float32 point that some row rounds to, once (np.unique's rows, an independent oracle); the least
    distance queried on them is the one queried on every row."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=(400, 3)) * 3
    points = base[rng.integers(0, len(base), size=5000)]
    points[::3] += rng.normal(size=points[::3].shape) * 1e-9  # most still round to their base point's float32
    points[::11, 2] = 0.0
    points[1::11, 2] = -0.0
    got = distinct_float32_rows(points)
    expected = np.unique(points.astype(np.float32).view(np.uint32), axis=0).view(np.float32)
    assert len(got) == len(expected) < len(points) // 2
    assert {row.tobytes() for row in got.astype(np.float32)} == {row.tobytes() for row in expected}
    shape = surface((0.0, 0.0, 0.0), (1.0, 0.5, 0.25))
    assert shape.distances_from(got).min() == shape.distances_from(points).min()
    assert distinct_float32_rows(np.zeros((0, 3))).shape == (0, 3)


def test_vertex_region_is_the_remapped_region_of_each_corner() -> None:
    """Whole triangles' corners renumbered by searching the used vertices are those of a full-length remap table,
    and the triangles counted inside per corner are those of ``inside[faces].sum(axis=1)`` (the per-vertex
    formulation it replaced), for random regions of a grid mesh."""
    vertices, faces = grid(30, 0.1)
    rng = np.random.default_rng(3)
    for fraction in (0.05, 0.5, 0.95, 1.0):
        inside = rng.random(len(vertices)) < fraction
        count = inside[faces].sum(axis=1)
        whole = faces[count == 3]
        used = np.unique(whole)
        remap = np.full(len(vertices), -1, dtype=np.int64)
        remap[used] = np.arange(used.size)
        out_vertices, out_faces = vertex_region(vertices, faces, inside)
        n_border = int(((count > 0) & (count < 3)).sum())
        assert out_faces.dtype == np.int64 and len(out_faces) == len(whole) + 2 * int(count[count < 3].sum())
        assert out_faces[: len(whole)].tobytes() == remap[whole].tobytes()
        assert out_vertices[: used.size].tobytes() == vertices[used].tobytes()
        assert n_border == 0 or len(out_vertices) > used.size


def test_coordinate_bounds_are_numpys_axis_0_minimum_and_maximum() -> None:
    rng = np.random.default_rng(2)
    for shape in ((1, 3), (7, 2), (150_000, 3)):
        points = rng.normal(size=shape) * rng.uniform(0.1, 100)
        lo, hi = coordinate_bounds(points)
        assert lo.tobytes() == points.min(axis=0).tobytes() and hi.tobytes() == points.max(axis=0).tobytes()
    floor_vertices = grid(12, 0.25)[0]
    strided = np.column_stack([floor_vertices, floor_vertices[:, :1]])[:, ::2]  # a non-contiguous view
    lo, hi = coordinate_bounds(strided)
    assert lo.tobytes() == strided.min(axis=0).tobytes() and hi.tobytes() == strided.max(axis=0).tobytes()


@pytest.mark.parametrize(("value", "threads"), [(None, 0), ("1", 1), ("4,2", 4), (" 3 ", 3), ("many", 0), ("", 0)])
def test_ray_casts_run_on_the_threads_omp_num_threads_gives(
    monkeypatch: pytest.MonkeyPatch, value: str | None, threads: int
) -> None:
    """A worker's ``OMP_NUM_THREADS`` (its first level when nested) is the ray cast's thread count; 0, every
    core, when it is unset or not a number."""
    if value is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert query_threads() == threads
