"""Binary little-endian PLY, as ScanNet's ``_vh_clean_2.ply`` stores it (vertex xyz + rgb(a) [+ extras],
faces as ``list uchar int vertex_indices``). Parsed with numpy structured dtypes: no copy of vertex order
is lost (unlike readers that merge duplicate vertices) and every failure says what is wrong."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ladderdata.sources.files import ascii_int
from ladderdata.typed import Colors, Faces, Points3

_PLY_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}


class PlyFormatError(ValueError):
    """The bytes are not a PLY mesh this reader understands."""


@dataclass(frozen=True)
class TriangleMesh:
    """A triangle mesh with per-vertex colours."""

    vertices: Points3
    """(V, 3) float64 positions."""
    faces: Faces
    """(F, 3) int64 vertex indices."""
    colors: Colors
    """(V, 3) uint8 RGB."""


#: Most vertices or faces a mesh may declare (hi-res ScanNet meshes: ~1.5M vertices, ~3M faces).
MAX_ELEMENTS = 50_000_000


def _header_elements(header: list[str]) -> list[tuple[str, int, list[list[str]]]]:
    """(name, count, property token lists) of each element, every number and type checked."""
    elements: list[tuple[str, int, list[list[str]]]] = []
    for line in header:
        tok = line.split()
        if tok[:1] == ["element"]:
            count = ascii_int(tok[2]) if len(tok) == 3 else None
            if count is None:
                raise PlyFormatError(f"malformed element line {line.strip()[:60]!r}")
            if count > MAX_ELEMENTS:
                raise PlyFormatError(f"element '{tok[1]}' declares {count:,} items (at most {MAX_ELEMENTS:,})")
            elements.append((tok[1], count, []))
        elif tok[:1] == ["property"] and elements:
            types = tok[2:4] if tok[1:2] == ["list"] else tok[1:2]
            if len(tok) != (5 if tok[1:2] == ["list"] else 3) or any(t not in _PLY_TYPES for t in types):
                raise PlyFormatError(f"malformed property line {line.strip()[:60]!r}")
            elements[-1][2].append(tok)
    return elements


def read_ply(path: Path) -> TriangleMesh:
    """Read a binary little-endian triangle mesh; raises :class:`PlyFormatError` on anything malformed
    (header numbers and types, truncated data, non-finite vertices, face indices out of range)."""
    data = Path(path).read_bytes()
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply") or end < 0:
        raise PlyFormatError("not a PLY file (missing 'ply' magic or 'end_header')")
    header = data[:end].decode("ascii", errors="replace").splitlines()
    body = memoryview(data)[end + len(b"end_header\n") :]
    if "format binary_little_endian 1.0" not in header:
        raise PlyFormatError("only 'binary_little_endian 1.0' PLY is supported")
    offset = 0
    vertices: np.ndarray | None = None
    faces: np.ndarray | None = None
    for name, count, props in _header_elements(header):
        if name == "vertex":
            vertices = _records(body, offset, _vertex_dtype(props), count, "vertex")
            offset += vertices.nbytes
        elif name == "face":
            raw = _records(body, offset, _face_dtype(props), count, "face")
            if count and not np.all(raw["n"] == 3):
                raise PlyFormatError("only triangle faces are supported")
            faces = raw["idx"].astype(np.int64)
            offset += raw.nbytes
        else:
            raise PlyFormatError(f"unexpected element '{name}' (expected vertex and face)")
    return _triangle_mesh(vertices, faces)


def _vertex_dtype(props: list[list[str]]) -> np.dtype[np.void]:
    """The record of one vertex: its properties (scalars only) in header order, little-endian."""
    fields = []
    for tok in props:
        if tok[1] == "list":
            raise PlyFormatError("list properties on vertices are not supported")
        fields.append((tok[2], "<" + _PLY_TYPES[tok[1]]))
    try:
        return np.dtype(fields)
    except (ValueError, TypeError) as e:
        raise PlyFormatError(f"bad vertex properties ({e})") from None


def _face_dtype(props: list[list[str]]) -> np.dtype[np.void]:
    """The record of one triangle: its corner count and 3 vertex indices (``list COUNT_TYPE INDEX_TYPE``)."""
    tok = props[0] if props else []
    if len(props) != 1 or tok[:2] != ["property", "list"]:
        raise PlyFormatError("face element must have exactly one list property")
    count_t, index_t = "<" + _PLY_TYPES[tok[2]], "<" + _PLY_TYPES[tok[3]]
    return np.dtype([("n", count_t), ("idx", index_t, (3,))])


def _records(body: memoryview, offset: int, dtype: np.dtype[np.void], count: int, what: str) -> np.ndarray:
    """(count,) records of ``dtype`` at ``offset`` of ``body`` (a view, no copy); too few bytes left is an error."""
    need = dtype.itemsize * count
    if len(body) - offset < need:
        raise PlyFormatError(f"truncated {what} data: need {need} bytes, have {len(body) - offset}")
    return np.frombuffer(body, dtype=dtype, count=count, offset=offset)


def _triangle_mesh(vertices: np.ndarray | None, faces: np.ndarray | None) -> TriangleMesh:
    """The mesh of the vertex records and (F, 3) faces read: faces in range, xyz finite, grey without colours."""
    if vertices is None:
        raise PlyFormatError("no vertex element")
    if faces is None or len(faces) == 0:
        raise PlyFormatError("mesh has no faces")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise PlyFormatError(f"face indices out of range [0, {len(vertices)})")
    names = vertices.dtype.names or ()
    for required in ("x", "y", "z"):
        if required not in names:
            raise PlyFormatError(f"vertex property '{required}' missing")
    xyz = np.stack([vertices["x"], vertices["y"], vertices["z"]], axis=1).astype(np.float64)
    bad = ~np.isfinite(xyz).all(axis=1)
    if bad.any():
        raise PlyFormatError(f"{int(bad.sum())} vertices have NaN or infinite coordinates")
    if all(c in names for c in ("red", "green", "blue")):
        rgb = np.stack([vertices["red"], vertices["green"], vertices["blue"]], axis=1).astype(np.uint8)
    else:
        rgb = np.full((len(xyz), 3), 128, dtype=np.uint8)
    return TriangleMesh(vertices=xyz, faces=faces, colors=rgb)


def write_ply(path: Path, mesh: TriangleMesh) -> None:
    """Write a mesh in ScanNet's layout: float xyz, uchar rgba, ``list uchar int`` faces."""
    v = np.empty(
        len(mesh.vertices),
        dtype=[
            ("x", "<f4"),
            ("y", "<f4"),
            ("z", "<f4"),
            ("red", "u1"),
            ("green", "u1"),
            ("blue", "u1"),
            ("alpha", "u1"),
        ],
    )
    v["x"], v["y"], v["z"] = mesh.vertices.T.astype(np.float32)
    v["red"], v["green"], v["blue"] = mesh.colors[:, :3].T
    v["alpha"] = 255
    f = np.empty(len(mesh.faces), dtype=[("n", "u1"), ("idx", "<i4", (3,))])
    f["n"] = 3
    f["idx"] = mesh.faces
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(v)}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nproperty uchar alpha\n"
        f"element face {len(f)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    Path(path).write_bytes(header.encode("ascii") + v.tobytes() + f.tobytes())
