"""Compiled passes of a view's metadata (numba, the ``fast`` extra): the view's rays; the per-object statistics in
one loop over the samples, where the numpy code of ``metadata.views`` makes a dozen array passes; the depth and
object of every hit of the ray cast; the sensor-depth agreement and the depth gate's medians
(``depth_check.view_depth``).

Loaded only through ``views.compiled_kernels`` (which uses the numpy code when numba is not installed or
``LADDER_NO_JIT`` is set), never at start-up. Both give the same records, bit for bit
(``tests/test_metadata_kernels.py``): every float is computed by the same IEEE operations in the same order as
the numpy code (numba compiles without ``fastmath``, so it neither reassociates nor fuses a multiply and an add
unless told to, below),
sums are accumulated in sample order as ``np.bincount`` does, and minima, maxima and medians are order statistics,
the same values whatever the order they are found in.

The rotations of the rays and of the samples into the camera frame are fused into the passes that use them: the
numpy code gets them from numpy's matrix product, that is from OpenBLAS, which on x86-64 with FMA (Haswell and
later) rounds each of the three sums of products as one product followed by two fused multiply-adds, in column
order (and, for a single column, numpy's own loop rounds every product and sum). The compiled passes compute them
so (:func:`_row_times_column`, LLVM's ``fma``); :func:`reproduces_matrix_product` checks that this machine's
numpy agrees, and ``views.compiled_kernels`` uses the compiled passes only where it does.

The entry points are compiled for their usual argument types when this module is imported (the end of this file),
so that the fork server of ``executor.local``, which imports it (``WORKER_PRELOAD``), hands every worker it starts
compiled code: numba's start (about 0.4 CPU s) and the loading of the compiled code are paid once. Compiled once
per machine into numba's on-disk cache (``cache=True``): beside this file, or in a user cache folder
(``~/.cache/numba``) when the package folder is not writable; ``NUMBA_CACHE_DIR`` sets the folder.
"""

from typing import Any

import numpy as np
from numba import njit, types
from numba.extending import intrinsic
from numpy.typing import NDArray

from ladderdata.typed import FloatArray, IntArray

#: Entries of the ``camera`` array (``(23,)`` float64): the render camera (focal lengths, centre, size), the near
#: plane, the depth tolerance, colour-image pixels per render pixel, the colour image's size, and from ``POSE`` on
#: the first three rows of the view's camera-to-world pose (12 entries, row-major: rotation and centre).
FX, FY, CX, CY, WIDTH, HEIGHT, NEAR, TOLERANCE, SCALE, IMAGE_WIDTH, IMAGE_HEIGHT, POSE = range(12)


def _fma_typed(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    """``a * b + c`` rounded once (LLVM's ``fma``: the FMA instruction, or a correctly rounded library call)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.fma(*args)

    return a(a, b, c), codegen


_fma: Any = intrinsic(_fma_typed)


@njit(cache=True, nogil=True, inline="always")
def _row_times_column(r0: float, r1: float, r2: float, x: float, y: float, z: float, single: bool) -> float:
    """``r0 * x + r1 * y + r2 * z`` rounded as numpy's matrix product rounds one entry of a ``(3, 3) @ (3, N)``
    product in the operands' type: the first product, then two fused multiply-adds (OpenBLAS's kernels); for a
    single column (``single``, N = 1), every product and sum (numpy's own loop)."""
    if single:
        return r0 * x + r1 * y + r2 * z
    fused: float = _fma(r2, z, _fma(r1, y, r0 * x))
    return fused


@njit(cache=True, nogil=True)
def _rotated_columns(
    matrix: NDArray[np.floating[Any]], columns: NDArray[np.floating[Any]]
) -> NDArray[np.floating[Any]]:
    """``matrix @ columns`` (``(3, 3)`` and ``(3, N)``, one type) entry by entry (:func:`_row_times_column`)."""
    out = np.empty(columns.shape, columns.dtype)
    single = columns.shape[1] == 1
    for a in range(3):
        r0, r1, r2 = matrix[a, 0], matrix[a, 1], matrix[a, 2]
        for i in range(columns.shape[1]):
            out[a, i] = _row_times_column(r0, r1, r2, columns[0, i], columns[1, i], columns[2, i], single)
    return out


def reproduces_matrix_product() -> bool:
    """Whether :func:`_row_times_column` gives numpy's bits on this machine, for the two products the numpy code
    of ``metadata.views`` makes: a float32 rotation (a pose's, cast) times ray directions
    (``camera.pixel_rays``), and a float64 pose's rotation, transposed, times sample offsets
    (``ViewMeasurer._object_stats``); one column and several, random values of many magnitudes."""
    rng = np.random.default_rng(0)
    poses = rng.normal(size=(2, 4, 4))
    for size in (1, 2, 3, 7, 16, 33, 1000):
        columns = rng.normal(size=(3, size)) * 10.0 ** rng.integers(-3, 4, size=(3, size))
        pairs = (
            (poses[1][:3, :3].astype(np.float32), columns.astype(np.float32)),
            (poses[1][:3, :3].T, columns),
        )
        for matrix, values in pairs:
            if not np.array_equal(matrix @ values, _rotated_columns(np.ascontiguousarray(matrix), values)):
                return False
    return True


@njit(cache=True, nogil=True)
def pixel_directions(fx: float, fy: float, cx: float, cy: float, width: int, height: int) -> NDArray[np.float32]:
    """``camera.pixel_directions_by_axis`` of the camera with focal lengths ``fx``, ``fy``, centre ``cx``, ``cy``
    and ``width`` x ``height`` pixels, computed as ``camera.pixel_directions`` does: ``(3, H * W)`` float32 unit
    viewing directions of the pixel centres, row-major (each in float64: the norm's squares summed x, y, z in that
    order, each coordinate divided by it, then cast). For a frame with a camera of its own (ARKitScenes), where
    the cached directions would be computed again for every view (5 ms)."""
    out = np.empty((3, height * width), np.float32)
    for row in range(height):
        y = (row - cy) / fy
        for col in range(width):
            x = (col - cx) / fx
            norm = np.sqrt(x * x + y * y + 1.0)
            i = row * width + col
            out[0, i], out[1, i], out[2, i] = np.float32(x / norm), np.float32(y / norm), np.float32(1.0 / norm)
    return out


@njit(cache=True, nogil=True)
def pixel_rays(cam_to_world: FloatArray, directions: NDArray[np.float32]) -> NDArray[np.float32]:
    """``camera.pixel_rays`` in one pass: the ``(N, 6)`` float32 rays (origin, world direction) of the ``(3, N)``
    camera-frame ``directions`` (``camera.pixel_directions_by_axis``) from the ``(4, 4)`` pose ``cam_to_world``:
    its rotation and origin cast to float32, each direction rotated as numpy's product does."""
    n = directions.shape[1]
    rays = np.empty((n, 6), np.float32)
    rotation = np.empty((3, 3), np.float32)
    for a in range(3):
        for k in range(3):
            rotation[a, k] = np.float32(cam_to_world[a, k])
    ox, oy, oz = np.float32(cam_to_world[0, 3]), np.float32(cam_to_world[1, 3]), np.float32(cam_to_world[2, 3])
    single = n == 1
    for i in range(n):
        x, y, z = directions[0, i], directions[1, i], directions[2, i]
        rays[i, 0], rays[i, 1], rays[i, 2] = ox, oy, oz
        for a in range(3):
            rays[i, 3 + a] = _row_times_column(rotation[a, 0], rotation[a, 1], rotation[a, 2], x, y, z, single)
    return rays


#: Samples positioned and projected at once by ``_sample_pass`` (five float64 buffers of this size: 20 KiB, in L1).
_CHUNK = 512


# error_model="numpy": a sample at the camera centre's depth divides by zero to inf (its projection is not used)
# rather than raising, so that the projections of a chunk need no branch
@njit(cache=True, nogil=True, error_model="numpy")
def _sample_pass(
    points: FloatArray,
    runs: IntArray,
    sample_owner: IntArray,
    sample_is_area: NDArray[np.bool_],
    depth: NDArray[np.float32],
    instance: NDArray[np.signedinteger[Any]],
    camera: FloatArray,
    n: int,
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """One pass over the samples in ``runs`` ``(2, R)`` (first and stop index into ``points`` ``(3, S)``,
    ``sample_owner`` and ``sample_is_area``): each moved to the camera centre and rotated into the camera frame of
    the view's pose (``camera[POSE:]``) as ``ViewMeasurer._samples_from_camera`` and ``_object_stats`` do, then
    tested against the
    rendered ``depth`` and ``instance`` (flat, ``(h * w,)``): ``views._in_image``, ``_nearest_pixel`` and the
    visibility test of ``ViewMeasurer._listed_numpy``, operation for operation. Returns, per object (``n`` of them):
    ``(2, n)`` counts of visible area samples and of area samples in the image; ``(4, n)`` x1, y1, x2, y2 of the
    visible samples' pixel edges in colour-image pixels (inf / -inf for none); ``(n, 3)`` sums of the visible area
    samples' x, y, z in sample order (``np.bincount``'s); and the depths of the visible area samples in sample
    order (so grouped by object, in object order), in an array of one entry per sample of the runs."""
    counts = np.zeros((2, n), np.int64)
    box = np.full((4, n), np.inf)
    box[2:] = -np.inf
    centroid_sum = np.zeros((n, 3))
    total = (runs[1] - runs[0]).sum()
    depths = np.empty(total)
    single = total == 1
    # the rows of the rotation's transpose and the origin, read once (scalars: no store can change them, so the
    # loop below vectorises)
    pose = camera[POSE:].reshape(3, 4)
    x0, x1, x2 = pose[0, 0], pose[1, 0], pose[2, 0]
    y0, y1, y2 = pose[0, 1], pose[1, 1], pose[2, 1]
    z0, z1, z2 = pose[0, 2], pose[1, 2], pose[2, 2]
    ox, oy, oz = pose[0, 3], pose[1, 3], pose[2, 3]
    fx, fy, cx, cy, near = camera[FX], camera[FY], camera[CX], camera[CY], camera[NEAR]
    width, right, bottom = camera[WIDTH], camera[WIDTH] - 0.5, camera[HEIGHT] - 0.5
    tolerance = np.float32(camera[TOLERANCE])  # numpy adds a Python float to float32 depths in float32
    scale = camera[SCALE]
    # a chunk's positions and projections first, in a loop without branches that the compiler vectorises (the
    # projections of samples behind the camera, never used, included), then the tests and sums sample by sample
    x, y, z, u, v = np.empty(_CHUNK), np.empty(_CHUNK), np.empty(_CHUNK), np.empty(_CHUNK), np.empty(_CHUNK)
    pixel = np.empty(_CHUNK)
    found = 0
    for r in range(runs.shape[1]):
        for first in range(runs[0, r], runs[1, r], _CHUNK):
            size = min(_CHUNK, runs[1, r] - first)
            for j in range(size):
                s = first + j
                dx, dy, dz = points[0, s] - ox, points[1, s] - oy, points[2, s] - oz
                xj = _row_times_column(x0, x1, x2, dx, dy, dz, single)
                yj = _row_times_column(y0, y1, y2, dx, dy, dz, single)
                zj = _row_times_column(z0, z1, z2, dx, dy, dz, single)
                uj, vj = fx * xj / zj + cx, fy * yj / zj + cy
                x[j], y[j], z[j], u[j], v[j] = xj, yj, zj, uj, vj
                pixel[j] = np.rint(vj) * width + np.rint(uj)
            for j in range(size):
                if not z[j] > near:
                    continue
                if not (u[j] >= -0.5 and u[j] < right and v[j] >= -0.5 and v[j] < bottom):
                    continue
                at = np.int64(pixel[j])
                owner = sample_owner[first + j]
                is_area = sample_is_area[first + j]
                counts[1, owner] += is_area
                if not (instance[at] == owner or z[j] <= np.float64(np.float32(depth[at] + tolerance)) + 0.01 * z[j]):
                    continue
                edge_u, edge_v = (u[j] + 0.5) * scale, (v[j] + 0.5) * scale
                box[0, owner], box[1, owner] = min(box[0, owner], edge_u), min(box[1, owner], edge_v)
                box[2, owner], box[3, owner] = max(box[2, owner], edge_u), max(box[3, owner], edge_v)
                if is_area:
                    counts[0, owner] += 1
                    centroid_sum[owner, 0] += x[j]
                    centroid_sum[owner, 1] += y[j]
                    centroid_sum[owner, 2] += z[j]
                    depths[found] = z[j]
                    found += 1
    return counts, box, centroid_sum, depths


@njit(cache=True, nogil=True)
def _mask_extents(instance: NDArray[np.signedinteger[Any]], n: int) -> tuple[IntArray, IntArray]:
    """``views._mask_extents`` of ``instance`` ``(h, w)`` (-1: no object): ``(n,)`` pixels per object and ``(4, n)``
    first row, last row + 1, first column, last column + 1 of each object's pixels (0 without pixels), from the
    runs of each row (the stretches showing one object)."""
    count = np.zeros(n, np.int64)
    bounds = np.zeros((4, n), np.int64)
    h, w = instance.shape
    for row in range(h):
        start = 0
        for col in range(1, w + 1):
            if col < w and instance[row, col] == instance[row, start]:
                continue
            owner = instance[row, start]  # the run [start, col) of this row
            if owner >= 0:
                if count[owner] == 0:
                    bounds[0, owner], bounds[2, owner] = row, start
                count[owner] += col - start
                bounds[1, owner] = row + 1
                bounds[2, owner] = min(bounds[2, owner], start)
                bounds[3, owner] = max(bounds[3, owner], col)
            start = col
    return count, bounds


@njit(cache=True, nogil=True)
def _clamped(corner: float, side: float) -> float:
    """``max(corner, 0.0)``, then ``min(that, side)``, as ``views._boxes``' two ``np.where``."""
    corner = 0.0 if corner < 0.0 else corner
    return side if corner > side else corner


@njit(cache=True, nogil=True)
def _corners(
    sample_box: FloatArray, instance: NDArray[np.signedinteger[Any]], listed: IntArray, camera: FloatArray
) -> tuple[IntArray, FloatArray]:
    """``views._boxes``: the ``(L,)`` rendered pixels and the ``(4, L)`` boxes x1, y1, x2, y2 of the ``listed``
    objects, from their samples' ``sample_box`` ``(4, n)`` and the mask of each in ``instance`` ``(h, w)``: widened
    to the centres of the mask's outermost pixels (Python's ``min``/``max``: the first of equals), snapped to the
    border where the mask reaches the outermost row or column, clamped to the colour image."""
    h, w = instance.shape
    count, bounds = _mask_extents(instance, sample_box.shape[1])
    corners = np.empty((4, listed.size))
    scale, width, height = camera[SCALE], camera[IMAGE_WIDTH], camera[IMAGE_HEIGHT]
    for j in range(listed.size):
        i = listed[j]
        x1, y1, x2, y2 = sample_box[0, i], sample_box[1, i], sample_box[2, i], sample_box[3, i]
        if count[i] > 0:
            first_row, stop_row, first_col, stop_col = bounds[0, i], bounds[1, i], bounds[2, i], bounds[3, i]
            x1 = min(x1, (first_col + 0.5) * scale)
            y1 = min(y1, (first_row + 0.5) * scale)
            x2 = max(x2, (stop_col - 0.5) * scale)
            y2 = max(y2, (stop_row - 0.5) * scale)
            x1 = 0.0 if first_col == 0 else x1
            y1 = 0.0 if first_row == 0 else y1
            x2 = width if stop_col == w else x2
            y2 = height if stop_row == h else y2
        corners[0, j], corners[1, j] = _clamped(x1, width), _clamped(y1, height)
        corners[2, j], corners[3, j] = _clamped(x2, width), _clamped(y2, height)
    return count.take(listed), corners


@njit(cache=True, nogil=True)
def _kth_smallest(values: FloatArray, kth: int) -> float:
    """The ``kth`` smallest of ``values`` (``np.partition(values, kth)[kth]``; no NaN), reordered in place: Wirth's
    selection (numba's ``np.partition`` takes seconds more to compile)."""
    lo, hi = 0, values.size - 1
    while lo < hi:
        pivot, i, j = values[kth], lo, hi
        while i <= j:
            while values[i] < pivot:
                i += 1
            while pivot < values[j]:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i, j = i + 1, j - 1
        if j < kth:
            lo = i
        if kth < i:
            hi = j
    return float(values[kth])


@njit(cache=True, nogil=True)
def listed_objects(
    points: FloatArray,
    runs: IntArray,
    sample_owner: IntArray,
    sample_is_area: NDArray[np.bool_],
    depth: NDArray[np.float32],
    instance: NDArray[np.signedinteger[Any]],
    camera: FloatArray,
    n_objects: int,
) -> tuple[IntArray, IntArray, IntArray, IntArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """``views.ViewMeasurer._listed_numpy`` of the samples ``_samples_from_camera`` gathers, in one pass over them:
    the samples in ``runs`` ``(2, R)`` (first and stop index into ``points`` ``(3, S)``, world positions one row
    per axis, ``sample_owner`` and ``sample_is_area``, ``(S,)`` each) against the rendered ``depth`` and
    ``instance`` ``(h, w)``, with the cameras, thresholds and the view's pose in ``camera`` (``FX`` ... ``POSE``).
    Returns the fields of ``views.ListedObjects``: the ``(L,)`` objects with a
    visible area sample, their visible area samples, area samples in the image, rendered pixels, ``(4, L)`` boxes,
    ``(L,)`` nearest and median depths of the visible area samples and ``(L, 3)`` their centroids."""
    counts, box, centroid_sum, depths = _sample_pass(
        points, runs, sample_owner, sample_is_area, depth.ravel(), instance.ravel(), camera, n_objects
    )
    listed = np.flatnonzero(counts[0])
    pixels, corners = _corners(box, instance, listed, camera)
    nearest, median = np.empty(listed.size), np.empty(listed.size)
    centroid = np.empty((listed.size, 3))
    start = 0
    for j in range(listed.size):
        k = counts[0, listed[j]]
        own = depths[start : start + k]  # this object's, in sample order
        nearest[j] = own.min()
        median[j] = _kth_smallest(own, (k - 1) // 2)
        for axis in range(3):
            centroid[j, axis] = centroid_sum[listed[j], axis] / k
        start += k
    return listed, counts[0].take(listed), counts[1].take(listed), pixels, corners, nearest, median, centroid


@njit(cache=True, nogil=True)
def hit_owners(
    t_hit: NDArray[np.float32],
    z_factor: NDArray[np.float32],
    triangle: NDArray[np.int32],
    uv: NDArray[np.float32],
    face_owner: NDArray[np.signedinteger[Any]],
    corner_owner: NDArray[np.signedinteger[Any]],
    mixed: int,
) -> tuple[NDArray[np.float32], NDArray[np.signedinteger[Any]]]:
    """``views.ViewMeasurer.render`` after the cast, in one pass over the ``(h, w)`` hits: the optical-axis depth
    (``t_hit * z_factor``, float32) and the object seen at each pixel: ``face_owner`` of the triangle hit (its last
    entry for a miss, ``triangle`` -1), or, for a triangle whose corners belong to different objects (``mixed``),
    ``corner_owner`` of its corner with the largest barycentric weight (the first of equals, as ``np.argmax``)."""
    depth = np.empty(t_hit.shape, np.float32)
    owner = np.empty(t_hit.shape, face_owner.dtype)
    for row in range(t_hit.shape[0]):
        for col in range(t_hit.shape[1]):
            depth[row, col] = t_hit[row, col] * z_factor[row, col]
            hit = triangle[row, col]
            seen = face_owner[hit]
            if seen == mixed:
                u, v = uv[row, col, 0], uv[row, col, 1]
                first = np.float32(1.0) - u - v  # numpy's 1.0 - u - v of float32 arrays: float32 arithmetic
                corner = 0 if first >= u and first >= v else (1 if u >= v else 2)
                seen = corner_owner[hit, corner]
            owner[row, col] = seen
    return depth, owner


@njit(cache=True, nogil=True)
def agreeing(
    sensor: NDArray[np.uint16],
    rendered: NDArray[np.float32],
    sensor_pixel: IntArray,
    render_pixel: IntArray,
    depth_shift: float,
) -> tuple[int, int]:
    """``views._agreeing_numpy``: how many of the valid pixels ``sensor_pixel`` ``(m,)`` of ``sensor`` (flat) agree
    with ``rendered`` (flat, metres) at ``render_pixel`` ``(m,)``, and how many are valid."""
    agree, valid = 0, 0
    for j in range(sensor_pixel.size):
        d = sensor[sensor_pixel[j]]
        if d == 0:
            continue
        valid += 1
        z = np.float64(d) / depth_shift
        if abs(np.float64(rendered[render_pixel[j]]) - z) < 0.05 + 0.02 * z:
            agree += 1
    return agree, valid


@njit(cache=True, nogil=True)
def _middle(values: NDArray[Any]) -> tuple[float, float]:
    """The ``size // 2 - 1``-th and ``size // 2``-th smallest of ``values`` (reordered in place; no NaN), the middle
    one twice for an odd size: ``np.median`` is their mean (which is the middle one for an odd size)."""
    half = values.size // 2
    upper = _kth_smallest(values, half)
    return (upper if values.size % 2 else _kth_smallest(values, half - 1)), upper


@njit(cache=True, nogil=True)
def depth_figures(
    sensor: NDArray[np.uint16], rendered: NDArray[np.float32], step: int
) -> tuple[int, int, float, float]:
    """``depth_check.view_depth``'s figures of every ``step``-th pixel (rows and columns) of ``sensor`` ``(h, w)``
    and ``rendered`` ``(H, W)`` (metres, inf: no surface): the rendered pixels looked at and those with a surface,
    the median of the valid (non-zero) sensor values and of the rendered depths (NaN for none)."""
    hit = np.empty(((rendered.shape[0] + step - 1) // step) * ((rendered.shape[1] + step - 1) // step), np.float32)
    hits = 0
    for row in range(0, rendered.shape[0], step):
        for col in range(0, rendered.shape[1], step):
            if np.isfinite(rendered[row, col]):
                hit[hits] = rendered[row, col]
                hits += 1
    valid = np.empty(((sensor.shape[0] + step - 1) // step) * ((sensor.shape[1] + step - 1) // step), np.uint16)
    found = 0
    for row in range(0, sensor.shape[0], step):
        for col in range(0, sensor.shape[1], step):
            if sensor[row, col] > 0:
                valid[found] = sensor[row, col]
                found += 1
    sensor_median = rendered_median = np.nan
    if found:  # np.mean of integers: a float64 sum (exact here) and division
        lower, upper = _middle(valid[:found])
        sensor_median = (lower + upper) / 2.0
    if hits:  # np.mean of float32: a float32 sum and division
        lower, upper = _middle(hit[:hits])
        rendered_median = float((np.float32(lower) + np.float32(upper)) / np.float32(2.0))
    return hit.size, hits, sensor_median, rendered_median


#: Compiled (or loaded from numba's cache) when this module is imported, so that a worker pool's fork server hands
#: its workers loaded code: ``pixel_directions``, ``pixel_rays``, ``listed_objects`` and ``hit_owners`` for scans of
#: up to 128 objects
#: (an int8 owner image; other integer types are compiled when first met, and cached), ``agreeing`` and
#: ``depth_figures`` for uint16 depth frames, and the check of :func:`reproduces_matrix_product`.
_F8, _I8, _OWNERS = types.float64, types.int64, types.int8[:, ::1]
_F4_READ_ONLY = types.Array(types.float32, 2, "C", readonly=True)  # a render camera's directions, and rows of them
pixel_rays.compile((_F8[:, ::1], _F4_READ_ONLY))  # a pose: a (4, 4) slice of the scan's (T, 4, 4) poses
pixel_directions.compile((_F8, _F8, _F8, _F8, _I8, _I8))
listed_objects.compile(
    (_F8[:, ::1], _I8[:, ::1], _I8[::1], types.boolean[::1], types.float32[:, ::1], _OWNERS, _F8[::1], _I8)
)
agreeing.compile((types.uint16[::1], types.float32[::1], _I8[::1], _I8[::1], _F8))
depth_figures.compile((types.uint16[:, ::1], types.float32[:, ::1], _I8))
_TRIANGLES = types.int32[:, ::1]  # raycast.Hits.triangle: open3d's uint32 ids, read as int32
hit_owners.compile(
    (types.float32[:, ::1], _F4_READ_ONLY, _TRIANGLES, types.float32[:, :, ::1], types.int8[::1], _OWNERS, _I8)
)
_rotated_columns.compile((types.float32[:, ::1], types.float32[:, ::1]))
_rotated_columns.compile((_F8[:, ::1], _F8[:, ::1]))
