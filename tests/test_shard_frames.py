"""The shard writer's frames: a scan's frame source is opened once per process for all its shards, and again
when the scan's content key changes; bytes that decoded at drafting are returned unchanged without a second check,
other bytes are checked (and decoded) once per reader; a frame that several rows of a row group show is read and
stored once per group."""

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from ladderdata.io import shards
from ladderdata.pipeline import frames as pipeline_frames
from ladderdata.pipeline import write
from ladderdata.pipeline.frames import frame_digest
from ladderdata.recipe import ImageConfig
from ladderdata.sources import base as sources_base
from ladderdata.sources.base import source_config
from ladderdata.tasks import AnswerType, Modality, Sample

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


def _shown(frames: list[int], scene: str = SCAN) -> Sample:
    return Sample(
        id=f"q-{scene}-{'-'.join(map(str, frames))}",
        task="object_counting",
        modality=Modality.VIDEO if len(frames) > 1 else Modality.SINGLE_IMAGE,
        scene_id=scene,
        source="scannet",
        frame_ids=frames,
        timestamps=[float(f) for f in frames],
        image_width=64,
        image_height=48,
        question="how many chairs?",
        options=[],
        answer="2",
        answer_type=AnswerType.NUMERIC,
        objects=[],
        margins={},
    )


def _jpeg(frame_id: int, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (frame_id * 40 % 256, 30, 160)).save(out, format="JPEG")
    return out.getvalue()


@pytest.mark.parametrize("max_side", [None, 32])
def test_a_frame_several_rows_show_is_read_and_stored_once_per_row_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_side: int | None
) -> None:
    """Rows of one row group that show the same frame hold the bytes it was read (and resized) into once; the next
    group reads it again (a writer holds one group's images); every row holds its frames' stored bytes in order."""
    monkeypatch.setattr(shards, "ROW_GROUP_ROWS", 3)
    samples = [_shown([0, 1, 2]), _shown([1]), _shown([2, 1]), _shown([1, 0]), _shown([3]), _shown([1], "other")]
    reads: list[tuple[str, int]] = []
    encoded: list[bytes] = []
    real_encode = shards.encode_image

    def image_bytes(scene: str, frame: int) -> bytes:
        reads.append((scene, frame))
        return _jpeg(frame + (10 if scene == "other" else 0))

    def counted_encode(jpeg: bytes, config: ImageConfig) -> bytes:
        encoded.append(jpeg)
        return real_encode(jpeg, config)

    monkeypatch.setattr(shards, "encode_image", counted_encode)
    images = ImageConfig(max_side=max_side)
    path = tmp_path / "shard.parquet"
    shards.write_shard(path, samples, "key", shards.ShardFormat(["visibility_min"], images), image_bytes)
    first, second = [(SCAN, 0), (SCAN, 1), (SCAN, 2)], [(SCAN, 1), (SCAN, 0), (SCAN, 3), ("other", 1)]
    assert reads == first + second and len(encoded) == len(reads)
    table = pq.read_table(path, columns=["frame_ids", "images"])
    assert [pq.ParquetFile(path).metadata.row_group(i).num_rows for i in range(2)] == [3, 3]
    for sample, row in zip(samples, table.to_pylist(), strict=True):
        assert row["frame_ids"] == sample.frame_ids
        offset = 10 if sample.scene_id == "other" else 0
        assert [i["bytes"] for i in row["images"]] == [real_encode(_jpeg(f + offset), images) for f in sample.frame_ids]
    if max_side is not None:  # resized: the stored bytes are not the frame's
        assert Image.open(io.BytesIO(table.to_pylist()[0]["images"][0]["bytes"])).size == (32, 24)


def test_a_row_groups_table_is_the_one_from_pylist_builds(tmp_path: Path) -> None:
    """``group_table`` joins the images' bytes into one buffer; the table, and the Parquet file written from it,
    are those of ``pa.Table.from_pylist``: rows with several images, one image, none, a path, extras."""
    fmt = shards.ShardFormat(["visibility_min", "x"], ImageConfig(), extras=True)
    schema = shards.shard_schema(fmt.margin_names, fmt.row_format, fmt.extras)
    samples = [_shown([0, 1, 2]), _shown([5]), _shown([]), _shown([1], "other")]
    samples[0] = samples[0].model_copy(update={"extras": {"note": [1, 2]}, "margins": {"x": 0.5}})
    rows = [shards.shard_row(s, fmt, lambda scene, frame: _jpeg(frame)) for s in samples]
    rows[1]["images"][0]["path"] = "frames/5.jpg"
    expected = pa.Table.from_pylist(rows, schema=schema)
    built = shards.group_table(rows, schema)
    assert built.equals(expected, check_metadata=True) and built.column("images").to_pylist()[2] == []
    for name, table in (("built", built), ("expected", expected)):
        pq.write_table(table, tmp_path / f"{name}.parquet", compression=shards.column_codecs(schema))
    assert (tmp_path / "built.parquet").read_bytes() == (tmp_path / "expected.parquet").read_bytes()
