"""Every command's ``--help`` describes each option and shows examples that use only its options, and README's CLI
table lists the same options as ``--help`` (its ``SCANS`` and ``RUN`` shorthands expanded)."""

import inspect
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from ladderdata.cli import app
from ladderdata.cli.options import OptionGroup, RunOptions, ScanOptions, choose, with_options
from ladderdata.errors import LadderError

REPO = Path(__file__).resolve().parents[1]
CODE_CELL = re.compile(r"^\|\s*`(?P<code>[^`]+)`\s*\|(?:\s*`(?P<stands_for>[^`]+)`\s*\|)?")
OPTION = re.compile(r"--[a-z][a-z0-9-]*")


def leaf_commands(command: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command under ``command``, as ``--help`` finds them (``ladder``'s own are loaded when listed)."""
    if isinstance(command, TyperGroup):
        context = typer.Context(command)
        for name in command.list_commands(context):
            yield from leaf_commands(command.get_command(context, name), (*path, name))
    else:
        yield path, command


COMMANDS = dict(leaf_commands(typer.main.get_command(app), ()))


def help_options(command: Any) -> set[str]:
    """The long options a command takes (``--flag/--no-flag`` pairs count as ``--flag``), without ``--help``."""
    return {o for p in command.params for o in p.opts if o.startswith("--")} - {"--help"}


def positional_names(command: Any) -> list[str]:
    return [p.name for p in command.params if not any(o.startswith("-") for o in p.opts)]


def examples_of(command: Any) -> list[str]:
    return [line.strip() for line in (command.epilog or "").split("\n\n")[1:] if line.strip()]


def test_commands_are_found() -> None:
    """The walk sees the whole tree (a broken one would make the tests below pass on nothing)."""
    assert {("build-dataset",), ("build-bench",), ("scans",), ("train", "stage1"), ("train", "all")} <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_help_describes_every_option_and_shows_examples(path: tuple[str, ...]) -> None:
    command = COMMANDS[path]
    undescribed = [p.name for p in command.params if p.name != "help" and not (getattr(p, "help", None) or "")]
    assert not undescribed, f"ladder {' '.join(path)}: options without help: {undescribed}"
    assert command.help, f"ladder {' '.join(path)} has no description"
    assert examples_of(command), f"ladder {' '.join(path)} --help shows no example"
    shown = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "Examples:" in shown.output
    assert examples_of(command)[0].split("#")[0].split()[-1] in shown.output


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_help_examples_use_only_the_commands_options(path: tuple[str, ...]) -> None:
    command = COMMANDS[path]
    for example in examples_of(command):
        words = shlex.split(example.split("   #")[0])
        assert words[: len(path) + 1] == ["ladder", *path], example
        unknown = {w.split("=")[0] for w in words if w.startswith("--")} - help_options(command)
        assert not unknown, f"{example!r} uses options ladder {' '.join(path)} does not have: {sorted(unknown)}"


def readme_table() -> dict[tuple[str, ...], set[str]]:
    """README's CLI table: command path -> the options its row lists, ``SCANS`` and ``RUN`` expanded from the
    table below it. A row for ``ladder train stage1|stage2|stage3`` stands for each of the three."""
    cells, shorthands = [], {}
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        match = CODE_CELL.match(line)
        if match and match["code"].startswith("ladder "):
            cells.append(match["code"].replace("\\|", "|"))
        elif match and match["stands_for"]:
            shorthands[match["code"]] = set(OPTION.findall(match["stands_for"]))
    rows: dict[tuple[str, ...], set[str]] = {}
    for cell in cells:
        words = cell.split()[1:]
        names = []
        for word in words:
            if not re.fullmatch(r"[a-z][a-z0-9|-]*", word):
                break
            names.append(word)
        used = [shorthands[w.strip("[]")] for w in words if w.strip("[]") in shorthands]
        options = set(OPTION.findall(cell)).union(*used)
        for last in names[-1].split("|"):
            rows[(*names[:-1], last)] = options
    return rows


def test_readme_table_is_parsed() -> None:
    rows = readme_table()
    assert rows[("scans",)] >= {"--scans", "--source", "--label-table", "--split-dir", "--split"}
    assert rows[("build-dataset",)] >= {"--workers", "--executor", "--ray-address", "--exclude-bench"}
    assert ("train", "stage3") in rows


def test_readme_and_help_list_the_same_commands_and_options() -> None:
    rows = readme_table()
    assert set(rows) == set(COMMANDS), "README's CLI table and the commands differ"
    for path, command in COMMANDS.items():
        readme, shown = rows[path], help_options(command)
        assert readme == shown, (
            f"ladder {' '.join(path)}: only in README {sorted(readme - shown)}, only in --help {sorted(shown - readme)}"
        )


class Colour(OptionGroup):
    """A group for the tests below: two options, one required."""

    hue: Annotated[str, typer.Option(help="the hue")]
    shade: Annotated[int, typer.Option(min=0, help="how dark")] = 1


def test_an_option_group_becomes_its_options_and_reaches_the_command_as_one_model() -> None:
    seen: list[tuple[str, Colour]] = []
    commands = typer.Typer()

    @commands.command(epilog="Examples:\n\nladder paint --hue red")
    @with_options
    def paint(name: Annotated[str, typer.Option(help="what")] = "wall", *, colour: Colour) -> None:
        """Paint."""
        seen.append((name, colour))

    assert [p.name for p in inspect.signature(paint).parameters.values()] == ["name", "hue", "shade"]
    shown = CliRunner().invoke(commands, ["--help"], env={"COLUMNS": "200"})
    assert "--hue" in shown.output and "how dark" in shown.output
    assert CliRunner().invoke(commands, ["--hue", "red", "--shade", "3"]).exit_code == 0
    assert seen == [("wall", Colour(hue="red", shade=3))]
    refused = CliRunner().invoke(commands, ["--shade", "2"])
    assert refused.exit_code == 2 and seen == [("wall", Colour(hue="red", shade=3))]  # --hue is required


def test_the_scan_and_run_options_are_the_same_in_every_command_that_takes_them() -> None:
    """Declared once: the same help text and default in every command that takes the group."""
    for group, expected in (
        (ScanOptions, {"scans", "metadata", "build-dataset", "build-bench"}),
        (RunOptions, {"synth", "metadata", "build-dataset", "build-bench"}),
    ):
        names = {"--" + name.replace("_", "-") for name in group.model_fields}
        taking = {path: c for path, c in COMMANDS.items() if names <= help_options(c)}
        assert {" ".join(path) for path in taking} == expected
        for option in names:
            shown = {(p.help, p.default) for c in taking.values() for p in c.params if option in p.opts}
            assert len(shown) == 1, f"{option} differs between commands: {shown}"


def test_a_closed_choice_names_its_choices() -> None:
    assert choose("--format", "scannet", {"scannet": 1, "arkitscenes": 2}) == 1
    with pytest.raises(LadderError, match=r"--format must be a or b, not 'c'"):
        choose("--format", "c", {"a": 1, "b": 2})
    with pytest.raises(LadderError, match=r"--executor must be one of local, ray, x, not 'y'"):
        choose("--executor", "y", {"local": 1, "ray": 2, "x": 3})
