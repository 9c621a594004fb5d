"""The one module that owns ScanNet file names and folder layouts (readers and writers both use it).

A ScanNet root::

    ROOT/
      scans/sceneXXXX_YY/                      # one folder per scan (train and val)
        sceneXXXX_YY_vh_clean_2.ply            # mesh: vertex xyz + rgba, triangle faces
        sceneXXXX_YY_vh_clean_2.0.010000.segs.json   # {"segIndices": [segment id per vertex]}
        sceneXXXX_YY.aggregation.json          # {"segGroups": [{id, objectId, segments, label}]}
        sceneXXXX_YY.txt                       # "key = value" lines; axisAlignment = 16 floats row-major
        sceneXXXX_YY.sens                      # frames layout "sens"
        color/N.jpg depth/N.png pose/N.txt intrinsic/*.txt   # frames layout "export" (SensReader output)
      scans_test/sceneXXXX_YY/                 # test scans (no annotations, no axisAlignment)
      posed_images/sceneXXXX_YY/NNNNN.{jpg,png,txt} intrinsic.txt depth_intrinsic.txt  # layout "posed"
      scannetv2-labels.combined.tsv
      scannetv2_{train,val,test}.txt           # optional split lists

A folder of scan folders (no ``scans/``) is accepted as a root too.
"""

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ladderdata.errors import ConfigError

LABEL_TABLE = "scannetv2-labels.combined.tsv"
SPLIT_LIST = "scannetv2_{split}.txt"
SCAN_SUBDIRS = ("scans", "scans_test")
POSED_IMAGES_DIR = "posed_images"
SCAN_ID_PATTERN = r"^scene[0-9]{4}_[0-9]{2}$"
"""ScanNet scan ids (match with ``re.fullmatch``: ``$`` alone would accept a trailing newline). ASCII digits
only: ``\\d`` also matches other scripts' digits (``scene١٢٣٤_٠٠``)."""

SAFE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
"""The one rule for names that become file or folder names (recipe and benchmark names, subsets, scan ids):
a letter or digit, then up to 99 letters, digits, ``.``, ``_`` or ``-``. No separator, no leading dot (so
no ``..``), no whitespace: such a name stays inside the folder it is joined to."""


#: What ``--scans`` takes, in messages about a root that is not one.
SCANS_HINT = "pass the folder of a ScanNet, ScanNet++ or ARKitScenes download (docs/scannet.md, docs/sources.md)"


def check_scans_root(root: Path) -> None:
    """A ``ConfigError`` when ``root`` is not a folder. Light on purpose: the CLI checks ``--scans`` with it before
    the scan sources (and their numeric stack) are imported, so a wrong path fails at once."""
    if not root.is_dir():
        raise ConfigError(f"--scans {root} {'is not a folder' if root.exists() else 'does not exist'}: {SCANS_HINT}")


def is_safe_name(value: object) -> bool:
    """Whether ``value`` is a name that follows :data:`SAFE_NAME_PATTERN`."""
    return isinstance(value, str) and re.fullmatch(SAFE_NAME_PATTERN, value) is not None


def check_name(value: str, what: str) -> str:
    """``value`` when it follows :data:`SAFE_NAME_PATTERN`, else a ``ConfigError`` naming ``what`` it is."""
    if not is_safe_name(value):
        raise ConfigError(
            f"{what} {value!r} cannot be used as a file name: use letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit, at most 100 characters)"
        )
    return value


class FramesLayout(StrEnum):
    """Where a scan's colour frames, depth frames and poses are stored."""

    SENS = "sens"
    EXPORT = "export"
    POSED = "posed"


@dataclass(frozen=True)
class ScanPaths:
    """Every path of one scan; ``posed_dir`` is the scan's folder under ``ROOT/posed_images``."""

    scan_dir: Path
    posed_dir: Path

    @classmethod
    def at(cls, scan_dir: Path, root: Path | None = None) -> "ScanPaths":
        scan_dir = Path(scan_dir)
        root = Path(root) if root is not None else _guess_root(scan_dir)
        return cls(scan_dir=scan_dir, posed_dir=root / POSED_IMAGES_DIR / scan_dir.name)

    @property
    def scan_id(self) -> str:
        return self.scan_dir.name

    @property
    def mesh(self) -> Path:
        return self.scan_dir / f"{self.scan_id}_vh_clean_2.ply"

    @property
    def segments(self) -> Path:
        return self.scan_dir / f"{self.scan_id}_vh_clean_2.0.010000.segs.json"

    @property
    def aggregation(self) -> Path:
        return self.scan_dir / f"{self.scan_id}.aggregation.json"

    @property
    def meta(self) -> Path:
        return self.scan_dir / f"{self.scan_id}.txt"

    @property
    def sens(self) -> Path:
        return self.scan_dir / f"{self.scan_id}.sens"

    # SensReader export
    @property
    def export_color_dir(self) -> Path:
        return self.scan_dir / "color"

    @property
    def export_depth_dir(self) -> Path:
        return self.scan_dir / "depth"

    @property
    def export_pose_dir(self) -> Path:
        return self.scan_dir / "pose"

    @property
    def export_intrinsic_dir(self) -> Path:
        return self.scan_dir / "intrinsic"

    def export_color(self, frame: int) -> Path:
        return self.export_color_dir / f"{frame}.jpg"

    def export_depth(self, frame: int) -> Path:
        return self.export_depth_dir / f"{frame}.png"

    def export_pose(self, frame: int) -> Path:
        return self.export_pose_dir / f"{frame}.txt"

    # mmdetection3d posed_images
    def posed_color(self, frame: int) -> Path:
        return self.posed_dir / f"{frame:05d}.jpg"

    def posed_depth(self, frame: int) -> Path:
        return self.posed_dir / f"{frame:05d}.png"

    def posed_pose(self, frame: int) -> Path:
        return self.posed_dir / f"{frame:05d}.txt"

    @property
    def posed_intrinsic(self) -> Path:
        return self.posed_dir / "intrinsic.txt"

    @property
    def posed_depth_intrinsic(self) -> Path:
        return self.posed_dir / "depth_intrinsic.txt"

    def available_layouts(self) -> list[FramesLayout]:
        """Frame layouts present for this scan, in order of preference (sens first)."""
        found = []
        if self.sens.is_file():
            found.append(FramesLayout.SENS)
        if self.export_pose_dir.is_dir():
            found.append(FramesLayout.EXPORT)
        if self.posed_dir.is_dir():
            found.append(FramesLayout.POSED)
        return found


def _guess_root(scan_dir: Path) -> Path:
    parent = scan_dir.parent
    return parent.parent if parent.name in SCAN_SUBDIRS else parent


# ----------------------------------------------------------------------------------------------- datasets

DATASET_WORK_DIR = ".ladder-work"
LICENSE_FILE = "LICENSE.md"
SHARD_KEY_DIGITS = 16


def shard_name(split: str, index: int, count: int, key: str) -> str:
    """A Parquet file's name: Hugging Face's ``<split>-00000-of-00003`` plus the first 16 hex digits of the
    content key of what it holds. ``datasets`` caches a local folder under its name, its card's config name and
    the card's ``data_files`` (names, not contents): a card listing these names can never serve the rows of an
    earlier write, or of another folder with the same name."""
    return f"{split}-{index:05d}-of-{count:05d}-{key[:SHARD_KEY_DIGITS]}.parquet"


@dataclass(frozen=True)
class DatasetLayout:
    """Files of a built dataset (what ``ladder build-dataset`` writes)::

    OUT/
      README.md                                   # dataset card, one config per subset
      LICENSE.md                                  # the terms of the scans' datasets, which bind this data
      manifest.json  stats.json  stats.md
      data/<subset>/<split>-00000-of-00003-<key>.parquet  # subsets: spatial, localization; <key>: content
      preview/*.png                               # contact sheets (ladder preview)
      .ladder-work/metadata/<scan>.parquet        # per-view metadata cache
      .ladder-work/drafts/<scan>.json             # per-scan drafts (resume)
      .ladder-work/shard-hashes.json              # memoised shard digests
    """

    root: Path

    @property
    def card(self) -> Path:
        return self.root / "README.md"

    @property
    def license(self) -> Path:
        return self.root / LICENSE_FILE

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def stats_json(self) -> Path:
        return self.root / "stats.json"

    @property
    def stats_md(self) -> Path:
        return self.root / "stats.md"

    @property
    def preview_dir(self) -> Path:
        return self.root / "preview"

    @property
    def report_html(self) -> Path:
        """The visual report (``ladderdata.report.html``)."""
        return self.root / "report.html"

    def subset_dir(self, subset: str) -> Path:
        return self.root / "data" / subset

    def shard(self, subset: str, split: str, index: int, count: int, key: str) -> Path:
        """A shard's file, named by :func:`shard_name` from the shard's content key (its rows and settings); the
        card lists these names, so a rebuild that changes rows changes them."""
        return self.subset_dir(subset) / shard_name(split, index, count, key)

    def shard_key_digits(self, path: Path, split: str) -> str | None:
        """The content-key digits in the name of a shard of ``split`` as :meth:`shard` names it, None when ``path``
        is not named like one (a user's ``train-00000-of-00003-mine.parquet``)."""
        pattern = rf"{re.escape(split)}-[0-9]{{5}}-of-[0-9]{{5}}-([0-9a-f]{{{SHARD_KEY_DIGITS}}})\.parquet"
        m = re.fullmatch(pattern, path.name)
        return m.group(1) if m else None

    def shard_glob(self, subset: str, split: str) -> str:
        """Relative pattern matching every shard of a subset (any key)."""
        return f"data/{subset}/{split}-*.parquet"

    @property
    def work(self) -> Path:
        return self.root / DATASET_WORK_DIR

    @property
    def metadata_cache(self) -> Path:
        return self.work / "metadata"

    @property
    def shard_hashes(self) -> Path:
        """sha256 of the shards (for the manifest), memoised so that a rerun does not read them again."""
        return self.work / "shard-hashes.json"

    def drafts(self, scan_id: str) -> Path:
        return self.work / "drafts" / f"{scan_id}.json"
