"""Colour and depth frames of a synthetic scene, as its sensors see them.

The scene is made of planar parallelograms (box faces, wall/floor/ceiling panels: the faces its mesh grids,
:class:`~ladderdata.synth.mesh.SceneMesh`), so a frame is rasterised from them in closed form instead of ray
casting the mesh: each face in view is clipped to the near plane and projected; per pixel row, the pixel
centres inside its outline form one span; each covered pixel centre gets the face's inverse depth, linear in the
pixel coordinates for a plane, and the nearest face wins (a z-buffer). Depth and face per pixel centre equal a
ray cast of every pixel of the mesh (tests/test_synthetic.py checks this against open3d) at a fraction of its
cost; colour is the face's shaded colour, drawn at the depth camera's size and resampled to the colour camera's.
Colour frames are in OpenCV's BGR channel order: every writer encodes them with OpenCV.
"""

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ladderdata.geometry.camera import CameraIntrinsics
from ladderdata.synth.mesh import SceneMesh
from ladderdata.typed import DepthMM, FloatArray, Matrix4

#: Faces are clipped this far (metres) in front of the camera centre before they are projected.
NEAR_M = 1e-3
#: Pixel centres this close (pixels) to a face's outline count as inside: neighbouring faces overlap by it rather
#: than leave a crack, and the z-buffer picks the nearer one.
OUTLINE_TOLERANCE_PX = 1e-6
#: Direction of the light that shades the faces (unnormalised).
LIGHT = np.array([0.3, 0.5, 0.81])
#: A z-buffer entry is a float64 inverse depth whose lowest ``FACE_BITS`` mantissa bits hold its face + 1 (0: no
#: face): positive floats order as their bits, so the greatest entry of a pixel is its nearest face, and the
#: inverse depth keeps 36 bits (relative error 2e-11).
FACE_BITS = 16
_FACE_MASK = (1 << FACE_BITS) - 1
#: Candidate pixels (of covering spans) drawn into the z-buffer at a time: about 256 KB per array.
CHUNK = 32768
#: Standard deviation (grey levels) of the sensor noise added to colour frames at the size they are drawn, before
#: they are resampled to the colour camera's: upsampled with them, as a Bayer sensor's demosaicing blurs it.
NOISE_SIGMA = 4.0
#: The noise pattern is this many pixels larger than a frame each way; each frame takes a window of it at an offset
#: drawn from the renderer's generator (in frame order: deterministic for a seed), so the noise changes per frame.
NOISE_MARGIN = 64

Frame = NDArray[np.uint8]
"""(H, W, 3) colour frame, BGR."""


class FrameRenderer:
    """Colour and depth frames of one scene by pinhole cameras ``K`` at camera-to-world poses (OpenCV axes)."""

    def __init__(self, mesh: SceneMesh, rng: np.random.Generator, noise_size: tuple[int, int] = (0, 0)) -> None:
        """``noise_size``: (width, height) of the drawn frames that get sensor noise ((0, 0): none)."""
        if len(mesh.faces) >= _FACE_MASK:
            raise ValueError(f"{len(mesh.faces)} faces: the z-buffer holds at most {_FACE_MASK - 1}")
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
        # (S + 1,) lit BGR of each face packed as one 4-byte word (one gather a frame), last for pixels that see
        # nothing (face -1): black
        lit = np.zeros((len(self.corners) + 1, 4), dtype=np.uint8)
        lit[:-1, :3] = mesh.face_colors[:, ::-1] * shade[:, None]
        self.face_bgra = lit.view(np.uint32).ravel()
        self.rng = rng
        self._range, self._range_float = np.arange(0), np.arange(0.0)
        # the noise, added and subtracted as its positive and negative parts (saturating)
        width, height = noise_size
        margin = NOISE_MARGIN if width and height else 0
        noise = np.rint(rng.standard_normal((height + margin, width + margin, 1), dtype=np.float32) * NOISE_SIGMA)
        self.noise_up = np.clip(noise, 0, 255).astype(np.uint8).repeat(3, axis=2)
        self.noise_down = np.clip(-noise, 0, 255).astype(np.uint8).repeat(3, axis=2)

    def zbuffer(self, K: CameraIntrinsics, pose: Matrix4) -> NDArray[np.int64]:
        """(H * W,) z-buffer of a frame (row-major; entries as ``FACE_BITS`` says)."""
        rotation, position = pose[:3, :3], pose[:3, 3]
        # (S, 4, 3) corners in the camera frame (one product for all: a stacked one is a product per face)
        camera = ((self.corners - position).reshape(-1, 3) @ rotation).reshape(self.corners.shape)
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
        # the inverse depth at pixel column first + j of a span's row is at_first + slope * j
        slope = alpha[span_face]
        at_first = beta[span_face] * rows + gamma[span_face] + slope * first
        start = rows * K.width + first
        face = shown[span_face] + 1
        nearest = np.zeros(K.width * K.height, dtype=np.int64)
        # spans in chunks of about CHUNK candidates, so that each chunk's arrays stay in the processor's cache (the
        # candidates of a frame are memory-bound: 3x slower drawn at once)
        ends = np.cumsum(counts)
        cuts = [0, *np.unique(np.searchsorted(ends, np.arange(CHUNK, ends[-1] if len(ends) else 0, CHUNK)) + 1)]
        for lo, hi in zip(cuts, [*cuts[1:], len(counts)], strict=True):
            self._draw(nearest, start[lo:hi], slope[lo:hi], at_first[lo:hi], face[lo:hi], counts[lo:hi])
        return nearest

    def _draw(
        self,
        nearest: NDArray[np.int64],
        start: NDArray[np.int64],
        slope: FloatArray,
        at_first: FloatArray,
        face: NDArray[np.int64],
        counts: NDArray[np.int64],
    ) -> None:
        """Spans (each ``counts`` pixels from pixel index ``start``, inverse depth ``at_first + slope * j`` at
        its j-th, of ``face`` + 1) into the z-buffer ``nearest``."""
        # candidate k (of these spans') is pixel k + start - before of its span (before: the candidates of the
        # spans ahead of it) at inverse depth slope * k + at_first - slope * before (k counts up from a range
        # kept from frame to frame: no pass to fill it)
        before = np.cumsum(counts) - counts
        k, k_float = self._candidate_range(int(counts.sum()))
        pixel = np.repeat(start - before, counts)
        pixel += k
        inverse = np.repeat(slope, counts)
        inverse *= k_float
        inverse += np.repeat(at_first - slope * before, counts)
        entry = inverse.view(np.int64)
        entry &= ~_FACE_MASK
        entry |= np.repeat(face, counts)
        np.maximum.at(nearest, pixel, entry)

    def _candidate_range(self, n: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """0, 1, ..., n - 1 as int64 and as float64 (read-only views of ranges kept from frame to frame)."""
        if len(self._range) < n:
            self._range = np.arange(n + n // 4)
            self._range_float = self._range.astype(np.float64)
            self._range.setflags(write=False)
            self._range_float.setflags(write=False)
        return self._range[:n], self._range_float[:n]

    def rasterise(self, K: CameraIntrinsics, pose: Matrix4) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """(H, W) face seen by each pixel centre of ``K`` (-1: none) and (H, W) its inverse depth along the optical
        axis (1/metres; 0: none)."""
        nearest = self.zbuffer(K, pose)
        shape = (K.height, K.width)
        return faces_of(nearest).reshape(shape), inverse_depths_of(nearest).reshape(shape)

    def shaded(self, face: NDArray[np.integer[Any]], inverse_depth: NDArray[np.floating[Any]]) -> Frame:
        """(H, W, 3) BGR of a rasterised frame: each face's lit colour, darker with depth (by 1 / (1 + 0.03
        depth), in 8 bits); ``inverse_depth`` 1/metres, 0 where nothing is seen."""
        falloff = cv2.divide(inverse_depth, inverse_depth + 0.03, scale=255.0, dtype=cv2.CV_8U)
        bgra = np.take(self.face_bgra, face).view(np.uint8).reshape(*face.shape, 4)
        bgr = cv2.cvtColor(bgra, cv2.COLOR_BGRA2BGR)
        return np.asarray(cv2.multiply(bgr, cv2.cvtColor(falloff, cv2.COLOR_GRAY2BGR), scale=1 / 255), dtype=np.uint8)

    def colour_frame(self, shaded: Frame, drawn: CameraIntrinsics, K: CameraIntrinsics) -> Frame:
        """The colour frame at ``K`` from a frame shaded at ``drawn`` (same pose): sensor noise added where
        ``drawn`` has the noise pattern's size (to ``shaded``, in place), resampled through both cameras'
        intrinsics (bilinear)."""
        height, width = self.noise_up.shape[:2]
        if (drawn.width + NOISE_MARGIN, drawn.height + NOISE_MARGIN) == (width, height):
            dx, dy = (int(v) for v in self.rng.integers(0, NOISE_MARGIN + 1, size=2))
            window = np.s_[dy : dy + drawn.height, dx : dx + drawn.width]
            cv2.add(shaded, self.noise_up[window], dst=shaded)
            cv2.subtract(shaded, self.noise_down[window], dst=shaded)
        sx, sy = drawn.fx / K.fx, drawn.fy / K.fy  # K's pixel -> drawn's pixel
        to_drawn = np.array([[sx, 0.0, drawn.cx - sx * K.cx], [0.0, sy, drawn.cy - sy * K.cy]])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        image = cv2.warpAffine(shaded, to_drawn, (K.width, K.height), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        return np.asarray(image, dtype=np.uint8)

    def color(self, K: CameraIntrinsics, pose: Matrix4, draw_scale: float = 0.5) -> Frame:
        """BGR colour frame at ``K``'s size, drawn at ``draw_scale`` of it and upscaled (VLM processors downscale
        frames far below camera sizes, so drawing every pixel buys nothing but time)."""
        small = K.scaled_to(round(K.width * draw_scale), round(K.height * draw_scale))
        return self.colour_frame(self.shaded(*self.rasterise(small, pose)), small, K)

    def depth(self, K: CameraIntrinsics, pose: Matrix4) -> DepthMM:
        return depth_mm_of_inverse(inverse_depths_of(self.zbuffer(K, pose))).reshape(K.height, K.width)

    def frame(self, color_k: CameraIntrinsics, depth_k: CameraIntrinsics, pose: Matrix4) -> tuple[Frame, DepthMM]:
        """BGR colour and depth frames of one pose from one rasterisation at the depth camera (ScanNet's two
        cameras see the same field of view; the colour frame is its shading resampled to ``color_k``)."""
        face, inverse = self.rasterise(depth_k, pose)
        return self.colour_frame(self.shaded(face, inverse), depth_k, color_k), depth_mm_of_inverse(inverse)


def encode_jpeg(frame: Frame, quality: int = 90) -> bytes:
    """JPEG bytes of a BGR colour frame."""
    ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buffer)


def faces_of(zbuffer: NDArray[np.int64]) -> NDArray[np.int64]:
    """The face of each z-buffer entry (-1: none)."""
    face: NDArray[np.int64] = zbuffer & _FACE_MASK
    face -= 1
    return face


def inverse_depths_of(zbuffer: NDArray[np.int64]) -> NDArray[np.float64]:
    """The inverse depth (1/metres; 0: none) of each z-buffer entry: the entry read as a float64 (its lowest
    ``FACE_BITS`` hold a face: a relative error under 2^-36, far below a millimetre)."""
    return zbuffer.view(np.float64)


def depth_mm_of_inverse(inverse: NDArray[np.floating[Any]]) -> DepthMM:
    """uint16 depth in millimetres (0: no return) of inverse depths along the optical axis (1/metres; 0: none):
    one rounding division (OpenCV saturates what is beyond 65535 mm and the division by 0)."""
    mm = np.asarray(cv2.divide(1000.0, inverse, dtype=cv2.CV_16U), dtype=np.uint16)
    mm[inverse == 0] = 0  # no return
    return mm


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
    # follows from the outline's orientation (signed area); edges along a row bound nothing. Edges are laid out
    # (V, rows) so that each step is one pass over contiguous rows.
    dx, dy = np.roll(px, -1, axis=1) - px, np.roll(py, -1, axis=1) - py
    orientation = np.sign((px * np.roll(py, -1, axis=1) - np.roll(px, -1, axis=1) * py).sum(axis=1, keepdims=True))
    slanted = np.abs(dy) > 1e-9
    run = np.where(slanted, dx / np.where(slanted, dy, 1.0), 0.0)
    bound = np.where(slanted, orientation * dy, 0.0)  # > 0: bounds on the right, < 0: on the left
    # an edge that does not bound a side adds -inf to the left bounds' maximum, +inf to the right bounds' minimum
    left_only = np.where(bound < 0, 0.0, -np.inf)
    right_only = np.where(bound > 0, 0.0, np.inf)
    per_row = [np.repeat(a.T, row_counts, axis=1) for a in (px, py, run, left_only, right_only)]
    x0, y0, slope, not_left, not_right = per_row
    at = rows - y0
    at *= slope
    at += x0
    first = np.ceil((at + not_left).max(axis=0) - tol)
    last = np.floor((at + not_right).min(axis=0) + tol)
    first = np.maximum(first, 0).astype(np.int64)
    last = np.minimum(last, width - 1).astype(np.int64)
    return outline, rows, first, last
