"""What an export reads: :class:`BenchQuestion`, a benchmark question in ladder's vocabulary."""

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
