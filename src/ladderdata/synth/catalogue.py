"""What synthetic rooms are furnished with: the furniture catalogue (categories, sizes, colours, how each is built
of boxes and where it stands), the structural surfaces, the scene types and the label table they imply.

Furniture is composed of gravity-aligned boxes (tables have legs, chairs backs, shelves are hollow), so objects
occlude each other and see-through gaps exist. Every object's parts touch all six faces of its declared box, so
the declared box is the tight oriented box.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ladderdata.synth.shapes import Cuboid

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
