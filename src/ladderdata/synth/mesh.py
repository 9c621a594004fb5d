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


def _grid_quads(
    origins: FloatArray, us: FloatArray, vs: FloatArray, max_edges: FloatArray
) -> tuple[FloatArray, NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Grid each of Q quads (``origins``, edges ``us`` and ``vs``, each (Q, 3)) into cells of at most its
    ``max_edges`` (Q,) a side, two triangles each: the vertices (V, 3) and triangles (F, 3, global vertex indices)
    of all, quad after quad, and each quad's vertex and triangle counts (Q,).

    Quad by quad: vertex (i, j) of an nu x nv grid is ``origin + a_i u + b_j v`` at ``a_i = i / nu`` (as
    ``np.linspace(0, 1, nu + 1)`` spaces them), numbered i (nv + 1) + j; triangles (q0, q1, q2) of every cell
    (i, j), row-major, then (q0, q2, q3), q0..q3 its corners (i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)."""
    nu = np.array([max(1, int(np.ceil(np.linalg.norm(u) / e))) for u, e in zip(us, max_edges, strict=True)])
    nv = np.array([max(1, int(np.ceil(np.linalg.norm(v) / e))) for v, e in zip(vs, max_edges, strict=True)])
    vertex_counts, cell_counts = (nu + 1) * (nv + 1), nu * nv
    quad = np.repeat(np.arange(len(nu)), vertex_counts)
    local = np.arange(vertex_counts.sum()) - np.repeat(np.cumsum(vertex_counts) - vertex_counts, vertex_counts)
    i, j = local // (nv + 1)[quad], local % (nv + 1)[quad]
    a = np.where(i == nu[quad], 1.0, i * (1.0 / nu)[quad])
    b = np.where(j == nv[quad], 1.0, j * (1.0 / nv)[quad])
    verts = origins[quad] + a[:, None] * us[quad] + b[:, None] * vs[quad]
    cell_quad = np.repeat(np.arange(len(nu)), cell_counts)
    cell = np.arange(cell_counts.sum()) - np.repeat(np.cumsum(cell_counts) - cell_counts, cell_counts)
    row = (nv + 1)[cell_quad]
    q0 = (cell // nv[cell_quad]) * row + cell % nv[cell_quad] + (np.cumsum(vertex_counts) - vertex_counts)[cell_quad]
    q1, q3 = q0 + row, q0 + 1
    q2 = q1 + 1
    # per quad: its cells' first triangles, then their second ones
    first_half = np.stack([q0, q1, q2], 1)
    second_half = np.stack([q0, q2, q3], 1)
    order = np.argsort(np.concatenate([2 * cell_quad, 2 * cell_quad + 1]), kind="stable")
    faces = np.concatenate([first_half, second_half])[order]
    return verts, faces.astype(np.int64), vertex_counts, 2 * cell_counts


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
    quads: list[tuple[FloatArray, FloatArray, FloatArray]] = []
    edges, colors, quad_obj, solid = [], [], [], []
    object_segments: dict[int, list[int]] = {}
    for obj in scene.objects:
        object_quads = obj.panels if obj.structural else _cuboid_quads_of(obj)
        object_segments[obj.object_id] = list(range(len(quads), len(quads) + len(object_quads)))
        for quad in object_quads:
            quads.append(quad)
            edges.append(structural_edge if obj.structural else max_edge)
            shade = rng.integers(-8, 9)
            colors.append(np.clip(np.array(obj.color) + shade, 0, 255).astype(np.uint8))
            quad_obj.append(obj.object_id)
            solid.append(not obj.structural)
    origins, us, vs = (np.array([q[k] for q in quads], dtype=np.float64) for k in range(3))
    verts, faces, vertex_counts, face_counts = _grid_quads(origins, us, vs, np.array(edges))
    segments = np.repeat(np.arange(len(quads)), vertex_counts)
    face_colors = np.array(colors, dtype=np.uint8)
    return SceneMesh(
        TriangleMesh(verts, faces, face_colors[segments]),
        segments,
        object_segments,
        np.repeat(np.array(quad_obj), face_counts),
        np.stack([origins, origins + us, origins + us + vs, origins + vs], axis=1),
        face_colors,
        np.array(solid, dtype=bool),
    )
