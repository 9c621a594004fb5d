"""The floor under ``ladder``'s start-up: a bare typer app with ``ladder``'s two build commands, one option each
besides ``--scans``/``--out``, a one-line rich error for a wrong path and typer's rich help, run by
``bench_startup.py`` with the same arguments as ``ladder`` (typer 0.29 imports pydantic to convert options and rich
for its help: what no change to ladder can remove)."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(stderr=True)
app = typer.Typer(help="the floor: typer and rich, nothing of ladder", pretty_exceptions_enable=False)
Scans = Annotated[Path, typer.Option(help="root of scans")]
Out = Annotated[Path, typer.Option(help="output folder")]


@app.command("build-dataset")
def build_dataset(scans: Scans, out: Out, seed: Annotated[int, typer.Option(help="seed")] = 0) -> None:
    """Stop on a wrong --scans path, as ladder does."""
    if not scans.exists():
        console.print(f"[red]error:[/red] --scans {scans} does not exist", soft_wrap=True)
        raise SystemExit(2)


@app.command("build-bench")
def build_bench(scans: Scans, out: Out, split: Annotated[str, typer.Option(help="split")] = "val") -> None:
    """A second command, so that the app is a group as ``ladder`` is."""


if __name__ == "__main__":
    app()
