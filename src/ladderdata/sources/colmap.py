"""COLMAP text models (``cameras.txt``, ``images.txt``): cameras and world-to-camera poses, each failure a
``ScanError`` naming the scan and the file.

Format facts (COLMAP's ``doc/format.rst`` and ``src/colmap/sensor/models.h``; docs/sources.md cites them):

* ``cameras.txt``: one line per camera, ``CAMERA_ID MODEL WIDTH HEIGHT PARAMS[]``; the parameters depend on the
  model (``SIMPLE_PINHOLE``: f cx cy; ``PINHOLE``: fx fy cx cy; ``OPENCV``: fx fy cx cy k1 k2 p1 p2).
* ``images.txt``: two lines per image, ``IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME`` then its 2D points
  (possibly an empty line). The pose is the projection from world to camera: a Hamilton quaternion and a
  translation, so ``p_c = R p_w + t``; the camera axes are x right, y down, z forward (OpenCV's).
* Lines starting with ``#`` are comments.
* Pixel coordinates put the upper-left pixel's centre at (0.5, 0.5); ladder puts it at (0, 0)
  (``geometry.camera``), so the principal point moves by half a pixel.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ladderdata.errors import CorruptFileError, InconsistentScanError
from ladderdata.geometry.camera import CameraIntrinsics
from ladderdata.sources.files import read_text
from ladderdata.sources.validate import pinhole
from ladderdata.typed import FloatArray, Matrix3, Matrix4

#: Parameters of the models whose images are pinhole projections: names in file order.
PINHOLE_MODELS = {
    "SIMPLE_PINHOLE": ("f", "cx", "cy"),
    "PINHOLE": ("fx", "fy", "cx", "cy"),
    "OPENCV": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2"),
}
#: COLMAP's pixel centre of the upper-left pixel, in each axis (ladder's is 0).
PIXEL_CENTRE = 0.5
#: A stored quaternion must be a unit one within this (COLMAP writes normalised quaternions).
UNIT_TOLERANCE = 1e-3


@dataclass(frozen=True)
class ColmapCamera:
    camera_id: int
    model: str
    width: int
    height: int
    params: tuple[float, ...]


@dataclass(frozen=True)
class ColmapImage:
    image_id: int
    qvec: FloatArray
    """(4,) world-to-camera rotation as a Hamilton quaternion (w, x, y, z)."""
    tvec: FloatArray
    """(3,) world-to-camera translation."""
    camera_id: int
    name: str


def _data_lines(scan_id: str, path: Path) -> list[tuple[int, str]]:
    """(line number, text) of every line of ``path``, comments blanked (they are skipped, empty lines kept)."""
    return [
        (n, "" if line.lstrip().startswith("#") else line.strip())
        for n, line in enumerate(read_text(scan_id, path).splitlines(), start=1)
    ]


def read_cameras_text(scan_id: str, path: Path) -> dict[int, ColmapCamera]:
    """Every camera of a ``cameras.txt``, by id."""
    cameras: dict[int, ColmapCamera] = {}
    for n, line in _data_lines(scan_id, path):
        if not line:
            continue
        fields = line.split()
        try:
            camera_id, width, height = int(fields[0]), int(fields[2]), int(fields[3])
            params = tuple(float(v) for v in fields[4:])
        except (IndexError, ValueError):
            raise CorruptFileError(scan_id, path, f"line {n} is not CAMERA_ID MODEL WIDTH HEIGHT PARAMS[]") from None
        if camera_id in cameras:
            raise CorruptFileError(scan_id, path, f"line {n}: camera {camera_id} is listed twice")
        cameras[camera_id] = ColmapCamera(camera_id, fields[1], width, height, params)
    if not cameras:
        raise CorruptFileError(scan_id, path, "no cameras")
    return cameras


def read_images_text(scan_id: str, path: Path) -> list[ColmapImage]:
    """Every image of an ``images.txt``, in file order (each data line is followed by its points line)."""
    lines = _data_lines(scan_id, path)
    images, k = [], 0
    while k < len(lines):
        n, line = lines[k]
        k += 1
        if not line:
            continue
        fields = line.split(maxsplit=9)
        try:
            image_id, camera_id = int(fields[0]), int(fields[8])
            values = np.array(fields[1:8], dtype=np.float64)
            name = fields[9]
        except (IndexError, ValueError):
            raise CorruptFileError(
                scan_id, path, f"line {n} is not IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME"
            ) from None
        if not np.isfinite(values).all():
            raise CorruptFileError(scan_id, path, f"line {n} ({name}): the pose holds NaN or infinite values")
        if abs(float(np.linalg.norm(values[:4])) - 1.0) > UNIT_TOLERANCE:
            raise InconsistentScanError(scan_id, path, f"line {n} ({name}): QW QX QY QZ is not a unit quaternion")
        images.append(ColmapImage(image_id, values[:4], values[4:], camera_id, name))
        if k < len(lines):  # the image's POINTS2D line, empty or not; the last image's may be cut off with the file
            points_line(scan_id, path, *lines[k], name)
        k += 1
    if not images:
        raise CorruptFileError(scan_id, path, "no images")
    return images


def points_line(scan_id: str, path: Path, n: int, line: str, image: str) -> None:
    """Check the POINTS2D line of ``image`` (line ``n``): empty, or ``X Y POINT3D_ID`` triples. Anything else (the
    next image's line, in an ``images.txt`` written without its points lines) is an error, never a photo skipped."""
    fields = line.split()
    try:
        [float(v) for v in fields]
    except ValueError:
        fields = ["not numbers"]
    if len(fields) % 3:
        raise CorruptFileError(
            scan_id,
            path,
            f"line {n} is not the POINTS2D line of {image} (empty, or X Y POINT3D_ID triples): images.txt holds two "
            "lines per image, its pose then its points",
        )


def quaternion_rotation(q: FloatArray) -> Matrix3:
    """The rotation of a Hamilton quaternion (w, x, y, z), normalised first."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def camera_to_world(image: ColmapImage) -> Matrix4:
    """The camera-to-world pose (OpenCV axes) of an image: the inverse of its world-to-camera ``[R | t]``, so
    ``R^T`` and the camera centre ``-R^T t``."""
    R = quaternion_rotation(image.qvec)
    pose = np.eye(4)
    pose[:3, :3] = R.T
    pose[:3, 3] = -R.T @ image.tvec
    return pose


def pinhole_camera(scan_id: str, path: Path, camera: ColmapCamera, distorted_hint: str) -> CameraIntrinsics:
    """The camera as ladder intrinsics when its images are pinhole projections (``SIMPLE_PINHOLE``, ``PINHOLE``,
    ``OPENCV`` with zero distortion); any other model is an ``InconsistentScanError`` ending in ``distorted_hint``
    (what to read instead)."""
    names = PINHOLE_MODELS.get(camera.model)
    where = f"camera {camera.camera_id}"
    if names is None:
        raise InconsistentScanError(
            scan_id, path, f"{where} is {camera.model}, not a pinhole model (distorted images): {distorted_hint}"
        )
    if len(camera.params) != len(names):
        raise CorruptFileError(
            scan_id, path, f"{where} ({camera.model}) has {len(camera.params)} parameters, expected {len(names)}"
        )
    values = dict(zip(names, camera.params, strict=True))
    distortion = [values[k] for k in ("k1", "k2", "p1", "p2") if k in values]
    if any(d != 0 for d in distortion):
        raise InconsistentScanError(
            scan_id, path, f"{where} is OPENCV with distortion {distortion} (distorted images): {distorted_hint}"
        )
    fx, fy = (values["f"], values["f"]) if "f" in values else (values["fx"], values["fy"])
    cx, cy = values["cx"] - PIXEL_CENTRE, values["cy"] - PIXEL_CENTRE
    return pinhole(scan_id, path, fx, fy, cx, cy, camera.width, camera.height)
