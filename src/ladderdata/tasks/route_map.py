"""route_planning's top-down map: what a route-planning row stores (in its ``extras`` column, under
:data:`ROUTE_MAP_KEY`) so that a preview card can draw the planned route to scale.

Everything is in metres in the scan's frame seen from above (x right, y up): the free space the route was planned
on (outlines of the grid's free cells, holes apart), the footprints of the other obstacles, the footprints of the
question's objects (start, landmarks, goal, in the row's ``objects`` order) with their labels, and the taut path
the planner found (start, bends, goal). Outlines are simplified to one grid cell; coordinates are rounded to
1 cm (outlines, footprints) and 1 mm (the path).
"""

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict

from ladderdata.geometry.free_space import FloorGrid
from ladderdata.typed import Points2

ROUTE_MAP_KEY = "route_map"
"""Key of the map in a route-planning row's ``extras``."""

Polygon = list[tuple[float, float]]


class MapObject(BaseModel):
    """One of the question's objects on the map."""

    model_config = ConfigDict(frozen=True)

    label: str
    role: str
    """``start``, ``landmark`` or ``goal``, as the row's ``objects`` name it."""
    footprint: Polygon
    """(4, 2) corners of its gravity-aligned box seen from above, counter-clockwise."""


class RouteMap(BaseModel):
    """A route-planning question's room seen from above, with the route the answer describes."""

    model_config = ConfigDict(frozen=True)

    free: list[Polygon]
    """Outer outlines of the free space (where the walker's centre may stand: floor minus obstacles, eroded by
    the body radius)."""
    holes: list[Polygon]
    """Outlines of the holes in that free space (obstacles and their clearance)."""
    obstacles: list[Polygon]
    """Footprints of the obstacles that are not the question's objects."""
    objects: list[MapObject]
    """The question's objects, in the row's ``objects`` order (start, landmarks, goal)."""
    path: Polygon
    """(M, 2) the planned taut path: start, its bends, goal."""


def _rounded(points: Points2, digits: int) -> Polygon:
    return [(round(float(x), digits), round(float(y), digits)) for x, y in np.asarray(points)]


def free_outlines(grid: FloorGrid) -> tuple[list[Points2], list[Points2]]:
    """(outer outlines, hole outlines) of the grid's free cells, each (K, 2) world xy through the centres of the
    boundary cells, simplified to within one cell (Douglas-Peucker)."""
    contours, hierarchy = cv2.findContours(grid.free.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    outer: list[Points2] = []
    holes: list[Points2] = []
    for contour, (_, _, _, parent) in zip(contours, hierarchy[0] if hierarchy is not None else [], strict=True):
        simple = cv2.approxPolyDP(contour, 1.0, closed=True)[:, 0, :]  # (K, 2) (col, row)
        if len(simple) < 3:
            continue
        xy = np.asarray(grid.origin + simple * grid.resolution, dtype=np.float64)
        (holes if parent >= 0 else outer).append(xy)
    return outer, holes


def route_map(
    grid: FloorGrid,
    obstacles: dict[int, Points2],
    objects: list[tuple[int, str, str]],
    path: Points2,
) -> RouteMap:
    """The map of one route: ``obstacles`` are every obstacle's (4, 2) footprint by object id (the question's
    objects among them), ``objects`` the question's (object id, label, role) in the row's order, ``path`` the
    (M, 2) planned path."""
    outer, holes = free_outlines(grid)
    named = {i for i, _, _ in objects}
    return RouteMap(
        free=[_rounded(p, 2) for p in outer],
        holes=[_rounded(p, 2) for p in holes],
        obstacles=[_rounded(p, 2) for i, p in sorted(obstacles.items()) if i not in named],
        objects=[MapObject(label=label, role=role, footprint=_rounded(obstacles[i], 2)) for i, label, role in objects],
        path=_rounded(path, 3),
    )
