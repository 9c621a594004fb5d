"""Measurement error of every gated quantity on synthetic scans whose truth is known, to size the guard bands
(``FilterConfig.guard_bands``; docs/benchmarks.md#guard-bands).

* visibility of every object but walls, floors and ceilings (never asked about): the metadata's sample-based
  value (``MetadataConfig`` defaults: at most 3,000 area samples per object, a 324-px render looked up at each
  sample's pixel) against exact ray casting: dense samples (``--dense`` per object at 5 mm spacing), each tested
  by its own ray from the camera centre (no render grid), with the same occlusion rule (hidden when another
  object's surface is nearer than the sample by 3 cm + 1% of its depth);
* closest-surface distances (far/near and distance/size ratios) against the exact box-to-box distances of the
  synthetic ground truth;
* allocentric angles (box centres in the floor plane) against the same angles from the ground truth's centres.

    python benchmarks/guard_bands.py --cache /tmp/guardbands --scenes 6 --frames 40
"""

import argparse
import itertools
import math
from pathlib import Path

import numpy as np

from ladderdata.metadata.config import MetadataConfig
from ladderdata.metadata.extract import extract_views
from ladderdata.metadata.views import MIXED, ViewMeasurer, edge_normals, object_samples
from ladderdata.sources.base import Scan, open_source, source_config
from ladderdata.synth.root import SynthConfig
from ladderdata.synth.scannet import synthesize_root
from ladderdata.synth.truth import SyntheticGroundTruth
from ladderdata.tasks.context import SceneContext
from ladderdata.tasks.object_rel_direction import signed_angle_deg


def exact_visibility(scan: Scan, config: MetadataConfig, per_object: int) -> dict[tuple[int, int], float]:
    """(frame, object id) -> visibility by one ray per dense surface sample, for every selected view."""
    assert scan.frames is not None
    K = scan.frames.color_intrinsics
    measurer = ViewMeasurer(scan, config, K)
    S = object_samples(scan, per_object, 0.005)
    out: dict[tuple[int, int], float] = {}
    normals = edge_normals(K)
    for view in extract_views(scan, config):
        pose = np.asarray(view.cam_to_world, dtype=np.float64).reshape(4, 4)
        R, t = pose[:3, :3], pose[:3, 3]
        pc = (S.points - t) @ R
        z = pc[:, 2]
        inside = (z > config.near) & ((pc @ normals.T) > 0).all(axis=1) & S.is_area
        idx = np.flatnonzero(inside)
        ranges = np.linalg.norm(S.points[idx] - t, axis=1)
        dirs = (S.points[idx] - t) / ranges[:, None]
        rays = np.hstack([np.broadcast_to(t, dirs.shape), dirs]).astype(np.float32)
        hits = measurer.scene.cast(rays)
        owner = measurer.face_owner[hits.triangle]
        mixed = owner == MIXED
        if mixed.any():
            u, v = hits.uv[mixed, 0], hits.uv[mixed, 1]
            corner = np.argmax(np.stack([1.0 - u - v, u, v], axis=1), axis=1)
            owner[mixed] = measurer.corner_owner[hits.triangle[mixed], corner]
        hit_depth = hits.t_hit * (dirs @ R[:, 2])
        zs = z[idx]
        visible = (owner == S.owner[idx]) | (zs <= hit_depth + config.depth_tolerance + 0.01 * zs)
        counts = np.bincount(S.owner[idx][visible], minlength=len(scan.objects))
        for i, obj in enumerate(scan.objects):
            if counts[i]:
                out[(view.frame_id, obj.info.object_id)] = counts[i] / int(S.area_count[i])
    return out


def spread(values: list[float]) -> str:
    a = np.abs(np.asarray(values))
    return (
        f"n {a.size}, median {np.median(a):.4f}, p99 {np.quantile(a, 0.99):.4f}, p99.9 {np.quantile(a, 0.999):.4f}, "
        f"max {a.max():.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/guardbands"))
    parser.add_argument("--scenes", type=int, default=3)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--dense", type=int, default=20_000, help="exact visibility: samples per object")
    args = parser.parse_args()
    root = args.cache / "scannet"
    if not (root / "scans").is_dir():
        synthesize_root(root, SynthConfig(scenes=args.scenes, frames=args.frames))
    source = open_source(source_config("scannet", root=root))
    config = MetadataConfig(frame_stride=2)
    visibility: list[float] = []
    worst: list[tuple[float, str, int, str, float, float]] = []
    near_gate = 0
    relative: list[float] = []
    angles: list[float] = []
    rng = np.random.default_rng(0)
    for scan_id in source.scan_ids(None):
        scan = source.load(scan_id)
        views = extract_views(scan, config)
        sampled = {(v.frame_id, o.object_id): o.visibility for v in views for o in v.objects}
        exact = exact_visibility(scan, config, args.dense)
        truth = SyntheticGroundTruth.model_validate_json((root / "synthetic_gt" / f"{scan_id}.json").read_text())
        structural = {o.object_id for o in truth.objects if o.structural}  # walls, floor, ceiling: never asked
        labels = {o.info.object_id: o.info.label for o in scan.objects}
        for key in sorted(k for k in sampled.keys() | exact.keys() if k[1] not in structural):
            a, b = sampled.get(key, 0.0), exact.get(key, 0.0)
            visibility.append(a - b)
            near_gate += (a >= 0.4) != (b >= 0.4)
            worst.append((abs(a - b), scan_id, key[0], labels[key[1]], a, b))
        ctx = SceneContext.from_scan(scan, views)
        for d in truth.distances:
            if d.a in ctx.objects and d.b in ctx.objects and d.distance > 0.1:
                relative.append(ctx.distance(d.a, d.b) / d.distance - 1.0)
        centres = {o.object_id: np.array(o.box.center[:2]) for o in truth.objects if o.box is not None}
        ids = sorted(i for i in centres if i in ctx.objects)
        triples = list(itertools.permutations(ids, 3))
        for k in rng.permutation(len(triples))[:2000]:
            p, o, q = triples[int(k)]
            at_t, at_m = centres[p], ctx.objects[p].center[:2]
            if min(np.linalg.norm(centres[o] - at_t), np.linalg.norm(centres[q] - at_t)) < 0.5:
                continue  # tasks refuse triples closer than min_separation
            true = signed_angle_deg(centres[o] - at_t, centres[q] - at_t)
            measured = signed_angle_deg(ctx.objects[o].center[:2] - at_m, ctx.objects[q].center[:2] - at_m)
            angles.append(math.remainder(measured - true, 360.0))
    print(f"visibility (objects, not walls/floor/ceiling), sampled - exact: {spread(visibility)}")
    print(f"  pairs on different sides of 0.4: {near_gate}; largest differences:")
    for _, scan_id, frame, label, a, b in sorted(worst, reverse=True)[:5]:
        print(f"  {scan_id} frame {frame} {label}: sampled {a:.3f}, exact {b:.3f}")
    print(f"closest-surface distance, relative error (truth > 10 cm): {spread(relative)}")
    print(f"allocentric angle error, degrees: {spread(angles)}")


if __name__ == "__main__":
    main()
