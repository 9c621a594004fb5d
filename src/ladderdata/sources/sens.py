"""ScanNet ``.sens`` (version 4) streams: index once, seek per frame, decode only what is asked for.

Layout (little-endian): u32 version = 4; u64 n + n bytes sensor name; 4 x f32[16] (intrinsic_color,
extrinsic_color, intrinsic_depth, extrinsic_depth); i32 colour compression (0 raw, 1 png, 2 jpeg);
i32 depth compression (0 raw u16, 1 zlib u16); u32 colour width, height, depth width, height; f32 depth
shift; u64 frame count; then per frame: f32[16] camera-to-world, u64 colour timestamp, u64 depth
timestamp, u64 colour bytes, u64 depth bytes, colour data, depth data.
"""

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import cv2
import numpy as np
from isal import isal_zlib
from numpy.typing import NDArray

from ladderdata.sources.validate import MAX_IMAGE_SIDE
from ladderdata.typed import DepthMM, FloatArray, ImageRGB, IntArray, Matrix4, Poses

SENS_VERSION = 4
#: Longest sensor name a header may hold (ScanNet's: "StructureSensor"); beyond it the length field is garbage.
MAX_NAME_BYTES = 256
#: What ``isal_zlib.decompress`` raises on a bad stream (its stubs declare an instance, not the class).
INFLATE_ERROR = cast(type[Exception], isal_zlib.IsalError)
COLOR_COMPRESSION = {0: "raw", 1: "png", 2: "jpeg"}
DEPTH_COMPRESSION = {0: "raw", 1: "zlib_ushort"}
_FRAME_HEADER = struct.Struct("<16f4Q")
#: Depth values per metre a header may declare: from centimetres to 10 micrometres (ScanNet: 1000, millimetres).
DEPTH_SHIFT_RANGE = (100.0, 100_000.0)


class SensFormatError(ValueError):
    """The stream is not a readable version-4 ``.sens`` file (bad version, truncated, unknown codec)."""


@dataclass(frozen=True)
class SensHeader:
    sensor_name: str
    intrinsic_color: Matrix4
    extrinsic_color: Matrix4
    intrinsic_depth: Matrix4
    extrinsic_depth: Matrix4
    color_compression: int
    depth_compression: int
    color_width: int
    color_height: int
    depth_width: int
    depth_height: int
    depth_shift: float
    num_frames: int


@dataclass(frozen=True)
class SensIndex:
    """Where each frame's data lies in the file, plus its pose and timestamps (no image data)."""

    header: SensHeader
    poses: Poses
    """(T, 4, 4) camera-to-world, as stored (not axis-aligned)."""
    timestamps_color: NDArray[np.uint64]
    """(T,) uint64 colour timestamps as stored, microseconds. Often meaningless in ScanNet (all 0, or a few random
    values): ``SensFrames`` checks them before using them (docs/metadata.md#frame-times)."""
    color_offsets: IntArray
    color_sizes: IntArray
    depth_offsets: IntArray
    depth_sizes: IntArray


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise SensFormatError(f"file ends inside {what} (wanted {n} bytes, got {len(data)})")
    return data


def read_sens_index(path: Path) -> SensIndex:
    """Read the header and every frame header, seeking over image data (unbuffered: a buffered reader would fill
    8 kB at each of the frames' headers, 96 bytes apart from megabytes of images)."""
    size = Path(path).stat().st_size
    with open(path, "rb", buffering=0) as f:
        header = _read_header(f)
        n = header.num_frames
        room = (size - f.tell()) // _FRAME_HEADER.size
        if n > room:  # checked before allocating anything per frame
            raise SensFormatError(f"header says {n:,} frames but the file can hold at most {room:,}")
        frames, color_offsets = [], []  # each frame's header fields (16 pose values, timestamps, sizes), its colour
        pos = f.tell()
        for i in range(n):
            f.seek(pos)
            raw = f.read(_FRAME_HEADER.size)
            if len(raw) != _FRAME_HEADER.size:
                raise SensFormatError(f"file ends inside the header of frame {i} of {n}")
            vals = _FRAME_HEADER.unpack(raw)
            end = pos + _FRAME_HEADER.size + vals[18] + vals[19]  # Python ints: a garbage u64 cannot overflow
            if end > size:
                raise SensFormatError(f"file ends inside the image data of frame {i} of {n}")
            frames.append(vals)
            color_offsets.append(pos + _FRAME_HEADER.size)
            pos = end
    poses = np.array([vals[:16] for vals in frames], dtype=np.float64).reshape(n, 4, 4)
    ts = np.array([vals[16] for vals in frames], dtype=np.uint64)
    cs = np.array([vals[18] for vals in frames], dtype=np.int64)
    ds = np.array([vals[19] for vals in frames], dtype=np.int64)
    co = np.array(color_offsets, dtype=np.int64)
    return SensIndex(header, poses, ts, co, cs, co + cs, ds)


def _read_header(f: BinaryIO) -> SensHeader:
    """The file header, from the start of ``f`` (left just after it), every field checked."""
    (version,) = struct.unpack("<I", _read_exact(f, 4, "version"))
    if version != SENS_VERSION:
        raise SensFormatError(f"version {version}, expected {SENS_VERSION}")
    (name_len,) = struct.unpack("<Q", _read_exact(f, 8, "sensor name length"))
    if name_len > MAX_NAME_BYTES:
        raise SensFormatError(
            f"sensor name length {name_len} bytes (a sensor's name is a few words, at most {MAX_NAME_BYTES}): "
            "the header is corrupt"
        )
    name = _read_exact(f, name_len, "sensor name").decode("utf-8", errors="replace")
    if not name.isprintable():  # the length is wrong, and every field after it would be read misaligned
        raise SensFormatError(
            f"the sensor name ({name_len} bytes) is not text: its length is wrong and the header is corrupt"
        )
    mats = np.frombuffer(_read_exact(f, 4 * 64, "calibration"), dtype="<f4").reshape(4, 4, 4)
    cc, dc = struct.unpack("<ii", _read_exact(f, 8, "compression types"))
    cw, ch, dw, dh = struct.unpack("<4I", _read_exact(f, 16, "image sizes"))
    (shift,) = struct.unpack("<f", _read_exact(f, 4, "depth shift"))
    (n,) = struct.unpack("<Q", _read_exact(f, 8, "frame count"))
    m64 = mats.astype(np.float64)
    header = SensHeader(name, m64[0], m64[1], m64[2], m64[3], cc, dc, cw, ch, dw, dh, float(shift), n)
    _check_header(header)
    return header


def _check_header(h: SensHeader) -> None:
    """Compression types this reader decodes, plausible image sizes, a depth shift that is a depth unit."""
    if h.color_compression not in COLOR_COMPRESSION:
        raise SensFormatError(f"unsupported colour compression {h.color_compression}")
    if h.depth_compression not in DEPTH_COMPRESSION:
        raise SensFormatError(f"unsupported depth compression {h.depth_compression}")
    for what, width, height in (("colour", h.color_width, h.color_height), ("depth", h.depth_width, h.depth_height)):
        if not (1 <= width <= MAX_IMAGE_SIDE and 1 <= height <= MAX_IMAGE_SIDE):
            raise SensFormatError(f"header's {what} size {width}x{height} is not a plausible image size")
    shift = h.depth_shift
    if not (np.isfinite(shift) and DEPTH_SHIFT_RANGE[0] <= shift <= DEPTH_SHIFT_RANGE[1]):
        raise SensFormatError(
            f"header's depth shift {shift:g} is not a depth unit (depth values per metre, "
            f"{DEPTH_SHIFT_RANGE[0]:g} to {DEPTH_SHIFT_RANGE[1]:g}; ScanNet: 1000)"
        )


def decode_color(data: bytes, header: SensHeader) -> ImageRGB:
    """(H, W, 3) RGB of the header's colour size; anything else is a :class:`SensFormatError`."""
    shape = (header.color_height, header.color_width, 3)
    if header.color_compression == 0:
        if len(data) != np.prod(shape):
            raise SensFormatError(f"raw colour frame has {len(data)} bytes, expected {int(np.prod(shape))}")
        return np.frombuffer(data, np.uint8).reshape(shape).copy()
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SensFormatError("colour frame does not decode")
    if bgr.shape != shape:
        raise SensFormatError(f"colour frame is {bgr.shape[1]}x{bgr.shape[0]}, the header says {shape[1]}x{shape[0]}")
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def decode_depth(data: bytes, header: SensHeader) -> DepthMM:
    """One depth frame. zlib streams are inflated by ISA-L (``isal``: the same bytes as ``zlib``, in half its time,
    docs/performance.md#scale)."""
    try:
        raw = isal_zlib.decompress(data) if header.depth_compression == 1 else data
    except INFLATE_ERROR as e:
        raise SensFormatError(f"depth frame does not inflate ({e})") from None
    expected = header.depth_width * header.depth_height * 2
    if len(raw) != expected:
        raise SensFormatError(f"depth frame has {len(raw)} bytes, expected {expected}")
    return np.frombuffer(raw, "<u2").reshape(header.depth_height, header.depth_width).copy()


def read_frame_bytes(path: Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


@dataclass(frozen=True)
class SensFrameData:
    """One frame to write: pose, colour timestamp, and already-encoded colour and depth bytes."""

    cam_to_world: Matrix4
    timestamp_us: int
    color_bytes: bytes
    depth_bytes: bytes


def encode_depth_zlib(depth: DepthMM) -> bytes:
    """A zlib stream of the depth frame, deflated by ISA-L (about 7x faster than ``zlib`` at level 1, 10% larger)."""
    return isal_zlib.compress(np.ascontiguousarray(depth, dtype="<u2").tobytes(), 1)


def write_sens(
    path: Path,
    intrinsic_color: FloatArray,
    intrinsic_depth: FloatArray,
    color_size: tuple[int, int],
    depth_size: tuple[int, int],
    frames: Iterable[SensFrameData],
    num_frames: int,
    depth_shift: float = 1000.0,
) -> None:
    """Write a version-4 ``.sens`` (sensor ``StructureSensor``, ScanNet's) with JPEG colour and zlib depth,
    streaming ``frames``."""
    with open(path, "wb") as f:
        name = b"StructureSensor"
        f.write(struct.pack("<IQ", SENS_VERSION, len(name)) + name)
        for m in (intrinsic_color, np.eye(4), intrinsic_depth, np.eye(4)):
            f.write(np.asarray(m, dtype="<f4").reshape(16).tobytes())
        f.write(struct.pack("<ii4IfQ", 2, 1, *color_size, *depth_size, depth_shift, num_frames))
        written = 0
        for fr in frames:
            f.write(np.asarray(fr.cam_to_world, dtype="<f4").reshape(16).tobytes())
            f.write(struct.pack("<4Q", fr.timestamp_us, fr.timestamp_us, len(fr.color_bytes), len(fr.depth_bytes)))
            f.write(fr.color_bytes)
            f.write(fr.depth_bytes)
            written += 1
        if written != num_frames:
            raise ValueError(f"write_sens: promised {num_frames} frames, got {written}")
