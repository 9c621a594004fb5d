"""``ladder check-leakage``, ``ladder audit`` and ``ladder preview``: look at what was built before using it."""

import logging
from pathlib import Path
from typing import Annotated

import typer

from ladderdata.cli.options import MetadataCache, Seed
from ladderdata.cli.render import show_audit
from ladderdata.errors import ConfigError
from ladderdata.extensions import examples

log = logging.getLogger("ladderdata")
commands = typer.Typer()


@commands.command(
    "check-leakage",
    epilog=examples(
        "ladder check-leakage dataset bench",
        "ladder check-leakage demo/dataset demo/bench/spbench-si",
        "ladder check-leakage dataset --against vsibench,spbench",
    ),
)
def check_leakage_command(
    train: Annotated[Path, typer.Argument(help="a dataset written by build-dataset")],
    bench: Annotated[
        Path | None, typer.Argument(help="a benchmark (or folder of benchmarks) written by build-bench")
    ] = None,
    against: Annotated[
        str | None, typer.Option(help="public benchmarks to compare with: vsibench,spbench,spacer (shipped lists)")
    ] = None,
) -> None:
    """Prove zero room overlap between training data and a benchmark (rescans of a room count as the room) and/or
    the public benchmarks' scene lists; exit 1 when a room is in both."""
    from ladderdata.io.public_scenes import public_names

    names = public_names(against or "")
    if bench is None and not names:
        raise ConfigError("give a benchmark folder, --against vsibench,..., or both")
    clean = leakage_check(train, bench) if bench is not None else True
    if names:
        clean = public_leakage_check(train, names) and clean
    if not clean:
        raise typer.Exit(1)


def leakage_check(train: Path, bench: Path) -> bool:
    """Log whether a room is in both a training dataset and a benchmark (and near-duplicate questions); True when
    no room is."""
    from ladderdata.bench.leakage import check_leakage

    report = check_leakage(train, bench)
    if report.clean:
        log.info(
            "leakage check passed: none of the %d benchmark rooms of %s is among the %d training rooms of %s",
            report.bench_rooms,
            bench,
            report.train_rooms,
            train,
        )
        return True
    log.error(
        "%d room%s in both %s and %s (%s): rebuild the training data with "
        "`ladder build-dataset ... --exclude-bench %s`, which leaves them out",
        len(report.overlap),
        " is" if len(report.overlap) == 1 else "s are",
        train,
        bench,
        ", ".join(report.overlap[:20]) + (", ..." if len(report.overlap) > 20 else ""),
        bench,
    )
    if report.near_duplicates:
        log.error(
            "%d training questions repeat a benchmark question (same room, question type and objects), e.g. %s",
            len(report.near_duplicates),
            ", ".join(f"{a} ~ {b}" for a, b in report.near_duplicates[:5]),
        )
    return False


def public_leakage_check(train: Path, names: list[str]) -> bool:
    """Log the rooms of ``train`` that the shipped scene lists of public benchmarks use; True when none is."""
    from ladderdata.io.public_scenes import public_overlap

    clean = True
    for name in names:
        overlap = public_overlap(train, name)
        if overlap:
            clean = False
            log.error(
                "%d room%s of %s %s used by %s (%s): rebuild with `ladder build-dataset ... --exclude-public %s`",
                len(overlap),
                "" if len(overlap) == 1 else "s",
                train,
                "is" if len(overlap) == 1 else "are",
                name,
                ", ".join(overlap[:20]) + (", ..." if len(overlap) > 20 else ""),
                name,
            )
        else:
            log.info("no room of %s is used by %s (shipped scene list)", train, name)
    return clean


@commands.command(
    "audit",
    epilog=examples("ladder audit bench", "ladder audit bench/spbench-si --folds 10 --out audit-si"),
)
def audit_command(
    folder: Annotated[Path, typer.Argument(help="a benchmark, a folder of benchmarks, or a dataset")],
    out: Annotated[Path | None, typer.Option(help="folder for audit.json and audit.md (default: FOLDER)")] = None,
    folds: Annotated[int, typer.Option(min=2, max=50, help="k of the k-fold text-only model")] = 5,
    seed: Seed = 0,
) -> None:
    """Blind baselines per question type: chance, most frequent / median answer and a k-fold text-only model (the
    audit extra: scikit-learn), with every question's blind-answerability."""
    from ladderdata.audit.report import run_audit

    show_audit(run_audit(folder, out, folds, seed))
    log.info("audit: %s", (out or folder) / "audit.md")


@commands.command(
    epilog=examples(
        "ladder preview demo/dataset --samples 16",
        "ladder preview demo/bench --out /tmp/sheets --seed 1",
        "ladder preview demo/dataset --task object_counting --scene scene0000_00 --samples 4",
    )
)
def preview(
    dataset: Annotated[Path, typer.Argument(help="a folder written by build-dataset, or build-bench's --out folder")],
    out: Annotated[Path | None, typer.Option(help="folder for the PNG sheets (default DATASET/preview)")] = None,
    samples: Annotated[int, typer.Option(min=1, help="random samples per sheet (one sheet per task)")] = 12,
    seed: Annotated[int, typer.Option(help="which samples are drawn")] = 0,
    task: Annotated[list[str] | None, typer.Option(help="only this task's sheet (repeatable)")] = None,
    scene: Annotated[list[str] | None, typer.Option(help="only samples of this scan (repeatable)")] = None,
    metadata_cache: MetadataCache = None,
) -> None:
    """Render one PNG contact sheet per task of random samples: the question's objects boxed on single images and
    on every frame of multi-view sets and videos (from the build's per-view metadata), question, options and
    answer with its unit."""
    from ladderdata.outputs import claim_output, refuse_inside_inputs
    from ladderdata.preview import render_preview

    if out is not None:  # the default, DATASET/preview, is ladder's; a folder inside the dataset is fine, not itself
        if out.resolve() == dataset.resolve():
            refuse_inside_inputs(out, [dataset])
        claim_output(out, "preview sheets")

    caches = [metadata_cache] if metadata_cache else None
    for path in render_preview(dataset, out, samples, seed, task, scene, caches):
        log.info("wrote %s", path)
