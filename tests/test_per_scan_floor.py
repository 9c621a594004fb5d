"""benchmarks/per_scan_floor.py's recorder sees every library call of a build's scans, each counted to its own scan:
the floor it times is made of what the build really called."""

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from fixtures.factories import scannet
from ladderdata.layout import DatasetLayout
from ladderdata.sources.base import open_source

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "per_scan_floor.py"


def floor_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("per_scan_floor", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_scans_library_calls_are_recorded_and_replayed(synthetic_root: Path, tmp_path: Path) -> None:
    floor = floor_script()
    out = tmp_path / "out"
    calls, _ = floor.record(synthetic_root, out, 2)
    outside = calls.pop("")
    shards = sorted((out / "data").rglob("*.parquet"))
    assert sorted(Path(p) for p, _ in outside.digests) == shards  # the manifest's checksums, once per build
    assert not any(inputs for name, inputs in vars(outside).items() if name != "digests")
    source = open_source(scannet(synthetic_root))
    assert sorted(calls) == source.scan_ids()
    queried = 0
    for scan_id, recorded in calls.items():
        scan = source.load(scan_id)
        assert [len(faces) for _, faces in recorded.mesh] == [len(scan.mesh.faces)]
        assert sum(options == "QJ" for _, options in recorded.hulls) == len(scan.objects)  # the 3D hulls
        assert len(recorded.hulls) > len(scan.objects)  # and the footprints' 2D hulls
        drafted = json.loads(DatasetLayout(out).drafts(scan_id).read_text(encoding="utf-8"))["frame_digests"]
        assert len(recorded.jpegs) == len(drafted) > 0
        assert sorted(Path(p) for p, _ in recorded.digests) == sorted(p.absolute() for p in source.input_files(scan_id))
        assert len(recorded.floors) == 1 and len(recorded.json_files) == 2  # segments and aggregation
        assert {key for key, _ in recorded.queries} == set(recorded.surfaces)
        queried += len(recorded.queries)
        for _, run, describe in floor.FLOOR:  # each call replays on the recorded inputs
            run(recorded)
            assert describe(recorded)
    assert queried > 0
