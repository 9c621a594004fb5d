"""Size plausibility: an object whose size is far from what its category's instances measure is most likely a
segmentation error (a segment bleeding into its neighbours: a 45 cm tissue box, a 72 cm toaster oven), so
questions never name it.

Each category's prior is robust statistics of the longest side: the median and the spread (1.4826 x the median
absolute deviation of log(size / median), a standard deviation where sizes are log-normal). Within a build, a
category with at least ``min_instances`` instances over the scans being processed gets its prior from them; others
use the shipped table (``templates/size_priors.csv``: VSI-Bench's 288 annotated validation scans, its header cites
the source), looked up by the category's name or its VSI-Bench synonym; a category in neither is not checked.
An object is flagged when log(size / median) is more than ``max_deviation`` spreads from 0 (the spread is at least
``min_spread``): ``oversize`` or ``undersize``.
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ladderdata.prompts import read_yaml, resource

#: Median absolute deviation -> standard deviation of a normal distribution.
MAD_TO_SIGMA = 1.4826


class PlausibilityConfig(BaseModel):
    """When an object's size is implausible for its category (it is then never named in a question)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    enabled: bool = Field(True, description="flag objects whose size is implausible for their category")
    max_deviation: float = Field(
        3.0, gt=0, le=100, description="robust standard deviations of log size from the category's median"
    )
    min_spread: float = Field(
        0.25, gt=0, le=10, description="floor of a category's spread (log units: 0.25 is about 28%)"
    )
    min_instances: int = Field(
        10, ge=3, le=1_000_000, description="instances a category needs in the build to use its own statistics"
    )


@dataclass(frozen=True)
class SizePrior:
    median_cm: float
    spread: float
    """Robust standard deviation of log(size / median)."""
    instances: int
    origin: str
    """``build`` (the scans being processed) or ``shipped`` (``size_priors.csv``)."""


@cache
def shipped_priors() -> dict[str, SizePrior]:
    """Category -> prior from ``templates/size_priors.csv``, with the VSI-Bench synonyms of
    ``category_names.yaml`` (``couch`` finds ``sofa``'s prior; where both names are in the table, the one with more
    instances: ``trash can`` takes ``trash bin``'s 88 instances over its own 30)."""
    out: dict[str, SizePrior] = {}
    rows = [line for line in resource("size_priors.csv").splitlines() if line and not line.startswith("#")]
    for line in rows[1:]:
        category, instances, median, mad = line.split(",")
        out[category] = SizePrior(float(median), MAD_TO_SIGMA * float(mad), int(instances), "shipped")
    synonyms: dict[str, str] = read_yaml(resource("category_names.yaml"), "category_names.yaml")["vsibench"]
    for ours, theirs in synonyms.items():
        if theirs in out and (ours not in out or out[theirs].instances > out[ours].instances):
            out[ours] = out[theirs]
    return out


def build_priors(sizes: Iterable[tuple[str, float]], min_instances: int) -> dict[str, SizePrior]:
    """Category -> prior from (category, longest side in cm) of every object of the scans being processed, for
    categories with at least ``min_instances`` instances."""
    by_category: dict[str, list[float]] = defaultdict(list)
    for category, size in sizes:
        if size > 0:
            by_category[category].append(size)
    out = {}
    for category, values in sorted(by_category.items()):
        if len(values) >= min_instances:
            median = float(np.median(values))
            mad = float(np.median(np.abs(np.log(np.asarray(values) / median))))
            out[category] = SizePrior(median, MAD_TO_SIGMA * mad, len(values), "build")
    return out


def implausible(size_cm: float, prior: SizePrior, config: PlausibilityConfig) -> str | None:
    """``oversize`` / ``undersize`` when ``size_cm`` is more than ``max_deviation`` spreads from the prior's
    median (in log size), else None."""
    if size_cm <= 0:
        return "undersize"
    deviation = math.log(size_cm / prior.median_cm) / max(prior.spread, config.min_spread)
    if deviation > config.max_deviation:
        return "oversize"
    if deviation < -config.max_deviation:
        return "undersize"
    return None


@dataclass(frozen=True)
class Flagged:
    scene_id: str
    object_id: int
    category: str
    size_cm: float
    reason: str
    prior: SizePrior


def flag_implausible(objects: dict[tuple[str, int], tuple[str, float]], config: PlausibilityConfig) -> list[Flagged]:
    """The objects ((scan id, object id) -> (category, longest side in cm)) whose size is implausible, sorted."""
    if not config.enabled:
        return []
    priors = shipped_priors() | build_priors(objects.values(), config.min_instances)
    flagged = []
    for (scene_id, object_id), (category, size) in sorted(objects.items()):
        prior = priors.get(category)
        reason = None if prior is None else implausible(size, prior, config)
        if reason is not None and prior is not None:
            flagged.append(Flagged(scene_id, object_id, category, size, reason, prior))
    return flagged
