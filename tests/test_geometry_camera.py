import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ladderdata.geometry.camera import (
    CameraIntrinsics,
    backproject,
    camera_to_world,
    in_frustum,
    invert_pose,
    look_at,
    pixel_directions,
    pixel_rays,
    project,
    ray_z_factor,
    valid_pose_mask,
    world_to_camera,
)

K = CameraIntrinsics(fx=500.0, fy=480.0, cx=319.5, cy=239.5, width=640, height=480)
finite = st.floats(-5, 5, allow_nan=False)


def random_pose(rng: np.random.Generator) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = q, rng.normal(size=3)
    return T


@settings(max_examples=60, deadline=None)
@given(st.floats(-3, 3), st.floats(-3, 3), st.floats(0.1, 20), st.integers(0, 2**32 - 1))
def test_project_backproject_roundtrip(x: float, y: float, z: float, seed: int) -> None:
    T = random_pose(np.random.default_rng(seed))
    p_w = camera_to_world(np.array([[x, y, z]]), T)
    px, depth = project(world_to_camera(p_w, T), K)
    back = camera_to_world(backproject(px, depth, K), T)
    np.testing.assert_allclose(back, p_w, atol=1e-9)
    assert depth[0] == pytest.approx(z)


def test_projection_matches_pinhole_formula() -> None:
    px, z = project(np.array([[1.0, -0.5, 2.0]]), K)
    assert px[0, 0] == pytest.approx(500 * 0.5 + 319.5)
    assert px[0, 1] == pytest.approx(480 * -0.25 + 239.5)
    assert z[0] == 2.0


def test_points_behind_camera_have_no_pixel_and_are_outside_frustum() -> None:
    pts = np.array([[0.0, 0.0, -1.0], [0.0, 0.0, 1.0]])
    px, _ = project(pts, K)
    assert np.isnan(px[0]).all() and np.isfinite(px[1]).all()
    assert in_frustum(pts, np.eye(4), K).tolist() == [False, True]


def test_frustum_edges() -> None:
    # a point projecting just inside the last pixel column and one just outside
    inside = backproject(np.array([[639.4, 100.0]]), np.array([2.0]), K)
    outside = backproject(np.array([[639.6, 100.0]]), np.array([2.0]), K)
    assert in_frustum(np.vstack([inside, outside]), np.eye(4), K).tolist() == [True, False]


def test_pixel_rays_pass_through_pixel_centres() -> None:
    rng = np.random.default_rng(1)
    T = random_pose(rng)
    rays = pixel_rays(K, T)
    assert rays.shape == (480, 640, 6)
    for col, row in [(0, 0), (639, 479), (320, 17)]:
        o, d = rays[row, col, :3].astype(np.float64), rays[row, col, 3:].astype(np.float64)
        assert np.linalg.norm(d) == pytest.approx(1.0, abs=1e-6)
        px, depth = project(world_to_camera((o + 3.0 * d)[None], T), K)
        np.testing.assert_allclose(px[0], [col, row], atol=1e-3)
        assert depth[0] == pytest.approx(3.0 * ray_z_factor(K)[row, col], rel=1e-5)


def test_pixel_rays_are_the_same_bits_as_a_product_per_pixel() -> None:
    """pixel_rays multiplies the directions one axis per row; the float32 products and sums are those of
    ``direction @ R.T`` per pixel (what ray casting, and so every rendered view, depends on)."""
    rng = np.random.default_rng(3)
    for camera in (
        K,
        K.scaled_to(324, 242),
        CameraIntrinsics(fx=300.0, fy=310.0, cx=150.2, cy=99.0, width=301, height=199),
    ):
        directions = pixel_directions(camera)
        for _ in range(20):
            T = random_pose(rng)
            expected = np.concatenate(
                [
                    np.broadcast_to(T[:3, 3].astype(np.float32), directions.shape),
                    directions @ T[:3, :3].T.astype(np.float32),
                ],
                axis=-1,
            )
            np.testing.assert_array_equal(pixel_rays(camera, T), expected)


def test_scaled_intrinsics_keep_pixel_footprints() -> None:
    half = K.scaled_to(320, 240)
    p = np.array([[0.3, -0.2, 1.7]])
    full_px, _ = project(p, K)
    half_px, _ = project(p, half)
    # the pixel-centre convention: full-res coordinate u maps to (u + 0.5) / 2 - 0.5
    np.testing.assert_allclose(half_px, (full_px + 0.5) / 2 - 0.5, atol=1e-9)


def test_valid_pose_mask() -> None:
    good = random_pose(np.random.default_rng(3))
    inf = np.full((4, 4), -np.inf)
    nan = good.copy()
    nan[0, 3] = np.nan
    scaled = good.copy()
    scaled[:3, :3] *= 2
    assert valid_pose_mask(np.stack([good, inf, nan, scaled])).tolist() == [True, False, False, False]


def test_look_at_and_inverse() -> None:
    T = look_at(np.array([1.0, 2.0, 1.5]), np.array([4.0, 2.0, 1.5]))
    assert world_to_camera(np.array([[4.0, 2.0, 1.5]]), T)[0] == pytest.approx([0, 0, 3])
    # camera y (down in the image) points to world -z
    np.testing.assert_allclose(T[:3, 1], [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(invert_pose(T) @ T, np.eye(4), atol=1e-12)


def test_intrinsics_from_matrix_rejects_bad_shape() -> None:
    with pytest.raises(ValueError, match="3x3 or 4x4"):
        CameraIntrinsics.from_matrix(np.eye(2), 10, 10)
