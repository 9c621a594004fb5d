"""A synthetic root: how ``ladder synth`` is configured (:class:`SynthConfig`), the registry of writers, one per
scan source whose layout it can write (:data:`SYNTH_WRITERS`), and the stamp that lets a rerun keep a finished
root.

A writer for a new source is one module under ``ladderdata/synth/`` that decorates its root writer with
``@register_writer("<source name>")`` and one import line in ``ladderdata/synth/__init__.py``; third-party writers
register from the ``ladderdata.synth_writers`` entry-point group.
"""

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ladderdata.cache import write_text_atomic
from ladderdata.errors import LadderError
from ladderdata.executor import Executor, LocalExecutor, Outcome
from ladderdata.layout import FramesLayout
from ladderdata.registry import Registry, UnknownNameError
from ladderdata.sources.base import SOURCES
from ladderdata.synth.mesh import DEMO_EDGE, DEMO_STRUCTURAL_EDGE, edge_for_vertices
from ladderdata.synth.scene import MAX_OBJECTS, SyntheticScene, generate_scene
from ladderdata.synth.truth import GROUND_TRUTH_DIR

SYNTH_STAMP = ".synth-stamp.json"
"""In a synthetic root: the config and scans of a finished root (:class:`SynthStamp`)."""


class SynthConfig(BaseModel):
    """How ``ladder synth`` builds synthetic roots. The defaults make small demo scans; ``frames``,
    ``objects`` and ``mesh_vertices`` reach ScanNet's sizes (2,000-5,000 frames, 50+ objects, a
    ``_vh_clean_2`` mesh of 100-300k vertices or a ``_vh_clean`` one of ~1.3M)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    format: str = "scannet"
    """The scan source whose layout the scans are written in: a name of :data:`SYNTH_WRITERS` (``layouts`` and
    ``posed_max_images`` are ScanNet's, ``iphone_video`` ScanNet++'s)."""
    scenes: int = Field(4, ge=1, le=100_000)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    frames: int = Field(48, ge=4, le=20_000, description="frames per scan")
    objects: int | None = Field(
        None, ge=1, le=MAX_OBJECTS, description="furniture objects per scan, at least (None: 10-30 by scene type)"
    )
    mesh_vertices: int | None = Field(
        None,
        ge=1_000,
        le=3_000_000,
        description="mesh vertices per scan, about (None: a coarse demo mesh; ScanNet: ~150k, hi-res ~1.3M)",
    )
    posed_max_images: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="posed_images layout: keep this many frames, a random subset numbered 0..k-1 as mmdetection3d's "
        "extract_posed_images writes them (None: every frame, numbered by frame)",
    )
    layouts: list[FramesLayout] = Field(default_factory=lambda: [FramesLayout.SENS])
    iphone_video: Literal["mkv", "mp4"] | None = None
    """ScanNet++ layout: write the iPhone colour frames and anonymisation masks as a download holds them, the
    videos ``iphone/rgb.<ext>`` (``mkv``: ScanNet++ v2 releases, ``mp4``: earlier ones) and ``rgb_mask.mkv``;
    None: as the folders the toolkit extracts from them (``rgb/``, ``rgb_masks/``)."""
    invalid_poses: int = Field(2, ge=0, le=100_000, description="frames per scan whose pose is written as -inf")
    val_every: int = Field(4, ge=2, le=100_000, description="every n-th scene goes to the val split")
    jpeg_quality: int = Field(90, ge=50, le=100)

    @field_validator("format")
    @classmethod
    def _a_registered_writer(cls, name: str) -> str:
        try:
            SYNTH_WRITERS.get_entry(name)
        except UnknownNameError as e:
            raise ValueError(str(e)) from None
        return SYNTH_WRITERS.canonical(name)


class RootWriter(Protocol):
    """Writes a whole synthetic root in one source's layout (scans, the source's side files, ground truth);
    returns the scan ids."""

    def __call__(
        self,
        root: Path,
        config: "SynthConfig",
        executor: Executor | None = None,
        progress: Callable[[Outcome[str]], None] | None = None,
    ) -> list[str]: ...


SYNTH_WRITERS: Registry[RootWriter] = Registry("synthetic writer", entry_point_group="ladderdata.synth_writers")
"""Scan-source name -> the writer of synthetic roots in that source's layout (``ladder synth --format NAME``)."""


def register_writer(source: str) -> Callable[[RootWriter], RootWriter]:
    """Decorator: ``writer`` writes synthetic roots that the scan source registered as ``source`` reads."""

    def add(writer: RootWriter) -> RootWriter:
        SOURCES.get_entry(source)  # a writer is for a source that reads its scans: an unknown name raises
        SYNTH_WRITERS.add(source, writer)
        return writer

    return add


def synthesize(
    root: Path,
    config: "SynthConfig",
    executor: Executor | None = None,
    progress: Callable[[Outcome[str]], None] | None = None,
) -> list[str]:
    """Write a synthetic root in ``config.format``'s layout; returns the scan ids."""
    return SYNTH_WRITERS.get_entry(config.format)(root, config, executor, progress)


def scene_and_edges(config: SynthConfig, index: int) -> tuple[SyntheticScene, float, float]:
    """Scene ``index`` of the root ``config`` describes, with the grid edges of its furniture and its structure."""
    scene = generate_scene(index, config.seed, config.frames, config.invalid_poses, config.objects)
    edge, structural_edge = DEMO_EDGE, DEMO_STRUCTURAL_EDGE
    if config.mesh_vertices is not None:
        edge = structural_edge = edge_for_vertices(scene, config.mesh_vertices)
    return scene, edge, structural_edge


class SynthStamp(BaseModel):
    """What a finished synthetic root holds: ``SYNTH_STAMP``, written after its last scan."""

    config: SynthConfig
    scans: list[str]


def synthesized(root: Path, config: SynthConfig) -> list[str] | None:
    """The scan ids of ``root`` when it already holds every scan ``config`` describes (its stamp records this very
    config and every scan's ground truth is there); None when something is still to write."""
    stamp = root / SYNTH_STAMP
    try:
        held = SynthStamp.model_validate_json(stamp.read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None
    done = held.config == config and all((root / GROUND_TRUTH_DIR / f"{s}.json").is_file() for s in held.scans)
    return held.scans if done else None


def write_scans(
    root: Path,
    config: SynthConfig,
    write_scan: Callable[[Path, SynthConfig, int], str],
    ids: list[str],
    executor: Executor | None = None,
    progress: Callable[[Outcome[str]], None] | None = None,
) -> list[str]:
    """Write scenes 0..scenes-1 with ``write_scan(root, config, index)`` (one executor item each, named ``ids``);
    a ``LadderError`` when any of them fails. A root that already holds them (:func:`synthesized`) keeps them:
    a rerun writes no scan."""
    if synthesized(root, config) == ids:
        return ids
    stamp = root / SYNTH_STAMP
    stamp.unlink(missing_ok=True)
    outcomes = (executor or LocalExecutor()).map(
        partial(write_scan, root, config), list(range(config.scenes)), names=ids, on_done=progress
    )
    failed = [o.error for o in outcomes if not o.ok]
    if failed:
        raise LadderError(f"{len(failed)} synthetic scans could not be written: {'; '.join(map(str, failed[:3]))}")
    write_text_atomic(stamp, SynthStamp(config=config, scans=ids).model_dump_json())
    return ids
