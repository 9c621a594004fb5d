"""ARKitScenes objects from oriented boxes: the 3DOD annotation's boxes, and the scene-mesh triangles each box holds.

Objects are oriented boxes, not mesh segments (docs/sources.md, "Objects from boxes"):

* an object's **size and boxes** come from its annotated box (its 8 corners are the object's ``points``);
* its **surface** is the scene-mesh triangles inside its box: a triangle belongs to a box when its centroid
  lies inside it, except a triangle lying on one of the box's faces that faces into the box (a tabletop under a
  monitor's box, the floor under a chair); a triangle inside several boxes goes to the smallest. Visibility,
  occlusion, 2D boxes and closest-surface distances are measured on that surface, like ScanNet's;
* the **floor** is the upward-facing mesh triangles within ``floor_tolerance`` of the floor height (the height
  holding the most upward-facing area); it becomes a ``floor`` object, so room sizes work as for ScanNet.

The annotation format follows apple/ARKitScenes (``threedod/README.md``, ``box_utils.py``, ``taxonomy.py``);
:mod:`ladderdata.sources.arkitscenes` reads the mesh and frames and builds a scan's objects here.
"""

import re
from pathlib import Path
from typing import Any

import numpy as np

from ladderdata.errors import CorruptFileError, InconsistentScanError
from ladderdata.geometry.measure import ObjectSurface
from ladderdata.sources.base import ObjectInfo, ScanObject
from ladderdata.sources.files import field, numbers, read_json_object
from ladderdata.sources.ply import TriangleMesh
from ladderdata.sources.validate import finite, rotation
from ladderdata.typed import BoolArray, FloatArray, IntArray, Points3

#: The 17 classes of the 3DOD benchmark (``taxonomy.py``), with the category questions name them by.
CATEGORIES = {
    "cabinet": "cabinet",
    "refrigerator": "refrigerator",
    "shelf": "shelf",
    "stove": "stove",
    "bed": "bed",
    "sink": "sink",
    "washer": "washer",
    "toilet": "toilet",
    "bathtub": "bathtub",
    "oven": "oven",
    "dishwasher": "dishwasher",
    "fireplace": "fireplace",
    "stool": "stool",
    "chair": "chair",
    "table": "table",
    "tv_monitor": "tv",
    "sofa": "sofa",
}


def normalise_label(label: str) -> str:
    """The 3DOD loader's normalisation: spaces, dashes and slashes become underscores (``tv monitor``)."""
    return re.sub(r"[ \-/]", "_", label.strip())


class OrientedBoxAnnotation:
    """One annotated box: ``center`` (3,), ``size`` (3,) along its axes, ``axes`` (3, 3) with one axis per row."""

    def __init__(self, center: FloatArray, size: FloatArray, axes: FloatArray) -> None:
        self.center, self.size, self.axes = center, size, axes

    def corners(self) -> Points3:
        """(8, 3) corners: centre plus every sign combination of the half sizes along the axes."""
        signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
        return np.asarray(self.center + (signs * self.size / 2) @ self.axes, dtype=np.float64)

    def local(self, points: Points3) -> Points3:
        """(N, 3) points in the box's frame (coordinates along its axes, from its centre)."""
        return np.asarray((points - self.center) @ self.axes.T, dtype=np.float64)

    @property
    def volume(self) -> float:
        return float(np.prod(self.size))


def box_vector(scan_id: str, path: Path, obb: Any, key: str, shape: tuple[int, ...], where: str) -> FloatArray:
    """A finite numeric field of an ``obbAligned`` record."""
    what = f"{where} {key}"
    return finite(scan_id, path, numbers(scan_id, path, field(scan_id, path, obb, key, where), shape, what), what)


def read_annotation(scan_id: str, path: Path) -> list[tuple[str, str, OrientedBoxAnnotation]]:
    """(label, uid, box) of every annotated object, in file order."""
    data = read_json_object(scan_id, path)
    entries = field(scan_id, path, data, "data")
    if not isinstance(entries, list):
        raise CorruptFileError(scan_id, path, "'data' is not a list")
    if not entries:
        raise InconsistentScanError(scan_id, path, "no annotated object: 'data' is empty")
    out = []
    for k, entry in enumerate(entries):
        where = f"data[{k}]"
        label = str(field(scan_id, path, entry, "label", where))
        obb = field(scan_id, path, field(scan_id, path, entry, "segments", where), "obbAligned", where)

        center, size, axes = (
            box_vector(scan_id, path, obb, key, shape, f"{where} ({label})")
            for key, shape in (("centroid", (3,)), ("axesLengths", (3,)), ("normalizedAxes", (3, 3)))
        )
        if (size <= 0).any():
            raise InconsistentScanError(scan_id, path, f"{where} ({label}) axesLengths are not all positive")
        rotation(scan_id, path, axes, f"{where} ({label}) normalizedAxes")
        out.append((label, str(entry.get("uid", k)), OrientedBoxAnnotation(center, size, axes)))
    return out


def face_normals(vertices: Points3, faces: IntArray) -> tuple[FloatArray, FloatArray]:
    """(F, 3) unit normals (zero for degenerate triangles) and (F,) areas."""
    tri = vertices[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(cross, axis=1)
    normals = np.divide(cross, norm[:, None], out=np.zeros_like(cross), where=norm[:, None] > 0)
    return normals, norm / 2


def floor_faces(mesh: TriangleMesh, tolerance: float, bin_size: float = 0.02) -> BoolArray:
    """(F,) True for the upward-facing triangles (normal within ~18 degrees of +z) within ``tolerance`` of the
    floor height: the height bin holding the most upward-facing area."""
    normals, areas = face_normals(mesh.vertices, mesh.faces)
    up = normals[:, 2] > 0.95
    if not up.any():
        return np.zeros(len(mesh.faces), dtype=bool)
    heights = mesh.vertices[mesh.faces].mean(axis=1)[:, 2]
    bins = np.floor(heights[up] / bin_size).astype(np.int64)
    lowest = bins.min()
    per_bin = np.bincount(bins - lowest, weights=areas[up])
    floor_z = (int(np.argmax(per_bin)) + lowest + 0.5) * bin_size
    return np.asarray(up & (np.abs(heights - floor_z) <= tolerance + bin_size / 2), dtype=bool)


def box_faces(mesh: TriangleMesh, boxes: list[OrientedBoxAnnotation], taken: BoolArray, eps: float = 1e-3) -> IntArray:
    """(F,) index of the box each triangle belongs to, -1 for none (see the module docstring). ``taken``
    triangles (the floor) belong to no box."""
    centroids = mesh.vertices[mesh.faces].mean(axis=1)
    normals, _ = face_normals(mesh.vertices, mesh.faces)
    owner = np.full(len(mesh.faces), -1, dtype=np.int64)
    owner_volume = np.full(len(mesh.faces), np.inf)
    for i, box in enumerate(boxes):
        half = box.size / 2
        local = box.local(centroids)
        inside = (np.abs(local) <= half + eps).all(axis=1) & ~taken
        # on a face of the box (within eps of its plane) and facing into the box: another surface's
        n_local = normals @ box.axes.T
        on_face = np.abs(np.abs(local) - half) <= eps
        inward = (np.sign(local) * n_local < -0.5) & on_face
        inside &= ~inward.any(axis=1)
        better = inside & (box.volume < owner_volume)
        owner[better] = i
        owner_volume[better] = box.volume
    return owner


def surface_of(mesh: TriangleMesh, faces: IntArray, spacing: float) -> tuple[IntArray, ObjectSurface]:
    """The mesh vertices and the surface (those whole triangles) of a set of triangles."""
    vertex_ids = np.unique(faces)
    remap = np.full(len(mesh.vertices), -1, dtype=np.int64)
    remap[vertex_ids] = np.arange(len(vertex_ids))
    return vertex_ids, ObjectSurface(mesh.vertices[vertex_ids], remap[faces], spacing=spacing)


def build_box_objects(
    scan_id: str,
    path: Path,
    mesh: TriangleMesh,
    annotated: list[tuple[str, str, OrientedBoxAnnotation]],
    floor_tolerance: float,
    spacing: float,
) -> list[ScanObject]:
    """Objects from boxes plus the floor (object id = number of boxes)."""
    floor = floor_faces(mesh, floor_tolerance)
    owner = box_faces(mesh, [box for _, _, box in annotated], floor)
    objects = []
    for i, (label, _uid, box) in enumerate(annotated):
        faces = mesh.faces[owner == i]
        if len(faces) == 0:
            raise InconsistentScanError(scan_id, path, f"object {i} ({label}) holds no mesh triangles in its box")
        name = normalise_label(label)
        category = CATEGORIES.get(name, name.replace("_", " "))
        info = ObjectInfo(
            object_id=i, label=label, category=category, nyu40_id=0, nyu40_class="", in_label_table=name in CATEGORIES
        )
        vertex_ids, surface = surface_of(mesh, faces, spacing)
        objects.append(ScanObject(info=info, vertex_ids=vertex_ids, points=box.corners(), surface=surface))
    if floor.any():
        info = ObjectInfo(object_id=len(annotated), label="floor", category="floor", nyu40_id=2, nyu40_class="floor")
        vertex_ids, surface = surface_of(mesh, mesh.faces[floor], spacing)
        objects.append(ScanObject(info=info, vertex_ids=vertex_ids, points=mesh.vertices[vertex_ids], surface=surface))
    return objects
