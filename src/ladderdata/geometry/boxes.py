"""3D boxes (axis-aligned, and gravity-aligned oriented with a yaw about world z) and 2D image boxes."""

from typing import Self

import numpy as np
import open3d as o3d
from pydantic import BaseModel, ConfigDict, Field
from scipy.spatial import ConvexHull, QhullError

from ladderdata.typed import FloatArray, Points2, Points3

Vec3 = tuple[float, float, float]


def coordinate_bounds(points: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(D,) least and (D,) greatest coordinates of (N, D) points, N >= 1: ``points.min(axis=0)`` and
    ``points.max(axis=0)``, reduced along one contiguous row per axis (numpy reduces a narrow array's axis 0 one
    row of D values at a time: 10-40x slower for N = 150k, D = 3)."""
    rows = np.ascontiguousarray(points.T)
    return rows.min(axis=1), rows.max(axis=1)


class AxisAlignedBox(BaseModel):
    """Box with faces parallel to the world axes, given by its min and max corners (metres)."""

    model_config = ConfigDict(frozen=True)

    minimum: Vec3
    maximum: Vec3

    @classmethod
    def from_points(cls, points: Points3) -> Self:
        """Tightest axis-aligned box of (N, 3) points, N >= 1."""
        lo, hi = coordinate_bounds(points)
        return cls(minimum=(lo[0], lo[1], lo[2]), maximum=(hi[0], hi[1], hi[2]))

    @property
    def center(self) -> FloatArray:
        return np.asarray((np.array(self.minimum) + np.array(self.maximum)) / 2, dtype=np.float64)

    @property
    def size(self) -> FloatArray:
        """(3,) extent along x, y, z."""
        return np.asarray(np.array(self.maximum) - np.array(self.minimum), dtype=np.float64)

    def distance_to(self, other: "AxisAlignedBox") -> float:
        """Distance between the two boxes as solids (0 when they touch or overlap); a lower bound on the
        surface distance of anything they contain."""
        gap = np.maximum(
            0.0, np.maximum(np.array(other.minimum) - self.maximum, np.array(self.minimum) - other.maximum)
        )
        return float(np.linalg.norm(gap))


class OrientedBox(BaseModel):
    """Gravity-aligned box: rotated by ``yaw`` (radians, about world +z) around its centre.

    ``size`` = (extent along the box's local x, local y, z). The local x axis is world x rotated by yaw.
    ``from_points`` returns the box of minimal footprint area, normalised so that size[0] >= size[1] and
    yaw in [0, pi).
    """

    model_config = ConfigDict(frozen=True)

    center: Vec3
    size: Vec3
    yaw: float = Field(ge=0.0, lt=np.pi)

    @classmethod
    def from_points(cls, points: Points3) -> Self:
        """Minimal-footprint gravity-aligned box of (N, 3) points (rotating calipers on the xy hull)."""
        (cx, cy), (sx, sy), yaw = min_area_rectangle(points[:, :2])
        zmin, zmax = float(points[:, 2].min()), float(points[:, 2].max())
        return cls(center=(cx, cy, (zmin + zmax) / 2), size=(sx, sy, zmax - zmin), yaw=yaw)

    @property
    def rotation(self) -> FloatArray:
        """(3, 3) rotation from box-local to world coordinates."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    def corners(self) -> Points3:
        """(8, 3) corners in world coordinates."""
        signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
        local = signs * np.array(self.size) / 2
        return np.asarray(local @ self.rotation.T + np.array(self.center), dtype=np.float64)

    @property
    def longest_side(self) -> float:
        return float(max(self.size))


class Box2D(BaseModel):
    """Image box [x1, y1, x2, y2] in pixels, x2 >= x1, y2 >= y1 (continuous coordinates)."""

    model_config = ConfigDict(frozen=True)

    x1: float
    y1: float
    x2: float
    y2: float

    @classmethod
    def from_pixels(cls, pixels: Points2) -> Self:
        """Tightest box around (N, 2) pixel positions."""
        lo, hi = pixels.min(axis=0), pixels.max(axis=0)
        return cls(x1=lo[0], y1=lo[1], x2=hi[0], y2=hi[1])

    @property
    def area(self) -> float:
        return max(0.0, self.x2 - self.x1) * max(0.0, self.y2 - self.y1)

    def as_list(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]

    def iou(self, other: "Box2D") -> float:
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


def min_area_rectangle(points_xy: Points2) -> tuple[tuple[float, float], tuple[float, float], float]:
    """Minimum-area enclosing rectangle of (N, 2) points: ((cx, cy), (long side, short side), yaw).

    ``yaw`` in [0, pi) is the direction of the long side. Exact: the optimum has a side collinear with a
    hull edge, so every hull edge direction is tried (collinear points: the line through them).
    """
    pts = np.asarray(points_xy, dtype=np.float64)
    try:
        hull = pts[ConvexHull(pts).vertices]
        edges = np.roll(hull, -1, axis=0) - hull
    except (QhullError, ValueError):  # collinear or fewer than 3 distinct points
        hull = pts
        centred = pts - pts.mean(axis=0)
        edges = np.linalg.svd(centred, full_matrices=False)[2][:1] if len(pts) > 1 else np.array([[1.0, 0.0]])
    angles = np.unique(np.arctan2(edges[:, 1], edges[:, 0]) % (np.pi / 2))
    c, s = np.cos(angles), np.sin(angles)
    # project onto each candidate frame: u along the angle, v perpendicular to it
    u = hull[:, 0, None] * c + hull[:, 1, None] * s
    v = -hull[:, 0, None] * s + hull[:, 1, None] * c
    w = u.max(axis=0) - u.min(axis=0)
    h = v.max(axis=0) - v.min(axis=0)
    best = int(np.argmin(w * h))
    a = angles[best]
    uc = (u[:, best].max() + u[:, best].min()) / 2
    vc = (v[:, best].max() + v[:, best].min()) / 2
    cx, cy = uc * np.cos(a) - vc * np.sin(a), uc * np.sin(a) + vc * np.cos(a)
    long_side, short_side, yaw = w[best], h[best], a
    if short_side > long_side:
        long_side, short_side, yaw = short_side, long_side, a + np.pi / 2
    return (float(cx), float(cy)), (float(long_side), float(short_side)), float(yaw % np.pi)


def minimal_box_sides(points: Points3) -> FloatArray:
    """(3,) side lengths, longest first, of open3d's minimal-volume oriented box of (N, 3) points, rotated freely
    in 3D (``create_from_points_minimal``, what VSI-Bench-style pipelines call
    ``get_minimal_oriented_bounding_box``). Coplanar points (no 3D hull) are boxed in their own plane."""
    pts = np.asarray(points, dtype=np.float64)
    try:
        box = o3d.geometry.OrientedBoundingBox.create_from_points_minimal(o3d.utility.Vector3dVector(pts))
        sides = np.asarray(box.extent, dtype=np.float64)
    except RuntimeError:  # qhull: the points span less than 3 dimensions
        centred = pts - pts.mean(axis=0)
        basis = np.linalg.svd(centred, full_matrices=False)[2]
        _, (long_side, short_side), _ = min_area_rectangle(centred @ basis[:2].T)
        sides = np.array([long_side, short_side, 0.0])
    return np.sort(sides)[::-1]
