"""The exact ground truth of a synthetic scan, computed in closed form from the boxes its scene is built of
(:mod:`ladderdata.synth.shapes`), never from its mesh or frames: the independent oracle the measurements are
checked against."""

import numpy as np
from pydantic import BaseModel

from ladderdata.synth.scene import SceneObject, SyntheticScene
from ladderdata.synth.shapes import cuboid_distance, polygon_area

GROUND_TRUTH_DIR = "synthetic_gt"
"""In a synthetic root: ``<scan>.json`` per scan (:class:`SyntheticGroundTruth`)."""


class GTBox(BaseModel):
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float


class GTObject(BaseModel):
    object_id: int
    label: str
    structural: bool
    """Wall, floor or ceiling."""
    aabb_min: tuple[float, float, float]
    aabb_max: tuple[float, float, float]
    box: GTBox | None
    """Tight gravity-aligned box (None for structural surfaces)."""
    size_cm: float | None


class GTDistance(BaseModel):
    a: int
    b: int
    distance: float
    """Closest-surface distance, metres."""
    center_distance: float


class SyntheticGroundTruth(BaseModel):
    """The truth about one synthetic scan, in the aligned world frame (z up, metres)."""

    scan_id: str
    scene_type: str
    room_polygon: list[tuple[float, float]]
    room_height: float
    floor_area: float
    axis_alignment: list[list[float]]
    objects: list[GTObject]
    distances: list[GTDistance]
    """Every pair of non-structural objects."""
    invalid_frames: list[int]
    posed_frames: list[int] | None = None
    """Frame numbers of the ``posed_images`` files 0, 1, 2, ... when they hold a subsample (None: every frame)."""


def _parts_distance(a: SceneObject, b: SceneObject) -> float:
    """Closest-surface distance of two objects: the least :func:`cuboid_distance` between a part of each. Part
    pairs are tried in order of a lower bound of their distance (the larger of their bounding spheres' gap and
    their axis-aligned bounds' gap), and the search stops once the bound exceeds the least distance found: no
    pair left can be closer, so the result is the minimum over every pair, bit for bit, for a fraction of the
    work."""
    corners_a = np.stack([p.corners() for p in a.parts])  # (Pa, 8, 3)
    corners_b = np.stack([p.corners() for p in b.parts])
    centres_a, centres_b = corners_a.mean(axis=1), corners_b.mean(axis=1)
    radii_a = np.linalg.norm(corners_a - centres_a[:, None], axis=-1).max(axis=1)
    radii_b = np.linalg.norm(corners_b - centres_b[:, None], axis=-1).max(axis=1)
    spheres = np.linalg.norm(centres_a[:, None] - centres_b[None], axis=-1) - radii_a[:, None] - radii_b[None]
    low_a, high_a = corners_a.min(axis=1)[:, None], corners_a.max(axis=1)[:, None]
    low_b, high_b = corners_b.min(axis=1)[None], corners_b.max(axis=1)[None]
    boxes = np.linalg.norm(np.maximum(np.maximum(low_b - high_a, low_a - high_b), 0.0), axis=-1)
    bounds = np.maximum(spheres, boxes)
    best = np.inf
    for k in np.argsort(bounds, axis=None, kind="stable"):
        i, j = divmod(int(k), len(b.parts))
        if bounds[i, j] - 1e-9 > best:
            break
        best = min(best, cuboid_distance(a.parts[i], b.parts[j]))
    return float(best)


def ground_truth(scene: SyntheticScene) -> SyntheticGroundTruth:
    objs = []
    for o in scene.objects:
        if o.structural:
            pts = np.concatenate([[p, p + u, p + v, p + u + v] for p, u, v in o.panels])
            lo, hi = pts.min(0), pts.max(0)
            objs.append(
                GTObject(
                    object_id=o.object_id,
                    label=o.label,
                    structural=True,
                    aabb_min=tuple(lo),
                    aabb_max=tuple(hi),
                    box=None,
                    size_cm=None,
                )
            )
            continue
        assert o.box is not None
        corners = np.concatenate([p.corners() for p in o.parts])
        yaw, size = o.box.yaw % np.pi, o.box.size
        if size[1] > size[0]:
            yaw, size = (yaw + np.pi / 2) % np.pi, size[[1, 0, 2]]
        box = GTBox(center=tuple(o.box.center), size=tuple(size), yaw=float(yaw))
        objs.append(
            GTObject(
                object_id=o.object_id,
                label=o.label,
                structural=False,
                aabb_min=tuple(corners.min(0)),
                aabb_max=tuple(corners.max(0)),
                box=box,
                size_cm=float(size.max() * 100),
            )
        )
    furniture = [o for o in scene.objects if not o.structural]
    dists = []
    for i, a in enumerate(furniture):
        for b in furniture[i + 1 :]:
            d = _parts_distance(a, b)
            assert a.box is not None and b.box is not None
            cd = float(np.linalg.norm(a.box.center - b.box.center))
            dists.append(GTDistance(a=a.object_id, b=b.object_id, distance=d, center_distance=cd))
    return SyntheticGroundTruth(
        scan_id=scene.scan_id,
        scene_type=scene.scene_type,
        room_polygon=[tuple(p) for p in scene.polygon],
        room_height=scene.height,
        floor_area=polygon_area(scene.polygon),
        axis_alignment=scene.alignment.tolist(),
        objects=objs,
        distances=dists,
        invalid_frames=scene.invalid,
    )
