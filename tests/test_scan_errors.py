"""One test per kind of malformed input; each breaks a copy of a good synthetic scan."""

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fixtures.factories import copy_root, load_ground_truth, scan_paths
from ladderdata.errors import CorruptFileError, InconsistentScanError, MissingFileError, ScanError
from ladderdata.layout import FramesLayout, ScanPaths
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig

SCAN = "scene0000_00"


def _truncate(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _edit_json(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _ply_without_faces(p: ScanPaths) -> None:
    data = p.mesh.read_bytes()
    head, _, body = data.partition(b"end_header\n")
    n_vertices = int(re.search(rb"element vertex (\d+)", head).group(1))  # type: ignore[union-attr]
    head = re.sub(rb"element face \d+", b"element face 0", head)
    p.mesh.write_bytes(head + b"end_header\n" + body[: n_vertices * 16])


BREAKAGES: list[
    tuple[str, Callable[[ScanPaths], object], type[ScanError], Callable[[ScanPaths], Path], FramesLayout | None]
] = [
    ("missing mesh", lambda p: p.mesh.unlink(), MissingFileError, lambda p: p.mesh, None),
    ("missing meta txt", lambda p: p.meta.unlink(), MissingFileError, lambda p: p.meta, None),
    ("missing aggregation", lambda p: p.aggregation.unlink(), MissingFileError, lambda p: p.aggregation, None),
    ("truncated sens", lambda p: _truncate(p.sens, 0.6), CorruptFileError, lambda p: p.sens, FramesLayout.SENS),
    (
        "sens wrong version",
        lambda p: p.sens.write_bytes(b"\x05\x00\x00\x00" + p.sens.read_bytes()[4:]),
        CorruptFileError,
        lambda p: p.sens,
        FramesLayout.SENS,
    ),
    (
        "bad aggregation json",
        lambda p: p.aggregation.write_text("{not json"),
        CorruptFileError,
        lambda p: p.aggregation,
        None,
    ),
    ("bad segments json", lambda p: p.segments.write_text("[1, 2"), CorruptFileError, lambda p: p.segments, None),
    ("ply without faces", _ply_without_faces, CorruptFileError, lambda p: p.mesh, None),
    ("truncated ply", lambda p: _truncate(p.mesh, 0.5), CorruptFileError, lambda p: p.mesh, None),
    (
        "segment ids out of range",
        lambda p: _edit_json(p.aggregation, lambda d: d["segGroups"][0]["segments"].append(10**6)),
        InconsistentScanError,
        lambda p: p.aggregation,
        None,
    ),
    (
        "segIndices length mismatch",
        lambda p: _edit_json(p.segments, lambda d: d["segIndices"].pop()),
        InconsistentScanError,
        lambda p: p.segments,
        None,
    ),
    (
        "axisAlignment wrong shape",
        lambda p: p.meta.write_text("axisAlignment = 1 0 0 0 0 1 0 0 0 0 1 0\n"),
        InconsistentScanError,
        lambda p: p.meta,
        None,
    ),
    (
        "pose wrong shape",
        lambda p: p.export_pose(3).write_text("1 0 0 0\n0 1 0 0\n0 0 1 0\n"),
        InconsistentScanError,
        lambda p: p.export_pose(3),
        FramesLayout.EXPORT,
    ),
    (
        "posed intrinsic wrong shape",
        lambda p: p.posed_intrinsic.write_text("1 0 0\n0 1 0\n0 0 1\n"),
        InconsistentScanError,
        lambda p: p.posed_intrinsic,
        FramesLayout.POSED,
    ),
    (
        "empty object",
        lambda p: _edit_json(p.aggregation, lambda d: d["segGroups"][1].update(segments=[])),
        InconsistentScanError,
        lambda p: p.aggregation,
        None,
    ),
    (
        "malformed segGroup",
        lambda p: _edit_json(p.aggregation, lambda d: d["segGroups"][0].pop("label")),
        CorruptFileError,
        lambda p: p.aggregation,
        None,
    ),
]


@pytest.mark.parametrize(("name", "breakage", "error", "culprit", "layout"), BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_broken_scan_raises_error_naming_scan_and_file(
    synthetic_root: Path,
    tmp_path: Path,
    name: str,
    breakage: Callable[[ScanPaths], None],
    error: type[ScanError],
    culprit: Callable[[ScanPaths], Path],
    layout: FramesLayout | None,
) -> None:
    root = copy_root(synthetic_root, tmp_path / "root")
    paths = scan_paths(root, SCAN)
    breakage(paths)
    src = ScanNetSource(ScanNetSourceConfig(root=root, frames_layout=layout))
    with pytest.raises(error) as info:
        src.load(SCAN)
        if layout is not None:  # folder layouts find some problems only when the frame is read
            scan = src.load(SCAN)
            assert scan.frames is not None
            scan.frames.read_color(3)
    assert info.value.scan_id == SCAN
    assert info.value.path == culprit(paths)
    assert SCAN in str(info.value) and culprit(paths).name in str(info.value)
    # the other scan of the root is unaffected
    assert len(src.load("scene0001_00").objects) == len(load_ground_truth(root, "scene0001_00").objects)


def test_invalid_pose_file_is_masked_not_fatal(synthetic_root: Path, tmp_path: Path) -> None:
    root = copy_root(synthetic_root, tmp_path / "root")
    paths = scan_paths(root, SCAN)
    invalid_before = load_ground_truth(root, SCAN).invalid_frames
    frame = next(i for i in range(10) if i not in invalid_before)
    paths.export_pose(frame).write_text("\n".join(["-inf -inf -inf -inf"] * 4))
    scan = ScanNetSource(ScanNetSourceConfig(root=root, frames_layout=FramesLayout.EXPORT)).load(SCAN)
    assert not scan.valid_poses[frame] and scan.num_invalid_poses == len(invalid_before) + 1
    assert np.isfinite(scan.poses[scan.valid_poses]).all()


def test_corrupt_colour_frame(synthetic_root: Path, tmp_path: Path) -> None:
    root = copy_root(synthetic_root, tmp_path / "root")
    paths = scan_paths(root, SCAN)
    paths.export_color(2).write_bytes(b"not a jpeg")
    scan = ScanNetSource(ScanNetSourceConfig(root=root, frames_layout=FramesLayout.EXPORT)).load(SCAN)
    assert scan.frames is not None
    with pytest.raises(CorruptFileError, match=r"2\.jpg"):
        scan.frames.read_color(2)
    assert scan.frames.read_color(3).shape == (968, 1296, 3)
