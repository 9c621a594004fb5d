import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fixtures.factories import BuiltDataset, make_synthetic_root

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic scans written in all three frame layouts (read-only: copy before breaking)."""
    return make_synthetic_root(tmp_path_factory.mktemp("synth") / "scannet", scenes=2, frames=10)


@pytest.fixture(scope="session")
def scannet_meta() -> Path:
    """The real ScanNet label table and split lists (../shared/scannet-meta), for tests only."""
    path = SHARED / "scannet-meta"
    if not path.is_dir():
        pytest.skip("../shared/scannet-meta not present")
    return path


@pytest.fixture(scope="session")
def built_dataset(tmp_path_factory: pytest.TempPathFactory) -> BuiltDataset:
    """Three synthetic scans and a dataset built from them keeping every draft (no targets)."""
    from fixtures.factories import build_all_drafts

    return build_all_drafts(tmp_path_factory.mktemp("built"))


@pytest.fixture(scope="session")
def bench_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four synthetic scans: scene0003_00 is the validation split (every 4th scene)."""
    from ladderdata.layout import FramesLayout

    return make_synthetic_root(
        tmp_path_factory.mktemp("benchroot") / "scannet", scenes=4, frames=24, layouts=[FramesLayout.SENS]
    )


@pytest.fixture(scope="session")
def benches(bench_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """spbench-si, spbench-mv and vsi-video built from the validation scan (read-only: copy before changing)."""
    from ladderdata.bench.build import build_benchmarks

    out = tmp_path_factory.mktemp("benches")
    build_benchmarks(bench_root, out, ["spbench-si", "spbench-mv", "vsi-video"], split="val", frame_stride=1)
    return out
