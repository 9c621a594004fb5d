"""The ``ladder`` command itself: its exit codes, logging, the entry point that turns every failure into one line,
and the table of command families, whose modules are imported only when one of their commands is called or
listed (``--help`` and errors found in the command line import nothing a command does not need)."""

import importlib
import logging
from functools import cache, cached_property
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from ladderdata.errors import LadderError, OutOfSpaceError, validation_text
from ladderdata.registry import Registry

if TYPE_CHECKING:
    from typer._click import Command, Context

    from ladderdata.extensions import Extension

#: Exit codes (docs/reliability.md): some scans failed; bad configuration or input; no space left on the device;
#: a requested benchmark ended up with no question (build-bench); an internal error (a bug: one line, the
#: traceback with --verbose); interrupted (Ctrl-C, as shells report SIGINT).
SCANS_FAILED, BAD_CONFIG, OUT_OF_SPACE, EMPTY_BENCHMARK, INTERNAL_ERROR, INTERRUPTED = 1, 2, 3, 4, 70, 130

#: ``ladder COMMAND`` -> the module of ``ladderdata.cli`` whose ``commands`` defines it, in ``--help``'s order.
COMMANDS: Registry[str] = Registry("ladder command")
for _name, _module in [
    ("synth", "synth"),
    ("scans", "scans"),
    ("metadata", "scans"),
    ("build-dataset", "build"),
    ("build-bench", "build"),
    ("check-leakage", "quality"),
    ("audit", "quality"),
    ("eval", "evaluate"),
    ("export", "evaluate"),
    ("push", "evaluate"),
    ("preview", "quality"),
    ("demo", "demo"),
    ("schemas", "demo"),
]:
    COMMANDS.add(_name, _module)

console = Console(stderr=True)
log = logging.getLogger("ladderdata")


@cache
def family(module: str) -> TyperGroup:
    """The click commands of one ``ladderdata.cli`` module (its ``commands`` Typer), built once."""
    commands: typer.Typer = importlib.import_module(f"ladderdata.cli.{module}").commands
    return typer.main.get_group(commands)


def needs_extra(holder: typer.Typer, name: str, extension: "Extension") -> None:
    """Stand in for an extension's command group whose dependencies are missing: one line, exit 2."""

    @holder.command(
        name,
        help=f"(needs the {extension.extra} extra: {extension.install_hint})",
        add_help_option=False,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def missing(ctx: typer.Context) -> None:
        raise LadderError(f"ladder {name} needs the {extension.extra} extra: {extension.install_hint}")


@cache
def extension_commands() -> TyperGroup:
    """Command groups of the installed extensions (``ladder train`` from laddertrain), loaded when first named or
    listed; a group whose extra is not installed stands in as one line saying which extra to install."""
    from ladderdata.extensions import load_extensions

    holder = typer.Typer()
    for extension in load_extensions():
        for name, group in extension.commands.items():
            if extension.missing():
                needs_extra(holder, name, extension)
            else:
                holder.add_typer(group, name=name)
    return typer.main.get_group(holder)


class LadderCommands(TyperGroup):
    """``ladder``'s commands: the built-in ones of :data:`COMMANDS`, then the extensions', each family loaded when
    first named or listed."""

    def list_commands(self, ctx: "Context") -> list[str]:
        return [*COMMANDS, *extension_commands().list_commands(ctx)]

    def get_command(self, ctx: "Context", cmd_name: str) -> "Command | None":
        if cmd_name in COMMANDS:
            return family(COMMANDS[cmd_name]).get_command(ctx, cmd_name)
        return extension_commands().get_command(ctx, cmd_name)


app = typer.Typer(
    cls=LadderCommands,
    help="ladder: spatial-reasoning data from 3D indoor scans.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


class ConsoleLogs(logging.Handler):
    """Log records on stderr through rich's handler, with the text they quote from the user's files escaped
    (``OneLineLogs``); rich's handler is made at the first record, so a command stopped before it logs anything
    (a bad option, a wrong path) never imports it."""

    @cached_property
    def rich(self) -> logging.Handler:
        from rich.logging import RichHandler

        from ladderdata.outputs import OneLineLogs

        handler = RichHandler(console=console, show_path=False)
        handler.addFilter(OneLineLogs())  # labels and paths from the user's files are echoed escaped
        return handler

    def emit(self, record: logging.LogRecord) -> None:
        self.rich.handle(record)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(message)s", handlers=[ConsoleLogs()], force=True
    )


def _fail(code: int, label: str, text: str) -> NoReturn:
    from ladderdata.outputs import one_line

    console.print(f"[red]{label}:[/red] {escape(one_line(text))}", soft_wrap=True)
    raise SystemExit(code) from None


def usage_error_line(error: typer.TyperException) -> str:
    """A bad command line as one line: what is wrong, what the option takes, and where the examples are."""
    line = error.format_message().replace("Value error, ", "").rstrip(".")
    param, ctx = getattr(error, "param", None), getattr(error, "ctx", None)
    opts, described = getattr(param, "opts", None), getattr(param, "help", None)
    if opts and described:
        line += f" ({opts[0]}: {described})"
    if ctx is not None:
        line += f"; `{ctx.command_path} --help` lists what it takes, with examples"
    return line


def _failure(e: Exception) -> tuple[int, str, str]:
    """The exit code, label and line for an exception that ends a command (called while it is handled)."""
    from ladderdata.cache import is_out_of_space

    if isinstance(e, OutOfSpaceError):
        return OUT_OF_SPACE, "out of space", str(e)
    if isinstance(e, LadderError):
        return BAD_CONFIG, "error", str(e)
    if isinstance(e, ValidationError):
        return BAD_CONFIG, "error", f"invalid settings: {validation_text(e)}"
    if isinstance(e, OSError):
        if is_out_of_space(e):
            return OUT_OF_SPACE, "out of space", f"{e}; free some and rerun: finished work is kept"
        return BAD_CONFIG, "error", str(e)
    if log.isEnabledFor(logging.DEBUG):
        log.exception("internal error")
    return (
        INTERNAL_ERROR,
        "internal error",
        f"{type(e).__name__}: {e} (a bug in ladder: please report it; --verbose shows the traceback)",
    )


def _run_app() -> object:
    """Run the command line; its exit code, or the code of a bad command line, an abort or an exit. Any other
    exception ends the process with one line (:func:`_failure`)."""
    try:
        return app(standalone_mode=False)
    except typer.TyperException as e:  # a bad command line (typer's click exceptions)
        if type(e).__name__ != "NoArgsIsHelpError":  # that one has shown the help already
            console.print(f"[red]error:[/red] {escape(usage_error_line(e))}", soft_wrap=True)
        return e.exit_code
    except typer.Abort:
        console.print("[yellow]aborted[/yellow]")
        return SCANS_FAILED
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else BAD_CONFIG)
    except Exception as e:
        _fail(*_failure(e))


def entrypoint() -> None:
    """``ladder``: exit 0, 1 when some scans failed, 2 on a bad config or input, 3 when the disk is full, 4 when a
    requested benchmark is empty, 70 on an internal error, 130 when interrupted. Every failure is one line on
    stderr, never a traceback."""
    code = _run_app()
    if code == INTERRUPTED:  # typer turns Ctrl-C into this exit code, silently
        console.print("[yellow]interrupted:[/yellow] finished work is kept; rerun the same command to resume")
    raise SystemExit(code or 0)
