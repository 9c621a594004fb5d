"""Sensor-depth agreement of intact and broken synthetic scans: the figures the depth gate's thresholds were chosen
on (``ladderdata.metadata.depth_check``, docs/reliability.md#depth-agreement).

For each source (ScanNet, ScanNet++, ARKitScenes) one synthetic scan is measured intact and with each fault that
leaves every file readable: ARKitScenes trajectory timestamps shifted by 1 s (a whole multiple of the frame
period, so every frame is matched to another frame's pose), ScanNet++ depth PNGs in the wrong unit (values
1000x too small), a ScanNet mesh whose faces are all degenerate. Prints, per case, the median view agreement, the
share of views below the floor, the range, and the gate's verdict.

    python benchmarks/depth_gate_cases.py
"""

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from ladderdata.errors import ScanError
from ladderdata.metadata import depth_check
from ladderdata.metadata.config import MetadataConfig
from ladderdata.metadata.extract import measure_scan
from ladderdata.metadata.views import Timings, ViewMeasurer, depth_agreement
from ladderdata.sources import arkitscenes
from ladderdata.sources.base import open_source, source_config
from ladderdata.sources.ply import read_ply, write_ply
from ladderdata.synth.root import SynthConfig, synthesize


def shift_trajectory(root: Path) -> None:
    for traj in root.rglob("lowres_wide.traj"):
        lines = []
        for line in traj.read_text().splitlines():
            t, *rest = line.split()
            lines.append(" ".join([f"{float(t) + 1.0:.3f}", *rest]))
        traj.write_text("\n".join(lines) + "\n")


def depth_in_metres(root: Path) -> None:
    for png in root.rglob("iphone/depth/*.png"):
        depth = np.asarray(cv2.imread(str(png), cv2.IMREAD_UNCHANGED), dtype=np.uint16)
        cv2.imwrite(str(png), depth // 1000)


def degenerate_faces(root: Path) -> None:
    for ply in root.rglob("*_vh_clean_2.ply"):
        mesh = read_ply(ply)
        mesh.faces[:, 1] = mesh.faces[:, 0]
        mesh.faces[:, 2] = mesh.faces[:, 0]
        write_ply(ply, mesh)


CASES: list[tuple[str, str, Callable[[Path], None] | None]] = [
    ("scannet intact", "scannet", None),
    ("scannet all faces degenerate", "scannet", degenerate_faces),
    ("scannetpp intact", "scannetpp", None),
    ("scannetpp depth 1000x too small", "scannetpp", depth_in_metres),
    ("arkitscenes intact", "arkitscenes", None),
    ("arkitscenes trajectory shifted 1 s", "arkitscenes", shift_trajectory),
]


def agreements(scan_root: Path, fmt: str) -> tuple[list[float], str, str]:
    """The views' agreements, what the reader says and what the gate says (measured without the reader's checks
    of pose times, which would refuse the shifted trajectory first)."""
    source = open_source(source_config(fmt, root=scan_root))
    scan_id = source.scan_ids()[0]
    try:
        source.load(scan_id)
        reader = "reads"
    except ScanError as e:
        reader = "refuses: " + e.detail.split(":", 1)[0]
    check = arkitscenes.shifted_clock
    arkitscenes.shifted_clock = lambda *args: None
    try:
        scan = source.load(scan_id)
    finally:
        arkitscenes.shifted_clock = check
    config = MetadataConfig(frame_stride=2)
    assert scan.frames is not None
    frames, measurer = scan.frames, ViewMeasurer(scan, config, scan.frames.color_intrinsics)
    found = []
    for pos in np.flatnonzero(scan.valid_poses & (frames.frame_ids % 2 == 0)):
        frame_id = int(frames.frame_ids[pos])
        _, view = measurer.measure(scan.poses[pos], Timings(), frames.frame_color_intrinsics(frame_id))
        depth_k = frames.frame_depth_intrinsics(frame_id)
        if depth_k is not None:
            a = depth_agreement(frames.read_depth(frame_id), depth_k, view, depth_shift=frames.depth_shift)
            if a is not None:
                found.append(a)
    try:
        _, verdict = measure_scan(scan, config)
        said = "passes" if verdict is None or verdict.warning is None else "warns"
    except ScanError as e:
        said = "fails: " + e.detail.split("; ", 1)[1]
    return found, reader, said


def main() -> None:
    print(
        f"floor {depth_check.VIEW_FLOOR}, fail median < {depth_check.FAIL_MEDIAN} or share > {depth_check.FAIL_SHARE}"
    )
    print("| case | views | median | share below floor | min-max | reader | gate |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, fmt, breakage in CASES:
            root = Path(tmp) / name.replace(" ", "-")
            synthesize(root, SynthConfig(format=fmt, scenes=1, frames=32, objects=6))
            if breakage is not None:
                breakage(root)
            found, reader, said = agreements(root, fmt)
            values = np.array(found)
            print(
                f"| {name} | {len(values)} | {np.median(values):.2f} | {np.mean(values < depth_check.VIEW_FLOOR):.0%} "
                f"| {values.min():.2f}-{values.max():.2f} | {reader} | {said} |"
            )
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
