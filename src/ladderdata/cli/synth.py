"""``ladder synth``: synthetic scans with exact ground truth."""

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ladderdata.cli.options import OptionGroup, RunOptions, WriteOptions, with_options
from ladderdata.cli.render import announce_plan, item_bars, progress_bars
from ladderdata.errors import LadderError
from ladderdata.extensions import examples
from ladderdata.layout import FramesLayout

if TYPE_CHECKING:
    from ladderdata.executor import Executor
    from ladderdata.synth.root import SynthConfig

log = logging.getLogger("ladderdata")
commands = typer.Typer()


class SynthOptions(OptionGroup):
    """What ``ladder synth`` writes: :class:`ladderdata.synth.root.SynthConfig` as options."""

    format: Annotated[str, typer.Option("--format", help="layout to write: scannet, scannetpp or arkitscenes")] = (
        "scannet"
    )
    scenes: Annotated[int, typer.Option(min=1, help="scans to write (every 4th goes to the val split)")] = 4
    seed: Annotated[int, typer.Option(help="which scenes: same seed, same bytes")] = 0
    frames: Annotated[int, typer.Option(min=4, max=20_000, help="frames per scan (ScanNet: 1,000-5,000)")] = 48
    objects: Annotated[
        int | None, typer.Option(min=1, max=60, help="furniture objects per scan, at least (default 10-30)")
    ] = None
    mesh_vertices: Annotated[
        int | None,
        typer.Option(
            min=1_000, max=3_000_000, help="mesh vertices per scan, about (_vh_clean_2: ~150000, _vh_clean: ~1300000)"
        ),
    ] = None
    posed_max_images: Annotated[
        int | None, typer.Option(min=1, help="posed layout: a random subset of this many frames, as mmdetection3d")
    ] = None
    frames_layout: Annotated[
        list[FramesLayout] | None,
        typer.Option(help="frames layouts to write: sens, export, posed (repeat for several; default sens)"),
    ] = None

    def synth_config(self) -> "SynthConfig":
        from ladderdata.synth.root import SYNTH_WRITERS, SynthConfig

        chosen = SYNTH_WRITERS.canonical(self.format)
        SYNTH_WRITERS.get_entry(chosen)  # an unknown name: a ConfigError listing the writers
        if chosen != "scannet" and (self.frames_layout or self.posed_max_images is not None):
            raise LadderError("--frames-layout and --posed-max-images are ScanNet's: use them with --format scannet")
        return SynthConfig(
            format=chosen,
            scenes=self.scenes,
            seed=self.seed,
            frames=self.frames,
            objects=self.objects,
            mesh_vertices=self.mesh_vertices,
            posed_max_images=self.posed_max_images,
            layouts=self.frames_layout or [FramesLayout.SENS],
        )


@commands.command(
    epilog=examples(
        "ladder synth --out demo/scannet",
        "ladder synth --out big --scenes 1 --frames 2000 --objects 50 --mesh-vertices 150000 --workers 2",
        "ladder synth --out mm --frames-layout sens --frames-layout posed --posed-max-images 300",
        "ladder synth --out synth-pp --format scannetpp",
    )
)
@with_options
def synth(
    out: Annotated[Path, typer.Option(help="root folder to write")],
    synth: SynthOptions,
    run: RunOptions,
    write: WriteOptions,
) -> None:
    """Write synthetic scans (ScanNet, ScanNet++ or ARKitScenes layout) with exact ground truth
    (synthetic_gt/<scan>.json). A root that already holds the same scans is left as it is."""
    from ladderdata.outputs import claim_output

    config = synth.synth_config()
    from ladderdata.pipeline.estimate import synth_lines

    announce_plan(synth_lines(config), write.dry_run)

    claim_output(out, "synthetic scans", synth_settings(config), overwrite=write.overwrite)
    with run.open_executor() as runner:
        run_synth(out, config, runner)


def synth_settings(config: "SynthConfig") -> dict[str, str]:
    """What decides a synthetic root's contents: a rerun with others replaces it."""
    return {k: str(v) for k, v in config.model_dump().items()}


def run_synth(out: Path, config: "SynthConfig", executor: "Executor") -> list[str]:
    from ladderdata.synth.root import synthesize, synthesized

    held = synthesized(out, config)
    if held is not None:
        log.info("%s already holds these %d synthetic scans: nothing to write", out, len(held))
        return held
    start = time.perf_counter()
    with progress_bars() as progress, item_bars(executor, progress, "frames written"):
        task = progress.add_task("synthesising scans", total=config.scenes)
        ids = synthesize(out, config, executor, progress=lambda _: progress.advance(task))
    layouts = ", ".join(config.layouts) if config.format == "scannet" else config.format
    log.info("wrote %d synthetic scans (%s) to %s in %.1f s", len(ids), layouts, out, time.perf_counter() - start)
    return ids
