import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fixtures.factories import BuiltDataset, make_synthetic_root

# the shared folder sits beside the main checkout (../shared) or, for worktrees, further up
SHARED = next(
    (p / "shared" for p in Path(__file__).resolve().parents if (p / "shared" / "scannet-meta").is_dir()), None
)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic scans written in all three frame layouts (read-only: copy before breaking)."""
    return make_synthetic_root(tmp_path_factory.mktemp("synth") / "scannet", scenes=2, frames=10)


@pytest.fixture(scope="session")
def scannet_meta() -> Path:
    """The real ScanNet label table and split lists (../shared/scannet-meta), for tests only."""
    if SHARED is None:
        pytest.skip("shared/scannet-meta not present")
    return SHARED / "scannet-meta"


@pytest.fixture(scope="session")
def built_dataset(tmp_path_factory: pytest.TempPathFactory) -> BuiltDataset:
    """Three synthetic scans and a dataset built from them keeping every draft (no targets)."""
    from fixtures.factories import build_all_drafts

    return build_all_drafts(tmp_path_factory.mktemp("built"))
