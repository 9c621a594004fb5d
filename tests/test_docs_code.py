"""Every ``bash`` and ``python`` code block of README.md and docs/*.md runs as written.

A document's blocks run in order, each in a fresh shell or interpreter, in one fresh folder per document laid
out like a clone in which `ladder demo` was run: the repository's folders (linked), ``demo/`` (the outputs of
`ladder demo`, built once and shared with the other tests) and ``scannet/``, standing in for a real download
(docs/scannet.md): the demo's synthetic scans as a SensReader export that kept every 15th frame of the recording
(:func:`sparse_export`), so that ScanNet's frame stride, 30, keeps 24 views per scan as on a real scan, not the 2
it keeps of the demo's 48-frame ``.sens`` files. ``ladder`` and ``python`` are this interpreter's
(``python -m ladderdata``): nothing is installed. A block that cannot run here (a GPU, the network, a real
ScanNet download, model weights) says why in an HTML comment on the line before its fence,
``<!-- no-run: why -->``; each such block is listed as a skipped test with its reason (``pytest -rs``).
"""

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest

from fixtures.factories import linked_copy
from fixtures.shared import shared_folder
from ladderdata.layout import ScanPaths
from ladderdata.sources.base import open_source, source_config
from ladderdata.synth.scannet import matrix_text

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUNNABLE = ("bash", "python")
#: Repository entries a document may refer to by relative path (scripts, configs, benchmarks).
CLONE = ("benchmarks", "configs", "scripts", "src", "templates", "tests", "pyproject.toml", "noxfile.py")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>\S*)\s*$")
NO_RUN = re.compile(r"^\s*<!--\s*no-run:\s*(?P<why>\S.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int
    """1-based line of the opening fence."""
    lang: str
    code: str
    no_run: str | None
    """Why the block is not run (the ``no-run`` comment before it), None when it runs."""

    @property
    def name(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"


def code_blocks(doc: Path) -> list[Block]:
    """The ``bash`` and ``python`` fenced blocks of a Markdown file, in order."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None or not opening["info"]:
            i += 1
            continue
        start, indent = i, len(opening["indent"])
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:])
            i += 1
        i += 1
        if opening["info"] in RUNNABLE:
            before = next((line for line in reversed(lines[:start]) if line.strip()), "")
            mark = NO_RUN.match(before)
            code = "\n".join(body) + "\n"
            found.append(Block(doc, start + 1, opening["info"], code, mark["why"] if mark else None))
    return found


BLOCKS = [b for doc in DOCS for b in code_blocks(doc)]
RUN_DOCS = sorted({b.doc for b in BLOCKS if b.no_run is None})


def test_blocks_are_found() -> None:
    """The parser sees the blocks it should (a broken one would make every other test here pass vacuously)."""
    names = {b.name.split(":")[0] for b in BLOCKS}
    assert {"README.md", "docs/scannet.md", "docs/training.md", "docs/benchmarks.md"} <= names
    assert any(b.lang == "python" and b.no_run is None for b in BLOCKS)
    assert sum(b.no_run is None for b in BLOCKS) >= 10


#: The stand-in export keeps frames 0, 15, 30, ...: frame numbers of a recording whose every 15th frame was exported.
EXPORT_STEP = 15


def sparse_export(root: Path, out: Path) -> None:
    """``root`` (synthetic ScanNet scans with ``.sens`` files) as ``out``, every scan's frames written as a
    SensReader export (``color/N.jpg``, ``depth/N.png``, ``pose/N.txt``, ``intrinsic/``) numbered N = 15 x its
    position; every other file linked as it is."""
    linked_copy(root, out)
    source = open_source(source_config("scannet", root=root))
    for scan_id in source.scan_ids():
        frames = source.open_frames(scan_id)
        assert frames is not None
        paths = ScanPaths.at(out / "scans" / scan_id, root=out)
        paths.sens.unlink()
        for folder in (paths.export_color_dir, paths.export_depth_dir, paths.export_pose_dir):
            folder.mkdir()
        paths.export_intrinsic_dir.mkdir()
        for name, camera in (("color", frames.color_intrinsics), ("depth", frames.depth_intrinsics)):
            assert camera is not None
            (paths.export_intrinsic_dir / f"intrinsic_{name}.txt").write_text(matrix_text(camera.matrix4))
        for position, frame in enumerate(frames.frame_ids.tolist()):
            number = EXPORT_STEP * position
            paths.export_color(number).write_bytes(frames.read_color_jpeg(frame))
            ok, png = cv2.imencode(".png", frames.read_depth(frame))
            assert ok
            paths.export_depth(number).write_bytes(png.tobytes())
            paths.export_pose(number).write_text(matrix_text(frames.raw_poses[position]))


@pytest.fixture(scope="session")
def docs_scannet(demo_out: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = shared_folder(
        tmp_path_factory, "docs-scannet", lambda f: sparse_export(demo_out / "scannet", f / "scannet")
    )
    return folder / "scannet"


def clone_with_demo(folder: Path, demo_out: Path, scannet: Path) -> Path:
    for name in CLONE:
        (folder / name).symlink_to(REPO / name)
    linked_copy(demo_out, folder / "demo")
    linked_copy(scannet, folder / "scannet")
    bin_dir = folder / ".bin"
    bin_dir.mkdir()
    for command, args in (("ladder", "-m ladderdata "), ("python", "")):
        shim = bin_dir / command
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" {args}"$@"\n')
        shim.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize("doc", RUN_DOCS, ids=lambda d: str(d.relative_to(REPO)))
def test_code_blocks_run_as_written(doc: Path, demo_out: Path, docs_scannet: Path, tmp_path: Path) -> None:
    bin_dir = clone_with_demo(tmp_path, demo_out, docs_scannet)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "120"}
    for block in code_blocks(doc):
        if block.no_run is not None:
            continue
        command = (
            ["bash", "-euo", "pipefail", "-c", block.code] if block.lang == "bash" else ["python", "-c", block.code]
        )
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, (
            f"{block.name} exited with {result.returncode}:\n{block.code}\n--- output (end) ---\n"
            f"{(result.stdout + result.stderr)[-4000:]}"
        )


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.no_run], ids=lambda b: b.name)
def test_blocks_not_run_say_why(block: Block) -> None:
    assert block.no_run and len(block.no_run) > 5
    pytest.skip(f"{block.name} not run: {block.no_run}")
