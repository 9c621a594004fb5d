"""Fault injection: every class of bad input and fault of docs/reliability.md, on copies of synthetic scans.

Each test breaks something the way a user, a disk or a kill would, then checks the promise: an error naming the
scan and the file (other scans go on, exit code 1), a config error before any work (exit 2), out of space (exit
3), never a traceback, never a partial file, never an image that does not decode, and a rerun that resumes.
A bad scan is given straight to the reader that must refuse it; one build proves what a build does with it.
"""

import errno
import io
import json
import logging
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from fixtures.factories import all_drafts_recipe, copy_root, scan_paths, scannet
from ladderdata import cli
from ladderdata.cache import LOCK_NAME, TEMP_SUFFIX, FileHashes, FolderBusyError, claim_folder, temp_name
from ladderdata.errors import ConfigError, LadderError, OutOfSpaceError, ScanError
from ladderdata.eval.report import evaluate
from ladderdata.eval.scorers import BenchmarkSummary
from ladderdata.eval.scorers.spatialladder import spatialladder_answer_text
from ladderdata.executor import LocalExecutor
from ladderdata.io import shards
from ladderdata.io.dataset import BenchReader
from ladderdata.layout import FramesLayout, ScanPaths
from ladderdata.metadata.config import MetadataConfig
from ladderdata.metadata.extract import extract_views, metadata_key, metadata_path, process_scans, read_views
from ladderdata.pipeline import BuildConfig, BuildSummary, build_dataset
from ladderdata.pipeline import write as write_stage
from ladderdata.recipe import Recipe
from ladderdata.scoring import extract_answer
from ladderdata.sources.base import Scan, ScanSourceConfig, open_source, source_config
from ladderdata.sources.files import scan_file_errors
from ladderdata.sources.sens import read_sens_index

SCAN, OTHER = "scene0000_00", "scene0001_00"
LADDER = [sys.executable, "-c", "from ladderdata.cli import entrypoint; entrypoint()"]


# ----------------------------------------------------------------------------------------------- helpers


def build(root: Path, out: Path, layout: FramesLayout = FramesLayout.SENS, **update: Any) -> BuildSummary:
    """Every draft of every scan of ``root`` (frame stride 1) into ``out``."""
    recipe = all_drafts_recipe(1).model_copy(update=update)
    return build_dataset(BuildConfig(source=scannet(root, layout), out=out, split="all", recipe=recipe))


def shard_files(out: Path) -> list[Path]:
    return sorted((out / "data").rglob("*.parquet"))


def shard_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in shard_files(out)}


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(f"*{TEMP_SUFFIX}*") if p.is_file()]


def embedded_images(out: Path) -> Iterator[tuple[str, bytes]]:
    """(scene id, JPEG bytes) of every image every shard embeds."""
    for path in shard_files(out):
        for row in pq.read_table(path, columns=["scene_id", "images"]).to_pylist():
            for image in row["images"]:
                yield row["scene_id"], image["bytes"]


def decodes(data: bytes) -> bool:
    """Whether JPEG bytes decode to their end with no warning (PIL raises on truncation; cv2 returns None)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except OSError:
        return False
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None


def run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``ladder ARGS`` in this process (so faults can be patched in): exit code and stderr."""
    monkeypatch.setattr(sys, "argv", ["ladder", *args])
    with pytest.raises(SystemExit) as info:
        cli.entrypoint()
    code = info.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


def run_ladder(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LADDER, *args], capture_output=True, text=True, timeout=timeout)


def one_line_error(stderr: str, label: str) -> str:
    """The one failure line of a command's stderr (never a traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith(f"{label}:")]
    assert len(lines) == 1, stderr
    return lines[0]


def truncate(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def edit_json(path: Path, edit: Callable[[Any], Any]) -> None:
    data = json.loads(path.read_text())
    result = edit(data)
    path.write_text(json.dumps(data if result is None else result))


def edit_ply_header(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    end = data.index(b"end_header\n")
    head = re.sub(old, new, data[:end], count=1)
    path.write_bytes(head + data[end:])


def nan_vertex(path: Path) -> None:
    """The first vertex's x becomes NaN (vertices start right after the header, x first)."""
    data = bytearray(path.read_bytes())
    start = data.index(b"end_header\n") + len(b"end_header\n")
    data[start : start + 4] = struct.pack("<f", float("nan"))
    path.write_bytes(bytes(data))


# .sens v4 header: version u32, name length u64, name, 4 float32 4x4 matrices (colour intrinsics, colour extrinsics,
# depth intrinsics, depth extrinsics), colour and depth compression i32, colour w h, depth w h u32, depth shift f32,
# frame count u64
def sens_fields(path: Path) -> dict[str, int]:
    (name_len,) = struct.unpack_from("<Q", path.read_bytes(), 4)
    mats = 12 + name_len
    return {"K_color": mats, "K_depth": mats + 128, "sizes": mats + 264, "shift": mats + 280, "frames": mats + 284}


def patch_sens(path: Path, field: str, fmt: str, *values: float | int, at: int = 0) -> None:
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, sens_fields(path)[field] + at, *values)
    path.write_bytes(bytes(data))


def scale_sens_intrinsics(path: Path, factor: float) -> None:
    """Multiply fx, fy, cx, cy of the colour intrinsics (row-major float32 4x4: entries 0, 5, 2, 6)."""
    data = bytearray(path.read_bytes())
    base = sens_fields(path)["K_color"]
    for entry in (0, 5, 2, 6):
        (value,) = struct.unpack_from("<f", data, base + 4 * entry)
        struct.pack_into("<f", data, base + 4 * entry, value * factor)
    path.write_bytes(bytes(data))


def break_sens_colour(path: Path, how: str) -> None:
    """Every colour frame but the first: its last bytes zeroed (``truncated``) or replaced by noise (``garbage``)."""
    index = read_sens_index(path)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    for offset, size in zip(index.color_offsets[1:], index.color_sizes[1:], strict=True):
        start, end = int(offset), int(offset + size)
        if how == "truncated":
            data[max(start, end - 1024) : end] = bytes(min(1024, end - start))
        else:
            data[start:end] = rng.integers(0, 256, end - start, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def huge_frame_size(path: Path) -> None:
    """Frame 3's colour size (the third u64 after its pose) set to the largest u64, beyond int64."""
    index = read_sens_index(path)
    data = bytearray(path.read_bytes())
    struct.pack_into("<Q", data, int(index.color_offsets[3]) - 16, 2**64 - 1)
    path.write_bytes(bytes(data))


def export_intrinsics_for_half_size(paths: ScanPaths) -> None:
    path = paths.export_intrinsic_dir / "intrinsic_color.txt"
    K = np.loadtxt(path)
    K[:2, :3] /= 2
    np.savetxt(path, K)


def read_image(path: Path, flags: int) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    assert image is not None, path
    return image


def halve_images(paths: Iterable[Path]) -> None:
    """Images at half their width and height (same format, same depth)."""
    for path in paths:
        cv2.imwrite(str(path), read_image(path, cv2.IMREAD_UNCHANGED)[::2, ::2].copy())


def truncate_all(paths: Iterable[Path]) -> None:
    for path in paths:
        truncate(path, 0.5)


def remove_all(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink()


def small_depth(paths: ScanPaths) -> None:
    halve_images(paths.export_depth(i) for i in range(1, 10))  # frame 0 sets the size the camera declares


def small_colour(paths: ScanPaths) -> None:
    halve_images(paths.export_color(i) for i in range(1, 10))


def halve_sens_colour_header(paths: ScanPaths) -> None:
    """The header's colour size and intrinsics halved; the JPEGs stay full size."""
    patch_sens(paths.sens, "sizes", "<2I", 648, 484)
    scale_sens_intrinsics(paths.sens, 0.5)


def same_id_twice(data: dict[str, Any]) -> None:
    """Two different objects under one objectId."""
    groups = data["segGroups"]
    groups[1]["objectId"] = groups[0]["objectId"]


def shear(paths: ScanPaths) -> None:
    paths.meta.write_text("axisAlignment = 1 0.3 0 0 0 1 0 0 0 0 1 0 0 0 0 1\nsceneType = Bedroom\n")


def ply_vertices(path: Path) -> tuple[bytearray, np.ndarray]:
    """The file's bytes and a writable (V, 3) float32 view of its vertex positions (synthetic meshes: x y z float,
    then 4 uchar colours, 16 bytes a vertex)."""
    data = bytearray(path.read_bytes())
    start = data.index(b"end_header\n") + len(b"end_header\n")
    count = int(re.search(rb"element vertex ([0-9]+)", data[:start]).group(1))  # type: ignore[union-attr]
    records = np.frombuffer(data, dtype=[("xyz", "<f4", 3), ("rgba", "u1", 4)], count=count, offset=start)
    return data, records["xyz"]


def scale_mesh(path: Path, factor: float) -> None:
    data, xyz = ply_vertices(path)
    xyz *= factor
    path.write_bytes(bytes(data))


def object_vertex(paths: ScanPaths) -> int:
    """A vertex of the first annotated object (the first vertex of its first segment)."""
    segments = json.loads(paths.segments.read_text())["segIndices"]
    first = json.loads(paths.aggregation.read_text())["segGroups"][0]["segments"][0]
    return int(segments.index(first))


def move_vertex(paths: ScanPaths, vertex: int, metres: float) -> None:
    """Vertex ``vertex`` moved ``metres`` along x (a stray vertex of a reconstruction, a corrupted coordinate)."""
    data, xyz = ply_vertices(paths.mesh)
    xyz[vertex, 0] += metres
    paths.mesh.write_bytes(bytes(data))


def invalidate_sens_poses(paths: ScanPaths) -> None:
    """Every frame's pose -inf (as ScanNet stores a pose its tracking lost)."""
    index = read_sens_index(paths.sens)
    data = bytearray(paths.sens.read_bytes())
    for offset in index.color_offsets:
        pose_at = int(offset) - 96  # frame header: 16 float32 pose, 4 uint64, then the colour bytes
        data[pose_at : pose_at + 64] = np.full(16, -np.inf, dtype="<f4").tobytes()
    paths.sens.write_bytes(bytes(data))


def recolour_export(paths: ScanPaths, mode: str) -> None:
    """Colour frames 1..9 re-saved as ``mode`` JPEGs of the same size (a greyscale or CMYK conversion)."""
    for i in range(1, 10):
        with Image.open(paths.export_color(i)) as img:
            converted = img.convert(mode)
        converted.save(paths.export_color(i), format="JPEG")


def absurd_frame_count(paths: ScanPaths) -> None:
    paths.meta.write_text(re.sub(r"numColorFrames = [0-9]+", "numColorFrames = 99999999999999", paths.meta.read_text()))


# the first frame's header follows the frame count: pose (64 bytes), colour and depth timestamps, colour and depth sizes
FRAME0 = 8
FRAME0_COLOUR_SIZE = FRAME0 + 64 + 16  # after the pose and the two timestamps


# ----------------------------------------------------------------------------------------------- 1, 3. bad scans
#
# Each bad input is given straight to its reader (``read_scan``: what a build reads of one scan, in the build's
# order), which must raise the error the build reports: one line naming the scan, the file and the reason.
# ``test_a_bad_scan_fails_alone_with_its_readers_error_and_the_rerun_resumes`` builds once to prove that the build
# reports exactly that error, builds the other scans as if the bad one were not there and resumes once it is fixed.


def read_scan(config: ScanSourceConfig, scan_id: str) -> Scan:
    """Everything a build reads of one scan, straight from its reader and in the build's order (``draft_scan``):
    every input file hashed for the cache keys (``metadata_key``), the scan loaded (mesh, annotations, frame
    headers, poses), every frame's cameras and depth as metadata reads them, then every colour frame checked and
    decoded to its end as drafting does. An ``OSError`` becomes the scan's error as in the build
    (``scan_file_errors``). Raises the ``ScanError`` the build reports for the scan."""
    source = open_source(config)
    with scan_file_errors(scan_id, source.location(scan_id)):
        metadata_key(source, scan_id, MetadataConfig(), FileHashes())
        scan = source.load(scan_id)
        frames = scan.frames
        assert frames is not None and scan.valid_poses.shape == frames.frame_ids.shape
        for frame_id in frames.frame_ids.tolist():
            frames.frame_color_intrinsics(frame_id)
            if frames.frame_depth_intrinsics(frame_id) is not None:
                frames.read_depth(frame_id)
        for frame_id in frames.frame_ids.tolist():
            frames.checked_color_jpeg(frame_id, decode=True)
    return scan


def reader_error(config: ScanSourceConfig, scan_id: str) -> str:
    """The error ``read_scan`` raises for a bad scan: a ``ScanError`` of that scan, in one line."""
    with pytest.raises(ScanError) as info:
        read_scan(config, scan_id)
    error = str(info.value)
    assert info.value.scan_id == scan_id and error.startswith(f"[{scan_id}] "), error
    assert "Traceback" not in error and len(error.splitlines()) == 1, error
    return error


# (name, breakage, frames layout, file at fault (relative to the scan's paths), words of the reason)
Breakage = tuple[str, Callable[[ScanPaths], object], FramesLayout, Callable[[ScanPaths], Path], str]
BAD_SCANS: list[Breakage] = [
    (
        "ply element count not a number",
        lambda p: edit_ply_header(p.mesh, rb"element vertex (\d+)", rb"element vertex \g<1>x"),
        FramesLayout.SENS,
        lambda p: p.mesh,
        "malformed element line",
    ),
    (
        "ply absurd element count",
        lambda p: edit_ply_header(p.mesh, rb"element face \d+", b"element face 900000000000"),
        FramesLayout.SENS,
        lambda p: p.mesh,
        "declares 900,000,000,000 items",
    ),
    (
        "ply unknown property type",
        lambda p: edit_ply_header(p.mesh, rb"property float x", b"property float128 x"),
        FramesLayout.SENS,
        lambda p: p.mesh,
        "malformed property line",
    ),
    ("ply NaN vertex", lambda p: nan_vertex(p.mesh), FramesLayout.SENS, lambda p: p.mesh, "NaN or infinite"),
    (
        "segs huge integer",
        lambda p: edit_json(p.segments, lambda d: d["segIndices"].__setitem__(0, 10**30)),
        FramesLayout.SENS,
        lambda p: p.segments,
        "beyond 64 bits",
    ),
    (
        "segs 5000-digit integer",
        lambda p: p.segments.write_text('{"segIndices": [' + "9" * 5000 + "]}"),
        FramesLayout.SENS,
        lambda p: p.segments,
        "invalid JSON",
    ),
    (
        "segs nested 100000 deep",
        lambda p: p.segments.write_text("[" * 100_000 + "]" * 100_000),
        FramesLayout.SENS,
        lambda p: p.segments,
        "invalid JSON",
    ),
    (
        "segs float index",
        lambda p: edit_json(p.segments, lambda d: d["segIndices"].__setitem__(0, 1.5)),
        FramesLayout.SENS,
        lambda p: p.segments,
        "not a list of integers",
    ),
    (
        "aggregation without objects",
        lambda p: edit_json(p.aggregation, lambda d: d.update(segGroups=[])),
        FramesLayout.SENS,
        lambda p: p.aggregation,
        "no objects",
    ),
    (
        "aggregation null label",
        lambda p: edit_json(p.aggregation, lambda d: d["segGroups"][0].update(label=None)),
        FramesLayout.SENS,
        lambda p: p.aggregation,
        "has label null",
    ),
    (
        "aggregation huge objectId",
        lambda p: edit_json(p.aggregation, lambda d: d["segGroups"][0].update(objectId=2**70)),
        FramesLayout.SENS,
        lambda p: p.aggregation,
        "not an integer",
    ),
    (
        "aggregation objectId of two objects",
        lambda p: edit_json(p.aggregation, same_id_twice),
        FramesLayout.SENS,
        lambda p: p.aggregation,
        "objectId 0 is given to two different objects",
    ),
    ("axisAlignment sheared", shear, FramesLayout.SENS, lambda p: p.meta, "not a rigid transform"),
    (
        "axisAlignment scaled",
        lambda p: p.meta.write_text("axisAlignment = 2 0 0 0 0 2 0 0 0 0 2 0 0 0 0 1\n"),
        FramesLayout.SENS,
        lambda p: p.meta,
        "not a rigid transform",
    ),
    (
        "axisAlignment NaN",
        lambda p: p.meta.write_text("axisAlignment = nan 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1\n"),
        FramesLayout.SENS,
        lambda p: p.meta,
        "not a rigid transform",
    ),
    (
        "sens absurd frame count",
        lambda p: patch_sens(p.sens, "frames", "<Q", 2**60),
        FramesLayout.SENS,
        lambda p: p.sens,
        "frames but the file can hold at most",
    ),
    (
        "sens absurd image size",
        lambda p: patch_sens(p.sens, "sizes", "<I", 1_000_000),
        FramesLayout.SENS,
        lambda p: p.sens,
        "not a plausible image size",
    ),
    (
        "sens zero focal length",
        lambda p: patch_sens(p.sens, "K_color", "<f", 0.0),
        FramesLayout.SENS,
        lambda p: p.sens,
        "focal lengths must be finite and positive",
    ),
    (
        "sens negative focal length",
        lambda p: patch_sens(p.sens, "K_depth", "<f", -500.0, at=20),
        FramesLayout.SENS,
        lambda p: p.sens,
        "focal lengths must be finite and positive",
    ),
    (
        "sens NaN focal length",
        lambda p: patch_sens(p.sens, "K_color", "<f", float("nan")),
        FramesLayout.SENS,
        lambda p: p.sens,
        "focal lengths must be finite and positive",
    ),
    (
        "sens infinite focal length",
        lambda p: patch_sens(p.sens, "K_color", "<f", float("inf")),
        FramesLayout.SENS,
        lambda p: p.sens,
        "focal lengths must be finite and positive",
    ),
    (
        "sens zero depth shift",
        lambda p: patch_sens(p.sens, "shift", "<f", 0.0),
        FramesLayout.SENS,
        lambda p: p.sens,
        "depth shift",
    ),
    (
        "sens with 0 frames",
        lambda p: patch_sens(p.sens, "frames", "<Q", 0),
        FramesLayout.SENS,
        lambda p: p.sens,
        "holds no frames",
    ),
    (
        "sens intrinsics for another resolution",
        lambda p: scale_sens_intrinsics(p.sens, 2.0),
        FramesLayout.SENS,
        lambda p: p.sens,
        "intrinsics are for another image size",
    ),
    (
        "sens header size disagrees with its JPEGs",
        halve_sens_colour_header,
        FramesLayout.SENS,
        lambda p: p.sens,
        "colour frame 0 is 1296x968 but its camera (intrinsics, header) says 648x484",
    ),
    (
        "sens frame size beyond int64",
        lambda p: huge_frame_size(p.sens),
        FramesLayout.SENS,
        lambda p: p.sens,
        "file ends inside the image data of frame 3 of 10",
    ),
    (
        "sens truncated JPEGs",
        lambda p: break_sens_colour(p.sens, "truncated"),
        FramesLayout.SENS,
        lambda p: p.sens,
        "truncated (no JPEG end marker)",
    ),
    (
        "sens garbage JPEGs",
        lambda p: break_sens_colour(p.sens, "garbage"),
        FramesLayout.SENS,
        lambda p: p.sens,
        "is not a JPEG image",
    ),
    (
        "export truncated JPEG",
        lambda p: truncate_all(p.export_color(i) for i in range(1, 10)),
        FramesLayout.EXPORT,
        lambda p: p.export_color_dir,
        "truncated",
    ),
    (
        "export missing colour file",
        lambda p: remove_all(p.export_color(i) for i in range(1, 10)),
        FramesLayout.EXPORT,
        lambda p: p.export_color_dir,
        "file not found",
    ),
    (
        "export intrinsics for half the size",
        export_intrinsics_for_half_size,
        FramesLayout.EXPORT,
        lambda p: p.export_intrinsic_dir / "intrinsic_color.txt",
        "intrinsics are for another image size",
    ),
    (
        "export depth of the wrong size",
        small_depth,
        FramesLayout.EXPORT,
        lambda p: p.export_depth_dir,
        "but its camera (intrinsics, header) says 640x480",
    ),
    (
        "export colour of the wrong size",
        small_colour,
        FramesLayout.EXPORT,
        lambda p: p.export_color_dir,
        "but its camera (intrinsics, header) says 1296x968",
    ),
    (
        "ply element count in superscript digits",
        lambda p: edit_ply_header(p.mesh, rb"element vertex [0-9]+", "element vertex ²³".encode()),
        FramesLayout.SENS,
        lambda p: p.mesh,
        "malformed element line",
    ),
    (
        "mesh in the wrong units (40 times a room)",
        lambda p: scale_mesh(p.mesh, 40.0),
        FramesLayout.SENS,
        lambda p: p.mesh,
        "no room is over 100 m",
    ),
    (
        "sens colour size beyond the file",
        lambda p: patch_sens(p.sens, "frames", "<Q", 2**63 + 5, at=FRAME0_COLOUR_SIZE),
        FramesLayout.SENS,
        lambda p: p.sens,
        "file ends inside the image data of frame 0 of",
    ),
    (
        "sens huge depth shift",
        lambda p: patch_sens(p.sens, "shift", "<f", 3e38),
        FramesLayout.SENS,
        lambda p: p.sens,
        "is not a depth unit",
    ),
    (
        "sens subnormal depth shift",
        lambda p: patch_sens(p.sens, "shift", "<f", 1e-40),
        FramesLayout.SENS,
        lambda p: p.sens,
        "is not a depth unit",
    ),
    (
        "sens focal length 1e30",
        lambda p: patch_sens(p.sens, "K_color", "<f", 1e30),
        FramesLayout.SENS,
        lambda p: p.sens,
        "horizontal field of view",
    ),
    (
        "sens focal length 1e-30",
        lambda p: patch_sens(p.sens, "K_color", "<f", 1e-30),
        FramesLayout.SENS,
        lambda p: p.sens,
        "horizontal field of view",
    ),
    (
        "sens depth fy 1e-6",
        lambda p: patch_sens(p.sens, "K_depth", "<f", 1e-6, at=20),
        FramesLayout.SENS,
        lambda p: p.sens,
        "vertical field of view",
    ),
    (
        "sens fy under half fx",
        lambda p: patch_sens(p.sens, "K_color", "<f", 500.0, at=20),
        FramesLayout.SENS,
        lambda p: p.sens,
        "differ by more than 2x",
    ),
    (
        "sens skewed intrinsics",
        lambda p: patch_sens(p.sens, "K_color", "<f", 1e6, at=4),
        FramesLayout.SENS,
        lambda p: p.sens,
        "is not a pinhole camera's",
    ),
    (
        "sens intrinsics third row not 0 0 1",
        lambda p: patch_sens(p.sens, "K_color", "<f", 5.0, at=40),
        FramesLayout.SENS,
        lambda p: p.sens,
        "is not a pinhole camera's",
    ),
    (
        "export greyscale JPEGs",
        lambda p: recolour_export(p, "L"),
        FramesLayout.EXPORT,
        lambda p: p.export_color_dir,
        "is a L JPEG (1-channel), not a 3-channel RGB one",
    ),
    (
        "export CMYK JPEGs",
        lambda p: recolour_export(p, "CMYK"),
        FramesLayout.EXPORT,
        lambda p: p.export_color_dir,
        "is a CMYK JPEG (4-channel), not a 3-channel RGB one",
    ),
    (
        "posed absurd numColorFrames",
        absurd_frame_count,
        FramesLayout.POSED,
        lambda p: p.meta,
        "numColorFrames is '99999999999999', not a frame count",
    ),
]


@pytest.mark.parametrize(("name", "breakage", "layout", "culprit", "reason"), BAD_SCANS, ids=[b[0] for b in BAD_SCANS])
def test_a_bad_scan_is_refused_by_its_reader_naming_the_scan_file_and_reason(
    synthetic_root: Path,
    tmp_path: Path,
    name: str,
    breakage: Callable[[ScanPaths], object],
    layout: FramesLayout,
    culprit: Callable[[ScanPaths], Path],
    reason: str,
) -> None:
    root = copy_root(synthetic_root, tmp_path / "scannet")
    paths = scan_paths(root, SCAN)
    breakage(paths)
    error = reader_error(scannet(root, layout), SCAN)
    assert str(culprit(paths)) in error and reason in error, error
    read_scan(scannet(root, layout), OTHER)  # the scan beside it still reads


def test_a_scan_with_no_valid_pose_fails_when_measured(synthetic_root: Path, tmp_path: Path) -> None:
    """Its reader reads it (an invalid pose is how ScanNet stores a lost track); metadata finds no view to use."""
    root = copy_root(synthetic_root, tmp_path / "scannet")
    paths = scan_paths(root, SCAN)
    invalidate_sens_poses(paths)
    scan = read_scan(scannet(root, FramesLayout.SENS), SCAN)
    assert scan.num_invalid_poses == len(scan.valid_poses) == 10
    with pytest.raises(ScanError) as info:
        extract_views(scan, MetadataConfig(frame_stride=1))
    error = str(info.value)
    assert error.startswith(f"[{SCAN}] inconsistent scan in {paths.sens}: no usable view: ") and "10 invalid" in error


def test_a_bad_scan_fails_alone_with_its_readers_error_and_the_rerun_resumes(
    synthetic_root: Path, built_alone: Callable[[str, FramesLayout], Path], tmp_path: Path
) -> None:
    """The one build of the bad-scan tests: a scan with a truncated colour frame and one that is JPEG markers
    around noise fails at drafting with the error its reader gives; the other scan is built byte for byte as a
    build of it alone; nothing of the bad scan, no partial file and no image that does not decode reaches the
    shards; fixed, the rerun drafts only that scan and embeds its frames."""
    root = copy_root(synthetic_root, tmp_path / "scannet")
    paths = scan_paths(root, SCAN)
    good = {i: paths.export_color(i).read_bytes() for i in (4, 6)}
    truncate(paths.export_color(4), 0.7)
    paths.export_color(6).write_bytes(b"\xff\xd8\xff" + os.urandom(4000) + b"\xff\xd9")  # JPEG markers, no image
    config = scannet(root, FramesLayout.EXPORT)
    error = reader_error(config, SCAN)
    assert str(paths.export_color(4)) in error and "truncated" in error, error
    out = tmp_path / "dataset"
    summary = build(root, out, FramesLayout.EXPORT)
    assert summary.failed == {SCAN: error} and summary.scans == [OTHER]
    assert summary.stages["draft"].counters["failed"] == 1 and "failed" not in summary.stages["write"].counters
    assert shard_bytes(out) == shard_bytes(built_alone(OTHER, FramesLayout.EXPORT))
    images = list(embedded_images(out))
    assert {scene for scene, _ in images} == {OTHER} and all(decodes(data) for data in {data for _, data in images})
    assert not temp_files(out)
    assert json.loads((out / "manifest.json").read_text())["inputs"]["failed"] == {SCAN: error}
    # frame 4 fixed: the reader now stops at frame 6
    paths.export_color(4).write_bytes(good[4])
    assert str(paths.export_color(6)) in reader_error(config, SCAN)
    # fixed: the rerun drafts the bad scan only and rewrites every shard that shows it
    paths.export_color(6).write_bytes(good[6])
    summary = build(root, out, FramesLayout.EXPORT)
    assert not summary.failed and summary.scans == [SCAN, OTHER]
    assert summary.stages["draft"].counters["drafted"] == 1
    images = list(embedded_images(out))
    assert {scene for scene, _ in images} == {SCAN, OTHER} and all(decodes(data) for data in {d for _, d in images})
    assert not temp_files(out)


def test_cli_exit_code_1_names_the_failed_scan_and_builds_the_others(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_root(synthetic_root, tmp_path / "scannet")
    scan_paths(root, SCAN).segments.write_bytes(b"\x00\xff" * 100)  # binary
    args = ["build-dataset", "--scans", str(root), "--out", str(tmp_path / "ds"), "--split", "all"]
    code, stderr = run_cli([*args, "--frame-stride", "2", "--frames-layout", "sens"], monkeypatch, capsys)
    assert code == cli.SCANS_FAILED == 1
    assert "Traceback" not in stderr and f"failed scan {SCAN}" in stderr and "segs.json" in stderr
    assert "1 scans built, 1 failed" in stderr


def test_an_empty_scan_fails_alone_in_metadata_too(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_root(synthetic_root, tmp_path / "scannet")
    edit_json(scan_paths(root, SCAN).aggregation, lambda d: d.update(segGroups=[]))
    out = tmp_path / "meta"
    code, stderr = run_cli(["metadata", "--scans", str(root), "--out", str(out)], monkeypatch, capsys)
    assert code == cli.SCANS_FAILED and "Traceback" not in stderr
    said = " ".join(stderr.split())  # the log wraps long lines
    assert "1 computed, 0 cached, 1 failed" in said and SCAN in said and "no objects" in said
    assert metadata_path(out, OTHER).is_file() and not metadata_path(out, SCAN).exists()


def _fail_for(path: Path, error: OSError, real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, except that it raises ``error`` when called with ``path``."""

    def wrapper(target: Path, *args: Any, **kwargs: Any) -> Any:
        if Path(target) == path:
            raise error
        return real(target, *args, **kwargs)

    return wrapper


def _folder_for_mesh(paths: ScanPaths, monkeypatch: pytest.MonkeyPatch) -> Path:
    paths.mesh.unlink()
    paths.mesh.mkdir()
    return paths.mesh


def _fifo_for_aggregation(paths: ScanPaths, monkeypatch: pytest.MonkeyPatch) -> Path:
    paths.aggregation.unlink()
    os.mkfifo(paths.aggregation)  # opening it to read would block until someone writes
    return paths.aggregation


def _io_error_hashing_the_sens(paths: ScanPaths, monkeypatch: pytest.MonkeyPatch) -> Path:
    from ladderdata import cache

    error = OSError(errno.EIO, os.strerror(errno.EIO), str(paths.sens))
    monkeypatch.setattr(cache, "file_digest", _fail_for(paths.sens, error, cache.file_digest))
    return paths.sens


def _no_permission_reading_the_mesh(paths: ScanPaths, monkeypatch: pytest.MonkeyPatch) -> Path:
    from ladderdata.sources import ply, validate

    error = PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(paths.mesh))
    monkeypatch.setattr(validate, "read_ply", _fail_for(paths.mesh, error, ply.read_ply))
    return paths.mesh


FILE_FAULTS: list[tuple[str, Callable[[ScanPaths, pytest.MonkeyPatch], Path], str]] = [
    ("a folder in the mesh's place", _folder_for_mesh, "a folder, not a regular file"),
    ("a FIFO in the aggregation's place", _fifo_for_aggregation, "a FIFO (named pipe), not a regular file"),
    ("an I/O error hashing the sens", _io_error_hashing_the_sens, os.strerror(errno.EIO)),
    ("no permission to read the mesh", _no_permission_reading_the_mesh, os.strerror(errno.EACCES)),
]


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging the test run) when the block takes longer than ``seconds``."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(("name", "fault", "reason"), FILE_FAULTS, ids=[f[0] for f in FILE_FAULTS])
def test_a_file_that_cannot_be_read_fails_its_scan(
    synthetic_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    fault: Callable[[ScanPaths, pytest.MonkeyPatch], Path],
    reason: str,
) -> None:
    root = copy_root(synthetic_root, tmp_path / "scannet")
    culprit = fault(scan_paths(root, SCAN), monkeypatch)
    with deadline(240):
        error = reader_error(scannet(root), SCAN)
        read_scan(scannet(root), OTHER)
        [metadata] = process_scans(scannet(root), [SCAN], MetadataConfig(), tmp_path / "meta")
    assert error.startswith(f"[{SCAN}] inaccessible file in {culprit}: ") and reason in error, error
    assert (metadata.status, metadata.error) == ("failed", error)  # `ladder metadata` reports it the same


def test_a_fifo_in_a_scan_fails_it_in_a_real_process_without_hanging(synthetic_root: Path, tmp_path: Path) -> None:
    root = copy_root(synthetic_root, tmp_path / "scannet")
    culprit = _fifo_for_aggregation(scan_paths(root, SCAN), pytest.MonkeyPatch())
    result = run_ladder(["metadata", "--scans", str(root), "--out", str(tmp_path / "meta")], timeout=240)
    assert result.returncode == cli.SCANS_FAILED and "Traceback" not in result.stderr, result.stderr
    squeezed = re.sub(r"\s+", "", result.stderr)  # the log wraps long lines, paths included
    assert f"inaccessiblefilein{culprit}:aFIFO" in squeezed, result.stderr


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x89PNG\x00\x00\xff\xfe binary", "is not readable UTF-8 text"),
        (b"id\traw_category\tcategory\tcount\tnyu40id\tnyu40class\n1\tchair\tch", "too few fields"),
        (b"id\traw_category\n1\tchair\n", "lacks columns"),
        (b"", "lacks columns"),
    ],
    ids=["binary", "truncated", "short", "empty"],
)
def test_a_bad_label_table_stops_the_run_before_any_scan(
    synthetic_root: Path, tmp_path: Path, content: bytes, reason: str
) -> None:
    root = copy_root(synthetic_root, tmp_path / "scannet")
    table = root / "scannetv2-labels.combined.tsv"
    table.write_bytes(content)
    out = tmp_path / "dataset"
    with pytest.raises(ConfigError, match=re.escape(reason)) as info:
        build(root, out)
    assert str(table) in str(info.value)
    assert not (out / ".ladder-work" / "drafts").exists()  # no scan was drafted


def test_scan_folders_whose_names_are_not_scan_ids_are_ignored(
    synthetic_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig

    root = copy_root(synthetic_root, tmp_path / "scannet")
    shutil.copytree(root / "scans" / SCAN, root / "scans" / f"{SCAN}\n")
    shutil.copytree(root / "scans" / SCAN, root / "scans" / "scene0000_00 copy")
    shutil.copytree(root / "scans" / SCAN, root / "scans" / "scene١٢٣٤_٠٠")  # digits, but not ASCII ones
    ids = ScanNetSource(ScanNetSourceConfig(root=root)).scan_ids()
    assert ids == [SCAN, OTHER]
    assert "not a scan id" in caplog.text and repr(f"{SCAN}\n") in caplog.text
    assert repr("scene١٢٣٤_٠٠") in caplog.text


def test_numbers_are_ascii_digits_only(synthetic_root: Path, tmp_path: Path) -> None:
    from ladderdata.sources.files import ascii_int
    from ladderdata.sources.frames import open_frames
    from ladderdata.sources.labels import LabelTable

    assert [ascii_int(t) for t in ["0", "0042", "²", "١٢", "12a", "", " 1", "9" * 18, "9" * 19]] == [
        0,
        42,
        None,
        None,
        None,
        None,
        None,
        10**18 - 1,
        None,
    ]
    # frame files numbered in other digits are not frames (int("١٢") is 12, int("²") raises)
    root = copy_root(synthetic_root, tmp_path / "scannet")
    paths = scan_paths(root, SCAN)
    before = open_frames(SCAN, paths, FramesLayout.EXPORT)
    assert before is not None
    for name in ("²³", "١٢"):
        shutil.copy(paths.export_pose_dir / "0.txt", paths.export_pose_dir / f"{name}.txt")
    after = open_frames(SCAN, paths, FramesLayout.EXPORT)
    assert after is not None and after.frame_ids.tolist() == before.frame_ids.tolist()
    # a label table with superscript numbers reads them as unknown, as any other non-number
    table = tmp_path / "labels.tsv"
    table.write_text("raw_category\tcategory\tcount\tnyu40id\tnyu40class\nchair\tchair\t²³\t⁵\tchair\n")
    entry = LabelTable.read(table).lookup("chair")
    assert (entry.count, entry.nyu40_id, entry.nyu40_class) == (0, 0, "chair")


@pytest.mark.parametrize("metres", [300.0, 1e4])
def test_a_vertex_far_outside_the_room_is_dropped_not_measured(
    synthetic_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, metres: float
) -> None:
    root = copy_root(synthetic_root, tmp_path / "scannet")
    paths = scan_paths(root, SCAN)
    vertex = object_vertex(paths)
    good = open_source(scannet(root)).load(SCAN)
    assert any(vertex in o.vertex_ids for o in good.objects)
    move_vertex(paths, vertex, metres)
    scan = open_source(scannet(root)).load(SCAN)
    assert f"1 vertices of {paths.mesh} lie more than 10 m outside the room" in caplog.text
    # every object is its vertices but the stray one: boxes, sizes and surfaces as if it had never been there
    assert len(scan.mesh.vertices) == len(good.mesh.vertices) - 1
    for broken, intact in zip(scan.objects, good.objects, strict=True):
        kept = intact.vertex_ids != vertex
        renumbered = intact.vertex_ids[kept] - (intact.vertex_ids[kept] > vertex)  # the mesh lost one vertex
        assert np.array_equal(broken.vertex_ids, renumbered)
        assert np.array_equal(broken.points, intact.points[kept])
    # and the scan is not failed: all of it reads and every frame with a valid pose is measured
    read = read_scan(scannet(root), SCAN)
    assert len(extract_views(read, MetadataConfig(frame_stride=1))) == read.valid_poses.sum() > 0


def test_surface_sampling_and_floor_rasters_are_bounded_whatever_the_size() -> None:
    from ladderdata.geometry.measure import MAX_SUBDIVISIONS, floor_area, sample_surface

    # a 10 km triangle: at most (k+1)(k+2)/2 samples for k = MAX_SUBDIVISIONS, still covering its area
    vertices = np.array([[0.0, 0.0, 0.0], [1e4, 0.0, 0.0], [0.0, 1e4, 0.0]])
    faces = np.array([[0, 1, 2]])
    samples = sample_surface(vertices, faces, 0.02)
    assert len(samples.points) == (MAX_SUBDIVISIONS + 1) * (MAX_SUBDIVISIONS + 2) // 2 == 2145
    assert samples.weights.sum() == pytest.approx(0.5e8)
    assert {tuple(v) for v in vertices} <= {tuple(p) for p in samples.points}
    # small triangles keep the full density: a longest edge of 7.07 cm at 2 cm spacing has k = 4 (15 samples)
    assert len(sample_surface(vertices * 5e-6, faces, 0.02).points) == 15
    # a 1 km x 1 km floor (two triangles) is measured on a coarser raster instead of 10^10 cells
    square = np.array([[0.0, 0.0, 0.0], [1e3, 0.0, 0.0], [1e3, 1e3, 0.0], [0.0, 1e3, 0.0]])
    assert floor_area(square, np.array([[0, 1, 2], [0, 2, 3]])) == pytest.approx(1e6, rel=1e-3)


@pytest.mark.parametrize("source", ["scannetpp", "arkitscenes"])
def test_other_sources_ignore_folders_whose_names_are_not_ids(
    scannetpp_root: Path, arkitscenes_root: Path, tmp_path: Path, source: str
) -> None:
    root = copy_root(scannetpp_root if source == "scannetpp" else arkitscenes_root, tmp_path / source)
    scan_dir = _scannetpp_scene(root) if source == "scannetpp" else _arkit_video(root)
    expected = open_source(source_config(source, root=root)).scan_ids()
    shutil.copytree(scan_dir, scan_dir.with_name(f"{scan_dir.name}\n"))
    assert open_source(source_config(source, root=root)).scan_ids() == expected


# ScanNet++ and ARKitScenes: the same promises for the other readers
def _nan_focal_lengths(poses: dict[str, Any]) -> None:
    for entry in poses.values():
        entry["intrinsic"] = [[float("nan"), 0, 960], [0, 1, 720], [0, 0, 1]]


def _scannetpp_scene(root: Path) -> Path:
    return sorted((root / "data").iterdir())[0]


def _arkit_video(root: Path) -> Path:
    return sorted((root / "Training").iterdir())[0]


OTHER_SOURCES: list[tuple[str, str, Callable[[Path], Path], Callable[[Path], object], str]] = [
    (
        "scannetpp truncated poses json",
        "scannetpp",
        lambda scene: scene / "iphone" / "pose_intrinsic_imu.json",
        lambda path: truncate(path, 0.5),
        "invalid JSON",
    ),
    (
        "scannetpp huge number in poses",
        "scannetpp",
        lambda scene: scene / "iphone" / "pose_intrinsic_imu.json",
        lambda path: edit_json(path, lambda d: next(iter(d.values())).update(aligned_pose=[[10**400] * 4] * 4)),
        "not a list of numbers",
    ),
    (
        "scannetpp NaN focal length",
        "scannetpp",
        lambda scene: scene / "iphone" / "pose_intrinsic_imu.json",
        lambda path: edit_json(path, _nan_focal_lengths),
        "focal lengths must be finite and positive",
    ),
    (
        "scannetpp truncated JPEG",
        "scannetpp",
        lambda scene: scene / "iphone" / "rgb",
        lambda folder: truncate_all(sorted(folder.glob("*.jpg"))[1:]),
        "truncated",
    ),
    (
        "scannetpp objectId of two objects",
        "scannetpp",
        lambda scene: scene / "scans" / "segments_anno.json",
        lambda path: edit_json(path, same_id_twice),
        "is given to two different objects",
    ),
    (
        "arkitscenes NaN image size",
        "arkitscenes",
        lambda video: sorted((video / f"{video.name}_frames" / "lowres_wide_intrinsics").iterdir())[0],
        lambda path: path.write_text("nan 192 200 200 128 96"),
        "not a whole number of pixels",
    ),
    (
        "arkitscenes binary trajectory",
        "arkitscenes",
        lambda video: video / f"{video.name}_frames" / "lowres_wide.traj",
        lambda path: path.write_bytes(b"\xff\xfe\x00" * 50),
        "not a text file",
    ),
    (
        "arkitscenes sheared box axes",
        "arkitscenes",
        lambda video: video / f"{video.name}_3dod_annotation.json",
        lambda path: edit_json(
            path,
            lambda d: d["data"][0]["segments"]["obbAligned"].update(normalizedAxes=[1, 0.5, 0, 0, 1, 0, 0, 0, 1]),
        ),
        "not a rotation matrix",
    ),
    (
        "arkitscenes depth of the wrong size",
        "arkitscenes",
        lambda video: video / f"{video.name}_frames" / "lowres_depth",
        lambda folder: halve_images(sorted(folder.glob("*.png"))[1:]),
        "depth frame",
    ),
]


@pytest.mark.parametrize(
    ("name", "source", "culprit", "breakage", "reason"), OTHER_SOURCES, ids=[s[0] for s in OTHER_SOURCES]
)
def test_other_sources_refuse_a_bad_scan_naming_the_scan_file_and_reason(
    scannetpp_root: Path,
    arkitscenes_root: Path,
    tmp_path: Path,
    name: str,
    source: str,
    culprit: Callable[[Path], Path],
    breakage: Callable[[Path], object],
    reason: str,
) -> None:
    root = copy_root(scannetpp_root if source == "scannetpp" else arkitscenes_root, tmp_path / source)
    scan_dir = _scannetpp_scene(root) if source == "scannetpp" else _arkit_video(root)
    config = source_config(source, root=root)
    path = culprit(scan_dir)
    breakage(path)
    error = reader_error(config, scan_dir.name)
    assert str(path) in error and reason in error, error
    others = [i for i in open_source(config).scan_ids() if i != scan_dir.name]
    assert others
    read_scan(config, others[0])  # the scan beside it still reads


@pytest.mark.parametrize("source", ["scannet", "scannetpp"])
def test_overlapping_and_repeated_groups_are_resolved_not_failed(
    synthetic_root: Path, scannetpp_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, source: str
) -> None:
    """Not a fault: a repeated object is dropped and a segment two objects list goes to one of them: the later
    group in ScanNet (mmdetection3d's ``export``), the smaller object in ScanNet++ (its toolkit's single-label
    data). The segment is moved from a smaller object to a larger one listed after it, where the rules differ."""
    root = copy_root(synthetic_root if source == "scannet" else scannetpp_root, tmp_path / source)
    if source == "scannet":
        paths = scan_paths(root, SCAN)
        scan_id, annotation, segments = SCAN, paths.aggregation, paths.segments
    else:
        scans = _scannetpp_scene(root) / "scans"
        scan_id, annotation, segments = scans.parent.name, scans / "segments_anno.json", scans / "segments.json"
    seg = np.array(json.loads(segments.read_text())["segIndices"])
    groups = json.loads(annotation.read_text())["segGroups"]
    sizes = [int(np.isin(seg, g["segments"]).sum()) for g in groups]
    small, large = next((a, b) for a in range(len(groups)) for b in range(a + 1, len(groups)) if sizes[a] < sizes[b])
    small_id, large_id, repeated_id = groups[small]["objectId"], groups[large]["objectId"], groups[0]["objectId"]
    shared = np.flatnonzero(seg == groups[small]["segments"][0])
    opened = open_source(source_config(source, root=root))
    before = {o.info.object_id: o.vertex_ids for o in opened.load(scan_id).objects}

    def overlap(data: dict[str, Any]) -> None:
        listed = data["segGroups"]
        listed[large]["segments"] = [*listed[large]["segments"], listed[small]["segments"][0]]
        listed.append({**listed[0], "id": 10_000, "objectId": 10_000})

    edit_json(annotation, overlap)
    with caplog.at_level(logging.WARNING, logger="ladderdata"):
        after = {o.info.object_id: o.vertex_ids for o in opened.load(scan_id).objects}
    winner, loser = (large_id, small_id) if source == "scannet" else (small_id, large_id)
    assert sorted(after) == sorted(before)  # object 10,000 repeats the first object
    np.testing.assert_array_equal(after[winner], np.union1d(before[winner], shared))
    np.testing.assert_array_equal(after[loser], np.setdiff1d(before[loser], shared))
    messages = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"{scan_id}: ")]
    assert any(f"dropped the repeats: 10000 (= {repeated_id})" in m for m in messages), messages
    assert any(f"1 of object {loser} to object {winner}" in m for m in messages), messages


@pytest.mark.parametrize("source", ["scannetpp", "arkitscenes"])
def test_other_sources_shared_tables_are_checked_at_the_start(
    scannetpp_root: Path, arkitscenes_root: Path, tmp_path: Path, source: str
) -> None:
    root = copy_root(scannetpp_root if source == "scannetpp" else arkitscenes_root, tmp_path / source)
    if source == "scannetpp":
        table = root / "metadata" / "semantic_benchmark" / "top100.txt"
    else:
        table = root / "3dod_train_val_splits.csv"
        table.write_text("video_id,visit_id,fold\n41069025\n")  # a short row: truncated
        with pytest.raises(ConfigError, match="too few fields"):
            build_dataset(BuildConfig(source=source_config(source, root=root), out=tmp_path / "ds", split="all"))
    table.write_bytes(b"\x00\xff\xfe" * 10)
    with pytest.raises(ConfigError, match=re.escape(str(table))):
        build_dataset(BuildConfig(source=source_config(source, root=root), out=tmp_path / "ds", split="all"))
    assert not (tmp_path / "ds" / ".ladder-work" / "drafts").exists()


def test_the_sens_depth_shift_is_the_unit_of_its_depth_frames(synthetic_root: Path, tmp_path: Path) -> None:
    """A stream storing depth in half millimetres (values doubled, depth_shift 2000) measures exactly as the same
    stream in millimetres: the header's unit is used, not an assumed 1000."""
    from ladderdata.sources.sens import SensFrameData, decode_depth, encode_depth_zlib, read_frame_bytes, write_sens

    root = copy_root(synthetic_root, tmp_path / "scannet")
    sens = scan_paths(root, SCAN).sens
    config = MetadataConfig(frame_stride=2)
    process_scans(scannet(root, FramesLayout.SENS), [SCAN], config, tmp_path / "mm")
    index = read_sens_index(sens)
    h = index.header

    def frames() -> Iterator[SensFrameData]:
        for i in range(h.num_frames):
            colour = read_frame_bytes(sens, int(index.color_offsets[i]), int(index.color_sizes[i]))
            depth = decode_depth(read_frame_bytes(sens, int(index.depth_offsets[i]), int(index.depth_sizes[i])), h)
            assert int(depth.max()) < 2**15  # doubling fits uint16
            pose = index.poses[i]
            yield SensFrameData(pose, int(index.timestamps_color[i]), colour, encode_depth_zlib(depth * 2))

    halves = tmp_path / "half-mm.sens"
    size = (h.color_width, h.color_height), (h.depth_width, h.depth_height)
    write_sens(halves, h.intrinsic_color, h.intrinsic_depth, *size, frames(), h.num_frames, depth_shift=2000.0)
    halves.replace(sens)
    process_scans(scannet(root, FramesLayout.SENS), [SCAN], config, tmp_path / "half-mm")
    mm = read_views(metadata_path(tmp_path / "mm", SCAN))
    half_mm = read_views(metadata_path(tmp_path / "half-mm", SCAN))
    agreement = [v.depth_agreement for v in mm]
    assert agreement and all(a is not None and a > 0.5 for a in agreement)
    assert [v.depth_agreement for v in half_mm] == agreement


# ----------------------------------------------------------------------------------------------- 2. images


def test_a_replaced_frame_rewrites_the_shards_that_embed_it(synthetic_root: Path, tmp_path: Path) -> None:
    """The shard key covers the bytes of the frames it embeds (through its scans' input keys)."""
    root = copy_root(synthetic_root, tmp_path / "scannet")
    out = tmp_path / "dataset"
    build(root, out, FramesLayout.EXPORT, rows_per_shard=20)
    used = {
        frame
        for path in shard_files(out)
        for row in pq.read_table(path, columns=["scene_id", "frame_ids"]).to_pylist()
        if row["scene_id"] == SCAN
        for frame in row["frame_ids"]
    }
    frame = min(used)
    shards = shard_files(out)
    with_scan = [p for p in shards if SCAN in pq.read_table(p, columns=["scene_id"]).column("scene_id").to_pylist()]
    jpg = scan_paths(root, SCAN).export_color(frame)
    ok, encoded = cv2.imencode(".jpg", 255 - read_image(jpg, cv2.IMREAD_COLOR))  # another picture of the same size
    assert ok
    jpg.write_bytes(encoded.tobytes())
    summary = build(root, out, FramesLayout.EXPORT, rows_per_shard=20)
    # the shards holding rows of the changed scan are written again, the others are kept
    written = summary.stages["write"].counters
    assert (written["written"], written.get("reused", 0)) == (len(with_scan), len(shards) - len(with_scan))
    embedded = {data for scene, data in embedded_images(out) if scene == SCAN}
    assert encoded.tobytes() in embedded


def test_a_frame_broken_after_drafting_is_never_written(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drafting decoded every frame; the shard writer decodes them again (the file may change in between)."""
    root = copy_root(synthetic_root, tmp_path / "scannet")
    paths = scan_paths(root, SCAN)
    real_run = write_stage.WriteStage.run

    def break_then_write(self: write_stage.WriteStage, *args: Any) -> Any:
        for i in range(10):  # noise inside the entropy-coded data: header, size and end marker stay valid
            data = bytearray(paths.export_color(i).read_bytes())
            start = data.index(b"\xff\xda") + 2000
            data[start : start + 2000] = np.random.default_rng(i).integers(0, 256, 2000, dtype=np.uint8).tobytes()
            paths.export_color(i).write_bytes(bytes(data))
        return real_run(self, *args)

    monkeypatch.setattr(write_stage.WriteStage, "run", break_then_write)
    out = tmp_path / "dataset"
    with pytest.raises(LadderError, match=r"shards could not be written: .*scene0000_00.*color/\d+\.jpg.*not decode"):
        build(root, out, FramesLayout.EXPORT)
    # shards of the other scan only, if any
    assert all(decodes(data) for data in {data for _, data in embedded_images(out)})
    assert not temp_files(out)


def test_frames_that_decoded_at_drafting_are_not_decoded_again_when_written(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each frame is decoded once per build: drafting records the digest of the bytes that decoded, and the shard
    writer decodes only bytes with another digest (the broken-after-drafting test above is the other half)."""
    from ladderdata.sources import base as sources_base

    decoded: list[tuple[str, int]] = []
    real_check = sources_base.FrameSource.check_color_jpeg

    def counting(self: sources_base.FrameSource, frame_id: int, data: bytes, decode: bool = False) -> bytes:
        if decode:
            decoded.append((self.scan_id, frame_id))
        return real_check(self, frame_id, data, decode)

    monkeypatch.setattr(sources_base.FrameSource, "check_color_jpeg", counting)
    out = tmp_path / "dataset"
    build(synthetic_root, out, rows_per_shard=20)
    drafts = [json.loads(p.read_text()) for p in sorted((out / ".ladder-work" / "drafts").glob("*.json"))]
    drafted = sorted((d["scan_id"], int(f)) for d in drafts for f in d["frame_digests"])
    embedded = {
        (row["scene_id"], f)
        for path in shard_files(out)
        for row in pq.read_table(path, columns=["scene_id", "frame_ids"]).to_pylist()
        for f in row["frame_ids"]
    }
    assert embedded and embedded <= set(drafted)
    assert sorted(decoded) == drafted  # once each, all of them at drafting


def test_shard_rows_are_streamed_one_row_group_at_a_time(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer holds the images of one row group, not of the shard: memory does not grow with rows_per_shard."""
    pending = {"rows": 0, "most": 0}
    real_row, real_write = shards.shard_row, pq.ParquetWriter.write_table

    def counted_row(*args: Any) -> dict[str, Any]:
        pending["rows"] += 1
        return real_row(*args)

    def counted_write(self: pq.ParquetWriter, table: pa.Table, *args: Any, **kwargs: Any) -> None:
        if "images" in table.column_names:  # a shard's row group (not the metadata cache)
            assert table.num_rows == pending["rows"]  # every row built so far goes into this group
            pending["most"] = max(pending["most"], pending["rows"])
            pending["rows"] = 0
        real_write(self, table, *args, **kwargs)

    monkeypatch.setattr(shards, "shard_row", counted_row)
    monkeypatch.setattr(pq.ParquetWriter, "write_table", counted_write)
    out = tmp_path / "dataset"
    summary = build(copy_root(synthetic_root, tmp_path / "scannet"), out, rows_per_shard=10_000)
    assert not summary.failed
    biggest = max(summary.rows.values())
    assert biggest > shards.ROW_GROUP_ROWS and pending["most"] == shards.ROW_GROUP_ROWS
    for path in shard_files(out):
        meta = pq.ParquetFile(path).metadata
        groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert len(groups) > 1 and max(groups) <= shards.ROW_GROUP_ROWS and sum(groups) == meta.num_rows
    # a byte budget closes groups early (video rows carry many frames)
    monkeypatch.setattr(shards, "ROW_GROUP_BYTES", 1)
    pending["most"] = 0
    build(copy_root(synthetic_root, tmp_path / "scannet2"), tmp_path / "dataset2", rows_per_shard=10_000)
    assert pending["most"] == 1


# ----------------------------------------------------------------------------------------------- 4. found early


def test_a_missing_template_file_fails_before_any_work(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"templates: [{tmp_path / 'nowhere.yaml'}]\n")
    out = tmp_path / "dataset"
    args = ["build-dataset", "--scans", str(synthetic_root), "--out", str(out), "--recipe", str(recipe)]
    code, stderr = run_cli(args, monkeypatch, capsys)
    assert code == cli.BAD_CONFIG
    assert "nowhere.yaml" in one_line_error(stderr, "error") and not out.exists()


# ----------------------------------------------------------------------------------------------- 5. processes


def test_sigkill_mid_build_then_rerun_gives_the_same_bytes(synthetic_root: Path, tmp_path: Path) -> None:
    root = copy_root(synthetic_root, tmp_path / "scannet")
    args = ["build-dataset", "--scans", str(root), "--split", "all", "--frame-stride", "1", "--frames-layout", "sens"]
    reference = tmp_path / "reference"
    assert run_ladder([*args, "--out", str(reference)]).returncode == 0
    out = tmp_path / "dataset"
    drafts = out / ".ladder-work" / "drafts"
    stages: list[Callable[[], bool]] = [lambda: drafts.is_dir() and any(drafts.iterdir()), (out / "data").is_dir]
    for reached in stages:  # killed once a scan is drafted, then once shards are being written
        proc = subprocess.Popen([*LADDER, *args, "--out", str(out)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not reached() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)  # as the out-of-memory killer does: no cleanup runs
        proc.wait(timeout=30)
    (out / "data").mkdir(parents=True, exist_ok=True)
    stale = out / "data" / temp_name("train-00000-of-00001.parquet")
    stale.write_bytes(b"half a shard")  # what a kill inside a write leaves
    rerun = run_ladder([*args, "--out", str(out)])
    assert rerun.returncode == 0, rerun.stderr
    assert shard_bytes(out) == shard_bytes(reference)
    manifest, expected = (json.loads((p / "manifest.json").read_text()) for p in (out, reference))
    assert manifest["shards"] == expected["shards"] and manifest["inputs"] == expected["inputs"]
    assert not temp_files(out)


def test_ctrl_c_during_a_build_stops_it_in_seconds_and_the_rerun_resumes(synthetic_root: Path, tmp_path: Path) -> None:
    root = copy_root(synthetic_root, tmp_path / "scannet")
    out = tmp_path / "dataset"
    args = ["build-dataset", "--scans", str(root), "--out", str(out), "--split", "all", "--frame-stride", "1"]
    proc = subprocess.Popen([*LADDER, *args, "--workers", "2"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / ".ladder-work").is_dir() and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)  # a run that keeps drafting fails here
    finally:
        proc.kill()
    assert proc.returncode == cli.INTERRUPTED == 130
    assert "finished work is kept" in one_line_error(stderr, "interrupted")
    assert not temp_files(out)
    assert run_ladder(args).returncode == 0


def test_a_build_refuses_a_metadata_cache_that_another_run_writes(synthetic_root: Path, tmp_path: Path) -> None:
    meta = tmp_path / "meta"
    config = BuildConfig(
        source=scannet(synthetic_root),
        out=tmp_path / "ds",
        split="all",
        recipe=all_drafts_recipe(1),
        metadata_cache=meta,
    )
    with claim_folder(meta):  # as `ladder metadata --out meta` (or another build into the same cache) holds it
        with pytest.raises(FolderBusyError, match=f"{meta.resolve()} is being written by another ladder run"):
            build_dataset(config)
        # and the other way round: `ladder metadata` refuses the cache a build holds
        result = run_ladder(["metadata", "--scans", str(synthetic_root), "--out", str(meta)], timeout=120)
    assert result.returncode == cli.BAD_CONFIG and "being written by another ladder run" in result.stderr
    assert not (tmp_path / "ds" / "manifest.json").exists()


def test_cleaning_a_folder_leaves_the_temp_files_of_folders_locked_inside_it(tmp_path: Path) -> None:
    """A run cleans the temp files killed runs left in its folder, but not inside a folder with a lock of its own
    (another output folder, a shared metadata cache): another run may be writing those right now."""
    out, cache = tmp_path / "out", tmp_path / "out" / "shared-cache"
    cache.mkdir(parents=True)
    (cache / LOCK_NAME).touch()
    left = out / temp_name("stats.json")
    in_flight = cache / temp_name("scene0000_00.parquet")
    for path in (left, in_flight):
        path.write_text("partial")
    with claim_folder(out):
        assert not left.exists() and in_flight.exists()
    with claim_folder(cache):  # the folder's own claim cleans it
        assert not in_flight.exists()


# ----------------------------------------------------------------------------------------------- 6. disk full


def _enospc(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["shard", "manifest", "arrow text only"])
def test_a_full_disk_exits_3_keeps_what_was_there_and_the_rerun_completes(
    synthetic_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    root = copy_root(synthetic_root, tmp_path / "scannet")
    out = tmp_path / "dataset"
    args = ["build-dataset", "--scans", str(root), "--out", str(out), "--split", "all", "--frames-layout", "sens"]
    assert run_cli([*args, "--frame-stride", "2"], monkeypatch, capsys)[0] == 0
    manifest = (out / "manifest.json").read_bytes()
    before = shard_bytes(out)
    with monkeypatch.context() as patched:
        if where == "shard":
            patched.setattr(pq.ParquetWriter, "write_table", _enospc)
        elif where == "manifest":
            real_write_text = Path.write_text

            def half_then_full(self: Path, text: str, *a: Any, **k: Any) -> int:
                if "manifest.json" in self.name:
                    real_write_text(self, text[: len(text) // 2], *a, **k)
                    _enospc()
                return real_write_text(self, text, *a, **k)

            patched.setattr(Path, "write_text", half_then_full)
        else:

            def arrow_error(*a: Any, **k: Any) -> None:
                raise pa.ArrowIOError(
                    "IOError: [Errno 28] Error writing bytes to file. Detail: No space left on device"
                )

            patched.setattr(pq.ParquetWriter, "write_table", arrow_error)
        code, stderr = run_cli([*args, "--frame-stride", "1", "--overwrite"], monkeypatch, capsys)
    assert code == cli.OUT_OF_SPACE == 3
    assert "no space left" in one_line_error(stderr, "out of space").lower()
    assert (out / "manifest.json").read_bytes() == manifest  # the previous manifest, whole
    assert not temp_files(out)
    if where != "manifest":
        assert shard_bytes(out) == before
    code, stderr = run_cli([*args, "--frame-stride", "1"], monkeypatch, capsys)
    assert code == 0, stderr
    assert json.loads((out / "manifest.json").read_text())["shards"]


def test_a_truncated_manifest_is_a_clear_error_for_check_leakage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    train, bench = tmp_path / "train", tmp_path / "bench"
    for folder in (train, bench):
        folder.mkdir()
        (folder / "manifest.json").write_text(json.dumps({"inputs": {"scan_ids": [SCAN], "source": {}}}))
    text = (train / "manifest.json").read_text()
    (train / "manifest.json").write_text(text[: len(text) // 2])  # what an in-place write on a full disk left
    code, stderr = run_cli(["check-leakage", str(train), str(bench)], monkeypatch, capsys)
    assert code == cli.BAD_CONFIG
    assert "is not a readable ladder manifest" in one_line_error(stderr, "error")


def _fill_disk(item: int) -> int:
    if item == 2:
        raise OutOfSpaceError("no space left on the device writing x")
    return item


@pytest.mark.parametrize("workers", [1, 2])
def test_a_full_disk_stops_the_whole_map(workers: int) -> None:
    with LocalExecutor(workers) as executor, pytest.raises(OutOfSpaceError):
        executor.map(_fill_disk, [0, 1, 2, 3])


def test_a_full_disk_in_metadata_and_eval_exits_3(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(pq, "write_table", _enospc)
    code, stderr = run_cli(["metadata", "--scans", str(synthetic_root), "--out", str(tmp_path)], monkeypatch, capsys)
    assert code == cli.OUT_OF_SPACE and "out of space" in one_line_error(stderr, "out of space")
    assert not temp_files(tmp_path)


# ----------------------------------------------------------------------------------------------- 7. paths


@pytest.mark.parametrize("name", ["../x", "/abs/dir", "a/b", "", ".hidden", "x\n", "a" * 101])
def test_names_that_become_paths_are_validated(tmp_path: Path, name: str) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"name": name}))
    with pytest.raises(ConfigError, match=r"recipe\.yaml.*name"):
        Recipe.load(recipe)


def test_a_benchmark_named_outside_out_writes_nothing_and_deletes_nothing(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "x" / "data" / "spbench" / "test-00000-of-00001.parquet"
    victim.parent.mkdir(parents=True)
    victim.write_bytes(b"someone else's shard")
    recipe = tmp_path / "evil.yaml"
    recipe.write_text("name: ../x\n")
    out = tmp_path / "benches"
    args = ["build-bench", "--scans", str(synthetic_root), "--out", str(out), "--benchmark", str(recipe)]
    code, stderr = run_cli([*args, "--split", str(synthetic_root / "scannetv2_train.txt")], monkeypatch, capsys)
    assert code == cli.BAD_CONFIG and "'../x'" in one_line_error(stderr, "error")
    assert victim.read_bytes() == b"someone else's shard" and not out.exists()


def test_export_refuses_scene_names_that_leave_its_folder(benches: Path, tmp_path: Path) -> None:
    from ladderdata.eval.export import export_benchmark

    bench = tmp_path / "bench"
    shutil.copytree(benches / "spbench-si", bench)
    shard = next(bench.rglob("*.parquet"))
    table = pq.read_table(shard)
    names = ["../../escaped"] * table.num_rows
    table = table.set_column(table.schema.get_field_index("scene_name"), "scene_name", pa.array(names))
    pq.write_table(table, shard)
    with pytest.raises(ConfigError, match="escaped"):
        export_benchmark(bench, tmp_path / "out", "spatialladder", 2.0)
    assert not (tmp_path / "escaped").exists()


def test_a_rebuild_removes_only_the_shards_ladder_wrote(synthetic_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    build(synthetic_root, out, rows_per_shard=7)
    folder = out / "data" / "spatial"
    first = set((out / "data").rglob("train-*.parquet"))
    user = folder / "train-00000-of-00003-userdata.parquet"
    user.write_bytes(b"the user's own file")
    lookalike = folder / "train-00000-of-00001-0123456789abcdef.parquet"  # ladder's name, another key inside
    shutil.copy(sorted(first)[0], lookalike)
    summary = build(synthetic_root, out, rows_per_shard=11)
    now = set((out / "data").rglob("train-*.parquet"))
    listed = {out / str(shard["path"]) for shard in summary.shards}
    assert now == listed | {user, lookalike}  # every stale ladder shard is gone, the user's files stay
    assert user.read_bytes() == b"the user's own file"
    assert summary.stages["write"].counters["stale shards removed"] == len(first - listed) > 0


def test_scan_ids_listed_twice_in_a_split_file_are_built_once(
    synthetic_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    split = tmp_path / "split.txt"
    split.write_text(f"{OTHER}\n{SCAN}\n{OTHER}\n")
    out = tmp_path / "dataset"
    config = BuildConfig(source=scannet(synthetic_root), out=out, split=str(split), recipe=all_drafts_recipe(1))
    summary = build_dataset(config)
    manifest = json.loads((out / "manifest.json").read_text())
    assert summary.scans == manifest["inputs"]["scan_ids"] == [SCAN, OTHER]
    assert f"{split} lists 1 scan ids more than once" in caplog.text


# ----------------------------------------------------------------------------------------------- 8. configs


BAD_RECIPES: list[tuple[str, bytes, str]] = [
    ("binary", b"\x00\x01\xfe\xff name: x", "not UTF-8"),
    ("deeply nested", b"filters: " + b"[" * 200 + b"]" * 200, "nests deeper"),
    ("alias bomb", b"a: &a [1, 2]\nb: &b [*a, *a]\nc: [*b, *b]\n", "aliases"),
    ("huge render width", b"metadata: {render_width: 2000000000}", "render_width"),
    ("negative target", b"targets: {object_counting: {video: -5}}", "greater than or equal to 0"),
    ("infinite threshold", b"filters: {min_visibility: .inf}", "min_visibility"),
    ("NaN task setting", b"tasks: {object_abs_distance: {min_distance_over_size: .nan}}", "min_distance_over_size"),
    ("unknown nested key", b"metadata: {render_widht: 100}", "render_widht"),
    ("bad localization config", b"localization: standalone\nlocalization_config: {bogus: 1}", "bogus"),
    (
        "target of a missing task",
        b"tasks: {object_counting: {}}\ntargets: {room_size_estimation: {video: 1}}",
        "targets",
    ),
    ("rows per shard 0", b"rows_per_shard: 0", "rows_per_shard"),
    ("not a mapping", b"- a\n- b\n", "expected a mapping"),
    ("python tag", b"name: !!python/object/apply:os.system ['true']", "not valid YAML"),
    ("key given twice", b"rows_per_shard: 10\nname: x\nrows_per_shard: 20\n", "key 'rows_per_shard' appears twice"),
    ("nested key given twice", b"metadata: {frame_stride: 5, frame_stride: 10}", "key 'frame_stride' appears twice"),
    ("empty category name", b"category_names: {chair: ''}", "'' is not a category name"),
    ("blank category name", b"category_names: {chair: '   '}", "'   ' is not a category name"),
    ("braces in a category name", b"category_names: {chair: 'a {b}'}", "'a {b}' is not a category name"),
    ("newline in a category name", b'category_names: {chair: "a\\nb"}', "is not a category name"),
    (
        "min count above max count",
        b"tasks: {object_counting: {min_count: 9, max_count: 3}}",
        "min_count (9) is above max_count (3)",
    ),
    (
        "min size above max size",
        b"tasks: {object_size_estimation: {min_size_cm: 500}}",
        "min_size_cm (500.0) is above max_size_cm (300.0)",
    ),
    (
        "absent threshold above named one",
        b"tasks: {object_rel_direction: {max_depth_absent: 1.0}}",
        "max_depth_absent (1.0) is above min_depth_gap (0.4)",
    ),
    (
        "a modality the task does not generate",
        b"tasks: {object_counting: {modalities: [single_image]}}",
        "object_counting does not generate modalities ['single_image']",
    ),
    (
        "a target of a modality the task does not generate",
        b"tasks: {object_counting: {}}\ntargets: {object_counting: {single_image: 5}}",
        "targets of object_counting name modalities it does not generate: ['single_image']",
    ),
    (
        "more choices than orders",
        b"tasks: {obj_appearance_order: {objects: 2, choices: 4}}",
        "there are only 2 orders",
    ),
]


@pytest.mark.parametrize(("name", "content", "reason"), BAD_RECIPES, ids=[r[0] for r in BAD_RECIPES])
def test_bad_recipes_fail_when_read_naming_the_file(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        Recipe.load(recipe)
    assert str(recipe) in str(info.value) and reason in str(info.value), str(info.value)


BAD_TEMPLATES: list[tuple[str, Any, str]] = [
    ("stray brace", "How many {category(s)?", "malformed braces"),
    ("positional field", "How many {0}?", "not a plain {name} field"),
    ("empty field", "How many {}?", "not a plain {name} field"),
    ("attribute access", "How many {category.__class__}?", "not a plain {name} field"),
    ("index access", "How many {category[0]}?", "not a plain {name} field"),
    ("conversion", "How many {category!r}?", "not a plain {name} field"),
    ("format spec", "How many {category:>99999}?", "not a plain {name} field"),
    ("field the task lacks", "How many {password}?", "which its task does not provide"),
    ("not a string", 123, "a template is a non-empty string"),
    ("empty list", [], "a template is a non-empty string"),
]


@pytest.mark.parametrize(("name", "template", "reason"), BAD_TEMPLATES, ids=[t[0] for t in BAD_TEMPLATES])
def test_bad_templates_fail_when_the_recipe_is_read(tmp_path: Path, name: str, template: Any, reason: str) -> None:
    templates = tmp_path / "questions.yaml"
    templates.write_text(json.dumps({"object_counting": template}))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"templates": [str(templates)]}))
    with pytest.raises(ConfigError) as info:
        Recipe.load(recipe)
    assert "questions.yaml" in str(info.value) and reason in str(info.value), str(info.value)


BAD_TEMPLATE_KEYS: list[tuple[str, str, str, str]] = [
    ("misspelt key", "object_countng", "How many {category}(s)?", "no task uses template key 'object_countng'"),
    (
        "misspelt suffix",
        "object_rel_direction.camra",
        "Is the {object1} {choices_or} of the {object2}?",
        "no task uses template key 'object_rel_direction.camra'",
    ),
    (
        "a third option of a two-option question",
        "object_rel_distance",
        "Which is closer to the {category}: {choice_a}, {choice_b} or {choice_c}?",
        "uses ['choice_c'], which its task does not provide",
    ),
    (
        "a fifth option of a four-option question",
        "object_rel_direction.camera",
        "Is the {object1} {choice_e} of the {object2}?",
        "uses ['choice_e'], which its task does not provide",
    ),
    (
        "options of a numeric question",
        "object_counting",
        "How many {category}(s): {choice_a} or {choice_b}?",
        "uses ['choice_a', 'choice_b'], which its task does not provide",
    ),
]


@pytest.mark.parametrize(
    ("name", "key", "template", "reason"), BAD_TEMPLATE_KEYS, ids=[t[0] for t in BAD_TEMPLATE_KEYS]
)
def test_template_keys_and_options_are_checked_against_the_tasks(
    tmp_path: Path, name: str, key: str, template: str, reason: str
) -> None:
    templates = tmp_path / "questions.yaml"
    templates.write_text(json.dumps({key: [template]}))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"templates": [str(templates)]}))
    with pytest.raises(ConfigError) as info:
        Recipe.load(recipe)
    assert "questions.yaml" in str(info.value) and reason in str(info.value), str(info.value)
    if "misspelt" in name:  # the error lists the keys there are
        assert "object_counting" in str(info.value) and "object_rel_direction.camera" in str(info.value)


def test_options_a_recipe_adds_may_be_used_by_its_templates(tmp_path: Path) -> None:
    from ladderdata.prompts import QuestionTemplates, choice_fields

    templates = tmp_path / "questions.yaml"
    templates.write_text('object_rel_distance: ["Closest to the {category}: {choice_a}, {choice_b}, {choice_c}?"]\n')
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(
        json.dumps({"templates": [str(templates)], "tasks": {"object_rel_distance": {"choices": 3}}})
    )
    recipe = Recipe.load(recipe_file)
    fields = {"category": "bed", **choice_fields(["lamp", "desk", "door"])}
    rendered = QuestionTemplates(recipe.templates).render("object_rel_distance", fields)
    assert rendered == "Closest to the bed: lamp, desk, door?"


def test_good_user_templates_are_accepted_and_used(tmp_path: Path) -> None:
    templates = tmp_path / "questions.yaml"
    templates.write_text('object_counting: ["Count the {category}s: {{braces}} stay."]\n')
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(json.dumps({"templates": [str(templates)]}))
    recipe = Recipe.load(recipe_file)
    from ladderdata.prompts import QuestionTemplates

    rendered = QuestionTemplates(recipe.templates).render("object_counting", {"category": "chair"})
    assert rendered == "Count the chairs: {braces} stay."


def test_config_errors_on_the_command_line_are_one_line_exit_2(synthetic_root: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("filters: {min_visibility: .inf}\n")
    args = ["--scans", str(synthetic_root), "--out", str(tmp_path / "o"), "--recipe", str(recipe)]
    result = run_ladder(["build-dataset", *args])
    assert result.returncode == 2
    assert "min_visibility" in one_line_error(result.stderr, "error")


# ----------------------------------------------------------------------------------------------- 9. eval input


def _predictions(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def test_eval_refuses_ambiguous_or_foreign_predictions(benches: Path, tmp_path: Path) -> None:
    bench = benches / "spbench-si"
    ids = [row.id for row in BenchReader(bench).rows()]
    out = tmp_path / "report"
    cases: list[tuple[Path, str]] = [
        (
            _predictions(
                tmp_path / "dup.jsonl", [{"id": ids[0], "prediction": "A"}, {"id": ids[0], "prediction": "B"}]
            ),
            r"dup\.jsonl:2: question id .* was already given on line 1",
        ),
        (_predictions(tmp_path / "empty.jsonl", []), "holds no predictions"),
        (
            _predictions(tmp_path / "foreign.jsonl", [{"id": "other-bench-1", "prediction": "A"}]),
            "predictions for another benchmark",
        ),
        (_predictions(tmp_path / "blank-id.jsonl", [{"id": " ", "prediction": "A"}]), "empty question id"),
        (_predictions(tmp_path / "garbage.jsonl", ["not json"]), r"garbage\.jsonl:1: not a prediction line"),
        (tmp_path / "missing.jsonl", "cannot read predictions"),
    ]
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    cases.append((binary, "is not UTF-8 text"))
    for predictions, reason in cases:
        with pytest.raises(ConfigError, match=reason):
            evaluate(bench, predictions, out)
    assert not out.exists()


def test_eval_counts_extra_and_missing_predictions(
    benches: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bench = benches / "spbench-si"
    ids = [row.id for row in BenchReader(bench).rows()]
    lines: list[object] = [*({"id": i, "prediction": "A"} for i in ids[1:]), {"id": "stray-1", "prediction": "A"}]
    summaries = evaluate(bench, _predictions(tmp_path / "p.jsonl", lines), tmp_path / "report")
    (summary,) = summaries["ladder"].values()
    assert isinstance(summary, BenchmarkSummary)
    assert summary.missing_predictions == 1 and summary.unmatched_predictions == 1
    assert "1 of" in caplog.text and "stray-1" in caplog.text
    assert "1 predictions name no question" in (tmp_path / "report" / "report.md").read_text()


def test_truncated_or_foreign_bench_shards_are_clear_errors(
    benches: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = tmp_path / "bench"
    shutil.copytree(benches / "spbench-si", bench)
    shard = next(bench.rglob("*.parquet"))
    predictions = _predictions(tmp_path / "p.jsonl", [{"id": "x", "prediction": "A"}])
    truncate(shard, 0.5)
    code, stderr = run_cli(["eval", "--bench", str(bench), "--predictions", str(predictions)], monkeypatch, capsys)
    assert code == cli.BAD_CONFIG and shard.name in one_line_error(stderr, "error")
    pq.write_table(pa.table({"id": ["a", "a"]}), shard)
    with pytest.raises(ConfigError, match="is not a benchmark shard"):
        list(BenchReader(bench).rows())
    # two questions with one id: the score would depend on which wins
    shutil.rmtree(bench)
    shutil.copytree(benches / "spbench-si", bench)
    table = pq.read_table(shard)
    pq.write_table(pa.concat_tables([table, table.slice(0, 1)]), shard)
    with pytest.raises(ConfigError, match="appears twice"):
        list(BenchReader(bench).rows())


def _break_a_row(shard: Path, answer_type: str, change: dict[str, Any]) -> tuple[int, str]:
    """The first row of ``answer_type`` given ``change``; returns its (1-based) row number and id."""
    table = pq.read_table(shard)
    rows = table.to_pylist()
    number = next(i for i, row in enumerate(rows) if row["answer_type"] == answer_type)
    rows[number].update(change)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), shard)
    return number + 1, str(rows[number]["id"])


BAD_BENCH_ROWS: list[tuple[str, str, dict[str, Any], str]] = [
    ("numeric ground truth in words", "numeric", {"ground_truth": "about 3"}, "is not a finite number"),
    ("infinite ground truth", "numeric", {"ground_truth": "inf"}, "is not a finite number"),
    ("unknown answer type", "mcq", {"answer_type": "free"}, "answer_type 'free' is not one of mcq, numeric, boxes"),
    ("options null", "mcq", {"options": None}, "options is None, not a list of strings"),
    ("letter beyond the options", "mcq", {"ground_truth": "H"}, "is not the letter of one of its"),
    ("empty question type", "mcq", {"question_type": ""}, "question_type is '', not a non-empty string"),
]


@pytest.mark.parametrize(("name", "kind", "change", "reason"), BAD_BENCH_ROWS, ids=[r[0] for r in BAD_BENCH_ROWS])
def test_bench_rows_the_scorers_cannot_use_are_one_line_errors(
    benches: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    kind: str,
    change: dict[str, Any],
    reason: str,
) -> None:
    bench = tmp_path / "bench"
    shutil.copytree(benches / "spbench-si", bench)
    shard = next(bench.rglob("*.parquet"))
    number, qid = _break_a_row(shard, kind, change)
    predictions = _predictions(tmp_path / "p.jsonl", [{"id": qid, "prediction": "A"}])
    code, stderr = run_cli(["eval", "--bench", str(bench), "--predictions", str(predictions)], monkeypatch, capsys)
    line = one_line_error(stderr, "error")
    assert code == cli.BAD_CONFIG and f"{shard} row {number} (question {qid!r}): " in line and reason in line, line


def test_box_parsing_is_bounded_on_any_response() -> None:
    from ladderdata.scoring import boxes_score, parse_boxes, score

    truth = '[{"label": "chair", "bbox_2d": [0, 0, 10, 10]}]'
    hostile = [
        "[" * 100_000,  # the JSON parser's recursion limit (RecursionError, not JSONDecodeError)
        "[" * 9 + "]" * 9,
        '[{"label": "chair", "bbox_2d": [' + "9" * 5000 + ", 0, 1, 1]}]",  # int too long to convert (ValueError)
        '[{"label": "chair", "bbox_2d": [NaN, 0, Infinity, 1]}]',
        '[{"label": "chair", "bbox_2d": [' + "1" + "0" * 400 + ", 0, 1, 1]}]",  # beyond float range
        "[" + '{"label": "chair", "bbox_2d": [0, 0, 1, 1]},' * 10_000 + "]",  # longer than MAX_BOXES_JSON
    ]
    started = time.perf_counter()
    for text in hostile:
        assert not parse_boxes(text), text[:40]
        assert boxes_score(text, truth) == score(text, truth, "boxes") == 0.0
    assert time.perf_counter() - started < 5.0
    assert parse_boxes('```json\n[{"label": "chair", "bbox_2d": [0, 0, 10, 10]}]\n```') == [
        {"label": "chair", "bbox_2d": [0.0, 0.0, 10.0, 10.0]}
    ]


def _regex_last_answer(text: str) -> str:
    """The original quadratic extraction, as the oracle of the linear one."""
    tags = re.findall(r"<answer>(.*?)</answer>", text, re.S | re.I)
    return (tags[-1] if tags else text).strip()


def test_answer_extraction_matches_the_regex_and_is_linear() -> None:
    rng = np.random.default_rng(0)
    tokens = ["<answer>", "</answer>", "<ANSWER>", "</Answer>", "A", " 3.5 ", "\n", "<", ">", "answer"]
    for _ in range(2000):
        text = "".join(tokens[int(i)] for i in rng.integers(0, len(tokens), rng.integers(0, 12)))
        assert extract_answer(text) == _regex_last_answer(text), text
        first = re.search(r"<answer>(.*?)</answer>", text, re.DOTALL)
        expected = (first.group(1).strip() if first else "None") if "<answer>" in text else text
        assert spatialladder_answer_text(text, thinking=True) == expected, text
    # the malformed answer of the issue (312 KB of unclosed tags): the regex took 56 s, this is one pass
    malformed = "<answer>" * 40_000
    assert extract_answer(malformed) == malformed and spatialladder_answer_text(malformed, True) == "None"


# ----------------------------------------------------------------------------------------------- 10. caches


def test_file_hashes_see_a_file_replaced_with_the_same_size_and_mtime(tmp_path: Path) -> None:
    data = tmp_path / "depth.png"
    data.write_bytes(b"a" * 100)
    sidecar = tmp_path / "hashes.json"
    first = FileHashes(sidecar)
    old = first.digest(data)
    first.save()
    stat = data.stat()
    replacement = tmp_path / "new.png"
    replacement.write_bytes(b"b" * 100)
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # cp -p / rsync -a keep the mtime
    replacement.replace(data)
    assert data.stat().st_size == stat.st_size and data.stat().st_mtime_ns == stat.st_mtime_ns
    assert FileHashes(sidecar).digest(data) != old


def test_replacing_depth_frames_recomputes_the_metadata(synthetic_root: Path, tmp_path: Path) -> None:
    root = copy_root(synthetic_root, tmp_path / "scannet")
    source = scannet(root, FramesLayout.EXPORT)
    config = MetadataConfig(frame_stride=1)
    out = tmp_path / "meta"
    first = process_scans(source, [SCAN, OTHER], config, out)
    assert [r.status for r in first] == ["computed", "computed"]
    before = {v.frame_id: v.depth_agreement for v in read_views(metadata_path(out, SCAN))}
    # every other depth frame half what it was: the metadata must change, and half the views disagreeing with the
    # mesh is a warning of the depth gate, not a failed scan (docs/reliability.md#depth-agreement)
    for png in sorted(scan_paths(root, SCAN).export_depth_dir.glob("*.png"))[::2]:
        stat = png.stat()
        cv2.imwrite(str(png), (read_image(png, cv2.IMREAD_UNCHANGED) // 2).astype(np.uint16))
        os.utime(png, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = process_scans(source, [SCAN, OTHER], config, out)
    assert [r.status for r in again] == ["computed", "cached"]
    after = {v.frame_id: v.depth_agreement for v in read_views(metadata_path(out, SCAN))}
    assert after != before


# ----------------------------------------------------------------------------------------------- no tracebacks


def test_an_internal_error_is_one_line_exit_70(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def bug(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    from ladderdata.cli import scans

    monkeypatch.setattr(scans, "summarise_scans", bug)
    code, stderr = run_cli(["scans", "--scans", str(synthetic_root)], monkeypatch, capsys)
    assert code == cli.INTERNAL_ERROR == 70
    assert "RuntimeError: a bug" in one_line_error(stderr, "internal error")


def test_synthesis_over_a_huge_config_is_refused(tmp_path: Path) -> None:
    result = run_ladder(["synth", "--out", str(tmp_path / "s"), "--scenes", "0"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    from ladderdata.synth.root import SynthConfig

    with pytest.raises(ValueError, match="less than or equal to 100000"):
        SynthConfig(scenes=10**9)
