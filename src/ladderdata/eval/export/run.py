"""``ladder export``: the driver every layout shares (:func:`export_benchmark`).

Every folder is a Hub dataset repository as it stands (``ladder push``): a card with the Hub's metadata
(licence ``other`` after the scans' terms, with ``LICENSE.md`` beside it, task and size categories, language) and
one config, stable across exports, that the layout names. ``datasets`` caches a local folder under its name,
config name and the card's ``data_files`` (names, never contents), so the file the card names carries the
parquet's content key (:func:`ladderdata.cache.content_key`, in :func:`ladderdata.layout.shard_name`). A
re-export with other rows, or another folder of the same name, is then another cache entry: ``load_dataset``
never serves stale or foreign rows.

Images are the benchmark's JPEGs, unchanged, under ``images/<scene_name>/``; videos hold a benchmark's frames of
the scan, one video frame each, at ``fps`` (frame k at k / fps seconds), under ``<dataset>/<scene_name>.mp4``;
``export.json`` states the fps and, per video, the frame ids with their times in the scan and in the video.
Every file is written under a temporary name and renamed; a rerun rewrites only what changed and removes files
a previous export left that the benchmark no longer has.
"""

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from string import Template

import pyarrow as pa
import pyarrow.parquet as pq

from ladderdata.cache import content_key
from ladderdata.errors import ConfigError
from ladderdata.eval.export.base import ExportLayout, get_layout
from ladderdata.eval.export.files import (
    ExportWriter,
    bytes_writer,
    export_images,
    export_video,
    previous_export,
    write_atomic,
)
from ladderdata.eval.export.read import BenchSource
from ladderdata.eval.export.records import SPLIT
from ladderdata.io.card import data_configs, front_matter, license_file, project_reference, terms_section
from ladderdata.io.dataset import BenchRow
from ladderdata.io.exported import EXPORT_MANIFEST, ExportedBenchmark, ExportedVideo
from ladderdata.layout import LICENSE_FILE, check_name
from ladderdata.outputs import claim_output, refuse_inside_inputs
from ladderdata.prompts import resource

log = logging.getLogger(__name__)


def _card(layout: ExportLayout, result: ExportedBenchmark, frames: int) -> str:
    """A Hub card (:mod:`ladderdata.io.hub_card`'s rules) whose one config points ``load_dataset(folder)`` at
    the keyed parquet only (not the media)."""
    configs = data_configs([(result.config, result.rows, [result.data_file], result.data_file)], SPLIT)
    pretty = f"{result.benchmark} ({result.format} layout)"
    return Template(resource("export_card.md")).substitute(
        front_matter=front_matter(pretty, result.rows, bool(result.videos), configs, result.sources, ["benchmark"]),
        folder=result.folder,
        benchmark=result.benchmark,
        format=result.format,
        rows=f"{result.rows:,}",
        question_types=", ".join(f"{t} {n}" for t, n in result.question_types.items()),
        sources=", ".join(result.sources),
        project=project_reference(),
        reader=layout.reader,
        config=result.config,
        usage=layout.usage(result),
        frames=layout.frames_note(result, frames),
        terms=terms_section(result.sources),
    )


def _check(layout: ExportLayout, benchmark: str, questions: list[BenchRow]) -> bool:
    """Whether the benchmark is a video one; raises when the layout cannot hold it."""
    kinds = {q.modality == "video" for q in questions}
    if len(kinds) > 1:
        raise ConfigError(f"{benchmark} mixes videos with images; the evaluators read one or the other")
    is_video = kinds == {True}
    layout.check(benchmark, questions, is_video)
    frames_of: dict[str, list[int]] = {}
    for q in questions:
        if is_video and frames_of.setdefault(q.scene_id, q.frame_ids) != q.frame_ids:
            raise ConfigError(
                f"{benchmark}: questions about {q.scene_id} show different frames, but a scan has one video"
            )
    return is_video


def _folders(layout: ExportLayout, video_of: dict[str, bool]) -> dict[str, str]:
    """Benchmark -> its folder under ``--out``; raises when two benchmarks would share one."""
    folder_of = {
        name: check_name(layout.folder(name, is_video), "benchmark name") for name, is_video in video_of.items()
    }
    by_folder: dict[str, list[str]] = defaultdict(list)
    for name, folder in folder_of.items():
        by_folder[folder.lower()].append(name)  # case-insensitive file systems would merge them too
    for names in by_folder.values():
        if len(names) > 1:
            raise ConfigError(
                f"benchmarks {', '.join(names)} would all be written to {folder_of[names[0]]}/ "
                f"({layout.name} reads one benchmark there): export them one at a time, each to its own --out"
            )
    return folder_of


def _export_one(
    layout: ExportLayout,
    source: BenchSource,
    benchmark: str,
    root: Path,
    is_video: bool,
) -> ExportedBenchmark:
    """Write one benchmark's folder: media, parquet (and its keyed copy), the layout's own files, ``LICENSE.md``,
    the card, then ``export.json``."""
    writer = ExportWriter(root, previous_export(root))
    questions: list[BenchRow] = []
    names: list[list[str]] = []
    videos: dict[str, ExportedVideo] = {}
    contents: dict[str, str] = {}
    for question in source.with_images(benchmark):
        if is_video:
            if question.scene_id not in videos:
                videos[question.scene_id] = export_video(writer, question, layout.options.fps)
        else:
            names.append(export_images(writer, question, contents))
        questions.append(question.model_copy(update={"images": []}))
    sink = pa.BufferOutputStream()
    pq.write_table(layout.table(questions, None if is_video else names), sink)
    data = sink.getvalue().to_pybytes()
    key = content_key({"parquet": data})
    parquet, data_file, config = layout.parquet_names(root.name, is_video, key)
    for name in dict.fromkeys([parquet, data_file]):
        writer.write(name, key, bytes_writer(data))
    sources = sorted({q.source for q in questions})
    result = ExportedBenchmark(
        format=layout.name,
        benchmark=benchmark,
        folder=root.name,
        parquet=parquet,
        data_file=data_file,
        config=config,
        sources=sources,
        rows=len(questions),
        question_types=dict(sorted(Counter(q.task for q in questions).items())),
        fps=layout.options.fps if is_video else None,
        images=sorted(contents),
        videos=list(videos.values()),
    )
    frames = max(len(q.frame_ids) for q in questions)
    layout.finish(result, writer, frames)
    license_text = license_file(sources).encode()
    writer.write(LICENSE_FILE, content_key({"license": license_text}), bytes_writer(license_text))
    # the card after the parquet it names, the stale files (the previous parquet) after the card
    card = _card(layout, result, frames).encode()
    writer.write("README.md", content_key({"card": card}), bytes_writer(card))
    writer.remove_stale()
    result.keys = writer.keys
    write_atomic(root / EXPORT_MANIFEST, bytes_writer((result.model_dump_json(indent=2) + "\n").encode()))
    log.info("%s: %d questions, %d files written to %s", benchmark, len(questions), writer.written, root)
    return result


def export_benchmark(
    bench: Path,
    out: Path,
    fmt: str,
    fps: float = 2.0,
    on_benchmark: Callable[[], None] | None = None,
    overwrite: bool = False,
    settings: Mapping[str, object] | None = None,
) -> list[ExportedBenchmark]:
    """Export one benchmark folder, or every benchmark under a folder, to ``out/<folder>/`` in the layout
    registered as ``fmt`` (:data:`~ladderdata.eval.export.base.EXPORT_LAYOUTS`; its :meth:`ExportLayout.folder`
    is the name its evaluator opens).

    Every benchmark is checked, and every ``out/<folder>`` claimed (``ladderdata.outputs``: empty, or this
    layout's earlier export with the same options unless ``overwrite``), before anything is written; ``out``
    inside ``bench`` is refused. ``settings``: the layout's own options besides ``fps`` (the fields of its
    :attr:`~ExportLayout.options_model`).
    """
    layout_class = get_layout(fmt)
    if fps <= 0:
        raise ConfigError(f"--fps must be positive, not {fps}")
    layout = layout_class(layout_class.options_model.model_validate({"fps": fps, **(settings or {})}))
    refuse_inside_inputs(out, [bench])
    source = BenchSource(bench)
    questions_of = source.questions()
    video_of = {name: _check(layout, name, questions) for name, questions in questions_of.items()}
    folder_of = _folders(layout, video_of)
    for folder in folder_of.values():
        claimed = {"format": layout.name, **layout.options.model_dump()}
        claim_output(out / folder, "benchmark export", claimed, overwrite=overwrite, signature=EXPORT_MANIFEST)
    results = []
    for benchmark in source.benchmarks:
        results.append(_export_one(layout, source, benchmark, out / folder_of[benchmark], video_of[benchmark]))
        if on_benchmark:
            on_benchmark()
    return results
