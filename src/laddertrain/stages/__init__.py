"""The training stages: one module each, registered here in the order ``ladder train all`` runs them.

Third-party stages register with :func:`laddertrain.stages.base.register_stage` in their own module, which is
imported before the stage is needed or named in the ``laddertrain.stages`` entry-point group; they run after the
built-in ones (docs/training.md, "Adding a training stage").
"""

from laddertrain.stages.base import STAGES, Stage, register_stage
from laddertrain.stages.coldstart import COLDSTART
from laddertrain.stages.coldstart_data import COLDSTART_DATA
from laddertrain.stages.stage1 import STAGE1
from laddertrain.stages.stage2 import STAGE2
from laddertrain.stages.stage3 import STAGE3

for _builtin in (STAGE1, STAGE2, COLDSTART_DATA, COLDSTART, STAGE3):
    register_stage(_builtin)


def all_stages() -> list[Stage]:
    """Every stage, built in first, then those of installed plugins, in registration order."""
    STAGES.load_plugins()
    return list(STAGES.values())


def get_stage(name: str) -> Stage:
    """The stage registered as ``name`` (a one-line error listing the stages when there is none)."""
    return STAGES.get_entry(name)


def next_stage(stage: Stage) -> Stage | None:
    """The stage ``ladder train all`` runs after ``stage`` (None after the last)."""
    order = all_stages()
    position = [s.name for s in order].index(stage.name)
    return order[position + 1] if position + 1 < len(order) else None
