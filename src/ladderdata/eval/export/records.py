"""What an export reads (:class:`BenchQuestion`, ladder's vocabulary) and what it records (``export.json``)."""

from pydantic import BaseModel, ConfigDict, Field

SPLIT = "test"
"""The split of every exported parquet (the evaluators read ``test``)."""


class BenchQuestion(BaseModel):
    """One benchmark question as an export reads it, in ladder's vocabulary (``scene_id``, ``task``, ``answer``);
    a layout's :meth:`ExportLayout.table` renames the fields for its evaluator."""

    model_config = ConfigDict(frozen=True)

    id: str
    benchmark: str
    """The benchmark the question belongs to (``spbench-si``, ``vsi-video``, ...)."""
    source: str
    """The scan's dataset (``scannet``)."""
    scene_id: str
    task: str
    modality: str
    question: str
    options: list[str]
    """``"A. chair"``, ...; empty for numeric answers."""
    answer: str
    answer_type: str
    frame_ids: list[int]
    timestamps: list[float] | None
    """Seconds in the scan's stream of each frame; None when the scan's frames carry no times."""
    images: list[bytes] = Field(default_factory=list, repr=False)
    """The stored JPEG of each frame (empty when read without images)."""


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
