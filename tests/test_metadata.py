"""Per-view metadata against analytic scenes (camera at the origin looking down +z) and synthetic scans."""

import shutil
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import ndimage
from scipy.spatial import ConvexHull
from scipy.spatial.transform import Rotation

from fixtures.factories import analytic_scan, copy_root, load_ground_truth, scan_paths
from ladderdata.cache import TEMP_SUFFIX
from ladderdata.executor import LocalExecutor
from ladderdata.geometry.camera import CameraIntrinsics, in_frustum, project, world_to_camera
from ladderdata.layout import FramesLayout
from ladderdata.metadata.config import MetadataConfig, ObjectInView
from ladderdata.metadata.extract import (
    ensure_metadata,
    metadata_path,
    process_scan,
    process_scans,
    read_views,
    select_frames,
)
from ladderdata.metadata.views import (
    RenderedView,
    SensorToRender,
    Timings,
    ViewMeasurer,
    _mask_extents,
    depth_agreement,
)
from ladderdata.sources.base import open_source, source_config
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig

IMAGE = CameraIntrinsics(fx=1000.0, fy=1000.0, cx=647.5, cy=483.5, width=1296, height=968)
POSE = np.eye(4)  # OpenCV camera at the world origin: x right, y down, z forward
CONFIG = MetadataConfig()


Box = tuple[str, tuple[float, float, float], tuple[float, float, float]]


def measure(boxes: list[Box], config: MetadataConfig = CONFIG) -> dict[str, ObjectInView]:
    scan = analytic_scan(boxes)
    objects, _ = ViewMeasurer(scan, config, IMAGE).measure(POSE, Timings())
    return {o.label: o for o in objects}


def analytic_bbox(lo: tuple[float, float, float], hi: tuple[float, float, float]) -> np.ndarray:
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    px, _ = project(world_to_camera(corners, POSE), IMAGE)
    return np.asarray(np.r_[px.min(0), px.max(0)] + 0.5, dtype=np.float64)  # pixel-edge coordinates


def test_half_hidden_box_has_visibility_one_half() -> None:
    target = ("target", (-0.5, -0.5, 4.0), (0.5, 0.5, 5.0))
    occluder = ("occluder", (-1.0, -0.8, 2.0), (0.0, 0.8, 2.1))  # in frame; hides every ray with x < 0
    seen = measure([target, occluder])
    assert seen["target"].visibility == pytest.approx(0.5, abs=0.03)
    assert seen["target"].in_frustum == pytest.approx(1.0)
    assert seen["occluder"].visibility == pytest.approx(1.0)
    # the visible half starts at the occluder's edge (u = cx) and ends at the front face's right edge
    expected = analytic_bbox(target[1], target[2])
    expected[0] = IMAGE.cx + 0.5
    np.testing.assert_allclose(seen["target"].bbox_2d, expected, atol=3.0)


def test_unoccluded_objects_have_visibility_one_and_exact_boxes() -> None:
    boxes = [("a", (-1.2, -0.3, 3.0), (-0.6, 0.4, 3.5)), ("b", (0.3, 0.1, 4.0), (1.1, 0.9, 5.2))]
    seen = measure(boxes)
    for label, lo, hi in boxes:
        assert seen[label].visibility == pytest.approx(1.0)
        np.testing.assert_allclose(seen[label].bbox_2d, analytic_bbox(lo, hi), atol=2.0)
        assert seen[label].depth_min == pytest.approx(lo[2], abs=1e-6)
        # the share of the image the box covers: its projected silhouette (the hull of its corners' pixels)
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        px, _ = project(world_to_camera(corners, POSE), IMAGE)
        silhouette = ConvexHull(px).volume / (IMAGE.width * IMAGE.height)
        assert seen[label].pixel_fraction == pytest.approx(silhouette, rel=0.05)


def test_box_cut_by_image_border_has_right_in_frustum_fraction() -> None:
    z, a, b = 5.0, 1.0, 5.0
    x_edge = (IMAGE.width - 0.5 - IMAGE.cx) / IMAGE.fx * z  # the image's right border at depth z
    seen = measure([("panel", (a, -0.5, z), (b, 0.5, z + 0.002))])
    expected = (x_edge - a) / (b - a)
    assert seen["panel"].in_frustum == pytest.approx(expected, abs=0.02)
    assert seen["panel"].visibility == pytest.approx(expected, abs=0.02)
    assert seen["panel"].bbox_2d[2] == pytest.approx(IMAGE.width, abs=0.5)


def test_objects_behind_the_camera_are_never_listed() -> None:
    seen = measure([("behind", (-2.0, -2.0, -3.0), (2.0, 2.0, -0.1)), ("front", (-0.2, -0.2, 2.0), (0.2, 0.2, 2.4))])
    assert set(seen) == {"front"}


def test_fully_hidden_object_is_not_listed() -> None:
    seen = measure([("hidden", (-0.2, -0.2, 5.0), (0.2, 0.2, 5.4)), ("wall", (-3.0, -3.0, 3.0), (3.0, 3.0, 3.1))])
    assert set(seen) == {"wall"}


def test_centroid_of_a_visible_box_is_its_centre() -> None:
    seen = measure([("cube", (-0.5, -0.5, 3.0), (0.5, 0.5, 4.0))])
    np.testing.assert_allclose(seen["cube"].centroid_cam, [0.0, 0.0, 3.5], atol=0.02)


def test_objects_past_an_8_bit_index_keep_theirs() -> None:
    """Triangle owners are stored in the smallest integer type that holds the scan's object indices (int8 up to
    128 objects); with 300, each of a grid of boxes is still seen whole, under its own index."""
    boxes: list[Box] = []
    for row in range(15):
        for col in range(20):
            x, y = -1.9 + 0.2 * col, -1.45 + 0.2 * row
            boxes.append((f"box{len(boxes)}", (x, y, 4.0), (x + 0.1, y + 0.1, 4.1)))
    scan = analytic_scan(boxes)
    measurer = ViewMeasurer(scan, CONFIG, IMAGE)
    objects, view = measurer.measure(POSE, Timings())
    assert measurer.face_owner.dtype == np.int16
    assert sorted(o.object_id for o in objects) == list(range(300))
    assert all(o.visibility == pytest.approx(1.0) for o in objects)
    assert np.unique(view.instance).tolist() == list(range(-1, 300))


def test_synthetic_views_agree_with_sensor_depth(synthetic_root: Path) -> None:
    scan = ScanNetSource(ScanNetSourceConfig(root=synthetic_root)).load("scene0000_00")
    from ladderdata.metadata.extract import extract_views

    views = extract_views(scan, MetadataConfig(frame_stride=1))
    assert len(views) == int(scan.valid_poses.sum())
    assert all(v.depth_agreement is not None and v.depth_agreement > 0.99 for v in views)
    assert all(v.objects for v in views)
    for v in views:
        for o in v.objects:
            assert 0 < o.visibility <= o.in_frustum <= 1
            x1, y1, x2, y2 = o.bbox_2d
            assert 0 <= x1 <= x2 <= 1296 and 0 <= y1 <= y2 <= 968


def test_objects_skipped_by_their_bounding_sphere_have_no_sample_in_the_image(synthetic_root: Path) -> None:
    """The per-view statistics skip objects whose bounding sphere misses the view frustum; none of them has a
    sample in the frustum (``camera.in_frustum``, its own projection), on the scan's poses and on random poses
    inside and around the room, and some views do skip objects."""
    scan = ScanNetSource(ScanNetSourceConfig(root=synthetic_root)).load("scene0000_00")
    assert scan.frames is not None
    measurer = ViewMeasurer(scan, CONFIG, scan.frames.color_intrinsics)
    samples = measurer.samples
    rng = np.random.default_rng(0)
    lo, hi = samples.points.min(axis=0) - 1.0, samples.points.max(axis=0) + 1.0
    poses = list(scan.poses[scan.valid_poses])
    for rotation in Rotation.random(200, random_state=1).as_matrix():
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = rotation, rng.uniform(lo, hi)
        poses.append(pose)
    skipped_some = False
    K = measurer.render_k
    wide = K.model_copy(update={"fx": 0.5 * K.fx, "fy": 0.5 * K.fy})  # a frame with its own, wider camera
    for pose in poses:
        for camera in (K, wide):
            seen = in_frustum(samples.points, pose, camera, CONFIG.near)
            skipped = np.setdiff1d(np.arange(len(scan.objects)), measurer.in_view_objects(pose, camera))
            assert not np.isin(samples.owner[seen], skipped).any()
            skipped_some |= skipped.size > 0
    assert skipped_some


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_frame_stride_keeps_frame_numbers_that_are_multiples(synthetic_root: Path, tmp_path: Path, stride: int) -> None:
    """``frame_stride`` k keeps the frames whose number is a multiple of k among those with a valid pose: an
    export with missing frames keeps the same frame numbers as the full stream, minus the missing ones."""
    gt = load_ground_truth(synthetic_root, "scene0000_00")
    root = copy_root(synthetic_root, tmp_path / "root")
    paths = scan_paths(root, "scene0000_00")
    missing = [3, 6, 7]  # a gappy SensReader export: these frames were never exported
    for frame in missing:
        paths.export_pose(frame).unlink()
    config = MetadataConfig(frame_stride=stride)
    full = ScanNetSource(ScanNetSourceConfig(root=root, frames_layout=FramesLayout.SENS)).load("scene0000_00")
    gappy = ScanNetSource(ScanNetSourceConfig(root=root, frames_layout=FramesLayout.EXPORT)).load("scene0000_00")
    expected = [f for f in range(10) if f % stride == 0 and f not in gt.invalid_frames]
    assert full.frames is not None and gappy.frames is not None
    assert full.frames.frame_ids[select_frames(full, config)].tolist() == expected
    assert gappy.frames.frame_ids[select_frames(gappy, config)].tolist() == [f for f in expected if f not in missing]


def test_blur_filter_drops_frames_below_threshold(synthetic_root: Path) -> None:
    from ladderdata.metadata.extract import extract_views

    scan = ScanNetSource(ScanNetSourceConfig(root=synthetic_root)).load("scene0000_00")
    sharp = extract_views(scan, MetadataConfig(frame_stride=1, blur_threshold=0.0))
    values = sorted(v.sharpness for v in sharp if v.sharpness is not None)
    cut = values[len(values) // 2]
    kept = extract_views(scan, MetadataConfig(frame_stride=1, blur_threshold=cut))
    assert len(kept) == sum(v >= cut for v in values) < len(sharp)


def test_cache_reuse_invalidation_and_failures(synthetic_root: Path, tmp_path: Path) -> None:
    root = copy_root(synthetic_root, tmp_path / "root")
    out = tmp_path / "meta"
    src = ScanNetSourceConfig(root=root)
    cfg = MetadataConfig(frame_stride=3)
    first = process_scans(src, ["scene0000_00", "scene0001_00"], cfg, out)
    assert [r.status for r in first] == ["computed", "computed"]
    assert [r.status for r in process_scans(src, ["scene0000_00", "scene0001_00"], cfg, out)] == ["cached"] * 2
    assert process_scan(src, MetadataConfig(frame_stride=4), out, "scene0000_00").status == "computed"
    agg = scan_paths(root, "scene0001_00").aggregation
    agg.write_text(agg.read_text().replace('"label": "wall"', '"label": "wall", "extra": 1', 1))
    assert process_scan(src, cfg, out, "scene0001_00").status == "computed"
    agg.write_text("{broken")
    failed = process_scan(src, cfg, out, "scene0001_00")
    assert failed.status == "failed" and "scene0001_00" in (failed.error or "") and agg.name in (failed.error or "")
    assert sorted(p.name for p in out.glob("*.parquet")) == ["scene0000_00.parquet", "scene0001_00.parquet"]
    assert not list(out.rglob(f"*{TEMP_SUFFIX}"))
    views = read_views(metadata_path(out, "scene0000_00"))  # last computed with stride 4
    scan = ScanNetSource(src).load("scene0000_00")
    assert [v.frame_id for v in views] == [f for f in np.flatnonzero(scan.valid_poses).tolist() if f % 4 == 0]
    assert pq.read_schema(metadata_path(out, "scene0000_00")).metadata[b"ladder.scan_id"] == b"scene0000_00"


def test_same_output_whatever_the_workers(synthetic_root: Path, tmp_path: Path) -> None:
    src = ScanNetSourceConfig(root=synthetic_root)
    cfg = MetadataConfig(frame_stride=3)
    ids = ["scene0000_00", "scene0001_00"]
    process_scans(src, ids, cfg, tmp_path / "one")
    with LocalExecutor(workers=2) as executor:
        process_scans(src, ids, cfg, tmp_path / "two", executor)
    for scan_id in ids:
        a = pq.read_table(metadata_path(tmp_path / "one", scan_id))
        b = pq.read_table(metadata_path(tmp_path / "two", scan_id))
        assert a.equals(b) and a.schema.metadata == b.schema.metadata
    shutil.rmtree(tmp_path / "two")


@pytest.mark.parametrize("layout", [FramesLayout.EXPORT, FramesLayout.SENS])
def test_cache_key_covers_the_frames(synthetic_root: Path, tmp_path: Path, layout: FramesLayout) -> None:
    """Replacing depth frames after a metadata run must recompute the depth agreement (never keep the old one)."""
    root = copy_root(synthetic_root, tmp_path / "root")
    out = tmp_path / "meta"
    src = ScanNetSourceConfig(root=root, frames_layout=layout)
    cfg = MetadataConfig(frame_stride=3)
    assert process_scan(src, cfg, out, "scene0000_00").status == "computed"
    assert all((v.depth_agreement or 0) > 0.99 for v in read_views(metadata_path(out, "scene0000_00")))
    paths = scan_paths(root, "scene0000_00")
    if layout is FramesLayout.EXPORT:  # every depth frame now reads 1 m further than the surface
        for png in paths.export_depth_dir.glob("*.png"):
            depth = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
            assert depth is not None
            cv2.imwrite(str(png), np.where(depth > 0, depth + 1000, 0).astype(np.uint16))
    else:  # the same .sens with another sensor name in its header: still valid, same size, other bytes
        data = bytearray(paths.sens.read_bytes())
        data[12] ^= 0x01  # u32 version, u64 name length, then the name
        paths.sens.write_bytes(bytes(data))
    again = process_scan(src, cfg, out, "scene0000_00")
    if layout is FramesLayout.EXPORT:  # recomputed: every view now disagrees, and the depth gate fails the scan
        assert again.status == "failed" and again.error is not None
        assert "sensor depth disagrees with the mesh: median agreement 0.00" in again.error
        assert "the poses do not match the frames" in again.error  # 1 m off is no unit: the gate cannot tell more
    else:
        assert again.status == "computed"


def test_unchanged_input_files_are_not_read_again(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """File hashes are memoised by (path, size, mtime): a rerun reads no input file to recognise a finished scan."""
    from ladderdata import cache

    out = tmp_path / "meta"
    src = ScanNetSourceConfig(root=synthetic_root)
    cfg = MetadataConfig(frame_stride=5)
    assert process_scan(src, cfg, out, "scene0000_00").status == "computed"
    hashed: list[Path] = []
    real = cache.file_digest

    def counting(path: Path, algorithm: cache.Digest = "sha256") -> str:
        hashed.append(path)
        return real(path, algorithm)

    monkeypatch.setattr(cache, "file_digest", counting)
    assert process_scan(src, cfg, out, "scene0000_00").status == "cached"
    assert hashed == []


def agreement_by_the_formula(
    sensor: np.ndarray, depth_k: CameraIntrinsics, view: RenderedView, step: int = 4
) -> float | None:
    """The sensor-depth agreement pixel by pixel: back-project each valid sensor pixel, project it into the
    rendered camera, compare depths."""
    agree = compared = 0
    render_k = view.intrinsics
    for row in range(0, sensor.shape[0], step):
        for col in range(0, sensor.shape[1], step):
            if sensor[row, col] == 0:
                continue
            z = float(sensor[row, col]) / 1000.0
            x, y = (col - depth_k.cx) / depth_k.fx * z, (row - depth_k.cy) / depth_k.fy * z
            u, v = round(render_k.fx * x / z + render_k.cx), round(render_k.fy * y / z + render_k.cy)
            if 0 <= u < render_k.width and 0 <= v < render_k.height:
                compared += 1
                agree += abs(float(view.depth[v, u]) - z) < 0.05 + 0.02 * z
    return agree / compared if compared else None


@pytest.mark.parametrize(
    "depth_k",
    [
        CameraIntrinsics(fx=577.9, fy=577.9, cx=319.5, cy=239.5, width=640, height=480),  # ScanNet's
        CameraIntrinsics(fx=500.0, fy=500.0, cx=320.0, cy=240.0, width=640, height=480),  # half-pixel positions
    ],
)
def test_depth_agreement_is_the_formula_pixel_by_pixel(depth_k: CameraIntrinsics) -> None:
    """The agreement through the cached sensor-to-render pixel map counts exactly the pixels the formula does,
    also where a sensor pixel lands on a half pixel of the rendered view (mapped per view)."""
    render_k = CameraIntrinsics(fx=250.0, fy=250.0, cx=161.5, cy=120.5, width=324, height=242)
    rng = np.random.default_rng(5)
    rendered = rng.uniform(0.5, 4.0, (242, 324)).astype(np.float32)
    rendered[rng.random(rendered.shape) < 0.1] = np.inf
    view = RenderedView(rendered, np.full((242, 324), -1), render_k)
    sensor = rng.integers(500, 4000, (480, 640)).astype(np.uint16)
    near = rng.random(sensor.shape) < 0.5  # half the pixels agree with the rendered view's depth there
    u = np.rint(render_k.fx * (np.arange(640) - depth_k.cx) / depth_k.fx + render_k.cx).astype(int)
    v = np.rint(render_k.fy * (np.arange(480) - depth_k.cy) / depth_k.fy + render_k.cy).astype(int)
    vv, uu = np.meshgrid(np.clip(v, 0, 241), np.clip(u, 0, 323), indexing="ij")
    sensor[near] = np.clip(np.nan_to_num(rendered[vv, uu][near], posinf=0.0) * 1000, 0, 65535).astype(np.uint16)
    sensor[rng.random(sensor.shape) < 0.2] = 0
    uncertain = SensorToRender.of(depth_k, render_k, sensor.shape, 4).uncertain.size
    assert uncertain == 0 if depth_k.cx == 319.5 else uncertain > 0
    expected = agreement_by_the_formula(sensor, depth_k, view)
    assert expected is not None and 0.2 < expected < 0.8
    assert depth_agreement(sensor, depth_k, view) == expected
    assert depth_agreement(np.zeros_like(sensor), depth_k, view) is None


def test_mask_extents_are_scipys_find_objects() -> None:
    rng = np.random.default_rng(6)
    for n in (1, 5, 40):
        instance = np.full((60, 80), -1)
        for i in rng.permutation(n)[: max(1, n - 2)]:  # some objects have no pixel
            r, c = rng.integers(0, 60), rng.integers(0, 80)
            instance[r : r + rng.integers(1, 30), c : c + rng.integers(1, 40)] = i
        instance[rng.random(instance.shape) < 0.05] = rng.integers(-1, n)  # stray pixels
        extents = _mask_extents(instance, n)
        np.testing.assert_array_equal(extents.pixel_count, np.bincount(instance.ravel() + 1, minlength=n + 1)[1:])
        for i, box in enumerate(ndimage.find_objects(instance + 1, max_label=n)):
            expected = [0, 0, 0, 0] if box is None else [box[0].start, box[0].stop, box[1].start, box[1].stop]
            assert extents.bounds[:, i].tolist() == expected


@pytest.mark.parametrize("source", ["scannet", "scannetpp", "arkitscenes"])
def test_views_just_measured_are_the_views_read_back(
    source: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A cold build drafts from the views it measured, a rerun from the views its metadata file holds: they are
    the same, field by field and bit by bit (their JSON spells every float exactly), whatever the source (frames
    with their own cameras and timestamps: ARKitScenes; sharpness and depth agreement set)."""
    root = request.getfixturevalue({"scannet": "synthetic_root"}.get(source, f"{source}_root"))
    scans = open_source(source_config(source, root=root))
    scan = scans.load(scans.scan_ids()[0])
    config = MetadataConfig(frame_stride=1, blur_threshold=0.0)
    measured = ensure_metadata(scan, "key", config, tmp_path, Timings())
    read_back = ensure_metadata(scan, "key", config, tmp_path, Timings())
    assert (measured.status, read_back.status) == ("computed", "cached")
    assert measured.views and any(v.objects for v in measured.views)
    assert all(v.sharpness is not None for v in measured.views)
    assert [v.model_dump_json() for v in measured.views] == [v.model_dump_json() for v in read_back.views]
    assert measured.depth_warning == read_back.depth_warning
