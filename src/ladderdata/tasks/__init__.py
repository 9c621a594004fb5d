"""Question generators, one module per question type, registered under VSI-Bench ``question_type`` names.

Importing this package registers the built-in tasks; third-party tasks register with
:func:`register_task` or through the ``ladderdata.tasks`` entry-point group.
"""

from ladderdata.tasks import (
    obj_appearance_order,
    object_abs_distance,
    object_counting,
    object_localization,
    object_rel_direction,
    object_rel_distance,
    object_size_estimation,
    room_size_estimation,
)
from ladderdata.tasks.base import (
    TASKS,
    AnswerType,
    Draft,
    FilterConfig,
    Modality,
    ObjectRef,
    Rejections,
    TaskConfig,
    TaskGenerator,
    UnknownLabels,
    get_task,
    register_task,
)
from ladderdata.tasks.context import ObjectFacts, SceneContext, Shown

SPATIAL_TASKS = (
    "object_counting",
    "object_abs_distance",
    "object_size_estimation",
    "room_size_estimation",
    "object_rel_distance",
    "object_rel_direction",
    "obj_appearance_order",
)
LOCALIZATION_TASK = "object_localization"

__all__ = [
    "LOCALIZATION_TASK",
    "SPATIAL_TASKS",
    "TASKS",
    "AnswerType",
    "Draft",
    "FilterConfig",
    "Modality",
    "ObjectFacts",
    "ObjectRef",
    "Rejections",
    "SceneContext",
    "Shown",
    "TaskConfig",
    "TaskGenerator",
    "UnknownLabels",
    "get_task",
    "obj_appearance_order",
    "object_abs_distance",
    "object_counting",
    "object_localization",
    "object_rel_direction",
    "object_rel_distance",
    "object_size_estimation",
    "register_task",
    "room_size_estimation",
]
