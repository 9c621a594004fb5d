"""How much per-view metadata changes with the render width, on a real-sized scan: what docs/metadata.md's
accuracy table (analytic scenes) cannot show, thin parts that appear or vanish between rays.

Computes one scan's metadata at ``--reference`` (the default render width) and at each of ``--widths``, and prints,
over the (view, object) pairs listed at both, the change of visibility, of the 2D box (largest side, colour-image
pixels) and of the pixel fraction (median, 99th percentile, largest), how many pairs cross the recipe's visibility
filter, and the CPU seconds of each::

    python benchmarks/bench_scale.py --cache /tmp/benchscale --strides 30 --growth-strides --repeat 1  # the scan
    python benchmarks/compare_render_widths.py --scans /tmp/benchscale/scannet-150000v-2000f-50o
"""

import argparse
import time
from pathlib import Path

import numpy as np

from ladderdata.metadata.config import MetadataConfig, ObjectInView
from ladderdata.metadata.extract import extract_views
from ladderdata.recipe import Recipe
from ladderdata.sources.base import open_source, source_config


def measured(
    scan_root: Path, scan_id: str, config: MetadataConfig
) -> tuple[dict[tuple[int, int], ObjectInView], float]:
    """(frame, object id) -> the object in that view, and the CPU seconds it took (loading excluded)."""
    scan = open_source(source_config("scannet", root=scan_root)).load(scan_id)
    start = time.process_time()
    views = extract_views(scan, config)
    return {(v.frame_id, o.object_id): o for v in views for o in v.objects}, time.process_time() - start


def spread(values: list[float]) -> str:
    a = np.asarray(values)
    return f"median {np.median(a):.4g}, p99 {np.quantile(a, 0.99):.4g}, max {a.max():.4g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=Path, required=True, help="a ScanNet root (e.g. bench_scale.py's scan)")
    parser.add_argument("--scan-id", default="scene0000_00")
    parser.add_argument("--reference", type=int, default=MetadataConfig().render_width)
    parser.add_argument("--widths", type=int, nargs="+", default=[288, 256, 216, 162])
    parser.add_argument("--recipe", default="spatialladder-26k", help="whose visibility filter to count crossings of")
    args = parser.parse_args()
    recipe = Recipe.load(args.recipe)
    threshold = recipe.filters.min_visibility
    base = recipe.metadata
    ref, ref_s = measured(args.scans, args.scan_id, base.model_copy(update={"render_width": args.reference}))
    print(f"{args.scan_id}, frame stride {base.frame_stride}: {len(ref)} (view, object) pairs at {args.reference} px")
    for width in args.widths:
        cur, cur_s = measured(args.scans, args.scan_id, base.model_copy(update={"render_width": width}))
        both = sorted(ref.keys() & cur.keys())
        visibility = [abs(ref[k].visibility - cur[k].visibility) for k in both]
        box = [max(abs(a - b) for a, b in zip(ref[k].bbox_2d, cur[k].bbox_2d, strict=True)) for k in both]
        pixels = [abs(ref[k].pixel_fraction - cur[k].pixel_fraction) for k in both]
        crossed = sum((ref[k].visibility >= threshold) != (cur[k].visibility >= threshold) for k in both)
        print(
            f"{width} px ({cur_s:.2f} CPU s, {args.reference} px: {ref_s:.2f}): pairs on one side only "
            f"{len(ref.keys() ^ cur.keys())}; visibility change {spread(visibility)}; 2D box change px "
            f"{spread(box)}; pixel fraction change {spread(pixels)}; crossing visibility {threshold}: {crossed}"
        )


if __name__ == "__main__":
    main()
