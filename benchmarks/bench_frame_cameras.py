"""The rays' directions of a view whose frame brings its own camera (ARKitScenes: ARKit refines the focal length
frame by frame, so every view has a render camera of its own and no cache of directions helps), CPU time, one
thread (issue 28).

Per new render camera (324 x 242, the default render width, focal lengths a hair apart per view), in one process:

* numpy: ``camera.pixel_directions_by_axis`` and ``camera.ray_z_factor`` (what the numpy path computes per view);
* compiled: ``metadata.kernels.pixel_directions`` (the compiled path; the same bits:
  ``tests/test_metadata_kernels.py``);

median (range) of ``--repeat`` interleaved rounds of ``--cameras`` cameras each::

    python benchmarks/bench_frame_cameras.py --repeat 5
"""

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from ladderdata.geometry.camera import CameraIntrinsics, pixel_directions, pixel_directions_by_axis, ray_z_factor
    from ladderdata.metadata import views

    kernels = views.compiled_kernels()
    if kernels is None:
        raise SystemExit("the compiled path is off here (numba missing, or LADDER_NO_JIT set)")

    def numpy_path(K: CameraIntrinsics) -> None:
        pixel_directions_by_axis(K)
        ray_z_factor(K)

    def compiled_path(K: CameraIntrinsics) -> None:
        kernels.pixel_directions(K.fx, K.fy, K.cx, K.cy, K.width, K.height)

    paths = {"numpy": numpy_path, "compiled": compiled_path}
    spent: dict[str, list[float]] = {name: [] for name in paths}
    for round_ in range(args.repeat):
        for name, path in paths.items():
            cameras = [
                CameraIntrinsics(
                    fx=290.0 + 1e-4 * (round_ * args.cameras + i), fy=291.0, cx=161.7, cy=120.2, width=324, height=242
                )
                for i in range(args.cameras)
            ]
            for cache in (pixel_directions, pixel_directions_by_axis):
                cache.cache_clear()
            start = time.process_time()
            for K in cameras:
                path(K)
            spent[name].append(1000 * (time.process_time() - start) / args.cameras)
    print(f"CPU ms per new render camera (324 x 242), median (range) of {args.repeat} rounds of {args.cameras}:")
    for name, times in spent.items():
        print(f"  {name}: {statistics.median(times):.2f} ({min(times):.2f}-{max(times):.2f})")


if __name__ == "__main__":
    main()
