"""JSON Schemas of the records and configs ladder reads and writes (``schemas/*.json`` in the repo)."""

import json
from pathlib import Path

from pydantic import BaseModel

from ladderdata.geometry.boxes import AxisAlignedBox, Box2D, OrientedBox
from ladderdata.geometry.camera import CameraIntrinsics
from ladderdata.metadata.config import MetadataConfig, ObjectInView, ViewRecord
from ladderdata.sources.base import ObjectInfo
from ladderdata.sources.scannet import ScanNetSourceConfig
from ladderdata.sources.synthetic import SynthConfig, SyntheticGroundTruth

MODELS: list[type[BaseModel]] = [
    AxisAlignedBox,
    Box2D,
    CameraIntrinsics,
    MetadataConfig,
    ObjectInfo,
    ObjectInView,
    OrientedBox,
    ScanNetSourceConfig,
    SynthConfig,
    SyntheticGroundTruth,
    ViewRecord,
]


def render_schemas() -> dict[str, str]:
    """File name -> JSON text for every model in :data:`MODELS`."""
    return {f"{m.__name__}.json": json.dumps(m.model_json_schema(), indent=2, sort_keys=True) + "\n" for m in MODELS}


def write_schemas(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = out_dir / name
        path.write_text(text)
        written.append(path)
    return written
