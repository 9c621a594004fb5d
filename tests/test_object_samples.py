"""``object_samples`` (each object's surface samples and hull, their bounding spheres) against the per-object
computation it replaced: the same bits."""

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import ConvexHull, QhullError

from ladderdata.metadata.views import SPHERE_SLACK, ObjectSamples, object_samples
from ladderdata.sources.base import Scan, open_source, source_config


def samples_object_by_object(scan: Scan, per_object: int, spacing: float) -> ObjectSamples:
    """The per-object loop: each object's picks, hull, and bounding sphere on its own (N, 3) run."""
    points, is_area, counts, sizes = [np.zeros((0, 3))], [np.zeros(0, bool)], [], []
    centres, radii = np.zeros((len(scan.objects), 3)), np.zeros(len(scan.objects))
    for i, obj in enumerate(scan.objects):
        surface = obj.surface
        cum = np.cumsum(surface.samples.weights)
        total = float(cum[-1]) if len(cum) else 0.0
        m = int(min(per_object, max(16, np.ceil(total / spacing**2))))
        picks = np.searchsorted(cum, (np.arange(m) + 0.5) / m * total)
        area_pts = surface.samples.points[np.minimum(picks, len(cum) - 1)]
        try:
            hull = surface.vertices[ConvexHull(surface.vertices, qhull_options="QJ").vertices]
        except (QhullError, ValueError):
            hull = surface.vertices
        points += [area_pts, hull]
        is_area += [np.ones(m, bool), np.zeros(len(hull), bool)]
        counts.append(m)
        sizes.append(m + len(hull))
        both = np.concatenate([area_pts, hull])
        centres[i] = (both.min(axis=0) + both.max(axis=0)) / 2
        radii[i] = np.linalg.norm(both - centres[i], axis=1).max() + SPHERE_SLACK
    all_points = np.concatenate(points)
    return ObjectSamples(
        points=all_points,
        owner=np.repeat(np.arange(len(sizes)), sizes),
        is_area=np.concatenate(is_area),
        area_count=np.array(counts, dtype=np.int64),
        starts=np.cumsum([0, *sizes]),
        points_t=np.ascontiguousarray(all_points.T),
        centres=centres,
        radii=radii,
    )


@pytest.mark.parametrize(("per_object", "spacing"), [(2000, 0.02), (40, 0.005), (5000, 0.1)])
def test_object_samples_are_the_bits_of_the_per_object_loop(
    synthetic_root: Path, per_object: int, spacing: float
) -> None:
    source = open_source(source_config("scannet", root=synthetic_root))
    scan = source.load(source.scan_ids()[0])
    assert len(scan.objects) > 5
    got = object_samples(scan, per_object, spacing)
    expected = samples_object_by_object(scan, per_object, spacing)
    for name in ObjectSamples.__dataclass_fields__:
        a, b = getattr(got, name), getattr(expected, name)
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), name
    assert got.is_area.sum() == got.area_count.sum() < len(got.points)


def test_no_objects_no_samples(synthetic_root: Path) -> None:
    source = open_source(source_config("scannet", root=synthetic_root))
    scan = source.load(source.scan_ids()[0])
    scan.objects = []
    got = object_samples(scan, 100, 0.02)
    assert got.points.shape == (0, 3) and got.centres.shape == (0, 3) and got.radii.shape == (0,)
    assert got.starts.tolist() == [0] and got.owner.size == got.is_area.size == 0
