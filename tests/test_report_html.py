"""report.html: written with every build, one self-contained file (every image inlined, no network), its numbers
those of stats.json; a real headless browser (Debian's chromium) renders it, loads every image and logs no
console error. Without matplotlib (the report extra) the page keeps its tables and says how to get charts."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fixtures.factories import BuiltDataset
from ladderdata.report import html as report_html

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)
#: Appended to a copy of the report (the report itself has no script): once the page has loaded, counts the
#: images that decoded and writes the result where --dump-dom shows it.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const loaded = images.filter((im) => im.complete && im.naturalWidth > 0).length;
  document.body.setAttribute("data-images", loaded + "/" + images.length);
});
</script>"""


def test_every_build_writes_a_self_contained_report(built_dataset: BuiltDataset) -> None:
    page = (built_dataset.out / "report.html").read_text()
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)  # nothing fetched from the network
    sources = re.findall(r"""<img[^>]* src="([^"]*)""", page)
    assert sources and all(s.startswith("data:image/") for s in sources)
    stats = json.loads((built_dataset.out / "stats.json").read_text())
    for per_task in stats["counts"].values():
        for task, per_modality in per_task.items():
            assert f"<h3>{task}</h3>" in page  # its example cards
            for modality, n in per_modality.items():
                # target vs achieved: this build keeps every draft (no target), so "all drafted", then n
                row = re.search(rf"<td>{task}/{modality}</td><td>([^<]*)</td><td><span[^>]*>([\d,]+)</span>", page)
                assert row is not None and row.group(2).replace(",", "") == str(n)
    for reason in {r for per in stats["rejections"].values() for r in per}:
        assert f"<code>{reason}</code>" in page  # each reason explained in the funnel


def test_without_matplotlib_the_report_keeps_its_tables(
    built_dataset: BuiltDataset, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(report_html, "charts_available", lambda: False)
    page_with = (built_dataset.out / "report.html").read_text()
    assert "Charts need matplotlib" not in page_with
    out = tmp_path / "copy"
    shutil.copytree(built_dataset.out, out, ignore=shutil.ignore_patterns(".ladder.lock"))
    from ladderdata.pipeline import BuildConfig, build_dataset

    manifest = json.loads((out / "manifest.json").read_text())
    config = BuildConfig.model_validate(
        {
            "source": manifest["inputs"]["source"],
            "out": out,
            "split": manifest["inputs"]["split"],
            "recipe": manifest["recipe"],
            "seed": manifest["seed"],
        }
    )
    build_dataset(config)  # a rerun: every scan and shard cached, only the card, stats and report rewritten
    page = (out / "report.html").read_text()
    assert "Charts need matplotlib" in page and "pip install" in page
    assert "data:image/png" not in page and "data:image/jpeg" in page  # no chart; the example cards stay
    assert page.count("<table>") == page_with.count("<table>")


def browse(page: str, folder: Path) -> tuple[str, list[str]]:
    """The DOM chromium ends with for ``page`` (with the image probe) and its console lines."""
    assert CHROMIUM is not None, "CI runs this test: scripts/bootstrap.sh test installs chromium"
    path = folder / "page.html"
    path.write_text(page.replace("</body>", PROBE + "</body>"))
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={folder / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [line for line in done.stderr.splitlines() if "CONSOLE" in line]


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="chromium not installed (scripts/bootstrap.sh test does)"
)
def test_a_real_browser_renders_the_report(built_dataset: BuiltDataset, tmp_path: Path) -> None:
    page = (built_dataset.out / "report.html").read_text()
    dom, console = browse(page, tmp_path)
    images = len(re.findall(r"<img ", page))
    assert images > 0 and f'data-images="{images}/{images}"' in dom, dom[-500:]
    assert "<h1>" in dom and "Target and achieved" in dom
    assert not console, console
    # the probes can fail: a broken image and a console error are seen
    broken = page.replace(
        "</h1>", '</h1><img alt="x" src="data:image/png;base64,AAAA"><script>console.error("oops")</script>'
    )
    (tmp_path / "b").mkdir()
    dom, console = browse(broken, tmp_path / "b")
    assert f'data-images="{images}/{images + 1}"' in dom
    assert any("oops" in line for line in console), console
