"""Pinhole cameras in the OpenCV convention.

Camera frame: x right, y down, z forward (looking direction). Poses are camera-to-world 4x4 transforms
``T_c2w`` mapping camera coordinates to world coordinates: ``p_w = R @ p_c + t``. Image coordinates (u, v)
are continuous with pixel centres at integer values, so pixel (col, row) covers [col - 0.5, col + 0.5).
"""

from functools import lru_cache
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from ladderdata.typed import BoolArray, FloatArray, Matrix3, Matrix4, Pixels, Points3, Poses


class CameraIntrinsics(BaseModel):
    """Pinhole intrinsics of one sensor at one resolution."""

    model_config = ConfigDict(frozen=True)

    fx: float = Field(gt=0)
    fy: float = Field(gt=0)
    cx: float
    cy: float
    width: int = Field(gt=0)
    height: int = Field(gt=0)

    @classmethod
    def from_matrix(cls, K: FloatArray, width: int, height: int) -> Self:
        """From a 3x3 or 4x4 intrinsic matrix (ScanNet stores 4x4)."""
        K = np.asarray(K, dtype=np.float64)
        if K.shape not in ((3, 3), (4, 4)):
            raise ValueError(f"intrinsic matrix must be 3x3 or 4x4, got shape {K.shape}")
        return cls(fx=K[0, 0], fy=K[1, 1], cx=K[0, 2], cy=K[1, 2], width=width, height=height)

    @property
    def matrix(self) -> Matrix3:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def matrix4(self) -> Matrix4:
        K = np.eye(4)
        K[:3, :3] = self.matrix
        return K

    def scaled_to(self, width: int, height: int) -> Self:
        """The same camera sampled on a ``width x height`` pixel grid (pixel-centre convention kept)."""
        sx, sy = width / self.width, height / self.height
        return type(self)(
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=(self.cx + 0.5) * sx - 0.5,
            cy=(self.cy + 0.5) * sy - 0.5,
            width=width,
            height=height,
        )


def invert_pose(T: Matrix4) -> Matrix4:
    """Inverse of a rigid 4x4 transform."""
    R, t = T[:3, :3], T[:3, 3]
    inv = np.eye(4)
    inv[:3, :3] = R.T
    inv[:3, 3] = -R.T @ t
    return inv


def valid_pose_mask(poses: Poses) -> BoolArray:
    """(T,) True where a (T, 4, 4) pose is finite and its rotation is orthonormal with det +1."""
    poses = np.asarray(poses, dtype=np.float64)
    finite = np.asarray(np.isfinite(poses).all(axis=(1, 2)))
    safe = np.where(finite[:, None, None], poses, np.eye(4))
    R = safe[:, :3, :3]
    ortho = np.abs(np.einsum("tij,tkj->tik", R, R) - np.eye(3)).max(axis=(1, 2)) < 1e-3
    det_ok = np.abs(np.linalg.det(R) - 1.0) < 1e-3
    bottom_ok = np.abs(safe[:, 3] - np.array([0.0, 0.0, 0.0, 1.0])).max(axis=1) < 1e-6
    return np.asarray(finite & ortho & det_ok & bottom_ok, dtype=np.bool_)


def world_to_camera(points_w: Points3, cam_to_world: Matrix4) -> Points3:
    """(N, 3) world points -> (N, 3) camera-frame points."""
    R, t = cam_to_world[:3, :3], cam_to_world[:3, 3]
    return (points_w - t) @ R


def camera_to_world(points_c: Points3, cam_to_world: Matrix4) -> Points3:
    """(N, 3) camera-frame points -> (N, 3) world points."""
    return points_c @ cam_to_world[:3, :3].T + cam_to_world[:3, 3]


def project(points_c: Points3, intrinsics: CameraIntrinsics) -> tuple[Pixels, FloatArray]:
    """Project (N, 3) camera-frame points; returns (N, 2) pixels and (N,) depth z.

    Points with z <= 0 get NaN pixels: they are behind the camera and have no image.
    """
    z = points_c[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_z = np.where(z > 0, 1.0 / z, np.nan)
    u = intrinsics.fx * points_c[:, 0] * inv_z + intrinsics.cx
    v = intrinsics.fy * points_c[:, 1] * inv_z + intrinsics.cy
    return np.stack([u, v], axis=1), z


def backproject(pixels: Pixels, depth: FloatArray, intrinsics: CameraIntrinsics) -> Points3:
    """(N, 2) pixels with (N,) depth z -> (N, 3) camera-frame points; inverse of :func:`project`."""
    x = (pixels[:, 0] - intrinsics.cx) / intrinsics.fx * depth
    y = (pixels[:, 1] - intrinsics.cy) / intrinsics.fy * depth
    return np.stack([x, y, depth], axis=1)


def inside_image(pixels: Pixels, intrinsics: CameraIntrinsics) -> BoolArray:
    """(N,) True where a pixel position lies on the image (its pixel exists)."""
    u, v = pixels[:, 0], pixels[:, 1]
    with np.errstate(invalid="ignore"):
        return (u >= -0.5) & (u < intrinsics.width - 0.5) & (v >= -0.5) & (v < intrinsics.height - 0.5)


def in_frustum(points_w: Points3, cam_to_world: Matrix4, intrinsics: CameraIntrinsics, near: float = 0.05) -> BoolArray:
    """(N,) True where a world point is in front of the camera (z > near) and projects onto the image."""
    points_c = world_to_camera(points_w, cam_to_world)
    pixels, z = project(points_c, intrinsics)
    return (z > near) & inside_image(pixels, intrinsics)


@lru_cache(maxsize=16)
def pixel_directions(intrinsics: CameraIntrinsics) -> NDArray[np.float32]:
    """(H, W, 3) float32 unit viewing directions of every pixel centre, camera frame (cached, read-only)."""
    u, v = np.meshgrid(np.arange(intrinsics.width, dtype=np.float64), np.arange(intrinsics.height, dtype=np.float64))
    d = np.stack([(u - intrinsics.cx) / intrinsics.fx, (v - intrinsics.cy) / intrinsics.fy, np.ones_like(u)], -1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    out = d.astype(np.float32)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=16)
def pixel_directions_by_axis(intrinsics: CameraIntrinsics) -> NDArray[np.float32]:
    """(3, H * W) :func:`pixel_directions` one contiguous row per axis, pixels row-major (cached, read-only)."""
    out = np.ascontiguousarray(pixel_directions(intrinsics).reshape(-1, 3).T)
    out.setflags(write=False)
    return out


def pixel_rays(intrinsics: CameraIntrinsics, cam_to_world: Matrix4) -> NDArray[np.float32]:
    """(H, W, 6) float32 rays (origin xyz, unit direction xyz) in world coordinates, one per pixel centre.

    The ``t_hit`` of a ray cast along a unit direction is the Euclidean range; multiply by
    :func:`ray_z_factor` to convert it to depth along the optical axis.
    """
    rays = np.empty((intrinsics.height, intrinsics.width, 6), dtype=np.float32)
    rows = rays.reshape(-1, 6)
    for axis, value in enumerate(cam_to_world[:3, 3].astype(np.float32)):
        rows[:, axis] = value  # one column at a time: 5x faster than broadcasting the (3,) origin into (..., :3)
    # (3, H * W) directions in the world, R @ d per pixel: the same float32 products and sums as d @ R.T (one
    # matrix product over contiguous rows, then three column writes: half the time of a product into the columns)
    world = cam_to_world[:3, :3].astype(np.float32) @ pixel_directions_by_axis(intrinsics)
    for axis in range(3):
        rows[:, 3 + axis] = world[axis]
    return rays


def ray_z_factor(intrinsics: CameraIntrinsics) -> NDArray[np.float32]:
    """(H, W) float32: optical-axis depth per unit of range along each pixel's ray."""
    return pixel_directions(intrinsics)[..., 2]


def look_at(eye: FloatArray, target: FloatArray, up: FloatArray | None = None) -> Matrix4:
    """Camera-to-world pose of a camera at ``eye`` looking at ``target`` (OpenCV axes, world z up)."""
    up = np.array([0.0, 0.0, 1.0]) if up is None else np.asarray(up, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - np.asarray(eye, dtype=np.float64)
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to up")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = x, y, z, eye
    return T


#: Camera-frame change of one clockwise quarter turn of the image: ``p_old = QUARTER_TURN @ p_new``
#: (the new x axis is the old -y, the new y axis the old x; the optical axis stays).
QUARTER_TURN = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def turn_camera(intrinsics: CameraIntrinsics, cam_to_world: Matrix4, turns: int) -> tuple[CameraIntrinsics, Matrix4]:
    """The camera whose image is this one's turned ``turns`` quarter turns clockwise (``cv2.rotate`` with
    ``ROTATE_90_CLOCKWISE`` per turn): pixel (u, v) of a W x H image moves to (H - 1 - v, u), so fx and fy swap,
    cx' = H - 1 - cy, cy' = cx, and the camera turns about its optical axis. Invalid (non-finite) poses stay so."""
    K, pose = intrinsics, np.array(cam_to_world, dtype=np.float64)
    for _ in range(turns % 4):
        K = type(K)(fx=K.fy, fy=K.fx, cx=K.height - 1 - K.cy, cy=K.cx, width=K.height, height=K.width)
        pose[:3, :3] = pose[:3, :3] @ QUARTER_TURN
    return K, pose


def turn_image(image: NDArray[Any], turns: int) -> NDArray[Any]:
    """``image`` (H, W[, C]) turned ``turns`` quarter turns clockwise (see :func:`turn_camera`)."""
    return np.ascontiguousarray(np.rot90(image, k=-(turns % 4), axes=(0, 1)))
