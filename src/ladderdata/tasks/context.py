"""What task generators see: facts about a scene's objects and the views a question shows."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ladderdata.geometry.boxes import OrientedBox
from ladderdata.geometry.measure import SizeBox, floor_area, object_size_cm, surface_distance
from ladderdata.metadata.config import ObjectInView, ViewRecord
from ladderdata.sources.base import Scan
from ladderdata.typed import Faces, FloatArray, Points3

FLOOR_CATEGORIES = ("floor",)


@dataclass(frozen=True)
class ObjectFacts:
    """3D facts about one object instance (aligned world frame, metres)."""

    object_id: int
    label: str
    category: str
    box: OrientedBox
    """Gravity-aligned box of the object's vertices (docs/geometry.md); its centre is the object's position."""
    size_cm: float
    """Longest side of ``box``, centimetres."""
    nyu40_class: str = ""
    """NYU40 class from the label table (``unknown`` for a label it lacks)."""
    in_label_table: bool = True
    label_count: int = 0
    """Instances of the raw label in all of ScanNet (label table ``count``)."""
    vertices: Points3 | None = field(default=None, compare=False)
    """(V, 3) the object's vertices, for sizes on other boxes (None: the object is its ``box``)."""

    @property
    def center(self) -> FloatArray:
        return np.asarray(self.box.center, dtype=np.float64)

    def size_on(self, box: SizeBox) -> float:
        """Longest side, centimetres, of the object's ``box`` (``size_cm`` for the gravity-aligned box)."""
        if box is SizeBox.GRAVITY:
            return self.size_cm
        return object_size_cm(self.box.corners() if self.vertices is None else self.vertices, box)


@dataclass
class SceneContext:
    """One scene: object facts, its measured views, closest-surface distances (lazily) and floor area."""

    scan_id: str
    scene_type: str | None
    objects: dict[int, ObjectFacts]
    views: list[ViewRecord]
    distance_fn: Callable[[int, int], float]
    """Closest-surface distance between two objects, metres."""
    floor_area: float | None
    """Floor area in m^2 (None when the scene has no floor annotation)."""
    floor_mesh: tuple[Points3, Faces] | None = field(default=None, repr=False)
    """(V, 3) vertices and (F, 3) triangles of the floor objects (None without a floor annotation)."""
    _distances: dict[tuple[int, int], float] = field(default_factory=dict, repr=False)
    point_distance_fn: Callable[[int, Points3], FloatArray] | None = field(default=None, repr=False)
    """(N,) exact distance from (N, 3) world points to an object's surface, metres (camera-to-object questions)."""

    def point_distance(self, object_id: int, point: FloatArray) -> float:
        """Metres from a (3,) world point to the closest point of the object's surface."""
        if self.point_distance_fn is None:
            raise ValueError(f"{self.scan_id}: this scene context measures no point-to-surface distances")
        return float(self.point_distance_fn(object_id, np.asarray(point, dtype=np.float64).reshape(1, 3))[0])

    @property
    def time_known(self) -> bool:
        """Whether the views say when they were taken (not the case for a ``posed_images`` subsample)."""
        return all(v.timestamp_us is not None for v in self.views)

    def distance(self, a: int, b: int) -> float:
        key = (a, b) if a < b else (b, a)
        if key not in self._distances:
            self._distances[key] = self.distance_fn(*key)
        return self._distances[key]

    @classmethod
    def from_scan(
        cls, scan: Scan, views: list[ViewRecord], category_names: Mapping[str, str] | None = None
    ) -> "SceneContext":
        """Facts of ``scan``; ``category_names`` renames categories (in the objects and in the views)."""
        names = category_names or {}
        if names:
            views = [
                v.model_copy(
                    update={
                        "objects": [
                            o.model_copy(update={"category": names.get(o.category, o.category)}) for o in v.objects
                        ]
                    }
                )
                for v in views
            ]
        surfaces = {o.info.object_id: o.surface for o in scan.objects}
        objects = {}
        for o in scan.objects:
            if len(o.surface.faces) == 0:
                continue
            objects[o.info.object_id] = ObjectFacts(
                object_id=o.info.object_id,
                label=o.info.label,
                category=names.get(o.info.category, o.info.category),
                box=o.oriented_box,
                size_cm=o.oriented_box.longest_side * 100.0,  # object_size_cm(o.points), its box built once
                nyu40_class=o.info.nyu40_class,
                in_label_table=o.info.in_label_table,
                label_count=o.info.label_count,
                vertices=o.points,
            )
        floor = [o.surface for o in scan.objects if o.info.category in FLOOR_CATEGORIES and len(o.surface.faces)]
        area = None
        floor_mesh = None
        if floor:
            offsets = np.cumsum([0] + [len(f.vertices) for f in floor[:-1]])
            floor_mesh = (
                np.concatenate([f.vertices for f in floor]),
                np.concatenate([f.faces + k for f, k in zip(floor, offsets, strict=True)]),
            )
            area = floor_area(*floor_mesh)
        return cls(
            scan_id=scan.scan_id,
            scene_type=scan.scene_type,
            objects=objects,
            views=views,
            distance_fn=lambda a, b: surface_distance(surfaces[a], surfaces[b]),
            floor_area=area,
            point_distance_fn=lambda i, points: surfaces[i].distances_from(points),
            floor_mesh=floor_mesh,
        )


class Shown:
    """The views one question shows (one image, an 8-view set or video frames), in stream order."""

    def __init__(self, views: list[ViewRecord], known: set[int] | None = None) -> None:
        self.views = sorted(views, key=lambda v: v.frame_id)
        per_object: dict[int, FloatArray] = {}
        self._seen: dict[int, ObjectInView] = {}
        self._category: dict[int, str] = {}
        for k, view in enumerate(self.views):
            for obj in view.objects:
                if known is not None and obj.object_id not in known:
                    continue
                row = per_object.setdefault(obj.object_id, np.zeros(len(self.views)))
                row[k] = obj.visibility
                self._category[obj.object_id] = obj.category
                if k == 0:
                    self._seen[obj.object_id] = obj
        self.per_view = per_object
        """object id -> (V,) visibility in each shown view (0 where not seen)."""

    @cached_property
    def object_ids(self) -> list[int]:
        return sorted(self.per_view)

    @property
    def frame_ids(self) -> list[int]:
        return [v.frame_id for v in self.views]

    @property
    def timestamps(self) -> list[float] | None:
        """Seconds since the first frame of the scan's stream; None when the views' times are unknown."""
        times = [v.timestamp_us for v in self.views]
        return None if None in times else [t / 1e6 for t in times if t is not None]

    @cached_property
    def best_visibility(self) -> dict[int, float]:
        """object id -> its best visibility among the views shown (asked thousands of times per scan)."""
        return {object_id: float(row.max()) for object_id, row in self.per_view.items()}

    def visibility(self, object_id: int) -> float:
        """Best visibility of the object among the views shown (0 if never seen)."""
        return self.best_visibility.get(object_id, 0.0)

    @cached_property
    def _by_category(self) -> dict[str, list[tuple[int, float]]]:
        """category -> (object id, best visibility) of its instances, in the order the views list them."""
        grouped: dict[str, list[tuple[int, float]]] = {}
        for object_id, category in self._category.items():
            grouped.setdefault(category, []).append((object_id, self.best_visibility[object_id]))
        return grouped

    def present(self, category: str, above: float) -> list[int]:
        """Instances of ``category`` whose best visibility exceeds ``above`` (asked thousands of times per scan)."""
        return [i for i, visibility in self._by_category.get(category, ()) if visibility > above]

    def first_seen(self, object_id: int, threshold: float) -> int | None:
        """Index of the first shown view where the object's visibility reaches ``threshold``."""
        row = self.per_view.get(object_id)
        if row is None:
            return None
        hits = np.flatnonzero(row >= threshold)
        return int(hits[0]) if hits.size else None

    def in_view(self, object_id: int) -> ObjectInView:
        """The object as measured in the first shown view (single-image questions)."""
        return self._seen[object_id]

    @property
    def pose(self) -> FloatArray:
        """(4, 4) camera-to-world of the first shown view."""
        return np.asarray(self.views[0].cam_to_world, dtype=np.float64).reshape(4, 4)
