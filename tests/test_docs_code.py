"""Every ``bash`` and ``python`` code block of README.md and docs/*.md runs as written.

A document's blocks run in order, each in a fresh shell or interpreter, in one fresh folder per document laid
out like a clone in which `ladder demo` was run: the repository's folders (linked), ``demo/`` (the outputs of
`ladder demo`, built once and shared with the other tests) and ``scannet/`` (the demo's synthetic ScanNet
root, standing in for a real download: docs/scannet.md). ``ladder`` and ``python`` are this interpreter's
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

import pytest

from fixtures.factories import linked_copy

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
    assert sum(b.no_run is None for b in BLOCKS) >= 7


def clone_with_demo(folder: Path, demo_out: Path) -> Path:
    for name in CLONE:
        (folder / name).symlink_to(REPO / name)
    linked_copy(demo_out, folder / "demo")
    linked_copy(demo_out / "scannet", folder / "scannet")
    linked_copy(demo_out / "bench", folder / "bench")  # what the docs' build-bench blocks write on real ScanNet
    bin_dir = folder / ".bin"
    bin_dir.mkdir()
    for command, args in (("ladder", "-m ladderdata "), ("python", "")):
        shim = bin_dir / command
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" {args}"$@"\n')
        shim.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize("doc", RUN_DOCS, ids=lambda d: str(d.relative_to(REPO)))
def test_code_blocks_run_as_written(doc: Path, demo_out: Path, tmp_path: Path) -> None:
    bin_dir = clone_with_demo(tmp_path, demo_out)
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
