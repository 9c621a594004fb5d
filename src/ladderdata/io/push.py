"""``ladder push``: a built dataset, a folder of benchmarks or an exported benchmark to a Hugging Face Hub dataset
repository.

Only what a reader needs is sent: the card, ``LICENSE.md``, ``manifest.json``, ``stats.json``, ``stats.md``, the
shards the manifest lists and the preview sheets (an export: the files its ``export.json`` lists, the ``vsibench``
videos as the archives lmms-eval unpacks); never ``.ladder-work/``, the folder's lock, temp files or anything else
in the folder. The card is checked against the Hub's metadata rules first
(:mod:`ladderdata.io.hub_card`; the Hub checks it again on commit), and the one sent has its ``load_dataset``
lines pointed at the repository. Everything goes in one commit.
"""

import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ladderdata.cache import claim_folder, regular_file_stat
from ladderdata.errors import ConfigError, LadderError
from ladderdata.io.card import benchmark_folders, card_for_repo
from ladderdata.io.exported import EXPORT_MANIFEST, ExportedBenchmark
from ladderdata.io.hub_card import card_problems, read_card_metadata
from ladderdata.layout import DatasetLayout

log = logging.getLogger(__name__)

REQUIRED_METADATA = ("license", "task_categories", "size_categories", "configs")
CARD = "README.md"
EXPORT_IMAGES = "images"


class FolderKind(StrEnum):
    DATASET = "dataset"
    """A folder written by ``build-dataset`` (or one benchmark of ``build-bench``)."""
    BENCHMARKS = "benchmarks"
    """A ``build-bench --out`` folder: a card listing its benchmarks, one folder each."""
    EXPORT = "export"
    """One folder of ``ladder export --out`` (``SPBench-SI``, ``vsi-video``...), described by its ``export.json``."""


class ShardEntry(BaseModel):
    path: str
    """Relative to the dataset folder."""


class DatasetManifest(BaseModel):
    """What ``ladder push`` reads of a built dataset's ``manifest.json`` (:mod:`ladderdata.io.card` writes it)."""

    shards: list[ShardEntry] = []


_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True)
class PushFile:
    source: Path
    repo_path: str
    """Path in the repository (``/``-separated, relative to its root)."""
    size: int


@dataclass(frozen=True)
class PushPlan:
    """Exactly what ``ladder push`` sends: the files (the card as rewritten for the repository) and where."""

    folder: Path
    repo: str
    kind: FolderKind
    files: list[PushFile]
    card: str
    """README.md as sent: the folder's card with its ``load_dataset`` lines naming ``repo``."""

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def replaced_patterns(self) -> list[str]:
        """Remote files an upload replaces, deleting those it does not send again: the shards and previews of an
        earlier push (their names change with their content). Other remote files are left alone."""
        if self.kind is FolderKind.EXPORT:  # the parquet's keyed name, media that are gone
            return ["*.parquet", "*.zip", "*.mp4", f"{EXPORT_IMAGES}/*"]
        prefix = "" if self.kind is FolderKind.DATASET else "*/"
        return [f"{prefix}data/*", f"{prefix}preview/*"]


def _dataset_files(folder: Path) -> list[Path]:
    """The files of one built dataset that a reader needs; raises when its manifest lists a missing shard."""
    layout = DatasetLayout(folder)
    manifest = _read_manifest(layout.manifest, DatasetManifest)
    shards = [folder / s.path for s in manifest.shards]
    missing = [str(p.relative_to(folder)) for p in shards if not p.is_file()]
    if missing:
        raise ConfigError(f"{folder}: shards in its manifest.json are missing ({', '.join(missing[:3])}); rebuild it")
    described = [layout.card, layout.license, layout.manifest, layout.stats_json, layout.stats_md]
    absent = [p.name for p in described if not p.is_file()]
    if absent:
        raise ConfigError(f"{folder}: {', '.join(absent)} missing; rebuild it")
    previews = sorted(layout.preview_dir.glob("*.png")) if layout.preview_dir.is_dir() else []
    report = [layout.report_html] if layout.report_html.is_file() else []  # builds before report.html lack it
    return [*described, *shards, *previews, *report]


def _export_files(folder: Path, manifest: ExportedBenchmark) -> list[Path]:
    """The files of an export folder a reader needs: those its ``export.json`` lists, but for ``vsibench`` the
    archives instead of the loose videos they hold (lmms-eval unpacks the archives); raises when one is missing."""
    listed = list(manifest.keys)
    if manifest.archives:
        loose = {v.path for v in manifest.videos}
        listed = [name for name in listed if name not in loose]
    files = [folder / name for name in sorted(listed) if name != CARD]
    missing = [str(p.relative_to(folder)) for p in files if not p.is_file()]
    if missing or not (folder / CARD).is_file():
        absent = ", ".join((missing or [CARD])[:3])
        raise ConfigError(f"{folder}: {absent} missing (listed in its {EXPORT_MANIFEST}); rerun ladder export")
    return [folder / CARD, folder / EXPORT_MANIFEST, *files]


def _read_manifest(path: Path, model: type[_M]) -> _M:
    try:
        regular_file_stat(path)  # a FIFO would block the read
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    try:
        return model.model_validate(data)
    except ValidationError:
        raise ConfigError(f"{path} is not a ladder manifest") from None


def _check_repo_id(repo: str) -> None:
    """Raise ``ConfigError`` unless ``repo`` is a Hub repository id with its owner (USER/NAME)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils._validators import validate_repo_id  # huggingface_hub.utils exports it lazily

    try:
        validate_repo_id(repo)
    except HFValidationError as e:
        raise ConfigError(f"--repo {repo!r} is not a Hub repository id (USER/NAME): {e}") from None
    if "/" not in repo:
        raise ConfigError(f"--repo {repo!r}: give USER/NAME (or ORG/NAME)")


def _benchmark_sources(folder: Path, benchmarks: list[Path]) -> list[tuple[Path, str]]:
    """(file, path in the repository) of a build-bench folder: its card, licence and the non-empty benchmarks."""
    layout = DatasetLayout(folder)
    absent = [p.name for p in (layout.card, layout.license) if not p.is_file()]
    if absent:
        raise ConfigError(f"{folder}: {', '.join(absent)} missing; rerun ladder build-bench to write them")
    sources = [(layout.card, CARD), (layout.license, layout.license.name)]
    for bench in benchmarks:
        if not _read_manifest(DatasetLayout(bench).manifest, DatasetManifest).shards:
            log.warning("%s is empty: not pushed (its README.md says why)", bench.name)
            continue
        sources += [(p, p.relative_to(folder).as_posix()) for p in _dataset_files(bench)]
    if len(sources) == 2:
        raise ConfigError(f"every benchmark in {folder} is empty: nothing to push (its README.md says why)")
    return sources


def _folder_sources(folder: Path) -> tuple[FolderKind, list[tuple[Path, str]]]:
    """What ``folder`` is and its files to send, each with its path in the repository."""
    layout = DatasetLayout(folder)
    if (folder / EXPORT_MANIFEST).exists():
        files = _export_files(folder, _read_manifest(folder / EXPORT_MANIFEST, ExportedBenchmark))
        return FolderKind.EXPORT, [(p, p.relative_to(folder).as_posix()) for p in files]
    if layout.manifest.is_file():
        if not _read_manifest(layout.manifest, DatasetManifest).shards:
            raise ConfigError(f"{folder} has no rows to push (its README.md and stats.md say why)")
        return FolderKind.DATASET, [(p, p.relative_to(folder).as_posix()) for p in _dataset_files(folder)]
    if benchmarks := benchmark_folders(folder):
        return FolderKind.BENCHMARKS, _benchmark_sources(folder, benchmarks)
    exports = sorted(p.parent.name for p in folder.glob(f"*/{EXPORT_MANIFEST}"))
    hint = f"; push each export folder on its own ({', '.join(exports)})" if exports else ""
    raise ConfigError(
        f"{folder} is neither a dataset (build-dataset --out), benchmarks (build-bench --out) nor an export "
        f"folder (ladder export --out OUT writes OUT/<folder>){hint}"
    )


def _card_for_push(folder: Path, repo: str) -> str:
    """``folder``'s card as pushed to ``repo``; ``ConfigError`` when the Hub would refuse its metadata."""
    card_path = DatasetLayout(folder).card
    try:
        regular_file_stat(card_path)
    except OSError as e:
        raise ConfigError(f"{card_path}: {e.strerror or e}") from None
    card = card_for_repo(card_path.read_text(encoding="utf-8"), folder, repo)
    try:
        meta = read_card_metadata(card)
    except ValueError as e:
        raise ConfigError(f"{card_path}: its metadata is not YAML the Hub reads: {e}") from None
    problems = card_problems(meta, root=folder, required=REQUIRED_METADATA)
    if problems:
        raise ConfigError(f"{card_path} would fail the Hub's metadata checks: " + "; ".join(problems))
    return card


def plan_push(folder: Path, repo: str) -> PushPlan:
    """What pushing ``folder`` to ``repo`` sends; raises ``ConfigError`` for a folder that is not a built dataset
    or benchmark folder, has no rows, or whose card the Hub would refuse."""
    _check_repo_id(repo)
    kind, sources = _folder_sources(folder)
    card = _card_for_push(folder, repo)
    files = [
        PushFile(path, name, len(card.encode()) if name == CARD else path.stat().st_size) for path, name in sources
    ]
    return PushPlan(folder, repo, kind, files, card)


def push(plan: PushPlan, private: bool = False, revision: str | None = None, api: Any = None) -> str:
    """Send ``plan`` in one commit and return the commit's URL: creates the repository (and the branch
    ``revision``) if needed, and deletes the remote shards and previews this upload does not send again (their
    names change with their content), so the repository holds exactly what the card lists. ``api``: an ``HfApi``
    (default: one with the saved token)."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, get_token

    if api is None:
        if get_token() is None:
            raise LadderError("no Hugging Face token: run `hf auth login` or set HF_TOKEN, then push again")
        api = HfApi()
    sent = {f.repo_path for f in plan.files}
    with claim_folder(plan.folder):  # no build rewrites the files while they are read
        try:
            api.create_repo(plan.repo, repo_type="dataset", private=private, exist_ok=True)
            if revision is not None:
                api.create_branch(plan.repo, branch=revision, repo_type="dataset", exist_ok=True)
            remote = api.list_repo_files(plan.repo, repo_type="dataset", revision=revision)
            operations: list[Any] = [
                CommitOperationDelete(path_in_repo=path)
                for path in remote
                if path not in sent and any(fnmatch(path, pattern) for pattern in plan.replaced_patterns)
            ]
            operations += [
                CommitOperationAdd(
                    path_in_repo=f.repo_path,
                    path_or_fileobj=plan.card.encode() if f.repo_path == CARD else f.source,
                )
                for f in plan.files
            ]
            commit = api.create_commit(
                plan.repo,
                operations,
                commit_message=f"ladder push: {plan.folder.name} ({len(plan.files)} files)",
                repo_type="dataset",
                revision=revision,
            )
        except Exception as e:  # the Hub client raises its own, httpx's and OS errors: each is one line here
            raise LadderError(f"pushing {plan.folder} to {plan.repo} failed: {type(e).__name__}: {e}") from None
    return str(commit.commit_url)
