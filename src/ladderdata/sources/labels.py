"""ScanNet's ``scannetv2-labels.combined.tsv``: raw annotation label -> category and NYU40 class."""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from ladderdata.cache import regular_file_stat
from ladderdata.errors import ConfigError
from ladderdata.sources.files import ascii_int

REQUIRED_COLUMNS = ("raw_category", "category", "nyu40id", "nyu40class")


def read_table_text(path: Path, what: str) -> str:
    """The text of a table every scan shares (label table, class list, visits table); a missing, binary or
    non-UTF-8 one is a ``ConfigError`` naming ``what`` and the file."""
    try:
        regular_file_stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError(f"{what} not found: {path}") from None
    except OSError as e:  # a folder, a FIFO or a device (/dev/zero) in its place, no permission
        raise ConfigError(f"{what} {path} cannot be read: {e.strerror or e}") from None
    try:
        text = path.read_bytes().decode("utf-8")
    except (UnicodeDecodeError, OSError) as e:
        raise ConfigError(f"{what} {path} is not readable UTF-8 text ({type(e).__name__})") from None
    if "\x00" in text:
        raise ConfigError(f"{what} {path} is binary, not text")
    return text


@dataclass(frozen=True)
class LabelEntry:
    category: str
    nyu40_id: int
    nyu40_class: str
    in_table: bool = True
    """False for a raw label the table does not list (e.g. ``trashcan`` in early annotations)."""
    count: int = 0
    """Instances of the raw label in ScanNet, the table's ``count`` column (0 when absent or not a number)."""


UNKNOWN_NYU40 = (0, "unknown")


class LabelTable:
    """Lookup from raw label to :class:`LabelEntry`; a label the table lacks keeps its raw text as category,
    NYU40 class ``unknown`` and ``in_table=False``."""

    def __init__(self, entries: dict[str, LabelEntry], path: Path | None = None) -> None:
        self.entries = entries
        self.path = path

    @classmethod
    def read(cls, path: Path) -> "LabelTable":
        """Parse the table; a missing, binary, short or empty table is a ``ConfigError`` naming the file (and
        the line): every scan shares it, so it stops the run before any scan is read."""
        path = Path(path)
        text = read_table_text(path, "label table")
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t")
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(f"label table {path} lacks columns {missing}")
        entries = {}
        try:
            for row in reader:
                if any(row.get(c) is None for c in REQUIRED_COLUMNS) or not row["raw_category"]:
                    raise ConfigError(
                        f"label table {path} line {reader.line_num}: too few fields or no raw_category (truncated?)"
                    )
                nyu = ascii_int(row["nyu40id"].strip(), max_digits=5)
                entries[row["raw_category"]] = LabelEntry(
                    category=row["category"] or row["raw_category"],
                    nyu40_id=UNKNOWN_NYU40[0] if nyu is None else nyu,
                    nyu40_class=row["nyu40class"] or UNKNOWN_NYU40[1],
                    count=ascii_int((row.get("count") or "").strip(), max_digits=11) or 0,
                )
        except csv.Error as e:
            raise ConfigError(f"label table {path} line {reader.line_num}: {e}") from None
        if not entries:
            raise ConfigError(f"label table {path} has no rows")
        return cls(entries, path)

    def lookup(self, raw_label: str) -> LabelEntry:
        found = self.entries.get(raw_label)
        if found is None:
            return LabelEntry(
                category=raw_label, nyu40_id=UNKNOWN_NYU40[0], nyu40_class=UNKNOWN_NYU40[1], in_table=False
            )
        return found
