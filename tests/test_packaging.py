import subprocess
import sys


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
