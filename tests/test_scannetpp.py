"""The ScanNet++ reader against synthetic ScanNet++ scenes with exact ground truth, and its errors."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from fixtures.factories import copy_root, load_ground_truth
from ladderdata.errors import ConfigError, CorruptFileError, InconsistentScanError, MissingFileError
from ladderdata.geometry.measure import floor_area, object_size_cm, surface_distance
from ladderdata.sources.base import SOURCES, detect_source
from ladderdata.sources.scannetpp import OPENGL_TO_OPENCV, ScanNetPPPaths, ScanNetPPSource, ScanNetPPSourceConfig
from ladderdata.sources.synthetic_scannetpp import IPHONE_K, scene_id


def source(root: Path, **kw: object) -> ScanNetPPSource:
    return ScanNetPPSource(ScanNetPPSourceConfig(root=root, **kw))


def test_registered_and_detected(scannetpp_root: Path, synthetic_root: Path, tmp_path: Path) -> None:
    assert SOURCES["scannetpp"] is ScanNetPPSource
    assert detect_source(scannetpp_root) == "scannetpp"
    assert detect_source(synthetic_root) == "scannet"
    (tmp_path / "notes.txt").write_text("not a scan")
    with pytest.raises(ConfigError, match=r"looked for .*scannetpp: data/<scene_id>/scans/"):
        detect_source(tmp_path)


def test_scene_ids_and_official_split_lists(scannetpp_root: Path) -> None:
    src = source(scannetpp_root)
    ids = sorted([scene_id(1, 0), scene_id(1, 1)])
    assert src.scan_ids() == ids and all(len(i) == 10 for i in ids)
    assert src.scan_ids("train") == ids == src.scan_ids("nvs_sem_train")
    assert src.scan_ids("val") == []
    with pytest.raises(ConfigError, match="sem_test"):
        source(scannetpp_root, split_dir=scannetpp_root / "data").scan_ids("test")


@pytest.mark.parametrize("index", [0, 1])
def test_geometry_matches_ground_truth(scannetpp_root: Path, index: int) -> None:
    scan_id = scene_id(1, index)
    gt = load_ground_truth(scannetpp_root, scan_id)
    scan = source(scannetpp_root).load(scan_id)
    objs = {o.info.object_id: o for o in scan.objects}
    assert sorted(objs) == [o.object_id for o in gt.objects]
    for g in gt.objects:
        o = objs[g.object_id]
        assert o.info.label == g.label
        np.testing.assert_allclose(o.aabb.minimum, g.aabb_min, atol=1e-5)
        np.testing.assert_allclose(o.aabb.maximum, g.aabb_max, atol=1e-5)
        if g.size_cm is not None:
            assert object_size_cm(o.points) == pytest.approx(g.size_cm, abs=0.1)
    for d in gt.distances:
        assert surface_distance(objs[d.a].surface, objs[d.b].surface) == pytest.approx(d.distance, abs=1e-3)
    floor = next(o for o in scan.objects if o.info.label == "floor")
    assert floor_area(floor.surface.vertices, floor.surface.faces) == pytest.approx(gt.floor_area, rel=0.01)


def test_iphone_frames_poses_and_anonymised_frames(scannetpp_root: Path) -> None:
    scan_id = scene_id(1, 0)
    gt = load_ground_truth(scannetpp_root, scan_id)
    scan = source(scannetpp_root).load(scan_id)
    frames = scan.frames
    assert frames is not None and frames.layout == "iphone" and frames.time_known
    np.testing.assert_array_equal(frames.frame_ids, np.arange(8))
    np.testing.assert_array_equal(frames.timestamps_us, np.round(np.arange(8) * 1e6 / 60))
    # invalid poses and the frame anonymised over 30% are unusable; the one anonymised over 1% is kept
    assert np.flatnonzero(~scan.valid_poses).tolist() == gt.invalid_frames and len(gt.invalid_frames) == 3
    strict = source(scannetpp_root, max_masked_fraction=0.0).load(scan_id)
    assert strict.num_invalid_poses == 4
    assert frames.color_intrinsics == IPHONE_K
    depth_k = frames.depth_intrinsics
    assert depth_k is not None and (depth_k.width, depth_k.height) == (256, 192)
    assert depth_k.fx == pytest.approx(IPHONE_K.fx * 256 / 1920)
    assert frames.read_color(1).shape == (1440, 1920, 3) and frames.read_depth(1).shape == (192, 256)
    centres = scan.poses[scan.valid_poses][:, :3, 3]
    poly = np.array(gt.room_polygon)
    assert (centres[:, :2] > poly.min(0)).all() and (centres[:, :2] < poly.max(0)).all()


def test_label_vocabulary_and_map(scannetpp_root: Path) -> None:
    scans = [source(scannetpp_root).load(scene_id(1, i)) for i in (0, 1)]
    infos = [o.info for s in scans for o in s.objects]
    for info in infos:
        expected = {"office chair": "chair", "coffee table": "table"}.get(info.label, info.label)
        assert info.category == expected
        assert info.in_label_table == (info.label != "backpack")
    assert {"wall", "floor"} <= {i.category for i in infos}


def test_dslr_frames_from_undistorted_transforms(scannetpp_root: Path, tmp_path: Path) -> None:
    """DSLR poses are OpenGL cameras in nerfstudio's transforms: the reader's OpenCV poses must equal the iPhone
    ones they were made from, images are read from undistorted_images/."""
    root = copy_root(scannetpp_root, tmp_path / "root")
    scan_id = scene_id(1, 0)
    paths = ScanNetPPPaths(root / "data" / scan_id)
    iphone = json.loads(paths.iphone_poses.read_text())
    paths.dslr_images.mkdir(parents=True)
    frames = []
    for n in (1, 3, 5):
        shutil.copy(paths.iphone_frame(paths.iphone_rgb, n, ".jpg"), paths.dslr_images / f"DSC{n:05d}.JPG")
        pose = np.array(iphone[f"frame_{n:06d}"]["aligned_pose"]) @ OPENGL_TO_OPENCV  # its own inverse
        frames.append({"file_path": f"DSC{n:05d}.JPG", "transform_matrix": pose.tolist(), "is_bad": n == 5})
    k = IPHONE_K
    transforms = {"camera_model": "PINHOLE", "fl_x": k.fx, "fl_y": k.fy, "cx": k.cx, "cy": k.cy, "w": k.width}
    paths.dslr_transforms.parent.mkdir(parents=True)
    paths.dslr_transforms.write_text(json.dumps({**transforms, "h": k.height, "frames": frames}))
    scan = source(root, camera="dslr").load(scan_id)
    assert scan.frames is not None and not scan.frames.time_known and scan.frames.depth_intrinsics is None
    assert scan.frames.frame_ids.tolist() == [1, 3, 5] and scan.valid_poses.tolist() == [True, True, False]
    for pos, n in enumerate((1, 3)):
        np.testing.assert_allclose(scan.poses[pos], iphone[f"frame_{n:06d}"]["aligned_pose"], atol=1e-9)
    assert scan.frames.read_color_jpeg(3) == paths.iphone_frame(paths.iphone_rgb, 3, ".jpg").read_bytes()
    paths.dslr_transforms.rename(paths.dslr_fisheye_transforms)
    with pytest.raises(MissingFileError, match=r"dslr/undistort\.py"):
        source(root, camera="dslr").load(scan_id)


def test_frames_from_the_video_when_not_extracted(scannetpp_root: Path, tmp_path: Path) -> None:
    root = copy_root(scannetpp_root, tmp_path / "root")
    paths = ScanNetPPPaths(root / "data" / scene_id(1, 0))
    writer = cv2.VideoWriter(str(paths.iphone_video), cv2.VideoWriter.fourcc(*"mp4v"), 60, (1920, 1440))
    if not writer.isOpened():
        pytest.skip("this OpenCV build writes no mp4")
    stored = [np.asarray(cv2.imread(str(paths.iphone_frame(paths.iphone_rgb, n, ".jpg")))) for n in range(8)]
    for image in stored:
        writer.write(image)
    writer.release()
    shutil.rmtree(paths.iphone_rgb)
    frames = source(root).open_frames(scene_id(1, 0))
    assert frames.frame_ids.tolist() == list(range(8))
    for n in (5, 2):  # out of order: the reader seeks
        decoded = cv2.cvtColor(frames.read_color(n), cv2.COLOR_RGB2BGR).astype(np.float64)
        errors = [np.abs(decoded - s).mean() for s in stored]
        assert int(np.argmin(errors)) == n and errors[n] < 6


def break_file(root: Path, scan_id: str, name: str, edit: object) -> ScanNetPPSource:
    path = root / "data" / scan_id / name
    if callable(edit):
        edit(path)
    return source(root)


@pytest.mark.parametrize(
    ("name", "edit", "error", "message"),
    [
        ("scans/segments_anno.json", lambda p: p.unlink(), MissingFileError, "segments_anno.json"),
        ("scans/segments.json", lambda p: p.write_text("{"), CorruptFileError, "invalid JSON"),
        ("scans/mesh_aligned_0.05.ply", lambda p: p.write_bytes(p.read_bytes()[:500]), CorruptFileError, "mesh"),
        ("iphone/pose_intrinsic_imu.json", lambda p: p.write_text("[]"), CorruptFileError, "not an object"),
    ],
)
def test_bad_files_name_scan_and_file(
    scannetpp_root: Path, tmp_path: Path, name: str, edit: object, error: type[Exception], message: str
) -> None:
    root = copy_root(scannetpp_root, tmp_path / "root")
    scan_id = scene_id(1, 0)
    with pytest.raises(error, match=message) as caught:
        break_file(root, scan_id, name, edit).load(scan_id)
    assert str(caught.value).startswith(f"[{scan_id}]") and name.split("/")[-1] in str(caught.value)


def test_bad_pose_records_name_the_frame(scannetpp_root: Path, tmp_path: Path) -> None:
    root = copy_root(scannetpp_root, tmp_path / "root")
    scan_id = scene_id(1, 0)
    path = ScanNetPPPaths(root / "data" / scan_id).iphone_poses
    data = json.loads(path.read_text())
    del data["frame_000003"]["aligned_pose"]
    path.write_text(json.dumps(data))
    with pytest.raises(CorruptFileError, match="no 'aligned_pose' field in frame_000003"):
        source(root).load(scan_id)
    data["frame_000003"]["aligned_pose"] = [[1, 0, 0], [0, 1, 0]]
    path.write_text(json.dumps(data))
    with pytest.raises(InconsistentScanError, match="frame_000003 has 6 numbers"):
        source(root).load(scan_id)
    data["frame_000003"]["aligned_pose"] = np.eye(4).tolist()
    for entry in data.values():
        entry["intrinsic"] = [[1445.3, 0, 1400.0], [0, 1445.3, 2000.0], [0, 0, 1]]  # made for a portrait image
    path.write_text(json.dumps(data))
    with pytest.raises(InconsistentScanError, match="far from the centre of the 1920x1440 images"):
        source(root).load(scan_id)
