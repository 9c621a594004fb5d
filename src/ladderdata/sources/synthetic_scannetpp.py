"""Synthetic ScanNet++ scenes: the scenes of :mod:`ladderdata.sources.synthetic` written in ScanNet++'s layout
(``ladder synth --format scannetpp``), with the same exact ground truth.

Each scene gets a 10-hex-character id, its mesh in the gravity-aligned frame (ScanNet++ meshes are aligned, so
the ground truth's alignment is the identity), ``segments.json`` / ``segments_anno.json``, and iPhone frames:
``rgb/frame_NNNNNN.jpg`` at 1920x1440, ``depth/frame_NNNNNN.png`` at 256x192, anonymisation masks and
``pose_intrinsic_imu.json``. One frame per scene is anonymised over 30% of its area (unusable, listed with the
invalid frames in the ground truth) and one over 1% (kept); invalid poses are written as zero matrices.
"""

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from ladderdata.cache import atomic_path, claim_folder, write_bytes_atomic, write_text_atomic
from ladderdata.executor import Executor, Outcome
from ladderdata.geometry.camera import CameraIntrinsics
from ladderdata.seeding import rng_for, stable_seed
from ladderdata.sources.ply import write_ply
from ladderdata.sources.scannetpp import CLASSES_FILE, DATA_DIR, LABEL_MAP_FILE, SPLIT_FILES, SPLITS_DIR, ScanNetPPPaths
from ladderdata.sources.sens import encode_color_jpeg
from ladderdata.sources.synthetic import (
    CATALOGUE,
    GROUND_TRUTH_DIR,
    STRUCTURE,
    Renderer,
    SynthConfig,
    build_mesh,
    ground_truth,
    scene_and_edges,
    write_scans,
)

IPHONE_K = CameraIntrinsics(fx=1445.3, fy=1445.3, cx=961.7, cy=718.4, width=1920, height=1440)
DEPTH_SIZE = (256, 192)
IPHONE_FPS = 60.0
#: Raw labels the synthetic label map sends to another class, and labels left out of the vocabulary.
MAPPED = {"office chair": "chair", "coffee table": "table"}
UNLISTED = ("backpack",)
#: Masked fractions of the two anonymised frames of each scene: one over the default limit, one under it.
ANONYMISED = (0.3, 0.01)


def scene_id(seed: int, index: int) -> str:
    """A ScanNet++-style id (10 hex characters) for scene ``index`` of the root seeded with ``seed``."""
    return f"{stable_seed(seed, 'scannetpp', index):016x}"[:10]


def vocabulary() -> tuple[list[str], list[dict[str, str]]]:
    """The class list (``top100.txt``) and label-map rows (``map_benchmark.csv``) of synthetic roots."""
    labels = [*CATALOGUE, *STRUCTURE]
    classes = sorted({MAPPED.get(label, label) for label in labels} - set(UNLISTED))
    rows = [
        {"class": label, "count": "100", "semantic_map_to": MAPPED.get(label, ""), "instance_map_to": ""}
        for label in labels
    ]
    return classes, rows


def _mask(fraction: float) -> np.ndarray:
    """A 1920x1440 anonymisation mask blurring a left strip of ``fraction`` of the image (255 = untouched)."""
    mask = np.full((IPHONE_K.height, IPHONE_K.width), 255, dtype=np.uint8)
    mask[:, : round(fraction * IPHONE_K.width)] = 0
    return mask


def write_scannetpp_scan(root: Path, config: SynthConfig, index: int) -> str:
    """Write scene ``index`` under ``root/data/<scene_id>`` and its ground truth; returns the scene id."""
    scene, edge, structural_edge = scene_and_edges(config, index)
    scene = replace(scene, scan_id=scene_id(config.seed, index), alignment=np.eye(4))
    paths = ScanNetPPPaths(root / DATA_DIR / scene.scan_id)
    for folder in (paths.mesh.parent, paths.iphone_rgb, paths.iphone_depth, paths.iphone_masks):
        folder.mkdir(parents=True, exist_ok=True)
    sm = build_mesh(scene, rng_for(config.seed, scene.scan_id, "mesh"), edge, structural_edge)
    with atomic_path(paths.mesh) as tmp:
        write_ply(tmp, sm.mesh)
    write_text_atomic(paths.segments, json.dumps({"sceneId": scene.scan_id, "segIndices": sm.segments.tolist()}))
    groups = [
        {"id": o.object_id, "objectId": o.object_id, "segments": sm.object_segments[o.object_id], "label": o.label}
        for o in scene.objects
    ]
    write_text_atomic(paths.annotation, json.dumps({"sceneId": scene.scan_id, "segGroups": groups}))

    n = len(scene.poses)
    usable = [i for i in range(n) if i not in scene.invalid]
    picks = rng_for(config.seed, scene.scan_id, "anonymised").choice(usable, size=len(ANONYMISED), replace=False)
    masked = {int(f): fraction for f, fraction in zip(picks, ANONYMISED, strict=True)}
    depth_k = IPHONE_K.scaled_to(*DEPTH_SIZE)
    renderer = Renderer(sm.mesh, rng_for(config.seed, scene.scan_id, "sensor noise"))
    entries = {}
    for i, pose in enumerate(scene.poses):
        name = f"frame_{i:06d}"
        write_bytes_atomic(
            paths.iphone_frame(paths.iphone_rgb, i, ".jpg"),
            encode_color_jpeg(renderer.color(IPHONE_K, pose), config.jpeg_quality),
        )
        ok, png = cv2.imencode(".png", renderer.depth(depth_k, pose))
        ok_mask, mask = cv2.imencode(".png", _mask(masked.get(i, 0.0)))
        if not (ok and ok_mask):
            raise RuntimeError("PNG encoding failed")
        write_bytes_atomic(paths.iphone_frame(paths.iphone_depth, i, ".png"), png.tobytes())
        write_bytes_atomic(paths.iphone_frame(paths.iphone_masks, i, ".png"), mask.tobytes())
        stored = np.zeros((4, 4)) if i in scene.invalid else pose  # a zero matrix is no rigid transform
        entries[name] = {
            "timestamp": 1000.0 + i / IPHONE_FPS,
            "intrinsic": IPHONE_K.matrix.tolist(),
            "pose": stored.tolist(),
            "aligned_pose": stored.tolist(),
            "imu": {},
        }
    write_text_atomic(paths.iphone_poses, json.dumps(entries))
    unusable = sorted({*scene.invalid, *(f for f, fraction in masked.items() if fraction > 0.05)})
    gt = ground_truth(scene).model_copy(update={"invalid_frames": unusable})
    write_text_atomic(root / GROUND_TRUTH_DIR / f"{scene.scan_id}.json", gt.model_dump_json(indent=1))
    return scene.scan_id


def synthesize_scannetpp_root(
    root: Path,
    config: SynthConfig,
    executor: Executor | None = None,
    progress: Callable[[Outcome[str]], None] | None = None,
) -> list[str]:
    """Write a whole synthetic ScanNet++ root: scenes, split lists, class list and label map, ground truth."""
    with claim_folder(root):
        classes, rows = vocabulary()
        write_text_atomic(root / CLASSES_FILE, "".join(f"{c}\n" for c in classes))
        columns = ["class", "count", "semantic_map_to", "instance_map_to"]
        lines = [",".join(columns)] + [",".join(r[c] for c in columns) for r in rows]
        write_text_atomic(root / LABEL_MAP_FILE, "\n".join(lines) + "\n")
        ids = [scene_id(config.seed, i) for i in range(config.scenes)]
        val = [s for i, s in enumerate(ids) if i % config.val_every == config.val_every - 1]
        splits = {"train": [s for s in ids if s not in val], "val": val, "test": []}
        for split, listed in splits.items():
            write_text_atomic(root / SPLITS_DIR / f"{SPLIT_FILES[split]}.txt", "".join(f"{s}\n" for s in listed))
        return write_scans(root, config, write_scannetpp_scan, ids, executor, progress)
