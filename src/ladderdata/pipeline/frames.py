"""The frame sources a process keeps open between scans' stages, and digests of the frame bytes drafting decoded.

Drafting loads a scan (its frame source indexes the frames: a ``.sens`` index of 2,000 frames is about 40 ms to
read) and the shard writer reads the frames that rows embed: a process that does both for a scan, or writes
several shards showing it, opens its frames once.
"""

from collections import OrderedDict

import xxhash

from ladderdata.errors import MissingFileError
from ladderdata.sources.base import FrameSource, ScanSourceConfig, open_source

#: Frame sources kept open per process; keyed by the scan's content key, so a changed scan is opened again.
OPEN_FRAME_SOURCES = 8
_open_frames: OrderedDict[tuple[str, str, str], FrameSource] = OrderedDict()


def _key(source: ScanSourceConfig, scene_id: str, scene_key: str) -> tuple[str, str, str]:
    return f"{type(source).__qualname__}:{source.model_dump_json()}", scene_id, scene_key


def keep_scan_frames(source: ScanSourceConfig, scene_id: str, scene_key: str, frames: FrameSource) -> None:
    """Keep ``frames``, scan ``scene_id`` of ``source`` whose inputs have content key ``scene_key``, for the next
    :func:`open_scan_frames` of this process (the last :data:`OPEN_FRAME_SOURCES` kept)."""
    key = _key(source, scene_id, scene_key)
    _open_frames[key] = frames
    _open_frames.move_to_end(key)
    while len(_open_frames) > OPEN_FRAME_SOURCES:
        _open_frames.popitem(last=False)


def open_scan_frames(source: ScanSourceConfig, scene_id: str, scene_key: str) -> FrameSource:
    """The frame source of scan ``scene_id`` of ``source`` whose inputs have content key ``scene_key``: one kept
    (:func:`keep_scan_frames`), else opened now and kept."""
    key = _key(source, scene_id, scene_key)
    if key in _open_frames:
        _open_frames.move_to_end(key)
        return _open_frames[key]
    opened = open_source(source)
    frames = opened.open_frames(scene_id)
    if frames is None:
        raise MissingFileError(scene_id, opened.location(scene_id), "no frames to read images from")
    keep_scan_frames(source, scene_id, scene_key, frames)
    return frames


def frame_digest(data: bytes) -> str:
    """xxh3-64 of a frame's JPEG bytes: which bytes were decoded (not a security check: the files are ours)."""
    return xxhash.xxh3_64_hexdigest(data)
