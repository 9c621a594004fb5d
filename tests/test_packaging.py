import subprocess
import sys
from pathlib import Path


def test_ladderdata_never_imports_torch() -> None:
    """Import every ladderdata module (the CLI included) in a fresh interpreter: torch must stay unloaded."""
    code = (
        "import importlib, pkgutil, sys, ladderdata\n"
        "for m in pkgutil.walk_packages(ladderdata.__path__, 'ladderdata.'):\n"
        "    importlib.import_module(m.name)\n"
        "import laddertrain\n"
        "heavy = sorted(n for n in ('torch', 'transformers', 'trl') if n in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_ladderdata_cli_and_the_demo_path_work_without_the_train_extra(tmp_path: Path) -> None:
    """With torch and the rest of the `train` extra unimportable, `--help`, synth, build-dataset and preview run."""
    code = (
        "import importlib.abc, sys\n"
        "BLOCKED = {'torch', 'transformers', 'trl', 'accelerate', 'peft', 'datasets'}\n"
        "class Uninstalled(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] in BLOCKED:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Uninstalled())\n"
        "from ladderdata.cli import entrypoint\n"
        "sys.argv = ['ladder', *sys.argv[1:]]\n"
        "try:\n"
        "    entrypoint()\n"
        "finally:\n"
        "    assert not BLOCKED & set(sys.modules), sorted(BLOCKED & set(sys.modules))\n"
    )
    scans, out = tmp_path / "scannet", tmp_path / "dataset"
    for args in (
        ["--help"],
        ["synth", "--out", str(scans), "--scenes", "1", "--frames", "12"],
        ["build-dataset", "--scans", str(scans), "--out", str(out), "--split", "all", "--frame-stride", "2"],
        ["preview", str(out), "--samples", "2"],
    ):
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    assert sorted((out / "preview").glob("*.png")), "no preview sheet written"  # one sheet per task
