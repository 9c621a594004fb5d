"""Walking routes on a room's floor: a 2D free-space grid, shortest paths on it, and their straight segments.

Definitions (docs/tasks.md#route_planning):

* Free space: the xy footprint of the floor triangles, rasterised at ``resolution`` (gaps narrower than
  ``close_gaps`` closed, enclosed holes filled, as :func:`ladderdata.geometry.measure.floor_area` does), minus
  the footprints of the obstacles, then eroded by the body radius: a cell is free when a disc of that radius
  around its centre touches neither an obstacle nor the outside of the floor.
* Shortest path: Dijkstra on the free cells with 16 neighbours (the 8 adjacent cells and the 8 knight moves),
  each step as long as the distance between cell centres; a step may not cut a corner (every cell it crosses is
  free). On 16 neighbours a grid path is at most 2.7 % longer than the straight line it follows.
* Straight segments: the path is pulled taut through its own cells, legs in line of sight (with one cell of
  tolerance: :attr:`FloorGrid.passable`), each bend at the path cell that makes its two legs shortest, so bends
  lie where the path rounds an obstacle's corner (:func:`taut_vertices`).
* Route uniqueness: the cells whose shortest path from start to goal through them is at most ``(1 + t)`` times
  the shortest length form a corridor; when two routes around an obstacle are nearly as short, that corridor
  encloses the obstacle. :func:`detour_margin` is the smallest ``t`` at which it does.

Grids are indexed ``[row, col]`` = ``[y, x]``; cell ``(r, c)`` has its centre at ``origin + (c, r) * resolution``.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from ladderdata.typed import BoolArray, Faces, FloatArray, IntArray, Points2, Points3

#: Steps of the 16-neighbourhood (row, col) in one direction; the graph is undirected.
_STEPS = ((0, 1), (1, 0), (1, 1), (1, -1), (1, 2), (2, 1), (1, -2), (2, -1))
#: Most cells of a grid: a 100 m x 100 m floor at 5 cm (rooms are far smaller).
MAX_GRID_CELLS = 4_000_000


@dataclass(frozen=True)
class FloorGrid:
    """Where a body's centre may stand: a (H, W) boolean raster of the floor plane."""

    origin: FloatArray
    """(2,) world xy of the centre of cell (0, 0)."""
    resolution: float
    """Metres per cell."""
    free: BoolArray
    """(H, W) True where the body's centre may stand."""
    passable: BoolArray
    """(H, W) where a straight leg may pass: ``free`` with one cell less clearance, since a grid path hugs an
    obstacle cell by cell and the straight chord between two of its cells may clip a boundary cell."""

    def cells(self, xy: Points2) -> IntArray:
        """(N, 2) ``(row, col)`` of the cells containing (N, 2) world points (may lie outside the grid)."""
        rc = np.round((np.asarray(xy, dtype=np.float64) - self.origin) / self.resolution)[:, ::-1]
        return rc.astype(np.int64)

    def centres(self, cells: IntArray) -> Points2:
        """(N, 2) world xy of the centres of (N, 2) ``(row, col)`` cells."""
        return np.asarray(self.origin + np.asarray(cells)[:, ::-1] * self.resolution, dtype=np.float64)

    def is_free(self, cells: IntArray, mask: BoolArray | None = None) -> BoolArray:
        """(N,) whether each ``(row, col)`` lies on the grid and is free (in ``mask``, default :attr:`free`)."""
        grid = self.free if mask is None else mask
        r, c = cells[:, 0], cells[:, 1]
        h, w = grid.shape
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        out = np.zeros(len(cells), dtype=bool)
        out[inside] = grid[r[inside], c[inside]]
        return out


def _polygon_mask(shape: tuple[int, int], polygons: list[FloatArray]) -> BoolArray:
    """(H, W) raster of convex polygons given in cell units (x = col, y = row), sub-pixel edges."""
    shift = 8
    mask = np.zeros(shape, dtype=np.uint8)
    for poly in polygons:  # one call per polygon: fillPoly does not fill the union of overlapping polygons
        pts = np.round(np.asarray(poly) * (1 << shift)).astype(np.int32)
        cv2.fillConvexPoly(mask, pts, 1, lineType=cv2.LINE_8, shift=shift)
    return mask.astype(bool)


def free_space(
    floor_vertices: Points3,
    floor_faces: Faces,
    obstacles: list[Points2],
    body_radius: float,
    resolution: float = 0.05,
    close_gaps: float = 0.3,
) -> FloorGrid:
    """The free-space grid of a floor (see the module docstring). ``obstacles`` are convex xy footprints,
    (K, 2) corners each, in order around the polygon."""
    if len(floor_faces) == 0:
        raise ValueError("the floor has no triangles")
    if body_radius < 0 or resolution <= 0:
        raise ValueError("body_radius must be >= 0 and resolution > 0")
    xy = floor_vertices[np.unique(floor_faces), :2]
    margin = close_gaps + body_radius + 2 * resolution
    lo, hi = xy.min(axis=0) - margin, xy.max(axis=0) + margin
    cols, rows = (np.ceil((hi - lo) / resolution).astype(int) + 1).tolist()
    if rows * cols > MAX_GRID_CELLS:
        raise ValueError(f"a floor of {hi - lo} m needs {rows * cols} cells at {resolution} m (most {MAX_GRID_CELLS})")
    # cell (r, c) centre = lo + (c, r) * resolution, so cell units are (xy - lo) / resolution

    def to_cells(points: FloatArray) -> FloatArray:
        return np.asarray((np.asarray(points)[..., :2] - lo) / resolution, dtype=np.float64)

    floor = _polygon_mask((rows, cols), list(to_cells(floor_vertices[floor_faces])))
    if close_gaps > 0:
        k = max(1, round(close_gaps / resolution))
        floor = cv2.morphologyEx(floor.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((k, k), np.uint8)).astype(bool)
    # the rasteriser fills every cell an edge touches: one cell less of floor leaves only cells inside it
    floor = ndimage.binary_erosion(ndimage.binary_fill_holes(floor), np.ones((3, 3), dtype=bool))
    blocked = _polygon_mask((rows, cols), [to_cells(o) for o in obstacles])
    open_floor = floor & ~blocked
    # distance (cells) from each cell centre to the nearest blocked or off-floor cell's centre, less half a cell
    # for that cell's extent
    clearance = (ndimage.distance_transform_edt(open_floor) - 0.5) * resolution
    return FloorGrid(
        origin=lo,
        resolution=resolution,
        free=np.asarray(open_floor & (clearance >= body_radius)),
        passable=np.asarray(open_floor & (clearance >= body_radius - resolution)),
    )


def _graph(grid: FloorGrid) -> tuple[sparse.csr_matrix, IntArray]:
    """The 16-neighbour graph of the free cells (edge weights in metres) and (H, W) node index per cell (-1:
    not free)."""
    free = grid.free
    h, w = free.shape
    node = np.full((h, w), -1, dtype=np.int64)
    rows, cols = np.nonzero(free)
    node[rows, cols] = np.arange(len(rows))
    src, dst, weight = [], [], []
    for dr, dc in _STEPS:
        r2, c2 = rows + dr, cols + dc
        ok = (r2 >= 0) & (r2 < h) & (c2 >= 0) & (c2 < w)
        ok[ok] &= free[r2[ok], c2[ok]]
        # cells a step crosses: both orthogonal neighbours for a diagonal, the two cells beside the
        # midpoint for a knight move
        for mr, mc in _crossed(dr, dc):
            rr, cc = rows + mr, cols + mc
            inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
            ok &= inside
            ok[ok] &= free[rr[ok], cc[ok]]
        src.append(node[rows[ok], cols[ok]])
        dst.append(node[r2[ok], c2[ok]])
        weight.append(np.full(int(ok.sum()), math.hypot(dr, dc) * grid.resolution))
    n = len(rows)
    matrix = sparse.csr_matrix((np.concatenate(weight), (np.concatenate(src), np.concatenate(dst))), shape=(n, n))
    return matrix, node


def _crossed(dr: int, dc: int) -> list[tuple[int, int]]:
    if abs(dr) + abs(dc) == 1:
        return []
    if abs(dr) == 1 and abs(dc) == 1:
        return [(dr, 0), (0, dc)]
    if abs(dr) == 2:
        return [(1, 0), (1, dc)]
    return [(0, int(math.copysign(1, dc))), (dr, int(math.copysign(1, dc)))]


class Planner:
    """Shortest paths on one free-space grid (its graph built once)."""

    def __init__(self, grid: FloorGrid) -> None:
        self.grid = grid
        self.graph, self.node = _graph(grid)
        self._cells = np.argwhere(grid.free)  # (n, 2) row, col of node i

    def field(self, sources: IntArray) -> tuple[FloatArray, IntArray]:
        """Geodesic distance (metres) from the nearest of (S, 2) free source cells to every free node, (n,) with
        inf where unreachable, and (n,) predecessors towards the sources (-9999 at sources and unreachable)."""
        ids = self.node[sources[:, 0], sources[:, 1]]
        if (ids < 0).any():
            raise ValueError("a source cell is not free")
        dist, pred = csgraph.dijkstra(self.graph, directed=False, indices=ids, return_predecessors=True, min_only=True)[
            :2
        ]
        return np.asarray(dist), np.asarray(pred)

    def raster(self, values: FloatArray) -> FloatArray:
        """(H, W) raster of per-node values (inf off the free space)."""
        out = np.full(self.grid.free.shape, np.inf)
        out[self._cells[:, 0], self._cells[:, 1]] = values
        return out

    def path(self, start: IntArray, pred: IntArray) -> IntArray:
        """(K, 2) cells from free ``start`` (row, col) to the sources of ``pred`` (from :meth:`field`)."""
        i = int(self.node[start[0], start[1]])
        if i < 0:
            raise ValueError("the start cell is not free")
        out = [i]
        while pred[out[-1]] >= 0:
            out.append(int(pred[out[-1]]))
        return self._cells[out]


def cells_near_polygon(grid: FloorGrid, polygon: Points2, within: float) -> IntArray:
    """(S, 2) free cells whose centres lie within ``within`` metres of a convex xy polygon (K, 2)."""
    cells = np.argwhere(grid.free)
    if not len(cells):
        return cells
    return cells[polygon_distance(polygon, grid.centres(cells)) <= within]


def polygon_distance(polygon: Points2, points: Points2) -> FloatArray:
    """(N,) distance from (N, 2) points to a convex polygon (K, 2) (0 inside)."""
    poly = np.asarray(polygon, dtype=np.float64)
    a, b = poly, np.roll(poly, -1, axis=0)
    ab = b - a  # (K, 2)
    ap = points[:, None, :] - a[None]  # (N, K, 2)
    t = np.clip(np.einsum("nkj,kj->nk", ap, ab) / np.einsum("kj,kj->k", ab, ab), 0.0, 1.0)
    edge = np.linalg.norm(ap - t[..., None] * ab[None], axis=2).min(axis=1)
    cross = ab[None, :, 0] * ap[..., 1] - ab[None, :, 1] * ap[..., 0]  # (N, K)
    inside = (cross >= 0).all(axis=1) | (cross <= 0).all(axis=1)
    return np.where(inside, 0.0, edge)


def visible_from(grid: FloorGrid, a: FloatArray, targets: Points2) -> BoolArray:
    """(N,) whether every point of the segment from world xy ``a`` to each of (N, 2) ``targets`` lies in a
    :attr:`FloorGrid.passable` cell (sampled every half cell), in one pass."""
    lengths = np.linalg.norm(targets - a, axis=1)
    steps = np.maximum(2, np.ceil(lengths / (grid.resolution / 2)).astype(np.int64) + 1)
    owner = np.repeat(np.arange(len(targets)), steps)
    first = np.cumsum(steps) - steps
    t = (np.arange(int(steps.sum())) - first[owner]) / (steps[owner] - 1)
    samples = a + t[:, None] * (targets[owner] - a)
    blocked = ~grid.is_free(grid.cells(samples), grid.passable)
    return np.asarray(np.bincount(owner, weights=blocked, minlength=len(targets)) == 0)


def taut_vertices(grid: FloorGrid, path: IntArray, sweeps: int = 3) -> Points2:
    """(M, 2) world xy of a grid path pulled taut into straight legs through path cells: first greedily (from
    each vertex, the farthest later path cell in line of sight), then each bend is moved to the path cell
    between its neighbours that shortens the two legs most while both stay in line of sight (``sweeps``
    times), so that bends sit where the path rounds an obstacle's corner."""
    xy = grid.centres(path)
    keep = [0]
    while keep[-1] < len(xy) - 1:
        i = keep[-1]
        seen = np.flatnonzero(visible_from(grid, xy[i], xy[i + 1 :]))
        keep.append(i + 1 + int(seen[-1]) if len(seen) else i + 1)
    for _ in range(sweeps):
        moved = False
        for n in range(1, len(keep) - 1):
            lo, hi = keep[n - 1], keep[n + 1]
            cand = np.arange(lo + 1, hi)
            ok = visible_from(grid, xy[lo], xy[cand]) & visible_from(grid, xy[hi], xy[cand])
            cost = np.linalg.norm(xy[cand] - xy[lo], axis=1) + np.linalg.norm(xy[cand] - xy[hi], axis=1)
            cost[~ok] = np.inf
            best = int(cand[int(np.argmin(cost))])
            if np.isfinite(cost.min()) and best != keep[n]:
                keep[n], moved = best, True
        if not moved:
            break
    return xy[keep]


def signed_turn_deg(before: FloatArray, after: FloatArray) -> float:
    """Heading change, degrees in (-180, 180], from 2D direction ``before`` to ``after``; counter-clockwise
    (a left turn seen from above, z up) is positive."""
    cross = before[0] * after[1] - before[1] * after[0]
    return math.degrees(math.atan2(cross, float(before @ after)))


def detour_margin(through: FloatArray, length: float, cap: float, min_hole_cells: int, steps: int = 8) -> float:
    """Smallest ``t`` in (0, ``cap``] at which the corridor ``through <= (1 + t) * length`` encloses a hole of at
    least ``min_hole_cells`` cells (``through``: (H, W) length of the shortest start-goal path through each
    cell, inf off the free space), to a precision of ``cap / 2**steps``; ``cap`` when it encloses none."""

    def has_hole(t: float) -> bool:
        outside = ~(through <= (1.0 + t) * length)
        labels, _ = ndimage.label(outside)
        sizes = np.bincount(labels.ravel())
        sizes[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = 0  # not enclosed
        sizes[0] = 0
        return bool(sizes.max() >= min_hole_cells)

    if not has_hole(cap):
        return cap
    lo, hi = 0.0, cap
    for _ in range(steps):
        mid = (lo + hi) / 2
        if has_hole(mid):
            hi = mid
        else:
            lo = mid
    return hi
