"""``ladder synth --format``: the writer of each layout, all fed by the scene generator of
:mod:`ladderdata.sources.synthetic`."""

from collections.abc import Callable
from pathlib import Path

from ladderdata.executor import Executor, Outcome
from ladderdata.sources.synthetic import SynthConfig, SynthFormat, synthesize_root
from ladderdata.sources.synthetic_arkitscenes import synthesize_arkitscenes_root
from ladderdata.sources.synthetic_scannetpp import synthesize_scannetpp_root

RootWriter = Callable[[Path, SynthConfig, Executor | None, Callable[[Outcome[str]], None] | None], list[str]]
WRITERS: dict[SynthFormat, RootWriter] = {
    SynthFormat.SCANNET: synthesize_root,
    SynthFormat.SCANNETPP: synthesize_scannetpp_root,
    SynthFormat.ARKITSCENES: synthesize_arkitscenes_root,
}


def synthesize(
    root: Path,
    config: SynthConfig,
    executor: Executor | None = None,
    progress: Callable[[Outcome[str]], None] | None = None,
) -> list[str]:
    """Write a synthetic root in ``config.format``'s layout; returns the scan ids."""
    return WRITERS[config.format](root, config, executor, progress)
