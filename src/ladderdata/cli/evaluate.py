"""``ladder eval``, ``ladder export`` and ``ladder push``: score models on benchmarks, hand benchmarks to official
evaluators, publish folders on the Hub."""

import logging
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ladderdata.cli.options import OptionGroup, Overwrite, with_options
from ladderdata.cli.render import counted, model_label, progress_bars, show_export, show_push
from ladderdata.errors import LadderError, install_command
from ladderdata.eval.hints import Hint
from ladderdata.extensions import BackendName, examples, load_extensions

if TYPE_CHECKING:
    from ladderdata.extensions import AnswerBackend
    from ladderdata.prompts import PromptStyle

log = logging.getLogger("ladderdata")
commands = typer.Typer()


class PromptChoice(StrEnum):
    DIRECT = "direct"
    THINK = "think"


class ModelOptions(OptionGroup):
    """How ``ladder eval --model`` answers the benchmark's questions."""

    model: Annotated[Path | None, typer.Option(help="local Hugging Face VLM folder to answer the questions")] = None
    prompt: Annotated[PromptChoice, typer.Option(help="direct (stage-2 prompt) or think (stage-3 prompt)")] = (
        PromptChoice.DIRECT
    )
    backend: Annotated[BackendName, typer.Option(help="what runs --model: transformers or vllm (GPU extra)")] = (
        BackendName.TRANSFORMERS
    )
    hints: Annotated[Hint, typer.Option(help="with --model: none, boxes or arrows drawn on images (paper App. A)")] = (
        Hint.NONE
    )
    batch_size: Annotated[int, typer.Option(min=1, help="with --model: questions answered at once")] = 4
    max_new_tokens: Annotated[int, typer.Option(min=1, help="with --model: tokens generated per answer, at most")] = 64

    def style(self) -> "PromptStyle":
        from ladderdata.prompts import PromptStyle

        return PromptStyle.THINK if self.prompt is PromptChoice.THINK else PromptStyle.ANSWER


def answer_backend(name: BackendName) -> "AnswerBackend":
    """The ``--backend`` that answers with ``--model``, from the installed extensions."""
    offered = {n: (ext, b) for ext in load_extensions() for n, b in ext.answer_backends.items()}
    if not offered:
        raise LadderError(f"ladder eval --model needs the train extra: {install_command('train')}")
    if name not in offered:
        raise LadderError(f"no installed extension answers with --backend {name}: use {', '.join(sorted(offered))}")
    ext, backend = offered[name]
    if ext.missing():
        raise LadderError(f"ladder eval --model needs the {ext.extra} extra: {ext.install_hint}")
    return backend


def answer_questions(
    answer: "AnswerBackend", bench: Path, model: Path, answering: ModelOptions, predictions: Path
) -> None:
    """Answer ``bench``'s questions with ``model`` and write them to ``predictions``."""
    from ladderdata.eval.report import write_predictions
    from ladderdata.extensions import AnswerRequest
    from ladderdata.io.dataset import BenchReader

    rows = [row.stored_columns() for row in BenchReader(bench).rows(with_images=True)]
    request = AnswerRequest(
        style=answering.style(),
        hint=answering.hints,
        batch_size=answering.batch_size,
        max_new_tokens=answering.max_new_tokens,
    )
    with progress_bars() as progress:
        task = progress.add_task("answering", total=len(rows))
        answers = answer(rows, model, request, lambda n: progress.advance(task, n))
    write_predictions(answers, predictions)
    log.info("wrote %s to %s", counted(len(answers), "prediction"), predictions)


@commands.command(
    "eval",
    epilog=examples(
        "ladder eval --bench bench --predictions preds.jsonl",
        "ladder eval --bench bench --predictions SPBench-SI_results.jsonl --scoring all",
        "ladder eval --bench bench/spbench-si --model runs/stage3/final --prompt think --backend vllm",
    ),
)
@with_options
def eval_command(
    bench: Annotated[Path, typer.Option(help="a benchmark folder (or folder of benchmarks)")],
    predictions: Annotated[
        Path | None, typer.Option(help='JSON Lines of {"id", "prediction"}; written here when --model is given')
    ] = None,
    *,
    answering: ModelOptions,
    out: Annotated[
        Path | None, typer.Option(help="folder for report.md/json (default: beside predictions, or eval-<model>)")
    ] = None,
    scoring: Annotated[
        list[str] | None,
        typer.Option(
            help="ladder, spatialladder, thinking-in-space (alias vsibench), lmms-eval, vstibench or all (repeatable: "
            "the modes side by side; all leaves out, and reports, a mode whose tool refuses a benchmark)"
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            help="the model's name in the report (default: --model's last two path parts, runs/stage2/final -> "
            "stage2/final; else the predictions file's name)"
        ),
    ] = None,
) -> None:
    """Score predictions on a benchmark (MCQ exact letter, numbers by MRA, boxes by IoU); optionally run a model."""
    from ladderdata.eval.report import evaluate
    from ladderdata.eval.scorers import RefusedSummary, scoring_modes
    from ladderdata.outputs import claim_files, refuse_inside_inputs
    from ladderdata.prompts import PromptStyle

    model = answering.model
    modes = scoring_modes(scoring or [])
    if predictions is None and model is None:
        raise LadderError("give --predictions FILE, or --model PATH to produce them")
    report_dir = out or (predictions.parent if predictions is not None else Path(f"eval-{model.name if model else ''}"))
    refuse_inside_inputs(report_dir, [bench])

    def claim_reports() -> None:  # before answering or scoring, after the checks that need nothing written
        claim_files(report_dir, ["report.md", "report.json", "scores.jsonl"], "eval report")

    if model is not None:
        answer = answer_backend(answering.backend)  # said before a wrong model folder
        if not (model / "config.json").is_file():
            raise LadderError(f"--model {model} is not a model folder (no config.json): pass a local HF model folder")
        claim_reports()
        predictions = predictions or (out or Path(f"eval-{model_label(model, None).replace('/', '-')}")) / (
            "predictions.jsonl"
        )
        answer_questions(answer, bench, model, answering, predictions)
    assert predictions is not None
    report_dir = out or predictions.parent
    if model is None:
        claim_reports()
    name = name or model_label(model, predictions)
    thinking = answering.style() is PromptStyle.THINK
    summaries = evaluate(bench, predictions, report_dir, name, modes, thinking, skip_refused="all" in (scoring or []))
    for mode, per_dataset in summaries.items():
        for dataset, s in per_dataset.items():
            if isinstance(s, RefusedSummary):
                log.warning("%s, %s scoring: not scored: %s", dataset, mode, s.refused)
                continue
            log.info(
                "%s, %s scoring: avg %s (NQ %s, MCQ %s) over %s, %s, %d without a prediction",
                dataset,
                mode,
                s.avg,
                s.nq_avg,
                s.mcq_avg,
                counted(s.scored, "question"),
                counted(len(s.errors), "error"),
                s.missing_predictions,
            )
    log.info("report: %s", report_dir / "report.md")


@commands.command(
    "export",
    epilog=examples(
        "ladder export bench --format spatialladder --out /datasets   # SpatialLadder's eval_spld reads /datasets",
        "ladder export bench/vsi-video --format vsibench --out exported --fps 2",
    ),
)
def export_command(
    bench: Annotated[Path, typer.Argument(help="a benchmark (or folder of benchmarks) written by build-bench")],
    format: Annotated[str, typer.Option("--format", help="export layout: spatialladder or vsibench")],
    out: Annotated[
        Path,
        typer.Option(
            help="folder for the exported benchmarks, one sub-folder each: spatialladder writes SPBench-SI, "
            "SPBench-MV and VSI-Bench (its evaluator's /datasets), vsibench the benchmark's name"
        ),
    ],
    fps: Annotated[
        float, typer.Option(help="frame rate of exported videos (one video frame per benchmark frame)")
    ] = 2.0,
    overwrite: Overwrite = False,
) -> None:
    """Write a benchmark in the layout, file names, fields and media an official evaluator reads."""
    from ladderdata.eval.export import export_benchmark

    results = export_benchmark(bench, out, format, fps, overwrite=overwrite)  # the layout registry names the choices
    show_export(results, format, out)


@commands.command(
    epilog=examples(
        "ladder push demo/dataset --repo USER/ladder-demo --dry-run",
        "ladder push bench --repo ORG/spbench --private --revision v1",
    )
)
def push(
    folder: Annotated[
        Path,
        typer.Argument(
            help="a dataset (build-dataset --out), benchmarks (build-bench --out) or one exported folder (export --out)"
        ),
    ],
    repo: Annotated[str, typer.Option(help="Hub dataset repository to push to: USER/NAME or ORG/NAME")],
    private: Annotated[bool, typer.Option(help="create the repository private (an existing one is unchanged)")] = False,
    dry_run: Annotated[bool, typer.Option(help="list the files and sizes that would be sent; send nothing")] = False,
    revision: Annotated[str | None, typer.Option(help="branch to push to, created if needed (default: main)")] = None,
) -> None:
    """Upload shards, card, manifest, stats and previews to a Hugging Face dataset repository (one commit).

    The card is checked against the Hub's metadata rules first; nothing under .ladder-work/ is ever sent.
    """
    from ladderdata.io.push import plan_push
    from ladderdata.io.push import push as push_plan

    plan = plan_push(folder, repo)
    show_push(plan, repo, dry_run)
    if dry_run:
        return
    url = push_plan(plan, private=private, revision=revision)
    log.info("pushed %d files (%s bytes) to %s: %s", len(plan.files), f"{plan.total_bytes:,}", repo, url)
