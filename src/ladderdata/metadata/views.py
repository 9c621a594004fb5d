"""Measure every object in a view: visibility with occlusion, in-frustum fraction, pixel area, 2D box, depth.

Visibility definition (docs/metadata.md): each object carries a fixed set of area-weighted surface samples.
A sample is *visible* in a view when it lies in front of the camera, projects onto the image, and the
rendered surface at its pixel is either the object itself or no nearer than the sample minus a tolerance
(``depth_tolerance + 1%`` of the depth). Only other objects occlude: an unoccluded object that is fully in
frame has visibility 1, although its back faces face away from the camera.
"""

import logging
import os
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from types import ModuleType
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.spatial import ConvexHull, QhullError

from ladderdata.geometry.camera import CameraIntrinsics, pixel_rays, ray_z_factor
from ladderdata.geometry.raycast import Hits, TriangleScene
from ladderdata.metadata.config import MetadataConfig, ObjectInView
from ladderdata.sources.base import Scan
from ladderdata.typed import DepthMM, FloatArray, ImageRGB, IntArray, Matrix4, Points3

log = logging.getLogger(__name__)


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
    """Systematic area-weighted samples (equal area each) plus hull vertices for every object.

    Each object's picks and hull are its own (a cumulative sum and a convex hull per object); the runs' bounding
    spheres are computed for all objects at once, on rows of coordinates: the same minima, maxima and
    ``norm(axis=1)`` (squares summed x, y, z in that order) as per object."""
    runs: list[Points3] = []
    counts, sizes = [], []
    for obj in scan.objects:
        surface = obj.surface
        cum = np.cumsum(surface.sample_weights)
        total = float(cum[-1]) if len(cum) else 0.0
        m = int(min(per_object, max(16, np.ceil(total / spacing**2))))
        picks = np.searchsorted(cum, (np.arange(m) + 0.5) / m * total)
        try:
            hull = surface.vertices[ConvexHull(surface.vertices, qhull_options="QJ").vertices]
        except (QhullError, ValueError):
            hull = surface.vertices
        runs += [surface.sample_points(np.minimum(picks, len(cum) - 1)), hull]
        counts.append(m)
        sizes.append(m + len(hull))
    all_points = np.concatenate([np.zeros((0, 3)), *runs])
    points_t = np.ascontiguousarray(all_points.T)
    starts = np.cumsum([0, *sizes])
    owner = np.repeat(np.arange(len(sizes)), sizes)
    area_count = np.array(counts, dtype=np.int64)
    if sizes:
        lo = np.minimum.reduceat(points_t, starts[:-1], axis=1)  # (3, n_objects)
        hi = np.maximum.reduceat(points_t, starts[:-1], axis=1)
        centres_t = (lo + hi) / 2
        offset = points_t - centres_t[:, owner]  # (3, S)
        squared = offset[0] * offset[0]
        squared += offset[1] * offset[1]
        squared += offset[2] * offset[2]
        radii = np.maximum.reduceat(np.sqrt(squared), starts[:-1]) + SPHERE_SLACK
    else:
        centres_t, radii = np.zeros((3, 0)), np.zeros(0)
    return ObjectSamples(
        points=all_points,
        owner=owner,
        is_area=np.arange(len(all_points)) - starts[owner] < area_count[owner],  # each run: m area samples first
        area_count=area_count,
        starts=starts,
        points_t=points_t,
        centres=np.ascontiguousarray(centres_t.T),
        radii=radii,
    )


@lru_cache(maxsize=16)
def edge_normals(K: CameraIntrinsics) -> NDArray[np.float64]:
    """(4, 3) inward unit normals, camera frame, of the planes through the camera centre and the outer edges of
    the image's border pixels (u = -0.5, u = width - 0.5, v = -0.5, v = height - 0.5); cached, read-only."""
    edges: NDArray[np.float64] = np.array(
        [
            [K.fx, 0.0, K.cx + 0.5],
            [-K.fx, 0.0, K.width - 0.5 - K.cx],
            [0.0, K.fy, K.cy + 0.5],
            [0.0, -K.fy, K.height - 0.5 - K.cy],
        ]
    )
    normals: NDArray[np.float64] = edges / np.linalg.norm(edges, axis=1, keepdims=True)
    normals.setflags(write=False)
    return normals


@dataclass(frozen=True)
class RenderedView:
    depth: NDArray[np.float32]
    """(h, w) optical-axis depth, metres; inf where nothing is hit."""
    instance: NDArray[np.signedinteger[Any]]
    """(h, w) index into ``Scan.objects`` of the surface seen, -1 for none (unannotated mesh or miss); the smallest
    signed integer type that holds the scan's object indices."""
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
        # the smallest integer type holding MIXED to the last object's index (int8 up to 128 objects): the owner
        # table is gathered from at every hit, a few MB where int64 would be tens (2.65M triangles)
        owner_type = np.min_scalar_type(-max(len(scan.objects), -MIXED))
        vertex_owner = np.full(len(scan.mesh.vertices), -1, dtype=owner_type)
        for i, obj in enumerate(scan.objects):
            vertex_owner[obj.vertex_ids] = i
        corner_owner = vertex_owner[scan.mesh.faces]
        uniform = (corner_owner == corner_owner[:, :1]).all(axis=1)
        self.corner_owner = np.vstack([corner_owner, np.full((1, 3), -1, owner_type)])  # last row: ray missed
        self.face_owner = np.append(np.where(uniform, corner_owner[:, 0], owner_type.type(MIXED)), owner_type.type(-1))
        self.samples = object_samples(scan, config.samples_per_object, config.sample_spacing)

    def render_camera(self, image: CameraIntrinsics) -> CameraIntrinsics:
        """The colour camera ``image`` sampled ``render_width`` pixels across (the resolution views are cast at)."""
        height = max(1, round(self.config.render_width * image.height / image.width))
        return image.scaled_to(self.config.render_width, height)

    def render(self, pose: Matrix4, image: CameraIntrinsics | None = None) -> RenderedView:
        """Depth and object seen at every render pixel of the view from ``pose`` through colour camera ``image``
        (default: the scan's)."""
        render_k = self.render_k if image is None else self.render_camera(image)
        kernels = compiled_kernels()
        if kernels is None:
            hits = self.scene.cast(pixel_rays(render_k, pose))
            depth, owner = self._hit_owners_numpy(hits, ray_z_factor(render_k))
        else:
            shape = (render_k.height, render_k.width)
            directions = _compiled_directions(kernels, render_k)
            z_factor = directions[2].reshape(shape)  # ray_z_factor's values
            hits = self.scene.cast(kernels.pixel_rays(pose, directions).reshape(*shape, 6))
            args = (hits.triangle, hits.uv, self.face_owner, self.corner_owner, MIXED)
            depth, owner = kernels.hit_owners(hits.t_hit, z_factor, *args)
        return RenderedView(depth, owner, render_k)

    def _hit_owners_numpy(
        self, hits: Hits, z_factor: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.signedinteger[Any]]]:
        """The ``(h, w)`` optical-axis depth of the ``hits`` (their range times ``z_factor``) and the object seen
        at each: the triangle's, or for a triangle on a border between objects, that of its corner with the largest
        barycentric weight (``kernels.hit_owners`` does the same in one compiled pass)."""
        owner = self.face_owner.take(hits.triangle)
        mixed = owner == MIXED
        if mixed.any():
            u, v = hits.uv[mixed, 0], hits.uv[mixed, 1]
            corner = np.argmax(np.stack([1.0 - u - v, u, v], axis=1), axis=1)
            owner[mixed] = self.corner_owner[hits.triangle[mixed], corner]
        return hits.t_hit * z_factor, owner

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

    def _sample_runs(self, in_view: IntArray) -> IntArray:
        """``(2, R)`` first and stop index into the scan's samples of each run of the samples of the objects
        ``in_view`` (sorted, not empty): the samples of neighbouring objects are one run."""
        last = np.flatnonzero(np.diff(in_view) != 1)  # the last object of each run but the final one
        runs = np.empty((2, last.size + 1), np.int64)
        runs[0, 0], runs[0, 1:] = in_view[0], in_view.take(last + 1)
        runs[1, :-1], runs[1, -1] = in_view.take(last), in_view[-1]
        runs[1] += 1
        return self.samples.starts.take(runs)

    def _samples_from_camera(self, runs: IntArray, origin: FloatArray) -> tuple[FloatArray, IntArray, IntArray]:
        """The samples in ``runs`` (:meth:`_sample_runs`), in object order: their ``(3, N)`` offsets from the
        camera centre ``origin`` (world axes), and where each run begins in the offsets with what to add to a
        position there to get the sample's index (``(R,)`` each)."""
        S = self.samples
        firsts, stops = runs
        if runs.shape[1] == 1 and firsts[0] == 0 and stops[0] == S.owner.size:  # every object in view
            return S.points_t - origin[:, None], np.zeros(1, np.int64), np.zeros(1, np.int64)
        begins = np.r_[0, np.cumsum(stops - firsts)]
        offsets = np.empty((3, int(begins[-1])))
        for first, stop, at in zip(firsts.tolist(), stops.tolist(), begins[:-1].tolist(), strict=True):
            # gathered and moved to the camera centre in one pass
            np.subtract(S.points_t[:, first:stop], origin[:, None], out=offsets[:, at : at + stop - first])
        return offsets, begins[:-1], firsts - begins[:-1]

    def _object_stats(self, pose: Matrix4, view: RenderedView, image: CameraIntrinsics) -> list[ObjectInView]:
        cfg, K = self.config, view.intrinsics
        in_view = self.in_view_objects(pose, K)
        if in_view.size == 0:
            return []
        runs = self._sample_runs(in_view)
        kernels = compiled_kernels()
        if kernels is None:
            offsets, run_begins, run_shifts = self._samples_from_camera(runs, pose[:3, 3])
            # (3, N) camera frame, one contiguous row per axis (the same products and sums as (points - t) @ R)
            pc = pose[:3, :3].T @ offsets
            found = self._listed_numpy(pc, run_begins, run_shifts, view, image)
        else:
            # kernels.FX ... POSE
            camera = [K.fx, K.fy, K.cx, K.cy, K.width, K.height, cfg.near, cfg.depth_tolerance, image.width / K.width]
            camera += [image.width, image.height, *pose[:3].ravel().tolist()]
            S, n = self.samples, len(self.scan.objects)
            args = (S.owner, S.is_area, view.depth, view.instance, np.array(camera), n)
            found = ListedObjects(*kernels.listed_objects(S.points_t, runs, *args))
        if found.index.size == 0:
            return []
        area = self.samples.area_count.take(found.index)
        return [
            # validated: the same values (each of its field's own type), in less time than model_construct
            ObjectInView(
                object_id=(info := self.scan.objects[i].info).object_id,
                label=info.label,
                category=info.category,
                visibility=k / a,
                in_frustum=f / a,
                pixel_fraction=p / (K.width * K.height),
                bbox_2d=b,
                depth_min=d,
                depth_median=m,
                centroid_cam=c,
            )
            for i, k, a, f, p, b, d, m, c in zip(
                found.index.tolist(),
                found.visible.tolist(),
                area.tolist(),
                found.in_frustum.tolist(),
                found.pixel_count.tolist(),
                found.corners.T.tolist(),
                found.depth_min.tolist(),
                found.depth_median.tolist(),
                found.centroid.tolist(),
                strict=True,
            )
        ]

    def _listed_numpy(
        self, pc: FloatArray, run_begins: IntArray, run_shifts: IntArray, view: RenderedView, image: CameraIntrinsics
    ) -> "ListedObjects":
        """The objects of a view with a visible area sample and their figures, from the samples at ``pc`` ``(3, N)``
        (camera frame) in runs beginning at ``run_begins`` ``(R,)``, whose index into the scan's samples is their
        position plus ``run_shifts`` ``(R,)`` (``kernels.listed_objects`` does the same in one compiled pass)."""
        cfg, K, n = self.config, view.intrinsics, len(self.scan.objects)
        inside, uv = _in_image(pc, K, cfg.near)  # from here on, only the samples that land in the image
        per_run = np.diff(np.r_[np.searchsorted(inside, run_begins), inside.size])
        sample = inside + np.repeat(run_shifts, per_run)  # index into the scan's samples
        z, owner, is_area = pc[2].take(inside), self.samples.owner.take(sample), self.samples.is_area.take(sample)
        pixel = _nearest_pixel(uv, K)
        # gathers by flat index and index arrays: several times faster than 2D or boolean-mask indexing
        seen_depth = view.depth.ravel().take(pixel)
        seen = view.instance.ravel().take(pixel) == owner
        seen |= z <= seen_depth + cfg.depth_tolerance + 0.01 * z
        visible = np.flatnonzero(seen)
        seen &= is_area
        area_visible = np.flatnonzero(seen)
        aown = owner.take(area_visible)
        vis_count = np.bincount(aown, minlength=n)
        listed = np.flatnonzero(vis_count > 0)
        if listed.size == 0:
            return ListedObjects.none()
        frustum_count = np.bincount(owner.compress(is_area), minlength=n)

        # visible samples (area and hull) in colour-image pixel-edge coordinates; samples are grouped by object,
        # so each object's visible samples are one run
        scale = image.width / K.width
        visible_owner = owner.take(visible)
        edges = uv.take(visible, axis=1)
        edges += 0.5
        edges *= scale
        lo, hi = _extent_per_owner(edges, visible_owner, n)
        box = _boxes(view.instance, n, scale, image, listed, np.vstack([lo, hi])[:, listed])

        az = z.take(area_visible)
        starts = np.searchsorted(aown, listed, side="left")
        visible_xy = pc[:2].take(inside.take(area_visible), axis=1)
        centroid_sum = np.stack([np.bincount(aown, weights=c, minlength=n) for c in (*visible_xy, az)], axis=1)
        count = vis_count.take(listed)
        median = [np.partition(az[s : s + k], (k - 1) // 2)[(k - 1) // 2] for s, k in zip(starts, count, strict=True)]
        return ListedObjects(
            index=listed,
            visible=count,
            in_frustum=frustum_count.take(listed),
            pixel_count=box.pixel_count.take(listed),
            corners=box.corners,
            depth_min=np.minimum.reduceat(az, starts),
            depth_median=np.array(median),
            centroid=centroid_sum.take(listed, axis=0) / count[:, None],
        )


@dataclass(frozen=True)
class ListedObjects:
    """The objects a view lists (those with a visible area sample), in object order, and their figures."""

    index: IntArray
    """(L,) index into ``Scan.objects``."""
    visible: IntArray
    """(L,) visible area samples."""
    in_frustum: IntArray
    """(L,) area samples that project onto the image."""
    pixel_count: IntArray
    """(L,) rendered pixels showing the object."""
    corners: FloatArray
    """(4, L) x1, y1, x2, y2 of the 2D box, colour-image pixels."""
    depth_min: FloatArray
    """(L,) depth of the nearest visible area sample."""
    depth_median: FloatArray
    """(L,) median depth of the visible area samples (the lower middle one of an even count)."""
    centroid: FloatArray
    """(L, 3) mean camera-frame position of the visible area samples."""

    @staticmethod
    def none() -> "ListedObjects":
        nothing = np.zeros(0, np.int64)
        return ListedObjects(
            nothing, nothing, nothing, nothing, np.zeros((4, 0)), np.zeros(0), np.zeros(0), np.zeros((0, 3))
        )


#: Set (to anything but empty) to measure views with the numpy code where numba is installed.
NO_JIT_ENV = "LADDER_NO_JIT"


def compiled_kernels() -> ModuleType | None:
    """``ladderdata.metadata.kernels``, the compiled passes, when numba is installed (the ``fast`` extra),
    :data:`NO_JIT_ENV` is not set and they round the rotations as this machine's numpy does
    (``kernels.reproduces_matrix_product``); None otherwise: the numpy code, which gives the same bits. Loaded on
    the first view measured (or by a worker pool's fork server), never at start-up."""
    return None if os.environ.get(NO_JIT_ENV) else _loaded_kernels()


@lru_cache(maxsize=1)
def _loaded_kernels() -> ModuleType | None:
    try:
        from ladderdata.metadata import kernels
    except ImportError:
        return None
    except RuntimeError as e:  # numba finds no writable folder for its cache
        log.warning("measuring views with the numpy code: %s (NUMBA_CACHE_DIR names a writable folder)", e)
        return None
    if not kernels.reproduces_matrix_product():
        log.warning(
            "measuring views with the numpy code: this machine's numpy rounds matrix products unlike the compiled "
            "passes (a BLAS without fused multiply-adds), which would change the views' last bits"
        )
        return None
    return kernels


@lru_cache(maxsize=16)
def _compiled_directions(kernels: ModuleType, K: CameraIntrinsics) -> NDArray[np.float32]:
    """``kernels.pixel_directions`` of the render camera ``K`` (cached, read-only): the bits of
    ``camera.pixel_directions_by_axis``, in an eighth of its time, for frames that bring cameras of their own
    (ARKitScenes: 16 cameras are cached, a video may have more)."""
    directions: NDArray[np.float32] = kernels.pixel_directions(K.fx, K.fy, K.cx, K.cy, K.width, K.height)
    directions.setflags(write=False)  # read-only as the numpy code's: one compiled version of each pass
    return directions


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
    pixels = SensorToRender.of(depth_k, view.intrinsics, sensor.shape, step)
    flat_sensor, flat_rendered = sensor.ravel(), view.depth.ravel()
    kernels = compiled_kernels()
    agreeing = _agreeing_numpy if kernels is None else kernels.agreeing
    agree, compared = agreeing(flat_sensor, flat_rendered, pixels.sensor_pixel, pixels.render_pixel, depth_shift)
    if pixels.uncertain.size:
        sensor_pixel, render_pixel = pixels.uncertain_pixels(flat_sensor, depth_shift, view.intrinsics)
        more = agreeing(flat_sensor, flat_rendered, sensor_pixel, render_pixel, depth_shift)
        agree, compared = agree + more[0], compared + more[1]
    return agree / compared if compared else None


def _agreeing_numpy(
    sensor: DepthMM, rendered: NDArray[np.float32], sensor_pixel: IntArray, render_pixel: IntArray, depth_shift: float
) -> tuple[int, int]:
    """How many of the valid pixels ``sensor_pixel`` of ``sensor`` (flat) agree with ``rendered`` (flat, metres) at
    ``render_pixel``, and how many are valid."""
    d = sensor.take(sensor_pixel)
    valid = np.flatnonzero(d)
    z = d.take(valid).astype(np.float64) / depth_shift
    near = np.abs(rendered.take(render_pixel.take(valid)) - z) < 0.05 + 0.02 * z
    return int(np.count_nonzero(near)), int(valid.size)


#: Pixels: a sensor pixel whose rendered position lies this close to a half pixel is mapped per view.
UNCERTAIN_PIXEL = 1e-6


@dataclass(frozen=True)
class SensorToRender:
    """Where every ``step``-th pixel of a depth image lands in a view of the same pose rendered through ``render_k``.

    Sensor pixel (column c, row r) at depth z back-projects to ``x = (c - cx) / fx * z`` (y alike) and projects to
    the rendered pixel ``u = rint(fx' * x / z + cx')``: z cancels, so the rendered pixel is fixed per pair of
    cameras, up to the rounding of the products (a few 1e-13 pixel). Where ``fx' * (c - cx) / fx + cx'`` lies
    farther than :data:`UNCERTAIN_PIXEL` from a half pixel no depth can change the rounded pixel, and the map gives
    it; the others (none with ScanNet's cameras) are mapped per view by the formula itself.
    """

    sensor_pixel: IntArray
    """(m,) flat index into the depth image of the mapped pixels that land in the rendered image, row-major."""
    render_pixel: IntArray
    """(m,) flat index of the rendered pixel each lands on."""
    uncertain: IntArray
    """(k,) flat index into the depth image of the pixels mapped per view."""
    uncertain_per_z: FloatArray
    """(2, k) their ``(c - cx) / fx`` and ``(r - cy) / fy``."""

    @staticmethod
    @lru_cache(maxsize=16)
    def of(
        depth_k: CameraIntrinsics, render_k: CameraIntrinsics, shape: tuple[int, ...], step: int
    ) -> "SensorToRender":
        """The map of every ``step``-th pixel of a depth image of ``shape`` (h, w) (cached per cameras)."""
        grid = np.meshgrid(np.arange(0.0, shape[0], step), np.arange(0.0, shape[1], step), indexing="ij")
        rows, cols = (a.ravel() for a in grid)
        per_z = np.stack([(cols - depth_k.cx) / depth_k.fx, (rows - depth_k.cy) / depth_k.fy])
        u_exact, v_exact = render_k.fx * per_z[0] + render_k.cx, render_k.fy * per_z[1] + render_k.cy
        u, v = np.rint(u_exact), np.rint(v_exact)
        sure = np.abs(np.abs(u_exact - u) - 0.5) > UNCERTAIN_PIXEL
        sure &= np.abs(np.abs(v_exact - v) - 0.5) > UNCERTAIN_PIXEL
        inside = sure & (u >= 0) & (u < render_k.width) & (v >= 0) & (v < render_k.height)
        sensor = (rows * shape[1] + cols).astype(np.int64)
        render = (v * render_k.width + u).astype(np.int64)
        return SensorToRender(sensor[inside], render[inside], sensor[~sure], per_z[:, ~sure])

    def uncertain_pixels(
        self, sensor: DepthMM, depth_shift: float, render_k: CameraIntrinsics
    ) -> tuple[IntArray, IntArray]:
        """The valid uncertain pixels of ``sensor`` (flat) that land in the rendered image, and where (flat
        indices): back-projected with their depth and projected through ``render_k``."""
        d = sensor.take(self.uncertain).astype(np.float64) / depth_shift
        ok = np.flatnonzero(d > 0)
        z = d.take(ok)
        x, y = self.uncertain_per_z[0].take(ok) * z, self.uncertain_per_z[1].take(ok) * z
        u = np.rint(render_k.fx * x / z + render_k.cx)
        v = np.rint(render_k.fy * y / z + render_k.cy)
        inside = np.flatnonzero((u >= 0) & (u < render_k.width) & (v >= 0) & (v < render_k.height))
        v *= render_k.width
        v += u
        return self.uncertain.take(ok.take(inside)), v.take(inside).astype(np.int64)


def _in_image(pc: FloatArray, K: CameraIntrinsics, near: float) -> tuple[IntArray, FloatArray]:
    """Of samples at ``pc`` ``(3, N)`` (camera frame, one row per axis): the indices of those in front of ``near``
    that project onto the image of ``K``, and their ``(2, n)`` pixel coordinates u and v."""
    x, y, z = pc
    front = z > near
    zs = np.where(front, z, 1.0)
    uv = np.empty((2, len(z)))
    u, v = uv
    np.multiply(K.fx, x, out=u)  # fx * x / zs + cx, in place
    u /= zs
    u += K.cx
    np.multiply(K.fy, y, out=v)
    v /= zs
    v += K.cy
    in_image = u >= -0.5
    in_image &= u < K.width - 0.5
    in_image &= v >= -0.5
    in_image &= v < K.height - 0.5
    in_image &= front
    inside = np.flatnonzero(in_image)
    return inside, uv.take(inside, axis=1)


def _nearest_pixel(uv: FloatArray, K: CameraIntrinsics) -> IntArray:
    """Flat index of the pixel nearest to each of the ``(2, n)`` image positions ``uv`` (inside the image of
    ``K``); whole numbers are exact in float64."""
    col, row = np.rint(uv)
    row *= K.width
    row += col
    pixel: IntArray = row.astype(np.int64)
    return pixel


@dataclass(frozen=True)
class PixelBoxes:
    """Rendered pixels per object and the 2D boxes of the listed objects."""

    pixel_count: IntArray
    """(n_objects,) rendered pixels showing each object."""
    corners: FloatArray
    """(4, n_listed) x1, y1, x2, y2 of each listed object, colour-image pixels, clamped to the image."""


def _boxes(
    instance: NDArray[np.signedinteger[Any]],
    n: int,
    scale: float,
    image: CameraIntrinsics,
    listed: IntArray,
    sample_box: FloatArray,
) -> PixelBoxes:
    """The box of each of the objects ``listed``: the box ``sample_box`` ``(4, n_listed)`` of its visible samples
    (x1, y1, x2, y2), widened to the centres of the outermost pixels of its rendered mask (which lie inside the
    visible silhouette) and to the image's border where the mask reaches the outermost row or column. ``instance``
    ``(h, w)``: index into the objects of the surface seen at each rendered pixel, -1 for none."""
    h, w = instance.shape
    mask = _mask_extents(instance, n)
    first_row, stop_row, first_col, stop_col = mask.bounds.take(listed, axis=1)
    x1, y1, x2, y2 = sample_box
    has_mask = mask.pixel_count.take(listed) > 0
    # Python's min(a, b) and max(a, b) (the first of equals), element by element
    x1 = np.where(has_mask & ((first_col + 0.5) * scale < x1), (first_col + 0.5) * scale, x1)
    y1 = np.where(has_mask & ((first_row + 0.5) * scale < y1), (first_row + 0.5) * scale, y1)
    x2 = np.where(has_mask & ((stop_col - 0.5) * scale > x2), (stop_col - 0.5) * scale, x2)
    y2 = np.where(has_mask & ((stop_row - 0.5) * scale > y2), (stop_row - 0.5) * scale, y2)
    # seen in the outermost pixel row/column: the visible part runs on to the image border
    width, height = float(image.width), float(image.height)
    x1[has_mask & (first_col == 0)] = 0.0
    y1[has_mask & (first_row == 0)] = 0.0
    x2[has_mask & (stop_col == w)] = width
    y2[has_mask & (stop_row == h)] = height
    corners = np.stack([x1, y1, x2, y2])
    corners = np.where(corners < 0.0, 0.0, corners)  # max(c, 0.0), then min(c, the image's side)
    side = np.array([width, height, width, height])[:, None]
    return PixelBoxes(mask.pixel_count, np.where(corners > side, side, corners))


@dataclass(frozen=True)
class MaskExtents:
    """Where each object's rendered pixels lie."""

    pixel_count: IntArray
    """(n_objects,) pixels showing each object."""
    bounds: IntArray
    """(4, n_objects) first row, last row + 1, first column, last column + 1 of each object's pixels (0 without
    pixels): the slices ``scipy.ndimage.find_objects`` gives."""


def _mask_extents(instance: NDArray[np.signedinteger[Any]], n: int) -> MaskExtents:
    """The :class:`MaskExtents` of the ``n`` objects in ``instance`` ``(h, w)`` (-1: no object), from its runs: the
    stretches of a row that show one object (a few thousand in a view, against tens of thousands of pixels)."""
    w = instance.shape[1]
    flat = instance.ravel()
    starts_run = np.empty(flat.size, dtype=bool)
    starts_run[0] = True
    np.not_equal(flat[1:], flat[:-1], out=starts_run[1:])
    starts_run[::w] = True
    first = np.flatnonzero(starts_run)  # (R,) flat index of each run's first pixel, row-major
    length = np.diff(first, append=flat.size)
    label = flat.take(first)
    shown = np.flatnonzero(label >= 0)
    order = shown.take(np.argsort(label.take(shown), kind="stable"))  # each object's runs, still row-major
    label, first, length = label.take(order), first.take(order), length.take(order)
    groups = np.flatnonzero(np.r_[True, label[1:] != label[:-1]]) if label.size else np.zeros(0, np.int64)
    row = first // w
    col = first - row * w
    pixel_count, bounds = np.zeros(n, dtype=np.int64), np.zeros((4, n), dtype=np.int64)
    if groups.size:
        objects = label.take(groups)
        pixel_count[objects] = np.add.reduceat(length, groups)
        bounds[0, objects] = row.take(groups)  # an object's first run in row-major order is in its first row
        bounds[1, objects] = row.take(np.r_[groups[1:] - 1, label.size - 1]) + 1
        bounds[2, objects] = np.minimum.reduceat(col, groups)
        bounds[3, objects] = np.maximum.reduceat(col + length, groups)
    return MaskExtents(pixel_count, bounds)


def _extent_per_owner(values: FloatArray, owners: IntArray, n: int) -> tuple[FloatArray, FloatArray]:
    """``(k, n)`` minimum and maximum of each row of ``values`` ``(k, m)`` per owner (inf / -inf for owners without
    one); ``owners`` ``(m,)`` come in runs, one per owner (samples are grouped by object)."""
    firsts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    lo, hi = np.full((len(values), n), np.inf), np.full((len(values), n), -np.inf)
    lo[:, owners.take(firsts)] = np.minimum.reduceat(values, firsts, axis=1)
    hi[:, owners.take(firsts)] = np.maximum.reduceat(values, firsts, axis=1)
    return lo, hi
