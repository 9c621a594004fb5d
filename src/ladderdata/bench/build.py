"""``ladder build-bench``: SPBench-style benchmarks from validation scans only.

Each benchmark is a built-in recipe (``templates/recipes/spbench-si.yaml``, ``spbench-mv.yaml``,
``vsi-video.yaml``) with stricter filters than training, near-duplicates removed and answer letters
balanced, written as ``OUT/<benchmark>/`` with evaluator field names (``question_type``, ``ground_truth``...).
"""

from pathlib import Path

from ladderdata.errors import ConfigError
from ladderdata.layout import FramesLayout
from ladderdata.pipeline import BuildConfig, BuildSummary, build_dataset
from ladderdata.recipe import Recipe
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig

BENCHMARKS = ("spbench-si", "spbench-mv")
VIDEO_BENCHMARK = "vsi-video"


def bench_split(scans: Path, split: str, split_file: Path | None) -> str:
    """The split argument for the build: ``split_file`` if given, else ``split`` when its list exists."""
    if split_file is not None:
        if not split_file.is_file():
            raise ConfigError(f"--split-file {split_file} does not exist")
        return str(split_file)
    source = ScanNetSource(ScanNetSourceConfig(root=scans))
    if not source.split_file(split).is_file():
        raise ConfigError(
            f"no split list {source.split_file(split).name} in {scans}: copy ScanNet's scannetv2_{split}.txt there, "
            f"or pass --split-file FILE listing the {split} scan ids (one per line)"
        )
    return split


def build_benchmarks(
    scans: Path,
    out: Path,
    benchmarks: list[str],
    split: str = "val",
    split_file: Path | None = None,
    seed: int = 0,
    workers: int = 1,
    frames_layout: FramesLayout | None = None,
    limit_scenes: int | None = None,
    frame_stride: int | None = None,
) -> dict[str, BuildSummary]:
    """Build each benchmark into ``out/<name>``; returns their summaries."""
    chosen = bench_split(scans, split, split_file)
    summaries = {}
    for name in benchmarks:
        recipe = Recipe.load(name)
        if frame_stride is not None:
            recipe = recipe.model_copy(
                update={"metadata": recipe.metadata.model_copy(update={"frame_stride": frame_stride})}
            )
        config = BuildConfig(
            scans=scans,
            out=out / recipe.name,
            split=chosen,
            recipe=recipe,
            seed=seed,
            workers=workers,
            frames_layout=frames_layout,
            limit_scenes=limit_scenes,
            benchmark=True,
        )
        summaries[recipe.name] = build_dataset(config)
    return summaries
