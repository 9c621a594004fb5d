"""Time `ladder synth` (the demo configuration by default; --frames/--objects/--mesh-vertices for ScanNet-sized
scans, --format for another source's layout): prints, per run, seconds per scan and frames per second, and the
CPU time of this process (every thread; with --workers 1, the whole synthesis) per frame, which the shared
machine's load changes little; with --repeat, the median and range of the runs' CPU ms per frame.

Before/after comparisons run this script of each tree in turn (interleaved), e.g. for trees A and B:
`for i in 1 2 3; do for t in A B; do PYTHONPATH=$t/src python $t/benchmarks/bench_synth.py; done; done`.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ladderdata.executor import ExecutorConfig, ExecutorKind, open_executor
from ladderdata.layout import FramesLayout
from ladderdata.synth.root import SynthConfig, synthesize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--executor", type=ExecutorKind, default=ExecutorKind.LOCAL)
    parser.add_argument("--format", default="scannet", help="the source layout to write (ladder synth --format)")
    parser.add_argument("--objects", type=int, default=None, help="furniture objects per scan, at least")
    parser.add_argument("--mesh-vertices", type=int, default=None, help="mesh vertices per scan, about")
    parser.add_argument("--layout", action="append", type=FramesLayout, default=None)
    parser.add_argument("--repeat", type=int, default=1, help="runs (each in a fresh folder)")
    args = parser.parse_args()
    layouts = args.layout or [FramesLayout.SENS]
    config = SynthConfig(
        format=args.format,
        scenes=args.scenes,
        frames=args.frames,
        objects=args.objects,
        mesh_vertices=args.mesh_vertices,
        layouts=layouts,
    )
    frames = args.scenes * args.frames
    print(
        f"format={config.format} scenes={args.scenes} frames/scan={args.frames} objects={args.objects} "
        f"mesh_vertices={args.mesh_vertices} workers={args.workers} layouts={','.join(layouts)}"
    )
    per_frame = []
    for _ in range(args.repeat):
        with (
            tempfile.TemporaryDirectory() as tmp,
            open_executor(ExecutorConfig(kind=args.executor, workers=args.workers)) as runner,
        ):
            # worker start-up included: a user waits for it
            start, cpu_start = time.perf_counter(), time.process_time()
            synthesize(Path(tmp), config, runner)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        per_frame.append(1000 * cpu / frames)
        print(f"total {elapsed:.1f} s | {elapsed / args.scenes:.2f} s/scan | {frames / elapsed:.1f} frames/s")
        print(f"CPU (this process) {cpu:.2f} s | {per_frame[-1]:.1f} ms/frame")
    if args.repeat > 1:
        print(
            f"CPU ms/frame over {args.repeat} runs: median {statistics.median(per_frame):.1f} "
            f"(range {min(per_frame):.1f}-{max(per_frame):.1f})"
        )


if __name__ == "__main__":
    main()
