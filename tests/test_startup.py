"""What ``ladder`` imports before a command does any work: ``--help`` and errors found in the command line or the
``--scans`` paths import no numeric, image, Arrow, mesh or Ray stack and no pipeline (docs/performance.md, "Start-up"
measures the CPU time; tests never time anything)."""

import inspect
import json
import subprocess
import sys

import pytest
import typer
from pydantic import BaseModel
from typer.core import TyperGroup
from typer.testing import CliRunner

from ladderdata.cli import root
from ladderdata.cli.root import COMMANDS, LadderCommands, app, family

#: Modules that cost a second or more to import between them and no work before a command starts needs.
HEAVY = ("numpy", "PIL", "cv2", "pyarrow", "open3d", "trimesh", "scipy", "numba", "ray", "torch", "ladderdata.pipeline")

PROBE = """
import contextlib, io, json, sys
sys.argv = ["ladder", *sys.argv[1:]]
from ladderdata.cli import entrypoint
code = None
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        entrypoint()
    except SystemExit as e:
        code = e.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def imported_by(*args: str) -> tuple[int, set[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    return result["code"], set(result["modules"])


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith("ladderdata.pipeline"))


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["build-dataset", "--help"],
        ["build-dataset", "--scans", "/nonexistent", "--out", "/tmp/never-written"],
        ["build-bench", "--scans", "/nonexistent", "--out", "/tmp/never-written"],
        ["metadata", "--scans", "/nonexistent", "--out", "/tmp/never-written"],
        ["build-dataset", "--no-such-option"],
    ],
    ids=" ".join,
)
def test_help_and_early_errors_import_no_heavy_module(args: list[str]) -> None:
    code, modules = imported_by(*args)
    assert code == (0 if "--help" in args else 2)
    assert "ladderdata.cli" in modules  # the probe ran the real command line
    assert not heavy_in(modules), heavy_in(modules)


def test_the_probe_sees_heavy_imports_where_a_command_needs_them(tmp_path: object) -> None:
    """The same probe on a command that does work: the heavy modules show (else the test above proves nothing)."""
    code, modules = imported_by("schemas", "--out", str(tmp_path))
    assert code == 0 and "numpy" in modules


def test_a_command_loads_only_its_own_family() -> None:
    """``build-dataset`` stopped by a wrong path imports its own module of ``ladderdata.cli``, not the other
    commands', not the extensions (laddertrain), not rich's help nor its log handler (nothing was logged);
    ``ladder --help`` lists the built-in commands without importing any of their modules."""
    code, modules = imported_by("build-dataset", "--scans", "/nonexistent", "--out", "/tmp/never-written")
    assert code == 2
    families = {m for m in modules if m.startswith("ladderdata.cli.")}
    assert families == {
        "ladderdata.cli.root",
        "ladderdata.cli.render",
        "ladderdata.cli.options",
        "ladderdata.cli.build",
    }
    assert not {m for m in modules if m.split(".")[0] == "laddertrain" or m in ("typer.rich_utils", "rich.logging")}
    _, listed = imported_by("--help")
    assert "laddertrain.cli" in listed  # the probe sees what --help loads: the extension's commands, to list them
    assert not {m for m in listed if m.startswith("ladderdata.cli.")} - {"ladderdata.cli.root", "ladderdata.cli.render"}
    assert not {m for m in listed if m.split(".")[0] in ("pydantic", "pydantic_core")}  # nothing to validate yet


def test_the_listed_summaries_are_the_commands_own() -> None:
    """``ladder --help`` lists the built-in commands from ``COMMANDS`` without importing them: each summary there is
    the first paragraph of the command's own help, as typer would list it, and every command of a family module is
    in the table."""
    context = typer.Context(typer.main.get_command(app))
    for name, listed in COMMANDS.items():
        command = family(listed.module).get_command(context, name)
        assert command is not None, f"ladder {name}: not in ladderdata.cli.{listed.module}"
        assert listed.summary == inspect.cleandoc(command.help or "").split("\n\n")[0], f"ladder {name}"
    for module in {listed.module for listed in COMMANDS.values()}:
        assert set(family(module).list_commands(context)) <= set(COMMANDS), module


def test_help_lists_what_the_commands_themselves_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole of ``ladder --help`` drawn from the table equals the listing typer draws from the commands."""
    from_table = CliRunner().invoke(app, ["--help"], terminal_width=100)
    monkeypatch.setattr(LadderCommands, "format_help", TyperGroup.format_help)
    from_commands = CliRunner().invoke(app, ["--help"], terminal_width=100)
    assert from_table.exit_code == from_commands.exit_code == 0
    assert from_table.output == from_commands.output
    assert "build-dataset" in from_table.output and "train" in from_table.output


def test_a_validation_error_is_still_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``entrypoint`` catches pydantic's error without importing pydantic itself: a command's invalid settings are
    one ``error: invalid settings`` line and exit 2, as before."""

    class Settings(BaseModel):
        workers: int

    def invalid(standalone_mode: bool) -> None:
        Settings(workers="many")

    monkeypatch.setattr(root, "app", invalid)
    with pytest.raises(SystemExit) as stopped:
        root.entrypoint()
    assert stopped.value.code == root.BAD_CONFIG == 2
    assert capsys.readouterr().err.startswith("error: invalid settings: workers: ")
