"""When frames were taken: mmdetection3d ``posed_images`` subsamples carry no frame numbers, so no invented time."""

import logging
from pathlib import Path

import numpy as np
import pytest

from fixtures.factories import all_drafts_recipe, load_ground_truth, read_samples, scannet
from ladderdata.layout import FramesLayout
from ladderdata.metadata.config import MetadataConfig
from ladderdata.metadata.extract import extract_views
from ladderdata.pipeline import BuildConfig, build_dataset
from ladderdata.recipe import LocalizationMode
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig
from ladderdata.sources.synthetic import SynthConfig, synthesize_root

SCENES = ["scene0000_00", "scene0001_00"]


@pytest.fixture(scope="module")
def posed_subsample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two scans of 20 frames whose posed_images hold a random 14 of them, numbered 0..13 (and the .sens);
    made once per test run, read-only."""
    from fixtures.shared import shared_folder

    config = SynthConfig(scenes=2, frames=20, posed_max_images=14, layouts=[FramesLayout.SENS, FramesLayout.POSED])
    return shared_folder(tmp_path_factory, "posed", lambda f: synthesize_root(f / "scannet", config)) / "scannet"


def load(root: Path, layout: FramesLayout, scan_id: str = "scene0000_00") -> ScanNetSource:
    return ScanNetSource(ScanNetSourceConfig(root=root, frames_layout=layout))


def test_posed_subsample_has_no_frame_numbers_and_no_time(posed_subsample: Path) -> None:
    gt = load_ground_truth(posed_subsample, "scene0000_00")
    assert gt.posed_frames is not None
    posed = load(posed_subsample, FramesLayout.POSED).load("scene0000_00")
    sens = load(posed_subsample, FramesLayout.SENS).load("scene0000_00")
    assert posed.frames is not None and sens.frames is not None
    assert not posed.frames.time_known and posed.frames.timestamps_us is None
    assert posed.frames.frame_ids.tolist() == list(range(14))  # file numbers, not the frames' numbers
    # file k holds stream frame gt.posed_frames[k]: same pose (9 significant digits in text, float32 in .sens)
    raw = sens.frames.raw_poses[gt.posed_frames]
    finite = np.isfinite(raw).all(axis=(1, 2))
    np.testing.assert_allclose(posed.frames.raw_poses[finite], raw[finite], atol=1e-5)
    assert sens.frames.time_known


def test_posed_export_of_every_frame_keeps_frame_numbers(synthetic_root: Path) -> None:
    """Every frame exported (as many files as numColorFrames): the file numbers are frame numbers."""
    posed = load(synthetic_root, FramesLayout.POSED).load("scene0000_00")
    sens = load(synthetic_root, FramesLayout.SENS).load("scene0000_00")
    assert posed.frames is not None and sens.frames is not None and posed.frames.time_known
    np.testing.assert_array_equal(posed.frames.timestamps_us, sens.frames.timestamps_us)


def test_views_of_unknown_time_have_no_timestamp(posed_subsample: Path) -> None:
    scan = load(posed_subsample, FramesLayout.POSED).load("scene0001_00")
    views = extract_views(scan, MetadataConfig(frame_stride=1, sensor_depth=False))
    assert views and all(v.timestamp_us is None for v in views)
    assert [v.frame_id for v in views] == sorted(v.frame_id for v in views)


def test_unknown_time_keeps_scans_out_of_temporal_questions(
    posed_subsample: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tasks: dict[str, dict[str, object]] = {
        "object_size_estimation": {},
        "object_counting": {},
        "obj_appearance_order": {},
    }
    recipe = all_drafts_recipe(frame_stride=1).model_copy(update={"tasks": tasks, "localization": LocalizationMode.OFF})
    config = BuildConfig(
        source=scannet(posed_subsample, FramesLayout.POSED), out=tmp_path / "dataset", split="all", recipe=recipe
    )
    with caplog.at_level(logging.WARNING, logger="ladderdata"):
        summary = build_dataset(config)
    assert summary.scans == SCENES and not summary.failed
    rows = read_samples(config.out)
    assert {r["modality"] for r in rows} == {"single_image", "multi_view"}
    assert not [r for r in rows if r["task"] == "obj_appearance_order"]
    assert all(r["timestamps"] is None for r in rows)
    for scan_id in SCENES:
        warnings = [r for r in caplog.records if scan_id in r.getMessage() and "frame times unknown" in r.getMessage()]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert "video" in warnings[0].getMessage() and "obj_appearance_order" in warnings[0].getMessage()
    # the same scans read from their .sens stream do get videos and appearance-order questions
    sens_source = scannet(posed_subsample, FramesLayout.SENS)
    sens = build_dataset(config.model_copy(update={"out": tmp_path / "sens", "source": sens_source}))
    sens_rows = read_samples(sens.out)
    assert {r["modality"] for r in sens_rows} == {"single_image", "multi_view", "video"}
    assert all(r["timestamps"] is not None for r in sens_rows)
