"""Image-set selection: the vectorised multi-view selection against the original pairwise algorithm."""

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ladderdata.metadata.config import ObjectInView, ViewRecord
from ladderdata.tasks.modalities import ModalityConfig, select_multi_view, viewpoint_distances


def random_poses(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 4, 4) rigid camera-to-world poses: random rotations, centres in a 6 m x 5 m x 1 m box."""
    poses = np.tile(np.eye(4), (n, 1, 1))
    poses[:, :3, :3] = Rotation.random(n, random_state=rng).as_matrix()
    poses[:, :3, 3] = rng.uniform([0, 0, 1], [6, 5, 2], size=(n, 3))
    return poses


def random_views(rng: np.random.Generator, n: int, n_objects: int = 25) -> list[ViewRecord]:
    views = []
    for i, pose in enumerate(random_poses(rng, n)):
        seen = rng.choice(n_objects, size=int(rng.integers(0, 8)), replace=False)
        objects = [
            ObjectInView(
                object_id=int(o),
                label=f"thing{o}",
                category=f"thing{o}",
                visibility=float(rng.uniform(0.05, 1.0)),
                in_frustum=1.0,
                pixel_fraction=0.01,
                bbox_2d=[0.0, 0.0, 10.0, 10.0],
                depth_min=1.0,
                depth_median=1.0,
                centroid_cam=[0.0, 0.0, 1.0],
            )
            for o in seen
        ]
        views.append(
            ViewRecord(
                frame_id=i,
                timestamp_us=i * 33_333,
                cam_to_world=pose.reshape(-1).tolist(),
                image_width=1296,
                image_height=968,
                sharpness=None,
                depth_agreement=None,
                objects=objects,
            )
        )
    return views


def scalar_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The documented formula, one pair at a time: axis angle / pi + centre distance / 2 m."""
    dot = sum(float(a[r, 2]) * float(b[r, 2]) for r in range(3))
    gap = math.sqrt(sum((float(a[r, 3]) - float(b[r, 3])) ** 2 for r in range(3)))
    return math.acos(max(-1.0, min(1.0, dot))) / math.pi + gap / 2.0


def pairwise_selection(
    views: list[ViewRecord], config: ModalityConfig, rng: np.random.Generator
) -> list[list[ViewRecord]]:
    """The selection as first written (quadratic: full pairwise distance matrix, set differences per view)."""
    usable = [v for v in views if v.objects]
    k = config.multi_view_size
    if len(usable) < k:
        return []
    n = len(usable)
    poses = [np.asarray(v.cam_to_world).reshape(4, 4) for v in usable]
    covers = [{o.object_id for o in v.objects if o.visibility >= config.coverage_visibility} for v in usable]
    dist = np.array([[scalar_distance(a, b) for b in poses] for a in poses])
    sets: list[list[ViewRecord]] = []
    seen_sets: set[tuple[int, ...]] = set()
    for start in rng.permutation(n)[: config.multi_view_sets]:
        chosen = [int(start)]
        covered = set(covers[int(start)])
        while len(chosen) < k:
            novelty = dist[:, chosen].min(axis=1)
            gain = np.array([len(covers[i] - covered) for i in range(n)], dtype=np.float64)
            score = gain + config.diversity_weight * novelty
            score[chosen] = -np.inf
            best = int(np.argmax(score))
            chosen.append(best)
            covered |= covers[best]
        key = tuple(sorted(chosen))
        if key not in seen_sets:
            seen_sets.add(key)
            sets.append([usable[i] for i in key])
    return sets


def test_vectorised_distances_equal_the_scalar_formula() -> None:
    rng = np.random.default_rng(7)
    poses = random_poses(rng, 300)
    for ref in range(0, 300, 37):
        got = viewpoint_distances(poses, poses[ref])
        expected = [scalar_distance(p, poses[ref]) for p in poses]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert viewpoint_distances(poses, poses[5])[5] == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("weight", [0.0, 2.0, 20.0])
def test_same_sets_as_the_pairwise_algorithm(seed: int, weight: float) -> None:
    views = random_views(np.random.default_rng(100 + seed), 120)
    config = ModalityConfig(multi_view_sets=10, diversity_weight=weight)
    fast = select_multi_view(views, config, np.random.default_rng(seed))
    slow = pairwise_selection(views, config, np.random.default_rng(seed))
    assert fast, "no multi-view set selected"
    assert [[v.frame_id for v in s] for s in fast] == [[v.frame_id for v in s] for s in slow]


def test_too_few_views_give_no_set() -> None:
    views = random_views(np.random.default_rng(0), 7)
    assert select_multi_view(views, ModalityConfig(), np.random.default_rng(0)) == []
