"""Every reader meets the same rules, and nothing wrong is built silently (docs/reliability.md): the depth gate
fails scans whose sensor depth disagrees with their mesh (naming the cause), ARKitScenes trajectories on a shifted
clock are refused, empty annotations fail, split lists say what they cannot select, COLMAP files are parsed by
their structure, and ``ladder scans`` fails the scans a build would fail. Reader-level tests on copies of the
shared synthetic roots: nothing here builds a dataset."""

import json
import logging
import os
import re
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fixtures.factories import copy_root, scan_paths, scannet
from ladderdata import cli
from ladderdata.errors import CorruptFileError, InconsistentScanError
from ladderdata.layout import FramesLayout
from ladderdata.metadata.config import MetadataConfig
from ladderdata.metadata.depth_check import FAIL_MEDIAN, VIEW_FLOOR, WARN_MEDIAN, ViewDepth, check_depth
from ladderdata.metadata.extract import measure_scan
from ladderdata.pipeline.plan import resolve_scan_ids
from ladderdata.sources.arkitscenes import ARKitScenesSource, ARKitScenesSourceConfig
from ladderdata.sources.base import open_source
from ladderdata.sources.colmap import read_images_text
from ladderdata.sources.decoder import decoder_messages
from ladderdata.sources.ply import read_ply, write_ply
from ladderdata.sources.preflight import preflight
from ladderdata.sources.scannetpp import ScanNetPPSource, ScanNetPPSourceConfig

SCAN = "scene0000_00"
POSES = Path("poses.txt")


# ------------------------------------------------------------------------------------- the depth gate


def views(agreements: list[float], coverage: float = 0.8, ratio: float = 1.0) -> list[ViewDepth]:
    return [ViewDepth(a, coverage, ratio) for a in agreements]


def test_the_gate_passes_agreeing_scans_and_fails_disagreeing_ones_with_the_cause() -> None:
    assert check_depth(SCAN, POSES, [], 1000.0) is None  # no sensor depth: nothing to judge
    intact = check_depth(SCAN, POSES, views([1.0, 0.98, 0.95, 0.9, 0.2]), 1000.0)  # one bad view is noise
    assert intact is not None and intact.warning is None and intact.median == pytest.approx(0.95)
    assert intact.share_below == 0.2
    causes = [
        (views([0.0] * 5, coverage=0.0), "a broken mesh"),
        (views([0.0] * 5, ratio=0.001), "depth frames in the wrong unit"),
        (views([0.0] * 5, ratio=1000.0), "depth frames in the wrong unit"),
        (views([0.26] * 5), "the poses do not match the frames"),
    ]
    for given, cause in causes:
        with pytest.raises(InconsistentScanError, match=f"median agreement .* over 5 views.*{cause}") as caught:
            check_depth(SCAN, POSES, given, 1000.0)
        assert str(caught.value).startswith(f"[{SCAN}]") and "poses.txt" in str(caught.value)


def test_the_gate_fails_on_its_median_or_its_share_and_warns_in_between() -> None:
    below, near = FAIL_MEDIAN - 0.01, (FAIL_MEDIAN + WARN_MEDIAN) / 2
    with pytest.raises(InconsistentScanError):
        check_depth(SCAN, POSES, views([below] * 3), 1000.0)
    with pytest.raises(InconsistentScanError):  # median fine, but most views disagree
        check_depth(SCAN, POSES, views([1.0] * 3 + [VIEW_FLOOR / 2] * 5), 1000.0)
    warned = check_depth(SCAN, POSES, views([near] * 3), 1000.0)
    assert warned is not None and warned.warning is not None and "near the failure line" in warned.warning


def test_depth_in_the_wrong_unit_fails_naming_the_unit(scannetpp_root: Path, tmp_path: Path) -> None:
    root = copy_root(scannetpp_root, tmp_path / "root")
    source = ScanNetPPSource(ScanNetPPSourceConfig(root=root))
    scan_id = source.scan_ids()[0]
    for png in (root / "data" / scan_id / "iphone" / "depth").glob("*.png"):
        depth = np.asarray(cv2.imread(str(png), cv2.IMREAD_UNCHANGED), dtype=np.uint16)
        cv2.imwrite(str(png), depth // 1000)  # metres where millimetres belong
    with pytest.raises(InconsistentScanError, match=r"depth frames in the wrong unit \(read as 1000 values per metre"):
        measure_scan(source.load(scan_id), MetadataConfig(frame_stride=1))


def test_a_mesh_of_degenerate_faces_fails_as_a_broken_mesh(synthetic_root: Path, tmp_path: Path) -> None:
    root = copy_root(synthetic_root, tmp_path / "root")
    mesh_path = scan_paths(root, SCAN).mesh
    mesh = read_ply(mesh_path)
    mesh.faces[:, 1:] = mesh.faces[:, :1]  # every triangle a point: the mesh has no surface
    write_ply(mesh_path, mesh)
    scan = open_source(scannet(root)).load(SCAN)
    with pytest.raises(InconsistentScanError, match="a broken mesh"):
        measure_scan(scan, MetadataConfig(frame_stride=2))
    intact = open_source(scannet(synthetic_root)).load(SCAN)
    _, verdict = measure_scan(intact, MetadataConfig(frame_stride=2))
    assert verdict is not None and verdict.median > 0.95 and verdict.warning is None


@pytest.mark.parametrize("shift", [1.0, -2.0])
def test_an_arkitscenes_trajectory_on_a_shifted_clock_is_refused(
    arkitscenes_root: Path, tmp_path: Path, shift: float
) -> None:
    root = copy_root(arkitscenes_root, tmp_path / "root")
    source = ARKitScenesSource(ARKitScenesSourceConfig(root=root))
    video = source.scan_ids()[0]
    traj = next(root.rglob(f"{video}/*/lowres_wide.traj"))
    lines = [line.split() for line in traj.read_text().splitlines()]
    traj.write_text("".join(" ".join([f"{float(t) + shift:.3f}", *rest]) + "\n" for t, *rest in lines))
    with pytest.raises(InconsistentScanError, match=re.escape(f"run {shift:+.3f} s from the frames' at the start")):
        source.load(video)
    # a trajectory that only starts late (tracking began after recording) is not a shifted clock
    traj.write_text("".join(" ".join([t, *rest]) + "\n" for t, *rest in lines[3:]))
    source.load(video)


# ------------------------------------------------------------------------------------- reader rules


def test_an_arkitscenes_annotation_without_objects_fails(arkitscenes_root: Path, tmp_path: Path) -> None:
    root = copy_root(arkitscenes_root, tmp_path / "root")
    source = ARKitScenesSource(ARKitScenesSourceConfig(root=root))
    video = source.scan_ids()[0]
    annotation = next(root.rglob(f"{video}_3dod_annotation.json"))
    annotation.write_text(json.dumps(json.loads(annotation.read_text()) | {"data": []}))
    with pytest.raises(InconsistentScanError, match="no annotated object: 'data' is empty") as caught:
        source.load(video)
    assert str(caught.value).startswith(f"[{video}]")


def _split_sources(synthetic_root: Path, scannetpp_root: Path) -> list[tuple[object, Path, str]]:
    scannet_source = open_source(scannet(synthetic_root))
    pp = ScanNetPPSource(ScanNetPPSourceConfig(root=scannetpp_root))
    return [
        (scannet_source, synthetic_root / "scannetv2_val.txt", SCAN),
        (pp, scannetpp_root / "splits" / "nvs_sem_val.txt", pp.scan_ids()[0]),
    ]


def test_split_lists_say_which_entries_they_cannot_select(
    synthetic_root: Path, scannetpp_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Official split lists (ScanNet, ScanNet++) and ``--split FILE``: odd entries (paths) and ids with no scan
    are named in a warning, never silently dropped; what is there is selected."""
    for source, official, present in _split_sources(synthetic_root, scannetpp_root):
        copy = copy_root(official.parent, tmp_path / type(source).__name__)
        listing = copy / official.relative_to(official.parent)
        listing.write_text(f"../{present}\nx/../{present}\nscene9999_99\n{present}\n")
        config = source.config.model_copy(update={"split_dir": listing.parent})  # type: ignore[attr-defined]
        with caplog.at_level(logging.WARNING):
            caplog.clear()
            assert open_source(config).scan_ids("val") == [present]
        said = caplog.text
        assert "2 entries that are not scan ids" in said and f"'../{present}'" in said and "x/../" in said
        assert "1 scans listed" in said and "scene9999_99" in said
    file = tmp_path / "mine.txt"
    file.write_text(f"../{SCAN}\n{SCAN}\nscene0042_00\n")
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        assert resolve_scan_ids(open_source(scannet(synthetic_root)), str(file)) == [SCAN]
    assert "not scan ids" in caplog.text and "scene0042_00" in caplog.text


def test_colmap_images_without_their_points_lines_are_an_error(tmp_path: Path) -> None:
    pose = "1 0 0 0 0 0 0"
    good = f"# comment\n1 {pose} 1 a.jpg\n\n2 {pose} 1 b.jpg\n1.5 2.5 -1 3 4 7\n3 {pose} 1 c.jpg\n"
    path = tmp_path / "images.txt"
    path.write_text(good)
    assert [i.name for i in read_images_text("s", path)] == ["a.jpg", "b.jpg", "c.jpg"]
    for bad, line in ((f"1 {pose} 1 a.jpg\n2 {pose} 1 b.jpg\n\n", 2), (f"1 {pose} 1 a.jpg\n1 2\n", 2)):
        path.write_text(bad)
        with pytest.raises(CorruptFileError, match=f"line {line} is not the POINTS2D line of a.jpg"):
            read_images_text("s", path)


def test_decoder_lines_are_collected_not_printed(capfd: pytest.CaptureFixture[str]) -> None:
    with decoder_messages() as found:
        os.write(2, b"[mpeg4 @ 0x55dc66657080] Error at MB: 7340\n")
        os.write(2, b"another line\n")
    assert found == ["[mpeg4 @ 0x55dc66657080] Error at MB: 7340"]
    err = capfd.readouterr().err
    assert "Error at MB" not in err and "another line" in err


# ------------------------------------------------------------------------------------- ladder scans


def run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["ladder", *args])
    with pytest.raises(SystemExit) as info:
        cli.entrypoint()
    code = info.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


def test_scans_fails_the_scans_a_build_would_fail(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing (still downloading) ``.sens`` and a colour frame that does not decode fail the pre-flight, as they
    would fail a build: exit 1, the scan and the file named."""
    root = copy_root(synthetic_root, tmp_path / "root")
    other = "scene0001_00"
    sens = scan_paths(root, other).sens
    args = ["scans", "--scans", str(root), "--split", "all", "--frames-layout", "sens"]
    assert run_cli(args, monkeypatch, capsys)[0] == 0
    sens.rename(sens.with_name(sens.name + ".part"))  # a download still running
    code, stderr = run_cli(args, monkeypatch, capsys)
    said = "".join(stderr.split())  # the log wraps long lines
    assert code == cli.SCANS_FAILED and f"[{other}]missingfile" in said and sens.name in said
    assert "1scansready,1wouldfail" in said
    export = open_source(scannet(root, FramesLayout.EXPORT))
    check = preflight(export, SCAN)
    assert check.frames_checked == 3 and check.layout == "export"
    scan = export.load(SCAN)
    first = int(scan.frames.frame_ids[np.flatnonzero(scan.valid_poses)[0]])  # type: ignore[union-attr]
    jpeg = scan_paths(root, SCAN).export_color(first)
    jpeg.write_bytes(jpeg.read_bytes()[:300])
    with pytest.raises(CorruptFileError, match=jpeg.name):
        preflight(export, SCAN)


# ------------------------------------------------------------------------------------- messages


def test_messages_name_the_true_cause(synthetic_root: Path, tmp_path: Path) -> None:
    from ladderdata.errors import ConfigError
    from ladderdata.sources.base import detect_source
    from ladderdata.sources.sens import SensFormatError, read_sens_index

    for table, said in (("/dev/zero", "a character device, not a regular file"), (str(tmp_path), "a folder")):
        config = scannet(synthetic_root).model_copy(update={"label_table": Path(table)})
        with pytest.raises(ConfigError, match=f"label table {table} cannot be read: {said}"):
            open_source(config).check()
    with pytest.raises(ConfigError, match=r"is one scan, not a root of scans: pass the scannet root that holds it"):
        detect_source(scan_paths(synthetic_root, SCAN).scan_dir)
    sens = tmp_path / "x.sens"
    data = bytearray(scan_paths(synthetic_root, SCAN).sens.read_bytes())
    for length, said in ((3000, "sensor name length 3000 bytes"), (40, "the sensor name \\(40 bytes\\) is not text")):
        data[4:12] = length.to_bytes(8, "little")  # u32 version, then the u64 name length
        sens.write_bytes(bytes(data))
        with pytest.raises(SensFormatError, match=f"{said}.*the header is corrupt"):
            read_sens_index(sens)


def test_labels_and_paths_are_echoed_on_one_line(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ladderdata.outputs import OneLineLogs

    record = logging.LogRecord(
        "ladderdata", logging.WARNING, "", 0, "labels %s in %s", ("chair\nx\x00", Path("a\nb")), None
    )
    assert OneLineLogs().filter(record) and record.getMessage() == "labels chair\\nx\\x00 in a\\nb"
    code, stderr = run_cli(["scans", "--scans", "no\nsuch\x1broot"], monkeypatch, capsys)
    assert code == cli.BAD_CONFIG and stderr.count("\n") == 1 and "no\\nsuch\\x1broot" in stderr


def test_inputs_that_are_no_regular_file_are_refused_unopened(tmp_path: Path) -> None:
    """A FIFO given as a recipe, a list of scan ids or a shared table is refused by what it is (opening it would
    block forever); so is a device (``/dev/zero`` reads forever)."""
    import signal

    from ladderdata.errors import ConfigError
    from ladderdata.recipe import Recipe
    from ladderdata.sources.base import read_id_list
    from ladderdata.sources.labels import LabelTable

    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    signal.alarm(20)  # a regression blocks in open(): fail instead of hanging the suite
    try:
        for read, what in ((Recipe.load, "recipe"), (read_id_list, "list of scan ids"), (LabelTable.read, "table")):
            for path in (fifo, Path("/dev/zero")):
                with pytest.raises(ConfigError, match=rf"{what} .*{path.name}.*(a FIFO|a character device)"):
                    read(path)
    finally:
        signal.alarm(0)
