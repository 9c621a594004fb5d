"""Which views a question shows: single images, 8-view sets chosen for coverage and diversity, videos."""

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ladderdata.metadata.config import ViewRecord
from ladderdata.tasks.base import Modality, TaskGenerator
from ladderdata.tasks.context import Shown
from ladderdata.typed import BoolArray, FloatArray, Matrix4, Poses


class ModalityConfig(BaseModel):
    """How image sets are drawn from a scene's measured views."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    single_images: int = Field(40, ge=1, le=10_000, description="views per scene offered as single-image questions")
    multi_view_size: int = Field(8, ge=2, le=64, description="views per multi-view set")
    multi_view_sets: int = Field(6, ge=1, le=1000, description="multi-view sets per scene")
    diversity_weight: float = Field(
        2.0, ge=0, le=100, description="multi-view: weight of viewpoint novelty against newly covered objects"
    )
    coverage_visibility: float = Field(
        0.4, ge=0, le=1, description="multi-view: an object counts as covered above this"
    )
    video_frames: int = Field(
        16, ge=2, le=512, description="frames per video, evenly spaced over the scan's measured views"
    )


def viewpoint_distances(poses: Poses, ref: Matrix4) -> FloatArray:
    """(N,) distance from each of (N, 4, 4) camera-to-world poses to ``ref``: angle between optical axes
    (in units of pi) plus distance between camera centres (in units of 2 m)."""
    cos = np.clip(poses[:, :3, 2] @ ref[:3, 2], -1.0, 1.0)
    distances: FloatArray = np.arccos(cos) / np.pi + np.linalg.norm(poses[:, :3, 3] - ref[:3, 3], axis=1) / 2.0
    return distances


def select_single_images(
    views: list[ViewRecord], config: ModalityConfig, rng: np.random.Generator
) -> list[list[ViewRecord]]:
    usable = [v for v in views if v.objects]
    if not usable:
        return []
    picks = rng.choice(len(usable), size=min(config.single_images, len(usable)), replace=False)
    return [[usable[int(i)]] for i in sorted(picks)]


def select_multi_view(
    views: list[ViewRecord], config: ModalityConfig, rng: np.random.Generator
) -> list[list[ViewRecord]]:
    """Greedy sets: start at a random view, then add the view that covers the most new objects plus
    ``diversity_weight`` times its viewpoint distance to the views already chosen.

    Linear in the number of views: each step scores every view against the running coverage and the running
    minimum distance to the chosen views (no pairwise distance matrix)."""
    usable = [v for v in views if v.objects]
    k = config.multi_view_size
    if len(usable) < k:
        return []
    n = len(usable)
    poses = np.array([v.cam_to_world for v in usable], dtype=np.float64).reshape(n, 4, 4)
    covers = coverage_matrix(usable, config.coverage_visibility)
    sets: list[list[ViewRecord]] = []
    seen_sets: set[tuple[int, ...]] = set()
    for start in rng.permutation(n)[: config.multi_view_sets]:
        chosen = [int(start)]
        covered = covers[chosen[0]].copy()
        novelty = viewpoint_distances(poses, poses[chosen[0]])
        while len(chosen) < k:
            gain = (covers & ~covered).sum(axis=1)
            score = gain + config.diversity_weight * novelty
            score[chosen] = -np.inf
            best = int(np.argmax(score))
            chosen.append(best)
            covered |= covers[best]
            novelty = np.minimum(novelty, viewpoint_distances(poses, poses[best]))
        key = tuple(sorted(chosen))
        if key not in seen_sets:
            seen_sets.add(key)
            sets.append([usable[i] for i in key])
    return sets


def coverage_matrix(views: list[ViewRecord], threshold: float) -> BoolArray:
    """(V, O) True where view v shows object o (the O object ids seen anywhere, sorted) with visibility >= threshold."""
    ids = sorted({o.object_id for v in views for o in v.objects})
    column = {object_id: j for j, object_id in enumerate(ids)}
    rows = [(i, column[o.object_id]) for i, v in enumerate(views) for o in v.objects if o.visibility >= threshold]
    covers = np.zeros((len(views), len(ids)), dtype=bool)
    if rows:
        r, c = np.array(rows).T
        covers[r, c] = True
    return covers


def select_video(views: list[ViewRecord], config: ModalityConfig) -> list[list[ViewRecord]]:
    """One video per scan: ``video_frames`` views evenly spaced over the trajectory (all views if fewer)."""
    if len(views) < 2:
        return []
    ordered = sorted(views, key=lambda v: v.frame_id)
    idx = np.unique(np.round(np.linspace(0, len(ordered) - 1, min(config.video_frames, len(ordered)))).astype(int))
    return [[ordered[i] for i in idx]]


def needs_time(task: TaskGenerator, modality: Modality) -> bool:
    """Videos and temporal tasks are about when things are seen: scans whose frame times are unknown skip them."""
    return modality is Modality.VIDEO or task.temporal


def image_sets(
    views: list[ViewRecord], modality: Modality, config: ModalityConfig, rng: np.random.Generator, known: set[int]
) -> list[Shown]:
    """The image sets of one modality for one scene; ``known`` = ids of the scene's annotated objects."""
    if modality is Modality.SINGLE_IMAGE:
        sets = select_single_images(views, config, rng)
    elif modality is Modality.MULTI_VIEW:
        sets = select_multi_view(views, config, rng)
    else:
        sets = select_video(views, config)
    return [Shown(s, known) for s in sets]
