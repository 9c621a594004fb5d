"""Source-agnostic scan model and the small base classes every scan reader implements.

A new scan source is one module: a :class:`ScanSourceConfig` subclass (whose docstring shows the folder tree
it expects) and a :class:`ScanSource` subclass registered with :func:`register_source`, imported by
``ladderdata/sources/__init__.py`` (built-in) or named in the ``ladderdata.sources`` entry-point group.
Everything downstream opens scans through :func:`open_source`.
"""

import logging
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar, get_args

import cv2
import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, SerializeAsAny, ValidationError

from ladderdata.cache import regular_file_stat
from ladderdata.errors import ConfigError, LadderError, validation_text
from ladderdata.geometry.boxes import AxisAlignedBox, OrientedBox
from ladderdata.geometry.camera import CameraIntrinsics, valid_pose_mask
from ladderdata.geometry.measure import ObjectSurface
from ladderdata.layout import SCANS_HINT, check_scans_root, is_safe_name
from ladderdata.registry import Registry
from ladderdata.sources.ply import TriangleMesh
from ladderdata.sources.validate import checked_jpeg
from ladderdata.typed import BoolArray, DepthMM, ImageRGB, IntArray, Matrix4, Points3, Poses

log = logging.getLogger(__name__)

#: What ``--scans`` takes, for messages about a wrong one.
#: ScanNet's capture app runs colour and depth at 30 Hz; frames whose layout keeps frame numbers but no usable
#: timestamps are timed frame_id / FPS (docs/metadata.md#frame-times).
DEFAULT_FPS = 30.0


class TimeBasis(StrEnum):
    """Where a frame source's ``timestamps_us`` come from."""

    STORED = "stored"
    """The layout's own per-frame timestamps, counted from the first frame."""
    FRAME_NUMBER = "frame_number"
    """Frame number / the stream's frame rate (:data:`DEFAULT_FPS` for ScanNet, 60 Hz for ScanNet++'s iPhone
    video): the layout keeps the frame numbers of a fixed-rate stream but no usable times."""


class ObjectInfo(BaseModel):
    """One annotated object instance of a scan."""

    model_config = ConfigDict(frozen=True)

    object_id: int
    """0-based instance id (ScanNet ``objectId``)."""
    label: str
    """Raw annotation label (``raw_category`` in the label table)."""
    category: str
    nyu40_id: int
    nyu40_class: str
    in_label_table: bool = True
    """False when the label table does not list ``label`` (category = raw label, NYU40 class ``unknown``)."""
    label_count: int = 0
    """Instances of the raw label in all of ScanNet (the label table's ``count`` column; 0 when unknown)."""


@dataclass
class ScanObject:
    """An object instance: its record, its vertices and its surface (docs/geometry.md)."""

    info: ObjectInfo
    vertex_ids: IntArray
    """(V_o,) indices into the scan mesh's vertices that belong to the object (its segments' vertices, or the
    mesh vertices inside its annotated box for sources that annotate boxes): they own its rendered pixels."""
    points: Points3
    """(P, 3) the points boxes and sizes are computed from, aligned world frame: the ``vertex_ids`` vertices for
    mesh-segment annotations, the annotated box's 8 corners for box annotations (ARKitScenes)."""
    surface: ObjectSurface
    """The object's part of the mesh surface (whole triangles plus its cells of border triangles), aligned frame."""

    @cached_property
    def aabb(self) -> AxisAlignedBox:
        return AxisAlignedBox.from_points(self.points)

    @cached_property
    def oriented_box(self) -> OrientedBox:
        return OrientedBox.from_points(self.points)


class FrameSource(ABC):
    """Colour frames, depth frames and camera poses of one scan, in one storage layout.

    ``frame_ids`` identify frames within the layout and increase with time. When ``time_known``, they are the
    frame numbers of the original stream (sparse for layouts that keep every k-th frame) and ``timestamps_us``
    says when each frame was taken; otherwise (a ``posed_images`` subsample) they are only file numbers and
    ``timestamps_us`` is None. Every per-frame array is indexed by position, and ``position(frame_id)`` maps
    between them. Poses are returned as stored, before axis alignment: :class:`Scan` applies the alignment.
    """

    layout: ClassVar[str]
    """Name of the storage layout (ScanNet's ``FramesLayout`` values, ``iphone``, ``dslr``, ``lowres_wide``)."""

    def __init__(self, scan_id: str) -> None:
        self.scan_id = scan_id

    @property
    @abstractmethod
    def frame_ids(self) -> IntArray:
        """(T,) frame numbers, increasing."""

    @property
    @abstractmethod
    def raw_poses(self) -> Poses:
        """(T, 4, 4) camera-to-world as stored; invalid frames may hold inf or NaN."""

    @property
    @abstractmethod
    def timestamps_us(self) -> IntArray | None:
        """(T,) colour timestamps in microseconds; None when the layout does not say when frames were taken."""

    @property
    def time_known(self) -> bool:
        """Whether ``frame_ids`` are stream frame numbers and ``timestamps_us`` holds times."""
        return self.timestamps_us is not None

    @property
    def time_basis(self) -> TimeBasis | None:
        """Where ``timestamps_us`` come from; None when time is unknown. Layouts that time frames by their number
        say so; the others store per-frame times."""
        return TimeBasis.STORED if self.time_known else None

    @property
    @abstractmethod
    def color_intrinsics(self) -> CameraIntrinsics: ...

    @property
    @abstractmethod
    def depth_intrinsics(self) -> CameraIntrinsics | None:
        """None when the layout holds no depth frames."""

    def frame_color_intrinsics(self, frame_id: int) -> CameraIntrinsics:
        """The colour camera of one frame. Layouts whose frames carry their own intrinsics (ARKit refines the
        focal length frame by frame) override this; their size is always ``color_intrinsics``'s, which is the
        first frame's camera."""
        self.position(frame_id)
        return self.color_intrinsics

    def frame_depth_intrinsics(self, frame_id: int) -> CameraIntrinsics | None:
        """The depth camera of one frame (see :meth:`frame_color_intrinsics`); None without depth frames."""
        self.position(frame_id)
        return self.depth_intrinsics

    @abstractmethod
    def read_color(self, frame_id: int) -> ImageRGB:
        """Decode one colour frame, (H, W, 3) RGB."""

    @abstractmethod
    def read_depth(self, frame_id: int) -> DepthMM:
        """Decode one depth frame, (h, w) uint16 in units of 1 / :attr:`depth_shift` metres, 0 = invalid."""

    @property
    def depth_shift(self) -> float:
        """Depth values per metre of :meth:`read_depth`: 1000 (millimetres) unless the layout stores another unit
        (a ``.sens`` header's ``depth_shift``)."""
        return 1000.0

    @abstractmethod
    def color_file(self, frame_id: int) -> Path:
        """The file holding a colour frame (its own file, or the stream it is stored in), for errors."""

    @property
    def poses_file(self) -> Path:
        """The file (or folder) the poses are read from, for errors; layouts that keep them apart override it."""
        return self.color_file(int(self.frame_ids[0]))

    def read_color_jpeg(self, frame_id: int) -> bytes:
        """One colour frame as JPEG bytes; layouts that store JPEG return the stored bytes untouched."""
        rgb = self.read_color(frame_id)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise ValueError(f"[{self.scan_id}] frame {frame_id} does not encode as JPEG")
        return bytes(buf)

    def checked_color_jpeg(self, frame_id: int, decode: bool = False) -> bytes:
        """:meth:`read_color_jpeg`, verified (:meth:`check_color_jpeg`). What datasets embed goes through here."""
        return self.check_color_jpeg(frame_id, self.read_color_jpeg(frame_id), decode)

    def check_color_jpeg(self, frame_id: int, data: bytes, decode: bool = False) -> bytes:
        """``data``, frame ``frame_id``'s bytes, when they are a complete JPEG of the colour intrinsics' size
        (``ladderdata.sources.validate.checked_jpeg``); with ``decode``, decoding to its end."""
        K = self.color_intrinsics
        return checked_jpeg(self.scan_id, self.color_file(frame_id), data, (K.width, K.height), frame_id, decode)

    def position(self, frame_id: int) -> int:
        pos = int(np.searchsorted(self.frame_ids, frame_id))
        if pos >= len(self.frame_ids) or self.frame_ids[pos] != frame_id:
            raise KeyError(f"[{self.scan_id}] no frame {frame_id}")
        return pos


@dataclass
class Scan:
    """One scan: aligned mesh, object instances and frames, in the gravity-aligned world frame (z up, m)."""

    scan_id: str
    mesh: TriangleMesh
    """Mesh with ``axis_alignment`` already applied."""
    objects: list[ScanObject]
    frames: FrameSource | None
    axis_alignment: Matrix4
    scene_type: str | None = None

    @cached_property
    def poses(self) -> Poses:
        """(T, 4, 4) aligned camera-to-world (``axis_alignment @ T_c2w``); NaN where the stored pose is invalid."""
        if self.frames is None:
            return np.zeros((0, 4, 4))
        raw = self.frames.raw_poses
        valid = valid_pose_mask(raw)
        aligned: Poses = np.einsum("ij,tjk->tik", self.axis_alignment, np.where(valid[:, None, None], raw, np.eye(4)))
        aligned[~valid] = np.nan
        return aligned

    @cached_property
    def valid_poses(self) -> BoolArray:
        """(T,) True where the frame's pose is usable."""
        return np.asarray(np.isfinite(self.poses).all(axis=(1, 2)))

    @property
    def num_invalid_poses(self) -> int:
        return int((~self.valid_poses).sum())

    @property
    def unknown_labels(self) -> dict[str, int]:
        """Raw labels the label table does not list -> number of objects carrying them."""
        return dict(sorted(Counter(o.info.label for o in self.objects if not o.info.in_label_table).items()))


def read_id_list(path: Path) -> list[str]:
    """The ids of a split list (one per line, blank lines skipped); a binary file is a ``ConfigError``."""
    try:
        regular_file_stat(path)  # a FIFO would block the read forever
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"cannot read the list of scan ids {path}: {e}") from None
    except OSError as e:
        raise ConfigError(f"cannot read the list of scan ids {path}: {e.strerror or e}") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def listed_ids(path: Path, available: list[str], root: Path) -> list[str]:
    """The ids a list of scan ids (a split list or ``--split FILE``) selects among ``available``, in the list's
    order, each once. What it cannot select is said, not silently dropped: ids listed twice, entries that are no
    scan id (``../scene0000_00``, ``x/../id``: a path, not a name), ids no scan under ``root`` has."""
    listed = read_id_list(path)
    wanted = list(dict.fromkeys(listed))  # a scan listed twice is built (and listed in the manifest) once
    if len(wanted) < len(listed):
        repeated = sorted(s for s, n in Counter(listed).items() if n > 1)
        log.warning("%s lists %d scan ids more than once, each used once: %s", path, len(repeated), repeated[:5])
    odd = [s for s in wanted if not is_safe_name(s)]
    if odd:
        log.warning(
            "%s lists %d entries that are not scan ids, ignored: %s", path, len(odd), [repr(s) for s in odd[:5]]
        )
    present = set(available)
    missing = [s for s in wanted if s not in present and is_safe_name(s)]
    if missing:
        log.warning("%d scans listed in %s are not under %s: %s", len(missing), path, root, missing[:5])
    return [s for s in wanted if s in present]


class ScanSourceConfig(BaseModel):
    """Base config of a scan source: which registered source reads the scans, and where they live.

    Subclasses pin ``source`` to their registry name (``source: Literal["scannet"] = "scannet"``), so a
    serialised config says which source it belongs to and :func:`open_source` can open it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    source: str
    root: Path


@dataclass(frozen=True)
class DataTerms:
    """The terms of use or licence that bind data derived from a source's scans (quoted by dataset cards)."""

    title: str
    """``ScanNet Terms of Use``."""
    license_id: str
    """A Hub ``license_name``: lower case, digits and dashes (``scannet-terms-of-use``)."""
    url: str


class ScanSource(ABC):
    """Lists the scans under a root and loads them one at a time."""

    name: ClassVar[str]
    config_class: ClassVar[type[ScanSourceConfig]]
    #: The terms that bind data derived from this source's scans; None when unknown (a third-party source that
    #: declares none: cards then say so).
    terms: ClassVar[DataTerms | None] = None

    def __init__(self, config: ScanSourceConfig) -> None:
        self.config = config

    @abstractmethod
    def scan_ids(self, split: str | None = None) -> list[str]:
        """Sorted ids of the scans available (in ``split`` when given; an unknown split is a ``ConfigError``)."""

    def check(self) -> None:
        """Raise a ``ConfigError`` saying what to do when the scans cannot be read at all (an empty root, a missing
        or broken label table, any other table every scan shares): what can be checked without loading a scan,
        before any work starts, instead of failing every scan. Sources that share tables extend it."""
        if not self.scan_ids():
            raise self.no_scans_error()

    def no_scans_error(self) -> ConfigError:
        """The error for a root holding none of this source's scans: what this source looks for, and which source
        the root looks like when another one's layout matches (a root given with the wrong ``--source``)."""
        root = self.config.root
        message = f"no {self.name} scans under {root}"
        if self.looks_for:
            message += f" ({self.name} looks for {self.looks_for})"
        others = [name for name in looks_like(root) if name != self.name]
        if others:
            passes = " or ".join(f"--source {name}" for name in others)
            return ConfigError(f"{message}; {root} looks like a {' or '.join(others)} root: pass {passes}")
        return ConfigError(f"{message}: {SCANS_HINT}")

    @abstractmethod
    def load(self, scan_id: str) -> Scan:
        """Read one scan; raises a ``ScanError`` subclass naming the scan and file on bad input."""

    @abstractmethod
    def open_frames(self, scan_id: str) -> FrameSource | None:
        """Only the frames of a scan (no mesh, no annotations): cheap, for reading images. None: no frames."""

    @abstractmethod
    def location(self, scan_id: str) -> Path:
        """The scan's folder (or file), for messages."""

    @abstractmethod
    def input_files(self, scan_id: str) -> list[Path]:
        """Every file whose bytes :meth:`load` and :meth:`open_frames` read for this scan, frames included.

        Caches key on these files' contents, so a file missing from this list is a stale-cache bug. A file the
        scan needs but that does not exist is a ``MissingFileError``.
        """

    @classmethod
    def detect(cls, root: Path) -> bool:
        """Whether ``root`` is laid out as this source expects (``--source`` auto-detection); False by default."""
        return False

    #: What :meth:`detect` looks for, in words (for the error when no source or several match a root).
    looks_for: ClassVar[str] = ""

    @classmethod
    def room_from_id(cls, scan_id: str) -> str:
        """The room of a scan known only by its id (datasets built before rooms were recorded): the scan itself
        unless the id says more (ScanNet's ``sceneXXXX_YY`` rescans)."""
        return scan_id

    def room(self, scan_id: str) -> str:
        """The room (venue) the scan was captured in: rescans and other videos of one room share it. Leakage
        checks compare rooms per source (:func:`room_key`)."""
        return self.room_from_id(scan_id)

    def source_of(self, scan_id: str) -> str:
        """Name of the source that reads ``scan_id`` (every row's ``source``); sources made of others override."""
        return self.name

    def source_names(self) -> list[str]:
        """Names of the sources this one reads through (itself; a mixed source's parts)."""
        return [self.name]

    def key_settings(self) -> str:
        """The config fields that change what the source returns, as JSON (paths are left out: caches key on
        the contents of :meth:`input_files`, so moving the scans keeps them valid)."""
        fields = type(self.config).model_fields
        kept = {k for k, f in fields.items() if f.annotation is not Path and Path not in get_args(f.annotation)}
        return self.config.model_dump_json(include=kept)


# ----------------------------------------------------------------------------------------------- registry

ENTRY_POINT_GROUP = "ladderdata.sources"
SOURCES: Registry[type[ScanSource]] = Registry("scan source", entry_point_group=ENTRY_POINT_GROUP)

_S = TypeVar("_S", bound=type[ScanSource])


def register_source(name: str) -> Callable[[_S], _S]:
    """Class decorator: make a :class:`ScanSource` available under ``name`` (its config's ``source`` value)."""

    def wrap(cls: _S) -> _S:
        if cls.config_class.model_fields["source"].default != name:
            raise ValueError(f"{cls.config_class.__name__}.source must default to {name!r}")
        SOURCES.add(name, cls)
        cls.name = name
        return cls

    return wrap


def get_source(name: str) -> type[ScanSource]:
    """The source registered as ``name``; third-party sources load from the ``ladderdata.sources`` entry points."""
    return SOURCES.get_entry(name)


def source_config(name: str, **fields: Any) -> ScanSourceConfig:
    """The config of source ``name`` from its fields (fields given as None keep their defaults)."""
    cls = get_source(name).config_class
    values = {k: v for k, v in fields.items() if v is not None}
    try:
        return cls.model_validate({**values, "source": name})
    except ValidationError as e:
        raise ConfigError(f"bad settings for scan source {name!r}: {validation_text(e)}") from None


def open_source(config: ScanSourceConfig) -> ScanSource:
    """The scan source ``config`` belongs to."""
    return get_source(config.source)(config)


def room_key(source: str, room: str) -> str:
    """A room as leakage checks compare it: rooms of different sources never match (``scannet:scene0001``)."""
    return f"{source}:{room}"


def looks_like(root: Path) -> list[str]:
    """Names of the registered sources whose layout the folder ``root`` has (:meth:`ScanSource.detect`)."""
    SOURCES.load_plugins()
    if not root.is_dir():
        return []
    return [name for name, cls in sorted(SOURCES.items()) if cls.looks_for and cls.detect(root)]


def root_holding(folder: Path, levels: int = 3) -> tuple[Path, str] | None:
    """The root a user who gave one scan's folder as the root meant (``scans/scene0000_00`` of ScanNet,
    ``data/<scene>`` of ScanNet++, ``Training/<video>`` of ARKitScenes), and its source: the nearest folder up to
    ``levels`` above ``folder`` that one source recognises, or the one above it while that source still does
    (ScanNet's ``scans/`` is a root, the folder holding it and the label table a better one)."""
    found: tuple[Path, str] | None = None
    for ancestor in list(folder.resolve().parents)[:levels]:
        matches = looks_like(ancestor)
        if found is None and len(matches) == 1 and _holds(ancestor, matches[0], folder.name):
            found = (ancestor, matches[0])
        elif found is not None and matches == [found[1]]:
            found = (ancestor, found[1])
        elif found is not None:
            break
    return found


def _holds(root: Path, source: str, scan_id: str) -> bool:
    """Whether ``source`` reading ``root`` lists ``scan_id`` (a folder merely resembling a root does not)."""
    try:
        return scan_id in open_source(source_config(source, root=root)).scan_ids()
    except (LadderError, OSError, ValidationError):
        return False


def detect_source(root: Path) -> str:
    """The one registered source whose layout ``root`` has; a ``ConfigError`` listing what each source looks
    for when none or several match."""
    check_scans_root(root)
    if not any(root.iterdir()):
        raise ConfigError(f"--scans {root} is an empty folder: {SCANS_HINT}")
    matches = looks_like(root)
    if len(matches) == 1:
        return matches[0]
    looked = "; ".join(f"{name}: {cls.looks_for}" for name, cls in sorted(SOURCES.items()) if cls.looks_for)
    if not matches:
        holder = root_holding(root)
        if holder is not None:
            raise ConfigError(
                f"--scans {root} is one scan, not a root of scans: pass the {holder[1]} root that holds it, {holder[0]}"
            )
        raise ConfigError(f"cannot tell which scan source reads {root}: looked for {looked}; pass --source NAME")
    raise ConfigError(f"{root} looks like several scan sources ({', '.join(matches)}); pass --source NAME")


def _parse_source_config(value: Any) -> Any:
    if isinstance(value, dict) and "source" in value:
        fields = dict(value)
        return source_config(str(fields.pop("source")), **fields)
    return value


#: A field holding any registered source's config (validated by the source named in it, dumped in full).
SourceConfigField = Annotated[SerializeAsAny[ScanSourceConfig], BeforeValidator(_parse_source_config)]
