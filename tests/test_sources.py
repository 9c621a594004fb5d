import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from fixtures.factories import load_ground_truth, scan_paths
from ladderdata.errors import ConfigError, CorruptFileError, InconsistentScanError
from ladderdata.geometry.measure import floor_area, object_size_cm, surface_distance
from ladderdata.layout import FramesLayout
from ladderdata.sources.base import SOURCES
from ladderdata.sources.labels import LabelTable
from ladderdata.sources.ply import TriangleMesh
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig
from ladderdata.sources.sens import read_sens_index
from ladderdata.sources.validate import MAX_SCENE_EXTENT, OUTLIER_MARGIN, drop_outliers, int_array


def source(root: Path, layout: FramesLayout | None = None, **kw: object) -> ScanNetSource:
    return ScanNetSource(ScanNetSourceConfig(root=root, frames_layout=layout, **kw))


def test_registered() -> None:
    assert SOURCES["scannet"] is ScanNetSource


def test_discovery_sorted_and_splits(synthetic_root: Path) -> None:
    src = source(synthetic_root)
    assert src.scan_ids() == ["scene0000_00", "scene0001_00"]
    assert src.scan_ids("train") == ["scene0000_00", "scene0001_00"]
    assert src.scan_ids("val") == []


def test_folder_of_scan_folders(synthetic_root: Path, tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    for scan_id in ("scene0001_00", "scene0000_00"):
        shutil.copytree(synthetic_root / "scans" / scan_id, flat / scan_id)
    (flat / "not_a_scan").mkdir()
    src = source(flat, label_table=synthetic_root / "scannetv2-labels.combined.tsv")
    assert src.scan_ids() == ["scene0000_00", "scene0001_00"]
    assert len(src.load("scene0000_00").objects) > 10


def test_three_layouts_agree(synthetic_root: Path) -> None:
    scans = {lay: source(synthetic_root, lay).load("scene0000_00") for lay in FramesLayout}
    ref = scans[FramesLayout.SENS]
    assert ref.frames is not None and ref.frames.layout is FramesLayout.SENS
    for lay, scan in scans.items():
        assert scan.frames is not None and scan.frames.layout is lay
        assert [o.info for o in scan.objects] == [o.info for o in ref.objects]
        np.testing.assert_array_equal(scan.valid_poses, ref.valid_poses)
        # .sens stores float32, text files 9 significant digits
        np.testing.assert_allclose(scan.poses[scan.valid_poses], ref.poses[ref.valid_poses], atol=1e-5)
        np.testing.assert_array_equal(scan.frames.frame_ids, ref.frames.frame_ids)
        np.testing.assert_array_equal(scan.frames.timestamps_us, ref.frames.timestamps_us)
        assert scan.frames.color_intrinsics.width == 1296 and scan.frames.color_intrinsics.height == 968
        depth_k = scan.frames.depth_intrinsics
        assert depth_k is not None and (depth_k.width, depth_k.height) == (640, 480)
        assert scan.frames.color_intrinsics.fx == pytest.approx(ref.frames.color_intrinsics.fx, rel=1e-6)
        np.testing.assert_array_equal(scan.frames.read_color(4), ref.frames.read_color(4))
        np.testing.assert_array_equal(scan.frames.read_depth(4), ref.frames.read_depth(4))


def test_invalid_poses_masked_and_counted(synthetic_root: Path) -> None:
    gt = load_ground_truth(synthetic_root, "scene0000_00")
    scan = source(synthetic_root).load("scene0000_00")
    assert scan.num_invalid_poses == len(gt.invalid_frames) == 2
    assert np.flatnonzero(~scan.valid_poses).tolist() == gt.invalid_frames
    assert np.isnan(scan.poses[gt.invalid_frames]).all()


@pytest.mark.parametrize("scan_id", ["scene0000_00", "scene0001_00"])
def test_reader_geometry_matches_ground_truth(synthetic_root: Path, scan_id: str) -> None:
    """Axis alignment applied to the mesh, objects assembled from segments, measurements exact."""
    gt = load_ground_truth(synthetic_root, scan_id)
    scan = source(synthetic_root).load(scan_id)
    np.testing.assert_allclose(scan.axis_alignment, gt.axis_alignment, atol=1e-7)
    objs = {o.info.object_id: o for o in scan.objects}
    assert sorted(objs) == [o.object_id for o in gt.objects]
    for g in gt.objects:
        o = objs[g.object_id]
        assert o.info.label == g.label
        np.testing.assert_allclose(o.aabb.minimum, g.aabb_min, atol=1e-5)
        np.testing.assert_allclose(o.aabb.maximum, g.aabb_max, atol=1e-5)
        if g.size_cm is not None:
            assert object_size_cm(o.points) == pytest.approx(g.size_cm, abs=0.1)  # 1 mm
    for d in gt.distances:
        assert surface_distance(objs[d.a].surface, objs[d.b].surface) == pytest.approx(d.distance, abs=1e-3)
    floor = next(o for o in scan.objects if o.info.label == "floor")
    assert floor_area(floor.surface.vertices, floor.surface.faces) == pytest.approx(gt.floor_area, rel=0.01)


def test_poses_are_axis_aligned(synthetic_root: Path) -> None:
    """The camera stays inside the room polygon only if the alignment was applied to the poses too."""
    gt = load_ground_truth(synthetic_root, "scene0001_00")
    scan = source(synthetic_root).load("scene0001_00")
    centres = scan.poses[scan.valid_poses][:, :3, 3]
    poly = np.array(gt.room_polygon)
    assert (centres[:, :2] > poly.min(0)).all() and (centres[:, :2] < poly.max(0)).all()
    assert np.allclose(centres[:, 2], 1.5, atol=0.1)


def test_sens_index_reads_headers_only(synthetic_root: Path) -> None:
    paths = scan_paths(synthetic_root, "scene0000_00")
    index = read_sens_index(paths.sens)
    assert index.header.num_frames == 10
    assert (np.diff(index.color_offsets) > 0).all()
    assert index.depth_offsets[-1] + index.depth_sizes[-1] == paths.sens.stat().st_size


def test_categories_mapped_with_real_label_table(synthetic_root: Path, scannet_meta: Path) -> None:
    real = LabelTable.read(scannet_meta / "scannetv2-labels.combined.tsv")
    scan = source(synthetic_root, label_table=scannet_meta / "scannetv2-labels.combined.tsv").load("scene0000_00")
    for o in scan.objects:
        entry = real.lookup(o.info.label)
        assert (o.info.category, o.info.nyu40_id, o.info.nyu40_class) == (
            entry.category,
            entry.nyu40_id,
            entry.nyu40_class,
        )
    chairs = [o for o in scan.objects if o.info.label == "chair"]
    assert all(o.info.nyu40_id == 5 for o in chairs)


def test_real_split_lists(synthetic_root: Path, scannet_meta: Path) -> None:
    src = source(synthetic_root, split_dir=scannet_meta)
    val = src.split_ids("val")
    assert len(val) == 312 and val[0].startswith("scene")
    assert src.scan_ids("val") == [s for s in src.scan_ids() if s in set(val)]


def test_missing_split_list_is_a_clear_error(synthetic_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"scannetv2_val\.txt"):
        source(synthetic_root, split_dir=tmp_path).scan_ids("val")


def test_missing_label_table_is_a_clear_error(synthetic_root: Path, tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    shutil.copytree(synthetic_root / "scans" / "scene0000_00", flat / "scene0000_00")
    with pytest.raises(ConfigError, match="label table"):
        source(flat).load("scene0000_00")


def test_scan_without_frames(synthetic_root: Path, tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    dst = flat / "scene0000_00"
    shutil.copytree(synthetic_root / "scans" / "scene0000_00", dst)
    (dst / "scene0000_00.sens").unlink()
    shutil.rmtree(dst / "pose")
    scan = source(flat, label_table=synthetic_root / "scannetv2-labels.combined.tsv").load("scene0000_00")
    assert scan.frames is None and scan.poses.shape == (0, 4, 4)


def test_sources_are_chosen_through_the_registry(synthetic_root: Path, tmp_path: Path) -> None:
    from ladderdata.pipeline import BuildConfig
    from ladderdata.sources.base import open_source, register_source, source_config

    config = source_config("scannet", root=synthetic_root, frames_layout="posed")
    assert isinstance(config, ScanNetSourceConfig) and config.frames_layout is FramesLayout.POSED
    assert isinstance(open_source(config), ScanNetSource)
    with pytest.raises(
        ConfigError, match=r"unknown scan source 'nope' \(registered: arkitscenes, mixed, scannet, scannetpp"
    ):
        source_config("nope", root=synthetic_root)
    with pytest.raises(ConfigError, match="bad settings for scan source 'scannet'"):
        source_config("scannet", root=synthetic_root, frames_layout="video")
    # a build config carries the source's name and every field of its config through JSON
    build = BuildConfig(source=config, out=tmp_path)
    again = BuildConfig.model_validate_json(build.model_dump_json())
    assert again.source == config and isinstance(again.source, ScanNetSourceConfig)
    with pytest.raises(ValueError, match="must default to 'other'"):
        register_source("other")(ScanNetSource)


@pytest.mark.parametrize("layout", list(FramesLayout))
def test_input_files_are_every_file_the_scan_is_read_from(synthetic_root: Path, layout: FramesLayout) -> None:
    """Cache keys cover these files: the scan's folder minus the frame layouts not read, plus the label table."""
    src = source(synthetic_root, layout)
    paths = scan_paths(synthetic_root, "scene0000_00")
    other_layouts = {
        FramesLayout.SENS: [paths.sens],
        FramesLayout.EXPORT: [
            p for d in ("color", "depth", "pose", "intrinsic") for p in (paths.scan_dir / d).rglob("*")
        ],
        FramesLayout.POSED: list(paths.posed_dir.rglob("*")),
    }
    read = {p for p in [*paths.scan_dir.rglob("*"), *paths.posed_dir.rglob("*")] if p.is_file()}
    for other, files in other_layouts.items():
        if other is not layout:
            read -= set(files)
    read.add(synthetic_root / "scannetv2-labels.combined.tsv")
    assert set(src.input_files("scene0000_00")) == read
    assert src.location("scene0000_00") == paths.scan_dir


def test_outliers_dropped_are_the_rows_outside_the_margin_and_the_extent_is_checked() -> None:
    """``drop_outliers``'s per-axis row tests keep exactly the vertices ``np.all(..., axis=1)`` keeps (the oracle),
    with their triangles renumbered; a mesh spanning more than a room fails naming its extent."""
    rng = np.random.default_rng(4)
    vertices = rng.uniform(0, 5, size=(2000, 3))
    vertices[[3, 700, 1999]] = [[40.0, 1, 1], [1, -30.0, 1], [1, 1, 16.0]]
    faces = rng.integers(0, len(vertices), size=(3000, 3))
    mesh = TriangleMesh(vertices, faces, np.zeros((len(vertices), 3), np.uint8))
    lo, hi = np.percentile(vertices, [1.0, 99.0], axis=0)
    expected = np.all((vertices >= lo - OUTLIER_MARGIN) & (vertices <= hi + OUTLIER_MARGIN), axis=1)
    kept_mesh, kept = drop_outliers("s", Path("m.ply"), mesh)
    assert kept.tolist() == np.flatnonzero(expected).tolist() and len(kept) == len(vertices) - 3
    assert kept_mesh.vertices.tobytes() == vertices[expected].tobytes()
    np.testing.assert_array_equal(kept[kept_mesh.faces], faces[expected[faces].all(axis=1)])
    same, all_kept = drop_outliers("s", Path("m.ply"), kept_mesh)
    assert same is kept_mesh and len(all_kept) == len(kept)
    spread = np.column_stack([np.linspace(0, 1.5 * MAX_SCENE_EXTENT, 500), np.zeros((500, 2))])  # every one kept
    wide = TriangleMesh(spread, faces[:0], np.zeros((500, 3), np.uint8))
    with pytest.raises(InconsistentScanError, match="the mesh spans"):
        drop_outliers("s", Path("m.ply"), wide)


def test_sens_index_is_each_frame_header_read_in_turn(synthetic_root: Path) -> None:
    """The index read unbuffered and built once from every frame's header fields is the per-frame reading (the
    oracle: seek, read, unpack, one frame after another, offsets summed): every array, its dtype and its bits."""
    path = scan_paths(synthetic_root, "scene0000_00").sens
    index = read_sens_index(path)
    frame = struct.Struct("<16f4Q")
    with open(path, "rb") as f:
        f.seek(int(index.color_offsets[0]) - frame.size)
        rows = []
        for _ in range(index.header.num_frames):
            start = f.tell()
            vals = frame.unpack(f.read(frame.size))
            rows.append((vals[:16], vals[16], start + frame.size, vals[18], vals[19]))
            f.seek(start + frame.size + vals[18] + vals[19])
    expected = {
        "poses": np.array([r[0] for r in rows], dtype=np.float64).reshape(-1, 4, 4),
        "timestamps_color": np.array([r[1] for r in rows], dtype=np.uint64),
        "color_offsets": np.array([r[2] for r in rows], dtype=np.int64),
        "color_sizes": np.array([r[3] for r in rows], dtype=np.int64),
        "depth_offsets": np.array([r[2] + r[3] for r in rows], dtype=np.int64),
        "depth_sizes": np.array([r[4] for r in rows], dtype=np.int64),
    }
    assert index.header.num_frames > 5 and index.depth_offsets[-1] + index.depth_sizes[-1] == path.stat().st_size
    for name, array in expected.items():
        got = getattr(index, name)
        assert got.dtype == array.dtype and got.shape == array.shape and got.tobytes() == array.tobytes(), name


@pytest.mark.parametrize(
    ("value", "kept"),
    [([0, 2**63 - 1, -(2**63)], True), ([1, 2**63], False), ([-(2**63) - 1, 0], False), ([10**30], False), ([], True)],
)
def test_int_array_keeps_exactly_the_int64_range(value: list[int], kept: bool) -> None:
    """The int64 range is what ``min(value) >= -2**63 and max(value) < 2**63`` accepts (the check numpy's own
    overflow now makes); a number beyond it fails naming the file."""
    if kept:
        assert int_array("s", Path("segs.json"), value, "x").tolist() == value
    else:
        with pytest.raises(CorruptFileError, match=r"segs\.json.*x holds integers beyond 64 bits"):
            int_array("s", Path("segs.json"), value, "x")
