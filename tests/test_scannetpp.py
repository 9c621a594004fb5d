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
from ladderdata.sources.colmap import ColmapImage, camera_to_world
from ladderdata.sources.scannetpp import ScanNetPPSource, ScanNetPPSourceConfig
from ladderdata.sources.scannetpp_frames import OPENGL_TO_OPENCV, ScanNetPPPaths
from ladderdata.synth.root import SynthConfig, scene_and_edges
from ladderdata.synth.scannetpp import (
    DSLR_CAMERAS,
    IPHONE_K,
    dslr_frames,
    dslr_photo_name,
    scene_id,
    synthesize_scannetpp_root,
)

#: The config of the ``scannetpp_root`` fixture (tests/conftest.py).
CONFIG = SynthConfig(scenes=2, frames=8, seed=1)


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
    # ScanNet++'s own DSLR model is fisheye: without the undistorted transforms, the reader says how to get them
    paths.dslr_transforms.rename(paths.dslr_fisheye_transforms)
    fisheye = "1 OPENCV_FISHEYE 1200 800 980.0 975.0 601.8 398.7 -0.03 0.004 -0.001 0.0002\n"
    paths.dslr_colmap_cameras.write_text(fisheye)
    with pytest.raises(InconsistentScanError, match=r"OPENCV_FISHEYE, not a pinhole model.*dslr\.undistort") as caught:
        source(root, camera="dslr").load(scan_id)
    assert "transforms_undistorted.json" in str(caught.value) and "cameras.txt" in str(caught.value)
    shutil.rmtree(paths.dslr_colmap_cameras.parent)
    with pytest.raises(MissingFileError, match=r"fisheye: .*dslr\.undistort"):
        source(root, camera="dslr").load(scan_id)


def test_dslr_poses_from_colmap_equal_the_ground_truth(scannetpp_root: Path) -> None:
    """The synthetic DSLR photos' COLMAP model (world-to-camera quaternions, two cameras, COLMAP's half-pixel
    principal point) reads back as the poses the photos were rendered from and each photo's own camera."""
    scan_id = scene_id(1, 0)
    scene = scene_and_edges(CONFIG, 0)[0]
    scan = source(scannetpp_root, camera="dslr").load(scan_id)
    frames = scan.frames
    assert frames is not None and frames.layout == "dslr" and not frames.time_known
    assert frames.frame_ids.tolist() == dslr_frames(scene) and len(dslr_frames(scene)) == 3
    assert scan.valid_poses.all()
    for pos, frame in enumerate(dslr_frames(scene)):
        np.testing.assert_allclose(scan.poses[pos], scene.poses[frame], atol=1e-9)
        assert frames.frame_color_intrinsics(frame) == DSLR_CAMERAS[pos % 2]
        assert frames.read_color(frame).shape == (800, 1200, 3)
        assert frames.color_file(frame).name == dslr_photo_name(frame)
    assert frames.color_intrinsics == DSLR_CAMERAS[0]
    # COLMAP's principal point is half a pixel right and down of ladder's (pixel centres at 0.5, not 0)
    lines = ScanNetPPPaths(scannetpp_root / "data" / scan_id).dslr_colmap_cameras.read_text().splitlines()
    assert "1 PINHOLE 1200 800 980.0 975.0 601.8 398.7" in lines
    assert "2 SIMPLE_PINHOLE 1200 800 1150.0 600.0 400.0" in lines


def test_colmap_pose_is_the_inverse_of_the_world_to_camera_transform() -> None:
    """Hand-worked: q = (cos 45deg, 0, 0, sin 45deg) turns 90 degrees about z, so world-to-camera R maps x to y;
    with t = (1, 2, 3) the camera centre is -R^T t = (-2, 1, -3)."""
    half = np.sqrt(0.5)
    image = ColmapImage(1, np.array([half, 0.0, 0.0, half]), np.array([1.0, 2.0, 3.0]), 1, "DSC00001.JPG")
    pose = camera_to_world(image)
    np.testing.assert_allclose(pose[:3, :3], [[0, 1, 0], [-1, 0, 0], [0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(pose[:3, 3], [-2.0, 1.0, -3.0], atol=1e-12)
    np.testing.assert_allclose(pose[3], [0, 0, 0, 1])


@pytest.mark.parametrize(
    ("line", "accepted"),
    [
        ("1 OPENCV 1200 800 980.0 975.0 601.8 398.7 0 0 0 0", True),
        ("1 OPENCV 1200 800 980.0 975.0 601.8 398.7 0.01 0 0 0", False),
        ("1 SIMPLE_RADIAL 1200 800 980.0 601.8 398.7 0.01", False),
    ],
)
def test_only_pinhole_colmap_cameras_are_read(scannetpp_root: Path, tmp_path: Path, line: str, accepted: bool) -> None:
    root = copy_root(scannetpp_root, tmp_path / "root")
    scan_id = scene_id(1, 0)
    cameras = ScanNetPPPaths(root / "data" / scan_id).dslr_colmap_cameras
    cameras.write_text(cameras.read_text().replace("1 PINHOLE 1200 800 980.0 975.0 601.8 398.7", line))
    if accepted:
        frames = source(root, camera="dslr").open_frames(scan_id)
        assert frames.color_intrinsics == DSLR_CAMERAS[0]
    else:
        with pytest.raises(InconsistentScanError, match=r"camera 1 is .*distorted images.*undistort") as caught:
            source(root, camera="dslr").open_frames(scan_id)
        assert str(caught.value).startswith(f"[{scan_id}]") and "cameras.txt" in str(caught.value)


@pytest.fixture(scope="module", params=["mkv", "mp4"])
def video_root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Scene 0 of the ``scannetpp_root`` fixture written with its iPhone colour and masks as videos: ``rgb.mkv``
    (ScanNet++ v2) or ``rgb.mp4`` (earlier releases), and ``rgb_mask.mkv``."""
    ext = str(request.param)
    root = tmp_path_factory.mktemp(f"scannetpp-{ext}") / "root"
    synthesize_scannetpp_root(root, CONFIG.model_copy(update={"scenes": 1, "iphone_video": ext}))
    return ext, root


def test_frames_and_masks_from_the_videos_of_either_release(video_root: tuple[str, Path], scannetpp_root: Path) -> None:
    """No extracted rgb/ or rgb_masks/: frames are decoded from rgb.mkv or rgb.mp4 by seeking, and the anonymised
    frames from rgb_mask.mkv (never silently taken as unmasked), as from the extracted folders."""
    ext, root = video_root
    scan_id = scene_id(1, 0)
    paths = ScanNetPPPaths(root / "data" / scan_id)
    assert paths.iphone_video == paths.iphone / f"rgb.{ext}" and not paths.iphone_rgb.exists()
    assert paths.iphone_mask_video.is_file() and not paths.iphone_masks.exists()
    src = source(root)
    scan = src.load(scan_id)
    frames = scan.frames
    assert frames is not None and frames.frame_ids.tolist() == list(range(8))
    gt = load_ground_truth(root, scan_id)
    assert np.flatnonzero(~scan.valid_poses).tolist() == gt.invalid_frames
    assert gt.invalid_frames == load_ground_truth(scannetpp_root, scan_id).invalid_frames
    extracted = ScanNetPPPaths(scannetpp_root / "data" / scan_id)
    stored = [np.asarray(cv2.imread(str(extracted.iphone_frame(extracted.iphone_rgb, n, ".jpg")))) for n in range(8)]
    for n in (5, 2, 7):  # out of order: the reader seeks
        decoded = cv2.cvtColor(frames.read_color(n), cv2.COLOR_RGB2BGR).astype(np.float64)
        errors = [np.abs(decoded - s).mean() for s in stored]
        assert int(np.argmin(errors)) == n and errors[n] < 6
    assert frames.color_file(3) == paths.iphone_video
    assert {paths.iphone_video, paths.iphone_mask_video} <= set(src.input_files(scan_id))


def test_a_mask_video_that_does_not_decode_stops_the_scan(video_root: tuple[str, Path], tmp_path: Path) -> None:
    _, shared = video_root
    root = copy_root(shared, tmp_path / "root")
    scan_id = scene_id(1, 0)
    paths = ScanNetPPPaths(root / "data" / scan_id)
    writer = cv2.VideoWriter(str(paths.iphone_mask_video), cv2.VideoWriter.fourcc(*"FFV1"), 60, (1920, 1440))
    for _ in range(3):  # three frames where the poses list eight
        writer.write(np.full((1440, 1920, 3), 255, np.uint8))
    writer.release()
    with pytest.raises(CorruptFileError, match=r"mask frame 3 does not decode.*prepare_iphone_data") as caught:
        source(root).load(scan_id)
    assert str(caught.value).startswith(f"[{scan_id}]") and "rgb_mask.mkv" in str(caught.value)
    paths.iphone_mask_video.write_bytes(b"not a video" * 100)
    with pytest.raises(CorruptFileError, match=r"rgb_mask\.mkv.*does not open"):
        source(root).load(scan_id)


def test_a_damaged_video_frame_fails_the_scan_and_the_decoder_stays_quiet(
    video_root: tuple[str, Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Garbage inside the colour video decodes "successfully" to a wrong picture; the decoder's complaint makes it
    an error naming the video and the frame, and none of its lines reaches the terminal."""
    ext, shared = video_root
    root = copy_root(shared, tmp_path / "root")
    scan_id = scene_id(1, 0)
    video = ScanNetPPPaths(root / "data" / scan_id).iphone / f"rgb.{ext}"
    data = bytearray(video.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2048] = np.random.default_rng(0).integers(0, 256, 2048, dtype=np.uint8).tobytes()
    video.write_bytes(bytes(data))
    frames = source(root).load(scan_id).frames
    assert frames is not None
    with pytest.raises(CorruptFileError, match=r"frame \d+ (is damaged: the decoder says|does not decode)") as caught:
        for n in frames.frame_ids:
            frames.read_color(int(n))
    assert str(caught.value).startswith(f"[{scan_id}]") and video.name in str(caught.value)
    assert " @ 0x" not in capfd.readouterr().err


def test_masks_of_another_size_than_their_frames_fail_the_scan(scannetpp_root: Path, tmp_path: Path) -> None:
    root = copy_root(scannetpp_root, tmp_path / "root")
    scan_id = scene_id(1, 0)
    paths = ScanNetPPPaths(root / "data" / scan_id)
    mask = paths.iphone_frame(paths.iphone_masks, 3, ".png")
    cv2.imwrite(str(mask), np.full((10, 20), 255, np.uint8))
    with pytest.raises(InconsistentScanError, match=r"mask 3 is 20x10 but its camera"):
        source(root).load(scan_id)


def test_a_frame_missing_from_the_masks_folder_is_an_error(scannetpp_root: Path, tmp_path: Path) -> None:
    root = copy_root(scannetpp_root, tmp_path / "root")
    scan_id = scene_id(1, 0)
    paths = ScanNetPPPaths(root / "data" / scan_id)
    paths.iphone_frame(paths.iphone_masks, 4, ".png").unlink()
    with pytest.raises(MissingFileError, match=r"frame_000004\.png"):
        source(root).load(scan_id)


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


def test_poses_of_frames_the_video_does_not_hold_fail_the_scan(video_root: tuple[str, Path], tmp_path: Path) -> None:
    """Poses are matched to video frames by number: a pose file listing frames past the video's end is another
    recording's, whose poses would go to the wrong frames."""
    _, shared = video_root
    root = copy_root(shared, tmp_path / "root")
    scan_id = scene_id(1, 0)
    poses = ScanNetPPPaths(root / "data" / scan_id).iphone_poses
    entries = json.loads(poses.read_text())
    poses.write_text(json.dumps({f"frame_{int(k[6:]) * 4:06d}": v for k, v in entries.items()}))  # every 4th frame
    with pytest.raises(InconsistentScanError, match=r"lists frames up to 28, but rgb\.\w+ holds 8"):
        source(root).load(scan_id)
