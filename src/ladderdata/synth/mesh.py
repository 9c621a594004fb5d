"""The triangle mesh of a synthetic scene: every box face and structural panel gridded into triangles, one
segment per gridded face, coloured per object (a little shade per face)."""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ladderdata.sources.ply import TriangleMesh
from ladderdata.synth.scene import SceneObject, SyntheticScene
from ladderdata.synth.shapes import Cuboid
from ladderdata.typed import FloatArray

#: Grid edges (metres) of the demo meshes: furniture faces, walls/floor/ceiling. Coarse on purpose (fast).
DEMO_EDGE, DEMO_STRUCTURAL_EDGE = 0.25, 0.5


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
    """A scene's mesh and the planar faces it grids: segment ``k`` of the mesh is exactly face ``k``."""

    mesh: TriangleMesh
    segments: np.ndarray
    """(V,) segment id per vertex."""
    object_segments: dict[int, list[int]]
    face_object: np.ndarray
    """(F,) object id per triangle."""
    faces: FloatArray
    """(S, 4, 3) corners of each segment's planar convex face in order around it (world, metres; a triangle
    repeats its last corner); (c1 - c0) x (c3 - c0) is its normal."""
    face_colors: NDArray[np.uint8]
    """(S, 3) RGB colour of each segment's face."""
    solid: NDArray[np.bool_]
    """(S,) the face bounds a solid box and its normal points out of it (never seen from behind)."""

    @classmethod
    def of_triangles(cls, mesh: TriangleMesh) -> "SceneMesh":
        """Any triangle mesh as one segment of one object whose faces are its triangles (each coloured as its first
        vertex), to render scenes not built by :func:`build_mesh`."""
        triangles = mesh.vertices[mesh.faces]
        segments = np.zeros(len(mesh.vertices), dtype=np.int64)
        return cls(
            mesh,
            segments,
            {0: [0]},
            np.zeros(len(mesh.faces), dtype=np.int64),
            np.concatenate([triangles, triangles[:, 2:]], axis=1),
            mesh.colors[mesh.faces[:, 0]],
            np.zeros(len(mesh.faces), dtype=bool),
        )


def build_mesh(
    scene: SyntheticScene,
    rng: np.random.Generator,
    max_edge: float = DEMO_EDGE,
    structural_edge: float = DEMO_STRUCTURAL_EDGE,
) -> SceneMesh:
    """Triangulate the scene: furniture faces gridded at ``max_edge``, walls/floor/ceiling at ``structural_edge``;
    every gridded face is one segment."""
    verts, faces, colors, segs, face_obj, planar, solid = [], [], [], [], [], [], []
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
            colors.append(np.clip(np.array(obj.color) + shade, 0, 255).astype(np.uint8))
            planar.append((origin, origin + u, origin + u + v, origin + v))
            solid.append(not obj.structural)
            segs.append(np.full(len(vq), seg_id))
            face_obj.append(np.full(len(fq), obj.object_id))
            object_segments[obj.object_id].append(seg_id)
            n_verts += len(vq)
            seg_id += 1
    segments = np.concatenate(segs)
    face_colors = np.array(colors, dtype=np.uint8)
    mesh = TriangleMesh(np.concatenate(verts), np.concatenate(faces).astype(np.int64), face_colors[segments])
    return SceneMesh(
        mesh,
        segments,
        object_segments,
        np.concatenate(face_obj),
        np.array(planar, dtype=np.float64).reshape(-1, 4, 3),
        face_colors,
        np.array(solid, dtype=bool),
    )
