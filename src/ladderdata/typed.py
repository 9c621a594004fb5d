"""Named array types. The shape of each array is part of its name's documentation.

Conventions: ``N`` points, ``F`` faces, ``H x W`` images. All geometric floats are float64 metres in the
world frame unless a name says otherwise (``Pixels`` are (u, v) in image pixels).
"""

from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray

FloatArray: TypeAlias = NDArray[np.float64]
"""Any float64 array."""
IntArray: TypeAlias = NDArray[np.int64]
"""Any int64 array."""
BoolArray: TypeAlias = NDArray[np.bool_]
"""Any boolean array."""

Points3: TypeAlias = NDArray[np.float64]
"""(N, 3) float64 points, metres."""
Points2: TypeAlias = NDArray[np.float64]
"""(N, 2) float64 points (xy in metres, or pixels for ``Pixels``)."""
Pixels: TypeAlias = NDArray[np.float64]
"""(N, 2) float64 image coordinates (u = column, v = row); pixel centres at integers (OpenCV)."""
Faces: TypeAlias = NDArray[np.int64]
"""(F, 3) int64 vertex indices of triangles."""
Colors: TypeAlias = NDArray[np.uint8]
"""(N, 3) or (N, 4) uint8 RGB(A)."""
Matrix4: TypeAlias = NDArray[np.float64]
"""(4, 4) float64 homogeneous transform."""
Matrix3: TypeAlias = NDArray[np.float64]
"""(3, 3) float64 matrix."""
Poses: TypeAlias = NDArray[np.float64]
"""(T, 4, 4) float64 camera-to-world transforms; invalid ones may hold inf or NaN."""
ImageRGB: TypeAlias = NDArray[np.uint8]
"""(H, W, 3) uint8 colour image."""
DepthMM: TypeAlias = NDArray[np.uint16]
"""(H, W) uint16 depth in millimetres, 0 = invalid."""
DepthM: TypeAlias = NDArray[np.float32]
"""(H, W) float32 depth in metres along the optical axis, inf = no hit."""
