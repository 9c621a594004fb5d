"""Stable seeds: the same (seed, names...) gives the same generator on any machine, process or worker count."""

import hashlib

import numpy as np


def stable_seed(seed: int, *names: str | int) -> int:
    """A 64-bit seed from ``seed`` and ``names`` by sha256 (never Python's salted ``hash``)."""
    h = hashlib.sha256(str(seed).encode())
    for name in names:
        h.update(b"\x1f" + str(name).encode())
    return int.from_bytes(h.digest()[:8], "little")


def rng_for(seed: int, *names: str | int) -> np.random.Generator:
    """An independent generator per (seed, names): e.g. ``rng_for(seed, scan_id, task, modality)``."""
    return np.random.default_rng(stable_seed(seed, *names))
