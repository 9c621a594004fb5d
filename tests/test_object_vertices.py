"""Which vertices make an object, read through the ScanNet reader from a connected mesh whose segment borders
cut triangles (as in real scans, unlike the synthetic scans, whose objects share no triangle)."""

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ladderdata.errors import InconsistentScanError
from ladderdata.geometry.camera import CameraIntrinsics
from ladderdata.geometry.measure import surface_distance, triangle_areas
from ladderdata.layout import LABEL_TABLE, ScanPaths
from ladderdata.metadata.config import MetadataConfig
from ladderdata.metadata.views import Timings, ViewMeasurer
from ladderdata.sources.ply import TriangleMesh, write_ply
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig, faces_touching
from ladderdata.synth.scannet import LABEL_TABLE_COLUMNS

H, N = 0.1, 20  # a 2 m x 2 m floor, one vertex every 10 cm
RUG = [(i, j) for i in range(5, 12) for j in range(8, 11)]  # 7 x 3 vertices: x 0.5-1.1 m, y 0.8-1.0 m
STRAY = (12, 11)  # a rug vertex in no triangle whose three corners are all rug


def grid() -> tuple[np.ndarray, np.ndarray]:
    ij = np.stack(np.meshgrid(np.arange(N + 1), np.arange(N + 1), indexing="ij"), axis=-1).reshape(-1, 2)
    vertices = np.column_stack([ij * H, np.zeros(len(ij))])
    idx = np.arange((N + 1) ** 2).reshape(N + 1, N + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    return vertices, np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])


def write_scan(root: Path, seg: np.ndarray, groups: list[dict[str, object]]) -> None:
    """One frameless scan ``scene0000_00`` of the grid floor with vertex segments ``seg`` and ``groups``."""
    paths = ScanPaths.at(root / "scans" / "scene0000_00", root=root)
    paths.scan_dir.mkdir(parents=True)
    vertices, faces = grid()
    write_ply(paths.mesh, TriangleMesh(vertices, faces, np.full((len(vertices), 3), 128, np.uint8)))
    paths.segments.write_text(json.dumps({"segIndices": seg.tolist()}))
    paths.aggregation.write_text(json.dumps({"segGroups": groups}))
    paths.meta.write_text("sceneType = Living room / Lounge\n")
    rows = [["1", "floor", "floor", "1", "2"], ["2", "rug", "rug", "1", "20"], ["3", "towel", "towel", "1", "40"]]
    lines = ["\t".join(LABEL_TABLE_COLUMNS)]
    for row in rows:
        values = dict(zip(["id", "raw_category", "category", "count", "nyu40id"], row, strict=True))
        values["nyu40class"] = {"rug": "floor mat", "towel": "towel"}.get(row[1], "floor")
        lines.append("\t".join(values.get(c, "") for c in LABEL_TABLE_COLUMNS))
    (root / LABEL_TABLE).write_text("\n".join(lines) + "\n")


def rug_segments() -> np.ndarray:
    """Segment 0 everywhere but the rug: segment 1 (a block) and segment 2 (STRAY)."""
    seg = np.zeros((N + 1) ** 2, dtype=np.int64)
    for i, j in RUG:
        seg[i * (N + 1) + j] = 1
    seg[STRAY[0] * (N + 1) + STRAY[1]] = 2
    return seg


FLOOR_AND_RUG: list[dict[str, Any]] = [
    {"id": 0, "objectId": 0, "segments": [0], "label": "floor"},
    {"id": 1, "objectId": 1, "segments": [1, 2], "label": "rug"},
]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One frameless scan: a floor whose segment 0 surrounds a rug made of segments 1 (a block) and 2 (STRAY)."""
    root = tmp_path_factory.mktemp("rug")
    write_scan(root, rug_segments(), FLOOR_AND_RUG)
    return root


def test_objects_get_every_triangle_they_touch() -> None:
    """Hand-made: the object of each vertex (vertex 3 in none), triangle 0 has a corner in each of the three
    objects and triangle 1 a corner outside every object."""
    vertex_group = np.array([1, 2, 0, -1, 1, 2])
    faces = np.array([[0, 1, 2], [0, 4, 3], [3, 5, 1], [4, 0, 5]])
    assert [f.tolist() for f in faces_touching(faces, vertex_group, 3)] == [[0], [0, 1, 3], [0, 2, 3]]


def test_boxes_hold_every_vertex_of_the_segments(root: Path) -> None:
    """ScanNet's and mmdetection3d's convention: a box spans all vertices of the object's segments, the stray
    vertex included (a box of the object's whole triangles stops 10 cm short in x and y)."""
    scan = ScanNetSource(ScanNetSourceConfig(root=root)).load("scene0000_00")
    floor, rug = scan.objects
    assert len(rug.vertex_ids) == len(RUG) + 1
    np.testing.assert_allclose(rug.aabb.minimum, (0.5, 0.8, 0.0), atol=1e-12)
    np.testing.assert_allclose(rug.aabb.maximum, (1.2, 1.1, 0.0), atol=1e-12)
    np.testing.assert_allclose(floor.aabb.maximum, (2.0, 2.0, 0.0), atol=1e-12)


def test_surfaces_partition_the_mesh_and_touch(root: Path) -> None:
    """Every vertex's barycentric cell on this grid has area h^2; the rug's 22 vertices are interior, so its
    surface is 22 h^2; floor and rug together are the whole mesh, and they touch (distance 0)."""
    scan = ScanNetSource(ScanNetSourceConfig(root=root)).load("scene0000_00")
    floor, rug = scan.objects
    rug_area = triangle_areas(rug.surface.vertices, rug.surface.faces).sum()
    floor_area = triangle_areas(floor.surface.vertices, floor.surface.faces).sum()
    assert rug_area == pytest.approx(22 * H * H, rel=1e-6)  # float32 vertices in the PLY
    assert rug_area + floor_area == pytest.approx((N * H) ** 2, rel=1e-6)
    assert surface_distance(rug.surface, floor.surface) == pytest.approx(0.0, abs=1e-6)


def test_rendered_mask_splits_border_triangles_like_the_surfaces(root: Path) -> None:
    """Looking straight down from 2 m, each rendered pixel covers (z / f)^2 of floor: the rug's pixels add up
    to its surface area, border triangles included."""
    scan = ScanNetSource(ScanNetSourceConfig(root=root)).load("scene0000_00")
    image = CameraIntrinsics(fx=1000.0, fy=1000.0, cx=647.5, cy=483.5, width=1296, height=968)
    pose = np.eye(4)
    pose[:3, :3] = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])  # looking down -z
    pose[:3, 3] = (0.9, 0.95, 2.0)
    measurer = ViewMeasurer(scan, MetadataConfig(), image)
    objects, view = measurer.measure(pose, Timings())
    rug = next(o for o in objects if o.label == "rug")
    k = measurer.render_k
    pixel_area = (2.0 / k.fx) * (2.0 / k.fy)
    assert rug.pixel_fraction * k.width * k.height * pixel_area == pytest.approx(22 * H * H, rel=0.03)
    assert rug.visibility == pytest.approx(1.0)
    hit = np.isfinite(view.depth)
    assert hit.any() and (view.instance[hit] >= 0).all()  # no pixel of a border triangle is left without an owner


# ----------------------------------------------------------------------------------------------- overlapping groups


def load_objects(root: Path) -> dict[int, tuple[str, np.ndarray, tuple[float, ...], tuple[float, ...]]]:
    """object id -> (label, vertex ids, box min, box max) as the ScanNet reader builds them."""
    scan = ScanNetSource(ScanNetSourceConfig(root=root)).load("scene0000_00")
    return {o.info.object_id: (o.info.label, o.vertex_ids, o.aabb.minimum, o.aabb.maximum) for o in scan.objects}


def later_group_wins(seg: np.ndarray, groups: list[dict[str, Any]]) -> dict[int, np.ndarray]:
    """The oracle: mmdetection3d's ``export`` loop, one segment at a time, later groups overwriting earlier ones;
    object id -> its vertex ids (objects left without a vertex are absent)."""
    instance = np.full(len(seg), -1)
    for group in groups:
        for segment in group["segments"]:
            instance[seg == segment] = group["objectId"]
    return {int(i): np.flatnonzero(instance == i) for i in np.unique(instance) if i >= 0}


def test_a_scan_listing_its_objects_twice_has_each_object_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """ScanNet's scene0217_00 repeats every object under new ids (ScanNet/ScanNet#51): the repeats are dropped,
    leaving the objects and boxes of the scan without them."""
    write_scan(tmp_path / "once", rug_segments(), FLOOR_AND_RUG)
    repeated = FLOOR_AND_RUG + [{**g, "id": g["objectId"] + 2, "objectId": g["objectId"] + 2} for g in FLOOR_AND_RUG]
    write_scan(tmp_path / "twice", rug_segments(), [*repeated, {**FLOOR_AND_RUG[1], "segments": [2, 1, 2]}])
    with caplog.at_level(logging.WARNING, logger="ladderdata"):
        twice = load_objects(tmp_path / "twice")
    once = load_objects(tmp_path / "once")
    assert list(twice) == list(once) == [0, 1]
    for object_id, (label, vertex_ids, lo, hi) in once.items():
        assert twice[object_id][0] == label
        np.testing.assert_array_equal(twice[object_id][1], vertex_ids)
        np.testing.assert_array_equal(twice[object_id][2], lo)
        np.testing.assert_array_equal(twice[object_id][3], hi)
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "scene0000_00" in warning and "3 objects twice" in warning and "2 (= 0), 3 (= 1), 1 (= 1)" in warning


@pytest.mark.parametrize("mat_last", [True, False], ids=["mat listed last", "mat listed first"])
def test_a_shared_segment_goes_to_the_later_group(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mat_last: bool
) -> None:
    """A mat (segment 3, a block of floor, plus the rug's STRAY segment) listed with the segments of floor and rug:
    each shared segment's vertices belong to whichever group comes later, and every box is the box of those
    vertices. A group whose every segment a later one takes (a towel on the stray vertex) is dropped."""
    seg = rug_segments()
    mat = [(i, j) for i in range(14, 17) for j in range(2, 5)]
    for i, j in mat:
        seg[i * (N + 1) + j] = 3
    groups: list[dict[str, Any]] = [
        {"objectId": 0, "segments": [0, 3], "label": "floor"},
        {"objectId": 1, "segments": [1, 2], "label": "rug"},
    ]
    mat_group = {"objectId": 2, "segments": [3, 2], "label": "rug"}
    groups = [*groups, mat_group] if mat_last else [mat_group, *groups]
    groups.insert(0, {"objectId": 5, "segments": [2], "label": "towel"})
    write_scan(tmp_path, seg, groups)
    with caplog.at_level(logging.WARNING, logger="ladderdata"):
        objects = load_objects(tmp_path)
    expected = later_group_wins(seg, groups)
    assert sorted(objects) == sorted(expected) == ([0, 1, 2] if mat_last else [0, 1])  # no towel
    vertices, _ = grid()
    for object_id, vertex_ids in expected.items():
        _, found, lo, hi = objects[object_id]
        np.testing.assert_array_equal(found, vertex_ids)
        np.testing.assert_allclose(lo, vertices[vertex_ids].min(axis=0), atol=1e-6)
        np.testing.assert_allclose(hi, vertices[vertex_ids].max(axis=0), atol=1e-6)
    messages = [r.getMessage() for r in caplog.records]
    assert any("scene0000_00" in m and "goes to the later one" in m for m in messages), messages
    (dropped,) = [m for m in messages if "left without segments" in m]
    if mat_last:  # the mat took segment 3 from the floor and the stray vertex from the rug
        np.testing.assert_allclose([objects[2][2], objects[2][3]], [(1.2, 0.2, 0), (1.6, 1.1, 0)], atol=1e-6)
        np.testing.assert_allclose(objects[1][3], (1.1, 1.0, 0), atol=1e-6)
        assert "scene0000_00" in dropped and dropped.endswith(": 5 (towel)")
    else:  # the mat lost both its segments to the floor and the rug listed after it
        np.testing.assert_allclose(objects[1][3], (1.2, 1.1, 0), atol=1e-6)
        assert "scene0000_00" in dropped and dropped.endswith(": 5 (towel), 2 (rug)")


@pytest.mark.parametrize("groups", [1, 7, 300, 40_000])
def test_faces_touching_each_group_are_its_faces_in_order(groups: int) -> None:
    """Against the per-face oracle: for each group, the faces with a corner in it, ascending, each once (the
    int16 radix sort and the int64 one for more groups than int16 holds)."""
    rng = np.random.default_rng(groups)
    vertex_group = rng.integers(-1, groups, size=5000)
    faces = rng.integers(0, len(vertex_group), size=(20000, 3))
    faces[::5, 1] = faces[::5, 0]  # repeated corners: the face listed once for their group
    expected: list[list[int]] = [[] for _ in range(groups)]
    for f, corners in enumerate(faces.tolist()):
        for g in sorted({int(vertex_group[c]) for c in corners} - {-1}):
            expected[g].append(f)
    got = faces_touching(faces, vertex_group, groups)
    assert [f.tolist() for f in got] == expected and all(f.dtype == np.int64 for f in got)


@pytest.mark.parametrize("segments", [[0, 1, 99, 7, 99, -3, 10**6, 55, 56], [4, 3, 4], [1, 2**40]])
def test_segment_ids_no_vertex_has_are_named_sorted(tmp_path: Path, segments: list[int]) -> None:
    """An object listing segment ids that no vertex has fails naming the first five of them, sorted and once each
    (``np.setdiff1d``'s ids, the oracle)."""
    known = np.unique(rug_segments())
    write_scan(tmp_path, rug_segments(), [FLOOR_AND_RUG[0], {**FLOOR_AND_RUG[1], "segments": segments}])
    with pytest.raises(InconsistentScanError) as failure:
        load_objects(tmp_path)
    unknown = np.setdiff1d(np.array(segments), known)[:5].tolist()
    assert f"references segment ids {unknown} that no vertex has" in str(failure.value)
