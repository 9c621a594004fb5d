"""Synthetic ARKitScenes videos: the scenes of :mod:`ladderdata.synth.scene` written in the 3DOD layout
(``ladder synth --format arkitscenes``), with exact ground truth.

The whole scene is the ARKit mesh; only furniture of the 3DOD classes is annotated, with its declared box (the
tight box of its parts) as ``obbAligned``. Frames are 256x192 ``lowres_wide`` PNGs at 10 Hz with depth, one
``.pincam`` per frame (the focal length varies by up to 0.4% from frame to frame, as ARKit refines it) and
``lowres_wide.traj`` (world-to-camera, axis-angle); the invalid frames of the scene have no trajectory line.
Odd-numbered scenes are shot in portrait: their sensor images show the room turned a quarter turn (the reader
turns them upright). The ground truth lists the annotated objects, numbered in annotation order, then the
floor, as the reader numbers them.
"""

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from ladderdata.cache import atomic_path, claim_folder, write_bytes_atomic, write_text_atomic
from ladderdata.executor import Executor, Outcome
from ladderdata.geometry.camera import CameraIntrinsics, invert_pose, turn_camera
from ladderdata.seeding import rng_for, stable_seed
from ladderdata.sources.arkitscenes import FOLDS, VISIT_TABLES, VideoPaths
from ladderdata.sources.ply import write_ply
from ladderdata.synth.mesh import SceneMesh, build_mesh
from ladderdata.synth.render import FrameRenderer
from ladderdata.synth.root import SynthConfig, register_writer, scene_and_edges, write_scans
from ladderdata.synth.shapes import Cuboid
from ladderdata.synth.truth import GROUND_TRUTH_DIR, ground_truth
from ladderdata.typed import FloatArray, Poses

#: Upright intrinsics of a landscape ``lowres_wide`` frame (256x192).
LANDSCAPE_K = CameraIntrinsics(fx=212.4, fy=212.4, cx=127.6, cy=95.8, width=256, height=192)
FRAME_INTERVAL_S = 0.1
#: Relative focal-length change of frame ``i``: ``FOCAL_DRIFT * (i % 3)``.
FOCAL_DRIFT = 0.002
FIRST_TIMESTAMP_S = 6845.707
#: Synthetic labels -> the 3DOD class they are annotated as (other objects stay unannotated mesh).
ARKIT_LABELS = {
    "chair": "chair",
    "office chair": "chair",
    "table": "table",
    "coffee table": "table",
    "desk": "table",
    "sofa": "sofa",
    "bed": "bed",
    "cabinet": "cabinet",
    "dresser": "cabinet",
    "nightstand": "cabinet",
    "bookshelf": "shelf",
    "refrigerator": "refrigerator",
    "tv": "tv_monitor",
    "monitor": "tv_monitor",
}


def video_id(seed: int, index: int) -> str:
    """An ARKitScenes-style video id (8 digits) for scene ``index`` of the root seeded with ``seed``."""
    return str(40_000_000 + stable_seed(seed, "arkitscenes", index) % 10_000_000)


def is_portrait(index: int) -> bool:
    return index % 2 == 1


def annotation(boxes: list[tuple[str, Cuboid]]) -> dict[str, object]:
    """A 3DOD annotation file: per box its label, uid and ``obbAligned`` (one axis per row of
    ``normalizedAxes``)."""
    data = []
    for k, (label, box) in enumerate(boxes):
        data.append(
            {
                "label": label,
                "uid": f"synthetic-{k}",
                "segments": {
                    "obbAligned": {
                        "centroid": box.center.tolist(),
                        "axesLengths": box.size.tolist(),
                        "normalizedAxes": box.rotation.T.reshape(-1).tolist(),
                    }
                },
            }
        )
    return {"data": data, "skipped": False}


def trajectory_line(t: float, cam_to_world: FloatArray) -> str:
    world_to_camera = invert_pose(cam_to_world)
    rvec = cv2.Rodrigues(world_to_camera[:3, :3])[0].reshape(-1)
    values = [*rvec, *world_to_camera[:3, 3]]
    return f"{t:.6f} " + " ".join(f"{v:.9g}" for v in values)


def drifting_focal_length(k: CameraIntrinsics, frames: int) -> list[CameraIntrinsics]:
    """``k`` for each of ``frames`` frames, its focal lengths scaled by ``1 + FOCAL_DRIFT * (i % 3)``."""
    return [
        k.model_copy(update={"fx": k.fx * (1 + FOCAL_DRIFT * (i % 3)), "fy": k.fy * (1 + FOCAL_DRIFT * (i % 3))})
        for i in range(frames)
    ]


def write_video(
    video_dir: Path,
    mesh: SceneMesh,
    boxes: list[tuple[str, Cuboid]],
    upright_ks: list[CameraIntrinsics],
    upright_poses: Poses,
    turns: int,
    missing_poses: list[int],
    seed: int,
) -> None:
    """Write one video: mesh, annotation, and frames shot by a sensor turned ``turns`` quarter turns
    counter-clockwise from the upright camera ``upright_ks[i]`` at ``upright_poses[i]`` (the reader turns them
    back). ``missing_poses`` frames get no trajectory line."""
    frames = video_dir / f"{video_dir.name}_frames"
    for folder in ("lowres_wide", "lowres_depth", "lowres_wide_intrinsics"):
        (frames / folder).mkdir(parents=True, exist_ok=True)
    paths = VideoPaths(video_dir)
    with atomic_path(paths.mesh) as tmp:
        write_ply(tmp, mesh.mesh)
    write_text_atomic(paths.annotation, json.dumps(annotation(boxes)))
    renderer = FrameRenderer(mesh, rng_for(seed, video_dir.name, "sensor noise"))
    lines = []
    for i, (upright_k, pose) in enumerate(zip(upright_ks, upright_poses, strict=True)):
        sensor_k, sensor_pose = turn_camera(upright_k, pose, -turns)
        t = FIRST_TIMESTAMP_S + i * FRAME_INTERVAL_S
        stamp = f"{t:.3f}"
        colour, depth = renderer.frame(sensor_k, sensor_k, sensor_pose)  # one sensor: both images at its size
        ok, png = cv2.imencode(".png", colour)  # BGR
        ok_d, depth_png = cv2.imencode(".png", depth)
        if not (ok and ok_d):
            raise RuntimeError("PNG encoding failed")
        write_bytes_atomic(paths.frame_file(paths.color, stamp, ".png"), png.tobytes())
        write_bytes_atomic(paths.frame_file(paths.depth, stamp, ".png"), depth_png.tobytes())
        k = sensor_k
        pincam = f"{k.width} {k.height} {k.fx:.6f} {k.fy:.6f} {k.cx:.6f} {k.cy:.6f}\n"
        write_text_atomic(paths.frame_file(paths.intrinsics, stamp, ".pincam"), pincam)
        if i not in missing_poses:
            lines.append(trajectory_line(t, sensor_pose))
    write_text_atomic(paths.trajectory, "\n".join(lines) + "\n")


def write_arkitscenes_scan(root: Path, config: SynthConfig, index: int) -> str:
    """Write scene ``index`` as ``root/<fold>/<video_id>`` and its ground truth; returns the video id."""
    scene, edge, structural_edge = scene_and_edges(config, index)
    vid = video_id(config.seed, index)
    scene = replace(scene, scan_id=vid, alignment=np.eye(4))
    sm = build_mesh(scene, rng_for(config.seed, vid, "mesh"), edge, structural_edge)
    annotated = [o for o in scene.objects if o.label in ARKIT_LABELS and o.box is not None]
    boxes = [(ARKIT_LABELS[o.label], o.box) for o in annotated if o.box is not None]
    upright_k = LANDSCAPE_K
    turns = 0
    if is_portrait(index):
        upright_k, turns = turn_camera(LANDSCAPE_K, np.eye(4), 1)[0], 1
    fold = FOLDS["val"] if index % config.val_every == config.val_every - 1 else FOLDS["train"]
    upright_ks = drifting_focal_length(upright_k, len(scene.poses))
    write_video(root / fold / vid, sm, boxes, upright_ks, scene.poses, turns, scene.invalid, config.seed)
    floor = next(o for o in scene.objects if o.label == "floor")
    renumbered = [replace(o, object_id=k, label=ARKIT_LABELS[o.label]) for k, o in enumerate(annotated)]
    truth_scene = replace(scene, objects=[*renumbered, replace(floor, object_id=len(annotated))])
    gt = ground_truth(truth_scene)
    write_text_atomic(root / GROUND_TRUTH_DIR / f"{vid}.json", gt.model_dump_json(indent=1))
    return vid


def visits(config: SynthConfig) -> list[tuple[str, str, str]]:
    """(video id, visit id, fold) per scene: training videos two to a visit, each validation video its own."""
    rows, train_seen = [], 0
    for i in range(config.scenes):
        val = i % config.val_every == config.val_every - 1
        visit = 500_000 + (config.scenes + i if val else train_seen // 2)
        train_seen += 0 if val else 1
        rows.append((video_id(config.seed, i), str(visit), FOLDS["val"] if val else FOLDS["train"]))
    return rows


@register_writer("arkitscenes")
def synthesize_arkitscenes_root(
    root: Path,
    config: SynthConfig,
    executor: Executor | None = None,
    progress: Callable[[Outcome[str]], None] | None = None,
) -> list[str]:
    """Write a whole synthetic 3DOD root: Training/ and Validation/ videos, the visits table, ground truth."""
    with claim_folder(root):
        rows = visits(config)
        table = "video_id,visit_id,fold\n" + "".join(f"{v},{visit},{fold}\n" for v, visit, fold in rows)
        write_text_atomic(root / VISIT_TABLES[0], table)
        return write_scans(root, config, write_arkitscenes_scan, [r[0] for r in rows], executor, progress)
