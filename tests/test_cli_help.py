"""Every command's ``--help`` describes each option and shows examples that use only its options, and README's CLI
table lists the same options as ``--help`` (its ``SCANS`` and ``RUN`` shorthands expanded)."""

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from ladderdata.cli import app

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
