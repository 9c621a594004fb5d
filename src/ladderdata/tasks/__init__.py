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
    object_rel_direction_vsi,
    object_rel_distance,
    object_size_estimation,
    room_size_estimation,
    route_planning,
)
from ladderdata.tasks.base import (
    TASKS,
    AnswerType,
    Draft,
    FilterConfig,
    Modality,
    ObjectRef,
    OfficialScorer,
    Rejections,
    Sample,
    TaskConfig,
    TaskGenerator,
    UnknownLabels,
    column_name,
    forms_of,
    get_task,
    official_types,
    register_task,
)
from ladderdata.tasks.context import ObjectFacts, SceneContext, Shown

SPATIAL_TASKS = (  # SpatialLadder-26k's question types, in its Table 6 order (cards and reports list them first)
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
    "OfficialScorer",
    "Rejections",
    "Sample",
    "SceneContext",
    "Shown",
    "TaskConfig",
    "TaskGenerator",
    "UnknownLabels",
    "column_name",
    "forms_of",
    "get_task",
    "obj_appearance_order",
    "object_abs_distance",
    "object_counting",
    "object_localization",
    "object_rel_direction",
    "object_rel_direction_vsi",
    "object_rel_distance",
    "object_size_estimation",
    "official_types",
    "register_task",
    "room_size_estimation",
    "route_planning",
]
