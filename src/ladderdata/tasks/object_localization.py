"""object_localization (stage-1 data): name objects, answer with their 2D boxes as JSON.

The answer is one JSON list, ``[{"label": "chair", "bbox_2d": [x1, y1, x2, y2]}, ...]``, in pixels of the
image as stored in the dataset (after any resize), integers. Boxes are the visible part's box from the
per-view metadata. In the paper's mode (``localization: paired`` in a recipe) this task derives a
localization twin from every single-image spatial question, asking the same question about the same image
(:meth:`ObjectLocalization.derive`); ``standalone`` asks "where are ..." questions from this generator's own
drafts instead.
"""

import json
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
from pydantic import Field

from ladderdata.tasks.base import (
    AnswerType,
    Draft,
    Modality,
    ObjectRef,
    Rejections,
    Sample,
    TaskConfig,
    TaskGenerator,
    register_task,
)
from ladderdata.tasks.context import SceneContext, Shown


class LocalizationConfig(TaskConfig):
    max_objects: int = Field(3, ge=1, le=20, description="standalone mode: objects named per question, at most")
    min_box_side: float = Field(
        8.0, ge=0, le=16_384, description="pixels (original image): smaller boxes are not asked"
    )


def boxes_answer(objects: list[ObjectRef]) -> str:
    """The JSON answer: each object's category and visible-part box, rounded to integer pixels.

    >>> boxes_answer([ObjectRef(object_id=3, category="chair", role="x", visibility=1, bbox_2d=[5.2, 10, 55.6, 110.4])])
    '[{"label": "chair", "bbox_2d": [5, 10, 56, 110]}]'
    """
    if any(o.bbox_2d is None for o in objects):
        raise ValueError("localization needs every object's 2D box (single-image questions only)")
    return json.dumps([{"label": o.category, "bbox_2d": [round(v) for v in o.bbox_2d or []]} for o in objects])


@register_task("object_localization")
class ObjectLocalization(TaskGenerator[LocalizationConfig]):
    answer_type: ClassVar[AnswerType] = AnswerType.BOXES
    supported: ClassVar[tuple[Modality, ...]] = (Modality.SINGLE_IMAGE,)
    margins: ClassVar[tuple[str, ...]] = ("visibility_min",)
    subset: ClassVar[str] = "localization"

    def final_answer(self, draft: Draft, objects: list[ObjectRef]) -> str:
        return boxes_answer(objects)

    def derive(self, sample: Sample) -> Sample | None:
        """Paired mode (paper B.1): the same image and question, answered with the referenced objects' boxes."""
        if sample.task == self.name or sample.modality not in self.modalities:
            return None
        return sample.model_copy(
            update={
                "id": f"{sample.id}-loc",
                "task": self.name,
                "answer": boxes_answer(sample.objects),
                "answer_type": self.answer_type,
                "options": [],
                "margins": {"visibility_min": min(o.visibility for o in sample.objects)},
            }
        )

    def boxed(self, shown: Shown, object_id: int, rejections: Rejections) -> bool:
        cfg = self.config
        x1, y1, x2, y2 = shown.in_view(object_id).bbox_2d
        return rejections.check("small_box", min(x2 - x1, y2 - y1) >= cfg.min_box_side)

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        cands = [i for i in self.candidates(ctx, shown, rejections) if self.boxed(shown, i, rejections)]
        order = [cands[int(k)] for k in rng.permutation(len(cands))]
        while order:
            n = int(rng.integers(1, min(cfg.max_objects, len(order)) + 1))
            picked, order = order[:n], order[n:]
            refs = [self.ref(ctx, shown, i, "located") for i in picked]
            names = [ctx.objects[i].category for i in picked]
            yield Draft(
                template=self.name,
                fields={"objects": names[0] if n == 1 else ", ".join(names[:-1]) + " and " + names[-1]},
                objects=refs,
                margins={"visibility_min": min(r.visibility for r in refs)},
            )
