"""Label semantics on ScanNet's real label table: which objects may be named in questions, and labels the table
lacks (reported per scan, dropped from questions by default)."""

import csv
import json
import logging
from pathlib import Path

import pytest

from fixtures.factories import all_drafts_recipe, make_synthetic_root, read_samples, scan_paths, scannet
from fixtures.shared import shared_folder
from ladderdata.geometry.boxes import OrientedBox
from ladderdata.layout import FramesLayout
from ladderdata.metadata.config import MetadataConfig
from ladderdata.metadata.extract import extract_views
from ladderdata.pipeline import BuildConfig, build_dataset
from ladderdata.recipe import LocalizationMode
from ladderdata.sources.labels import LabelTable
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig
from ladderdata.tasks import (
    FilterConfig,
    ObjectFacts,
    Rejections,
    SceneContext,
    Shown,
    TaskGenerator,
    UnknownLabels,
    get_task,
)

TABLE = "scannetv2-labels.combined.tsv"


def facts(table: LabelTable, raw_label: str, object_id: int = 0) -> ObjectFacts:
    entry = table.lookup(raw_label)
    box = OrientedBox(center=(0.0, 0.0, 0.5), size=(0.5, 0.5, 0.5), yaw=0.0)
    return ObjectFacts(
        object_id, raw_label, entry.category, box, 50.0, entry.nyu40_class, entry.in_table, label_count=entry.count
    )


def size_task(filters: FilterConfig | None = None) -> TaskGenerator:
    cls = get_task("object_size_estimation")
    return cls(cls.config_class(), filters)


def test_noisy_values_live_in_the_columns_the_filter_reads(scannet_meta: Path) -> None:
    with open(scannet_meta / TABLE, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    categories = {r["category"] for r in rows}
    nyu40 = {r["nyu40class"] for r in rows}
    defaults = FilterConfig()
    assert set(defaults.noisy_nyu40_classes) <= nyu40  # every class the filter names exists in that column
    assert not {"otherprop", "otherfurniture", "otherstructure"} & categories  # and never in `category`
    assert {"object", "doorframe"} <= categories
    # NYU40's catch-all classes hold a large share of ScanNet's raw labels
    other = [r for r in rows if r["nyu40class"] in ("otherprop", "otherfurniture", "otherstructure")]
    assert len(other) > 0.7 * len(rows)


@pytest.mark.parametrize(
    ("raw_label", "askable"),
    [
        ("chair", True),
        ("table", True),
        ("trash can", True),  # otherfurniture, 1,090 instances in ScanNet
        ("monitor", True),  # otherprop, 765
        ("tissue box", False),  # otherprop, 73: a rare label
        ("pipe", False),  # otherstructure
        ("doorframe", False),  # category doorframe (NYU40 door)
        ("door", True),
        ("wall", False),
        ("shower floor", False),  # NYU40 floor
        ("object", False),
    ],
)
def test_default_filters_on_the_real_table(scannet_meta: Path, raw_label: str, askable: bool) -> None:
    table = LabelTable.read(scannet_meta / TABLE)
    gen = size_task()
    assert (gen.unaskable(facts(table, raw_label)) is None) is askable


def test_catch_all_classes_are_askable_only_for_common_labels(scannet_meta: Path) -> None:
    """The oracle reads the table's columns itself: structure never, NYU40's catch-all classes when the raw label
    has at least 100 instances in ScanNet."""
    with open(scannet_meta / TABLE, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    table = LabelTable.read(scannet_meta / TABLE)
    gen = size_task()
    askable_other = 0
    for row in rows:
        reason = gen.unaskable(facts(table, row["raw_category"]))
        if row["nyu40class"] == "otherstructure":
            assert reason == "noisy_category", row["raw_category"]
        elif row["nyu40class"] in ("otherprop", "otherfurniture") and row["category"] not in ("object", "objects"):
            common = int(row["count"]) >= 100
            assert (reason is None) is common, (row["raw_category"], row["count"], reason)
            assert common or reason == "rare_label"
            askable_other += common
    assert askable_other >= 20  # trash cans, monitors, backpacks, plants, keyboards, microwaves, laptops, ...


def test_synthetic_scan_with_the_real_table(synthetic_root: Path, scannet_meta: Path) -> None:
    """Structure (walls, floor, ceiling) is never named, but it is measured and occludes; the common catch-all
    objects (trash can, monitor, plant, backpack) are named."""
    source = ScanNetSource(ScanNetSourceConfig(root=synthetic_root, label_table=scannet_meta / TABLE))
    scan = source.load("scene0000_00")
    assert not scan.unknown_labels
    views = extract_views(scan, MetadataConfig(frame_stride=1, sensor_depth=False))
    ctx = SceneContext.from_scan(scan, views)
    structure = {o.info.object_id for o in scan.objects if o.info.nyu40_class in ("wall", "floor", "ceiling")}
    assert structure and structure & {o.object_id for v in views for o in v.objects}  # seen in the views
    catch_all = {o.info.object_id for o in scan.objects if o.info.nyu40_class in ("otherprop", "otherfurniture")}
    gen = size_task()
    named: set[int] = set()
    rejections = Rejections()
    for view in views:
        named |= set(gen.candidates(ctx, Shown([view], set(ctx.objects)), rejections))
    assert named and not named & structure
    assert rejections.counts["noisy_category"] > 0
    seen_catch_all = catch_all & {o.object_id for v in views for o in v.objects if o.visibility >= 0.4}
    assert not seen_catch_all or named & catch_all


@pytest.fixture(scope="module")
def unknown_label_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One synthetic scan whose chairs are annotated ``chiar``, a label the table lacks; read-only."""

    def build(folder: Path) -> None:
        root = make_synthetic_root(folder / "scannet", 1, 16, layouts=[FramesLayout.SENS])
        agg = scan_paths(root, "scene0000_00").aggregation
        data = json.loads(agg.read_text())
        for group in data["segGroups"]:
            if group["label"] == "chair":
                group["label"] = "chiar"
        agg.write_text(json.dumps(data))

    return shared_folder(tmp_path_factory, "unknown-label", build) / "scannet"


def test_unknown_labels_are_reported_when_a_scan_is_read(
    unknown_label_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ladderdata"):
        scan = ScanNetSource(ScanNetSourceConfig(root=unknown_label_root)).load("scene0000_00")
    chairs = [o for o in scan.objects if o.info.label == "chiar"]
    assert chairs and scan.unknown_labels == {"chiar": len(chairs)}
    assert all(not o.info.in_label_table and o.info.category == "chiar" for o in chairs)
    messages = [r.getMessage() for r in caplog.records if "scene0000_00" in r.getMessage()]
    assert any(f"{len(chairs)} objects" in m and "chiar" in m for m in messages), messages


@pytest.mark.parametrize("policy", list(UnknownLabels))
def test_unknown_labels_in_a_build(unknown_label_root: Path, tmp_path: Path, policy: UnknownLabels) -> None:
    base = all_drafts_recipe(frame_stride=2)
    recipe = base.model_copy(
        update={
            "tasks": {"object_size_estimation": {"max_per_scene": 50}, "object_counting": {}},
            "localization": LocalizationMode.OFF,
            "filters": base.filters.model_copy(update={"unknown_labels": policy}),
        }
    )
    out = tmp_path / "dataset"
    build_dataset(BuildConfig(source=scannet(unknown_label_root), out=out, split="all", recipe=recipe))
    stats = json.loads((out / "stats.json").read_text())
    chairs = stats["scans"]["unknown_labels"]["scene0000_00"]["chiar"]
    assert chairs >= 1
    assert "chiar" in (out / "stats.md").read_text()
    named = {o["category"] for row in read_samples(out) for o in row["objects"]}
    assert ("chiar" in named) is (policy is UnknownLabels.KEEP)
    rejected = stats["rejections"]["object_size_estimation/single_image"]
    assert (rejected.get("unknown_label", 0) > 0) is (policy is UnknownLabels.DROP)
