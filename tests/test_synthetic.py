import hashlib
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from fixtures.factories import load_ground_truth, make_synthetic_root, scan_paths
from ladderdata.geometry.measure import object_size_cm
from ladderdata.layout import FramesLayout
from ladderdata.sources.ply import read_ply
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig
from ladderdata.sources.sens import read_sens_index
from ladderdata.sources.synthetic import (
    CATALOGUE,
    SynthConfig,
    build_mesh,
    edge_for_vertices,
    generate_scene,
    synthesize_root,
)
from ladderdata.sources.synthetic_shapes import Cuboid, cuboid_distance, segment_distances


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    a = make_synthetic_root(tmp_path / "a", scenes=2, frames=5, seed=3, layouts=[FramesLayout.SENS], workers=1)
    b = make_synthetic_root(tmp_path / "b", scenes=2, frames=5, seed=3, layouts=[FramesLayout.SENS], workers=2)
    c = make_synthetic_root(tmp_path / "c", scenes=2, frames=5, seed=4, layouts=[FramesLayout.SENS], workers=1)
    assert tree_digest(a) == tree_digest(b)
    assert tree_digest(a) != tree_digest(c)


def test_scene_index_does_not_depend_on_scene_count() -> None:
    one, other = generate_scene(1, seed=0, frames=6), generate_scene(1, seed=0, frames=6)
    assert [o.label for o in one.objects] == [o.label for o in other.objects]
    np.testing.assert_array_equal(one.poses, other.poses)


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


def test_some_objects_occlude_others(synthetic_root: Path) -> None:
    """Depth frames see nearer surfaces in front of farther objects: some pixels' rendered depth is smaller
    than the distance to the object whose box the ray passes through (a cheap occlusion witness)."""
    scan = ScanNetSource(ScanNetSourceConfig(root=synthetic_root)).load("scene0000_00")
    gt = load_ground_truth(synthetic_root, "scene0000_00")
    assert scan.frames is not None
    depth = scan.frames.read_depth(0)
    assert (depth > 0).mean() > 0.99  # closed room: every ray hits something
    assert (
        len(gt.distances)
        == len([o for o in gt.objects if not o.structural])
        * (len([o for o in gt.objects if not o.structural]) - 1)
        // 2
    )
    assert any(d.distance == 0.0 for d in gt.distances), "objects resting on others touch"


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
