"""How an export writes: atomically (temp name, then rename), only what changed since the previous export
(``export.json``'s content keys), the benchmark's JPEGs unchanged and one mp4 per scan."""

import io
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ladderdata.cache import atomic_path, content_key, regular_file_stat
from ladderdata.errors import ConfigError
from ladderdata.io.dataset import BenchRow
from ladderdata.io.exported import EXPORT_MANIFEST, ExportedBenchmark, ExportedVideo
from ladderdata.layout import check_name, is_safe_name

IMAGES_DIR = "images"
VIDEO_FOURCC = "mp4v"
"""MPEG-4 Part 2: the mp4 encoder opencv-python-headless ships; FFmpeg-based readers (decord, PyAV) decode it."""


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` then rename to ``path`` (:func:`ladderdata.cache.atomic_path`, keeping the extension the
    video encoder picks its format by): no partial file is ever left under the final name."""
    with atomic_path(path, keep_suffix=True) as tmp:
        write(tmp)


def bytes_writer(data: bytes) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    return write


def encode_mp4(path: Path, frames_rgb: list[np.ndarray], fps: float) -> tuple[int, int]:
    """Encode (H, W, 3) uint8 RGB frames as an mp4 at ``fps`` (``path`` must end in ``.mp4``); returns
    (width, height). Frames are cropped to even sizes (the encoder needs them); other sizes are resized."""
    shape = frames_rgb[0].shape[:2]
    height, width = shape[0] - shape[0] % 2, shape[1] - shape[1] % 2
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*VIDEO_FOURCC), fps, (width, height))
    if not writer.isOpened():
        raise ConfigError(f"opencv cannot write {VIDEO_FOURCC} mp4 files here ({path})")
    try:
        for rgb in frames_rgb:
            frame = rgb[:height, :width] if rgb.shape[:2] == shape else cv2.resize(rgb, (width, height))
            writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return width, height


def _decode_rgb(data: bytes) -> np.ndarray:
    """(H, W, 3) uint8 RGB of encoded image bytes."""
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


class ExportWriter:
    """Writes files under ``root`` unless ``export.json`` says the same content is already there."""

    def __init__(self, root: Path, previous: ExportedBenchmark | None) -> None:
        self.root = root
        self.previous = previous.keys if previous else {}
        self.keys: dict[str, str] = {}
        self.written = 0

    def write(self, rel: str, key: str, write: Callable[[Path], None]) -> None:
        self.keys[rel] = key
        path = self.root / rel
        if self.previous.get(rel) == key and path.is_file():
            return
        write_atomic(path, write)
        self.written += 1

    def remove_stale(self) -> None:
        for rel in set(self.previous) - set(self.keys):
            if all(is_safe_name(part) for part in Path(rel).parts):  # never outside the export folder
                (self.root / rel).unlink(missing_ok=True)


def previous_export(root: Path) -> ExportedBenchmark | None:
    """The previous export's manifest; None when there is none or it is unreadable (then every file is
    rewritten), and when it is not a regular file (a FIFO would block the read)."""
    try:
        regular_file_stat(root / EXPORT_MANIFEST)
        return ExportedBenchmark.model_validate_json((root / EXPORT_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def export_images(writer: ExportWriter, question: BenchRow, contents: dict[str, str]) -> list[str]:
    """A question's frames as ``images/<scene_id>/<frame_id>.jpg`` (the stored JPEG bytes, unchanged); returns
    their file names."""
    names = []
    scene = check_name(question.scene_id, f"{question.benchmark}: scene_name")
    for frame_id, data in zip(question.frame_ids, question.images or [], strict=True):
        name = f"{frame_id:06d}.jpg"
        rel = f"{IMAGES_DIR}/{scene}/{name}"
        key = content_key({"image": data})
        if contents.setdefault(rel, key) != key:
            raise ConfigError(f"{question.benchmark}: two different images for frame {frame_id} of {question.scene_id}")
        writer.write(rel, key, bytes_writer(data))
        names.append(name)
    return names


def export_video(writer: ExportWriter, question: BenchRow, fps: float) -> ExportedVideo:
    """The scan's mp4 (``<dataset>/<scene_id>.mp4``) from the frames a video question shows, one video frame each."""
    if question.timestamps is None:
        raise ConfigError(f"{question.benchmark}: video question {question.id} has no frame times")
    data = question.images or []
    rel = f"{check_name(question.source, 'source')}/{check_name(question.scene_id, 'scene_name')}.mp4"
    first = _decode_rgb(data[0])

    def encode(tmp: Path) -> None:
        encode_mp4(tmp, [_decode_rgb(d) for d in data], fps)

    parts: dict[str, str | bytes] = {"fps": repr(fps), "codec": VIDEO_FOURCC}
    parts.update((f"frame:{k}", d) for k, d in enumerate(data))
    writer.write(rel, content_key(parts), encode)
    return ExportedVideo(
        path=rel,
        fps=fps,
        frame_ids=question.frame_ids,
        scan_timestamps=question.timestamps,
        video_timestamps=[k / fps for k in range(len(data))],
        width=first.shape[1] - first.shape[1] % 2,
        height=first.shape[0] - first.shape[0] % 2,
    )
