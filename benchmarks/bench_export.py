"""``ladder export`` on benchmarks built from synthetic validation scans: time (cold and rerun), and the
exported videos' size and fidelity (PSNR of each decoded frame against the benchmark's stored JPEG).

Synthesises 4 scans (48 frames, ``.sens``; scene0003_00 is the validation split) once, builds spbench-si,
spbench-mv and vsi-video from them, then exports in both formats.
"""

import argparse
import io
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ladderdata.bench.build import BenchBuildConfig, build_benchmarks
from ladderdata.eval.export import export_benchmark
from ladderdata.io.dataset import BenchReader
from ladderdata.layout import FramesLayout
from ladderdata.sources.base import source_config
from ladderdata.synth.root import SynthConfig
from ladderdata.synth.scannet import synthesize_root


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / max(float(((a - b) ** 2).mean()), 1e-12)))


def video_fidelity(video: Path, frames: list[bytes]) -> list[float]:
    """PSNR (dB) of each decoded video frame against the benchmark frame it was written from."""
    capture = cv2.VideoCapture(str(video))
    out = []
    for data in frames:
        ok, bgr = capture.read()
        if not ok:
            raise RuntimeError(f"{video} has fewer frames than the benchmark")
        original = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)
        decoded = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float64)
        out.append(psnr(decoded, original[: decoded.shape[0], : decoded.shape[1]]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, default=None, help="keep the scans and benchmarks here")
    args = parser.parse_args()
    base = args.cache or Path(tempfile.mkdtemp())
    root, bench = base / "scannet", base / "bench"
    if not (root / "scans").is_dir():
        synthesize_root(root, SynthConfig(scenes=4, frames=48, seed=0, layouts=[FramesLayout.SENS]))
    if not bench.is_dir():
        build_benchmarks(
            BenchBuildConfig(
                source=source_config("scannet", root=root),
                out=bench,
                benchmarks=["spbench-si", "spbench-mv", "vsi-video"],
                frame_stride=2,
            )
        )
    for fmt, source in (("spatialladder", bench), ("vsibench", bench / "vsi-video")):
        out = base / f"export-{fmt}"
        for run in ("cold", "rerun"):
            start = time.perf_counter()
            results = export_benchmark(source, out, fmt)
            seconds = time.perf_counter() - start
            files = sum(len(r.images) + len(r.videos) + 1 for r in results)
            print(f"{fmt:14s} {run:6s} {seconds:6.2f} s  {len(results)} benchmarks, {files} files")
    rows = list(BenchReader(bench / "vsi-video").rows(with_images=True))
    for video in sorted((base / "export-vsibench" / "vsi-video").rglob("*.mp4")):
        row = next(r for r in rows if r.scene_id == video.stem)
        scores = video_fidelity(video, row.images or [])
        print(
            f"{video.name}: {len(scores)} frames {row.image_width}x{row.image_height}, "
            f"{video.stat().st_size / 1e6:.2f} MB, PSNR min {min(scores):.1f} dB, mean {np.mean(scores):.1f} dB"
        )


if __name__ == "__main__":
    main()
