"""The shard writer's frame reader: a scan's frame source is opened once per process for all its shards, and again
when the scan's content key changes; bytes that decoded at drafting are returned unchanged without a second check,
other bytes are checked (and decoded) once per reader."""

from pathlib import Path

import pytest

from ladderdata.pipeline import frames as pipeline_frames
from ladderdata.pipeline import write
from ladderdata.pipeline.frames import frame_digest
from ladderdata.sources import base as sources_base
from ladderdata.sources.base import source_config

SCAN = "scene0000_00"


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The roots the shard writer's frame cache opens a source of, from an empty cache."""
    roots: list[str] = []
    real_open = sources_base.open_source

    def counting_open(config: sources_base.ScanSourceConfig) -> sources_base.ScanSource:
        roots.append(str(config.root))
        return real_open(config)

    monkeypatch.setattr(pipeline_frames, "open_source", counting_open)
    monkeypatch.setattr(pipeline_frames, "_open_frames", type(pipeline_frames._open_frames)())
    return roots


def test_a_scans_frames_are_opened_once_per_content_key(synthetic_root: Path, opened: list[str]) -> None:
    source = source_config("scannet", root=synthetic_root)
    first = write.FrameReader(source, {}, {SCAN: "key-1"})
    second = write.FrameReader(source, {}, {SCAN: "key-1"})  # the next shard of the same build
    data = first(SCAN, 0)
    assert second(SCAN, 0) == data and second(SCAN, 1) != data
    assert len(opened) == 1
    write.FrameReader(source, {}, {SCAN: "key-2"})(SCAN, 0)  # the scan changed: opened again
    assert len(opened) == 2


def test_frames_drafting_kept_are_the_ones_the_writer_reads(synthetic_root: Path, opened: list[str]) -> None:
    """A scan drafted in this process (its frames kept under its content key) is not opened again for its shards;
    the same scan under another key is."""
    source = source_config("scannet", root=synthetic_root)
    frames = sources_base.open_source(source).open_frames(SCAN)
    assert frames is not None
    pipeline_frames.keep_scan_frames(source, SCAN, "key-1", frames)
    assert write.FrameReader(source, {}, {SCAN: "key-1"})(SCAN, 0) == frames.read_color_jpeg(0)
    assert pipeline_frames.open_scan_frames(source, SCAN, "key-1") is frames
    assert opened == []
    pipeline_frames.open_scan_frames(source, SCAN, "key-2")
    assert len(opened) == 1


def test_only_bytes_not_decoded_at_drafting_are_checked(synthetic_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[tuple[int, bool]] = []
    real_check = sources_base.FrameSource.check_color_jpeg

    def counting(self: sources_base.FrameSource, frame_id: int, data: bytes, decode: bool = False) -> bytes:
        checked.append((frame_id, decode))
        return real_check(self, frame_id, data, decode)

    monkeypatch.setattr(sources_base.FrameSource, "check_color_jpeg", counting)
    source = source_config("scannet", root=synthetic_root)
    frames = sources_base.open_source(source).open_frames(SCAN)
    assert frames is not None
    verified = {SCAN: {0: frame_digest(frames.read_color_jpeg(0)), 1: "bytes that have changed since"}}
    reader = write.FrameReader(source, verified, {SCAN: "key"})
    for _ in range(2):  # a frame shown by several rows of the shard
        assert reader(SCAN, 0) == frames.read_color_jpeg(0)
        assert reader(SCAN, 1) == frames.read_color_jpeg(1)
    assert checked == [(1, True)]  # frame 0 decoded at drafting; frame 1's bytes checked and decoded once
