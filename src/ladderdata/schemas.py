"""JSON Schemas of the records and configs ladder reads and writes (``schemas/*.json`` in the repo)."""

import json
from pathlib import Path

from pydantic import BaseModel

from ladderdata.cache import write_text_atomic
from ladderdata.eval.export import ExportedBenchmark
from ladderdata.executor import ExecutorConfig
from ladderdata.extensions import load_extensions
from ladderdata.geometry.boxes import AxisAlignedBox, Box2D, OrientedBox
from ladderdata.geometry.camera import CameraIntrinsics
from ladderdata.metadata.config import MetadataConfig, ObjectInView, ViewRecord
from ladderdata.pipeline import BuildConfig, DraftRecord, SceneDrafts
from ladderdata.prompts import Prompts
from ladderdata.recipe import ImageConfig, Recipe
from ladderdata.sources.base import SOURCES, ObjectInfo  # the package registers the built-ins
from ladderdata.synth.root import SynthConfig
from ladderdata.synth.truth import SyntheticGroundTruth
from ladderdata.tasks import TASKS, Draft, FilterConfig, ObjectRef, Sample
from ladderdata.tasks.modalities import ModalityConfig

MODELS: list[type[BaseModel]] = [
    AxisAlignedBox,
    Box2D,
    BuildConfig,
    CameraIntrinsics,
    Draft,
    DraftRecord,
    ExecutorConfig,
    ExportedBenchmark,
    FilterConfig,
    ImageConfig,
    MetadataConfig,
    ModalityConfig,
    ObjectInfo,
    ObjectInView,
    ObjectRef,
    OrientedBox,
    Prompts,
    Recipe,
    Sample,
    SceneDrafts,
    SynthConfig,
    SyntheticGroundTruth,
    ViewRecord,
    # one config per built-in task: what a recipe's ``tasks.<name>`` mapping accepts
    *sorted({cls.config_class for cls in TASKS.values()}, key=lambda c: c.__name__),
]


def source_config_models() -> list[type[BaseModel]]:
    """The config of every registered scan source (built in, and third party through the ``ladderdata.sources``
    entry points): registering a source is all it takes for its schema to be written."""
    SOURCES.load_plugins()
    return sorted({cls.config_class for cls in SOURCES.values()}, key=lambda c: c.__name__)


def all_models() -> list[type[BaseModel]]:
    """:data:`MODELS`, every scan source's config and the models of every installed extension (laddertrain's
    training recipes)."""
    return [*MODELS, *source_config_models(), *(m for ext in load_extensions() for m in ext.schema_models())]


def render_schemas() -> dict[str, str]:
    """File name -> JSON text for every model."""
    return {
        f"{m.__name__}.json": json.dumps(m.model_json_schema(), indent=2, sort_keys=True) + "\n" for m in all_models()
    }


def write_schemas(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = out_dir / name
        write_text_atomic(path, text)
        written.append(path)
    return written
