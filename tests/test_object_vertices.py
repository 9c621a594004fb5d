"""Which vertices make an object, read through the ScanNet reader from a connected mesh whose segment borders
cut triangles (as in real scans, unlike the synthetic scans, whose objects share no triangle)."""

import json
from pathlib import Path

import numpy as np
import pytest

from ladderdata.geometry.camera import CameraIntrinsics
from ladderdata.geometry.measure import surface_distance, triangle_areas
from ladderdata.layout import LABEL_TABLE, ScanPaths
from ladderdata.metadata.config import MetadataConfig
from ladderdata.metadata.views import Timings, ViewMeasurer
from ladderdata.sources.ply import TriangleMesh, write_ply
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig, faces_touching, vertex_groups
from ladderdata.sources.synthetic import LABEL_TABLE_COLUMNS

H, N = 0.1, 20  # a 2 m x 2 m floor, one vertex every 10 cm
RUG = [(i, j) for i in range(5, 12) for j in range(8, 11)]  # 7 x 3 vertices: x 0.5-1.1 m, y 0.8-1.0 m
STRAY = (12, 11)  # a rug vertex in no triangle whose three corners are all rug


def grid() -> tuple[np.ndarray, np.ndarray]:
    ij = np.stack(np.meshgrid(np.arange(N + 1), np.arange(N + 1), indexing="ij"), axis=-1).reshape(-1, 2)
    vertices = np.column_stack([ij * H, np.zeros(len(ij))])
    idx = np.arange((N + 1) ** 2).reshape(N + 1, N + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    return vertices, np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One frameless scan: a floor whose segment 0 surrounds a rug made of segments 1 (a block) and 2 (STRAY)."""
    root = tmp_path_factory.mktemp("rug")
    paths = ScanPaths.at(root / "scans" / "scene0000_00", root=root)
    paths.scan_dir.mkdir(parents=True)
    vertices, faces = grid()
    write_ply(paths.mesh, TriangleMesh(vertices, faces, np.full((len(vertices), 3), 128, np.uint8)))
    seg = np.zeros(len(vertices), dtype=np.int64)
    for i, j in RUG:
        seg[i * (N + 1) + j] = 1
    seg[STRAY[0] * (N + 1) + STRAY[1]] = 2
    paths.segments.write_text(json.dumps({"segIndices": seg.tolist()}))
    groups = [
        {"id": 0, "objectId": 0, "segments": [0], "label": "floor"},
        {"id": 1, "objectId": 1, "segments": [1, 2], "label": "rug"},
    ]
    paths.aggregation.write_text(json.dumps({"segGroups": groups}))
    paths.meta.write_text("sceneType = Living room / Lounge\n")
    rows = [["1", "floor", "floor", "1", "2"], ["2", "rug", "rug", "1", "20"]]
    lines = ["\t".join(LABEL_TABLE_COLUMNS)]
    for row in rows:
        values = dict(zip(["id", "raw_category", "category", "count", "nyu40id"], row, strict=True))
        values["nyu40class"] = "floor mat" if row[1] == "rug" else "floor"
        lines.append("\t".join(values.get(c, "") for c in LABEL_TABLE_COLUMNS))
    (root / LABEL_TABLE).write_text("\n".join(lines) + "\n")
    return root


def test_objects_get_the_vertices_of_their_segments_and_every_triangle_they_touch() -> None:
    """Hand-made: vertex 3's segment (77) is in no group, group 2 lists segment 20 twice, triangle 0 has a corner
    in each of the three groups and triangle 1 a corner outside every group."""
    seg = np.array([10, 20, 30, 77, 10, 20])
    groups = [np.array([30]), np.array([10]), np.array([20, 20])]
    vertex_group = vertex_groups(seg, groups)
    assert vertex_group.tolist() == [1, 2, 0, -1, 1, 2]
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
