"""Several roots, each read by its own source, as one: what a mixed build (``--scans`` given several times) reads.

Scan ids are the datasets' own, which never collide between sources (ScanNet ``sceneXXXX_YY``, ScanNet++ 10 hex
characters, ARKitScenes 8-digit video ids); an id found under two roots is refused rather than renamed, so every
row's ``scene_id`` stays the id its dataset uses. Each scan keeps its source's name (``source`` column), its
room (leakage checks) and its source's settings.
"""

import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import model_validator

from ladderdata.errors import ConfigError
from ladderdata.sources.base import (
    FrameSource,
    Scan,
    ScanSource,
    ScanSourceConfig,
    SourceConfigField,
    open_source,
    register_source,
)


class MixedSourceConfig(ScanSourceConfig):
    """``parts``: the config of each root's source. ``root`` is the folder holding every part's root (filled in
    when not given); cache keys name input files relative to it."""

    source: Literal["mixed"] = "mixed"
    parts: list[SourceConfigField]

    @model_validator(mode="before")
    @classmethod
    def _common_root(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("root") is None and data.get("parts"):
            roots = [p.root if isinstance(p, ScanSourceConfig) else Path(p["root"]) for p in data["parts"]]
            data = {**data, "root": Path(os.path.commonpath([r.absolute() for r in roots]))}
        return data


@register_source("mixed")
class MixedSource(ScanSource):
    """The scans of every part, each read by its part."""

    config: MixedSourceConfig
    config_class = MixedSourceConfig

    @cached_property
    def parts(self) -> list[ScanSource]:
        if not self.config.parts:
            raise ConfigError("a mixed source needs at least one part")
        return [open_source(p) for p in self.config.parts]

    def _owners(self, split: str | None) -> dict[str, ScanSource]:
        owners: dict[str, ScanSource] = {}
        for part in self.parts:
            for scan_id in part.scan_ids(split):
                if scan_id in owners:
                    raise ConfigError(
                        f"scan id {scan_id} is under two roots ({owners[scan_id].config.root} and {part.config.root}); "
                        "a mixed build needs ids unique across its roots"
                    )
                owners[scan_id] = part
        return owners

    @cached_property
    def _all(self) -> dict[str, ScanSource]:
        return self._owners(None)

    def part(self, scan_id: str) -> ScanSource:
        if scan_id not in self._all:
            raise ConfigError(f"no scan '{scan_id}' under {', '.join(str(p.config.root) for p in self.parts)}")
        return self._all[scan_id]

    def source_names(self) -> list[str]:
        return sorted({name for part in self.parts for name in part.source_names()})

    def scan_ids(self, split: str | None = None) -> list[str]:
        return sorted(self._owners(split)) if split is not None else sorted(self._all)

    def check(self) -> None:
        for part in self.parts:
            part.check()

    def load(self, scan_id: str) -> Scan:
        return self.part(scan_id).load(scan_id)

    def open_frames(self, scan_id: str) -> FrameSource | None:
        return self.part(scan_id).open_frames(scan_id)

    def location(self, scan_id: str) -> Path:
        return self.part(scan_id).location(scan_id)

    def input_files(self, scan_id: str) -> list[Path]:
        return self.part(scan_id).input_files(scan_id)

    def room(self, scan_id: str) -> str:
        return self.part(scan_id).room(scan_id)

    def source_of(self, scan_id: str) -> str:
        return self.part(scan_id).source_of(scan_id)

    def key_settings(self) -> str:
        return "[" + ",".join(part.key_settings() for part in self.parts) + "]"
