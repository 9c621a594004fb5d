"""Per-frame boxes of a multi-view or video row's objects, from the per-view metadata its build measured.

Shards store an object's 2D box for single images only; a multi-view set or a video shows each object in some
of its frames, at different places. The build's per-view metadata cache holds every object's visible box in
every view, so a card can draw, on every frame, the boxes of the objects the question names (in colour-image
pixels there, scaled to the stored images here).
"""

import logging
from functools import lru_cache
from pathlib import Path

from ladderdata.layout import DatasetLayout
from ladderdata.metadata.config import ViewRecord
from ladderdata.metadata.extract import metadata_path, read_views
from ladderdata.tasks import Modality, ObjectRef

log = logging.getLogger(__name__)


def metadata_caches(dataset: Path, given: list[Path] | None = None) -> list[Path]:
    """Where a dataset's per-view metadata may be: the folders ``given`` (``--metadata-cache``), the dataset's own
    cache, and its parent's (``build-bench`` keeps one cache for all its benchmarks); those that exist."""
    candidates = [*(given or []), DatasetLayout(dataset).metadata_cache, DatasetLayout(dataset.parent).metadata_cache]
    return [p for p in dict.fromkeys(candidates) if p.is_dir()]


@lru_cache(maxsize=16)
def _views(path: Path) -> dict[int, ViewRecord]:
    return {v.frame_id: v for v in read_views(path)}


def frame_boxes(
    scene_id: str, frame_ids: list[int], objects: list[ObjectRef], image_width: int, caches: list[Path]
) -> list[list[ObjectRef]] | None:
    """Per frame of ``frame_ids``, ``objects`` with their visible box in that frame (stored pixels: the metadata's
    colour-image pixels scaled to ``image_width``), ``bbox_2d`` None where the frame does not show the object;
    None when no cache holds every one of these frames."""
    for cache in caches:
        path = metadata_path(cache, scene_id)
        if not path.is_file():
            continue
        try:
            views = _views(path)
        except (OSError, ValueError) as e:
            log.warning("unreadable per-view metadata %s (%s): no per-frame boxes from it", path, e)
            continue
        if not all(f in views for f in frame_ids):
            continue  # measured at another frame stride
        out = []
        for f in frame_ids:
            view = views[f]
            scale = image_width / view.image_width
            seen = {o.object_id: o for o in view.objects if o.visibility > 0}
            out.append(
                [
                    o.model_copy(
                        update={
                            "bbox_2d": [v * scale for v in seen[o.object_id].bbox_2d] if o.object_id in seen else None
                        }
                    )
                    for o in objects
                ]
            )
        return out
    return None


def needs_frame_boxes(modality: Modality) -> bool:
    return modality is not Modality.SINGLE_IMAGE
