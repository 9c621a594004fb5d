"""Options that several commands take, declared once.

An option group is a pydantic model whose fields carry their ``typer.Option``; a command that takes one declares
a parameter of the model's type and is decorated with :func:`with_options`, which splices the model's fields into
the signature typer reads and hands the command one model instance. README's CLI table calls the scan options
``SCANS`` and the run options ``RUN``.
"""

import functools
import inspect
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_type_hints

import typer
from pydantic import BaseModel, ConfigDict

from ladderdata.errors import LadderError
from ladderdata.executor.base import ExecutorKind
from ladderdata.layout import FramesLayout
from ladderdata.metadata.config import MetadataConfig

if TYPE_CHECKING:
    from ladderdata.executor import Executor
    from ladderdata.sources.base import ScanSourceConfig

R = TypeVar("R")
T = TypeVar("T")


ANNOTATED: Any = Annotated  # subscripted with a type built at run time, which static checkers cannot follow


class OptionGroup(BaseModel):
    """Options that travel together; subclasses' fields are ``Annotated[type, typer.Option(...)]``."""

    model_config = ConfigDict(frozen=True)


def with_options(command: Callable[..., R]) -> Callable[..., R]:
    """Let typer see each :class:`OptionGroup` parameter of ``command`` as the group's options, in its place, and
    call ``command`` with one instance of the group."""
    hints = get_type_hints(command, include_extras=True)
    groups: dict[str, type[OptionGroup]] = {}
    parameters: list[inspect.Parameter] = []
    for parameter in inspect.signature(command).parameters.values():
        hint = hints[parameter.name]
        if isinstance(hint, type) and issubclass(hint, OptionGroup):
            groups[parameter.name] = hint
            for name, field in hint.model_fields.items():
                default = inspect.Parameter.empty if field.is_required() else field.default
                annotation = ANNOTATED[(field.annotation, *field.metadata)]  # the field's type with its typer.Option
                parameters.append(
                    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
                )
        else:
            parameters.append(parameter.replace(annotation=hint, kind=inspect.Parameter.KEYWORD_ONLY))

    @functools.wraps(command)
    def spliced(**given: Any) -> R:
        for name, group in groups.items():
            given[name] = group(**{field: given.pop(field) for field in group.model_fields})
        return command(**given)

    # a name taken twice (two groups, or a group and a parameter) is refused here, at import, by Signature
    spliced.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    spliced.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": hints.get("return")}
    return spliced


def choose(option: str, name: str, choices: Mapping[str, T] | type[Enum]) -> T:
    """The entry a closed-choice option names (a registry, or an enum's values); else one line with the choices."""
    table: Mapping[str, Any] = {m.value: m for m in choices} if isinstance(choices, type) else choices
    if name in table:
        return table[name]  # type: ignore[no-any-return]
    names = list(table)
    listed = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) == 2 else f"one of {', '.join(names)}"
    raise LadderError(f"{option} must be {listed}, not {name!r}")


#: ``MetadataConfig``'s frame stride, which every built-in recipe keeps (docs/scannet.md, "The frame stride").
DEFAULT_FRAME_STRIDE: int = MetadataConfig.model_fields["frame_stride"].default
#: Scans a real run looks at for its opening estimate (evenly spaced, scaled to all): --dry-run looks at every one.
ESTIMATE_SAMPLE = 64
SPLIT_HELP = "train, val, test, all, or a file of scan ids (one per line)"

Seed = Annotated[int, typer.Option(help="seed of every random choice: same seed, same bytes")]
Overwrite = Annotated[
    bool,
    typer.Option(
        help="replace ladder's earlier output in --out made with other settings (never a folder ladder did not write)"
    ),
]
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="say what the run would do (scans, views at the stride, videos, targets) and its estimated CPU time "
        "and disk, then exit without writing anything",
    ),
]
MetadataCache = Annotated[
    Path | None,
    typer.Option(
        "--metadata-cache",
        help="per-view metadata folder to reuse and fill, e.g. ladder metadata's --out "
        "(default OUT/.ladder-work/metadata)",
    ),
]


class ScanOptions(OptionGroup):
    """Where the scans are and how to read them (``SCANS``). ``--frames-layout``, ``--label-table`` and
    ``--split-dir`` are the settings of the sources whose config model has that field; that model validates them."""

    scans: Annotated[
        list[Path],
        typer.Option(
            "--scans",
            help="root of scans: ScanNet (holding scans/, or a folder of sceneXXXX_YY folders), ScanNet++ or "
            "ARKitScenes; repeat to mix several roots",
        ),
    ]
    frames_layout: Annotated[
        FramesLayout | None,
        typer.Option(
            "--frames-layout",
            help="ScanNet frames to read: sens (.sens), export (SensReader folders) or posed (mmdetection3d "
            "posed_images); default the first present",
        ),
    ] = None
    label_table: Annotated[
        Path | None,
        typer.Option(
            "--label-table",
            help="ScanNet's scannetv2-labels.combined.tsv, or ScanNet++'s class list (one class a line, like "
            "top100.txt); default: the one in the --scans root",
        ),
    ] = None
    split_dir: Annotated[
        Path | None,
        typer.Option(
            "--split-dir",
            help="folder holding the split lists (ScanNet: scannetv2_<split>.txt, ScanNet++: <split>.txt; "
            "default: in the --scans root)",
        ),
    ] = None
    source: Annotated[
        list[str] | None,
        typer.Option(
            help="scannet, scannetpp or arkitscenes (or a plugin's): once for every --scans root or once per root, "
            "in order; default: detected from each root's layout"
        ),
    ] = None

    def source_config(self) -> "ScanSourceConfig":
        """The sources of the ``--scans`` roots, with the settings given (:func:`scan_source`)."""
        return scan_source(self.source, self.scans, **self.model_dump(exclude={"scans", "source"}))


class RunOptions(OptionGroup):
    """Where the work runs (``RUN``)."""

    workers: Annotated[
        int | None, typer.Option(min=1, help="local: worker processes (default 1); ray: tasks in flight (default all)")
    ] = None
    executor: Annotated[
        ExecutorKind, typer.Option("--executor", help="local (this machine) or ray (a Ray cluster)")
    ] = ExecutorKind.LOCAL
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster to join: its head's HOST:PORT (token: ~/.ray/auth_token or RAY_AUTH_TOKEN), auto, or "
            "ray://HOST:10001; default: a local one for the run"
        ),
    ] = None

    def open_executor(self) -> "Executor":
        from ladderdata.executor import ExecutorConfig, open_executor

        if self.ray_address is not None and self.executor is not ExecutorKind.RAY:
            raise LadderError("--ray-address needs --executor ray")
        return open_executor(ExecutorConfig(kind=self.executor, workers=self.workers, ray_address=self.ray_address))


class WriteOptions(OptionGroup):
    """How a command that writes an output folder treats an earlier one, or whether it writes at all."""

    overwrite: Overwrite = False
    dry_run: DryRun = False


class BuildOptions(OptionGroup):
    """What build-dataset and build-bench share besides the scans: which scans, frames, cache and tasks."""

    seed: Seed = 0
    limit_scenes: Annotated[int | None, typer.Option(min=1, help="use only the first K scans of the split")] = None
    frame_stride: Annotated[
        int | None,
        typer.Option(
            min=1, help=f"keep frames whose number is a multiple of K (default: the recipe's, {DEFAULT_FRAME_STRIDE})"
        ),
    ] = None
    metadata_cache: MetadataCache = None
    tasks_module: Annotated[
        list[Path] | None,
        typer.Option(
            "--tasks-module",
            help="a .py file registering tasks of your own (@register_task), imported before the recipe is read; "
            "repeatable; the recipe's tasks: then name them (docs/tasks.md)",
        ),
    ] = None


def scan_source(names: list[str] | None, roots: list[Path], **settings: object) -> "ScanSourceConfig":
    """The source config of ``--scans`` roots: each root's ``--source`` (or the one detected from its layout),
    several roots as one mixed source. ``settings`` (``frames_layout``, ``label_table``, ``split_dir``; None: not
    given) go to the roots whose source's config model has that field, which validates them (a ``LadderError``
    when no root's source has it)."""
    from ladderdata.layout import check_scans_root

    if not roots:
        raise LadderError("give --scans ROOT (repeatable)")
    names = list(names or [])
    for root in [] if names else roots:  # roots to detect a source in, before the sources' imports (seconds)
        check_scans_root(root)
    from ladderdata.sources.base import detect_source, get_source, source_config

    if len(names) not in (0, 1, len(roots)):
        raise LadderError(f"give --source once, or once per --scans root ({len(roots)}), not {len(names)} times")
    chosen = [names[0] if len(names) == 1 else names[i] if names else detect_source(r) for i, r in enumerate(roots)]
    given = {k: v for k, v in settings.items() if v is not None}
    per_root = [{k: v for k, v in given.items() if k in get_source(name).config_class.model_fields} for name in chosen]
    for field in given:
        if not any(field in s for s in per_root):
            option = "--" + field.replace("_", "-")
            raise LadderError(f"{option} is not a setting of {' or '.join(sorted(set(chosen)))}: leave it out")
    parts = [source_config(name, root=root, **s) for name, root, s in zip(chosen, roots, per_root, strict=True)]
    return parts[0] if len(parts) == 1 else source_config("mixed", parts=parts)


def list_scans(config: "ScanSourceConfig", split: str) -> list[str]:
    """The scans a command will read; wrong paths, a missing label table or split list fail here, before any
    progress bar or worker starts."""
    from ladderdata.pipeline.plan import list_scans as listed
    from ladderdata.sources.base import open_source

    return listed(open_source(config), split)
