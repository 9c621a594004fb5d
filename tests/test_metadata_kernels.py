"""The compiled per-view passes (``metadata.kernels``, numba: the ``fast`` extra) give the numpy code's bits.

Every record of every view of synthetic ScanNet, ScanNet++ and ARKitScenes scans (a camera per frame) is compared
pickled, so each float bit for bit; the statistics themselves on crafted samples (behind and on the near plane,
exactly on the image's borders, on rounding ties, occluded or not), and without numba or with ``LADDER_NO_JIT``
the numpy code runs. The compiled code is built once per machine and source version (numba's cache): this file
takes about 9 s more on a machine without the cache (the int8 versions built at import, the int16 ones for 300
objects)."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy._core._multiarray_umath import __cpu_features__  # type: ignore[import-not-found]

from fixtures.factories import analytic_scan
from ladderdata.executor.preload import PRELOAD_ENV
from ladderdata.geometry.camera import CameraIntrinsics, pixel_directions_by_axis, pixel_rays, ray_z_factor
from ladderdata.geometry.raycast import Hits
from ladderdata.metadata import views
from ladderdata.metadata.config import MetadataConfig
from ladderdata.metadata.depth_check import view_depth
from ladderdata.metadata.extract import measure_scan
from ladderdata.metadata.views import NO_JIT_ENV, ListedObjects, RenderedView, Timings, ViewMeasurer
from ladderdata.sources.base import detect_source, open_source, source_config

kernels = pytest.importorskip("ladderdata.metadata.kernels", reason="numba (the fast extra) is not installed")
if not kernels.reproduces_matrix_product() and not __cpu_features__.get("FMA3", False):
    # where the CPU has FMA, a mismatch is a finding (a bug, or a BLAS that orders its sums otherwise): the tests run
    pytest.skip(
        "the compiled passes are off on this machine: its BLAS rounds without fused multiply-adds (no FMA3), so views"
        " are measured with the numpy code, which the rest of the suite tests",
        allow_module_level=True,
    )

IMAGE = CameraIntrinsics(fx=1000.0, fy=1000.0, cx=647.5, cy=483.5, width=1296, height=968)


def pickled_records(root: Path, monkeypatch: pytest.MonkeyPatch, compiled: bool) -> list[bytes]:
    """Every view record of every scan under ``root`` (frame stride 1), pickled, by one path."""
    with monkeypatch.context() as patch:
        if compiled:
            patch.delenv(NO_JIT_ENV, raising=False)
        else:
            patch.setenv(NO_JIT_ENV, "1")
        assert (views.compiled_kernels() is not None) == compiled
        source = open_source(source_config(detect_source(root), root=root))
        records = []
        for scan_id in source.scan_ids():
            measured, _ = measure_scan(source.load(scan_id), MetadataConfig(frame_stride=1))
            records += [pickle.dumps(r.model_dump()) for r in measured]
    return records


@pytest.mark.parametrize("root", ["synthetic_root", "scannetpp_root", "arkitscenes_root"])
def test_every_record_is_the_numpy_codes_bits(root: str, request: pytest.FixtureRequest) -> None:
    folder = request.getfixturevalue(root)
    monkeypatch = request.getfixturevalue("monkeypatch")
    compiled, numpy = (pickled_records(folder, monkeypatch, compiled) for compiled in (True, False))
    assert len(compiled) >= 10
    assert sum(b"visibility" in r for r in compiled) == len(compiled)  # records with listed objects
    assert compiled == numpy


def test_objects_past_an_8_bit_index_are_the_numpy_codes_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    """300 objects: the rendered owner image is int16, a second compiled version."""
    corners = [(-1.9 + 0.2 * (i % 20), -1.45 + 0.2 * (i // 20)) for i in range(300)]
    boxes = [(f"b{i}", (x, y, 4.0), (x + 0.1, y + 0.1, 4.1)) for i, (x, y) in enumerate(corners)]
    measurer = ViewMeasurer(analytic_scan(boxes), MetadataConfig(), IMAGE)
    compiled, _ = measurer.measure(np.eye(4), Timings())
    monkeypatch.setenv(NO_JIT_ENV, "1")
    numpy, view = measurer.measure(np.eye(4), Timings())
    assert view.instance.dtype == np.int16
    assert len(compiled) == 300
    assert pickle.dumps([o.model_dump() for o in compiled]) == pickle.dumps([o.model_dump() for o in numpy])


def crafted_view(
    measurer: ViewMeasurer, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, RenderedView]:
    """Camera-frame samples of a random subset of ``measurer``'s objects (in runs, as ``_samples_from_camera``
    gives them) and a random rendered view, through a render camera with unit focal lengths and its centre at
    the image's corner, so that u = x / z and v = y / z exactly where z is a power of two: some samples lie behind
    the near plane, on it, exactly on the image's borders, on rounding ties, the rest in and around the image.
    Returns the samples ``pc`` ``(3, N)``, where each run begins in them and the shift to a sample's index, the
    runs themselves (``_sample_runs``), every sample of the scan ``(3, S)`` with the crafted ones in their places
    (the rest zero: seen from the identity pose, ``pc`` exactly), and the view."""
    rng = np.random.default_rng(seed)
    n = len(measurer.scan.objects)
    in_view = np.flatnonzero(rng.random(n) < 0.7)
    if in_view.size == 0:
        in_view = np.array([seed % n])
    runs = measurer._sample_runs(in_view)
    offsets, begins, shifts = measurer._samples_from_camera(runs, np.zeros(3))
    w, h = 40, 30
    count = offsets.shape[1]
    pc = np.stack([rng.uniform(-8, w + 8, count), rng.uniform(-8, h + 8, count), np.ones(count)])
    pc[2] = rng.choice([0.5, 1.0, 2.0, 4.0], count)
    pc[:2] *= pc[2]
    near = measurer.config.near
    special = rng.random(count)
    pc[2, special < 0.05] = near  # on the near plane: not in front of it
    pc[2, (special >= 0.05) & (special < 0.1)] = -1.0
    edge = np.flatnonzero((special >= 0.1) & (special < 0.3))
    pc[0, edge] = pc[2, edge] * rng.choice([-0.5, w - 0.5, 2.5, 3.5, -0.5 - 2**-20, w - 0.5 - 2**-20], edge.size)
    pc[1, edge] = pc[2, edge] * rng.choice([-0.5, h - 0.5, 1.5, h - 0.5 - 2**-20], edge.size)
    depth = rng.uniform(0.3, 5.0, (h, w)).astype(np.float32)
    depth[rng.random((h, w)) < 0.1] = np.inf
    instance = rng.integers(-1, n, (h, w)).astype(np.int8)
    render = CameraIntrinsics(fx=1.0, fy=1.0, cx=0.0, cy=0.0, width=w, height=h)
    points = np.zeros_like(measurer.samples.points_t)
    points[:, np.concatenate([np.arange(first, stop) for first, stop in runs.T])] = pc
    return pc, begins, shifts, runs, points, RenderedView(depth, instance, render)


def test_crafted_samples_give_the_numpy_codes_figures() -> None:
    boxes = [(f"b{i}", (0.3 * i, 0.0, 3.0), (0.3 * i + 0.2, 0.2, 3.2)) for i in range(12)]
    measurer = ViewMeasurer(analytic_scan(boxes), MetadataConfig(), IMAGE)
    S = measurer.samples
    listed = 0
    for seed in range(40):
        pc, begins, shifts, runs, points, view = crafted_view(measurer, seed)
        image = view.intrinsics.scaled_to(120, 90) if seed % 2 else view.intrinsics  # colour pixels per render pixel
        K, cfg = view.intrinsics, measurer.config
        camera = [K.fx, K.fy, K.cx, K.cy, K.width, K.height, cfg.near, cfg.depth_tolerance, image.width / K.width]
        camera += [image.width, image.height, *np.eye(4)[:3].ravel()]  # seen from the identity pose
        args = (S.owner, S.is_area, view.depth, view.instance, np.array(camera), len(measurer.scan.objects))
        compiled = ListedObjects(*kernels.listed_objects(points, runs, *args))
        numpy = measurer._listed_numpy(pc, begins, shifts, view, image)
        for field in ListedObjects.__dataclass_fields__:
            got, expected = getattr(compiled, field), getattr(numpy, field)
            assert got.dtype == expected.dtype and got.shape == expected.shape, field
            assert got.tobytes() == expected.tobytes(), (seed, field)
        listed += compiled.index.size
    assert listed > 100  # most views list objects


def random_pose(rng: np.random.Generator) -> np.ndarray:
    """A camera-to-world pose with a random rotation and a centre up to 10 m away, as a slice of a stack of poses
    (``Scan.poses[i]``, what views are measured from)."""
    poses = np.zeros((3, 4, 4))
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    poses[1, :3, :3] = q * np.sign(np.diag(r))
    poses[1, :3, 3] = rng.uniform(-10, 10, 3)
    poses[1, 3, 3] = 1.0
    pose: np.ndarray = poses[1]
    return pose


def test_rays_are_numpys_products() -> None:
    """``kernels.pixel_rays`` is ``camera.pixel_rays`` bit for bit, from random poses, through cameras of one pixel
    (numpy's own loop) up to the render size (OpenBLAS's kernels)."""
    rng = np.random.default_rng(8)
    cameras = [
        CameraIntrinsics(fx=300.0, fy=310.0, cx=w / 2 - 0.3, cy=h / 2 + 0.1, width=w, height=h)
        for w, h in [(1, 1), (2, 1), (1, 3), (17, 5), (324, 242)]
    ]
    for K in cameras:
        for _ in range(6):
            pose = random_pose(rng)
            expected = pixel_rays(K, pose)
            got = kernels.pixel_rays(pose, pixel_directions_by_axis(K)).reshape(K.height, K.width, 6)
            assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes(), (K.width, K.height)


def test_directions_of_a_frames_own_camera_are_numpys() -> None:
    """``kernels.pixel_directions`` (a frame with its own camera: ARKitScenes) is ``camera.pixel_directions_by_axis``
    bit for bit, over random cameras of every shape down to one pixel."""
    rng = np.random.default_rng(10)
    for _ in range(60):
        w, h = int(rng.integers(1, 330)), int(rng.integers(1, 250))
        fx, fy = rng.uniform(50, 2000, 2)
        K = CameraIntrinsics(fx=fx, fy=fy, cx=rng.uniform(-10, w + 10), cy=rng.uniform(-10, h + 10), width=w, height=h)
        expected = pixel_directions_by_axis(K)
        assert kernels.pixel_directions(K.fx, K.fy, K.cx, K.cy, w, h).tobytes() == expected.tobytes()


def test_views_use_the_versions_compiled_at_import(synthetic_root: Path, arkitscenes_root: Path) -> None:
    """Every compiled pass a view of a ScanNet or ARKitScenes scan (a camera per frame) calls is one of the versions
    compiled when the module is imported (what the fork server hands its workers): none is compiled mid-build."""
    probe = f"""
from pathlib import Path
from ladderdata.metadata import kernels, views
from ladderdata.metadata.config import MetadataConfig
from ladderdata.metadata.extract import measure_scan
from ladderdata.sources.base import detect_source, open_source, source_config
passes = [kernels.pixel_directions, kernels.pixel_rays, kernels.hit_owners, kernels.listed_objects,
          kernels.agreeing, kernels.depth_figures]
before = [len(p.signatures) for p in passes]
assert views.compiled_kernels() is kernels
for root in map(Path, {[str(synthetic_root), str(arkitscenes_root)]!r}):
    source = open_source(source_config(detect_source(root), root=root))
    measure_scan(source.load(source.scan_ids()[0]), MetadataConfig(frame_stride=2))
print(before == [len(p.signatures) for p in passes], [p.signatures for p in passes])
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("True"), done.stdout


def test_samples_seen_from_any_pose_are_the_numpy_codes_figures() -> None:
    """The samples moved and rotated into the camera frame inside ``kernels.listed_objects`` give the figures of
    ``_samples_from_camera`` and numpy's product: random poses looking at the objects, runs of objects in view and
    runs of a single sample (numpy's own loop)."""
    boxes = [(f"b{i}", (0.3 * i - 1.5, -0.2, 3.0), (0.3 * i - 1.3, 0.0, 3.3)) for i in range(10)]
    measurer = ViewMeasurer(analytic_scan(boxes), MetadataConfig(), IMAGE)
    S, n, cfg = measurer.samples, len(boxes), measurer.config
    rng = np.random.default_rng(9)
    listed = 0
    for trial in range(40):
        pose = random_pose(rng)
        pose[:3, :3] = np.linalg.qr(np.eye(3) + rng.normal(scale=0.15, size=(3, 3)))[0] * [1, 1, 1]
        pose[:3, :3] *= np.sign(np.diag(pose[:3, :3]))  # near the identity: looking along +z at the boxes
        pose[:3, 3] = rng.uniform(-0.3, 0.3, 3)
        view = measurer.render(pose)
        in_view = np.flatnonzero(rng.random(n) < 0.8) if trial % 4 else np.array([trial % n])
        runs = measurer._sample_runs(in_view if in_view.size else np.arange(n))
        if trial % 4 == 0:  # one sample alone
            first = int(runs[0, 0]) + trial % 7
            runs = np.array([[first], [first + 1]])
        K = view.intrinsics
        camera = np.array([K.fx, K.fy, K.cx, K.cy, K.width, K.height, cfg.near, cfg.depth_tolerance, 1296 / K.width])
        camera = np.r_[camera, 1296, 968, pose[:3].ravel()]
        found = kernels.listed_objects(S.points_t, runs, S.owner, S.is_area, view.depth, view.instance, camera, n)
        offsets, begins, shifts = measurer._samples_from_camera(runs, pose[:3, 3])
        numpy = measurer._listed_numpy(pose[:3, :3].T @ offsets, begins, shifts, view, IMAGE)
        for field, got in zip(ListedObjects.__dataclass_fields__, found, strict=True):
            expected = getattr(numpy, field)
            assert got.shape == expected.shape and got.tobytes() == expected.tobytes(), (trial, field)
        listed += found[0].size
    assert listed > 100


def falls_back_to_numpy_once(caplog: pytest.LogCaptureFixture) -> str:
    """Loads the kernels afresh, twice: views are measured with the numpy code, and the one warning saying why is
    returned."""
    views._loaded_kernels.cache_clear()
    try:
        assert views.compiled_kernels() is None
        assert views.compiled_kernels() is None
    finally:
        views._loaded_kernels.cache_clear()
    warnings = [r.getMessage() for r in caplog.records if "numpy code" in r.getMessage()]
    assert len(warnings) == 1
    return warnings[0]


def test_the_compiled_passes_wait_for_numpys_rounding(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """On this machine numpy's products round as the compiled passes do; on one where they would not (a BLAS
    without fused multiply-adds), views are measured with the numpy code, saying why once."""
    assert kernels.reproduces_matrix_product()

    def rounded_apart(matrix: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """What a BLAS without fused multiply-adds computes: every product and sum rounded."""
        rounded: np.ndarray = matrix[:, :1] * columns[0] + matrix[:, 1:2] * columns[1] + matrix[:, 2:3] * columns[2]
        return rounded

    monkeypatch.setattr(kernels, "_rotated_columns", rounded_apart)
    assert not kernels.reproduces_matrix_product()
    assert "fused multiply-adds" in falls_back_to_numpy_once(caplog)


def test_hit_owners_are_the_numpy_codes(synthetic_root: Path) -> None:
    """The depth and object of every pixel of a rendered view: the triangle's object, or for triangles on a border
    between objects the object of the corner with the largest weight, the first of equal weights."""
    scan = open_source(source_config("scannet", root=synthetic_root)).load("scene0000_00")
    measurer = ViewMeasurer(scan, MetadataConfig(), scan.frames.color_intrinsics if scan.frames else IMAGE)
    rng = np.random.default_rng(6)
    faces = len(measurer.face_owner) - 1
    # synthetic objects share no triangle: every 3rd is resolved per hit, its corners given random objects
    measurer.face_owner[:-1:3] = views.MIXED
    measurer.corner_owner[:-1] = rng.integers(0, len(scan.objects), (faces, 3))
    h, w = measurer.render_k.height, measurer.render_k.width
    # ties: weights from a few values, so that two or three corners often weigh the same
    uv = rng.choice(np.array([0.0, 0.25, 0.5, 1 / 3, 0.125], np.float32), (h, w, 2))
    triangle = rng.choice(
        np.r_[-1, np.flatnonzero(measurer.face_owner[:-1] == views.MIXED), rng.integers(0, faces, 50)], (h, w)
    )
    t_hit = rng.uniform(0.5, 8.0, (h, w)).astype(np.float32)
    t_hit[triangle < 0] = np.inf
    hits = Hits(t_hit, triangle.astype(np.int32), uv)
    z_factor = pixel_directions_by_axis(measurer.render_k)[2].reshape(
        h, w
    )  # the compiled path's: ray_z_factor's values
    assert z_factor.tobytes() == ray_z_factor(measurer.render_k).tobytes()
    compiled = kernels.hit_owners(
        hits.t_hit, z_factor, hits.triangle, hits.uv, measurer.face_owner, measurer.corner_owner, views.MIXED
    )
    numpy = measurer._hit_owners_numpy(hits, z_factor)
    for got, expected in zip(compiled, numpy, strict=True):
        assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()
    for pose in scan.poses[:4]:  # and real casts
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(NO_JIT_ENV, "1")
            numpy_view = measurer.render(pose)
        compiled_view = measurer.render(pose)
        assert compiled_view.depth.tobytes() == numpy_view.depth.tobytes()
        assert compiled_view.instance.tobytes() == numpy_view.instance.tobytes()


def test_a_view_without_objects_lists_none() -> None:
    measurer = ViewMeasurer(analytic_scan([("behind", (-0.5, -0.5, -3.0), (0.5, 0.5, -2.0))]), MetadataConfig(), IMAGE)
    _, _, _, runs, points, view = crafted_view(measurer, 0)
    points[2] = -1.0  # every sample behind the camera
    camera = np.r_[1.0, 1.0, 0.0, 0.0, 40, 30, 0.05, 0.05, 1.0, 40, 30, np.eye(4)[:3].ravel()]
    found = ListedObjects(
        *kernels.listed_objects(
            points,
            runs,
            measurer.samples.owner,
            measurer.samples.is_area,
            view.depth,
            view.instance,
            camera,
            1,
        )
    )
    assert found.index.size == 0 and found.corners.shape == (4, 0) and found.centroid.shape == (0, 3)
    assert measurer.measure(np.eye(4), Timings())[0] == []


def test_kth_smallest_is_numpys_partition() -> None:
    rng = np.random.default_rng(3)
    for size in [1, 2, 3, 7, 64, 1001]:
        values = rng.integers(0, 5 if size > 3 else 2, size).astype(np.float64) + rng.choice([0.0, 0.25], size)
        for kth in {0, (size - 1) // 2, size - 1}:
            expected = np.partition(values, kth)[kth]
            assert kernels._kth_smallest(values.copy(), kth) == expected
            assert kernels._kth_smallest(np.sort(values), kth) == expected
            assert kernels._kth_smallest(np.sort(values)[::-1].copy(), kth) == expected


def test_depth_gate_figures_are_the_numpy_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    """``depth_check.view_depth`` (the medians of the sensor's valid values and of the rendered depths, the
    rendered pixels with a surface), on odd and even counts, views without a surface or without valid depth."""
    rng = np.random.default_rng(5)
    for seed in range(30):
        shape, render_shape = [(48, 64), (47, 63)][seed % 2], [(24, 32), (25, 31), (3, 3)][seed % 3]
        sensor = rng.integers(0, 4000, shape).astype(np.uint16)
        sensor[rng.random(shape) < [0.3, 1.0, 0.0][seed % 3]] = 0
        rendered = rng.uniform(0.2, 6.0, render_shape).astype(np.float32)
        rendered[rng.random(render_shape) < [0.2, 0.0, 1.0][seed % 4 % 3]] = np.inf
        monkeypatch.delenv(NO_JIT_ENV, raising=False)
        compiled = view_depth(0.5, sensor, 1000.0, rendered)
        monkeypatch.setenv(NO_JIT_ENV, "1")
        numpy = view_depth(0.5, sensor, 1000.0, rendered)
        assert pickle.dumps(compiled) == pickle.dumps(numpy), seed


def test_depth_agreement_counts_are_the_numpy_codes() -> None:
    rng = np.random.default_rng(4)
    sensor = rng.integers(0, 6000, 5000).astype(np.uint16)
    sensor[rng.random(5000) < 0.2] = 0
    rendered = (sensor / 1000.0 + rng.normal(0, 0.08, 5000)).astype(np.float32)
    rendered[::7] = np.inf
    pixels = rng.permutation(5000)[:3000]
    expected = views._agreeing_numpy(sensor, rendered, pixels, pixels[::-1].copy(), 1000.0)
    assert kernels.agreeing(sensor, rendered, pixels, pixels[::-1].copy(), 1000.0) == expected
    assert 0 < expected[0] < expected[1] < 3000


def test_no_jit_and_no_numba_measure_with_the_numpy_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NO_JIT_ENV, "1")
    assert views.compiled_kernels() is None
    monkeypatch.delenv(NO_JIT_ENV)
    assert views.compiled_kernels() is kernels
    # without numba: the kernels module cannot be imported, and views are measured all the same
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.delitem(sys.modules, "ladderdata.metadata.kernels")
    monkeypatch.delattr("ladderdata.metadata.kernels")
    views._loaded_kernels.cache_clear()
    try:
        assert views.compiled_kernels() is None
        measurer = ViewMeasurer(analytic_scan([("box", (-0.5, -0.5, 3.0), (0.5, 0.5, 4.0))]), MetadataConfig(), IMAGE)
        assert [o.label for o in measurer.measure(np.eye(4), Timings())[0]] == ["box"]
    finally:
        views._loaded_kernels.cache_clear()


def test_no_writable_cache_folder_measures_with_the_numpy_code(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Where numba finds no folder to cache compiled code in (package, NUMBA_CACHE_DIR and the user's cache not
    writable) importing the kernels fails; views are then measured with the numpy code, saying why once."""
    from numba.core import caching

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])  # what numba has left when none is writable
    monkeypatch.delitem(sys.modules, "ladderdata.metadata.kernels")
    monkeypatch.delattr("ladderdata.metadata.kernels")
    assert "NUMBA_CACHE_DIR" in falls_back_to_numpy_once(caplog)


def test_a_worker_preload_without_numba_skips_it() -> None:
    """The fork server's preload (``executor.local.WORKER_PRELOAD`` names numba and the kernels) goes on where
    numba is not installed."""
    probe = (
        "import sys; sys.modules['numba'] = None; import ladderdata.executor.preload, cv2; "
        "print(sorted(m for m in sys.modules if 'kernels' in m))"
    )
    env = {**os.environ, PRELOAD_ENV: "numba,ladderdata.metadata.kernels,cv2"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
