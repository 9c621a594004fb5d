"""What the guard bands cost in questions: drafts of the camera/in-view types (the ``vsti`` recipe) and of
route_planning (``vsi-video``'s settings) with the bands at 0 and at their defaults, per task, and the candidates
each band rejected (``guard_band:<quantity>``; docs/benchmarks.md#guard-bands).

Synthesises ``--scenes`` scans (``ladder synth``: rectangular and L-shaped rooms), measures their views once, then
drafts each scan with every draft kept within the per-scene caps (no targets), both ways.

    python benchmarks/guard_band_yield.py --cache /tmp/guardyield --scenes 4 --frames 32
"""

import argparse
import tempfile
from collections import Counter
from pathlib import Path

from ladderdata.layout import FramesLayout
from ladderdata.metadata.extract import extract_views
from ladderdata.pipeline.draft import draft_scene
from ladderdata.recipe import Recipe
from ladderdata.sources.base import open_source, source_config
from ladderdata.synth.root import SynthConfig
from ladderdata.synth.scannet import synthesize_root
from ladderdata.tasks import SceneContext
from ladderdata.tasks.base import GuardBands


def recipes(frame_stride: int) -> list[Recipe]:
    """The ``vsti`` recipe, and ``vsi-video`` with route_planning alone."""
    vsti = Recipe.load("vsti").with_frame_stride(frame_stride)
    video = Recipe.load("vsi-video").with_frame_stride(frame_stride)
    routes = video.model_copy(update={"tasks": {"route_planning": video.tasks["route_planning"]}})
    return [vsti, routes]


def without_bands(recipe: Recipe) -> Recipe:
    zero = GuardBands(visibility=0, ratio=0, angle_deg=0, depth=0)
    return recipe.model_copy(update={"filters": recipe.filters.model_copy(update={"guard_bands": zero})})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=None, help="keep the synthetic scans here")
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--frame-stride", type=int, default=1)
    args = parser.parse_args()
    base = args.cache or Path(tempfile.mkdtemp())
    root = base / "scannet"
    if not (root / "scans").is_dir():
        synthesize_root(root, SynthConfig(scenes=args.scenes, frames=args.frames, layouts=[FramesLayout.SENS]))
    source = open_source(source_config("scannet", root=root))
    kept: dict[str, Counter[str]] = {"bands 0": Counter(), "default bands": Counter()}
    banded: Counter[str] = Counter()
    for scan_id in source.scan_ids()[: args.scenes]:
        scan = source.load(scan_id)
        for recipe in recipes(args.frame_stride):
            views = extract_views(scan, recipe.metadata)
            for name, variant in (("bands 0", without_bands(recipe)), ("default bands", recipe)):
                records, rejections = draft_scene(SceneContext.from_scan(scan, views), variant, seed=0)
                kept[name].update(r.task for r in records)
                if name == "default bands":
                    for key, counts in rejections.items():
                        task = key.split("/")[0]
                        banded.update({f"{task} {k}": v for k, v in counts.items() if k.startswith("guard_band:")})
    print(f"{args.scenes} synthetic scans x {args.frames} frames, frame stride {args.frame_stride}; drafts kept")
    print(f"{'task':28} {'bands 0':>8} {'default':>8}")
    for task in sorted(kept["bands 0"] | kept["default bands"]):
        print(f"{task:28} {kept['bands 0'][task]:>8} {kept['default bands'][task]:>8}")
    print(f"{'total':28} {kept['bands 0'].total():>8} {kept['default bands'].total():>8}")
    print("candidates rejected by a band (default bands)")
    for key, count in sorted(banded.items()):
        print(f"  {key}: {count}")


if __name__ == "__main__":
    main()
