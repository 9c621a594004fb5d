"""Time `ladder synth` (the demo configuration by default; --frames/--objects/--mesh-vertices for ScanNet-sized
scans): prints seconds per scan and frames per second, and the CPU time of this process (every thread; with
--workers 1, the whole synthesis) per frame, which the shared machine's load changes little."""

import argparse
import tempfile
import time
from pathlib import Path

from ladderdata.executor import ExecutorConfig, ExecutorKind, open_executor
from ladderdata.layout import FramesLayout
from ladderdata.synth.root import SynthConfig
from ladderdata.synth.scannet import synthesize_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--executor", type=ExecutorKind, default=ExecutorKind.LOCAL)
    parser.add_argument("--objects", type=int, default=None, help="furniture objects per scan, at least")
    parser.add_argument("--mesh-vertices", type=int, default=None, help="mesh vertices per scan, about")
    parser.add_argument("--layout", action="append", type=FramesLayout, default=None)
    args = parser.parse_args()
    layouts = args.layout or [FramesLayout.SENS]
    with (
        tempfile.TemporaryDirectory() as tmp,
        open_executor(ExecutorConfig(kind=args.executor, workers=args.workers)) as runner,
    ):
        config = SynthConfig(
            scenes=args.scenes,
            frames=args.frames,
            objects=args.objects,
            mesh_vertices=args.mesh_vertices,
            layouts=layouts,
        )
        start, cpu_start = time.perf_counter(), time.process_time()  # worker start-up included: a user waits for it
        synthesize_root(Path(tmp), config, runner)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    frames = args.scenes * args.frames
    print(
        f"scenes={args.scenes} frames/scan={args.frames} objects={args.objects} mesh_vertices={args.mesh_vertices} "
        f"workers={args.workers} layouts={','.join(layouts)}"
    )
    print(f"total {elapsed:.1f} s | {elapsed / args.scenes:.2f} s/scan | {frames / elapsed:.1f} frames/s")
    print(f"CPU (this process) {cpu:.2f} s | {1000 * cpu / frames:.1f} ms/frame")


if __name__ == "__main__":
    main()
