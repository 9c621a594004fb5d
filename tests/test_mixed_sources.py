"""One dataset from a ScanNet, a ScanNet++ and an ARKitScenes root: every downstream stage unchanged, rows of all
three sources loadable with ``datasets`` and right by the ground truth of their roots, rooms compared per source."""

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fixtures.factories import all_drafts_recipe, load_ground_truth, read_samples
from fixtures.shared import shared_folder
from ladderdata.bench.leakage import check_leakage
from ladderdata.cli import app
from ladderdata.cli.options import scan_source
from ladderdata.errors import ConfigError, LadderError
from ladderdata.pipeline import BuildConfig, build_dataset
from ladderdata.sources.base import source_config
from ladderdata.sources.mixed import MixedSource, MixedSourceConfig
from ladderdata.synth.truth import SyntheticGroundTruth


@pytest.fixture(scope="module")
def mixed(
    tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path, scannetpp_root: Path, arkitscenes_root: Path
) -> Path:
    def build(folder: Path) -> None:
        config = scan_source(None, [synthetic_root, scannetpp_root, arkitscenes_root])
        build_dataset(BuildConfig(source=config, out=folder / "dataset", split="train", recipe=all_drafts_recipe()))

    return shared_folder(tmp_path_factory, "mixed", build) / "dataset"


@pytest.fixture(scope="module")
def roots(synthetic_root: Path, scannetpp_root: Path, arkitscenes_root: Path) -> dict[str, Path]:
    return {"scannet": synthetic_root, "scannetpp": scannetpp_root, "arkitscenes": arkitscenes_root}


def truth(roots: dict[str, Path], row: dict[str, Any]) -> SyntheticGroundTruth:
    return load_ground_truth(roots[row["source"]], row["scene_id"])


def test_rows_of_all_three_sources_load_with_datasets(mixed: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset(str(mixed), "spatial", split="train", cache_dir=str(tmp_path / "hf"))
    assert set(ds["source"]) == {"scannet", "scannetpp", "arkitscenes"}
    sources = {row["scene_id"]: row["source"] for row in read_samples(mixed)}
    assert all(len(s) == 10 for s, src in sources.items() if src == "scannetpp")
    assert all(s.isdigit() for s, src in sources.items() if src == "arkitscenes")
    row = next(r for r in ds if r["source"] == "arkitscenes" and r["modality"] == "single_image")
    assert row["images"][0].size == (row["image_width"], row["image_height"])
    manifest = json.loads((mixed / "manifest.json").read_text())
    rooms = manifest["inputs"]["rooms"]
    assert {r.split(":")[0] for r in rooms.values()} == {"scannet", "scannetpp", "arkitscenes"}
    assert "arkitscenes" not in manifest["inputs"]["failed"]


def test_answers_match_the_ground_truth_of_each_root(mixed: Path, roots: dict[str, Path]) -> None:
    rows = read_samples(mixed)
    checked: dict[str, set[str]] = {
        t: set() for t in ("object_abs_distance", "object_size_estimation", "room_size_estimation")
    }
    for row in rows:
        task, gt = row["task"], None
        if task not in checked:
            continue
        gt = truth(roots, row)
        ids = [o["object_id"] for o in row["objects"]]
        if task == "object_abs_distance":
            a, b = sorted(ids)
            expected = next(d.distance for d in gt.distances if (d.a, d.b) == (a, b))
            step = 0.01 if float(row["answer"]) < 1 else 0.1
            assert abs(float(row["answer"]) - expected) <= step / 2 + 0.002, row["question"]
        elif task == "object_size_estimation":
            size = next(o.size_cm for o in gt.objects if o.object_id == ids[0])
            assert size is not None and abs(int(row["answer"]) - size) <= 0.7, row["question"]
        else:
            assert abs(float(row["answer"]) - gt.floor_area) <= 0.05 + 0.002 * gt.floor_area
        checked[task].add(row["source"])
    # every source answered every measured task
    assert all(found == {"scannet", "scannetpp", "arkitscenes"} for found in checked.values()), checked


def test_leakage_compares_rooms_per_source(mixed: Path, tmp_path: Path, roots: dict[str, Path]) -> None:
    manifest = json.loads((mixed / "manifest.json").read_text())["inputs"]
    arkit = sorted(s for s, r in manifest["rooms"].items() if r.startswith("arkitscenes:"))
    visit = manifest["rooms"][arkit[0]]
    bench = tmp_path / "bench"
    bench.mkdir()
    # another video of a training visit, a rescan of a ScanNet room, and a ScanNet-looking id of another source
    (bench / "manifest.json").write_text(
        json.dumps({"inputs": {"scan_ids": ["49999999"], "rooms": {"49999999": visit}}})
    )
    (bench / "b").mkdir()
    (bench / "b" / "manifest.json").write_text(json.dumps({"inputs": {"scan_ids": ["scene0000_07"]}}))
    (bench / "c").mkdir()
    other = {"inputs": {"source": {"source": "scannetpp"}, "scan_ids": ["scene0001_00"]}}
    (bench / "c" / "manifest.json").write_text(json.dumps(other))
    assert check_leakage(mixed, bench).overlap == sorted([visit, "scannet:scene0000"])


def test_scan_ids_must_be_unique_across_roots(synthetic_root: Path) -> None:
    twice = MixedSourceConfig.model_validate({"parts": [source_config("scannet", root=synthetic_root)] * 2})
    with pytest.raises(ConfigError, match="scene0000_00 is under two roots"):
        MixedSource(twice).scan_ids()


def test_cli_detects_each_root_and_checks_source_counts(roots: dict[str, Path], tmp_path: Path) -> None:
    config = scan_source(None, list(roots.values()))
    assert config.source == "mixed" and [p.source for p in config.parts] == list(roots)  # type: ignore[attr-defined]
    with pytest.raises(LadderError, match="once per --scans root"):
        scan_source(["scannet", "scannetpp"], list(roots.values()))
    with pytest.raises(LadderError, match="--frames-layout"):
        scan_source(None, [roots["arkitscenes"]], frames_layout="sens")
    args = ["scans", "--scans", str(roots["scannetpp"]), "--scans", str(roots["arkitscenes"])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (tmp_path / "notes.txt").write_text("not a scan")
    result = CliRunner().invoke(app, ["scans", "--scans", str(tmp_path)])
    assert isinstance(result.exception, ConfigError) and "looked for" in str(result.exception)


@pytest.mark.parametrize("fmt", ["scannetpp", "arkitscenes"])
def test_synth_writes_each_format(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / fmt
    result = CliRunner().invoke(app, ["synth", "--out", str(out), "--format", fmt, "--scenes", "1", "--frames", "4"])
    assert result.exit_code == 0, result.output
    assert scan_source(None, [out]).source == fmt
    assert len(list((out / "synthetic_gt").glob("*.json"))) == 1


def test_card_names_the_terms_of_every_source(mixed: Path) -> None:
    from ladderdata.io.hub_card import card_problems, read_card_metadata

    meta = read_card_metadata((mixed / "README.md").read_text())
    assert meta["license"] == "other" and meta["license_link"] == "LICENSE.md"
    assert meta["license_name"] == "arkitscenes-license-and-scannet-terms-of-use-and-scannetpp-terms-of-use"
    assert card_problems(meta, root=mixed) == []
    terms = (mixed / "LICENSE.md").read_text()
    for url in (
        "http://kaldir.vc.in.tum.de/scannet/ScanNet_TOS.pdf",
        "https://kaldir.vc.in.tum.de/scannetpp/static/scannetpp-terms-of-use.pdf",
        "https://github.com/apple/ARKitScenes/blob/main/LICENSE",
    ):
        assert url in terms
    assert {"scannet", "scannetpp", "arkitscenes"} <= set(meta["tags"])
