"""Exact geometry of the synthetic scenes' building block, the gravity-aligned box (yaw about z).

Kept apart from ``ladderdata.geometry`` on purpose: the synthetic ground truth (true distances, boxes,
areas) is computed here in closed form, an independent path from the mesh-based measurements it checks.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ladderdata.typed import FloatArray, Points2, Points3

_SIGNS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
_EDGES = [(a, b) for a in range(8) for b in range(a + 1, 8) if np.abs(_SIGNS[a] - _SIGNS[b]).sum() == 2]


@dataclass(frozen=True)
class Cuboid:
    """Solid box: ``center`` (3,), ``size`` (3,) along local x, y, z, rotated by ``yaw`` about world z."""

    center: FloatArray
    size: FloatArray
    yaw: float

    @cached_property
    def rotation(self) -> FloatArray:
        """(3, 3) local -> world rotation (read-only: computed once, shared)."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return _read_only(np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]))

    @cached_property
    def _corners(self) -> Points3:
        return _read_only((_SIGNS * self.size / 2) @ self.rotation.T + self.center)

    def corners(self) -> Points3:
        """(8, 3) corners (read-only: the placement and distance tests ask for them thousands of times)."""
        return self._corners

    def footprint(self) -> Points2:
        """(4, 2) xy corners, counter-clockwise."""
        c = self.corners()[[0, 4, 6, 2], :2]
        return c

    def distance_from_points(self, points: Points3) -> FloatArray:
        """(N,) distance from (N, 3) points to the solid box (0 inside)."""
        local = (points - self.center) @ self.rotation
        excess = np.maximum(np.abs(local) - self.size / 2, 0.0)
        return np.asarray(np.linalg.norm(excess, axis=1), dtype=np.float64)

    def edges(self) -> tuple[Points3, Points3]:
        """Start and end points, each (12, 3), of the box's edges."""
        c = self.corners()
        idx = np.array(_EDGES)
        return c[idx[:, 0]], c[idx[:, 1]]


def _read_only(array: FloatArray) -> FloatArray:
    array.setflags(write=False)
    return array


def cuboids_overlap(a: Cuboid, b: Cuboid, eps: float = 1e-9) -> bool:
    """Separating-axis test; for yaw-only boxes the axes z and each box's two xy axes suffice."""
    axes = [np.array([0.0, 0.0, 1.0]), a.rotation[:, 0], a.rotation[:, 1], b.rotation[:, 0], b.rotation[:, 1]]
    ca, cb = a.corners(), b.corners()
    for axis in axes:
        pa, pb = ca @ axis, cb @ axis
        if pa.max() < pb.min() - eps or pb.max() < pa.min() - eps:
            return False
    return True


def segment_distances(p0: Points3, p1: Points3, q0: Points3, q1: Points3) -> FloatArray:
    """Distances between all pairs of segments [p0_i, p1_i] and [q0_j, q1_j]: (N, M). Closed form with
    clamping (Ericson, Real-Time Collision Detection, 5.1.9)."""
    d1 = (p1 - p0)[:, None, :]
    d2 = (q1 - q0)[None, :, :]
    r = p0[:, None, :] - q0[None, :, :]
    a = (d1 * d1).sum(-1)
    e = (d2 * d2).sum(-1)
    f = (d2 * r).sum(-1)
    c = (d1 * r).sum(-1)
    b = (d1 * d2).sum(-1)
    denom = a * e - b * b
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(denom > 1e-12, np.clip((b * f - c * e) / denom, 0.0, 1.0), 0.0)
        t = (b * s + f) / e
        s = np.where(t < 0, np.clip(-c / a, 0.0, 1.0), np.where(t > 1, np.clip((b - c) / a, 0.0, 1.0), s))
        t = np.clip(t, 0.0, 1.0)
    closest_p = p0[:, None, :] + d1 * s[..., None]
    closest_q = q0[None, :, :] + d2 * t[..., None]
    return np.asarray(np.linalg.norm(closest_p - closest_q, axis=-1), dtype=np.float64)


def cuboid_distance(a: Cuboid, b: Cuboid) -> float:
    """Exact distance between two solid boxes (0 when they touch or overlap)."""
    if cuboids_overlap(a, b):
        return 0.0
    vertex_face = min(a.distance_from_points(b.corners()).min(), b.distance_from_points(a.corners()).min())
    edge_edge = segment_distances(*a.edges(), *b.edges()).min()
    return float(min(vertex_face, edge_edge))


def polygon_area(poly: Points2) -> float:
    """Area of a simple polygon given by (N, 2) vertices (shoelace)."""
    x, y = poly[:, 0], poly[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)
