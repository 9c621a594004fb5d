"""Measure every object in a view: visibility with occlusion, in-frustum fraction, pixel area, 2D box, depth.

Visibility definition (docs/metadata.md): each object carries a fixed set of area-weighted surface samples.
A sample is *visible* in a view when it lies in front of the camera, projects onto the image, and the
rendered surface at its pixel is either the object itself or no nearer than the sample minus a tolerance
(``depth_tolerance + 1%`` of the depth). Only other objects occlude: an unoccluded object that is fully in
frame has visibility 1, although its back faces face away from the camera.
"""

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from ladderdata.geometry.camera import CameraIntrinsics, pixel_rays, ray_z_factor
from ladderdata.geometry.raycast import TriangleScene
from ladderdata.metadata.config import MetadataConfig, ObjectInView
from ladderdata.sources.base import Scan
from ladderdata.typed import DepthMM, FloatArray, ImageRGB, IntArray, Matrix4, Points3


@dataclass
class Timings:
    """Accumulated wall time per stage, seconds."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start


#: ``ViewMeasurer.face_owner`` of a triangle whose corners belong to different objects (resolved per hit).
MIXED = -2


#: Metres added to each object's bounding-sphere radius, far above the rounding of the camera transform, so that
#: culling by sphere never drops an object with a sample in the image.
SPHERE_SLACK = 1e-6


@dataclass(frozen=True)
class ObjectSamples:
    """Samples of every object of a scan, concatenated in object order (each object's samples are one run)."""

    points: Points3
    """(S, 3) world positions."""
    owner: IntArray
    """(S,) index of the owning object in ``Scan.objects`` (non-decreasing)."""
    is_area: NDArray[np.bool_]
    """(S,) True for area-weighted samples (they count towards fractions); False for convex-hull vertices,
    which only sharpen 2D boxes."""
    area_count: IntArray
    """(n_objects,) number of area samples per object."""
    starts: IntArray
    """(n_objects + 1,) where each object's samples begin, and their total."""
    points_t: FloatArray
    """(3, S) ``points`` transposed, contiguous: one row per axis."""
    centres: Points3
    """(n_objects, 3) centre of a sphere holding each object's samples."""
    radii: FloatArray
    """(n_objects,) its radius, plus :data:`SPHERE_SLACK`."""


def object_samples(scan: Scan, per_object: int, spacing: float) -> ObjectSamples:
    """Systematic area-weighted samples (equal area each) plus hull vertices for every object."""
    points, is_area, counts, sizes = [np.zeros((0, 3))], [np.zeros(0, bool)], [], []
    centres, radii = np.zeros((len(scan.objects), 3)), np.zeros(len(scan.objects))
    for i, obj in enumerate(scan.objects):
        surface = obj.surface
        cum = np.cumsum(surface.sample_weights)
        total = float(cum[-1]) if len(cum) else 0.0
        m = int(min(per_object, max(16, np.ceil(total / spacing**2))))
        picks = np.searchsorted(cum, (np.arange(m) + 0.5) / m * total)
        area_pts = surface.sample_points(np.minimum(picks, len(cum) - 1))
        try:
            hull = obj.surface.vertices[ConvexHull(obj.surface.vertices, qhull_options="QJ").vertices]
        except (QhullError, ValueError):
            hull = obj.surface.vertices
        points += [area_pts, hull]
        is_area += [np.ones(m, bool), np.zeros(len(hull), bool)]
        counts.append(m)
        sizes.append(m + len(hull))
        both = np.concatenate([area_pts, hull])
        centres[i] = (both.min(axis=0) + both.max(axis=0)) / 2
        radii[i] = np.linalg.norm(both - centres[i], axis=1).max() + SPHERE_SLACK
    all_points = np.concatenate(points)
    return ObjectSamples(
        points=all_points,
        owner=np.repeat(np.arange(len(sizes)), sizes),
        is_area=np.concatenate(is_area),
        area_count=np.array(counts, dtype=np.int64),
        starts=np.cumsum([0, *sizes]),
        points_t=np.ascontiguousarray(all_points.T),
        centres=centres,
        radii=radii,
    )


def edge_normals(K: CameraIntrinsics) -> NDArray[np.float64]:
    """(4, 3) inward unit normals, camera frame, of the planes through the camera centre and the outer edges of
    the image's border pixels (u = -0.5, u = width - 0.5, v = -0.5, v = height - 0.5)."""
    edges: NDArray[np.float64] = np.array(
        [
            [K.fx, 0.0, K.cx + 0.5],
            [-K.fx, 0.0, K.width - 0.5 - K.cx],
            [0.0, K.fy, K.cy + 0.5],
            [0.0, -K.fy, K.height - 0.5 - K.cy],
        ]
    )
    normals: NDArray[np.float64] = edges / np.linalg.norm(edges, axis=1, keepdims=True)
    return normals


@dataclass(frozen=True)
class RenderedView:
    depth: NDArray[np.float32]
    """(h, w) optical-axis depth, metres; inf where nothing is hit."""
    instance: IntArray
    """(h, w) index into ``Scan.objects`` of the surface seen, -1 for none (unannotated mesh or miss)."""
    intrinsics: CameraIntrinsics
    """The camera the view was rendered with (the view's colour camera at the render resolution)."""


class ViewMeasurer:
    """Everything per scan that views share: the ray-casting scene, triangle owners, object samples. ``image`` is
    the scan's colour camera; a view whose frame has its own camera (of the same size) is measured with it."""

    def __init__(self, scan: Scan, config: MetadataConfig, image: CameraIntrinsics) -> None:
        self.scan = scan
        self.config = config
        self.image = image
        self.render_k = self.render_camera(image)
        self.scene = TriangleScene(scan.mesh.vertices, scan.mesh.faces)
        self.scene.build()
        # a hit point belongs to the object of the triangle's vertex with the largest barycentric weight, the
        # rule that splits border triangles between objects (geometry.measure.vertex_region)
        vertex_owner = np.full(len(scan.mesh.vertices), -1, dtype=np.int64)
        for i, obj in enumerate(scan.objects):
            vertex_owner[obj.vertex_ids] = i
        corner_owner = vertex_owner[scan.mesh.faces]
        uniform = (corner_owner == corner_owner[:, :1]).all(axis=1)
        self.corner_owner = np.vstack([corner_owner, [[-1, -1, -1]]])  # last row: ray missed
        self.face_owner = np.append(np.where(uniform, corner_owner[:, 0], MIXED), -1)
        self.samples = object_samples(scan, config.samples_per_object, config.sample_spacing)

    def render_camera(self, image: CameraIntrinsics) -> CameraIntrinsics:
        """The colour camera ``image`` sampled ``render_width`` pixels across (the resolution views are cast at)."""
        height = max(1, round(self.config.render_width * image.height / image.width))
        return image.scaled_to(self.config.render_width, height)

    def render(self, pose: Matrix4, image: CameraIntrinsics | None = None) -> RenderedView:
        """Depth and object seen at every render pixel of the view from ``pose`` through colour camera ``image``
        (default: the scan's)."""
        render_k = self.render_k if image is None else self.render_camera(image)
        hits = self.scene.cast(pixel_rays(render_k, pose))
        owner = self.face_owner[hits.triangle]
        mixed = owner == MIXED
        if mixed.any():
            u, v = hits.uv[mixed, 0], hits.uv[mixed, 1]
            corner = np.argmax(np.stack([1.0 - u - v, u, v], axis=1), axis=1)
            owner[mixed] = self.corner_owner[hits.triangle[mixed], corner]
        return RenderedView(hits.t_hit * ray_z_factor(render_k), owner, render_k)

    def measure(
        self, pose: Matrix4, timings: Timings, image: CameraIntrinsics | None = None
    ) -> tuple[list[ObjectInView], RenderedView]:
        """Every visible object of the view from ``pose`` through colour camera ``image`` (default: the scan's)."""
        image = self.image if image is None else image
        with timings.stage("raycast"):
            view = self.render(pose, image)
        with timings.stage("objects"):
            objects = self._object_stats(pose, view, image)
        return objects, view

    def in_view_objects(self, pose: Matrix4, K: CameraIntrinsics) -> IntArray:
        """Indices of the objects whose bounding sphere reaches in front of the near plane and inside the four
        planes through the camera centre and the image edges of the render camera ``K``: no sample of the others
        can project onto the image, so they are never looked at."""
        R, t = pose[:3, :3], pose[:3, 3]
        centres = (self.samples.centres - t) @ R
        radii = self.samples.radii
        inside_edges = (centres @ edge_normals(K).T > -radii[:, None]).all(1)
        return np.flatnonzero((centres[:, 2] + radii > self.config.near) & inside_edges)

    def _object_stats(self, pose: Matrix4, view: RenderedView, image: CameraIntrinsics) -> list[ObjectInView]:
        cfg, K, S, n = self.config, view.intrinsics, self.samples, len(self.scan.objects)
        in_view = self.in_view_objects(pose, K)
        if in_view.size == 0:
            return []
        if in_view.size == n:
            points, owner, is_area = S.points_t, S.owner, S.is_area
        else:  # the samples of the objects in view, in object order (one run each)
            runs = [slice(S.starts[i], S.starts[i + 1]) for i in in_view]
            points = np.concatenate([S.points_t[:, r] for r in runs], axis=1)
            owner, is_area = (np.concatenate([a[r] for r in runs]) for a in (S.owner, S.is_area))
        pc, u, v, in_image, pixel = _project(points, pose, K, cfg.near)
        z = pc[2]
        # gathers by flat index and index arrays: several times faster than 2D or boolean-mask indexing
        seen_depth = view.depth.ravel().take(pixel)
        seen_owner = view.instance.ravel().take(pixel)
        seen = in_image & ((seen_owner == owner) | (z <= seen_depth + cfg.depth_tolerance + 0.01 * z))
        visible = np.flatnonzero(seen)
        seen &= is_area
        area_visible = np.flatnonzero(seen)
        aown = owner.take(area_visible)
        vis_count = np.bincount(aown, minlength=n)
        listed = np.flatnonzero(vis_count > 0)
        if listed.size == 0:
            return []
        in_image &= is_area
        frustum_count = np.bincount(owner.take(np.flatnonzero(in_image)), minlength=n)
        labels = view.instance + 1
        pixel_count = np.bincount(labels.ravel(), minlength=n + 1)[1:]
        mask_boxes = ndimage.find_objects(labels, max_label=n)

        # visible samples (area and hull) in colour-image pixel-edge coordinates; samples are grouped by object,
        # so each object's visible samples are one run
        scale = image.width / K.width
        visible_owner = owner.take(visible)
        lo_u, hi_u = _extent_per_owner((u.take(visible) + 0.5) * scale, visible_owner, n)
        lo_v, hi_v = _extent_per_owner((v.take(visible) + 0.5) * scale, visible_owner, n)

        az = z.take(area_visible)
        starts = np.searchsorted(aown, listed, side="left")
        centroid_sum = np.stack([np.bincount(aown, weights=c.take(area_visible), minlength=n) for c in pc], axis=1)

        width, height = float(image.width), float(image.height)
        out = []
        for j, i in enumerate(listed):
            x1, y1, x2, y2 = lo_u[i], lo_v[i], hi_u[i], hi_v[i]
            box = mask_boxes[i]
            if box is not None:  # pixel centres of the rendered mask lie inside the visible silhouette
                rows, cols = box
                x1, x2 = min(x1, (cols.start + 0.5) * scale), max(x2, (cols.stop - 0.5) * scale)
                y1, y2 = min(y1, (rows.start + 0.5) * scale), max(y2, (rows.stop - 0.5) * scale)
                # seen in the outermost pixel row/column: the visible part runs on to the image border
                x1 = 0.0 if cols.start == 0 else x1
                y1 = 0.0 if rows.start == 0 else y1
                x2 = width if cols.stop == K.width else x2
                y2 = height if rows.stop == K.height else y2
            k, first = int(vis_count[i]), int(starts[j])
            depths = az[first : first + k]
            obj = self.scan.objects[i].info
            # built from values of the fields' own types, so validating them again would change nothing
            out.append(
                ObjectInView.model_construct(
                    object_id=obj.object_id,
                    label=obj.label,
                    category=obj.category,
                    visibility=k / int(S.area_count[i]),
                    in_frustum=int(frustum_count[i]) / int(S.area_count[i]),
                    pixel_fraction=int(pixel_count[i]) / (K.width * K.height),
                    bbox_2d=[
                        float(min(max(x1, 0.0), width)),
                        float(min(max(y1, 0.0), height)),
                        float(min(max(x2, 0.0), width)),
                        float(min(max(y2, 0.0), height)),
                    ],
                    depth_min=float(depths.min()),
                    depth_median=float(np.partition(depths, (k - 1) // 2)[(k - 1) // 2]),
                    centroid_cam=(centroid_sum[i] / k).tolist(),
                )
            )
        return out


def sharpness(image: ImageRGB) -> float:
    """Variance of the Laplacian of the grey image: low for blurry frames."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def depth_agreement(
    sensor: DepthMM,
    depth_k: CameraIntrinsics,
    view: RenderedView,
    depth_shift: float = 1000.0,
    step: int = 4,
) -> float | None:
    """Fraction of valid sensor-depth pixels (every ``step``-th) within 5 cm + 2% of the rendered depth.

    Sensor and colour cameras share the pose (ScanNet registers them); each sensor pixel is back-projected
    with the depth intrinsics and looked up in the rendered view (through the camera it was rendered with). None
    when no pixel can be compared.
    """
    grid = sensor[::step, ::step]  # every step-th pixel, row-major: a view, not a gather
    d = grid.astype(np.float64).ravel() / depth_shift
    ok = np.flatnonzero(d > 0)
    if ok.size == 0:
        return None
    x_per_z, y_per_z = normalised_grid(depth_k, grid.shape, step)
    z = d.take(ok)
    # backproject()'s arithmetic on the kept pixels, then the rendered camera's projection of those points
    x, y = x_per_z.take(ok) * z, y_per_z.take(ok) * z
    render_k = view.intrinsics
    u = np.rint(render_k.fx * x / z + render_k.cx)
    v = np.rint(render_k.fy * y / z + render_k.cy)
    inside = np.flatnonzero((u >= 0) & (u < render_k.width) & (v >= 0) & (v < render_k.height))
    if inside.size == 0:
        return None
    v *= render_k.width
    v += u
    rendered = view.depth.ravel().take(v.take(inside).astype(np.int64))
    z = z.take(inside)
    return float(np.mean(np.abs(rendered - z) < 0.05 + 0.02 * z))


@lru_cache(maxsize=16)
def normalised_grid(depth_k: CameraIntrinsics, shape: tuple[int, int], step: int) -> tuple[FloatArray, FloatArray]:
    """(h * w,) ``(column - cx) / fx`` and ``(row - cy) / fy`` of every ``step``-th pixel of a depth image, the
    (h, w) grid ``shape`` row-major (cached per camera; read-only)."""
    rows, cols = np.indices(shape, dtype=np.float64)
    x = (cols.ravel() * step - depth_k.cx) / depth_k.fx
    y = (rows.ravel() * step - depth_k.cy) / depth_k.fy
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _project(
    points: np.ndarray, pose: Matrix4, K: CameraIntrinsics, near: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Samples ``points`` ``(3, N)`` (world, one row per axis) in the camera of ``pose``: their ``(3, N)`` camera
    coordinates, ``(N,)`` pixel coordinates u and v, whether each lands in the image in front of ``near``, and the
    flat index of its nearest pixel (clamped to the image)."""
    R, t = pose[:3, :3], pose[:3, 3]
    # (3, N) camera frame, one contiguous row per axis (the same products and sums as (points - t) @ R)
    pc = R.T @ (points - t[:, None])
    x, y, z = pc
    front = z > near
    zs = np.where(front, z, 1.0)
    u = K.fx * x / zs + K.cx
    v = K.fy * y / zs + K.cy
    in_image = front & (u >= -0.5) & (u < K.width - 0.5) & (v >= -0.5) & (v < K.height - 0.5)
    # the nearest pixel, clamped to the image; whole numbers are exact in float64
    col = np.rint(u)
    np.clip(col, 0, K.width - 1, out=col)
    row = np.rint(v)
    np.clip(row, 0, K.height - 1, out=row)
    row *= K.width
    row += col
    return pc, u, v, in_image, row.astype(np.int64)


def _extent_per_owner(values: np.ndarray, owners: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(n,)`` minimum and maximum of ``values`` per owner (inf / -inf for owners without one); ``owners`` come
    in runs, one per owner (samples are grouped by object)."""
    firsts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    lo, hi = np.full(n, np.inf), np.full(n, -np.inf)
    lo[owners[firsts]], hi[owners[firsts]] = np.minimum.reduceat(values, firsts), np.maximum.reduceat(values, firsts)
    return lo, hi
