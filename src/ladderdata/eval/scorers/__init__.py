"""Scoring modes, one module each, registered by name (:mod:`ladderdata.eval.scorers.base`); importing this
package registers the built-in ones, in the order ``--scoring all`` runs them."""

from ladderdata.eval.scorers import ladder, lmms_eval, spatialladder, thinking_in_space, vstibench
from ladderdata.eval.scorers.base import (
    SCORERS,
    BenchmarkSummary,
    OfficialMode,
    RefusedSummary,
    SampleScore,
    Scorer,
    Source,
    Summary,
    get_scorer,
    register_scorer,
    scoring_modes,
)

__all__ = [
    "SCORERS",
    "BenchmarkSummary",
    "OfficialMode",
    "RefusedSummary",
    "SampleScore",
    "Scorer",
    "Source",
    "Summary",
    "get_scorer",
    "ladder",
    "lmms_eval",
    "register_scorer",
    "scoring_modes",
    "spatialladder",
    "thinking_in_space",
    "vstibench",
]
