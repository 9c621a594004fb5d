"""ScanNet's ``scannetv2-labels.combined.tsv``: raw annotation label -> category and NYU40 class."""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from ladderdata.errors import ConfigError

REQUIRED_COLUMNS = ("raw_category", "category", "nyu40id", "nyu40class")


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
        if not path.is_file():
            raise ConfigError(f"label table not found: {path}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"label table {path} is not UTF-8 text") from None
        if "\x00" in text:
            raise ConfigError(f"label table {path} is binary, not tab-separated text")
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
                nyu = row["nyu40id"].strip()
                count = (row.get("count") or "").strip()
                entries[row["raw_category"]] = LabelEntry(
                    category=row["category"] or row["raw_category"],
                    nyu40_id=int(nyu) if nyu.isdigit() and len(nyu) < 6 else UNKNOWN_NYU40[0],
                    nyu40_class=row["nyu40class"] or UNKNOWN_NYU40[1],
                    count=int(count) if count.isdigit() and len(count) < 12 else 0,
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
