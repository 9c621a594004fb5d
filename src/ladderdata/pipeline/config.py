"""What a build is given (:class:`BuildConfig`), the per-scan records it caches between runs and what drafting
learned about every scan (:class:`Drafted`)."""

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ladderdata.layout import DatasetLayout
from ladderdata.recipe import Recipe
from ladderdata.sources.base import SourceConfigField
from ladderdata.tasks import Draft, Modality


class BuildConfig(BaseModel):
    """Inputs of one ``ladder build-dataset`` run (where the work runs is not part of it: see the executor)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    source: SourceConfigField
    """The scans: a registered source's config, e.g. ``{"source": "scannet", "root": "scannet/"}``."""
    out: Path
    split: str = "train"
    """``train``, ``val``, ``test``, ``all``, or a file listing scan ids."""
    recipe: Recipe = Recipe()
    seed: int = Field(0, ge=0, le=2**63 - 1)
    limit_scenes: int | None = Field(None, ge=1, le=10_000_000)
    exclude: list[Path] = []
    """Built benchmarks whose rooms must not be used (every rescan ``sceneXXXX_*`` of a room is excluded)."""
    exclude_public: list[str] = []
    """Public benchmarks (``vsibench``, ``spbench``, ``spacer``) whose shipped scene lists' rooms must not be used
    (``ladderdata.io.public_scenes``)."""
    drop_ids: list[str] = []
    """Question ids left out after rendering (``build-bench --debias`` rebuilds with the ids it pruned)."""
    benchmark: bool = False
    """Write a benchmark: one subset named after the recipe, split ``test``, evaluator field names."""
    metadata_cache: Path | None = None
    """Folder of the per-view metadata cache; default ``OUT/.ladder-work/metadata``. Builds over the same scans
    (the benchmarks of one ``build-bench``) share one: entries are keyed on the scans and the metadata config."""

    @property
    def metadata_dir(self) -> Path:
        return self.metadata_cache or DatasetLayout(self.out).metadata_cache

    @property
    def output_split(self) -> str:
        """Split name of the shards: ``test`` for benchmarks and test scans, ``validation`` for val, else ``train``."""
        if self.benchmark:
            return "test"
        return {"val": "validation", "test": "test"}.get(self.split, "train")


class DraftRecord(BaseModel):
    """A draft with the image set it was drawn from."""

    model_config = ConfigDict(frozen=True)

    task: str
    modality: Modality
    scene_id: str
    frame_ids: list[int]
    timestamps: list[float] | None
    """Seconds; None when the scan's frames layout does not say when frames were taken."""
    image_width: int
    image_height: int
    draft: Draft


class SceneDrafts(BaseModel):
    """Every draft of one scan (``.ladder-work/drafts/<scan>.json``), valid while ``key`` matches."""

    scan_id: str
    key: str
    views: int
    records: list[DraftRecord]
    rejections: dict[str, dict[str, int]]
    """``"task/modality"`` -> filter name -> candidates it rejected."""
    unknown_labels: dict[str, int] = {}
    """Raw labels of the scan that the label table lacks -> objects carrying them."""
    object_sizes: dict[int, tuple[str, float]] = {}
    """Object id -> (category as questions name it, longest side in cm): the size priors of the select stage
    (``ladderdata.tasks.plausibility``) are computed over every scan of the build."""
    frame_digests: dict[int, str] = {}
    """Frame number -> xxh3-64 of the JPEG bytes that decoded at drafting (``verify_frames``): the shard writer
    decodes a frame again only when its bytes differ."""


@dataclass
class Drafted:
    """What drafting learned about every scan: the later stages and the build's report read it from the build's
    context (``BuildContext.drafted``) instead of opening the scans again."""

    scenes: list[SceneDrafts]
    """Scans drafted (or read from the cache), sorted by scan id."""
    failed: dict[str, str]
    """Scan id -> error naming the scan and the file at fault."""

    @property
    def scene_keys(self) -> dict[str, str]:
        """Scan id -> its drafts key, which covers the contents of every input file (frames included)."""
        return {s.scan_id: s.key for s in self.scenes}

    @property
    def frame_digests(self) -> dict[str, dict[int, str]]:
        """Scan id -> frame number -> digest of the bytes that decoded at drafting (``SceneDrafts.frame_digests``)."""
        return {s.scan_id: s.frame_digests for s in self.scenes}

    @property
    def scan_ids(self) -> list[str]:
        return [s.scan_id for s in self.scenes]

    @property
    def views(self) -> dict[str, int]:
        """Scan id -> views measured at the recipe's frame stride."""
        return {s.scan_id: s.views for s in self.scenes}

    @property
    def unknown_labels(self) -> dict[str, dict[str, int]]:
        """Scan id -> raw labels the label table lacks -> objects carrying them (scans with none are absent)."""
        return {s.scan_id: s.unknown_labels for s in self.scenes if s.unknown_labels}

    @property
    def drafts(self) -> Counter[str]:
        """``"task/modality"`` -> drafts, over all scans."""
        return Counter(f"{r.task}/{r.modality.value}" for s in self.scenes for r in s.records)

    @property
    def rejections(self) -> dict[str, Counter[str]]:
        """``"task/modality"`` -> filter name -> candidates rejected, over all scans."""
        merged: dict[str, Counter[str]] = defaultdict(Counter)
        for scene in self.scenes:
            for key, counts in scene.rejections.items():
                merged[key].update(counts)
        return merged
