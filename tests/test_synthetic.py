import hashlib
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from fixtures.factories import load_ground_truth, make_synthetic_root, scan_paths
from ladderdata.executor import LocalExecutor
from ladderdata.geometry.camera import pixel_rays, ray_z_factor
from ladderdata.geometry.measure import object_size_cm
from ladderdata.geometry.raycast import TriangleScene
from ladderdata.layout import FramesLayout
from ladderdata.registry import UnknownNameError
from ladderdata.sources.base import SOURCES
from ladderdata.sources.ply import TriangleMesh, read_ply
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig
from ladderdata.sources.sens import read_sens_index
from ladderdata.synth.catalogue import CATALOGUE
from ladderdata.synth.mesh import DEMO_EDGE, DEMO_STRUCTURAL_EDGE, SceneMesh, build_mesh, edge_for_vertices
from ladderdata.synth.render import NOISE_SIGMA, FrameRenderer
from ladderdata.synth.root import SYNTH_WRITERS, SynthConfig, register_writer, synthesize
from ladderdata.synth.scannet import COLOR_K, DEPTH_K, synthesize_root
from ladderdata.synth.scene import generate_scene
from ladderdata.synth.shapes import Boxes, BoxSet, Cuboid, boxes_overlap, cuboid_distance, segment_distances
from ladderdata.synth.truth import GTBox, ground_truth


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    a = make_synthetic_root(tmp_path / "a", scenes=2, frames=5, seed=3, layouts=[FramesLayout.SENS])
    with LocalExecutor(workers=2) as executor:
        b = make_synthetic_root(
            tmp_path / "b", scenes=2, frames=5, seed=3, layouts=[FramesLayout.SENS], executor=executor
        )
    c = make_synthetic_root(tmp_path / "c", scenes=2, frames=5, seed=4, layouts=[FramesLayout.SENS])
    assert tree_digest(a) == tree_digest(b)
    assert tree_digest(a) != tree_digest(c)


def test_a_scene_does_not_depend_on_how_many_scenes_the_root_has(tmp_path: Path) -> None:
    two = make_synthetic_root(tmp_path / "two", scenes=2, frames=4, layouts=[FramesLayout.SENS])
    three = make_synthetic_root(tmp_path / "three", scenes=3, frames=4, layouts=[FramesLayout.SENS])
    scans_two, scans_three = tree_digest(two / "scans"), tree_digest(three / "scans")
    assert scans_two and scans_two.items() <= scans_three.items()  # scenes 0 and 1: the same bytes
    for scan in ("scene0000_00", "scene0001_00"):
        assert (two / "synthetic_gt" / f"{scan}.json").read_bytes() == (
            three / "synthetic_gt" / f"{scan}.json"
        ).read_bytes()
    # and the scenes are not copies of one another
    assert load_ground_truth(three, "scene0001_00").objects != load_ground_truth(three, "scene0002_00").objects


@pytest.mark.parametrize("index", range(12))
def test_scenes_are_furnished_realistically(index: int) -> None:
    scene = generate_scene(index, seed=0, frames=8)
    furniture = [o for o in scene.objects if not o.structural]
    assert 10 <= len(furniture) <= 30
    labels = [o.label for o in furniture]
    assert len(set(labels)) < len(labels), "some category repeats"
    assert {"wall", "floor", "ceiling"} <= {o.label for o in scene.objects}
    for o in furniture:  # sizes within the catalogue's realistic ranges (height may be capped)
        assert o.box is not None
        cat = CATALOGUE[o.label]
        assert cat.size_lo[2] * 0.5 <= o.box.size[2] <= cat.size_hi[2] + 1e-9
    for i, a in enumerate(furniture):  # solids never interpenetrate (touching is allowed)
        for b in furniture[i + 1 :]:
            assert a.box is not None and b.box is not None
            shrunk = Cuboid(a.box.center, a.box.size - 0.002, a.box.yaw)
            assert cuboid_distance(shrunk, Cuboid(b.box.center, b.box.size - 0.002, b.box.yaw)) > 0


def test_rooms_include_l_shapes() -> None:
    corners = {len(generate_scene(i, seed=0, frames=4).polygon) for i in range(12)}
    assert corners == {4, 6}


def test_cuboid_distance_closed_form() -> None:
    a = Cuboid(np.array([0.0, 0, 0]), np.array([1.0, 1, 1]), 0.0)
    b = Cuboid(np.array([2.0, 0, 0]), np.array([1.0, 1, 1]), np.pi / 4)  # rotated 45°, corner towards a
    assert cuboid_distance(a, b) == pytest.approx(2 - 0.5 - np.sqrt(0.5))
    c = Cuboid(np.array([0.0, 0, 1.0]), np.array([1.0, 1, 1]), 0.3)  # resting on top
    assert cuboid_distance(a, c) == 0.0
    d = segment_distances(
        np.array([[0.0, 0, 0]]), np.array([[1.0, 0, 0]]), np.array([[0.5, 1, -1]]), np.array([[0.5, 1, 1]])
    )
    assert d[0, 0] == pytest.approx(1.0)


def box_entry(origin: np.ndarray, directions: np.ndarray, box: GTBox) -> np.ndarray:
    """(N,) ray parameter where each ray ``origin + t * direction`` enters ``box`` (slab test in the box's
    frame); inf where it misses it or starts inside it."""
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    to_box = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # world -> box axes
    o = to_box @ (origin - np.array(box.center))
    d = directions @ to_box.T
    half = np.array(box.size) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (-half - o) / d, (half - o) / d
    near = np.nanmax(np.minimum(t1, t2), axis=1)
    far = np.nanmin(np.maximum(t1, t2), axis=1)
    return np.where((far >= near) & (near > 0), near, np.inf)


def inside(points: np.ndarray, box: GTBox, tolerance: float) -> np.ndarray:
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    local = (points - np.array(box.center)) @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return np.asarray((np.abs(local) <= np.array(box.size) / 2 + tolerance).all(axis=1))


def test_some_objects_occlude_others(synthetic_root: Path) -> None:
    """In the sensor depth, some rays meet a piece of furniture (a point inside its true box) before they reach
    the true box of another piece of furniture they pass through: objects hide parts of others. The witness
    uses only the ground-truth boxes, the stored poses and the depth frames."""
    frames = ScanNetSource(ScanNetSourceConfig(root=synthetic_root)).open_frames("scene0000_00")
    gt = load_ground_truth(synthetic_root, "scene0000_00")
    assert frames is not None and frames.depth_intrinsics is not None
    K = frames.depth_intrinsics
    boxes = [o.box for o in gt.objects if o.box is not None]
    v, u = np.mgrid[0 : K.height : 4, 0 : K.width : 4]
    rays_cam = np.stack([(u.ravel() - K.cx) / K.fx, (v.ravel() - K.cy) / K.fy, np.ones(u.size)], axis=1)  # z = 1
    hidden_pairs: set[tuple[int, int]] = set()
    for frame_id in frames.frame_ids:
        if frame_id in gt.invalid_frames:
            continue
        pose = np.array(gt.axis_alignment) @ frames.raw_poses[frames.position(int(frame_id))]
        depth = frames.read_depth(int(frame_id))[v.ravel(), u.ravel()] / 1000.0
        directions = rays_cam @ pose[:3, :3].T  # the ray parameter is depth along the optical axis
        seen = pose[:3, 3] + directions * depth[:, None]
        entries = [box_entry(pose[:3, 3], directions, b) for b in boxes]
        for a, box_a in enumerate(boxes):
            on_a = inside(seen, box_a, tolerance=0.01) & (depth > 0)
            for b, entry in enumerate(entries):
                if a != b and ((depth < entry - 0.05) & on_a).sum() >= 20:
                    hidden_pairs.add((a, b))
    assert hidden_pairs, "no object hides part of another"


def test_scale_options_do_what_they_say(tmp_path: Path) -> None:
    """``objects``, ``frames``, ``mesh_vertices`` and ``posed_max_images`` at a small size; the truth stays exact."""
    config = SynthConfig(
        scenes=1,
        frames=12,
        objects=40,
        mesh_vertices=60_000,
        posed_max_images=5,
        layouts=[FramesLayout.SENS, FramesLayout.POSED],
    )
    synthesize_root(tmp_path, config)
    gt = load_ground_truth(tmp_path, "scene0000_00")
    paths = scan_paths(tmp_path, "scene0000_00")
    furniture = [o for o in gt.objects if not o.structural]
    assert len(furniture) >= 40
    assert read_sens_index(paths.sens).header.num_frames == 12
    assert abs(len(read_ply(paths.mesh).vertices) - 60_000) <= 0.03 * 60_000
    assert sorted(p.name for p in paths.posed_dir.glob("*.jpg")) == [f"{i:05d}.jpg" for i in range(5)]
    assert gt.posed_frames is not None and len(gt.posed_frames) == 5 and gt.posed_frames == sorted(set(gt.posed_frames))
    scan = ScanNetSource(ScanNetSourceConfig(root=tmp_path)).load("scene0000_00")
    objects = {o.info.object_id: o for o in scan.objects}
    assert len(objects) == len(gt.objects)
    for g in furniture:
        assert g.size_cm is not None
        assert object_size_cm(objects[g.object_id].points) == pytest.approx(g.size_cm, abs=0.1)
        np.testing.assert_allclose(objects[g.object_id].aabb.minimum, g.aabb_min, atol=1e-5)


@pytest.mark.parametrize("target", [150_000, 1_300_000])
def test_mesh_vertices_reach_scannet_mesh_sizes(target: int) -> None:
    """``_vh_clean_2``-like and hi-res ``_vh_clean``-like meshes (built, not rendered)."""
    scene = generate_scene(0, seed=0, frames=4, min_objects=50)
    edge = edge_for_vertices(scene, target)
    mesh = build_mesh(scene, np.random.default_rng(0), edge, edge).mesh
    assert abs(len(mesh.vertices) - target) <= 0.02 * target
    assert len([o for o in scene.objects if not o.structural]) >= 50


@pytest.mark.parametrize(("objects", "vertices"), [(20, None), (50, 150_000)])
def test_rasterised_frames_match_a_ray_cast_of_every_pixel(objects: int, vertices: int | None) -> None:
    """The renderer rasterises the scene's planar faces in closed form; the oracle casts a ray through every pixel
    centre at the mesh's triangles (open3d's BVH, another path): depth and face agree on every pixel but at most
    2 a frame (a ray grazing an edge, cast in float32), and each colour pixel is the shaded colour of the face its
    own ray hits (full-resolution cast), but where the resampling blurs an edge."""
    scene = generate_scene(0, seed=0, frames=6, min_objects=objects)
    edges = (DEMO_EDGE, DEMO_STRUCTURAL_EDGE) if vertices is None else (edge_for_vertices(scene, vertices),) * 2
    mesh = build_mesh(scene, np.random.default_rng(0), *edges)
    renderer = FrameRenderer(mesh, np.random.default_rng(0))
    oracle = TriangleScene(mesh.mesh.vertices, mesh.mesh.faces)
    face_of_triangle = mesh.segments[mesh.mesh.faces[:, 0]]
    for pose in scene.poses:
        colour, depth = renderer.frame(COLOR_K, DEPTH_K, pose)
        hits = oracle.cast(pixel_rays(DEPTH_K, pose))
        cast = np.rint(hits.t_hit * ray_z_factor(DEPTH_K) * 1000).astype(np.int64)  # millimetres
        assert colour.shape == (COLOR_K.height, COLOR_K.width, 3) and depth.shape == cast.shape
        assert (cast > 0).all()  # inside a closed room every ray hits
        assert (np.abs(depth - cast) > 1).sum() <= 2
        face, _ = renderer.rasterise(DEPTH_K, pose)
        assert (face != face_of_triangle[hits.triangle]).sum() <= 2
        colour_hits = oracle.cast(pixel_rays(COLOR_K, pose))
        inverse_depth = 1.0 / (colour_hits.t_hit * ray_z_factor(COLOR_K))
        truth = renderer.shaded(face_of_triangle[colour_hits.triangle], inverse_depth)
        error = np.abs(colour.astype(np.int64) - truth).max(axis=-1)
        assert np.median(error) <= 1 and np.mean(error <= 3) >= 0.95
    assert len(mesh.faces) < len(mesh.mesh.faces) / 10  # the faces are far fewer than the mesh's triangles


def test_writers_are_registered_by_the_source_they_write_for(tmp_path: Path) -> None:
    """``ladder synth --format NAME`` resolves through one registry keyed by scan-source names: an unknown name is
    refused with the choices, a writer for no registered source or a second one for a source is refused, and a
    registered writer is what ``synthesize`` runs."""
    assert list(SYNTH_WRITERS) == ["arkitscenes", "scannet", "scannetpp"]
    assert all(name in SOURCES for name in SYNTH_WRITERS)
    with pytest.raises(ValidationError, match=r"unknown synthetic writer 'nope'.*scannetpp"):
        SynthConfig(format="nope")
    with pytest.raises(UnknownNameError, match="scan source 'nope'"):
        register_writer("nope")(synthesize_root)
    with pytest.raises(ValueError, match="already registered"):
        register_writer("scannet")(lambda root, config, executor=None, progress=None: [])
    written: list[tuple[Path, str]] = []

    def fake(root: Path, config: SynthConfig, executor: object = None, progress: object = None) -> list[str]:
        written.append((root, config.format))
        return ["x"]

    original = SYNTH_WRITERS["arkitscenes"]
    SYNTH_WRITERS.unregister("arkitscenes")
    try:
        register_writer("arkitscenes")(fake)
        assert synthesize(tmp_path, SynthConfig(format="arkitscenes")) == ["x"]
    finally:
        SYNTH_WRITERS.unregister("arkitscenes")
        SYNTH_WRITERS.add("arkitscenes", original)
    assert written == [(tmp_path, "arkitscenes")]


@pytest.mark.parametrize(
    "bad",
    [
        {"frames": 3},
        {"frames": 20_001},
        {"objects": 0},
        {"objects": 61},
        {"mesh_vertices": 999},
        {"posed_max_images": 0},
    ],
)
def test_synth_config_bounds(bad: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        SynthConfig.model_validate(bad)


def test_ground_truth_distances_are_the_least_over_every_part_pair() -> None:
    """The batched, pruned search of the ground truth returns, bit for bit, the minimum of ``cuboid_distance``
    (one pair at a time) over every pair of parts of every pair of objects."""
    scene = generate_scene(1, seed=0, frames=4, min_objects=30)
    furniture = [o for o in scene.objects if not o.structural]
    distances = {(d.a, d.b): d.distance for d in ground_truth(scene).distances}
    assert len(distances) == len(furniture) * (len(furniture) - 1) // 2
    assert any(d == 0.0 for d in distances.values()) and any(d > 0.5 for d in distances.values())
    for i, a in enumerate(furniture):
        for b in furniture[i + 1 :]:
            brute = min(cuboid_distance(p, q) for p in a.parts for q in b.parts)
            assert distances[(a.object_id, b.object_id)] == brute


def test_colour_frames_carry_sensor_noise_that_changes_from_frame_to_frame() -> None:
    """Noise of about ``NOISE_SIGMA`` grey levels is added where a frame is drawn (then resampled with it, so a
    little less remains), from a window of the renderer's pattern that moves each frame; without a noise size the
    frames are the plain shading."""
    scene = generate_scene(0, seed=0, frames=4)
    mesh = build_mesh(scene, np.random.default_rng(0), DEMO_EDGE, DEMO_STRUCTURAL_EDGE)
    plain = FrameRenderer(mesh, np.random.default_rng(0))
    noisy = FrameRenderer(mesh, np.random.default_rng(0), (DEPTH_K.width, DEPTH_K.height))
    pose = scene.poses[0]
    clean = plain.frame(COLOR_K, DEPTH_K, pose)[0].astype(np.float64)
    first, second = (noisy.frame(COLOR_K, DEPTH_K, pose)[0].astype(np.float64) for _ in range(2))
    assert np.array_equal(clean, plain.frame(COLOR_K, DEPTH_K, pose)[0])
    for frame in (first, second):
        assert 0.5 * NOISE_SIGMA < np.std(frame - clean) < NOISE_SIGMA
    assert np.std(first - second) > 0.5 * NOISE_SIGMA  # the same pose, other noise


def test_a_box_set_finds_the_boxes_a_box_overlaps() -> None:
    """``BoxSet.overlaps`` (placement: one box against all placed) agrees with the separating-axis test of each
    pair, on random boxes and on boxes built to touch, to be a hair apart and to interpenetrate."""
    rng = np.random.default_rng(5)

    def random_box() -> Cuboid:
        return Cuboid(rng.uniform(0, 3, 3), rng.uniform(0.2, 1.5, 3), float(rng.uniform(0, 2 * np.pi)))

    placed = [random_box() for _ in range(12)]
    boxes = BoxSet(placed)
    for _ in range(200):
        box = random_box()
        for eps in (1e-9, -1e-6):
            pairwise = boxes_overlap(Boxes.of([box] * len(placed)), Boxes.of(placed), eps)
            assert boxes.overlaps(box, eps) == bool(pairwise.any())
    base = Cuboid(np.array([0.0, 0, 0.5]), np.array([1.0, 1, 1]), 0.3)
    on_top = Cuboid(np.array([0.0, 0, 1.25]), np.array([0.5, 0.5, 0.5]), 0.3)
    apart = Cuboid(np.array([0.0, 0, 1.2501]), np.array([0.5, 0.5, 0.5]), 1.0)
    into = Cuboid(np.array([0.0, 0, 1.2]), np.array([0.5, 0.5, 0.5]), 1.0)
    assert BoxSet([base]).overlaps(on_top)  # touching counts (eps 1e-9)
    assert not BoxSet([base]).overlaps(on_top, eps=-1e-6)  # but not with a clearance
    assert not BoxSet([base]).overlaps(apart) and BoxSet([base]).overlaps(into)
    assert not BoxSet([]).overlaps(base)


def test_a_mesh_with_more_faces_than_the_z_buffer_holds_is_refused() -> None:
    """A z-buffer entry keeps a face in 16 bits: a mesh of 65,535 faces or more is refused up front, not drawn
    with faces mixed up."""
    triangles = 65_535
    vertices = np.random.default_rng(0).uniform(0, 1, (3 * triangles, 3))
    faces = np.arange(3 * triangles).reshape(-1, 3)
    big = SceneMesh.of_triangles(TriangleMesh(vertices, faces, np.full((len(vertices), 3), 128, np.uint8)))
    with pytest.raises(ValueError, match="65535 faces: the z-buffer holds at most 65534"):
        FrameRenderer(big, np.random.default_rng(0))
    small = SceneMesh.of_triangles(TriangleMesh(vertices[:30], faces[:10], np.zeros((30, 3), np.uint8)))
    FrameRenderer(small, np.random.default_rng(0))
