"""What the camera-centric question types share (VLM-3R's VSTI-Bench family): a shown view's camera, an object's
box in a view's camera frame, how a question names a frame, and which objects a question about one frame may name.

Camera frame: x right, y down, z forward (the optical axis), metres; poses are the scan's aligned
camera-to-world matrices (z up). docs/tasks.md defines every quantity.
"""

from collections.abc import Iterator
from itertools import combinations

import numpy as np

from ladderdata.metadata.config import ViewRecord
from ladderdata.tasks.base import ObjectRef, Rejections, TaskGenerator
from ladderdata.tasks.context import SceneContext, Shown
from ladderdata.typed import FloatArray, Matrix4, Points3

NEAR_PLANE = 0.05
"""Metres: a box corner nearer the camera plane than this has no direction in the image (docs/geometry.md)."""


def cam_to_world(view: ViewRecord) -> Matrix4:
    """(4, 4) the view's aligned camera-to-world pose."""
    return np.asarray(view.cam_to_world, dtype=np.float64).reshape(4, 4)


def camera_centre(view: ViewRecord) -> FloatArray:
    """(3,) where the camera was, world metres (the pose's translation)."""
    return cam_to_world(view)[:3, 3].copy()


def to_camera(points: Points3, view: ViewRecord) -> Points3:
    """(N, 3) world points in the view's camera frame (x right, y down, z forward)."""
    pose = cam_to_world(view)
    return np.asarray((points - pose[:3, 3]) @ pose[:3, :3], dtype=np.float64)


def heading(view: ViewRecord) -> tuple[FloatArray, FloatArray]:
    """(2,) forward and (2,) left unit vectors in the floor plane: the optical axis with its vertical part
    removed, and that turned 90° counter-clockwise (z up). Raises for a camera looking straight up or down."""
    axis = cam_to_world(view)[:2, 2]
    norm = float(np.linalg.norm(axis))
    if norm < 1e-6:
        raise ValueError("the camera looks straight up or down: it has no heading")
    forward = axis / norm
    return forward, np.array([-forward[1], forward[0]])


def frame_description(shown: Shown, index: int, total: bool = True) -> str:
    """How a question names shown view ``index``: VSTI-Bench's ``frame k of n`` (1-based; ``frame k`` without
    ``total``, as its two-frame questions name the first frame), ``this image`` when one image is shown."""
    n = len(shown.views)
    if n == 1:
        return "this image"
    return f"frame {index + 1} of {n}" if total else f"frame {index + 1}"


def view_visibility(shown: Shown, index: int, object_id: int) -> float:
    """The object's visibility in shown view ``index`` (0 when not seen there)."""
    row = shown.per_view.get(object_id)
    return 0.0 if row is None else float(row[index])


def referable_in_view(
    task: TaskGenerator,
    ctx: SceneContext,
    shown: Shown,
    index: int,
    object_id: int,
    rejections: Rejections,
    min_visibility: float | None = None,
) -> bool:
    """Whether a question about shown view ``index`` may name the object: askable (noisy, rare and unknown labels
    never are), visible there at ``min_visibility`` (default: the filters') or more and clear of it by the
    visibility guard band (``guard_band:visibility``), and the only instance of its category present in that view
    (another one with visibility above ``presence_visibility`` makes the name ambiguous)."""
    reason = task.unaskable(ctx.objects[object_id])
    if reason is not None:
        rejections.counts[reason] += 1
        return False
    least = task.filters.min_visibility if min_visibility is None else min_visibility
    visibility = view_visibility(shown, index, object_id)
    if not task.reaches("visibility", visibility, least, task.filters.guard_bands.visibility, rejections):
        return False
    category = ctx.objects[object_id].category
    rivals = [
        other
        for other in shown.per_view
        if other != object_id
        and other in ctx.objects
        and ctx.objects[other].category == category
        and view_visibility(shown, index, other) > task.filters.presence_visibility
    ]
    return rejections.check("not_unique", not rivals)


def candidates_in_view(
    task: TaskGenerator,
    ctx: SceneContext,
    shown: Shown,
    index: int,
    rejections: Rejections,
    min_visibility: float | None = None,
) -> list[int]:
    """Ids of the objects a question about shown view ``index`` may name (:func:`referable_in_view`)."""
    seen = [i for i in shown.object_ids if i in ctx.objects and view_visibility(shown, index, i) > 0]
    return [i for i in seen if referable_in_view(task, ctx, shown, index, i, rejections, min_visibility)]


def views_with_candidates(
    task: TaskGenerator,
    ctx: SceneContext,
    shown: Shown,
    rng: np.random.Generator,
    rejections: Rejections,
    min_visibility: float | None = None,
) -> Iterator[tuple[int, list[int]]]:
    """Each shown view's index, in an order drawn from ``rng``, with the ids of the objects a question about that
    view may name (:func:`candidates_in_view`): the outer loop of the questions about one frame."""
    for index in rng.permutation(len(shown.views)):
        yield int(index), candidates_in_view(task, ctx, shown, int(index), rejections, min_visibility)


def frame_pairs(shown: Shown, rng: np.random.Generator) -> Iterator[tuple[int, int, FloatArray]]:
    """Every pair of shown views (start before end), in an order drawn from ``rng``, with the (3,) move of the
    camera centre from start to end (world metres): the loop of the questions about camera motion."""
    pairs = list(combinations(range(len(shown.views)), 2))
    for k in rng.permutation(len(pairs)):
        start, end = pairs[int(k)]
        yield start, end, camera_centre(shown.views[end]) - camera_centre(shown.views[start])


def view_ref(ctx: SceneContext, shown: Shown, index: int, object_id: int, role: str) -> ObjectRef:
    """The object as a question about shown view ``index`` refers to it: its visibility in that view, and its
    visible-part box when a single image is shown."""
    box = shown.in_view(object_id).bbox_2d if len(shown.views) == 1 else None
    return ObjectRef(
        object_id=object_id,
        category=ctx.objects[object_id].category,
        role=role,
        visibility=view_visibility(shown, index, object_id),
        bbox_2d=box,
    )


def box_in_camera(ctx: SceneContext, object_id: int, view: ViewRecord) -> Points3:
    """(8, 3) corners of the object's gravity-aligned box in the view's camera frame."""
    return to_camera(ctx.objects[object_id].box.corners(), view)


def camera_distance(ctx: SceneContext, object_id: int, view: ViewRecord) -> float:
    """Metres from the camera centre to the closest point of the object's surface (exact point-to-triangle)."""
    return ctx.point_distance(object_id, camera_centre(view))
