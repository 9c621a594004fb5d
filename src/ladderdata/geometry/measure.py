"""Measurements on object surfaces: surface samples, closest-surface distance, object size, floor area.

Definitions (docs/geometry.md):

* Surface samples: every triangle carries a barycentric grid of ``(k+1)(k+2)/2`` points, with
  ``k = min(ceil(longest edge / spacing), MAX_SUBDIVISIONS)``. The grid includes the triangle's vertices and
  edge points, so corners and edges (where closest points between objects usually lie) are always sampled.
  Each sample is weighted by ``triangle area / samples in the triangle``, so weighted fractions are area
  fractions. Grid neighbours are at most ``spacing`` apart on every triangle whose longest edge is at most
  ``MAX_SUBDIVISIONS * spacing`` (1.28 m at the 2 cm default; scan meshes' triangles are centimetres); a longer
  one gets ``MAX_SUBDIVISIONS`` subdivisions, so no triangle costs more than 2,145 samples whatever its size.
* Distance between two objects = minimum distance between their surfaces. Computed as
  ``min(min_{p in S_A} d(p, mesh_B), min_{q in S_B} d(q, mesh_A))`` with exact point-to-triangle distances
  (open3d), which is exact whenever a closest point lies at a sample (face-face, vertex-face contacts) and
  otherwise overestimates by at most the sample spacing's effect on an edge-edge pair.
* Object regions: an object is a set of mesh vertices (its segments'); its surface is every triangle whose
  three vertices are in the set plus, of each triangle with one or two of them, the barycentric cells of those
  vertices (the triangle split at its edge midpoints and centroid), so the objects of a mesh partition its
  surface (:func:`vertex_region`).
* Object size = longest side, in centimetres, of the object's minimal-footprint gravity-aligned box
  (``SizeBox.GRAVITY``) or of its minimal oriented box in 3D (``SizeBox.MINIMAL_3D``, VSI-Bench's
  definition); both are computed from the object's vertices.
* Floor area = area of the xy footprint of the floor triangles, rasterised at ``resolution`` with
  sub-pixel edges and the rasteriser's half-cell outline bias removed; gaps narrower than ``close_gaps``
  (unscanned floor under furniture) are closed and enclosed holes filled.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property, lru_cache

import cv2
import numpy as np
from scipy import ndimage

from ladderdata.geometry.boxes import OrientedBox, coordinate_bounds, minimal_box_sides
from ladderdata.geometry.raycast import TriangleScene
from ladderdata.typed import BoolArray, Faces, FloatArray, IntArray, Points3


@dataclass(frozen=True)
class SurfaceSamples:
    """Area-weighted samples of a triangle mesh's surface."""

    points: Points3
    """(N, 3) sample positions."""
    face_index: IntArray
    """(N,) index of the triangle each sample lies on."""
    weights: FloatArray
    """(N,) area carried by each sample, m^2; sums to the mesh area."""


def triangle_areas(vertices: Points3, faces: Faces) -> FloatArray:
    """(F,) areas of the (F, 3) triangles."""
    return _areas_and_longest_edges(vertices, faces)[0]


def _corner_coordinates(vertices: Points3, faces: Faces) -> FloatArray:
    """(3, 3, F) the triangles' corner coordinates, indexed [axis, corner, triangle]: each axis of each corner one
    contiguous (F,) row, so that the arithmetic below runs on whole rows."""
    return np.take(vertices.T, faces.T, axis=1)


def _areas_and_longest_edges(vertices: Points3, faces: Faces) -> tuple[FloatArray, FloatArray]:
    """(F,) areas and (F,) longest edge lengths of the (F, 3) triangles: the bits of
    ``0.5 * norm(cross(b - a, c - a), axis=1)`` and of ``norm(tri - roll(tri, -1, axis=1), axis=2).max(axis=1)``
    (each product and difference of numpy's ``cross``, each norm's squares summed x, y, z in that order, and the
    square root taken of the longest squared edge: the root is monotonic and correctly rounded), on rows of
    coordinates instead of (F, 3) arrays."""
    p = _corner_coordinates(vertices, faces)
    u, w = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]  # (3, F) edges b - a and c - a
    areas = u[1] * w[2] - u[2] * w[1]  # numpy's cross: a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0
    areas *= areas
    for i, j in ((2, 0), (0, 1)):
        term = u[i] * w[j] - u[j] * w[i]
        term *= term
        areas += term
    np.sqrt(areas, out=areas)
    areas *= 0.5
    longest = _squared_length(u)  # edges a - b, b - c and c - a up to sign, which squares drop
    np.maximum(longest, _squared_length(p[:, 1] - p[:, 2]), out=longest)
    np.maximum(longest, _squared_length(w), out=longest)
    np.sqrt(longest, out=longest)
    return np.asarray(areas, dtype=np.float64), longest


def _squared_length(d: FloatArray) -> FloatArray:
    """(F,) x^2 + y^2 + z^2 of (3, F) rows, summed in that order."""
    out: FloatArray = d[0] * d[0]
    out += d[1] * d[1]
    out += d[2] * d[2]
    return out


#: Most subdivisions of a triangle's edges in :func:`sample_surface`: (64+1)(64+2)/2 = 2,145 samples at most.
MAX_SUBDIVISIONS = 64
#: Most raster cells of :func:`floor_area`: a floor of up to 50 m x 50 m is rasterised at the requested
#: resolution; a larger one at the resolution that fits (100 MB at most, whatever a vertex's coordinates).
MAX_FLOOR_CELLS = 25_000_000


@dataclass(frozen=True)
class _SampleGroup:
    """The triangles of :func:`sample_surface` subdivided ``k`` times, and their shared barycentric grid."""

    ids: IntArray
    """(n,) triangle indices."""
    b1: FloatArray
    """(P,) weight of each grid point's 2nd corner."""
    b2: FloatArray
    """(P,) and of its 3rd."""


@lru_cache(maxsize=MAX_SUBDIVISIONS)
def _barycentric_grid(k: int) -> tuple[FloatArray, FloatArray]:
    """(P,) weights of the 2nd and of the 3rd corner of the ``(k+1)(k+2)/2`` points of a triangle subdivided ``k``
    times, in :func:`sample_surface`'s order; cached, read-only."""
    i, j = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
    keep = (i + j) <= k
    bary = np.stack([i[keep], j[keep]], axis=1) / k  # (P, 2) weights of vertices 1 and 2
    b1, b2 = bary[:, 0], bary[:, 1]
    b1.setflags(write=False)
    b2.setflags(write=False)
    return b1, b2


@dataclass(frozen=True)
class SampleGrid:
    """Where :func:`sample_surface`'s samples lie, without their positions: the triangles grouped by subdivision
    count, in sample order. Gives the samples' weights, or the positions of a few of them, at a fraction of the
    cost of all of them (the same bits as :func:`sample_surface`)."""

    vertices: Points3
    faces: Faces
    groups: list[_SampleGroup]
    areas: FloatArray
    """(F,) triangle areas."""

    @classmethod
    def of(cls, vertices: Points3, faces: Faces, spacing: float) -> "SampleGrid":
        if spacing <= 0:
            raise ValueError("spacing must be positive")
        areas, longest = _areas_and_longest_edges(vertices, faces)
        subdivisions = np.clip(np.ceil(longest / spacing), 1, MAX_SUBDIVISIONS)
        k_per_face = subdivisions.astype(np.int64)
        groups = []
        for k in np.flatnonzero(np.bincount(k_per_face, minlength=1)).tolist():
            b1, b2 = _barycentric_grid(k)
            groups.append(_SampleGroup(np.flatnonzero(k_per_face == k), b1, b2))
        return cls(vertices, faces, groups, areas)

    def samples(self) -> SurfaceSamples:
        """Every sample (:func:`sample_surface`)."""
        tri = self.vertices[self.faces]
        points, face_ids, weights = [], [], []
        for g in self.groups:
            n_pts, t = g.b1.size, tri[g.ids]  # (n, 3, 3)
            # (n, P, 3) corner 0 + b1 (corner 1 - corner 0) + b2 (corner 2 - corner 0), in that order, in place
            pts = np.multiply(g.b1[None, :, None], (t[:, 1] - t[:, 0])[:, None, :])
            pts += t[:, None, 0]
            pts += g.b2[None, :, None] * (t[:, 2] - t[:, 0])[:, None, :]
            points.append(pts.reshape(-1, 3))
            face_ids.append(np.repeat(g.ids, n_pts))
            weights.append(np.repeat(self.areas[g.ids] / n_pts, n_pts))
        if not points:
            empty = np.zeros((0, 3))
            return SurfaceSamples(empty, np.zeros(0, dtype=np.int64), np.zeros(0))
        return SurfaceSamples(np.concatenate(points), np.concatenate(face_ids), np.concatenate(weights))

    def weights(self) -> FloatArray:
        """``samples().weights`` without the positions: (N,)."""
        parts = [np.repeat(self.areas[g.ids] / g.b1.size, g.b1.size) for g in self.groups]
        return np.concatenate(parts) if parts else np.zeros(0)

    def points(self, index: IntArray) -> Points3:
        """``samples().points[index]``, computing only those (M,) samples: (M, 3)."""
        out = np.zeros((index.size, 3))
        start = 0
        for g in self.groups:
            n_pts, end = g.b1.size, start + g.ids.size * g.b1.size
            at = np.flatnonzero((index >= start) & (index < end))
            face, point = np.divmod(index[at] - start, n_pts)
            t = self.vertices[self.faces[g.ids[face]]]  # (m, 3, 3)
            # samples()'s arithmetic, in its order: the same bits
            pts = np.multiply(g.b1[point, None], t[:, 1] - t[:, 0])
            pts += t[:, 0]
            pts += g.b2[point, None] * (t[:, 2] - t[:, 0])
            out[at] = pts
            start = end
        return out


def sample_surface(vertices: Points3, faces: Faces, spacing: float) -> SurfaceSamples:
    """Deterministic barycentric-grid samples with at most ``spacing`` metres between grid neighbours on
    triangles up to ``MAX_SUBDIVISIONS * spacing`` long (``MAX_SUBDIVISIONS`` subdivisions on longer ones)."""
    return SampleGrid.of(vertices, faces, spacing).samples()


def vertex_region(vertices: Points3, faces: Faces, inside: BoolArray) -> tuple[Points3, Faces]:
    """The part of a triangle mesh that belongs to the ``inside`` vertices: (V', 3) vertices and (F', 3) triangles.

    A point of a triangle belongs to the vertex with the largest barycentric coordinate, i.e. each triangle is
    split at its edge midpoints and centroid into three cells, one per corner. Triangles whose three vertices
    are inside are kept whole; of a triangle with one or two inside vertices, those vertices' cells are kept
    (two sub-triangles each, wound like the triangle). ``faces`` may be any subset of the mesh's triangles
    (those touching the region suffice); ``inside`` is (V,) over ``vertices``.
    """
    corner_inside = inside[faces]  # (F, 3)
    count = corner_inside[:, 0].astype(np.int8) + corner_inside[:, 1] + corner_inside[:, 2]
    whole = faces[count == 3]
    border = faces[(count > 0) & (count < 3)]
    tri = vertices[border]  # (B, 3, 3)
    centroid = tri.mean(axis=1)
    pieces = []
    for k in range(3):  # the cell of corner k: (corner, mid to next, centroid) and (corner, centroid, mid to prev)
        keep = inside[border[:, k]]
        corner, nxt, prv = tri[keep, k], tri[keep, (k + 1) % 3], tri[keep, (k + 2) % 3]
        mid_next, mid_prev, g = (corner + nxt) / 2, (corner + prv) / 2, centroid[keep]
        pieces += [np.stack([corner, mid_next, g], axis=1), np.stack([corner, g, mid_prev], axis=1)]
    used_mask = np.zeros(len(vertices), dtype=bool)  # np.unique(whole) without sorting every corner
    used_mask[whole.reshape(-1)] = True
    used = np.flatnonzero(used_mask)
    split = np.concatenate(pieces).reshape(-1, 3) if pieces else np.zeros((0, 3))
    out_vertices = np.concatenate([vertices[used], split])
    split_faces = used.size + np.arange(len(split), dtype=np.int64).reshape(-1, 3)
    whole_faces = np.searchsorted(used, whole)  # each corner's position among the sorted used vertices
    return out_vertices, np.concatenate([whole_faces, split_faces]).astype(np.int64)


class SizeBox(StrEnum):
    """Which box an object's size (its longest side) is measured on."""

    GRAVITY = "gravity"
    """Gravity-aligned box of minimal footprint area (``OrientedBox``)."""
    MINIMAL_3D = "minimal_3d"
    """Minimal-volume box rotated freely in 3D (open3d), as VSI-Bench's metadata computes object sizes."""


def object_size_cm(points: Points3, box: SizeBox = SizeBox.GRAVITY) -> float:
    """Longest side, in centimetres, of the ``box`` of an object's (N, 3) vertices."""
    if box is SizeBox.MINIMAL_3D:
        return float(minimal_box_sides(points)[0]) * 100.0
    return OrientedBox.from_points(points).longest_side * 100.0


@dataclass
class ObjectSurface:
    """The surface of one object (see :func:`vertex_region`), with lazily built samples and closest-point
    structure."""

    vertices: Points3
    """(V, 3) vertices of the object's triangles (mesh vertices and, at borders, edge midpoints and centroids)."""
    faces: Faces
    """(F, 3) triangles indexing ``vertices``."""
    spacing: float = 0.02
    _scene: TriangleScene | None = field(default=None, init=False, repr=False)

    @cached_property
    def samples(self) -> SurfaceSamples:
        return self.sample_grid.samples()

    @cached_property
    def sample_grid(self) -> SampleGrid:
        return SampleGrid.of(self.vertices, self.faces, self.spacing)

    @property
    def sample_weights(self) -> FloatArray:
        """``samples.weights``, without building the samples when they are not built yet."""
        return self.samples.weights if "samples" in self.__dict__ else self.sample_grid.weights()

    def sample_points(self, index: IntArray) -> Points3:
        """``samples.points[index]``, computing only those when the samples are not built yet (per-view metadata
        picks a few thousand of an object's hundreds of thousands; drafting builds all of those it measures)."""
        return self.samples.points[index] if "samples" in self.__dict__ else self.sample_grid.points(index)

    @property
    def area(self) -> float:
        return float(triangle_areas(self.vertices, self.faces).sum())

    def distances_from(self, points: Points3) -> FloatArray:
        """(N,) exact unsigned distance from (N, 3) points to this object's triangles."""
        if self._scene is None:
            self._scene = TriangleScene(self.vertices, self.faces)
        return self._scene.distance(points)

    @cached_property
    def bounds(self) -> FloatArray:
        """(2, 3) lower and upper corners of the axis-aligned box of the vertices."""
        return np.stack(coordinate_bounds(self.vertices))

    @cached_property
    def sample_boxes(self) -> tuple[FloatArray, FloatArray]:
        """The samples in runs of :data:`SAMPLE_RUN` consecutive ones (the last may be shorter): (R, 3) lower and
        (R, 3) upper corners of each run's axis-aligned box."""
        points = self.samples.points
        starts = np.arange(0, len(points), SAMPLE_RUN)
        if not len(starts):
            return np.zeros((0, 3)), np.zeros((0, 3))
        return np.minimum.reduceat(points, starts, axis=0), np.maximum.reduceat(points, starts, axis=0)

    def samples_near(self, box: FloatArray, radius: float) -> Points3:
        """(M, 3) the samples within ``radius`` of the (2, 3) axis-aligned ``box``, in sample order (those
        :func:`near_box` keeps), tested run by run first (:attr:`sample_boxes`): a run whose box is farther than
        ``radius`` holds no such sample (each coordinate gap of a sample is at least its run's, and rounded
        squares and sums keep that order), so only the samples of the other runs are tested one by one."""
        points = self.samples.points
        lo, hi = self.sample_boxes
        runs = near_box(lo, hi, box, radius)
        if not runs.any():
            return points[:0]
        candidates = points if runs.all() else points[np.repeat(runs, SAMPLE_RUN)[: len(points)]]
        return candidates[near_box(candidates, candidates, box, radius)]


#: Consecutive surface samples per box of :attr:`ObjectSurface.sample_boxes`. Any run length keeps the same
#: samples; 32-64 tests the fewest for the least run-box work (drafting's 62 pairs on a 150k-vertex scan: 52 ms in
#: samples_near at 256, 42-43 ms at 32-64).
SAMPLE_RUN = 64


def near_box(lo: FloatArray, hi: FloatArray, box: FloatArray, radius: float) -> BoolArray:
    """(N,) whether each of N axis-aligned boxes, (N, 3) lower corners ``lo`` and (N, 3) upper ``hi`` (a point:
    the same array twice), lies within ``radius`` of the (2, 3) axis-aligned ``box``."""
    gap = box[0] - hi  # (N, 3) distance outside the box along each axis, in place
    np.maximum(gap, lo - box[1], out=gap)
    np.maximum(gap, 0.0, out=gap)
    return np.asarray(np.einsum("ij,ij->i", gap, gap) <= radius * radius)


#: Samples per object queried first for an upper bound of the distance (see :func:`surface_distance`). Any count
#: gives the same distance (the bound only prunes); fewer bound queries let a few more samples past the bound
#: (drafting's 62 pairs on a 150k-vertex scan, queried points in all: 76k at 256, 62k at 128, 57k at 64, 54k at 32,
#: 57k at 16; 64 and 32 cost the same time).
BOUND_SAMPLES = 64
#: Metres added to that bound so that float32 rounding of the queried distances never prunes the closest sample.
BOUND_SLACK = 1e-4


def surface_distance(a: ObjectSurface, b: ObjectSurface) -> float:
    """Minimum distance between the surfaces of two objects, metres (symmetric; 0 when they touch): the least
    exact distance from either object's surface samples to the other's triangles.

    Exact and cheap: an evenly spaced subset of each side's samples gives an upper bound first; a sample whose
    distance to the other object's bounding box exceeds the bound cannot be closer to its triangles, so only the
    others are queried, and the minimum is the one over all samples.
    """
    pa, pb = a.samples.points, b.samples.points
    coarse_a, coarse_b = pa[:: max(1, len(pa) // BOUND_SAMPLES)], pb[:: max(1, len(pb) // BOUND_SAMPLES)]
    bound = min(float(a.distances_from(coarse_b).min()), float(b.distances_from(coarse_a).min())) + BOUND_SLACK
    best = bound
    for surface, other in ((a, b), (b, a)):
        near = other.samples_near(surface.bounds, bound)
        if len(near):
            best = min(best, float(surface.distances_from(distinct_float32_rows(near)).min()))
    return best


def distinct_float32_rows(points: Points3) -> Points3:
    """(M, 3) the distinct rows of (N, 3) ``points`` rounded to float32 (held as float64, exactly), sorted by their
    bits: the points open3d's distance queries see (:meth:`TriangleScene.distance` rounds to float32, which leaves
    these as they are). Each distinct point is queried once:
    a query's result depends on its point alone, so the least distance is the same, and surface samples repeat
    (a triangle's corners and edge points are its neighbours' too: about half of them on a scan's mesh)."""
    rounded = np.ascontiguousarray(points, dtype=np.float32).reshape(-1, 3)
    bits = rounded.view(np.uint32)  # (N, 3): equal bits, equal point (-0.0 and 0.0 are two points, queried twice)
    xy = (bits[:, 0].astype(np.uint64) << np.uint64(32)) | bits[:, 1]
    order = np.lexsort((bits[:, 2], xy))
    xy, z = xy[order], bits[order, 2]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (xy[1:] != xy[:-1]) | (z[1:] != z[:-1])
    return rounded[order[first]].astype(np.float64)


def floor_area(vertices: Points3, faces: Faces, resolution: float = 0.01, close_gaps: float = 0.3) -> float:
    """Area (m^2) of the xy footprint of floor triangles; see the module docstring. The raster has at most
    :data:`MAX_FLOOR_CELLS` cells: a footprint too large for ``resolution`` is rasterised at a coarser one."""
    if len(faces) == 0:
        return 0.0
    xy = vertices[:, :2]
    corners = np.take(xy.T, faces.reshape(-1), axis=1)  # (2, 3F) x and y of every corner: one contiguous row each
    lo = corners.min(axis=1) - close_gaps
    hi = corners.max(axis=1) + close_gaps
    resolution = max(resolution, float(np.sqrt(np.prod(hi - lo + 2 * resolution) / MAX_FLOOR_CELLS)))
    lo, hi = lo - resolution, hi + resolution
    shape = np.ceil((hi - lo) / resolution).astype(int) + 1
    shift = 8  # sub-pixel precision bits for the rasteriser
    grid = (xy - lo) / resolution
    polys = np.round(grid[faces] * (1 << shift)).astype(np.int32)
    mask = np.zeros((shape[1], shape[0]), dtype=np.uint8)
    fill = cv2.fillConvexPoly  # positional arguments, looked up once: tens of thousands of calls per floor
    for poly in list(polys):  # one call per triangle: cv2.fillPoly does not fill the union of overlapping polygons
        fill(mask, poly, 1, cv2.LINE_8, shift)
    if close_gaps > 0:
        k = max(1, round(close_gaps / resolution))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    filled = ndimage.binary_fill_holes(mask.astype(bool)).astype(np.uint8)
    # the rasteriser also fills cells that edges merely touch: about half a cell along the whole outline
    contours, _ = cv2.findContours(filled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outline_cells = sum(cv2.arcLength(c, closed=True) for c in contours)
    return (float(filled.sum()) - 0.5 * outline_cells) * resolution * resolution
