"""Synthetic ScanNet++ scenes: the scenes of :mod:`ladderdata.synth.scene` written in ScanNet++'s layout
(``ladder synth --format scannetpp``), with the same exact ground truth.

Each scene gets a 10-hex-character id, its mesh in the gravity-aligned frame (ScanNet++ meshes are aligned, so
the ground truth's alignment is the identity), ``segments.json`` / ``segments_anno.json``, and iPhone frames:
``rgb/frame_NNNNNN.jpg`` at 1920x1440 (or the ``rgb.mkv`` / ``rgb.mp4`` video, ``SynthConfig.iphone_video``),
``depth/frame_NNNNNN.png`` at 256x192, anonymisation masks (``rgb_masks/`` or ``rgb_mask.mkv``) and
``pose_intrinsic_imu.json``. One frame per scene is anonymised over 30% of its area (unusable, listed with the
invalid frames in the ground truth) and one over 1% (kept); invalid poses are written as zero matrices.

DSLR photos: the usable frames :func:`dslr_frames` picks are also photographed by two pinhole cameras
(:data:`DSLR_CAMERAS`, alternating) as ``dslr/resized_images/DSC<frame>.JPG`` with masks in
``dslr/resized_anon_masks/``, described by a COLMAP text model ``dslr/colmap/cameras.txt`` + ``images.txt``
(world-to-camera quaternions computed with scipy, principal points in COLMAP's pixel convention).
"""

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from ladderdata.cache import atomic_path, claim_folder, write_bytes_atomic, write_text_atomic
from ladderdata.executor import Executor, Outcome
from ladderdata.geometry.camera import CameraIntrinsics, invert_pose
from ladderdata.seeding import rng_for, stable_seed
from ladderdata.sources.colmap import PIXEL_CENTRE
from ladderdata.sources.ply import write_ply
from ladderdata.sources.scannetpp import CLASSES_FILE, DATA_DIR, LABEL_MAP_FILE, SPLIT_FILES, SPLITS_DIR
from ladderdata.sources.scannetpp_frames import IPHONE_FPS, ScanNetPPPaths
from ladderdata.synth.catalogue import CATALOGUE, STRUCTURE
from ladderdata.synth.mesh import build_mesh
from ladderdata.synth.render import FrameRenderer, encode_jpeg
from ladderdata.synth.root import SynthConfig, register_writer, scene_and_edges, write_scans
from ladderdata.synth.scene import SyntheticScene
from ladderdata.synth.truth import GROUND_TRUTH_DIR, ground_truth

IPHONE_K = CameraIntrinsics(fx=1445.3, fy=1445.3, cx=961.7, cy=718.4, width=1920, height=1440)
DEPTH_SIZE = (256, 192)
#: The two DSLR cameras of :func:`write_dslr` (COLMAP camera ids 1 and 2): one size, two focal lengths.
DSLR_CAMERAS = (
    CameraIntrinsics(fx=980.0, fy=975.0, cx=601.3, cy=398.2, width=1200, height=800),
    CameraIntrinsics(fx=1150.0, fy=1150.0, cx=599.5, cy=399.5, width=1200, height=800),
)
DSLR_PHOTOS = 3
#: Video codecs: colour as MPEG-4 part 2 (what this OpenCV writes in both containers); masks losslessly (FFV1),
#: so their 0/255 values survive.
COLOR_FOURCC = "mp4v"
MASK_FOURCC = "FFV1"
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


def dslr_frames(scene: SyntheticScene) -> list[int]:
    """The frames whose poses the DSLR photos are taken from: every other usable frame, the first ones."""
    return [i for i in range(len(scene.poses)) if i not in scene.invalid][::2][:DSLR_PHOTOS]


def dslr_photo_name(frame: int) -> str:
    return f"DSC{frame:05d}.JPG"


def colmap_camera_line(camera_id: int, k: CameraIntrinsics) -> str:
    """A ``cameras.txt`` line: SIMPLE_PINHOLE (f cx cy) when both focal lengths are one, else PINHOLE (fx fy cx
    cy); COLMAP puts the upper-left pixel's centre at (0.5, 0.5)."""
    cx, cy = k.cx + PIXEL_CENTRE, k.cy + PIXEL_CENTRE
    if k.fx == k.fy:
        return f"{camera_id} SIMPLE_PINHOLE {k.width} {k.height} {k.fx!r} {cx!r} {cy!r}"
    return f"{camera_id} PINHOLE {k.width} {k.height} {k.fx!r} {k.fy!r} {cx!r} {cy!r}"


def colmap_image_lines(image_id: int, camera_id: int, cam_to_world: np.ndarray, name: str) -> list[str]:
    """The two ``images.txt`` lines of an image: its world-to-camera pose (QW QX QY QZ TX TY TZ), and its 2D
    points (none for even ids: an empty line, as COLMAP writes for an image that observes no 3D point)."""
    world_to_camera = invert_pose(cam_to_world)
    x, y, z, w = Rotation.from_matrix(world_to_camera[:3, :3]).as_quat()  # scipy's order: scalar last
    t = world_to_camera[:3, 3]
    values = " ".join(repr(float(v)) for v in (w, x, y, z, *t))
    points = "" if image_id % 2 == 0 else "812.5 301.25 -1 40.0 60.5 -1"
    return [f"{image_id} {values} {camera_id} {name}", points]


def write_dslr(paths: ScanNetPPPaths, renderer: FrameRenderer, scene: SyntheticScene, jpeg_quality: int) -> None:
    """DSLR photos of :func:`dslr_frames`, their masks (untouched) and their COLMAP text model."""
    cameras = ["# Camera list with one line of data per camera:", "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]"]
    cameras += [colmap_camera_line(n, k) for n, k in enumerate(DSLR_CAMERAS, start=1)]
    images = [
        "# Image list with two lines of data per image:",
        "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
        "#   POINTS2D[] as (X, Y, POINT3D_ID)",
    ]
    ok, mask = cv2.imencode(".png", np.full((DSLR_CAMERAS[0].height, DSLR_CAMERAS[0].width), 255, np.uint8))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    for k, frame in enumerate(dslr_frames(scene)):
        camera_id = 1 + k % len(DSLR_CAMERAS)
        name = dslr_photo_name(frame)
        pose = scene.poses[frame]
        photo = renderer.color(DSLR_CAMERAS[camera_id - 1], pose)
        write_bytes_atomic(paths.dslr_resized_images / name, encode_jpeg(photo, jpeg_quality))
        write_bytes_atomic(paths.dslr_resized_masks / f"{Path(name).stem}.png", mask.tobytes())
        images += colmap_image_lines(10 + k, camera_id, pose, name)
    write_text_atomic(paths.dslr_colmap_cameras, "\n".join(cameras) + "\n")
    write_text_atomic(paths.dslr_colmap_images, "\n".join(images) + "\n")


def write_video(path: Path, frames: list[np.ndarray], fourcc: str, fps: float) -> None:
    """``frames`` (BGR, or grey for masks) as a video at ``fps``, written beside ``path`` and renamed into place."""
    height, width = frames[0].shape[:2]
    with atomic_path(path, keep_suffix=True) as tmp:  # the suffix chooses the container
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*fourcc), fps, (width, height), True)
        if not writer.isOpened():
            raise RuntimeError(f"this OpenCV build cannot write {fourcc} video to {path.suffix}")
        for frame in frames:
            writer.write(frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        writer.release()


def write_scannetpp_scan(root: Path, config: SynthConfig, index: int) -> str:
    """Write scene ``index`` under ``root/data/<scene_id>`` and its ground truth; returns the scene id."""
    scene, edge, structural_edge = scene_and_edges(config, index)
    scene = replace(scene, scan_id=scene_id(config.seed, index), alignment=np.eye(4))
    paths = ScanNetPPPaths(root / DATA_DIR / scene.scan_id)
    for folder in (paths.mesh.parent, paths.iphone_depth):
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
    renderer = FrameRenderer(sm, rng_for(config.seed, scene.scan_id, "sensor noise"))
    entries = {}
    colors: list[np.ndarray] = []  # BGR, as the renderer draws them and the video writer takes them
    masks: list[np.ndarray] = []
    for i, pose in enumerate(scene.poses):
        name = f"frame_{i:06d}"
        color, mask = renderer.color(IPHONE_K, pose), _mask(masked.get(i, 0.0))
        if config.iphone_video is None:
            write_bytes_atomic(paths.iphone_frame(paths.iphone_rgb, i, ".jpg"), encode_jpeg(color, config.jpeg_quality))
            ok_mask, png_mask = cv2.imencode(".png", mask)
            if not ok_mask:
                raise RuntimeError("PNG encoding failed")
            write_bytes_atomic(paths.iphone_frame(paths.iphone_masks, i, ".png"), png_mask.tobytes())
        else:
            colors.append(color)
            masks.append(mask)
        ok, png = cv2.imencode(".png", renderer.depth(depth_k, pose))
        if not ok:
            raise RuntimeError("PNG encoding failed")
        write_bytes_atomic(paths.iphone_frame(paths.iphone_depth, i, ".png"), png.tobytes())
        stored = np.zeros((4, 4)) if i in scene.invalid else pose  # a zero matrix is no rigid transform
        entries[name] = {
            "timestamp": 1000.0 + i / IPHONE_FPS,
            "intrinsic": IPHONE_K.matrix.tolist(),
            "pose": stored.tolist(),
            "aligned_pose": stored.tolist(),
            "imu": {},
        }
    write_text_atomic(paths.iphone_poses, json.dumps(entries))
    if config.iphone_video is not None:
        video = next(p for p in paths.iphone_videos if p.suffix == f".{config.iphone_video}")
        write_video(video, colors, COLOR_FOURCC, IPHONE_FPS)
        write_video(paths.iphone_mask_video, masks, MASK_FOURCC, IPHONE_FPS)
    write_dslr(paths, renderer, scene, config.jpeg_quality)
    unusable = sorted({*scene.invalid, *(f for f, fraction in masked.items() if fraction > 0.05)})
    gt = ground_truth(scene).model_copy(update={"invalid_frames": unusable})
    write_text_atomic(root / GROUND_TRUTH_DIR / f"{scene.scan_id}.json", gt.model_dump_json(indent=1))
    return scene.scan_id


@register_writer("scannetpp")
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
