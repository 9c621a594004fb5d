"""Synthetic scans in ScanNet's layout (``ladder synth --format scannet``): the scenes of
:mod:`ladderdata.synth.scene`, rendered by :mod:`ladderdata.synth.render`, written as ScanNet's files (mesh,
segments, aggregation, ``.txt`` meta, frames as ``.sens`` and/or the exported and posed-image folders), with the
label table and split lists of a ScanNet root and ``synthetic_gt/<scan>.json`` (:mod:`ladderdata.synth.truth`).
"""

import json
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ladderdata.cache import atomic_path, claim_folder, write_bytes_atomic, write_text_atomic
from ladderdata.executor import Executor, Outcome
from ladderdata.executor.progress import report_progress
from ladderdata.geometry.camera import CameraIntrinsics, invert_pose
from ladderdata.layout import LABEL_TABLE, SPLIT_LIST, FramesLayout, ScanPaths
from ladderdata.seeding import rng_for
from ladderdata.sources.ply import TriangleMesh, write_ply
from ladderdata.sources.sens import SensFrameData, encode_depth_zlib, write_sens
from ladderdata.synth.catalogue import CATALOGUE, STRUCTURE
from ladderdata.synth.mesh import DEMO_EDGE, DEMO_STRUCTURAL_EDGE, SceneMesh, build_mesh
from ladderdata.synth.render import FrameRenderer, encode_jpeg
from ladderdata.synth.root import SynthConfig, register_writer, scene_and_edges, write_scans
from ladderdata.synth.scene import SyntheticScene, scan_id_for
from ladderdata.synth.truth import GROUND_TRUTH_DIR, SyntheticGroundTruth, ground_truth
from ladderdata.typed import DepthMM, Matrix4, Poses

COLOR_K = CameraIntrinsics(fx=1169.6, fy=1167.1, cx=646.3, cy=489.9, width=1296, height=968)
DEPTH_K = CameraIntrinsics(fx=577.6, fy=578.7, cx=318.9, cy=242.7, width=640, height=480)
FPS = 30


SYNTHETIC_LABEL_COUNT = 1000
"""``count`` of every synthetic label-table row: the synthetic categories are all common ScanNet ones."""


def label_table_rows() -> list[dict[str, str]]:
    """Label-table rows (ScanNet's columns) for every label the synthetic scenes use."""
    rows = []
    entries = [(c.label, c.nyu40_id, c.nyu40_class) for c in CATALOGUE.values()]
    entries += [(name, nid, ncls) for name, (nid, ncls, _) in STRUCTURE.items()]
    for i, (label, nid, ncls) in enumerate(entries, start=1):
        rows.append(
            {
                "id": str(i),
                "raw_category": label,
                "category": label,
                "count": str(SYNTHETIC_LABEL_COUNT),
                "nyu40id": str(nid),
                "nyu40class": ncls,
            }
        )
    return rows


LABEL_TABLE_COLUMNS = [
    "id",
    "raw_category",
    "category",
    "count",
    "nyu40id",
    "eigen13id",
    "nyuClass",
    "nyu40class",
    "eigen13class",
    "ModelNet40",
    "ModelNet10",
    "ShapeNetCore55",
    "synsetoffset",
    "wnsynsetid",
    "wnsynsetkey",
    "mpcat40",
    "mpcat40index",
]


def _rendered_frames(
    scene: SyntheticScene, mesh: SceneMesh, quality: int, seed: int, png: bool
) -> Iterator[tuple[bytes, bytes, DepthMM]]:
    """Each frame's JPEG colour, PNG depth (empty bytes unless ``png``: only the folder layouts store it) and depth."""
    noise_size = (DEPTH_K.width, DEPTH_K.height)  # colour is drawn at the depth camera, noise added there
    renderer = FrameRenderer(mesh, rng_for(seed, scene.scan_id, "sensor noise"), noise_size)
    for pose in scene.poses:
        color, depth = renderer.frame(COLOR_K, DEPTH_K, pose)
        encoded = b""
        if png:
            ok, buffer = cv2.imencode(".png", depth)
            if not ok:
                raise RuntimeError("PNG encoding of a depth frame failed")
            encoded = buffer.tobytes()
        yield encode_jpeg(color, quality), encoded, depth


def _write_mesh_and_annotations(paths: ScanPaths, scene: SyntheticScene, sm: SceneMesh, to_raw: Matrix4) -> None:
    """The scan's mesh (in raw, unaligned coordinates), over-segmentation, aggregation and ``<scan>.txt``."""
    raw_vertices = sm.mesh.vertices @ to_raw[:3, :3].T + to_raw[:3, 3]
    with atomic_path(paths.mesh) as tmp:
        write_ply(tmp, TriangleMesh(raw_vertices, sm.mesh.faces, sm.mesh.colors))
    write_text_atomic(
        paths.segments,
        json.dumps(
            {
                "params": {"kThresh": "0.0001", "segMinVerts": "20"},
                "sceneId": scene.scan_id,
                "segIndices": sm.segments.tolist(),
            }
        ),
    )
    groups = [
        {"id": o.object_id, "objectId": o.object_id, "segments": sm.object_segments[o.object_id], "label": o.label}
        for o in scene.objects
    ]
    write_text_atomic(
        paths.aggregation,
        json.dumps(
            {
                "sceneId": f"scannet.{scene.scan_id}",
                "appId": "ladder.synth",
                "segGroups": groups,
                "segmentsFile": paths.segments.name,
            }
        ),
    )
    align_txt = " ".join(f"{v:.9g}" for v in scene.alignment.reshape(-1))
    write_text_atomic(
        paths.meta,
        f"axisAlignment = {align_txt}\ncolorHeight = {COLOR_K.height}\ncolorWidth = "
        f"{COLOR_K.width}\ndepthHeight = {DEPTH_K.height}\ndepthWidth = {DEPTH_K.width}\n"
        f"numColorFrames = {len(scene.poses)}\nsceneType = {scene.scene_type}\n",
    )


@dataclass(frozen=True)
class _FrameSink:
    """Where each rendered frame goes: the folder layouts among ``layouts`` (export, posed) as files, the .sens
    stream as records."""

    paths: ScanPaths
    layouts: list[FramesLayout]
    raw_poses: Poses
    """(T, 4, 4) camera-to-world in the raw (unaligned) frame; -inf for invalid poses, as ScanNet writes them."""
    posed_number: dict[int, int]
    """Frame number -> its number in the posed layout, for the frames that layout keeps."""

    @property
    def with_png(self) -> bool:
        """Whether a folder layout stores depth PNGs."""
        return FramesLayout.EXPORT in self.layouts or FramesLayout.POSED in self.layouts

    def prepare(self) -> None:
        """The folder layouts' folders and intrinsics (the frames follow as they are rendered)."""
        paths = self.paths
        if FramesLayout.EXPORT in self.layouts:
            for d in (
                paths.export_color_dir,
                paths.export_depth_dir,
                paths.export_pose_dir,
                paths.export_intrinsic_dir,
            ):
                d.mkdir(parents=True, exist_ok=True)
            for name, K in (("intrinsic_color", COLOR_K), ("intrinsic_depth", DEPTH_K)):
                write_text_atomic(paths.export_intrinsic_dir / f"{name}.txt", matrix_text(K.matrix4))
            for name in ("extrinsic_color", "extrinsic_depth"):
                write_text_atomic(paths.export_intrinsic_dir / f"{name}.txt", matrix_text(np.eye(4)))
        if FramesLayout.POSED in self.layouts:
            paths.posed_dir.mkdir(parents=True, exist_ok=True)
            write_text_atomic(paths.posed_intrinsic, matrix_text(COLOR_K.matrix4))
            write_text_atomic(paths.posed_depth_intrinsic, matrix_text(DEPTH_K.matrix4))

    def _write_files(self, i: int, color: bytes, png: bytes) -> None:
        """Frame ``i`` into the folder layouts."""
        paths, pose_txt = self.paths, matrix_text(self.raw_poses[i])
        if FramesLayout.EXPORT in self.layouts:
            write_bytes_atomic(paths.export_color(i), color)
            write_bytes_atomic(paths.export_depth(i), png)
            write_text_atomic(paths.export_pose(i), pose_txt)
        if FramesLayout.POSED in self.layouts and i in self.posed_number:
            j = self.posed_number[i]
            write_bytes_atomic(paths.posed_color(j), color)
            write_bytes_atomic(paths.posed_depth(j), png)
            write_text_atomic(paths.posed_pose(j), pose_txt)

    def frames(self, rendered: Iterator[tuple[bytes, bytes, DepthMM]]) -> Iterator[SensFrameData]:
        """Each frame rendered once: written to the folder layouts, then handed on for the .sens stream."""
        n = len(self.raw_poses)
        for i, (color, png, depth) in enumerate(rendered):
            report_progress(i + 1, n)  # frames written (the .sens stream takes each as it is yielded)
            self._write_files(i, color, png)
            if FramesLayout.SENS in self.layouts:
                yield SensFrameData(self.raw_poses[i], round(i * 1e6 / FPS), color, encode_depth_zlib(depth))


def write_scene(
    root: Path,
    scene: SyntheticScene,
    layouts: list[FramesLayout],
    jpeg_quality: int = 90,
    seed: int = 0,
    max_edge: float = DEMO_EDGE,
    structural_edge: float = DEMO_STRUCTURAL_EDGE,
    posed_frames: list[int] | None = None,
) -> SyntheticGroundTruth:
    """Write one scan into ``root/scans/<scan_id>`` (and ``root/posed_images``) plus its ground truth.

    Frames are rendered once and streamed to every layout, so memory does not grow with the frame count.
    ``posed_frames`` (increasing frame numbers) are the frames the posed layout keeps, numbered 0, 1, 2, ...
    as mmdetection3d writes a subsample; None keeps every frame under its own number.
    """
    paths = ScanPaths.at(root / "scans" / scene.scan_id, root=root)
    paths.scan_dir.mkdir(parents=True, exist_ok=True)
    rng = rng_for(seed, scene.scan_id, "mesh")
    sm = build_mesh(scene, rng, max_edge, structural_edge)
    to_raw = invert_pose(scene.alignment)
    _write_mesh_and_annotations(paths, scene, sm, to_raw)
    raw_poses = np.einsum("ij,tjk->tik", to_raw, scene.poses)
    raw_poses[scene.invalid] = -np.inf
    n = len(scene.poses)
    posed_number = {f: f for f in range(n)} if posed_frames is None else {f: j for j, f in enumerate(posed_frames)}
    sink = _FrameSink(paths, layouts, raw_poses, posed_number)
    sink.prepare()
    frames = sink.frames(_rendered_frames(scene, sm, jpeg_quality, seed, sink.with_png))
    if FramesLayout.SENS in layouts:
        size_c, size_d = (COLOR_K.width, COLOR_K.height), (DEPTH_K.width, DEPTH_K.height)
        with atomic_path(paths.sens) as tmp:
            write_sens(tmp, COLOR_K.matrix4, DEPTH_K.matrix4, size_c, size_d, frames, n)
    else:
        deque(frames, maxlen=0)  # render and write the folder layouts
    gt = ground_truth(scene).model_copy(update={"posed_frames": posed_frames})
    write_text_atomic(root / GROUND_TRUTH_DIR / f"{scene.scan_id}.json", gt.model_dump_json(indent=1))
    return gt


def matrix_text(m: Matrix4) -> str:
    return "\n".join(" ".join(f"{v:.9g}" for v in row) for row in np.asarray(m)) + "\n"


def synthesize_scan(root: Path, config: SynthConfig, index: int) -> str:
    """Write scene ``index`` of the root ``config`` describes; returns its scan id."""
    scene, edge, structural_edge = scene_and_edges(config, index)
    posed = None
    subsample = config.posed_max_images is not None and config.posed_max_images < config.frames
    if FramesLayout.POSED in config.layouts and subsample:
        # mmdetection3d's extract_posed_images: a random subset of the stream, kept in stream order
        pick = rng_for(config.seed, scene.scan_id, "posed").choice(
            config.frames, config.posed_max_images, replace=False
        )
        posed = sorted(int(f) for f in pick)
    write_scene(root, scene, config.layouts, config.jpeg_quality, config.seed, edge, structural_edge, posed)
    return scene.scan_id


@register_writer("scannet")
def synthesize_root(
    root: Path,
    config: SynthConfig,
    executor: Executor | None = None,
    progress: Callable[[Outcome[str]], None] | None = None,
) -> list[str]:
    """Write a whole synthetic ScanNet root: scans, label table, split lists, ground truth."""
    with claim_folder(root):
        rows = label_table_rows()
        lines = ["\t".join(LABEL_TABLE_COLUMNS)] + ["\t".join(r.get(c, "") for c in LABEL_TABLE_COLUMNS) for r in rows]
        write_text_atomic(root / LABEL_TABLE, "\n".join(lines) + "\n")
        ids = [scan_id_for(i) for i in range(config.scenes)]
        val = [s for i, s in enumerate(ids) if i % config.val_every == config.val_every - 1]
        train = [s for s in ids if s not in val]
        for split, listed in (("train", train), ("val", val), ("test", [])):
            write_text_atomic(root / SPLIT_LIST.format(split=split), "".join(f"{s}\n" for s in listed))
        return write_scans(root, config, synthesize_scan, ids, executor, progress)
