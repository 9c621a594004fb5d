"""``ladder export``: a built benchmark in the layout, file names, fields and media an official evaluator reads.

One module per layout, registered by name (:mod:`ladderdata.eval.export.base`): ``spatialladder`` (SpatialLadder's
``eval_spld``) and ``vsibench`` (lmms-eval's ``vsibench`` task); importing this package registers them, and a
third-party layout comes in through the ``ladder.export_layouts`` entry-point group. :func:`export_benchmark`
(:mod:`ladderdata.eval.export.run`) writes any of them.
"""

from ladderdata.eval.export import spatialladder, vsibench
from ladderdata.eval.export.base import (
    EXPORT_LAYOUTS,
    ExportLayout,
    ExportOptions,
    ParquetNames,
    get_layout,
    register_layout,
)
from ladderdata.eval.export.files import ExportWriter, encode_mp4, write_atomic
from ladderdata.eval.export.run import export_benchmark
from ladderdata.io.exported import EXPORT_MANIFEST, ExportedBenchmark, ExportedVideo

__all__ = [
    "EXPORT_LAYOUTS",
    "EXPORT_MANIFEST",
    "ExportLayout",
    "ExportOptions",
    "ExportWriter",
    "ExportedBenchmark",
    "ExportedVideo",
    "ParquetNames",
    "encode_mp4",
    "export_benchmark",
    "get_layout",
    "register_layout",
    "spatialladder",
    "vsibench",
    "write_atomic",
]
