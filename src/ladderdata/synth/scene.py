"""Synthetic scenes: a furnished room (rectangular or L-shaped) and a camera trajectory, sampled from a seeded
``numpy.random.Generator``. Furniture comes from :mod:`ladderdata.synth.catalogue` and is placed without overlap
(on the floor, backed onto a wall, mounted on a wall or standing on a support); walls, floor and ceiling are
panels.
"""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ladderdata.errors import ConfigError
from ladderdata.geometry.camera import look_at
from ladderdata.seeding import rng_for
from ladderdata.synth.catalogue import CATALOGUE, SCENE_TYPES, STRUCTURE, Category
from ladderdata.synth.shapes import BoxSet, Cuboid
from ladderdata.typed import FloatArray, Matrix4, Points2

#: Rooms of the sizes ``_room`` draws hold about 60-90 objects; beyond this many, placement can fail.
MAX_OBJECTS = 60


@dataclass
class SceneObject:
    object_id: int
    label: str
    parts: list[Cuboid]
    """Solid parts in world coordinates."""
    color: tuple[int, int, int]
    structural: bool = False
    panels: list[tuple[FloatArray, FloatArray, FloatArray]] = field(default_factory=list)
    """Structural surfaces as (origin, edge u, edge v) rectangles."""
    box: Cuboid | None = None


@dataclass
class SyntheticScene:
    scan_id: str
    scene_type: str
    polygon: Points2
    height: float
    objects: list[SceneObject]
    poses: FloatArray
    """(T, 4, 4) world camera-to-world; invalid frames are marked in ``invalid``."""
    invalid: list[int]
    alignment: Matrix4
    """axisAlignment: raw (stored) coordinates -> world."""


def _room(rng: np.random.Generator) -> Points2:
    w, d = rng.uniform(5.0, 7.5), rng.uniform(4.2, 6.0)
    if rng.random() < 0.4:  # L-shape: cut a corner
        # both arms stay at least 3.5 m x 3 m wide so the camera loop (1.1 m from the walls) fits
        cw, cd = rng.uniform(1.2, w - 3.5), rng.uniform(1.0, d - 3.0)
        return np.array([[0, 0], [w, 0], [w, d - cd], [w - cw, d - cd], [w - cw, d], [0, d]], dtype=np.float64)
    return np.array([[0, 0], [w, 0], [w, d], [0, d]], dtype=np.float64)


def _inside_room(poly: Points2, pts: Points2) -> bool:
    """All (N, 2) points inside the polygon (even-odd rule)."""
    path = poly.tolist()
    edges = list(zip(path, path[1:] + path[:1], strict=True))
    for x, y in pts.tolist():
        inside = False
        for (ax, ay), (bx, by) in edges:
            if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
                inside = not inside
        if not inside:
            return False
    return True


def _furniture(placed: list[SceneObject], but: int | None = None) -> BoxSet:
    """The boxes of the furniture placed so far, but object ``but``."""
    return BoxSet([o.box for o in placed if o.box is not None and not o.structural and o.object_id != but])


def _fits(poly: Points2, box: Cuboid, placed: BoxSet, clearance: float) -> bool:
    footprint = box.footprint()
    if not _inside_room(poly, footprint):
        return False
    # a convex footprint with corners inside can still wrap a reflex corner of an L-shaped room
    corners = np.column_stack([poly, np.full(len(poly), box.center[2])])
    local = (corners - box.center) @ box.rotation
    if np.any(np.all(np.abs(local[:, :2]) < box.size[:2] / 2 - 1e-6, axis=1)):
        return False
    grown = Cuboid(box.center, box.size + np.array([2 * clearance, 2 * clearance, 0.0]), box.yaw)
    return not placed.overlaps(grown, eps=-1e-6)


Size = tuple[float, float, float]
"""An object's width, depth and height (metres)."""


@dataclass(frozen=True)
class _Room:
    """What an object is placed in: the floor polygon (counter-clockwise), the ceiling height, the objects placed
    so far and the height a standing object is cut to."""

    poly: Points2
    height: float
    placed: list[SceneObject]
    tall_limit: float

    @cached_property
    def furniture(self) -> BoxSet:
        """The boxes of the furniture placed so far."""
        return _furniture(self.placed)


def _place_on(cat: Category, rng: np.random.Generator, size: Size, room: _Room) -> tuple[Cuboid, Size] | None:
    """On a random supporting object (one of ``cat.supports``; the caller checked one is placed), shrunk to fit
    it; None when it would overlap another object."""
    w, d, h = size
    supports = [o for o in room.placed if o.label in cat.supports]
    sup = supports[int(rng.integers(len(supports)))]
    assert sup.box is not None
    sw, sd = sup.box.size[0], sup.box.size[1]
    if w > sw * 0.9 or d > sd * 0.9:
        w, d = min(w, sw * 0.6), min(d, sd * 0.6)
    local = np.array([rng.uniform(-(sw - w) / 2, (sw - w) / 2), rng.uniform(-(sd - d) / 2, (sd - d) / 2)])
    c, s = np.cos(sup.box.yaw), np.sin(sup.box.yaw)
    xy = sup.box.center[:2] + np.array([c * local[0] - s * local[1], s * local[0] + c * local[1]])
    z0 = sup.box.center[2] + sup.box.size[2] / 2
    yaw = sup.box.yaw + rng.uniform(-0.3, 0.3)
    box = Cuboid(np.array([xy[0], xy[1], z0 + h / 2]), np.array([w, d, h]), float(yaw % (2 * np.pi)))
    if _furniture(room.placed, but=sup.object_id).overlaps(box):
        return None
    return box, (w, d, h)


def _place_by_wall(cat: Category, rng: np.random.Generator, size: Size, room: _Room) -> tuple[Cuboid, Size] | None:
    """Against a random wall, facing into the room (``mounted``: hanging on it, below the ceiling); None when
    the wall is too short or the object does not fit."""
    w, d, h = size
    poly = room.poly
    i = int(rng.integers(len(poly)))
    a, b = poly[i], poly[(i + 1) % len(poly)]
    length = np.linalg.norm(b - a)
    if length < w + 0.4:
        return None
    t = rng.uniform(0.2 + w / 2, length - 0.2 - w / 2)
    along = (b - a) / length
    inward = np.array([-along[1], along[0]])  # polygon is counter-clockwise
    gap = 0.002 if cat.placement == "mounted" else 0.02
    xy = a + along * t + inward * (gap + d / 2)
    z0 = rng.uniform(*cat.z0)
    yaw = float(np.arctan2(along[1], along[0]) + np.pi) % (2 * np.pi)  # local +y faces the wall
    box = Cuboid(np.array([xy[0], xy[1], z0 + h / 2]), np.array([w, d, h]), yaw)
    if cat.placement != "mounted":
        return (box, size) if _fits(poly, box, room.furniture, clearance=0.05) else None
    if z0 + h > room.height - 0.05:
        return None
    if room.furniture.overlaps(box) or not _inside_room(poly, box.footprint()):
        return None
    return box, size


def _place_standing(cat: Category, rng: np.random.Generator, size: Size, room: _Room) -> tuple[Cuboid, Size] | None:
    """On the floor at a random spot, axis-aligned half the time (cut to ``room.tall_limit``); None when it does
    not fit."""
    w, d, h = size
    if h > room.tall_limit:
        h = room.tall_limit
    lo, hi = room.poly.min(axis=0), room.poly.max(axis=0)
    xy = rng.uniform(lo + 0.3, hi - 0.3)
    yaw = float(rng.choice([0.0, np.pi / 2, np.pi, 1.5 * np.pi]) if rng.random() < 0.5 else rng.uniform(0, 2 * np.pi))
    box = Cuboid(np.array([xy[0], xy[1], h / 2]), np.array([w, d, h]), yaw)
    if not _fits(room.poly, box, room.furniture, clearance=0.1):
        return None
    return box, (w, d, h)


_PLACERS = {"on": _place_on, "wall": _place_by_wall, "mounted": _place_by_wall}
"""A category's placement -> where it is tried; any other placement stands on the floor."""


def _place(
    obj_id: int,
    cat: Category,
    rng: np.random.Generator,
    poly: Points2,
    height: float,
    placed: list[SceneObject],
    tall_limit: float,
) -> SceneObject | None:
    """An object of ``cat`` where it fits, at most 60 tries (each drawing its size first); None when none fits or
    an object placed on others has nothing to stand on."""
    room = _Room(poly, height, placed, tall_limit)
    placer = _PLACERS.get(cat.placement, _place_standing)
    for _ in range(60):
        w, d, h = (rng.uniform(lo, hi) for lo, hi in zip(cat.size_lo, cat.size_hi, strict=True))
        if cat.placement == "on" and not any(o.label in cat.supports for o in placed):
            return None
        found = placer(cat, rng, (w, d, h), room)
        if found is None:
            continue
        box, (w, d, h) = found
        parts = [_to_world(p, box) for p in cat.builder(w, d, h)]
        jitter = rng.integers(-20, 21, size=3)
        color = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(cat.color, jitter, strict=True))
        return SceneObject(obj_id, cat.label, parts, color, box=box)  # type: ignore[arg-type]
    return None


def _to_world(part: Cuboid, box: Cuboid) -> Cuboid:
    """A part given in the object's frame (footprint centred, z from 0) -> world."""
    offset = part.center - np.array([0.0, 0.0, box.size[2] / 2])
    return Cuboid(box.center + box.rotation @ offset, part.size, box.yaw)


def _structure(start_id: int, poly: Points2, height: float) -> list[SceneObject]:
    objs = []
    rects = _floor_rectangles(poly)
    floor_panels = [
        (np.array([x0, y0, 0.0]), np.array([x1 - x0, 0, 0]), np.array([0, y1 - y0, 0.0])) for x0, y0, x1, y1 in rects
    ]
    ceil_panels = [
        (np.array([x0, y0, height]), np.array([0, y1 - y0, 0.0]), np.array([x1 - x0, 0, 0])) for x0, y0, x1, y1 in rects
    ]
    nid = start_id
    for i in range(len(poly)):
        a, b = poly[i], poly[(i + 1) % len(poly)]
        panel = (np.array([a[0], a[1], 0.0]), np.array([b[0] - a[0], b[1] - a[1], 0.0]), np.array([0, 0, height]))
        objs.append(SceneObject(nid, "wall", [], STRUCTURE["wall"][2], True, [panel]))
        nid += 1
    objs.append(SceneObject(nid, "floor", [], STRUCTURE["floor"][2], True, floor_panels))
    objs.append(SceneObject(nid + 1, "ceiling", [], STRUCTURE["ceiling"][2], True, ceil_panels))
    return objs


def _floor_rectangles(poly: Points2) -> list[tuple[float, float, float, float]]:
    """Split a rectangular or L-shaped room (as built by ``_room``) into disjoint rectangles."""
    if len(poly) == 4:
        return [(0.0, 0.0, poly[2][0], poly[2][1])]
    w, d, notch_x, notch_y = poly[1][0], poly[5][1], poly[3][0], poly[3][1]
    return [(0.0, 0.0, w, notch_y), (0.0, notch_y, notch_x, d)]


def _trajectory(rng: np.random.Generator, poly: Points2, n: int) -> FloatArray:
    """(n, 4, 4) smooth loop at standing height, inset 1.1 m from the walls, looking across the room."""
    inset = []
    m = len(poly)
    for i in range(m):
        prev, cur, nxt = poly[i - 1], poly[i], poly[(i + 1) % m]
        n1 = np.array([-(cur - prev)[1], (cur - prev)[0]]) / np.linalg.norm(cur - prev)
        n2 = np.array([-(nxt - cur)[1], (nxt - cur)[0]]) / np.linalg.norm(nxt - cur)
        inset.append(cur + 1.1 * (n1 + n2))
    pts = np.array(inset)
    seg = np.linalg.norm(np.roll(pts, -1, axis=0) - pts, axis=1)
    s = np.concatenate([[0], np.cumsum(seg)])
    t = (np.arange(n) / n + rng.uniform(0, 1)) % 1.0 * s[-1]
    closed = np.vstack([pts, pts[:1]])
    xy = np.stack([np.interp(t, s, closed[:, 0]), np.interp(t, s, closed[:, 1])], axis=1)
    kernel = np.ones(5) / 5  # smooth the corners of the loop
    xy = np.stack([np.convolve(np.concatenate([xy[-2:, k], xy[:, k], xy[:2, k]]), kernel, "valid") for k in (0, 1)], 1)
    centre = poly.mean(axis=0)
    phase = rng.uniform(0, 2 * np.pi)
    poses = []
    for i, p in enumerate(xy):
        z = 1.5 + 0.05 * np.sin(2 * np.pi * i / n * 3 + phase)
        to_centre = centre - p
        ang = np.arctan2(to_centre[1], to_centre[0]) + 0.5 * np.sin(2 * np.pi * i / n * 2 + phase)
        target = np.array([p[0] + 3 * np.cos(ang), p[1] + 3 * np.sin(ang), 0.7])
        poses.append(look_at(np.array([p[0], p[1], z]), target))
    return np.stack(poses)


def scan_id_for(index: int) -> str:
    return f"scene{index:04d}_00"


CLUTTER = ("box", "chair", "trash can", "plant", "backpack", "pillow", "lamp", "monitor", "nightstand")


def generate_scene(
    index: int, seed: int, frames: int = 48, invalid_poses: int = 2, min_objects: int | None = None
) -> SyntheticScene:
    """Sample scene ``index`` of the root seeded with ``seed`` (independent of every other scene).

    ``min_objects`` adds clutter (boxes, chairs, pillows, ...) until the scene holds that many furniture
    objects, for ScanNet-scale object counts.
    """
    rng = rng_for(seed, scan_id_for(index), "scene")
    scene_type = list(SCENE_TYPES)[index % len(SCENE_TYPES)]
    poly = _room(rng)
    height = float(rng.uniform(2.5, 3.0))
    objects: list[SceneObject] = []
    order = sorted(SCENE_TYPES[scene_type], key=lambda e: CATALOGUE[e[0]].placement == "on")
    for label, lo, hi in order:
        for _ in range(int(rng.integers(lo, hi + 1))):
            placed = _place(len(objects), CATALOGUE[label], rng, poly, height, objects, tall_limit=1.2)
            if placed is not None:
                objects.append(placed)
    if min_objects is not None:
        for _ in range(20 * min_objects):
            if len(objects) >= min_objects:
                break
            label = CLUTTER[int(rng.integers(len(CLUTTER)))]
            placed = _place(len(objects), CATALOGUE[label], rng, poly, height, objects, tall_limit=1.2)
            if placed is not None:
                objects.append(placed)
        if len(objects) < min_objects:
            raise ConfigError(f"synthetic scene {index}: its room holds {len(objects)} objects, not {min_objects}")
    objects += _structure(len(objects), poly, height)
    poses = _trajectory(rng, poly, frames)
    invalid = sorted(rng.choice(np.arange(1, frames), size=min(invalid_poses, frames - 1), replace=False).tolist())
    yaw = rng.uniform(0, 2 * np.pi)
    c, s = np.cos(yaw), np.sin(yaw)
    alignment = np.array([[c, -s, 0, rng.uniform(-3, 3)], [s, c, 0, rng.uniform(-3, 3)], [0, 0, 1, 0], [0, 0, 0, 1]])
    return SyntheticScene(scan_id_for(index), scene_type, poly, height, objects, poses, invalid, alignment)
