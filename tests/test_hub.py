"""Hugging Face Hub: cards the Hub accepts, cache-safe file names, and ``ladder push`` (offline: a Hub client whose
network calls are replaced, fed huggingface_hub's own commit operations)."""

import doctest
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from fixtures.factories import BuiltDataset, scannet
from ladderdata.cli import app
from ladderdata.errors import ConfigError, LadderError
from ladderdata.eval.export import export_benchmark
from ladderdata.io.hub_card import card_problems, read_card_metadata
from ladderdata.io.push import FolderKind, plan_push, push
from ladderdata.pipeline import BuildConfig, build_dataset

SCANNET_TOS = "http://kaldir.vc.in.tum.de/scannet/ScanNet_TOS.pdf"


def metadata(folder: Path) -> dict[str, Any]:
    """The card's YAML block, read as plain YAML (not through ladder's or huggingface_hub's parsers)."""
    text = (folder / "README.md").read_text()
    assert text.startswith("---\n")
    block = text.split("---\n")[1]
    meta: dict[str, Any] = yaml.safe_load(block)
    return meta


def rows_on_disk(folder: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in folder.rglob("data/*/*.parquet"))


def hub_bucket(rows: int) -> str:
    """The Hub's size buckets, as huggingface_hub's DatasetCardData documents them."""
    if rows < 1_000:
        return "n<1K"
    if rows < 10_000:
        return "1K<n<10K"
    return "10K<n<100K" if rows < 100_000 else "100K<n<1M"


def test_examples_in_docstrings() -> None:
    from ladderdata.geometry import vision_grid
    from ladderdata.io import hub_card

    for module in (vision_grid, hub_card):
        result = doctest.testmod(module)
        assert result.attempted and not result.failed


def test_dataset_card_metadata_is_what_the_hub_accepts(built_dataset: BuiltDataset) -> None:
    datasets = pytest.importorskip("datasets")
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    out = built_dataset.out
    meta = metadata(out)
    assert meta["license"] == "other"
    assert meta["license_name"] == "scannet-terms-of-use"
    assert meta["license_link"] == "LICENSE.md" and SCANNET_TOS in (out / "LICENSE.md").read_text()
    assert meta["size_categories"] == [hub_bucket(rows_on_disk(out))]
    assert "visual-question-answering" in meta["task_categories"]
    assert "video-text-to-text" in meta["task_categories"]  # the build has video rows
    assert meta["language"] == ["en"]
    # huggingface_hub parses the card to the same metadata; datasets accepts its configs and finds one default
    card_data = DatasetCard((out / "README.md").read_text()).data
    configs = MetadataConfigs.from_dataset_card_data(card_data)
    assert configs.get_default_config_name() == "spatial"
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("data/*/*.parquet")}
    listed = {path for c in configs.values() for entry in c["data_files"] for path in entry["path"]}
    assert listed == on_disk  # every shard listed by its exact name, nothing else
    assert card_problems(read_card_metadata((out / "README.md").read_text()), root=out) == []
    del datasets


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"license": "scannet"}, '"license" must be one of'),
        ({"license_name": None}, 'needs "license_name"'),
        ({"license_link": "see the terms"}, 'needs "license_link"'),
        ({"task_categories": ["vqa"]}, '"task_categories" must be one of'),
        ({"size_categories": ["small"]}, '"size_categories" must be one of'),
        ({"language": ["english"]}, "ISO 639"),
        ({"pretty_name": " "}, "pretty_name"),
        ({"configs": []}, "non-empty list"),
    ],
)
def test_hub_rules_refuse_what_the_hub_refuses(
    built_dataset: BuiltDataset, change: dict[str, Any], complaint: str
) -> None:
    meta = metadata(built_dataset.out) | change
    problems = card_problems(meta, root=built_dataset.out)
    assert any(complaint in p for p in problems), problems


def test_hub_rules_check_configs_against_the_folder(built_dataset: BuiltDataset) -> None:
    meta = metadata(built_dataset.out)
    first = meta["configs"][0]
    bad = [
        {**first, "default": False},
        {"config_name": "other", "default": True, "data_files": [{"split": "train-1", "path": "/abs.parquet"}]},
        {"config_name": "missing", "data_files": [{"split": "train", "path": "data/spatial/nope.parquet"}]},
    ]
    assert card_problems(meta, root=built_dataset.out) == []
    problems = card_problems(meta | {"configs": meta["configs"] + bad}, root=built_dataset.out)
    assert f"config names must be unique: {first['config_name']}" in problems
    assert 'at most one config may be "default: true"' in problems
    assert any("split name 'train-1'" in p for p in problems)
    assert any("must be relative" in p for p in problems)
    assert any("nope.parquet does not exist" in p for p in problems)


def test_benchmark_root_has_a_card_that_loads_each_benchmark(benches: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    meta = metadata(benches)
    assert meta["license_name"] == "scannet-terms-of-use" and (benches / "LICENSE.md").is_file()
    assert card_problems(meta, root=benches, required=("license", "configs", "size_categories")) == []
    assert meta["size_categories"] == [hub_bucket(rows_on_disk(benches))]
    # the default is SPBench-SI, the paper's first benchmark, chosen by name, not by how the names sort
    assert [c["config_name"] for c in meta["configs"] if c.get("default")] == ["spbench-si"]
    names = sorted(c["config_name"] for c in meta["configs"])
    assert names == sorted(p.parent.name for p in benches.glob("*/manifest.json") if rows_on_disk(p.parent))
    for name in names:
        rows = datasets.load_dataset(str(benches), name, split="test", cache_dir=str(tmp_path / "hf"))
        manifest = json.loads((benches / name / "manifest.json").read_text())
        assert len(rows) == sum(s["rows"] for s in manifest["shards"])
        assert set(rows["dataset"]) == {name}
    readme = (benches / "README.md").read_text()
    assert all(f"| {name} |" in readme for name in names)
    assert "ladder export BENCH --format spatialladder" in readme


def questions(ds: Any) -> list[tuple[str, str, str]]:
    return sorted(zip(ds["id"], ds["question"], ds["answer"], strict=True))


def parquet_questions(out: Path) -> list[tuple[str, str, str]]:
    table = pq.read_table(sorted((out / "data" / "spatial").glob("*.parquet")), columns=["id", "question", "answer"])
    return sorted(zip(*(table.column(c).to_pylist() for c in ("id", "question", "answer")), strict=True))


def build(root: Path, out: Path, recipe: Any, seed: int) -> None:
    build_dataset(BuildConfig(source=scannet(root), out=out, split="all", recipe=recipe, seed=seed))


def test_load_dataset_never_serves_stale_or_foreign_rows(built_dataset: BuiltDataset, tmp_path: Path) -> None:
    """datasets caches a local folder under its name, config and card: rebuilding in place with another seed, or
    another folder of the same name, must still load the rows on disk."""
    datasets = pytest.importorskip("datasets")
    cache = str(tmp_path / "hf")
    out = tmp_path / "a" / "dataset"
    shutil.copytree(built_dataset.out, out)
    first = questions(datasets.load_dataset(str(out), "spatial", split="train", cache_dir=cache))
    assert first == parquet_questions(out)
    build(built_dataset.root, out, built_dataset.recipe, seed=1)  # in place
    again = questions(datasets.load_dataset(str(out), "spatial", split="train", cache_dir=cache))
    assert again == parquet_questions(out) != first
    other = tmp_path / "b" / "dataset"  # same folder name, other rows
    shutil.copytree(built_dataset.out, other)
    assert questions(datasets.load_dataset(str(other), "spatial", split="train", cache_dir=cache)) == first


# ------------------------------------------------------------------------------------------------- ladder push


@pytest.fixture
def pushable(built_dataset: BuiltDataset, tmp_path: Path) -> Path:
    """A copy of the built dataset with what must never be sent: work files, a lock, a temp file, a stray note."""
    out = tmp_path / "dataset"
    shutil.copytree(built_dataset.out, out)
    (out / "preview").mkdir(exist_ok=True)
    (out / "preview" / "spatial.png").write_bytes(b"\x89PNG fake sheet")
    (out / ".ladder-work" / "secret.txt").write_text("work")
    (out / ".ladder.lock").write_text("1234")
    (out / "data" / "spatial" / "train-00000.parquet.tmp").write_bytes(b"half")
    (out / "notes.txt").write_text("mine")
    return out


def test_push_plan_sends_only_what_a_reader_needs(pushable: Path) -> None:
    plan = plan_push(pushable, "someone/spatial-qa")
    manifest = json.loads((pushable / "manifest.json").read_text())
    expected = {
        "README.md",
        "LICENSE.md",
        "manifest.json",
        "stats.json",
        "stats.md",
        "report.html",
        "preview/spatial.png",
    }
    expected |= {s["path"] for s in manifest["shards"]}
    assert {f.repo_path for f in plan.files} == expected
    assert plan.kind is FolderKind.DATASET
    assert 'load_dataset("someone/spatial-qa", "spatial"' in plan.card
    assert 'load_dataset("dataset"' not in plan.card
    shard_bytes = sum((pushable / s["path"]).stat().st_size for s in manifest["shards"])
    assert plan.total_bytes == sum(f.size for f in plan.files) > shard_bytes


class OfflineHub:
    """huggingface_hub's ``HfApi`` with its network calls replaced: records what a push asks for."""

    def __init__(self, remote: list[str]) -> None:
        from huggingface_hub import HfApi

        self.api = HfApi(token="hf_offline")
        self.remote = remote
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.operations: list[Any] = []

    def create_repo(self, repo_id: str, **kwargs: Any) -> str:
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        return f"https://huggingface.co/datasets/{repo_id}"

    def create_branch(self, repo_id: str, **kwargs: Any) -> None:
        self.calls.append(("create_branch", {"repo_id": repo_id, **kwargs}))

    def list_repo_files(self, repo_id: str, **kwargs: Any) -> list[str]:
        self.calls.append(("list_repo_files", {"repo_id": repo_id, **kwargs}))
        return self.remote

    def create_commit(self, repo_id: str, operations: list[Any], **kwargs: Any) -> Any:
        from huggingface_hub import CommitInfo

        self.calls.append(("create_commit", {"repo_id": repo_id, **kwargs}))
        self.operations = list(operations)
        return CommitInfo(
            commit_url=f"https://huggingface.co/datasets/{repo_id}/commit/abc",
            commit_message=kwargs["commit_message"],
            commit_description="",
            oid="abc",
        )


def test_push_sends_one_commit_of_the_plan(pushable: Path) -> None:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    plan = plan_push(pushable, "someone/spatial-qa")
    old_shard = "data/spatial/train-00000-of-00001-0123456789abcdef.parquet"
    hub = OfflineHub(remote=[".gitattributes", "README.md", old_shard, "preview/old.png", "extra/kept.txt"])
    url = push(plan, private=True, revision="v2", api=hub)
    assert url.endswith("/commit/abc")
    assert [name for name, _ in hub.calls] == ["create_repo", "create_branch", "list_repo_files", "create_commit"]
    assert hub.calls[0][1] | {"private": True, "repo_type": "dataset", "exist_ok": True} == hub.calls[0][1]
    assert hub.calls[3][1]["revision"] == "v2" and hub.calls[3][1]["repo_type"] == "dataset"
    deleted = {op.path_in_repo for op in hub.operations if isinstance(op, CommitOperationDelete)}
    assert deleted == {old_shard, "preview/old.png"}  # replaced ladder files go; others stay
    added = {op.path_in_repo: op for op in hub.operations if isinstance(op, CommitOperationAdd)}
    assert set(added) == {f.repo_path for f in plan.files}
    manifest = json.loads((pushable / "manifest.json").read_text())
    for shard in manifest["shards"]:  # huggingface_hub hashed exactly the shard files the manifest lists
        assert added[shard["path"]].upload_info.sha256.hex() == shard["sha256"]
    readme = added["README.md"].path_or_fileobj
    assert isinstance(readme, bytes) and readme.decode() == plan.card
    assert hashlib.sha256(readme).digest() == added["README.md"].upload_info.sha256


def test_push_without_a_token_says_how_to_log_in(pushable: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(LadderError, match="hf auth login"):
        push(plan_push(pushable, "someone/spatial-qa"))


def test_push_failure_is_one_line(pushable: Path) -> None:
    class Refusing(OfflineHub):
        def create_commit(self, repo_id: str, operations: list[Any], **kwargs: Any) -> Any:
            raise ValueError("Invalid metadata in README.md.\n- license")

    with pytest.raises(LadderError, match=r"pushing .* failed: ValueError: Invalid metadata"):
        push(plan_push(pushable, "someone/spatial-qa"), api=Refusing(remote=[]))


def test_push_refuses_bad_repos_folders_and_cards(pushable: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="USER/NAME"):
        plan_push(pushable, "spatial-qa")
    with pytest.raises(ConfigError, match="not a Hub repository id"):
        plan_push(pushable, "someone/spatial qa")
    with pytest.raises(ConfigError, match="neither a dataset"):
        plan_push(tmp_path / "nothing", "someone/x")
    card = pushable / "README.md"
    card.write_text(card.read_text().replace("license: other", "license: scannet", 1))
    with pytest.raises(ConfigError, match='"license" must be one of'):
        plan_push(pushable, "someone/spatial-qa")
    next((pushable / "data" / "spatial").glob("*.parquet")).unlink()
    with pytest.raises(ConfigError, match="missing"):
        plan_push(pushable, "someone/spatial-qa")


def test_push_benchmarks_root(benches: Path) -> None:
    plan = plan_push(benches, "someone/spbench")
    assert plan.kind is FolderKind.BENCHMARKS
    sent = {f.repo_path for f in plan.files}
    assert {"README.md", "LICENSE.md"} <= sent
    assert not any(part.startswith(".") for path in sent for part in path.split("/"))
    for manifest in benches.glob("*/manifest.json"):
        shards = json.loads(manifest.read_text())["shards"]
        assert {f"{manifest.parent.name}/{s['path']}" for s in shards} <= sent
    assert plan.replaced_patterns == ["*/data/*", "*/preview/*"]


def test_cli_push_dry_run_lists_and_sends_nothing(pushable: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a dry run must not reach the Hub")

    monkeypatch.setattr(huggingface_hub, "HfApi", no_network)
    result = CliRunner().invoke(app, ["push", str(pushable), "--repo", "someone/spatial-qa", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would send" in result.output and "manifest.json" in result.output
    assert ".ladder-work" not in result.output and "notes.txt" not in result.output


@pytest.mark.parametrize(
    ("urls", "reference"),
    [
        (
            ["Documentation, https://example.org/docs", "Homepage, https://example.org/ladder"],
            "[ladder](https://example.org/ladder) 0.1.0",
        ),
        (["Source, https://example.org/src"], "[ladder](https://example.org/src) 0.1.0"),
        ([], "ladder 0.1.0"),
    ],
    ids=["homepage first", "source", "none declared"],
)
def test_cards_link_the_project_address_the_package_declares(
    monkeypatch: pytest.MonkeyPatch, urls: list[str], reference: str
) -> None:
    """The address comes from the installed package's metadata (pyproject's ``[project.urls]``): a card never
    links to a guessed or placeholder address."""
    from email.message import Message

    import ladderdata.io.card as card

    meta = Message()
    meta["Version"] = "0.1.0"
    for url in urls:
        meta["Project-URL"] = url
    monkeypatch.setattr(card, "metadata", lambda name: meta)
    assert card.project_reference() == reference


def test_push_export_folders(benches: Path, tmp_path: Path) -> None:
    """``ladder push`` takes one ``ladder export`` folder: its card (with lmms-eval's ``dataset_path`` pointed at
    the repository), ``LICENSE.md``, ``export.json`` and the files it lists; for ``vsibench`` the archives
    lmms-eval unpacks, not the loose videos they hold."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    (vsi,) = export_benchmark(benches / "vsi-video", tmp_path / "vsi", "vsibench")
    plan = plan_push(tmp_path / "vsi" / "vsi-video", "someone/vsi")
    assert plan.kind is FolderKind.EXPORT
    sent = {f.repo_path for f in plan.files}
    assert sent == {"README.md", "LICENSE.md", "export.json", vsi.parquet, "scannet.zip"}
    assert "`dataset_path: someone/vsi`" in plan.card and 'load_dataset("someone/vsi", "full"' in plan.card
    old = "test-00000-of-00001-0123456789abcdef.parquet"
    hub = OfflineHub(remote=["README.md", old, "scannet/scene0000_00.mp4", "notes.txt"])
    push(plan, api=hub)
    deleted = {op.path_in_repo for op in hub.operations if isinstance(op, CommitOperationDelete)}
    assert deleted == {old, "scannet/scene0000_00.mp4"}  # an earlier push's files; other remote files stay
    assert {op.path_in_repo for op in hub.operations if isinstance(op, CommitOperationAdd)} == sent
    # SpatialLadder's layout: every file it reads (parquet, images, videos) and the keyed copy the card names
    results = export_benchmark(benches, tmp_path / "datasets", "spatialladder")
    for result in results:
        plan = plan_push(tmp_path / "datasets" / result.folder, f"someone/{result.folder}")
        sent = {f.repo_path for f in plan.files}
        media = [*result.images, *(v.path for v in result.videos)]
        assert sent == {"README.md", "LICENSE.md", "export.json", result.parquet, result.data_file, *media}
    with pytest.raises(ConfigError, match=r"push each export folder on its own \(SPBench-MV, SPBench-SI, VSI-Bench\)"):
        plan_push(tmp_path / "datasets", "someone/all")
    (tmp_path / "vsi" / "vsi-video" / "scannet.zip").unlink()
    with pytest.raises(ConfigError, match=r"scannet\.zip missing"):
        plan_push(tmp_path / "vsi" / "vsi-video", "someone/vsi")
