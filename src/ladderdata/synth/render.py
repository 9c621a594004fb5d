"""Colour and depth frames of a synthetic scene, as its sensors see them.

The scene is made of planar parallelograms (box faces, wall/floor/ceiling panels: the faces its mesh grids,
:class:`~ladderdata.synth.mesh.SceneMesh`), so a frame is rasterised from them in closed form instead of ray
casting the mesh: each face in view is clipped to the near plane and projected; per pixel row, the pixel
centres inside its outline form one span; each covered pixel centre gets the face's inverse depth, linear in the
pixel coordinates for a plane, and the nearest face wins (a z-buffer). Depth and face per pixel centre equal a
ray cast of every pixel of the mesh (tests/test_synthetic.py checks this against open3d) at a fraction of its
cost; colour is the face's shaded colour, drawn at the depth camera's size and resampled to the colour camera's.
"""

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ladderdata.geometry.camera import CameraIntrinsics
from ladderdata.synth.mesh import SceneMesh
from ladderdata.typed import DepthMM, FloatArray, ImageRGB, Matrix4

#: Faces are clipped this far (metres) in front of the camera centre before they are projected.
NEAR_M = 1e-3
#: Pixel centres this close (pixels) to a face's outline count as inside: neighbouring faces overlap by it rather
#: than leave a crack, and the z-buffer picks the nearer one.
OUTLINE_TOLERANCE_PX = 1e-6
#: Direction of the light that shades the faces (unnormalised).
LIGHT = np.array([0.3, 0.5, 0.81])


class FrameRenderer:
    """Colour and depth frames of one scene by pinhole cameras ``K`` at camera-to-world poses (OpenCV axes)."""

    def __init__(self, mesh: SceneMesh, rng: np.random.Generator, noise_size: tuple[int, int] = (0, 0)) -> None:
        self.corners = mesh.faces
        """(S, 4, 3) corners of each face, in order around it."""
        origin = mesh.faces[:, 0]
        normals = np.cross(mesh.faces[:, 1] - origin, mesh.faces[:, 3] - origin)
        self.normals = normals / np.linalg.norm(normals, axis=1, keepdims=True)
        """(S, 3) unit normal of each face (out of its box for solid faces)."""
        self.offsets = (self.normals * origin).sum(axis=1)
        """(S,) plane offset d of each face: normal . x = d."""
        self.solid = mesh.solid
        shade = 0.45 + 0.55 * np.abs(self.normals @ (LIGHT / np.linalg.norm(LIGHT)))
        # (S + 1,) lit RGB of each face packed as one RGBA word (one gather a frame), last for pixels that see
        # nothing (face -1): black
        lit = np.zeros((len(self.corners) + 1, 4), dtype=np.uint8)
        lit[:-1, :3] = mesh.face_colors * shade[:, None]
        self.face_rgba = lit.view(np.uint32).ravel()
        # a fixed sensor-noise pattern for colour frames of ``noise_size`` (width, height), added and subtracted as
        # its positive and negative parts (saturating): JPEG gets texture to encode, at little per-frame cost
        noise = np.rint(rng.standard_normal((noise_size[1], noise_size[0], 1), dtype=np.float32) * 4.0)
        self.noise_up = np.clip(noise, 0, 255).astype(np.uint8).repeat(3, axis=2)
        self.noise_down = np.clip(-noise, 0, 255).astype(np.uint8).repeat(3, axis=2)

    def rasterise(self, K: CameraIntrinsics, pose: Matrix4) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """(H, W) face seen by each pixel centre of ``K`` (-1: none) and (H, W) its depth along the optical axis
        (metres; inf: none)."""
        rotation, position = pose[:3, :3], pose[:3, 3]
        camera = (self.corners - position) @ rotation  # (S, 4, 3) corners in the camera frame
        normal = self.normals @ rotation
        offset = self.offsets - self.normals @ position  # plane normal . p = offset, p in the camera frame
        x, y, z = camera[..., 0], camera[..., 1], camera[..., 2]
        # the image's edges (half a pixel beyond the outer pixel centres) as planes through the camera centre
        left, right = (-0.5 - K.cx) / K.fx, (K.width - 0.5 - K.cx) / K.fx
        top, bottom = (-0.5 - K.cy) / K.fy, (K.height - 0.5 - K.cy) / K.fy
        out_of_view = (
            (z < NEAR_M).all(1)
            | (x < z * left).all(1)
            | (x > z * right).all(1)
            | (y < z * top).all(1)
            | (y > z * bottom).all(1)
        )
        # a solid face seen from behind is hidden by its box's other faces (the camera is never inside a box)
        facing = ~self.solid | (offset < 0)
        shown = np.flatnonzero(~out_of_view & facing & (np.abs(offset) > 1e-12))
        outlines = _outlines(camera[shown])
        with np.errstate(divide="ignore", invalid="ignore"):
            px = K.fx * outlines[..., 0] / outlines[..., 2] + K.cx
            py = K.fy * outlines[..., 1] / outlines[..., 2] + K.cy
        # inverse depth of a face at pixel (c, r): alpha * c + beta * r + gamma
        n, d = normal[shown], offset[shown]
        alpha, beta = n[:, 0] / (K.fx * d), n[:, 1] / (K.fy * d)
        gamma = (n[:, 2] - n[:, 0] * K.cx / K.fx - n[:, 1] * K.cy / K.fy) / d
        span_face, rows, first, last = _spans(px, py, K.width, K.height)
        counts = np.maximum(last - first + 1, 0)
        # candidate k of a span covers pixel (index) k + base; its inverse depth is slope * pixel + intercept
        row_start = rows * K.width
        base = row_start + first - (np.cumsum(counts) - counts)
        slope = alpha[span_face]
        intercept = beta[span_face] * rows + gamma[span_face] - slope * row_start
        pixel = np.arange(counts.sum()) + np.repeat(base, counts)
        inverse = (np.repeat(slope, counts) * pixel + np.repeat(intercept, counts)).astype(np.float32)
        # z-buffer in one pass: a candidate's key is its inverse depth's bits (positive floats order as their bits)
        # over its face; the greatest key of a pixel is its nearest face (0: none)
        key = (inverse.view(np.int32).astype(np.int64) << 32) | np.repeat(shown[span_face], counts)
        nearest = np.zeros(K.width * K.height, dtype=np.int64)
        np.maximum.at(nearest, pixel, key)
        face = np.where(nearest > 0, nearest & 0xFFFFFFFF, -1)
        with np.errstate(divide="ignore"):
            depth = 1.0 / (nearest >> 32).astype(np.int32).view(np.float32)
        return face.reshape(K.height, K.width), depth.reshape(K.height, K.width)

    def shaded(self, face: NDArray[np.int64], depth: NDArray[np.floating[Any]]) -> NDArray[np.uint8]:
        """(H, W, 3) RGB of a rasterised frame: each face's lit colour, darker with depth."""
        falloff = (1.0 / (1.0 + 0.03 * depth)).astype(np.float32)  # 0 where nothing is seen (depth inf)
        rgba = np.take(self.face_rgba, face).view(np.uint8).reshape(*face.shape, 4)
        return np.asarray(
            cv2.multiply(cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB), cv2.merge([falloff] * 3), dtype=cv2.CV_8U),
            dtype=np.uint8,
        )

    def colour_frame(self, shaded: NDArray[np.uint8], drawn: CameraIntrinsics, K: CameraIntrinsics) -> ImageRGB:
        """The colour frame at ``K`` from a frame shaded at ``drawn`` (same pose): resampled through both cameras'
        intrinsics (bilinear), sensor noise added where ``K`` has the noise pattern's size."""
        sx, sy = drawn.fx / K.fx, drawn.fy / K.fy  # K's pixel -> drawn's pixel
        to_drawn = np.array([[sx, 0.0, drawn.cx - sx * K.cx], [0.0, sy, drawn.cy - sy * K.cy]])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        image = cv2.warpAffine(shaded, to_drawn, (K.width, K.height), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        if image.shape == self.noise_up.shape:
            cv2.add(image, self.noise_up, dst=image)
            cv2.subtract(image, self.noise_down, dst=image)
        return np.asarray(image, dtype=np.uint8)

    def color(self, K: CameraIntrinsics, pose: Matrix4, draw_scale: float = 0.5) -> ImageRGB:
        """Colour frame at ``K``'s size, drawn at ``draw_scale`` of it and upscaled (VLM processors downscale
        frames far below camera sizes, so drawing every pixel buys nothing but time)."""
        small = K.scaled_to(round(K.width * draw_scale), round(K.height * draw_scale))
        return self.colour_frame(self.shaded(*self.rasterise(small, pose)), small, K)

    def depth(self, K: CameraIntrinsics, pose: Matrix4) -> DepthMM:
        return depth_mm(self.rasterise(K, pose)[1])

    def frame(self, color_k: CameraIntrinsics, depth_k: CameraIntrinsics, pose: Matrix4) -> tuple[ImageRGB, DepthMM]:
        """Colour and depth frames of one pose from one rasterisation at the depth camera (ScanNet's two cameras
        see the same field of view; the colour frame is its shading resampled to ``color_k``)."""
        face, depth = self.rasterise(depth_k, pose)
        return self.colour_frame(self.shaded(face, depth), depth_k, color_k), depth_mm(depth)


def depth_mm(depth: NDArray[np.floating[Any]]) -> DepthMM:
    """(H, W) uint16 depth in millimetres (0: no return) of (H, W) depths along the optical axis in metres."""
    mm: NDArray[np.floating[Any]] = np.rint(depth * 1000.0)
    mm[np.isinf(mm)] = 0  # no return
    np.minimum(mm, 65535, out=mm)
    return mm.astype(np.uint16)


def _outlines(corners: FloatArray) -> FloatArray:
    """(P, 5, 3) outline of each of (P, 4, 3) camera-frame parallelograms clipped to ``z >= NEAR_M``, in order
    around it, its last vertex repeated to fill 5 (clipping a corner off adds one)."""
    out = np.concatenate([corners, corners[:, -1:]], axis=1)
    for k in np.flatnonzero((corners[..., 2] < NEAR_M).any(axis=1)):
        kept: list[FloatArray] = []
        for a, b in zip(corners[k], np.roll(corners[k], -1, axis=0), strict=True):
            if a[2] >= NEAR_M:
                kept.append(a)
            if (a[2] >= NEAR_M) != (b[2] >= NEAR_M):
                kept.append(a + (b - a) * (NEAR_M - a[2]) / (b[2] - a[2]))
        out[k] = np.array(kept + [kept[-1]] * (5 - len(kept)))
    return out


def _spans(
    px: FloatArray, py: FloatArray, width: int, height: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Per pixel row of each convex outline (P, V vertices at pixel coordinates ``px``, ``py``): the outline, the
    row, and its first and last pixel column whose centre lies inside (last < first: none), clipped to the image.

    Inside a convex outline, a row's pixel centres lie right of every edge that bounds the outline on the left and
    left of every edge that bounds it on the right; an edge's bound at row ``r`` is where its line crosses it."""
    tol = OUTLINE_TOLERANCE_PX
    top = np.maximum(np.ceil(py.min(axis=1) - tol), 0).astype(np.int64)
    bottom = np.minimum(np.floor(py.max(axis=1) + tol), height - 1).astype(np.int64)
    row_counts = np.maximum(bottom - top + 1, 0)
    outline = np.repeat(np.arange(len(px)), row_counts)
    rows = np.arange(row_counts.sum()) - np.repeat(np.cumsum(row_counts) - row_counts - top, row_counts)
    # per edge (a -> b): its line's x at row r is x_a + run * (r - y_a); which side of the outline it bounds
    # follows from the outline's orientation (signed area); edges along a row bound nothing
    dx, dy = np.roll(px, -1, axis=1) - px, np.roll(py, -1, axis=1) - py
    orientation = np.sign((px * np.roll(py, -1, axis=1) - np.roll(px, -1, axis=1) * py).sum(axis=1, keepdims=True))
    slanted = np.abs(dy) > 1e-9
    run = np.where(slanted, dx / np.where(slanted, dy, 1.0), 0.0)
    bound = np.where(slanted, orientation * dy, 0.0)  # > 0: bounds on the right, < 0: on the left
    at = px[outline] + run[outline] * (rows[:, None] - py[outline])
    first = np.ceil(np.where(bound[outline] < 0, at, -np.inf).max(axis=1) - tol)
    last = np.floor(np.where(bound[outline] > 0, at, np.inf).min(axis=1) + tol)
    first = np.maximum(first, 0).astype(np.int64)
    last = np.minimum(last, width - 1).astype(np.int64)
    return outline, rows, first, last
