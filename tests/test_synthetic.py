import hashlib
from pathlib import Path

import numpy as np
import pytest

from fixtures.factories import load_ground_truth, make_synthetic_root
from ladderdata.layout import FramesLayout
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig
from ladderdata.sources.synthetic import CATALOGUE, generate_scene
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
