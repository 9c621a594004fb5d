"""Per-view metadata speed on ScanNet-scale synthetic scans, single-threaded.

Builds (or reuses, under --cache) a scan with 48 objects, 1296x968 colour and 640x480 depth frames in a
.sens file, in two mesh sizes like ScanNet's `_vh_clean_2` (~180k vertices) and hi-res `_vh_clean`
(~1.37M vertices, ~2.6M triangles), then prints ms per view split into decode, ray cast, per-object
statistics and write, plus views/s/core and peak memory.
"""

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # single-threaded figures: one core per worker

from ladderdata.cache import write_text_atomic
from ladderdata.layout import LABEL_TABLE, FramesLayout
from ladderdata.metadata.config import MetadataConfig
from ladderdata.metadata.extract import extract_views, write_views
from ladderdata.metadata.views import Timings
from ladderdata.sources.base import open_source, source_config
from ladderdata.synth.mesh import edge_for_vertices
from ladderdata.synth.scannet import LABEL_TABLE_COLUMNS, label_table_rows, write_scene
from ladderdata.synth.scene import generate_scene

MESHES = {"vh_clean_2 (~180k vertices)": 180_000, "vh_clean (~1.37M vertices)": 1_370_000}


def build(root: Path, vertices: int, frames: int) -> None:
    if (root / "scans").is_dir():
        return
    rows = label_table_rows()
    lines = ["\t".join(LABEL_TABLE_COLUMNS)] + ["\t".join(r.get(c, "") for c in LABEL_TABLE_COLUMNS) for r in rows]
    write_text_atomic(root / LABEL_TABLE, "\n".join(lines) + "\n")
    scene = generate_scene(2, seed=0, frames=frames, invalid_poses=0, min_objects=48)
    edge = edge_for_vertices(scene, vertices)
    write_scene(root, scene, [FramesLayout.SENS], max_edge=edge, structural_edge=edge)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--render-width", type=int, default=MetadataConfig().render_width)
    parser.add_argument("--cache", type=Path, default=None, help="keep the generated scans here")
    args = parser.parse_args()
    base = args.cache or Path(tempfile.mkdtemp())
    config = MetadataConfig(frame_stride=1, render_width=args.render_width)
    print(f"render {config.render_width} px wide, {config.samples_per_object} samples/object, 1 thread")
    for name, vertices in MESHES.items():
        root = base / name.split()[0]
        build(root, vertices, args.frames)
        scan = open_source(source_config("scannet", root=root)).load("scene0002_00")
        assert scan.frames is not None
        timings = Timings()
        start = time.perf_counter()
        views = extract_views(scan, config, timings)
        with timings.stage("write"):
            write_views(root / "meta.parquet", views, "bench", scan.scan_id, config, scan.frames.time_basis)
        total = time.perf_counter() - start
        n = len(views)
        per_view = {k: 1000 * v / n for k, v in timings.seconds.items() if k != "setup"}
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        print(
            f"{name}: {len(scan.mesh.vertices):,} vertices, {len(scan.mesh.faces):,} triangles, "
            f"{len(scan.objects)} objects, {n} views"
        )
        print(
            "  ms/view: "
            + ", ".join(f"{k} {v:.1f}" for k, v in per_view.items())
            + f" | total {sum(per_view.values()):.1f}"
            f" | setup once {1000 * timings.seconds['setup']:.0f} ms | {n / total:.1f} views/s/core"
            f" | peak RSS {peak_gb:.2f} GB"
        )


if __name__ == "__main__":
    main()
