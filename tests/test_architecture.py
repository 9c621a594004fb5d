"""Arrows point one way: every import in src/ runs down the declared layers, never up, and never in a circle.

A module may import modules of its own layer or of lower ones. New modules must be placed in a layer here
(the test fails on an unplaced module), which is where the architecture of docs/index.md is enforced.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: Bottom to top. A module belongs to the layer of the longest prefix that names it.
LAYERS: list[list[str]] = [
    [
        "ladderdata.typed",
        "ladderdata.errors",
        "ladderdata.layout",
        "ladderdata.seeding",
        "ladderdata.cache",
        "ladderdata.outputs",
        "ladderdata.registry",
        "ladderdata.scoring",
    ],
    ["ladderdata.executor", "ladderdata.geometry", "ladderdata.metadata.kernels"],
    ["ladderdata.prompts", "ladderdata.sources"],
    ["ladderdata.synth"],
    ["ladderdata.metadata"],
    ["ladderdata.tasks"],
    ["ladderdata.recipe"],
    ["ladderdata.io"],
    ["ladderdata.preview"],
    ["ladderdata.report"],
    ["ladderdata.pipeline"],
    ["ladderdata.audit"],
    ["ladderdata.bench", "ladderdata.eval"],
    ["ladderdata.extensions", "ladderdata.schemas"],
    ["ladderdata.cli", "ladderdata.__main__", "ladderdata"],
    ["laddertrain"],
]
#: Names that place only themselves, not the modules under them (the package's own ``__init__``).
EXACT = {"ladderdata"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports (anywhere in the file: function bodies and TYPE_CHECKING blocks too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    known = modules()
    return {m for m in found if m in known and m != name}


def layer(name: str) -> int:
    best, best_len = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            under = prefix not in EXACT and name.startswith(prefix + ".")
            if (name == prefix or under) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def graph() -> dict[str, set[str]]:
    return {name: imports(name, path) for name, path in modules().items()}


def test_every_module_has_a_layer() -> None:
    unplaced = [name for name in modules() if layer(name) < 0]
    assert not unplaced, f"place these modules in LAYERS: {unplaced}"


def upward(edges: dict[str, set[str]]) -> list[str]:
    return [
        f"{name} (layer {layer(name)}) imports {target} (layer {layer(target)})"
        for name, targets in edges.items()
        for target in sorted(targets)
        if layer(target) > layer(name)
    ]


def test_imports_never_run_up_the_layers() -> None:
    found = upward(graph())
    assert not found, "\n".join(found)


def test_ladderdata_never_imports_laddertrain() -> None:
    offenders = [
        f"{name} imports {target}"
        for name, targets in graph().items()
        if name.split(".")[0] == "ladderdata"
        for target in targets
        if target.split(".")[0] == "laddertrain"
    ]
    assert not offenders, offenders


def test_no_import_circles() -> None:
    edges = graph()
    # a package's __init__ may import its own modules (re-exports); that edge is not a dependency of the package
    deps = {n: {t for t in ts if not t.startswith(n + ".")} for n, ts in edges.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(deps[node]):
            if state.get(target) == 1:
                circles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(deps):
        if node not in state:
            visit(node)
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from ladderdata.pipeline import build_dataset\n", {"ladderdata.pipeline"}),
        ("from . import shards\n", {"ladderdata.io", "ladderdata.io.shards"}),
        ("import ladderdata.cache\n", {"ladderdata.cache"}),
    ],
)
def test_the_import_reader_sees_what_python_does(source: str, expected: set[str], tmp_path: Path) -> None:
    """The checker itself can fail: relative and absolute imports resolve to the modules Python would load."""
    fake = tmp_path / "card.py"
    fake.write_text(source)
    assert imports("ladderdata.io.card", fake) == expected


def test_an_upward_import_is_caught() -> None:
    assert upward({"ladderdata.io.card": {"ladderdata.pipeline"}}) == [
        "ladderdata.io.card (layer 7) imports ladderdata.pipeline (layer 10)"
    ]
    assert not upward({"ladderdata.bench.build": {"ladderdata.pipeline"}})
    assert layer("ladderdata.something_new") == -1  # unplaced: test_every_module_has_a_layer reports it
