"""The ``ladder`` command line: :mod:`~ladderdata.cli.root` (the entry point, exit codes and the table of commands),
:mod:`~ladderdata.cli.options` (option groups shared by commands), :mod:`~ladderdata.cli.render` (progress bars
and tables) and one module per command family (``synth``, ``scans``, ``build``, ``quality``, ``evaluate``,
``demo``), each imported only when one of its commands runs."""

from ladderdata.cli.render import counted, model_label
from ladderdata.cli.root import (
    BAD_CONFIG,
    EMPTY_BENCHMARK,
    INTERNAL_ERROR,
    INTERRUPTED,
    OUT_OF_SPACE,
    SCANS_FAILED,
    app,
    console,
    entrypoint,
    main,
)

__all__ = [
    "BAD_CONFIG",
    "EMPTY_BENCHMARK",
    "INTERNAL_ERROR",
    "INTERRUPTED",
    "OUT_OF_SPACE",
    "SCANS_FAILED",
    "app",
    "console",
    "counted",
    "entrypoint",
    "main",
    "model_label",
]
