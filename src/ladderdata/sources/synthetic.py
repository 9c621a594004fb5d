"""Synthetic ScanNet scans, written in ScanNet's own layout, with exact ground truth.

``generate_scene`` samples a furnished room (rectangular or L-shaped) and a camera trajectory from a
seeded ``numpy.random.Generator``; ``write_scene`` renders colour and depth frames by ray casting and writes
everything a ScanNet reader expects, plus ``synthetic_gt/<scan>.json`` with the true boxes, sizes, pairwise
surface distances and floor area, computed in closed form from the boxes the scene is built of.

Furniture is composed of gravity-aligned boxes (tables have legs, chairs backs, shelves are hollow), so
objects occlude each other and see-through gaps exist. Every object's parts touch all six faces of its
declared box, so the declared box is the tight oriented box.
"""

import json
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ladderdata.cache import atomic_path, claim_folder, write_bytes_atomic, write_text_atomic
from ladderdata.errors import ConfigError, LadderError
from ladderdata.executor import Executor, LocalExecutor, Outcome
from ladderdata.executor.progress import report_progress
from ladderdata.geometry.camera import CameraIntrinsics, invert_pose, look_at, pixel_directions, ray_z_factor
from ladderdata.geometry.raycast import TriangleScene
from ladderdata.layout import LABEL_TABLE, SPLIT_LIST, FramesLayout, ScanPaths
from ladderdata.seeding import rng_for
from ladderdata.sources.ply import TriangleMesh, write_ply
from ladderdata.sources.sens import SensFrameData, encode_color_jpeg, encode_depth_zlib, write_sens
from ladderdata.sources.synthetic_shapes import Cuboid, cuboid_distance, cuboids_overlap, polygon_area
from ladderdata.typed import DepthMM, FloatArray, ImageRGB, Matrix4, Points2

log = logging.getLogger(__name__)

GROUND_TRUTH_DIR = "synthetic_gt"
SYNTH_STAMP = ".synth-stamp.json"
"""In a synthetic root: the config and scans of a finished root (:class:`SynthStamp`)."""
#: Rooms of the sizes ``_room`` draws hold about 60-90 objects; beyond this many, placement can fail.
MAX_OBJECTS = 60
#: Grid edges (metres) of the demo meshes: furniture faces, walls/floor/ceiling. Coarse on purpose (fast).
DEMO_EDGE, DEMO_STRUCTURAL_EDGE = 0.25, 0.5
COLOR_K = CameraIntrinsics(fx=1169.6, fy=1167.1, cx=646.3, cy=489.9, width=1296, height=968)
DEPTH_K = CameraIntrinsics(fx=577.6, fy=578.7, cx=318.9, cy=242.7, width=640, height=480)
FPS = 30

# ----------------------------------------------------------------------------------------------- catalogue
Builder = Callable[[float, float, float], list[Cuboid]]


def _box(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float) -> Cuboid:
    return Cuboid(np.array([(x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2]), np.array([x1 - x0, y1 - y0, z1 - z0]), 0.0)


def block(w: float, d: float, h: float) -> list[Cuboid]:
    return [_box(-w / 2, w / 2, -d / 2, d / 2, 0, h)]


def table(w: float, d: float, h: float) -> list[Cuboid]:
    t, leg = 0.04, 0.05
    parts = [_box(-w / 2, w / 2, -d / 2, d / 2, h - t, h)]
    for sx in (-1, 1):
        for sy in (-1, 1):
            x0 = w / 2 - leg if sx > 0 else -w / 2
            y0 = d / 2 - leg if sy > 0 else -d / 2
            parts.append(_box(x0, x0 + leg, y0, y0 + leg, 0, h - t))
    return parts


def chair(w: float, d: float, h: float) -> list[Cuboid]:
    seat, leg = 0.45, 0.04
    parts = [_box(-w / 2, w / 2, -d / 2, d / 2, seat - 0.05, seat), _box(-w / 2, w / 2, d / 2 - 0.05, d / 2, seat, h)]
    for x0 in (-w / 2, w / 2 - leg):
        for y0 in (-d / 2, d / 2 - leg):
            parts.append(_box(x0, x0 + leg, y0, y0 + leg, 0, seat - 0.05))
    return parts


def desk(w: float, d: float, h: float) -> list[Cuboid]:
    t = 0.04
    return [
        _box(-w / 2, w / 2, -d / 2, d / 2, h - t, h),
        _box(-w / 2, -w / 2 + 0.04, -d / 2, d / 2, 0, h - t),
        _box(w / 2 - 0.04, w / 2, -d / 2, d / 2, 0, h - t),
    ]


def bed(w: float, d: float, h: float) -> list[Cuboid]:
    return [_box(-w / 2, w / 2, -d / 2, d / 2 - 0.08, 0, 0.5), _box(-w / 2, w / 2, d / 2 - 0.08, d / 2, 0, h)]


def sofa(w: float, d: float, h: float) -> list[Cuboid]:
    arm = 0.15
    return [
        _box(-w / 2 + arm, w / 2 - arm, -d / 2, d / 2 - 0.2, 0, 0.42),
        _box(-w / 2, w / 2, d / 2 - 0.2, d / 2, 0, h),
        _box(-w / 2, -w / 2 + arm, -d / 2, d / 2 - 0.2, 0, 0.62),
        _box(w / 2 - arm, w / 2, -d / 2, d / 2 - 0.2, 0, 0.62),
    ]


def shelf(w: float, d: float, h: float) -> list[Cuboid]:
    t = 0.03
    parts = [
        _box(-w / 2, -w / 2 + t, -d / 2, d / 2, 0, h),
        _box(w / 2 - t, w / 2, -d / 2, d / 2, 0, h),
        _box(-w / 2 + t, w / 2 - t, d / 2 - t, d / 2, 0, h),
    ]
    for z in np.linspace(0, h - t, 5):
        parts.append(_box(-w / 2 + t, w / 2 - t, -d / 2, d / 2 - t, z, z + t))
    return parts


def lamp(w: float, d: float, h: float) -> list[Cuboid]:
    return [
        _box(-0.06, 0.06, -0.06, 0.06, 0, 0.03),
        _box(-0.01, 0.01, -0.01, 0.01, 0.03, h * 0.6),
        _box(-w / 2, w / 2, -d / 2, d / 2, h * 0.6, h),
    ]


def plant(w: float, d: float, h: float) -> list[Cuboid]:
    return [_box(-w / 4, w / 4, -d / 4, d / 4, 0, h * 0.35), _box(-w / 2, w / 2, -d / 2, d / 2, h * 0.35, h)]


def monitor(w: float, d: float, h: float) -> list[Cuboid]:
    return [
        _box(-0.1, 0.1, -d / 2, d / 2, 0, 0.02),
        _box(-0.02, 0.02, d / 2 - 0.04, d / 2, 0.02, h * 0.3),
        _box(-w / 2, w / 2, d / 2 - 0.04, d / 2, h * 0.3, h),
    ]


@dataclass(frozen=True)
class Category:
    """A furniture category: raw ScanNet label, label-table facts, size ranges (w, d, h) and placement."""

    label: str
    nyu40_id: int
    nyu40_class: str
    size_lo: tuple[float, float, float]
    size_hi: tuple[float, float, float]
    placement: str  # "floor", "wall" (backed onto a wall), "mounted" (on a wall, above z0), "on" (a support)
    builder: Builder = block
    color: tuple[int, int, int] = (150, 150, 150)
    z0: tuple[float, float] = (0.0, 0.0)
    supports: tuple[str, ...] = ()


CATALOGUE = {
    c.label: c
    for c in [
        Category("chair", 5, "chair", (0.42, 0.45, 0.80), (0.55, 0.55, 1.00), "floor", chair, (120, 80, 50)),
        Category("office chair", 5, "chair", (0.55, 0.55, 0.90), (0.65, 0.65, 1.15), "floor", chair, (40, 40, 45)),
        Category("table", 7, "table", (0.9, 0.7, 0.72), (1.6, 1.0, 0.78), "floor", table, (160, 110, 70)),
        Category("coffee table", 7, "table", (0.8, 0.5, 0.38), (1.2, 0.7, 0.48), "floor", table, (110, 70, 40)),
        Category("desk", 14, "desk", (1.1, 0.6, 0.72), (1.6, 0.8, 0.78), "wall", desk, (200, 190, 170)),
        Category("bed", 4, "bed", (1.4, 1.95, 0.9), (1.8, 2.1, 1.2), "wall", bed, (220, 220, 235)),
        Category("sofa", 6, "sofa", (1.7, 0.85, 0.8), (2.3, 0.95, 0.95), "wall", sofa, (70, 90, 140)),
        Category("cabinet", 3, "cabinet", (0.6, 0.4, 0.7), (1.2, 0.6, 1.1), "wall", block, (180, 160, 130)),
        Category("bookshelf", 10, "bookshelf", (0.8, 0.3, 1.5), (1.2, 0.4, 2.0), "wall", shelf, (130, 90, 60)),
        Category("dresser", 17, "dresser", (0.9, 0.45, 0.8), (1.4, 0.55, 1.1), "wall", block, (150, 100, 70)),
        Category(
            "refrigerator", 24, "refridgerator", (0.6, 0.65, 1.7), (0.8, 0.75, 1.9), "wall", block, (235, 235, 235)
        ),
        Category("nightstand", 32, "night stand", (0.4, 0.35, 0.45), (0.55, 0.45, 0.65), "floor", block, (140, 95, 60)),
        Category("trash can", 39, "otherfurniture", (0.25, 0.25, 0.3), (0.4, 0.4, 0.7), "floor", block, (60, 120, 60)),
        Category("plant", 40, "otherprop", (0.3, 0.3, 0.5), (0.6, 0.6, 1.2), "floor", plant, (50, 140, 60)),
        Category("box", 29, "box", (0.3, 0.25, 0.2), (0.6, 0.45, 0.45), "floor", block, (190, 150, 100)),
        Category("door", 8, "door", (0.8, 0.04, 2.0), (0.95, 0.06, 2.1), "mounted", block, (170, 130, 90)),
        Category(
            "window", 9, "window", (0.8, 0.05, 1.0), (1.4, 0.08, 1.4), "mounted", block, (170, 200, 230), (0.8, 1.0)
        ),
        Category(
            "whiteboard",
            30,
            "whiteboard",
            (1.2, 0.03, 0.9),
            (2.0, 0.05, 1.2),
            "mounted",
            block,
            (245, 245, 245),
            (0.9, 1.1),
        ),
        Category(
            "picture", 11, "picture", (0.4, 0.03, 0.3), (0.9, 0.04, 0.7), "mounted", block, (200, 60, 60), (1.2, 1.6)
        ),
        Category(
            "tv", 25, "television", (0.9, 0.08, 0.55), (1.3, 0.1, 0.8), "mounted", block, (20, 20, 25), (1.0, 1.2)
        ),
        Category(
            "monitor",
            40,
            "otherprop",
            (0.45, 0.18, 0.35),
            (0.65, 0.22, 0.5),
            "on",
            monitor,
            (30, 30, 35),
            supports=("desk", "table"),
        ),
        Category(
            "lamp",
            35,
            "lamp",
            (0.25, 0.25, 0.4),
            (0.4, 0.4, 0.6),
            "on",
            lamp,
            (240, 220, 150),
            supports=("nightstand", "desk", "dresser"),
        ),
        Category(
            "pillow",
            18,
            "pillow",
            (0.45, 0.3, 0.12),
            (0.6, 0.4, 0.18),
            "on",
            block,
            (230, 200, 200),
            supports=("bed", "sofa"),
        ),
        Category("backpack", 40, "otherprop", (0.28, 0.18, 0.4), (0.35, 0.25, 0.5), "floor", block, (180, 40, 40)),
    ]
}
STRUCTURE = {
    "wall": (1, "wall", (200, 195, 185)),
    "floor": (2, "floor", (150, 130, 110)),
    "ceiling": (22, "ceiling", (235, 235, 235)),
}

SCENE_TYPES: dict[str, list[tuple[str, int, int]]] = {
    "Living room / Lounge": [
        ("sofa", 1, 1),
        ("coffee table", 1, 1),
        ("table", 0, 1),
        ("chair", 2, 4),
        ("tv", 1, 1),
        ("lamp", 0, 1),
        ("plant", 1, 2),
        ("bookshelf", 0, 1),
        ("cabinet", 1, 2),
        ("pillow", 2, 3),
        ("trash can", 0, 1),
        ("door", 1, 1),
        ("window", 1, 2),
        ("picture", 1, 2),
        ("nightstand", 0, 1),
    ],
    "Bedroom / Hotel": [
        ("bed", 1, 1),
        ("nightstand", 1, 2),
        ("lamp", 1, 2),
        ("dresser", 1, 1),
        ("pillow", 2, 2),
        ("chair", 1, 2),
        ("desk", 0, 1),
        ("door", 1, 1),
        ("window", 1, 2),
        ("picture", 1, 2),
        ("backpack", 0, 1),
        ("trash can", 0, 1),
        ("box", 1, 3),
        ("plant", 0, 1),
    ],
    "Office": [
        ("desk", 2, 3),
        ("office chair", 2, 3),
        ("chair", 1, 2),
        ("monitor", 2, 3),
        ("bookshelf", 1, 2),
        ("cabinet", 1, 2),
        ("whiteboard", 1, 1),
        ("trash can", 1, 2),
        ("door", 1, 1),
        ("window", 1, 2),
        ("box", 1, 2),
        ("backpack", 0, 1),
        ("plant", 0, 1),
        ("refrigerator", 0, 1),
    ],
}


SYNTHETIC_LABEL_COUNT = 1000
"""``count`` of every synthetic label-table row: the synthetic categories are all common ScanNet ones."""


def label_table_rows() -> list[dict[str, str]]:
    """Label-table rows (ScanNet's columns) for every label the synthetic scenes use."""
    rows = []
    entries = [(c.label, c.nyu40_id, c.nyu40_class) for c in CATALOGUE.values()]
    entries += [(name, nid, ncls) for name, (nid, ncls, _) in STRUCTURE.items()]
    for i, (label, nid, ncls) in enumerate(entries, start=1):
        rows.append(
            {
                "id": str(i),
                "raw_category": label,
                "category": label,
                "count": str(SYNTHETIC_LABEL_COUNT),
                "nyu40id": str(nid),
                "nyu40class": ncls,
            }
        )
    return rows


LABEL_TABLE_COLUMNS = [
    "id",
    "raw_category",
    "category",
    "count",
    "nyu40id",
    "eigen13id",
    "nyuClass",
    "nyu40class",
    "eigen13class",
    "ModelNet40",
    "ModelNet10",
    "ShapeNetCore55",
    "synsetoffset",
    "wnsynsetid",
    "wnsynsetkey",
    "mpcat40",
    "mpcat40index",
]

# ----------------------------------------------------------------------------------------------- records


class SynthFormat(StrEnum):
    """The layout ``ladder synth`` writes its scans in: one scan source each."""

    SCANNET = "scannet"
    SCANNETPP = "scannetpp"
    ARKITSCENES = "arkitscenes"


class SynthConfig(BaseModel):
    """How ``ladder synth`` builds synthetic ScanNet roots. The defaults make small demo scans; ``frames``,
    ``objects`` and ``mesh_vertices`` reach ScanNet's sizes (2,000-5,000 frames, 50+ objects, a
    ``_vh_clean_2`` mesh of 100-300k vertices or a ``_vh_clean`` one of ~1.3M)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    format: SynthFormat = SynthFormat.SCANNET
    """Which source's layout the scans are written in (``layouts`` and ``posed_max_images`` are ScanNet's,
    ``iphone_video`` ScanNet++'s)."""
    scenes: int = Field(4, ge=1, le=100_000)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    frames: int = Field(48, ge=4, le=20_000, description="frames per scan")
    objects: int | None = Field(
        None, ge=1, le=MAX_OBJECTS, description="furniture objects per scan, at least (None: 10-30 by scene type)"
    )
    mesh_vertices: int | None = Field(
        None,
        ge=1_000,
        le=3_000_000,
        description="mesh vertices per scan, about (None: a coarse demo mesh; ScanNet: ~150k, hi-res ~1.3M)",
    )
    posed_max_images: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="posed_images layout: keep this many frames, a random subset numbered 0..k-1 as mmdetection3d's "
        "extract_posed_images writes them (None: every frame, numbered by frame)",
    )
    layouts: list[FramesLayout] = Field(default_factory=lambda: [FramesLayout.SENS])
    iphone_video: Literal["mkv", "mp4"] | None = None
    """ScanNet++ layout: write the iPhone colour frames and anonymisation masks as a download holds them, the
    videos ``iphone/rgb.<ext>`` (``mkv``: ScanNet++ v2 releases, ``mp4``: earlier ones) and ``rgb_mask.mkv``;
    None: as the folders the toolkit extracts from them (``rgb/``, ``rgb_masks/``)."""
    invalid_poses: int = Field(2, ge=0, le=100_000, description="frames per scan whose pose is written as -inf")
    val_every: int = Field(4, ge=2, le=100_000, description="every n-th scene goes to the val split")
    jpeg_quality: int = Field(90, ge=50, le=100)


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


# ----------------------------------------------------------------------------------------------- scene


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


def _inside_room(poly: Points2, pts: Points2, margin: float = 0.0) -> bool:
    """All (N, 2) points inside the polygon, at least ``margin`` from every edge (orthogonal polygons)."""
    path = poly
    for p in pts:
        inside = False
        for i in range(len(path)):
            a, b = path[i], path[(i + 1) % len(path)]
            if (a[1] > p[1]) != (b[1] > p[1]) and p[0] < a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1]):
                inside = not inside
        if not inside:
            return False
        for i in range(len(path)):
            a, b = path[i], path[(i + 1) % len(path)]
            ab = b - a
            t = np.clip(np.dot(p - a, ab) / np.dot(ab, ab), 0, 1)
            if np.linalg.norm(p - (a + t * ab)) < margin - 1e-9:
                return False
    return True


def _fits(poly: Points2, box: Cuboid, placed: list[SceneObject], clearance: float, skip: int | None = None) -> bool:
    footprint = box.footprint()
    if not _inside_room(poly, footprint):
        return False
    # a convex footprint with corners inside can still wrap a reflex corner of an L-shaped room
    for v in poly:
        local = (np.append(v, box.center[2]) - box.center) @ box.rotation
        if np.all(np.abs(local[:2]) < box.size[:2] / 2 - 1e-6):
            return False
    grown = Cuboid(box.center, box.size + np.array([2 * clearance, 2 * clearance, 0.0]), box.yaw)
    for other in placed:
        if other.structural or other.object_id == skip or other.box is None:
            continue
        if cuboids_overlap(grown, other.box, eps=-1e-6):
            return False
    return True


def _place(
    obj_id: int,
    cat: Category,
    rng: np.random.Generator,
    poly: Points2,
    height: float,
    placed: list[SceneObject],
    tall_limit: float,
) -> SceneObject | None:
    for _ in range(60):
        w, d, h = (rng.uniform(lo, hi) for lo, hi in zip(cat.size_lo, cat.size_hi, strict=True))
        if cat.placement == "on":
            supports = [o for o in placed if o.label in cat.supports]
            if not supports:
                return None
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
            others = [o for o in placed if o.object_id != sup.object_id and o.box is not None and not o.structural]
            if any(cuboids_overlap(box, o.box) for o in others if o.box is not None):
                continue
        elif cat.placement in ("wall", "mounted"):
            i = int(rng.integers(len(poly)))
            a, b = poly[i], poly[(i + 1) % len(poly)]
            length = np.linalg.norm(b - a)
            if length < w + 0.4:
                continue
            t = rng.uniform(0.2 + w / 2, length - 0.2 - w / 2)
            along = (b - a) / length
            inward = np.array([-along[1], along[0]])  # polygon is counter-clockwise
            gap = 0.002 if cat.placement == "mounted" else 0.02
            xy = a + along * t + inward * (gap + d / 2)
            z0 = rng.uniform(*cat.z0)
            yaw = float(np.arctan2(along[1], along[0]) + np.pi) % (2 * np.pi)  # local +y faces the wall
            box = Cuboid(np.array([xy[0], xy[1], z0 + h / 2]), np.array([w, d, h]), yaw)
            if cat.placement == "mounted":
                if z0 + h > height - 0.05:
                    continue
                overlaps = any(cuboids_overlap(box, o.box) for o in placed if o.box is not None and not o.structural)
                if overlaps or not _inside_room(poly, box.footprint()):
                    continue
            elif not _fits(poly, box, placed, clearance=0.05):
                continue
        else:
            if h > tall_limit:
                h = tall_limit
            lo, hi = poly.min(axis=0), poly.max(axis=0)
            xy = rng.uniform(lo + 0.3, hi - 0.3)
            yaw = float(
                rng.choice([0.0, np.pi / 2, np.pi, 1.5 * np.pi]) if rng.random() < 0.5 else rng.uniform(0, 2 * np.pi)
            )
            box = Cuboid(np.array([xy[0], xy[1], h / 2]), np.array([w, d, h]), yaw)
            if not _fits(poly, box, placed, clearance=0.1):
                continue
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


# ----------------------------------------------------------------------------------------------- mesh


def _grid_quad(origin: FloatArray, u: FloatArray, v: FloatArray, max_edge: float) -> tuple[FloatArray, np.ndarray]:
    nu = max(1, int(np.ceil(np.linalg.norm(u) / max_edge)))
    nv = max(1, int(np.ceil(np.linalg.norm(v) / max_edge)))
    a, b = np.meshgrid(np.linspace(0, 1, nu + 1), np.linspace(0, 1, nv + 1), indexing="ij")
    verts = origin + a.reshape(-1, 1) * u + b.reshape(-1, 1) * v
    idx = np.arange((nu + 1) * (nv + 1)).reshape(nu + 1, nv + 1)
    q0, q1, q2, q3 = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    faces = np.concatenate([np.stack([q0, q1, q2], 1), np.stack([q0, q2, q3], 1)])
    return verts, faces


def _cuboid_quads(c: Cuboid) -> list[tuple[FloatArray, FloatArray, FloatArray]]:
    """The 6 faces of a box as (origin, u, v) with u x v pointing outwards."""
    R, h = c.rotation, c.size / 2
    ex, ey, ez = R[:, 0] * c.size[0], R[:, 1] * c.size[1], R[:, 2] * c.size[2]
    lo = c.center - R @ h
    hi = c.center + R @ h
    return [(lo, ey, ex), (hi, -ex, -ey), (lo, ex, ez), (hi, -ez, -ex), (lo, ez, ey), (hi, -ey, -ez)]


def _quads(scene: SyntheticScene) -> list[tuple[FloatArray, FloatArray, FloatArray]]:
    return [q for obj in scene.objects for q in (obj.panels if obj.structural else _cuboid_quads_of(obj))]


def _cuboid_quads_of(obj: SceneObject) -> list[tuple[FloatArray, FloatArray, FloatArray]]:
    return [q for p in obj.parts for q in _cuboid_quads(p)]


def edge_for_vertices(scene: SyntheticScene, vertices: int) -> float:
    """The grid edge (metres, furniture and structure alike) whose mesh has the vertex count closest to
    ``vertices`` (bisection: the count falls as the edge grows)."""
    lengths = np.array([(np.linalg.norm(u), np.linalg.norm(v)) for _, u, v in _quads(scene)])

    def count(edge: float) -> int:
        cells = np.maximum(1, np.ceil(lengths / edge))
        return int(((cells[:, 0] + 1) * (cells[:, 1] + 1)).sum())

    lo, hi = 1e-3, 10.0  # count(lo) > any allowed target > count(hi)
    for _ in range(60):
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if count(mid) > vertices else (lo, mid)
    return hi if abs(count(hi) - vertices) <= abs(count(lo) - vertices) else lo


@dataclass
class SceneMesh:
    mesh: TriangleMesh
    segments: np.ndarray
    """(V,) segment id per vertex."""
    object_segments: dict[int, list[int]]
    face_object: np.ndarray
    """(F,) object id per triangle."""


def build_mesh(
    scene: SyntheticScene,
    rng: np.random.Generator,
    max_edge: float = DEMO_EDGE,
    structural_edge: float = DEMO_STRUCTURAL_EDGE,
) -> SceneMesh:
    """Triangulate the scene: furniture faces gridded at ``max_edge``, walls/floor/ceiling at ``structural_edge``;
    every gridded face is one segment."""
    verts, faces, colors, segs, face_obj = [], [], [], [], []
    object_segments: dict[int, list[int]] = {}
    n_verts, seg_id = 0, 0
    for obj in scene.objects:
        quads = obj.panels if obj.structural else _cuboid_quads_of(obj)
        object_segments[obj.object_id] = []
        for origin, u, v in quads:
            vq, fq = _grid_quad(origin, u, v, structural_edge if obj.structural else max_edge)
            verts.append(vq)
            faces.append(fq + n_verts)
            shade = rng.integers(-8, 9)
            colors.append(np.tile(np.clip(np.array(obj.color) + shade, 0, 255).astype(np.uint8), (len(vq), 1)))
            segs.append(np.full(len(vq), seg_id))
            face_obj.append(np.full(len(fq), obj.object_id))
            object_segments[obj.object_id].append(seg_id)
            n_verts += len(vq)
            seg_id += 1
    mesh = TriangleMesh(np.concatenate(verts), np.concatenate(faces).astype(np.int64), np.concatenate(colors))
    return SceneMesh(mesh, np.concatenate(segs), object_segments, np.concatenate(face_obj))


# ----------------------------------------------------------------------------------------------- render


class Renderer:
    """Colour and depth frames of a mesh, traced on a half-resolution ray grid refined at surface edges.

    A *surface* is the set of triangles on one plane with one colour (a gridded quad of the synthetic meshes). A
    frame casts every other pixel of every other row; a pixel whose two or four enclosing samples hit the same
    surface hits it too (a quad is convex; only something under 2 pixels wide between the samples could hide
    it), so its range is the surface's plane intersected with its ray, in closed form; the other pixels (edges,
    the last row and column) are cast. About a third of the rays of a full cast, same depths (to float rounding).
    """

    def __init__(self, mesh: TriangleMesh, rng: np.random.Generator) -> None:
        self.mesh = mesh
        # a fixed sensor-noise pattern: JPEG gets texture to encode, at no per-frame cost
        self.noise = rng.normal(0.0, 4.0, size=(COLOR_K.height, COLOR_K.width, 1)).astype(np.float32)
        self.scene = TriangleScene(mesh.vertices, mesh.faces)
        light = np.array([0.3, 0.5, 0.81])
        tri = mesh.vertices[mesh.faces]
        normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        shade = 0.45 + 0.55 * np.abs(normals @ (light / np.linalg.norm(light)))
        face_rgb = mesh.colors[mesh.faces[:, 0]] * shade[:, None]
        # (F, 4) plane n . x = d of each triangle; triangles with the same plane and colour are one surface
        planes = np.concatenate([normals, (normals * tri[:, 0]).sum(axis=1, keepdims=True)], axis=1)
        keys = np.round(np.concatenate([planes * 1e5, face_rgb], axis=1)).astype(np.int64)
        rows = keys.view(np.dtype((np.void, keys.itemsize * keys.shape[1]))).ravel()  # one value per row: 5x faster
        _, first, surface = np.unique(rows, return_index=True, return_inverse=True)
        self.surface = surface.reshape(-1).astype(np.int64)
        """(F,) surface of each triangle."""
        self.surface_plane = planes[first]
        """(S, 4) plane (unit normal, offset) of each surface."""
        # (S + 1, 3): colour of each surface, last row black for rays that hit nothing (surface -1)
        self.surface_rgb = np.vstack([face_rgb[first], [[0, 0, 0]]]).astype(np.float32)

    def trace(self, K: CameraIntrinsics, pose: Matrix4) -> tuple[np.ndarray, NDArray[np.float32]]:
        """(H, W) surface seen by each pixel of ``K`` (-1: nothing) and (H, W) range along its ray (inf: none)."""
        dirs = pixel_directions(K)
        rotation, origin = pose[:3, :3].astype(np.float32), pose[:3, 3].astype(np.float32)
        samples = np.ascontiguousarray(dirs[::2, ::2])
        rays = np.concatenate([np.broadcast_to(origin, samples.shape), samples @ rotation.T], axis=-1)
        prim = self.scene.cast(rays).triangle
        h, w = prim.shape
        # the samples' surfaces, each repeated over 2x2 pixels, padded by two rows and columns that match nothing:
        # pixel (y, x)'s enclosing samples are at (y, x), (y, x + 1), (y + 1, x), (y + 1, x + 1) of ``spread``
        padded = np.full((h + 1, w + 1), -2, dtype=np.int32)
        padded[:h, :w] = np.where(prim >= 0, self.surface[prim], -1)
        spread = padded.repeat(2, axis=0).repeat(2, axis=1)
        height, width = K.height, K.width
        seen = spread[:height, :width]
        inside = (
            (seen >= 0)
            & (spread[:height, 1 : width + 1] == seen)
            & (spread[1 : height + 1, :width] == seen)
            & (spread[1 : height + 1, 1 : width + 1] == seen)
        )
        # plane n . x = d in the camera frame: (R^T n) . x_cam = d - n . o; range t = that / ((R^T n) . dir)
        plane = self.surface_plane
        normal_cam = (plane[:, :3] @ pose[:3, :3]).astype(np.float32)
        offset = (plane[:, 3] - plane[:, :3] @ pose[:3, 3]).astype(np.float32)
        surface = np.where(inside, seen, -1)
        with np.errstate(divide="ignore", invalid="ignore"):  # pixels not inside (surface -1) are cast below
            t_hit = offset[surface] / np.einsum("hwi,hwi->hw", normal_cam[surface], dirs)
        edge = ~inside
        edge_dirs = dirs[edge]
        edge_rays = np.concatenate([np.broadcast_to(origin, edge_dirs.shape), edge_dirs @ rotation.T], axis=-1)
        hits = self.scene.cast(edge_rays)
        t_hit[edge] = hits.t_hit
        surface[edge] = np.where(hits.triangle >= 0, self.surface[hits.triangle], -1)
        return surface, t_hit

    def shaded(self, surface: np.ndarray, t_hit: NDArray[np.float32]) -> NDArray[np.float32]:
        """(H, W, 3) float colour of a traced frame: surface colour, darker with range."""
        falloff = 1.0 / (1.0 + 0.03 * np.where(np.isfinite(t_hit), t_hit, 0.0))
        return np.asarray(self.surface_rgb[surface] * falloff[..., None], dtype=np.float32)

    def colour_frame(self, shaded: NDArray[np.float32], traced: CameraIntrinsics, K: CameraIntrinsics) -> ImageRGB:
        """The colour frame at ``K`` from a frame shaded at ``traced`` (same pose): resampled through both cameras'
        intrinsics (bilinear), sensor noise added where ``K`` is the ScanNet colour camera."""
        sx, sy = traced.fx / K.fx, traced.fy / K.fy  # K's pixel -> traced's pixel
        to_traced = np.array([[sx, 0.0, traced.cx - sx * K.cx], [0.0, sy, traced.cy - sy * K.cy]])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        warped = cv2.warpAffine(shaded, to_traced, (K.width, K.height), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        img: NDArray[np.float32] = np.asarray(warped, dtype=np.float32)
        if img.shape[:2] == self.noise.shape[:2]:
            img += self.noise
        return np.clip(img, 0, 255, out=img).astype(np.uint8)

    def color(self, K: CameraIntrinsics, pose: Matrix4, cast_scale: float = 0.5) -> ImageRGB:
        """Colour frame at ``K``'s size, traced at ``cast_scale`` of it and upscaled (VLM processors
        downscale frames far below 1296x968, so full-resolution tracing buys nothing but time)."""
        small = K.scaled_to(round(K.width * cast_scale), round(K.height * cast_scale))
        return self.colour_frame(self.shaded(*self.trace(small, pose)), small, K)

    def depth(self, K: CameraIntrinsics, pose: Matrix4) -> DepthMM:
        return depth_mm(self.trace(K, pose)[1], K)

    def frame(self, color_k: CameraIntrinsics, depth_k: CameraIntrinsics, pose: Matrix4) -> tuple[ImageRGB, DepthMM]:
        """Colour and depth frames of one pose from one trace at the depth camera (ScanNet's two cameras see the
        same field of view; the colour frame is that trace's shading resampled to ``color_k``)."""
        surface, t_hit = self.trace(depth_k, pose)
        return self.colour_frame(self.shaded(surface, t_hit), depth_k, color_k), depth_mm(t_hit, depth_k)


def _enclosing(size: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """For each of ``size`` pixels along an axis, the samples (every other pixel) before and after it (the same
    sample for a sampled pixel; one past the last sample for the last odd pixel)."""
    pixels = np.arange(size)
    return pixels // 2, (pixels + 1) // 2


def depth_mm(t_hit: NDArray[np.float32], K: CameraIntrinsics) -> DepthMM:
    """(H, W) uint16 depth in millimetres (0: no return) of ranges ``t_hit`` along ``K``'s pixel rays."""
    z = t_hit * ray_z_factor(K)
    mm = np.where(np.isfinite(z), np.round(z * 1000.0), 0)
    return np.clip(mm, 0, 65535).astype(np.uint16)


# ----------------------------------------------------------------------------------------------- writing


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
            d = min(cuboid_distance(p, q) for p in a.parts for q in b.parts)
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


def _rendered_frames(
    scene: SyntheticScene, mesh: TriangleMesh, quality: int, seed: int, png: bool
) -> Iterator[tuple[bytes, bytes, DepthMM]]:
    """Each frame's JPEG colour, PNG depth (empty bytes unless ``png``: only the folder layouts store it) and depth."""
    renderer = Renderer(mesh, rng_for(seed, scene.scan_id, "sensor noise"))
    for pose in scene.poses:
        color, depth = renderer.frame(COLOR_K, DEPTH_K, pose)
        encoded = b""
        if png:
            ok, buffer = cv2.imencode(".png", depth)
            if not ok:
                raise RuntimeError("PNG encoding of a depth frame failed")
            encoded = buffer.tobytes()
        yield encode_color_jpeg(color, quality), encoded, depth


def write_scene(
    root: Path,
    scene: SyntheticScene,
    layouts: list[FramesLayout],
    jpeg_quality: int = 90,
    seed: int = 0,
    max_edge: float = DEMO_EDGE,
    structural_edge: float = DEMO_STRUCTURAL_EDGE,
    posed_frames: list[int] | None = None,
) -> SyntheticGroundTruth:
    """Write one scan into ``root/scans/<scan_id>`` (and ``root/posed_images``) plus its ground truth.

    Frames are rendered once and streamed to every layout, so memory does not grow with the frame count.
    ``posed_frames`` (increasing frame numbers) are the frames the posed layout keeps, numbered 0, 1, 2, ...
    as mmdetection3d writes a subsample; None keeps every frame under its own number.
    """
    paths = ScanPaths.at(root / "scans" / scene.scan_id, root=root)
    paths.scan_dir.mkdir(parents=True, exist_ok=True)
    rng = rng_for(seed, scene.scan_id, "mesh")
    sm = build_mesh(scene, rng, max_edge, structural_edge)
    to_raw = invert_pose(scene.alignment)
    raw_vertices = sm.mesh.vertices @ to_raw[:3, :3].T + to_raw[:3, 3]
    with atomic_path(paths.mesh) as tmp:
        write_ply(tmp, TriangleMesh(raw_vertices, sm.mesh.faces, sm.mesh.colors))
    write_text_atomic(
        paths.segments,
        json.dumps(
            {
                "params": {"kThresh": "0.0001", "segMinVerts": "20"},
                "sceneId": scene.scan_id,
                "segIndices": sm.segments.tolist(),
            }
        ),
    )
    groups = [
        {"id": o.object_id, "objectId": o.object_id, "segments": sm.object_segments[o.object_id], "label": o.label}
        for o in scene.objects
    ]
    write_text_atomic(
        paths.aggregation,
        json.dumps(
            {
                "sceneId": f"scannet.{scene.scan_id}",
                "appId": "ladder.synth",
                "segGroups": groups,
                "segmentsFile": paths.segments.name,
            }
        ),
    )
    align_txt = " ".join(f"{v:.9g}" for v in scene.alignment.reshape(-1))
    write_text_atomic(
        paths.meta,
        f"axisAlignment = {align_txt}\ncolorHeight = {COLOR_K.height}\ncolorWidth = "
        f"{COLOR_K.width}\ndepthHeight = {DEPTH_K.height}\ndepthWidth = {DEPTH_K.width}\n"
        f"numColorFrames = {len(scene.poses)}\nsceneType = {scene.scene_type}\n",
    )
    raw_poses = np.einsum("ij,tjk->tik", to_raw, scene.poses)
    raw_poses[scene.invalid] = -np.inf
    pose_txt = [matrix_text(p) for p in raw_poses]
    n = len(scene.poses)
    if FramesLayout.EXPORT in layouts:
        for d in (paths.export_color_dir, paths.export_depth_dir, paths.export_pose_dir, paths.export_intrinsic_dir):
            d.mkdir(parents=True, exist_ok=True)
        for name, K in (("intrinsic_color", COLOR_K), ("intrinsic_depth", DEPTH_K)):
            write_text_atomic(paths.export_intrinsic_dir / f"{name}.txt", matrix_text(K.matrix4))
        for name in ("extrinsic_color", "extrinsic_depth"):
            write_text_atomic(paths.export_intrinsic_dir / f"{name}.txt", matrix_text(np.eye(4)))
    posed_number = {f: f for f in range(n)} if posed_frames is None else {f: j for j, f in enumerate(posed_frames)}
    if FramesLayout.POSED in layouts:
        paths.posed_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(paths.posed_intrinsic, matrix_text(COLOR_K.matrix4))
        write_text_atomic(paths.posed_depth_intrinsic, matrix_text(DEPTH_K.matrix4))

    def frames() -> Iterator[SensFrameData]:
        """Each frame rendered once: written to the folder layouts, then handed on for the .sens stream."""
        with_png = FramesLayout.EXPORT in layouts or FramesLayout.POSED in layouts
        rendered = _rendered_frames(scene, sm.mesh, jpeg_quality, seed, with_png)
        for i, (color, png, depth) in enumerate(rendered):
            report_progress(i + 1, n)  # frames written (the .sens stream takes each as it is yielded)
            if FramesLayout.EXPORT in layouts:
                write_bytes_atomic(paths.export_color(i), color)
                write_bytes_atomic(paths.export_depth(i), png)
                write_text_atomic(paths.export_pose(i), pose_txt[i])
            if FramesLayout.POSED in layouts and i in posed_number:
                j = posed_number[i]
                write_bytes_atomic(paths.posed_color(j), color)
                write_bytes_atomic(paths.posed_depth(j), png)
                write_text_atomic(paths.posed_pose(j), pose_txt[i])
            if FramesLayout.SENS in layouts:
                yield SensFrameData(raw_poses[i], round(i * 1e6 / FPS), color, encode_depth_zlib(depth))

    if FramesLayout.SENS in layouts:
        size_c, size_d = (COLOR_K.width, COLOR_K.height), (DEPTH_K.width, DEPTH_K.height)
        with atomic_path(paths.sens) as tmp:
            write_sens(tmp, COLOR_K.matrix4, DEPTH_K.matrix4, size_c, size_d, frames(), n)
    else:
        deque(frames(), maxlen=0)  # render and write the folder layouts
    gt = ground_truth(scene).model_copy(update={"posed_frames": posed_frames})
    write_text_atomic(root / GROUND_TRUTH_DIR / f"{scene.scan_id}.json", gt.model_dump_json(indent=1))
    return gt


def matrix_text(m: Matrix4) -> str:
    return "\n".join(" ".join(f"{v:.9g}" for v in row) for row in np.asarray(m)) + "\n"


def scene_and_edges(config: SynthConfig, index: int) -> tuple[SyntheticScene, float, float]:
    """Scene ``index`` of the root ``config`` describes, with the grid edges of its furniture and its structure."""
    scene = generate_scene(index, config.seed, config.frames, config.invalid_poses, config.objects)
    edge, structural_edge = DEMO_EDGE, DEMO_STRUCTURAL_EDGE
    if config.mesh_vertices is not None:
        edge = structural_edge = edge_for_vertices(scene, config.mesh_vertices)
    return scene, edge, structural_edge


def synthesize_scan(root: Path, config: SynthConfig, index: int) -> str:
    """Write scene ``index`` of the root ``config`` describes; returns its scan id."""
    scene, edge, structural_edge = scene_and_edges(config, index)
    posed = None
    subsample = config.posed_max_images is not None and config.posed_max_images < config.frames
    if FramesLayout.POSED in config.layouts and subsample:
        # mmdetection3d's extract_posed_images: a random subset of the stream, kept in stream order
        pick = rng_for(config.seed, scene.scan_id, "posed").choice(
            config.frames, config.posed_max_images, replace=False
        )
        posed = sorted(int(f) for f in pick)
    write_scene(root, scene, config.layouts, config.jpeg_quality, config.seed, edge, structural_edge, posed)
    return scene.scan_id


class SynthStamp(BaseModel):
    """What a finished synthetic root holds: ``SYNTH_STAMP``, written after its last scan."""

    config: SynthConfig
    scans: list[str]


def synthesized(root: Path, config: SynthConfig) -> list[str] | None:
    """The scan ids of ``root`` when it already holds every scan ``config`` describes (its stamp records this very
    config and every scan's ground truth is there); None when something is still to write."""
    stamp = root / SYNTH_STAMP
    try:
        held = SynthStamp.model_validate_json(stamp.read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None
    done = held.config == config and all((root / GROUND_TRUTH_DIR / f"{s}.json").is_file() for s in held.scans)
    return held.scans if done else None


def synthesize_root(
    root: Path,
    config: SynthConfig,
    executor: Executor | None = None,
    progress: Callable[[Outcome[str]], None] | None = None,
) -> list[str]:
    """Write a whole synthetic ScanNet root: scans, label table, split lists, ground truth."""
    with claim_folder(root):
        rows = label_table_rows()
        lines = ["\t".join(LABEL_TABLE_COLUMNS)] + ["\t".join(r.get(c, "") for c in LABEL_TABLE_COLUMNS) for r in rows]
        write_text_atomic(root / LABEL_TABLE, "\n".join(lines) + "\n")
        ids = [scan_id_for(i) for i in range(config.scenes)]
        val = [s for i, s in enumerate(ids) if i % config.val_every == config.val_every - 1]
        train = [s for s in ids if s not in val]
        for split, listed in (("train", train), ("val", val), ("test", [])):
            write_text_atomic(root / SPLIT_LIST.format(split=split), "".join(f"{s}\n" for s in listed))
        return write_scans(root, config, synthesize_scan, ids, executor, progress)


def write_scans(
    root: Path,
    config: SynthConfig,
    write_scan: Callable[[Path, SynthConfig, int], str],
    ids: list[str],
    executor: Executor | None = None,
    progress: Callable[[Outcome[str]], None] | None = None,
) -> list[str]:
    """Write scenes 0..scenes-1 with ``write_scan(root, config, index)`` (one executor item each, named ``ids``);
    a ``LadderError`` when any of them fails. A root that already holds them (:func:`synthesized`) keeps them:
    a rerun writes no scan."""
    if synthesized(root, config) == ids:
        return ids
    stamp = root / SYNTH_STAMP
    stamp.unlink(missing_ok=True)
    outcomes = (executor or LocalExecutor()).map(
        partial(write_scan, root, config), list(range(config.scenes)), names=ids, on_done=progress
    )
    failed = [o.error for o in outcomes if not o.ok]
    if failed:
        raise LadderError(f"{len(failed)} synthetic scans could not be written: {'; '.join(map(str, failed[:3]))}")
    write_text_atomic(stamp, SynthStamp(config=config, scans=ids).model_dump_json())
    return ids
