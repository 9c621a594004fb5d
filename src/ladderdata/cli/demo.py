"""``ladder demo``, the good practice end to end on synthetic scans, and ``ladder schemas``."""

import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from ladderdata.cli.build import build_settings, run_bench, run_build
from ladderdata.cli.options import BuildOptions, RunOptions, scan_source
from ladderdata.cli.quality import leakage_check
from ladderdata.cli.root import SCANS_FAILED
from ladderdata.cli.synth import run_synth, synth_settings
from ladderdata.extensions import examples

log = logging.getLogger("ladderdata")
commands = typer.Typer()

#: The demo's synthetic scans have 48 frames (ScanNet's: 1,000-5,000): every 2nd keeps 24 views, enough for
#: 16-frame videos and 8-view sets; ScanNet scans use the default, ``DEFAULT_FRAME_STRIDE`` (docs/scannet.md).
DEMO_FRAME_STRIDE = 2


@commands.command(epilog=examples("ladder demo", "ladder demo --out /tmp/demo --workers 1"))
def demo(
    out: Annotated[Path, typer.Option(help="folder for the demo scans and outputs")] = Path("demo"),
    workers: Annotated[int, typer.Option(min=1, help="local worker processes")] = 2,
) -> None:
    """The good practice on 4 synthetic scans: SPBench-SI/MV from the val scan (OUT/bench), training data from
    the train scans with the benchmark's rooms excluded (OUT/dataset), the leakage check, preview sheets.
    Both builds share one per-view metadata cache (OUT/metadata); a rerun resumes in seconds."""
    from ladderdata.bench.build import BENCHMARKS
    from ladderdata.outputs import claim_output
    from ladderdata.pipeline import BuildConfig
    from ladderdata.preview import render_preview
    from ladderdata.recipe import Recipe
    from ladderdata.synth.root import SynthConfig

    start = time.perf_counter()
    root, dataset, bench, metadata_cache = out / "scannet", out / "dataset", out / "bench", out / "metadata"
    source = scan_source(["scannet"], [root])
    recipe = Recipe.load("spatialladder-26k").with_frame_stride(DEMO_FRAME_STRIDE)
    config = BuildConfig(
        source=source, out=dataset, split="train", recipe=recipe, exclude=[bench], metadata_cache=metadata_cache
    )
    # each folder is claimed as its own command would claim it, before any work (docs/reliability.md)
    claim_output(root, "synthetic scans", synth_settings(SynthConfig()))
    claim_output(bench, "benchmarks", {"seed": 0, "frame stride": DEMO_FRAME_STRIDE})
    claim_output(metadata_cache, "metadata cache")
    claim_output(dataset, "dataset", build_settings(config))
    benchmark_build = BuildOptions(frame_stride=DEMO_FRAME_STRIDE, metadata_cache=metadata_cache)
    with RunOptions(workers=workers).open_executor() as runner:
        run_synth(root, SynthConfig(), runner)
        benchmarks = run_bench(source, bench, list(BENCHMARKS), "val", benchmark_build, runner)
        summary = run_build(config, runner)
    clean = leakage_check(dataset, bench)
    sheets = render_preview(dataset) + render_preview(bench)
    failed = summary.failed or any(s.failed for s in benchmarks.values())
    log.info(
        "demo in %.0f s: training data %s (%s rows from train scans %s); benchmarks %s (%s questions from val scans "
        "%s); leakage check %s; %d preview sheets, e.g. %s",
        time.perf_counter() - start,
        dataset,
        " + ".join(f"{n} {subset}" for subset, n in summary.rows.items()),
        ", ".join(summary.scans),
        bench,
        " + ".join(f"{sum(s.rows.values())} {name}" for name, s in benchmarks.items()),
        ", ".join(sorted({scan for s in benchmarks.values() for scan in s.scans})),
        "passed" if clean else "FAILED",
        len(sheets),
        sheets[0],
    )
    raise typer.Exit(SCANS_FAILED if failed or not clean else 0)


@commands.command(epilog=examples("ladder schemas", "ladder schemas --out /tmp/schemas"))
def schemas(out: Annotated[Path, typer.Option(help="folder for the JSON Schemas")] = Path("schemas")) -> None:
    """Regenerate the JSON Schemas of every record and config."""
    from ladderdata.schemas import write_schemas

    for path in write_schemas(out):
        log.info("wrote %s", path)
