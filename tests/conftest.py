import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fixtures.factories import (
    BENCHMARKS,
    BuiltDataset,
    all_drafts_recipe,
    build_all_drafts,
    make_synthetic_root,
    scannet,
)
from fixtures.shared import shared_folder
from ladderdata.bench.build import BenchBuildConfig, build_benchmarks
from ladderdata.layout import FramesLayout
from ladderdata.synth.arkitscenes import synthesize_arkitscenes_root
from ladderdata.synth.root import SynthConfig
from ladderdata.synth.scannetpp import synthesize_scannetpp_root

# the shared folder sits beside the main checkout (../shared) or, for worktrees, further up
SHARED = next(
    (p / "shared" for p in Path(__file__).resolve().parents if (p / "shared" / "scannet-meta").is_dir()), None
)


def pytest_configure(config: pytest.Config) -> None:
    """A run started in the background by a script (``cmd &``: a shell without job control) or under nohup
    inherits Ctrl-C ignored, and passes that on to every process it starts; the tests that press Ctrl-C need it
    as a terminal delivers it."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _datasets_cache_of_its_own(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """datasets keeps an Arrow copy of every folder it loads (hundreds of MB for a built dataset) under ~/.cache:
    each test's goes to a folder of its own, removed when the test ends (its subprocesses inherit the variables;
    datasets, once imported, reads its config module instead)."""
    with tempfile.TemporaryDirectory(prefix="ladder-tests-hf-", ignore_cleanup_errors=True) as cache:
        datasets_cache = os.path.join(cache, "hf", "datasets")
        monkeypatch.setenv("HF_HOME", os.path.join(cache, "hf"))
        monkeypatch.setenv("HF_DATASETS_CACHE", datasets_cache)
        if "datasets" in sys.modules:
            monkeypatch.setattr(sys.modules["datasets"].config, "HF_DATASETS_CACHE", datasets_cache)
        yield


@pytest.fixture(autouse=True)
def _report_charts_only_where_looked_at(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """report.html's charts cost about 2 CPU s a build (benchmarks/bench_report.py); a test's own builds skip them
    (the report keeps its tables), except in test_report_html.py. Session fixtures are built with charts."""
    if request.module.__name__ != "test_report_html":
        monkeypatch.setattr("ladderdata.report.html.charts_available", lambda: False)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic scans written in all three frame layouts (read-only: copy before breaking)."""
    folder = shared_folder(tmp_path_factory, "synth", lambda f: make_synthetic_root(f / "scannet", scenes=2, frames=10))
    return folder / "scannet"


@pytest.fixture(scope="session")
def built_alone(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, FramesLayout], Path]:
    """``built_alone(scan_id, layout)``: the dataset a build of that one scan of ``synthetic_root`` writes (every
    draft, frame stride 1), which is what a build of both scans must write when the other one fails; made once
    per (scan, layout) and test run, read-only."""
    from ladderdata.pipeline import BuildConfig, build_dataset

    def built(scan_id: str, layout: FramesLayout) -> Path:
        def build(folder: Path) -> None:
            (folder / "split.txt").write_text(scan_id + "\n")
            source = scannet(synthetic_root, layout)
            config = BuildConfig(
                source=source, out=folder / "dataset", split=str(folder / "split.txt"), recipe=all_drafts_recipe(1)
            )
            build_dataset(config)

        return shared_folder(tmp_path_factory, f"alone-{scan_id}-{layout.value}", build) / "dataset"

    return built


@pytest.fixture(scope="session")
def scannet_meta() -> Path:
    """The real ScanNet label table and split lists (../shared/scannet-meta), for tests only."""
    if SHARED is None:
        pytest.skip("shared/scannet-meta not present")
    return SHARED / "scannet-meta"


@pytest.fixture(scope="session")
def built_dataset(tmp_path_factory: pytest.TempPathFactory) -> BuiltDataset:
    """Three synthetic scans and a dataset built from them keeping every draft (no targets); read-only."""
    return build_all_drafts(shared_folder(tmp_path_factory, "built", build_all_drafts))


@pytest.fixture(scope="session")
def bench_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four synthetic scans: scene0003_00 is the validation split (every 4th scene); read-only."""
    folder = shared_folder(
        tmp_path_factory,
        "benchroot",
        lambda f: make_synthetic_root(f / "scannet", scenes=4, frames=24, layouts=[FramesLayout.SENS]),
    )
    return folder / "scannet"


@pytest.fixture(scope="session")
def scans_only(bench_root: Path) -> Path:
    """Scans and nothing built from them, for command-line tests that only read scans: the root ``ladder synth
    --out ROOT --frames 24`` writes (4 scans; scene0003_00 is the val split), which is ``bench_root``, so that a
    test run writes it once whichever tests ask for it. Read-only: copy before changing (``linked_copy``)."""
    return bench_root


@pytest.fixture(scope="session")
def benches(bench_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three built-in benchmarks of ``bench_root``'s validation split; read-only (copy before changing)."""

    def build(out: Path) -> None:
        build_benchmarks(
            BenchBuildConfig(source=scannet(bench_root), out=out, benchmarks=list(BENCHMARKS), frame_stride=1)
        )

    return shared_folder(tmp_path_factory, "benches", build)


@pytest.fixture(scope="session")
def scannetpp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic ScanNet++ scenes, 8 iPhone frames each (read-only: copy before breaking)."""

    def build(folder: Path) -> None:
        synthesize_scannetpp_root(folder / "scannetpp", SynthConfig(scenes=2, frames=8, seed=1))

    return shared_folder(tmp_path_factory, "synth-scannetpp", build) / "scannetpp"


@pytest.fixture(scope="session")
def arkitscenes_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four synthetic ARKitScenes videos (3 Training, 1 Validation; odd ones in portrait), 10 frames each."""

    def build(folder: Path) -> None:
        synthesize_arkitscenes_root(folder / "arkitscenes", SynthConfig(scenes=4, frames=10, seed=2))

    return shared_folder(tmp_path_factory, "synth-arkitscenes", build) / "arkitscenes"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2.5-VL folder (the train extra's packages), made once per test run; read-only (training
    writes elsewhere)."""
    from fixtures.tiny_qwen import save_tiny_qwen

    return shared_folder(tmp_path_factory, "tiny-qwen", lambda f: save_tiny_qwen(f / "model")) / "model"


@pytest.fixture(scope="session")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `ladder demo --out demo` writes (4 synthetic scans; SPBench-SI/MV from the val scan in bench/, training
    data from the train scans in dataset/, their shared metadata/, preview sheets); its log is ``demo.log`` beside
    it. Read-only: copy before changing (``linked_copy``)."""

    def build(folder: Path) -> None:
        from typer.testing import CliRunner

        from ladderdata.cli import app

        result = CliRunner().invoke(app, ["demo", "--out", str(folder / "demo"), "--workers", "1"])
        (folder / "demo.log").write_text(result.output)
        assert result.exit_code == 0, result.output

    return shared_folder(tmp_path_factory, "demo", build) / "demo"
