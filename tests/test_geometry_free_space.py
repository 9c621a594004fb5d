"""The free-space grid, shortest paths and their taut segments, against closed-form rooms."""

import math

import numpy as np
import pytest

from ladderdata.geometry.free_space import (
    FloorGrid,
    Planner,
    detour_margin,
    free_space,
    polygon_distance,
    signed_turn_deg,
    taut_vertices,
)
from ladderdata.typed import Faces, Points2, Points3

RADIUS = 0.2
RES = 0.05


def floor(*rects: tuple[float, float, float, float]) -> tuple[Points3, Faces]:
    """Two triangles per (x0, y0, x1, y1) rectangle at z = 0."""
    vertices: list[tuple[float, float, float]] = []
    faces: list[tuple[int, int, int]] = []
    for x0, y0, x1, y1 in rects:
        k = len(vertices)
        vertices += [(x0, y0, 0.0), (x1, y0, 0.0), (x1, y1, 0.0), (x0, y1, 0.0)]
        faces += [(k, k + 1, k + 2), (k, k + 2, k + 3)]
    return np.array(vertices, dtype=np.float64), np.array(faces, dtype=np.int64)


def square(x0: float, y0: float, x1: float, y1: float) -> Points2:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def nearest_free(grid: FloorGrid, xy: np.ndarray, within: float) -> np.ndarray | None:
    """The free cell whose centre is nearest to ``xy``, if within ``within`` metres."""
    cells = np.argwhere(grid.free)
    d = np.linalg.norm(grid.centres(cells) - xy, axis=1)
    return cells[int(np.argmin(d))] if d.min() <= within else None


def route(planner: Planner, a: tuple[float, float], c: tuple[float, float]) -> tuple[float, Points2]:
    grid = planner.grid
    s, g = nearest_free(grid, np.array(a), 0.1), nearest_free(grid, np.array(c), 0.1)
    assert s is not None and g is not None
    dist, pred = planner.field(g[None])
    return float(dist[planner.node[s[0], s[1]]]), taut_vertices(grid, planner.path(s, pred))


def test_free_space_keeps_the_body_radius_from_walls_and_obstacles() -> None:
    box = square(1.5, 1.0, 2.5, 2.0)
    grid = free_space(*floor((0, 0, 4, 3)), [box], RADIUS, RES)
    centres = grid.centres(np.argwhere(grid.free))
    inside_walls = np.minimum.reduce([centres[:, 0], 4 - centres[:, 0], centres[:, 1], 3 - centres[:, 1]])
    assert inside_walls.min() >= RADIUS - 1e-9
    assert polygon_distance(box, centres).min() >= RADIUS - 1e-9
    # and nothing farther than the radius plus a cell and a half is lost
    all_cells = np.argwhere(np.ones_like(grid.free))
    xy = grid.centres(all_cells)
    walls = np.minimum.reduce([xy[:, 0], 4 - xy[:, 0], xy[:, 1], 3 - xy[:, 1]])
    clear = (walls >= RADIUS + 1.5 * RES) & (polygon_distance(box, xy) >= RADIUS + 1.5 * RES)
    assert grid.free[all_cells[clear, 0], all_cells[clear, 1]].all()


def test_open_room_path_is_one_straight_leg_as_long_as_the_line() -> None:
    planner = Planner(free_space(*floor((0, 0, 6, 4)), [], RADIUS, RES))
    length, path = route(planner, (1.0, 1.0), (5.0, 3.0))
    assert len(path) == 2
    straight = math.hypot(4.0, 2.0)
    assert straight <= length + 1e-9 <= straight * 1.03  # 16 neighbours: at most 2.7 % longer


def test_path_around_a_divider_bends_at_its_free_end() -> None:
    # a divider from the bottom wall up to y = 2.5: the only way from left to right is over its top
    divider = square(2.8, 0.0, 3.2, 2.5)
    planner = Planner(free_space(*floor((0, 0, 6, 4)), [divider], RADIUS, RES))
    a, c = (1.0, 1.0), (5.0, 1.0)
    length, path = route(planner, a, c)
    # bounds: through the divider's top corners, and through those corners pushed out by the radius diagonally
    lo = math.dist(a, (2.8, 2.5)) + 0.4 + math.dist((3.2, 2.5), c)
    hi = math.dist(a, (2.8 - RADIUS, 2.5 + RADIUS)) + 0.4 + 2 * RADIUS + math.dist((3.2 + RADIUS, 2.5 + RADIUS), c)
    assert lo < length < hi * 1.03
    bends = path[1:-1]
    assert len(bends) >= 1
    assert (polygon_distance(divider, bends) < RADIUS + 3 * RES).all()
    assert (bends[:, 1] > 2.5).all()
    total = sum(signed_turn_deg(path[i] - path[i - 1], path[i + 1] - path[i]) for i in range(1, len(path) - 1))
    # up to the top, then down: a right turn (clockwise seen from above) of about 2 atan(1.7 / 1.8) = 87°
    assert -95 < total < -80


def test_l_shaped_room_bends_at_the_reflex_corner() -> None:
    # L: the square (3, 3)-(6, 6) is cut away; the reflex corner is (3, 3)
    planner = Planner(free_space(*floor((0, 0, 6, 3), (0, 3, 3, 6)), [], RADIUS, RES))
    assert not planner.grid.free[planner.grid.cells(np.array([[4.5, 4.5]]))[:, 0].clip(0), :].all()
    a, c = (5.5, 1.0), (1.0, 5.5)
    length, path = route(planner, a, c)
    assert len(path) >= 3
    assert (np.linalg.norm(path[1:-1] - np.array([3.0, 3.0]), axis=1) < RADIUS + 3 * RES).all()
    via = math.dist(a, (3.0, 3.0)) + math.dist((3.0, 3.0), c)
    assert via < length < via * 1.04
    # west-north-west (145°), then north-north-west (125°): clockwise, a right turn of 20° seen from above
    corner = 3.0 - RADIUS / math.sqrt(2)  # the taut string touches the padded corner on the diagonal
    heading_in = math.atan2(corner - a[1], corner - a[0])
    heading_out = math.atan2(c[1] - corner, c[0] - corner)
    expected = math.degrees(heading_out - heading_in)
    assert expected == pytest.approx(-19.7, abs=0.1)
    assert signed_turn_deg(path[1] - path[0], path[-1] - path[-2]) == pytest.approx(expected, abs=3.0)


def test_detour_margin_sees_two_equal_routes_around_an_island() -> None:
    planner = Planner(free_space(*floor((0, 0, 8, 5)), [square(3.5, 2.0, 4.5, 3.0)], RADIUS, RES))
    grid = planner.grid

    def margin(a: tuple[float, float], c: tuple[float, float]) -> float:
        s, g = nearest_free(grid, np.array(a), 0.1), nearest_free(grid, np.array(c), 0.1)
        assert s is not None and g is not None
        from_s, from_g = planner.field(s[None])[0], planner.field(g[None])[0]
        length = float(from_s[planner.node[g[0], g[1]]])
        return detour_margin(planner.raster(from_s) + planner.raster(from_g), length, 0.5, 16)

    assert margin((1.0, 2.5), (7.0, 2.5)) < 0.02  # straight through the island: above and below tie
    # above it: the way below is 2.36 m longer (via the island's padded corners; 2.18 m via its corners)
    straight = 6.0
    below = 2 * math.dist((1.0, 4.5), (3.5 - RADIUS, 2.0 - RADIUS)) + 1.0 + 2 * RADIUS
    assert below / straight - 1 - 0.03 < margin((1.0, 4.5), (7.0, 4.5)) < below / straight - 1 + 0.03
    assert margin((1.0, 4.9), (1.5, 4.9)) == 0.5  # a short walk along the wall: no way round the island nears it


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [((1, 0), (0, 1), 90.0), ((1, 0), (0, -1), -90.0), ((0, 1), (-1, -1), 135.0), ((1, 0), (1, 0), 0.0)],
)
def test_signed_turn_is_counter_clockwise_positive(
    before: tuple[int, int], after: tuple[int, int], expected: float
) -> None:
    assert signed_turn_deg(np.array(before, float), np.array(after, float)) == pytest.approx(expected)


def test_polygon_distance() -> None:
    box = square(0, 0, 1, 1)
    points = np.array([[0.5, 0.5], [2.0, 0.5], [2.0, 2.0], [-0.5, 0.0]])
    np.testing.assert_allclose(polygon_distance(box, points), [0.0, 1.0, math.sqrt(2), 0.5])
