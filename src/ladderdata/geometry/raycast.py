"""The one place ladder talks to open3d's ``RaycastingScene`` (BVH ray casting and closest points)."""

import os
from typing import Any, NamedTuple

import numpy as np
import open3d as o3d
from numpy.typing import NDArray

from ladderdata.typed import Faces, FloatArray, Points3

#: open3d's ``primitive_ids`` value for a ray that hits nothing.
NO_HIT = np.iinfo(np.uint32).max


def query_threads() -> int:
    """Threads of a ray cast or distance query: the first value of ``OMP_NUM_THREADS``, which sets a worker
    process's threads (``ladderdata.executor.base.WORKER_THREADS_ENV``) but which open3d's ray-casting pool does
    not read; 0 (every core) when it is unset or not a number. On one thread a ray cast costs about 10% less CPU
    time than on two (docs/performance.md#scale)."""
    first = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(first) if first.isdigit() else 0


def _tensor(array: NDArray[Any]) -> o3d.core.Tensor:
    return o3d.core.Tensor.from_numpy(np.ascontiguousarray(array))


class Hits(NamedTuple):
    """First hits of a grid of rays."""

    t_hit: NDArray[np.float32]
    """(...) hit range along each ray (inf on a miss)."""
    triangle: NDArray[np.int32]
    """(...) index of the triangle hit (-1 on a miss)."""
    uv: NDArray[np.float32]
    """(..., 2) barycentric weights of the triangle's 2nd and 3rd vertices at the hit (the 1st gets 1 - u - v)."""


class TriangleScene:
    """A triangle mesh prepared for ray casting and distance queries (the BVH is built on first use)."""

    def __init__(self, vertices: Points3, faces: Faces) -> None:
        if len(faces) > NO_HIT // 2:
            raise ValueError(f"{len(faces):,} triangles: ray casting takes at most {NO_HIT // 2:,}")
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(_tensor(vertices.astype(np.float32)), _tensor(faces.astype(np.uint32)))

    def build(self) -> None:
        """Build the BVH now (open3d builds it lazily on the first query: seconds for millions of triangles)."""
        self.cast(np.array([[0, 0, 0, 0, 0, 1]], dtype=np.float32))

    def cast(self, rays: NDArray[np.float32]) -> Hits:
        """Cast (..., 6) rays (origin, direction)."""
        hit = self._scene.cast_rays(_tensor(rays), nthreads=query_threads())
        # open3d's uint32 ids read in place as int32: NO_HIT is -1, and triangle indices are below 2**31 (__init__)
        prim = hit["primitive_ids"].numpy().view(np.int32)
        return Hits(hit["t_hit"].numpy(), prim, hit["primitive_uvs"].numpy())

    def distance(self, points: Points3) -> FloatArray:
        """(N,) exact unsigned distance from (N, 3) points to the nearest triangle."""
        return np.asarray(
            self._scene.compute_distance(_tensor(points.astype(np.float32)), nthreads=query_threads()).numpy(),
            dtype=np.float64,
        )
