import json
from pathlib import Path
from typing import Literal

from typer.testing import CliRunner

from fixtures.factories import copy_root, scan_paths
from ladderdata.cli import app
from ladderdata.schemas import render_schemas

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


def test_schemas_are_up_to_date() -> None:
    """schemas/ must match the models: regenerate with `nox -s schemas` (or `ladder schemas`)."""
    for name, text in render_schemas().items():
        path = REPO / "schemas" / name
        assert path.is_file(), f"missing schema {name}"
        assert json.loads(path.read_text()) == json.loads(text), f"schema {name} is stale"
    assert {"ScanNetSourceConfig.json", "ScanNetPPSourceConfig.json", "ARKitScenesSourceConfig.json"} <= set(
        render_schemas()
    )


def test_a_registered_source_gets_its_schema_with_no_second_registration() -> None:
    from ladderdata.sources.base import SOURCES, ScanSource, ScanSourceConfig, register_source

    class ToySourceConfig(ScanSourceConfig):
        source: Literal["toy"] = "toy"
        rooms_per_scan: int = 1

    class ToySource(ScanSource):
        config_class = ToySourceConfig

    assert "ToySourceConfig.json" not in render_schemas()
    register_source("toy")(ToySource)
    try:
        schema = json.loads(render_schemas()["ToySourceConfig.json"])
    finally:
        SOURCES.unregister("toy")
    assert schema["properties"]["source"]["const"] == "toy" and "rooms_per_scan" in schema["properties"]


def test_synth_then_scans(tmp_path: Path) -> None:
    out = tmp_path / "root"
    result = runner.invoke(
        app,
        [
            "synth",
            "--out",
            str(out),
            "--scenes",
            "1",
            "--frames",
            "4",
            "--frames-layout",
            "sens",
            "--frames-layout",
            "posed",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "scans" / "scene0000_00" / "scene0000_00.sens").is_file()
    assert (out / "posed_images" / "scene0000_00" / "00003.jpg").is_file()
    result = runner.invoke(app, ["scans", "--scans", str(out), "--frames-layout", "posed"])
    assert result.exit_code == 0, result.output
    assert "scene0000_00" in result.output


def test_scans_reports_bad_scan_and_reads_the_others(synthetic_root: Path, tmp_path: Path) -> None:
    root = copy_root(synthetic_root, tmp_path / "root")
    scan_paths(root, "scene0000_00").aggregation.write_text("{broken")
    result = runner.invoke(app, ["scans", "--scans", str(root)])
    assert result.exit_code == 1
    assert "scene0001_00" in result.output
