"""The ARKitScenes reader: objects from oriented boxes, upright frames, rooms from visits, and its errors, against
synthetic 3DOD videos and analytic scenes."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fixtures.factories import box_mesh, copy_root, load_ground_truth
from ladderdata.errors import ConfigError, CorruptFileError, InconsistentScanError, MissingFileError
from ladderdata.geometry.camera import CameraIntrinsics, look_at, project, turn_camera, turn_image, world_to_camera
from ladderdata.geometry.measure import floor_area, object_size_cm, surface_distance
from ladderdata.metadata.config import MetadataConfig
from ladderdata.metadata.extract import extract_views
from ladderdata.seeding import rng_for
from ladderdata.sources.arkitscenes import ARKitScenesSource, ARKitScenesSourceConfig, LowresFrames, VideoPaths
from ladderdata.sources.arkitscenes_boxes import OrientedBoxAnnotation, box_faces
from ladderdata.sources.base import detect_source
from ladderdata.sources.ply import TriangleMesh
from ladderdata.synth.arkitscenes import LANDSCAPE_K, video_id, write_video
from ladderdata.synth.mesh import SceneMesh
from ladderdata.synth.render import FrameRenderer
from ladderdata.synth.root import SynthConfig, scene_and_edges
from ladderdata.synth.shapes import Cuboid

CONFIG = SynthConfig(scenes=4, frames=10, seed=2)


def source(root: Path, **kw: object) -> ARKitScenesSource:
    return ARKitScenesSource(ARKitScenesSourceConfig(root=root, **kw))


def test_detected_folds_and_rooms(arkitscenes_root: Path) -> None:
    assert detect_source(arkitscenes_root) == "arkitscenes"
    src = source(arkitscenes_root)
    ids = [video_id(2, i) for i in range(4)]
    assert src.scan_ids() == sorted(ids) and all(len(i) == 8 and i.isdigit() for i in ids)
    assert src.scan_ids("val") == [ids[3]] and src.scan_ids("train") == sorted(ids[:3])
    with pytest.raises(ConfigError, match="Training/, val = Validation/"):
        src.scan_ids("test")
    # training videos two to a visit (one room), the validation video its own
    rooms = [src.room(i) for i in ids]
    assert rooms[0] == rooms[1] != rooms[2] != rooms[3] and rooms[0].startswith("visit_")
    table = arkitscenes_root / "3dod_train_val_splits.csv"
    assert source(arkitscenes_root, visits=table).room(ids[0]) == rooms[0]
    bare = ARKitScenesSource(ARKitScenesSourceConfig(root=arkitscenes_root, visits=None))
    bare.__dict__["visits"] = {}  # no table: every video is its own room
    assert bare.room(ids[0]) == ids[0]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_objects_from_boxes_match_ground_truth(arkitscenes_root: Path, index: int) -> None:
    """Sizes and boxes from the annotated boxes, closest-surface distances from the mesh inside the boxes, the
    floor area from the detected floor: all against the closed-form truth."""
    vid = video_id(2, index)
    gt = load_ground_truth(arkitscenes_root, vid)
    scan = source(arkitscenes_root).load(vid)
    objs = {o.info.object_id: o for o in scan.objects}
    assert sorted(objs) == [o.object_id for o in gt.objects]
    for g in gt.objects:
        o = objs[g.object_id]
        assert o.info.label == g.label
        if g.box is not None:
            assert o.info.in_label_table and o.info.category == ("tv" if g.label == "tv_monitor" else g.label)
            # an annotated object's extent is its box: the box's corners, not its parts', bound its aabb
            corners = Cuboid(np.array(g.box.center), np.array(g.box.size), g.box.yaw).corners()
            np.testing.assert_allclose(o.aabb.minimum, corners.min(0), atol=1e-6)
            np.testing.assert_allclose(o.aabb.maximum, corners.max(0), atol=1e-6)
            assert g.size_cm is not None and object_size_cm(o.points) == pytest.approx(g.size_cm, abs=0.01)
    assert gt.distances
    for d in gt.distances:
        assert surface_distance(objs[d.a].surface, objs[d.b].surface) == pytest.approx(d.distance, abs=1e-3)
    floor = next(o for o in scan.objects if o.info.category == "floor")
    assert floor_area(floor.surface.vertices, floor.surface.faces) == pytest.approx(gt.floor_area, rel=0.01)


def test_box_surface_rule_keeps_a_tabletop_under_a_monitor() -> None:
    """A triangle on a box face that faces into the box is another object's: the tabletop under the monitor's box
    stays the table's, the monitor's bottom is the monitor's; nested boxes give a triangle to the smaller."""
    top_v, top_f = box_mesh((0.0, 0.0, 0.7), (1.0, 1.0, 0.75))
    mon_v, mon_f = box_mesh((0.4, 0.4, 0.75), (0.6, 0.6, 1.0))
    mesh = TriangleMesh(np.vstack([top_v, mon_v]), np.vstack([top_f, mon_f + 8]), np.zeros((16, 3), np.uint8))
    table = OrientedBoxAnnotation(np.array([0.5, 0.5, 0.5]), np.array([1.0, 1.0, 0.5]), np.eye(3))
    monitor = OrientedBoxAnnotation(np.array([0.5, 0.5, 0.875]), np.array([0.2, 0.2, 0.25]), np.eye(3))
    owner = box_faces(mesh, [table, monitor], np.zeros(len(mesh.faces), dtype=bool))
    assert owner.tolist() == [0] * 12 + [1] * 12
    big_monitor = OrientedBoxAnnotation(np.array([0.5, 0.5, 0.85]), np.array([2.0, 2.0, 0.4]), np.eye(3))
    owner = box_faces(mesh, [big_monitor, monitor], np.zeros(len(mesh.faces), dtype=bool))
    assert (owner[12:] == 1).all()


def test_quarter_turns_of_images_and_cameras() -> None:
    """Turning the camera moves every projected point where cv2.rotate moves its pixel; four turns are none."""
    k = CameraIntrinsics(fx=210.0, fy=190.0, cx=120.3, cy=100.2, width=256, height=192)
    pose = look_at(np.array([0.3, -0.2, 1.4]), np.array([2.0, 3.0, 0.8]))
    points = rng_for(0, "turns").uniform([-1, 2, 0], [3, 6, 2], size=(50, 3))
    uv, _ = project(world_to_camera(points, pose), k)
    image = np.arange(192 * 256).reshape(192, 256)
    codes = {1: cv2.ROTATE_90_CLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_COUNTERCLOCKWISE}
    for turns, code in codes.items():
        k2, pose2 = turn_camera(k, pose, turns)
        uv2, _ = project(world_to_camera(points, pose2), k2)
        expected = uv.copy()
        for _ in range(turns):  # pixel (u, v) of a W x H image goes to (H - 1 - v, u)
            h = k.height if _ % 2 == 0 else k.width
            expected = np.stack([h - 1 - expected[:, 1], expected[:, 0]], axis=1)
        np.testing.assert_allclose(uv2, expected, atol=1e-9)
        np.testing.assert_array_equal(turn_image(image, turns), cv2.rotate(image.astype(np.int32), code))
    k4, pose4 = turn_camera(k, pose, 4)
    assert k4 == k and np.allclose(pose4, pose)


def test_portrait_video_is_turned_upright(arkitscenes_root: Path) -> None:
    """Scene 1 was shot in portrait: the reader's images, intrinsics and poses are those of the upright camera
    the scene was generated with."""
    vid = video_id(2, 1)
    frames = source(arkitscenes_root).open_frames(vid)
    assert isinstance(frames, LowresFrames) and frames.turns == 1
    upright_k = turn_camera(LANDSCAPE_K, np.eye(4), 1)[0]
    assert frames.color_intrinsics == upright_k and (upright_k.width, upright_k.height) == (192, 256)
    scene = scene_and_edges(CONFIG, 1)[0]
    valid = np.isfinite(frames.raw_poses).all(axis=(1, 2))
    assert np.flatnonzero(~valid).tolist() == scene.invalid  # frames without a trajectory line
    np.testing.assert_allclose(frames.raw_poses[valid], scene.poses[valid], atol=1e-6)
    assert (frames.raw_poses[valid][:, 2, 1] < 0).all()  # image down (camera +y) points down in the world
    stored = np.asarray(cv2.imread(str(sorted(VideoPaths(frames.paths.video_dir).color.glob("*.png"))[0])))
    assert stored.shape == (192, 256, 3)  # the sensor image is landscape
    first = int(frames.frame_ids[0])
    assert frames.read_color(first).shape == (256, 192, 3)
    np.testing.assert_array_equal(frames.read_color(first), cv2.rotate(stored[..., ::-1], cv2.ROTATE_90_CLOCKWISE))
    # depth of the upright camera rendered directly equals the stored sensor depth turned upright
    from ladderdata.synth.mesh import build_mesh

    mesh = build_mesh(scene, rng_for(2, vid, "mesh"), *scene_and_edges(CONFIG, 1)[1:])
    direct = FrameRenderer(mesh, rng_for(0, "x")).depth(upright_k, scene.poses[0])
    read = frames.read_depth(first).astype(np.int64)
    assert np.mean(np.abs(read - direct) <= 1) > 0.999


def test_frame_ids_count_60hz_stream_frames(arkitscenes_root: Path) -> None:
    frames = source(arkitscenes_root).open_frames(video_id(2, 0))
    assert frames.time_known
    np.testing.assert_array_equal(frames.frame_ids, np.arange(10) * 6)  # 10 Hz frames of a 60 Hz stream
    np.testing.assert_array_equal(frames.timestamps_us, np.arange(10) * 100_000)


def analytic_video(root: Path, turns: int, zoom: float = 1.0) -> ARKitScenesSource:
    """A floor, an annotated chair box 4 m ahead and an unannotated panel hiding its left half (x < 0), seen twice
    by a camera at the origin looking down +y; the sensor is turned ``turns`` quarter turns, and its focal length
    is ``zoom`` times longer in the second frame."""
    floor_v = np.array([[-5.0, -1, 0], [5, -1, 0], [5, 8, 0], [-5, 8, 0]])
    floor_f = np.array([[0, 1, 2], [0, 2, 3]])
    chair_v, chair_f = box_mesh((-0.5, 3.5, 0.0), (0.5, 4.5, 1.0))
    panel_v, panel_f = box_mesh((-2.0, 2.0, 0.0), (0.0, 2.1, 1.5))
    vertices = np.vstack([floor_v, chair_v, panel_v])
    faces = np.vstack([floor_f, chair_f + 4, panel_f + 12])
    mesh = TriangleMesh(vertices, faces, np.full((len(vertices), 3), 128, np.uint8))
    chair = Cuboid(np.array([0.0, 4.0, 0.5]), np.array([1.0, 1.0, 1.0]), 0.0)
    upright = turn_camera(LANDSCAPE_K, np.eye(4), turns)[0]
    zoomed = upright.model_copy(update={"fx": upright.fx * zoom, "fy": upright.fy * zoom})
    pose = look_at(np.array([0.0, 0.0, 0.5]), np.array([0.0, 4.0, 0.5]))
    poses = np.stack([pose, pose])
    scene = SceneMesh.of_triangles(mesh)
    write_video(root / "Training" / "41000001", scene, [("chair", chair)], [upright, zoomed], poses, turns, [], 0)
    return source(root)


@pytest.mark.parametrize("turns", [0, 1])
def test_half_hidden_box_has_visibility_one_half(tmp_path: Path, turns: int) -> None:
    src = analytic_video(tmp_path, turns)
    scan = src.load("41000001")
    assert [o.info.category for o in scan.objects] == ["chair", "floor"]
    views = extract_views(scan, MetadataConfig(frame_stride=1))
    chair = next(o for o in views[0].objects if o.category == "chair")
    assert chair.visibility == pytest.approx(0.5, abs=0.03)
    assert chair.in_frustum == pytest.approx(1.0)
    # the visible half starts at the image's vertical centre line (the panel's edge, x = 0)
    assert chair.bbox_2d is not None
    assert chair.bbox_2d[0] == pytest.approx(scan.frames.color_intrinsics.cx + 0.5, abs=2)  # type: ignore[union-attr]


@pytest.mark.parametrize("turns", [0, 1])
def test_each_frame_is_measured_with_its_own_intrinsics(tmp_path: Path, turns: int) -> None:
    """The second frame's focal length is 1.5 times the first's: its chair spans 1.5 times as many pixels right
    of the centre line (the visible half: x from 0 to 0.5 m at 3.5 m, so fx * 0.5 / 3.5 pixels), and its sensor
    depth agrees with the render only through its own depth intrinsics."""
    scan = analytic_video(tmp_path, turns, zoom=1.5).load("41000001")
    frames = scan.frames
    assert frames is not None
    views = extract_views(scan, MetadataConfig(frame_stride=1))
    assert len(views) == 2
    for view, zoom in zip(views, (1.0, 1.5), strict=True):
        k = frames.frame_color_intrinsics(view.frame_id)
        assert k.fx == pytest.approx(turn_camera(LANDSCAPE_K, np.eye(4), turns)[0].fx * zoom)
        chair = next(o for o in view.objects if o.category == "chair")
        assert chair.bbox_2d is not None
        assert chair.bbox_2d[0] == pytest.approx(k.cx + 0.5, abs=2)
        assert chair.bbox_2d[2] == pytest.approx(k.cx + 0.5 + k.fx * 0.5 / 3.5, abs=2)
        assert view.depth_agreement is not None and view.depth_agreement > 0.99
        depth_k = frames.frame_depth_intrinsics(view.frame_id)
        assert depth_k is not None and depth_k.fx == pytest.approx(k.fx)  # depth frames are as large here
    boxes = [next(o.bbox_2d for o in v.objects if o.category == "chair") for v in views]
    widths = [box[2] - box[0] for box in boxes if box is not None]
    assert widths[1] / widths[0] == pytest.approx(1.5, rel=0.1)


def test_pincam_files_named_one_ms_apart_are_found(arkitscenes_root: Path, tmp_path: Path) -> None:
    """tenFpsDataLoader looks for a frame's .pincam at its timestamp, then 1 ms earlier, then 1 ms later."""
    root = copy_root(arkitscenes_root, tmp_path / "root")
    vid = video_id(2, 0)
    before = source(root).open_frames(vid)
    expected = [before.frame_color_intrinsics(int(f)) for f in before.frame_ids]
    paths = source(root).paths(vid)
    pincams = sorted(paths.intrinsics.glob("*.pincam"))
    for k, pincam in enumerate(pincams):
        stamp = float(pincam.stem.split("_")[1])
        moved = f"{stamp + (0.001 if k % 2 else -0.001):.3f}"
        pincam.rename(paths.frame_file(paths.intrinsics, moved, ".pincam"))
    after = source(root).open_frames(vid)
    assert [after.frame_color_intrinsics(int(f)) for f in after.frame_ids] == expected
    assert len(set(expected)) == 3  # the focal length drifts: each frame's own file was read


def test_a_frame_without_intrinsics_is_a_clear_error(arkitscenes_root: Path, tmp_path: Path) -> None:
    root = copy_root(arkitscenes_root, tmp_path / "root")
    vid = video_id(2, 0)
    paths = source(root).paths(vid)
    pincam = sorted(paths.intrinsics.glob("*.pincam"))[4]
    stamp = pincam.stem.split("_")[1]
    pincam.unlink()
    with pytest.raises(MissingFileError, match=rf"no intrinsics for frame {stamp}") as caught:
        source(root).load(vid)
    assert str(caught.value).startswith(f"[{vid}]") and pincam.name in str(caught.value)


def edit_json(path: Path, change: object) -> None:
    data = json.loads(path.read_text())
    assert callable(change)
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda d: d["data"][0]["segments"].pop("obbAligned"), CorruptFileError, r"no 'obbAligned' field in data\[0\]"),
        (
            lambda d: d["data"][1]["segments"]["obbAligned"].update(normalizedAxes=[1, 0, 0, 0, 1, 0, 0, 1, 0]),
            InconsistentScanError,
            "normalizedAxes is not a rotation",
        ),
        (
            lambda d: d["data"][0]["segments"]["obbAligned"].update(axesLengths=[1, -1, 1]),
            InconsistentScanError,
            "axesLengths are not all positive",
        ),
        (lambda d: d.pop("data"), CorruptFileError, "no 'data' field"),
    ],
)
def test_bad_annotations_name_scan_file_and_box(
    arkitscenes_root: Path, tmp_path: Path, change: object, error: type[Exception], message: str
) -> None:
    root = copy_root(arkitscenes_root, tmp_path / "root")
    vid = video_id(2, 0)
    paths = source(root).paths(vid)
    edit_json(paths.annotation, change)
    with pytest.raises(error, match=message) as caught:
        source(root).load(vid)
    assert str(caught.value).startswith(f"[{vid}]") and paths.annotation.name in str(caught.value)


def test_bad_frames_files_are_clear_errors(arkitscenes_root: Path, tmp_path: Path) -> None:
    root = copy_root(arkitscenes_root, tmp_path / "root")
    vid = video_id(2, 0)
    paths = source(root).paths(vid)
    traj = paths.trajectory.read_text().splitlines()
    paths.trajectory.write_text("\n".join([traj[0], " ".join(traj[1].split()[:6]), *traj[2:]]) + "\n")
    with pytest.raises(CorruptFileError, match="line 2 has 6 numbers, expected 7"):
        source(root).load(vid)
    paths.trajectory.write_text("\n".join(traj) + "\n")
    pincam = sorted(paths.intrinsics.glob("*.pincam"))[0]
    pincam.write_text("192 256 212.4 212.4 95.2 127.6\n")
    with pytest.raises(InconsistentScanError, match=r"intrinsics for 192x256 images, frames are 256x192"):
        source(root).load(vid)
