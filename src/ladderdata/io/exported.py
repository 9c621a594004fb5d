"""``export.json``: what ``ladder export`` wrote where, read back by reruns of the export and by ``ladder push``
(which sends the files it lists)."""

from pydantic import BaseModel, Field

EXPORT_MANIFEST = "export.json"


class ExportedVideo(BaseModel):
    path: str
    """Relative to the export folder: ``<dataset>/<scene_name>.mp4``."""
    fps: float
    frame_ids: list[int]
    scan_timestamps: list[float]
    """Seconds in the scan's stream of each video frame."""
    video_timestamps: list[float]
    """Seconds in the video of each frame (k / fps)."""
    width: int
    height: int


class ExportedBenchmark(BaseModel):
    """``export.json``: what was exported where (and the keys that let a rerun skip unchanged files)."""

    format: str
    """The layout's registered name (``spatialladder``, ``vsibench``)."""
    benchmark: str
    folder: str
    """Relative to the export's ``--out``: the folder the evaluator opens (``SPBench-SI``, ``VSI-Bench``, ...)."""
    parquet: str
    """The questions, in ``folder``, under the name the evaluator opens."""
    data_file: str
    """The file ``folder``'s card names: ``parquet`` when its name carries the content key (``vsibench``), else
    a copy under ``data/`` whose name does (``spatialladder``)."""
    config: str
    """The config of ``folder``'s card (``load_dataset(folder)`` reads it: it is the default); stable across
    exports (``full``, or the folder name)."""
    sources: list[str] = Field(default_factory=list)
    """The scans' datasets (their terms bind the export: the card's licence and ``LICENSE.md``)."""
    rows: int
    question_types: dict[str, int]
    fps: float | None
    """Videos' frame rate (None when the benchmark has no videos)."""
    images: list[str] = Field(default_factory=list)
    videos: list[ExportedVideo] = Field(default_factory=list)
    archives: list[str] = Field(default_factory=list)
    """``vsibench``: ``<dataset>.zip`` per scan source, holding ``<dataset>/<scene_name>.mp4`` (lmms-eval's Hub
    layout)."""
    keys: dict[str, str] = Field(default_factory=dict)
    """Relative path -> sha256 of what the file was written from."""
