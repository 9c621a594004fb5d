"""Colour and depth frames of a synthetic scene's mesh, as its sensors see them."""

import cv2
import numpy as np
from numpy.typing import NDArray

from ladderdata.geometry.camera import CameraIntrinsics, pixel_directions, ray_z_factor
from ladderdata.geometry.raycast import TriangleScene
from ladderdata.sources.ply import TriangleMesh
from ladderdata.typed import DepthMM, ImageRGB, Matrix4


class FrameRenderer:
    """Colour and depth frames of a mesh, traced on a half-resolution ray grid refined at surface edges.

    A *surface* is the set of triangles on one plane with one colour (a gridded quad of the synthetic meshes). A
    frame casts every other pixel of every other row; a pixel whose two or four enclosing samples hit the same
    surface hits it too (a quad is convex; only something under 2 pixels wide between the samples could hide
    it), so its range is the surface's plane intersected with its ray, in closed form; the other pixels (edges,
    the last row and column) are cast. About a third of the rays of a full cast, same depths (to float rounding).
    """

    def __init__(self, mesh: TriangleMesh, rng: np.random.Generator, noise_size: tuple[int, int] = (0, 0)) -> None:
        self.mesh = mesh
        # a fixed sensor-noise pattern for colour frames of ``noise_size`` (width, height): JPEG gets texture to
        # encode, at no per-frame cost
        self.noise = rng.normal(0.0, 4.0, size=(noise_size[1], noise_size[0], 1)).astype(np.float32)
        self.scene = TriangleScene(mesh.vertices, mesh.faces)
        light = np.array([0.3, 0.5, 0.81])
        tri = mesh.vertices[mesh.faces]
        normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        shade = 0.45 + 0.55 * np.abs(normals @ (light / np.linalg.norm(light)))
        face_rgb = mesh.colors[mesh.faces[:, 0]] * shade[:, None]
        # (F, 4) plane n . x = d of each triangle; triangles with the same plane and colour are one surface
        planes = np.concatenate([normals, (normals * tri[:, 0]).sum(axis=1, keepdims=True)], axis=1)
        keys = np.round(np.concatenate([planes * 1e5, face_rgb], axis=1)).astype(np.int64)
        rows = keys.view(np.dtype((np.void, keys.itemsize * keys.shape[1]))).ravel()  # one value per row: 5x faster
        _, first, surface = np.unique(rows, return_index=True, return_inverse=True)
        self.surface = surface.reshape(-1).astype(np.int64)
        """(F,) surface of each triangle."""
        self.surface_plane = planes[first]
        """(S, 4) plane (unit normal, offset) of each surface."""
        # (S + 1, 3): colour of each surface, last row black for rays that hit nothing (surface -1)
        self.surface_rgb = np.vstack([face_rgb[first], [[0, 0, 0]]]).astype(np.float32)

    def trace(self, K: CameraIntrinsics, pose: Matrix4) -> tuple[np.ndarray, NDArray[np.float32]]:
        """(H, W) surface seen by each pixel of ``K`` (-1: nothing) and (H, W) range along its ray (inf: none)."""
        dirs = pixel_directions(K)
        rotation, origin = pose[:3, :3].astype(np.float32), pose[:3, 3].astype(np.float32)
        samples = np.ascontiguousarray(dirs[::2, ::2])
        rays = np.concatenate([np.broadcast_to(origin, samples.shape), samples @ rotation.T], axis=-1)
        prim = self.scene.cast(rays).triangle
        h, w = prim.shape
        # the samples' surfaces, each repeated over 2x2 pixels, padded by two rows and columns that match nothing:
        # pixel (y, x)'s enclosing samples are at (y, x), (y, x + 1), (y + 1, x), (y + 1, x + 1) of ``spread``
        padded = np.full((h + 1, w + 1), -2, dtype=np.int32)
        padded[:h, :w] = np.where(prim >= 0, self.surface[prim], -1)
        spread = padded.repeat(2, axis=0).repeat(2, axis=1)
        height, width = K.height, K.width
        seen = spread[:height, :width]
        inside = (
            (seen >= 0)
            & (spread[:height, 1 : width + 1] == seen)
            & (spread[1 : height + 1, :width] == seen)
            & (spread[1 : height + 1, 1 : width + 1] == seen)
        )
        # plane n . x = d in the camera frame: (R^T n) . x_cam = d - n . o; range t = that / ((R^T n) . dir)
        plane = self.surface_plane
        normal_cam = (plane[:, :3] @ pose[:3, :3]).astype(np.float32)
        offset = (plane[:, 3] - plane[:, :3] @ pose[:3, 3]).astype(np.float32)
        surface = np.where(inside, seen, -1)
        with np.errstate(divide="ignore", invalid="ignore"):  # pixels not inside (surface -1) are cast below
            t_hit = offset[surface] / np.einsum("hwi,hwi->hw", normal_cam[surface], dirs)
        edge = ~inside
        edge_dirs = dirs[edge]
        edge_rays = np.concatenate([np.broadcast_to(origin, edge_dirs.shape), edge_dirs @ rotation.T], axis=-1)
        hits = self.scene.cast(edge_rays)
        t_hit[edge] = hits.t_hit
        surface[edge] = np.where(hits.triangle >= 0, self.surface[hits.triangle], -1)
        return surface, t_hit

    def shaded(self, surface: np.ndarray, t_hit: NDArray[np.float32]) -> NDArray[np.float32]:
        """(H, W, 3) float colour of a traced frame: surface colour, darker with range."""
        falloff = 1.0 / (1.0 + 0.03 * np.where(np.isfinite(t_hit), t_hit, 0.0))
        return np.asarray(self.surface_rgb[surface] * falloff[..., None], dtype=np.float32)

    def colour_frame(self, shaded: NDArray[np.float32], traced: CameraIntrinsics, K: CameraIntrinsics) -> ImageRGB:
        """The colour frame at ``K`` from a frame shaded at ``traced`` (same pose): resampled through both cameras'
        intrinsics (bilinear), sensor noise added where ``K`` has the noise pattern's size."""
        sx, sy = traced.fx / K.fx, traced.fy / K.fy  # K's pixel -> traced's pixel
        to_traced = np.array([[sx, 0.0, traced.cx - sx * K.cx], [0.0, sy, traced.cy - sy * K.cy]])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        warped = cv2.warpAffine(shaded, to_traced, (K.width, K.height), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        img: NDArray[np.float32] = np.asarray(warped, dtype=np.float32)
        if img.shape[:2] == self.noise.shape[:2]:
            img += self.noise
        return np.clip(img, 0, 255, out=img).astype(np.uint8)

    def color(self, K: CameraIntrinsics, pose: Matrix4, cast_scale: float = 0.5) -> ImageRGB:
        """Colour frame at ``K``'s size, traced at ``cast_scale`` of it and upscaled (VLM processors
        downscale frames far below 1296x968, so full-resolution tracing buys nothing but time)."""
        small = K.scaled_to(round(K.width * cast_scale), round(K.height * cast_scale))
        return self.colour_frame(self.shaded(*self.trace(small, pose)), small, K)

    def depth(self, K: CameraIntrinsics, pose: Matrix4) -> DepthMM:
        return depth_mm(self.trace(K, pose)[1], K)

    def frame(self, color_k: CameraIntrinsics, depth_k: CameraIntrinsics, pose: Matrix4) -> tuple[ImageRGB, DepthMM]:
        """Colour and depth frames of one pose from one trace at the depth camera (ScanNet's two cameras see the
        same field of view; the colour frame is that trace's shading resampled to ``color_k``)."""
        surface, t_hit = self.trace(depth_k, pose)
        return self.colour_frame(self.shaded(surface, t_hit), depth_k, color_k), depth_mm(t_hit, depth_k)


def depth_mm(t_hit: NDArray[np.float32], K: CameraIntrinsics) -> DepthMM:
    """(H, W) uint16 depth in millimetres (0: no return) of ranges ``t_hit`` along ``K``'s pixel rays."""
    z = t_hit * ray_z_factor(K)
    mm = np.where(np.isfinite(z), np.round(z * 1000.0), 0)
    return np.clip(mm, 0, 65535).astype(np.uint16)
