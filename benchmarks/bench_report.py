"""CPU time of report.html on a built dataset: reruns the build (every scan and shard cached, so the rerun rewrites
only the card, stats and report) and times the report alone, with and without charts.

    python benchmarks/bench_report.py DATASET   # a build-dataset --out folder
"""

import argparse
import json
import time
from pathlib import Path

import ladderdata.pipeline.run as run
from ladderdata.io.card import DatasetReport
from ladderdata.pipeline import BuildConfig, build_dataset
from ladderdata.report import html


def no_charts() -> bool:
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    manifest = json.loads((args.dataset / "manifest.json").read_text())
    inputs = manifest["inputs"]
    config = BuildConfig.model_validate(
        {
            "source": inputs["source"],
            "out": args.dataset,
            "split": inputs["split"],
            "recipe": manifest["recipe"],
            "seed": manifest["seed"],
            "limit_scenes": inputs["limit_scenes"],
        }
    )
    seconds: dict[bool, list[float]] = {True: [], False: []}
    original = html.write_report

    def timed(out: Path, report: DatasetReport, caches: list[Path]) -> Path:
        start = time.process_time()
        path = original(out, report, caches)
        seconds[html.charts_available()].append(time.process_time() - start)
        return path

    run.write_report = timed  # type: ignore[attr-defined]  # the build calls it by this name
    available = html.charts_available
    for _ in range(args.repeat):  # interleaved
        for charts in (True, False):
            html.charts_available = available if charts else no_charts
            build_dataset(config)
    for charts, values in seconds.items():
        if values:
            print(f"charts={charts}: median {sorted(values)[len(values) // 2]:.2f} CPU s over {len(values)} runs")
    print(f"report.html: {(args.dataset / 'report.html').stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
