"""When frames were taken: mmdetection3d ``posed_images`` subsamples carry no frame numbers, so no invented time;
``.sens`` colour timestamps are used only when they are a 30 Hz clock (real ScanNet's are mostly all 0)."""

import logging
import shutil
import struct
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from fixtures.factories import all_drafts_recipe, load_ground_truth, read_samples, scan_paths, scannet
from ladderdata.layout import FramesLayout
from ladderdata.metadata.config import MetadataConfig
from ladderdata.metadata.extract import TIME_BASIS_KEY, extract_views
from ladderdata.pipeline import BuildConfig, build_dataset
from ladderdata.recipe import LocalizationMode
from ladderdata.sources.base import TimeBasis
from ladderdata.sources.scannet import ScanNetSource, ScanNetSourceConfig
from ladderdata.sources.sens import read_sens_index
from ladderdata.sources.validate import frame_clock_problem
from ladderdata.synth.root import SynthConfig
from ladderdata.synth.scannet import synthesize_root

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


# ----------------------------------------------------------------------------------------------- .sens timestamps

FRAMES = 20
#: A real clock: device up-time, 29.97 frames per second, frame 8 dropped (twice the interval before frame 8).
CLOCK = [7_000_000_000 + 33_367 * (i + (i >= 8)) for i in range(FRAMES)]
#: (name, stored colour timestamps, the true capture times in seconds, the rule that finds them)
#: The synthetic stream's own capture times: frame i at i / 30 s.
CAPTURED = [i / 30 for i in range(FRAMES)]
STAMPS: list[tuple[str, list[int], list[float], TimeBasis]] = [
    ("all zero", [0] * FRAMES, CAPTURED, TimeBasis.FRAME_NUMBER),
    ("decreasing", [10**9 - 33_333 * i for i in range(FRAMES)], CAPTURED, TimeBasis.FRAME_NUMBER),
    ("valid clock", CLOCK, [(t - CLOCK[0]) / 1e6 for t in CLOCK], TimeBasis.STORED),
]
STAMP_IDS = [name for name, *_ in STAMPS]


def set_sens_timestamps(path: Path, stamps: list[int]) -> None:
    """Rewrite every frame's colour and depth timestamps (the two u64 after the frame's 4x4 pose)."""
    index = read_sens_index(path)
    data = bytearray(path.read_bytes())
    for offset, stamp in zip(index.color_offsets, stamps, strict=True):
        struct.pack_into("<2Q", data, int(offset) - 32, stamp, stamp)
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def stream_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two scans of 20 frames as a .sens stream and as a SensReader export of every frame."""
    root = tmp_path_factory.mktemp("streams") / "scannet"
    synthesize_root(root, SynthConfig(scenes=2, frames=FRAMES, layouts=[FramesLayout.SENS, FramesLayout.EXPORT]))
    return root


def with_stamps(stream_root: Path, folder: Path, stamps: list[int]) -> Path:
    root = Path(shutil.copytree(stream_root, folder))
    for scan_id in SCENES:
        set_sens_timestamps(scan_paths(root, scan_id).sens, stamps)
    return root


@pytest.mark.parametrize(
    ("stamps", "ok"),
    [
        ([0, 33_333], True),
        ([5], True),  # one frame: nothing to contradict
        ([0, 0, 0], False),
        ([0, 33_000, 33_000], False),  # not strictly increasing
        ([0, 66_667, 133_333], False),  # 15 Hz
        ([0, 30_000, 65_000, 99_000, 132_000], True),  # jitter
        ([0, 33_333, 66_667, 10**9], False),  # median fine, but a jump leaving most of the stream missing
        ([2**64 - 3, 2**64 - 2], False),  # garbage near the top of u64
    ],
)
def test_a_stored_clock_must_increase_at_30_hz(stamps: list[int], ok: bool) -> None:
    assert (frame_clock_problem(np.array(stamps, dtype=np.uint64), 30.0) is None) is ok


@pytest.mark.parametrize(("name", "stamps", "truth", "basis"), STAMPS, ids=STAMP_IDS)
def test_sens_frames_are_timed_by_a_plausible_clock_or_by_frame_number(
    stream_root: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    name: str,
    stamps: list[int],
    truth: list[float],
    basis: TimeBasis,
) -> None:
    root = with_stamps(stream_root, tmp_path / "scannet", stamps)
    with caplog.at_level(logging.WARNING, logger="ladderdata"):
        sens = load(root, FramesLayout.SENS).load("scene0000_00")
    assert sens.frames is not None and sens.frames.time_basis is basis
    assert sens.frames.timestamps_us is not None
    np.testing.assert_allclose(sens.frames.timestamps_us / 1e6, truth, atol=1e-6)
    warnings = [r.getMessage() for r in caplog.records if "timestamps" in r.getMessage()]
    if basis is TimeBasis.STORED:
        assert not warnings
    else:
        (warning,) = warnings
        assert warning.startswith("scene0000_00: ") and str(scan_paths(root, "scene0000_00").sens) in warning
        assert ("all 0" if name == "all zero" else "not increasing") in warning and "frame number / 30 Hz" in warning
    # the SensReader export of the same stream holds no timestamps: frame number / 30 Hz
    export = load(root, FramesLayout.EXPORT).load("scene0000_00").frames
    assert export is not None and export.time_basis is TimeBasis.FRAME_NUMBER and export.timestamps_us is not None
    np.testing.assert_allclose(export.timestamps_us / 1e6, CAPTURED, atol=1e-6)


def test_scattered_and_huge_stored_timestamps_fall_back_without_overflow(stream_root: Path, tmp_path: Path) -> None:
    """Mostly 0 with a few random values (ScanNet/ScanNet#9), one beyond int64."""
    stamps = [0] * FRAMES
    stamps[3], stamps[11] = 2**64 - 5, 123_456_789
    root = with_stamps(stream_root, tmp_path / "scannet", stamps)
    frames = load(root, FramesLayout.SENS).load("scene0001_00").frames
    assert frames is not None and frames.time_basis is TimeBasis.FRAME_NUMBER
    assert frames.timestamps_us is not None
    np.testing.assert_allclose(frames.timestamps_us / 1e6, CAPTURED, atol=1e-6)


def temporal_rows(out: Path) -> list[dict[str, object]]:
    return [r for r in read_samples(out) if r["modality"] == "video" or r["task"] == "obj_appearance_order"]


@pytest.mark.parametrize(("name", "stamps", "truth", "basis"), STAMPS, ids=STAMP_IDS)
def test_video_and_appearance_order_rows_carry_the_true_times(
    stream_root: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    name: str,
    stamps: list[int],
    truth: list[float],
    basis: TimeBasis,
) -> None:
    root = with_stamps(stream_root, tmp_path / "scannet", stamps)
    tasks: dict[str, dict[str, object]] = {"object_counting": {}, "obj_appearance_order": {}}
    recipe = all_drafts_recipe(frame_stride=1).model_copy(update={"tasks": tasks, "localization": LocalizationMode.OFF})
    config = BuildConfig(source=scannet(root, FramesLayout.SENS), out=tmp_path / "ds", split="all", recipe=recipe)
    with caplog.at_level(logging.WARNING, logger="ladderdata"):
        summary = build_dataset(config)
    assert summary.scans == SCENES and not summary.failed
    rows = temporal_rows(config.out)
    assert {r["task"] for r in rows} == {"object_counting", "obj_appearance_order"}
    for row in rows:
        frame_ids, times = row["frame_ids"], row["timestamps"]
        assert isinstance(frame_ids, list) and isinstance(times, list)
        np.testing.assert_allclose(times, [truth[f] for f in frame_ids], atol=1e-6)
        if row["task"] == "obj_appearance_order":  # the gap between first appearances, in seconds of the truth
            margins = row["margins"]
            assert isinstance(margins, dict)
            gaps = [truth[b] - truth[a] for i, a in enumerate(frame_ids) for b in frame_ids[i + 1 :]]
            assert margins["first_seen_gap_s"] > 0 and np.isclose(gaps, margins["first_seen_gap_s"], atol=1e-6).any()
    for scan_id in SCENES:
        warned = [r for r in caplog.records if r.getMessage().startswith(f"{scan_id}: the colour timestamps")]
        assert len(warned) == (0 if basis is TimeBasis.STORED else 1)
        recorded = pq.read_schema(config.out / ".ladder-work" / "metadata" / f"{scan_id}.parquet").metadata
        assert recorded[TIME_BASIS_KEY] == basis.value.encode()
