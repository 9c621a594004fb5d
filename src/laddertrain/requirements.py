"""The versions laddertrain needs, checked once before any stage or evaluation loads a model.

The floors are the real ones, found by running the training tests against each candidate release
(docs/training.md#dependency-floors); pyproject's ``train`` extra repeats them and a test keeps the two equal:

* transformers 5.18: TRL refuses assistant-only loss on vision datasets below it, and it is the first release
  whose ``Qwen2_5_VLVisionAttention`` matches what :mod:`laddertrain.vision_attention` patches;
* trl 1.16: 1.14 refuses assistant-only loss on vision datasets; 1.15 allows it but its fused LM head needs
  Triton, so SFT fails on machines without it (every CPU-only torch);
* accelerate 1.10.1 and datasets 4.7: what trl 1.16 requires;
* torch 2.5: what transformers 5.18 requires.

Checked with package metadata only (``importlib.metadata``), so the check costs milliseconds and imports none of
these packages; a failure is one :class:`DependencyError` line naming every package at fault, the version found,
the range needed and the pip command that fixes it.
"""

import functools
import importlib.metadata
from typing import NamedTuple

from ladderdata.errors import LadderError


class Requirement(NamedTuple):
    package: str
    floor: str
    why: str


REQUIREMENTS = (
    Requirement("torch", "2.5", "transformers 5.18 needs it"),
    Requirement("transformers", "5.18", "assistant-only loss on vision datasets"),
    Requirement("trl", "1.16", "assistant-only loss on vision datasets without Triton"),
    Requirement("accelerate", "1.10.1", "trl 1.16 needs it"),
    Requirement("datasets", "4.7", "trl 1.16 needs it"),
)
"""Floors of the ``train`` extra (pyproject.toml)."""


class DependencyError(LadderError):
    """An installed package is missing or older than laddertrain needs."""


def installed_version(package: str) -> str | None:
    """The installed distribution's version, or None when it is not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _older(found: str, floor: str) -> bool:
    from packaging.version import Version  # a dependency of transformers, trl, accelerate and datasets

    return Version(found) < Version(floor)


def unmet_requirements() -> list[tuple[Requirement, str | None]]:
    """(requirement, found version or None) for every requirement the environment does not meet."""
    found = [(req, installed_version(req.package)) for req in REQUIREMENTS]
    missing: list[tuple[Requirement, str | None]] = [(req, v) for req, v in found if v is None]
    if missing:  # packaging may be missing too: compare versions only once everything is installed
        return missing
    return [(req, v) for req, v in found if v is not None and _older(v, req.floor)]


def requirements_message(unmet: list[tuple[Requirement, str | None]]) -> str:
    """One line: what is wrong with each package and the pip command that fixes all of them."""
    what = ", ".join(
        f"{req.package}>={req.floor} ({'not installed' if v is None else f'found {v}'}; {req.why})" for req, v in unmet
    )
    specs = " ".join(f"'{req.package}>={req.floor}'" for req, _ in unmet)
    return f"laddertrain needs {what}: pip install -U {specs}"


@functools.cache
def check_requirements() -> None:
    """Raise :class:`DependencyError` (one line) unless every floor is met; runs once per process."""
    unmet = unmet_requirements()
    if unmet:  # an exception is not cached: a fixed environment is checked again
        raise DependencyError(requirements_message(unmet))
