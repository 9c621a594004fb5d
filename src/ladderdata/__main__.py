"""``python -m ladderdata ...``: the ``ladder`` command without its console script."""

from ladderdata.cli import entrypoint

if __name__ == "__main__":
    entrypoint()
