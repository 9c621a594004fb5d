"""Exact geometry of the synthetic scenes' building block, the gravity-aligned box (yaw about z).

Kept apart from ``ladderdata.geometry`` on purpose: the synthetic ground truth (true distances, boxes,
areas) is computed here in closed form, an independent path from the mesh-based measurements it checks.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from ladderdata.typed import FloatArray, Points2, Points3

_SIGNS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
_EDGES = [(a, b) for a in range(8) for b in range(a + 1, 8) if np.abs(_SIGNS[a] - _SIGNS[b]).sum() == 2]
_EDGE_STARTS, _EDGE_ENDS = np.array(_EDGES).T


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
        distances: FloatArray = _distances_to_boxes(points[None], Boxes.of([self]))[0]
        return distances


@dataclass(frozen=True)
class Boxes:
    """Cuboids stacked for batched geometry; indexing (an index array) picks some of them."""

    centres: FloatArray
    """(B, 3)"""
    sizes: FloatArray
    """(B, 3)"""
    rotations: FloatArray
    """(B, 3, 3) local -> world"""
    corners: FloatArray
    """(B, 8, 3)"""

    @classmethod
    def of(cls, cuboids: Sequence[Cuboid]) -> "Boxes":
        return cls(
            np.stack([c.center for c in cuboids]).astype(np.float64),
            np.stack([c.size for c in cuboids]).astype(np.float64),
            np.stack([c.rotation for c in cuboids]),
            np.stack([c.corners() for c in cuboids]),
        )

    def __getitem__(self, index: NDArray[np.intp]) -> "Boxes":
        return Boxes(self.centres[index], self.sizes[index], self.rotations[index], self.corners[index])

    def edges(self) -> tuple[FloatArray, FloatArray]:
        """Start and end points, each (B, 12, 3), of the boxes' edges."""
        return self.corners[:, _EDGE_STARTS], self.corners[:, _EDGE_ENDS]


def _distances_to_boxes(points: FloatArray, boxes: Boxes) -> FloatArray:
    """(B, N) distance from (B, N, 3) points to each of B solid boxes (0 inside)."""
    local = (points - boxes.centres[:, None]) @ boxes.rotations
    excess = np.maximum(np.abs(local) - boxes.sizes[:, None] / 2, 0.0)
    return np.asarray(np.linalg.norm(excess, axis=-1), dtype=np.float64)


def _read_only(array: FloatArray) -> FloatArray:
    array.setflags(write=False)
    return array


def segment_distances(p0: FloatArray, p1: FloatArray, q0: FloatArray, q1: FloatArray) -> FloatArray:
    """Distances between all pairs of segments [p0_i, p1_i] and [q0_j, q1_j], (..., N, 3) and (..., M, 3) (any
    leading batch axes): (..., N, M). Closed form with clamping (Ericson, Real-Time Collision Detection, 5.1.9)."""
    d1 = (p1 - p0)[..., :, None, :]
    d2 = (q1 - q0)[..., None, :, :]
    r = p0[..., :, None, :] - q0[..., None, :, :]
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
    closest_p = p0[..., :, None, :] + d1 * s[..., None]
    closest_q = q0[..., None, :, :] + d2 * t[..., None]
    return np.asarray(np.linalg.norm(closest_p - closest_q, axis=-1), dtype=np.float64)


def boxes_overlap(a: Boxes, b: Boxes, eps: float = 1e-9) -> NDArray[np.bool_]:
    """(B,) whether solid boxes a[k] and b[k] overlap (more than ``eps``; negative: less than it apart):
    separating-axis test; for yaw-only boxes the axes z and each box's two xy axes suffice."""
    z = np.broadcast_to(np.array([0.0, 0.0, 1.0]), (len(a.centres), 1, 3))
    axes = np.concatenate([z, a.rotations[:, :, :2].transpose(0, 2, 1), b.rotations[:, :, :2].transpose(0, 2, 1)], 1)
    # (B, 8, 5) projections of the corners on the axes (summed out: a stacked matrix product is one per box)
    pa = (a.corners[:, :, None, :] * axes[:, None]).sum(-1)
    pb = (b.corners[:, :, None, :] * axes[:, None]).sum(-1)
    separated = (pa.max(axis=1) < pb.min(axis=1) - eps) | (pb.max(axis=1) < pa.min(axis=1) - eps)
    return np.asarray(~separated.any(axis=1))


class BoxSet:
    """Boxes that single boxes are tested against one at a time (placement): the projections of their corners on
    their own axes are computed once."""

    def __init__(self, cuboids: Sequence[Cuboid]) -> None:
        self.corners = np.array([c.corners() for c in cuboids]).reshape(-1, 8, 3)
        self.axes = np.array([c.rotation[:, :2].T for c in cuboids]).reshape(-1, 2, 3)  # each box's xy axes
        own = self.corners @ self.axes.transpose(0, 2, 1)
        self.own_low, self.own_high = own.min(axis=1), own.max(axis=1)  # (M, 2)
        self.z_low, self.z_high = self.corners[..., 2].min(axis=1), self.corners[..., 2].max(axis=1)

    def overlaps(self, box: Cuboid, eps: float = 1e-9) -> bool:
        """Whether ``box`` overlaps any of the boxes (more than ``eps``; negative: less than it apart), as
        :func:`boxes_overlap` tests each pair: on the axes z, the box's xy axes and each other box's."""
        corners = box.corners()
        z_low, z_high = corners[:, 2].min(), corners[:, 2].max()
        separated = (z_high < self.z_low - eps) | (self.z_high < z_low - eps)
        axes = box.rotation[:, :2]  # (3, 2)
        mine = corners @ axes
        theirs = (self.corners.reshape(-1, 3) @ axes).reshape(-1, 8, 2)
        low, high = mine.min(axis=0), mine.max(axis=0)
        separated |= ((high < theirs.min(axis=1) - eps) | (theirs.max(axis=1) < low - eps)).any(axis=1)
        projected = (self.axes.reshape(-1, 3) @ corners.T).reshape(-1, 2, 8)  # on each other box's axes
        low_on_theirs, high_on_theirs = projected.min(axis=2), projected.max(axis=2)
        separated |= ((high_on_theirs < self.own_low - eps) | (self.own_high < low_on_theirs - eps)).any(axis=1)
        return bool((~separated).any())


def box_distances(a: Boxes, b: Boxes) -> FloatArray:
    """(B,) exact distance between solid boxes a[k] and b[k] (0 when they touch or overlap): the least of every
    corner's distance to the other box and every pair of edges' distance."""
    vertex_face = np.minimum(
        _distances_to_boxes(b.corners, a).min(axis=1), _distances_to_boxes(a.corners, b).min(axis=1)
    )
    edge_edge = segment_distances(*a.edges(), *b.edges()).min(axis=(1, 2))
    return np.where(boxes_overlap(a, b), 0.0, np.minimum(vertex_face, edge_edge))


def cuboid_distance(a: Cuboid, b: Cuboid) -> float:
    """Exact distance between two solid boxes (0 when they touch or overlap)."""
    return float(box_distances(Boxes.of([a]), Boxes.of([b]))[0])


def polygon_area(poly: Points2) -> float:
    """Area of a simple polygon given by (N, 2) vertices (shoelace)."""
    x, y = poly[:, 0], poly[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)
