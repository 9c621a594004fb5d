"""Image-set selection speed against the number of measured views of one scan.

Builds N synthetic views (random camera poses in a 6 m x 5 m room, 8-20 of 60 objects per view, as dense as
ScanNet's per-view metadata) and prints the seconds that multi-view selection and the whole selection step
(single images, 8-view sets, video, with the ``Shown`` sets the tasks read) take per scan.
"""

import argparse
import time
from collections.abc import Callable

import numpy as np
from scipy.spatial.transform import Rotation

from ladderdata.metadata.config import ObjectInView, ViewRecord
from ladderdata.tasks import Modality
from ladderdata.tasks.modalities import ModalityConfig, image_sets, select_multi_view


def synthetic_views(n: int, objects: int, rng: np.random.Generator) -> list[ViewRecord]:
    poses = np.tile(np.eye(4), (n, 1, 1))
    poses[:, :3, :3] = Rotation.random(n, random_state=rng).as_matrix()
    poses[:, :3, 3] = rng.uniform([0, 0, 1.2], [6, 5, 1.8], size=(n, 3))
    views = []
    for i in range(n):
        seen = rng.choice(objects, size=int(rng.integers(8, 21)), replace=False)
        views.append(
            ViewRecord(
                frame_id=10 * i,
                timestamp_us=10 * i * 33_333,
                cam_to_world=poses[i].reshape(-1).tolist(),
                image_width=1296,
                image_height=968,
                sharpness=None,
                depth_agreement=None,
                objects=[
                    ObjectInView(
                        object_id=int(o),
                        label="chair",
                        category="chair",
                        visibility=float(v),
                        in_frustum=float(v),
                        pixel_fraction=0.02,
                        bbox_2d=[0.0, 0.0, 100.0, 100.0],
                        depth_min=1.0,
                        depth_median=1.5,
                        centroid_cam=[0.0, 0.0, 1.5],
                    )
                    for o, v in zip(seen, rng.uniform(0.05, 1.0, size=len(seen)), strict=True)
                ],
            )
        )
    return views


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--views", type=int, nargs="+", default=[200, 1000, 2000, 5000])
    parser.add_argument("--objects", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = ModalityConfig()
    sets, size = config.multi_view_sets, config.multi_view_size
    print(f"{sets} sets of {size} views, {args.objects} objects, best of {args.repeats}")
    print("views | multi-view selection s | all modalities s (with Shown sets)")
    known = set(range(args.objects))
    for n in args.views:
        views = synthetic_views(n, args.objects, np.random.default_rng(n))

        def multi_view(views: list[ViewRecord] = views) -> object:
            return select_multi_view(views, config, np.random.default_rng(0))

        def every_modality(views: list[ViewRecord] = views) -> object:
            return [image_sets(views, m, config, np.random.default_rng(0), known) for m in Modality]

        print(f"{n:5d} | {best_of(args.repeats, multi_view):.3f} | {best_of(args.repeats, every_modality):.3f}")


if __name__ == "__main__":
    main()
