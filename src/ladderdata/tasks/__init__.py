"""Question generators, one module per question type, registered under VSI-Bench ``question_type`` names.

Importing this package imports every module in it (:func:`import_builtin_tasks`), so the built-in tasks register
themselves: a new question type is its module and its wording, with no list to extend. Third-party tasks
register with :func:`register_task` or through the ``ladderdata.tasks`` entry-point group.
"""

import importlib
import pkgutil

from ladderdata.tasks.base import (
    TASKS,
    AnswerType,
    Draft,
    FilterConfig,
    Modality,
    ObjectRef,
    OfficialScorer,
    QuestionRecord,
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
    spatialladder_tasks,
)
from ladderdata.tasks.context import ObjectFacts, SceneContext, Shown


def import_builtin_tasks() -> None:
    """Import every module of this package (in name order, so tasks register in a fixed order): the task
    modules among them register their tasks."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


import_builtin_tasks()

SPATIAL_TASKS = spatialladder_tasks()
"""SpatialLadder-26k's question types, in its Table 6 order (:attr:`TaskGenerator.spatialladder_rank`): the
default recipe's tasks, listed first by cards and reports."""
LOCALIZATION_TASK = "object_localization"
"""The task the recipes' ``localization`` setting adds (paired boxes for the perception stage)."""

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
    "QuestionRecord",
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
    "import_builtin_tasks",
    "official_types",
    "register_task",
    "spatialladder_tasks",
]
