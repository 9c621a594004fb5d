"""``ladder scans``: the pre-flight check of a scan, what a build would need of it short of measuring it.

A scan passes when every input file its source lists is a regular file (a missing or half-downloaded ``.sens``,
a folder or FIFO in a file's place fail here), the scan loads (mesh, annotations, intrinsics, frames index), it
has frames with at least one valid pose, and sample frames at valid poses (the first, the middle and the last)
decode: the colour frame as the drafts would embed it, the depth frame at its camera's size. A scan that fails
here is one a build would fail.
"""

from dataclasses import dataclass

import numpy as np

from ladderdata.errors import InconsistentScanError, MissingFileError
from ladderdata.sources.base import ScanSource
from ladderdata.sources.files import regular_file, scan_file_errors


@dataclass(frozen=True)
class ScanCheck:
    """What ``ladder scans`` shows of a scan that passed."""

    scan_id: str
    scene_type: str | None
    objects: int
    categories: int
    frames: int
    invalid_poses: int
    layout: str
    frames_checked: int


def preflight(source: ScanSource, scan_id: str) -> ScanCheck:
    """Check one scan (see the module); bad input raises the ``ScanError`` a build would meet."""
    with scan_file_errors(scan_id, source.location(scan_id)):
        for path in source.input_files(scan_id):
            regular_file(scan_id, path)
        scan = source.load(scan_id)
        frames = scan.frames
        if frames is None:
            raise MissingFileError(scan_id, source.location(scan_id), "no frames in any layout")
        valid = np.flatnonzero(scan.valid_poses)
        if valid.size == 0:
            raise InconsistentScanError(
                scan_id, frames.poses_file, f"none of the {len(frames.frame_ids)} frames has a valid pose"
            )
        sampled = sorted({int(valid[0]), int(valid[valid.size // 2]), int(valid[-1])})
        for pos in sampled:
            frame_id = int(frames.frame_ids[pos])
            frames.checked_color_jpeg(frame_id, decode=True)
            if frames.frame_depth_intrinsics(frame_id) is not None:
                frames.read_depth(frame_id)
    return ScanCheck(
        scan_id=scan_id,
        scene_type=scan.scene_type,
        objects=len(scan.objects),
        categories=len({o.info.category for o in scan.objects}),
        frames=len(frames.frame_ids),
        invalid_poses=scan.num_invalid_poses,
        layout=str(frames.layout),
        frames_checked=len(sampled),
    )
