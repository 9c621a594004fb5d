"""The exact ground truth of a synthetic scan, computed in closed form from the boxes its scene is built of
(:mod:`ladderdata.synth.shapes`), never from its mesh or frames: the independent oracle the measurements are
checked against."""

import numpy as np
from pydantic import BaseModel

from ladderdata.synth.scene import SceneObject, SyntheticScene
from ladderdata.synth.shapes import Boxes, box_distances, polygon_area
from ladderdata.typed import FloatArray

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


def _furniture_distances(furniture: list[SceneObject]) -> FloatArray:
    """Closest-surface distance of every pair of objects (``a`` before ``b`` in ``furniture``, in that order):
    the least :func:`box_distances` between a part of each.

    Part pairs far apart are skipped: a pair's distance is at least the larger of its bounding spheres' gap and
    its axis-aligned bounds' gap, so once one pair of two objects is measured (the one of least bound), a pair
    whose bound exceeds that distance cannot be closer. The result is the minimum over every part pair, bit for
    bit, for a fraction of the work; all measured pairs of a scene go through one batched computation."""
    parts = Boxes.of([p for o in furniture for p in o.parts])
    counts = np.array([len(o.parts) for o in furniture])
    first_part = np.cumsum(counts) - counts
    object_a, object_b = np.triu_indices(len(furniture), 1)
    # every part pair (part_a, part_b) of every object pair (pair_of)
    sizes = counts[object_a] * counts[object_b]
    pair_of = np.repeat(np.arange(len(sizes)), sizes)
    k = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    part_a = first_part[object_a][pair_of] + k // counts[object_b][pair_of]
    part_b = first_part[object_b][pair_of] + k % counts[object_b][pair_of]
    corners = parts.corners
    centres = corners.mean(axis=1)
    radii = np.linalg.norm(corners - centres[:, None], axis=-1).max(axis=1)
    low, high = corners.min(axis=1), corners.max(axis=1)
    spheres = np.linalg.norm(centres[part_a] - centres[part_b], axis=-1) - radii[part_a] - radii[part_b]
    gaps = np.maximum(np.maximum(low[part_b] - high[part_a], low[part_a] - high[part_b]), 0.0)
    bounds = np.maximum(spheres, np.linalg.norm(gaps, axis=-1))
    # the part pair of least bound of each object pair (sorted by object pair, then bound)
    order = np.lexsort((bounds, pair_of))
    least = order[np.cumsum(sizes) - sizes]
    best = box_distances(parts[part_a[least]], parts[part_b[least]])
    rest = bounds - 1e-9 <= best[pair_of]
    rest[least] = False
    np.minimum.at(best, pair_of[rest], box_distances(parts[part_a[rest]], parts[part_b[rest]]))
    return best


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
    distances = iter(_furniture_distances(furniture).tolist()) if len(furniture) > 1 else iter([])
    for i, a in enumerate(furniture):
        for b in furniture[i + 1 :]:
            assert a.box is not None and b.box is not None
            cd = float(np.linalg.norm(a.box.center - b.box.center))
            dists.append(GTDistance(a=a.object_id, b=b.object_id, distance=next(distances), center_distance=cd))
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
