"""The per-scan gate on sensor-depth agreement: a scan whose sensor depth disagrees with its mesh fails, naming the
likely cause, instead of being built with wrong visibilities, boxes and distances.

Every view with sensor depth gets ``depth_agreement`` (``views.depth_agreement``: the fraction of its sensor pixels
within 5 cm + 2% of the depth rendered from the mesh at the view's pose). Intact scans agree; three faults make
them disagree everywhere while every file still parses: poses that belong to other frames (ARKitScenes
trajectories whose timestamps are shifted by a whole frame period), depth frames in another unit, a mesh that
renders nothing (all faces degenerate). The gate looks at the scan's views together:

* it **fails** the scan when the median agreement is below :data:`FAIL_MEDIAN`, or when more than
  :data:`FAIL_SHARE` of the views agree less than :data:`VIEW_FLOOR`;
* it **warns** when the median is below :data:`WARN_MEDIAN` or more than :data:`WARN_SHARE` of the views are below
  the floor;
* the cause it names comes from two more figures per view (:class:`ViewDepth`): how much of the view the mesh
  covers (a broken mesh, or poses away from it, covers little) and the ratio of the sensor's median depth to the
  rendered one (a wrong unit is a factor of 10 or more); otherwise the poses do not match the frames.

How the thresholds were chosen: ``python benchmarks/depth_gate_cases.py`` measures intact and broken synthetic
scans of the three sources (docs/reliability.md has its table). Intact synthetic views agree 1.0; the broken ones
0.0 to 0.33 (median at most 0.2). Real sensors add noise and unmodelled surfaces (people, glass, what the mesh
reconstruction smoothed), so the failure line is set far below intact figures and above the broken ones, and the
warning band sits between: real ScanNet/ARKitScenes/ScanNet++ figures remain to be measured on real scans.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ladderdata.errors import InconsistentScanError
from ladderdata.metadata.views import compiled_kernels
from ladderdata.typed import DepthMM

#: A view agreeing less than this is a disagreeing view.
VIEW_FLOOR = 0.4
#: The scan fails below this median agreement, or with more than this share of disagreeing views.
FAIL_MEDIAN, FAIL_SHARE = 0.4, 0.6
#: A warning below this median, or with more than this share of disagreeing views.
WARN_MEDIAN, WARN_SHARE = 0.7, 0.2
#: A view the mesh covers less than this (rendered pixels with a surface) shows no mesh.
MIN_COVERAGE = 0.05
#: Sensor/rendered median depth ratios outside this range are another unit.
UNIT_RATIO = (0.4, 2.5)


@dataclass(frozen=True)
class ViewDepth:
    """What one view says about its sensor depth against the mesh."""

    agreement: float
    coverage: float
    """Fraction of rendered pixels that hit the mesh."""
    ratio: float | None
    """Median sensor depth / median rendered depth (None when either has no valid pixel)."""


def view_depth(
    agreement: float, sensor: DepthMM, depth_shift: float, rendered: NDArray[np.floating[Any]], step: int = 4
) -> ViewDepth:
    """The :class:`ViewDepth` of a view: ``sensor`` (h, w) depth in units of 1/``depth_shift`` m, ``rendered`` (H, W)
    metres, inf where no surface is hit (every ``step``-th pixel is looked at)."""
    kernels = compiled_kernels()
    if kernels is not None and rendered.dtype == np.float32 and sensor.dtype == np.uint16:  # as views render them
        looked_at, hits, sensor_median, rendered_median = kernels.depth_figures(sensor, rendered, step)
        ratio = None
        if hits and not np.isnan(sensor_median):
            ratio = float(sensor_median / depth_shift / max(rendered_median, 1e-6))
        return ViewDepth(agreement, hits / max(looked_at, 1), ratio)
    seen = rendered[::step, ::step]
    hit = seen[np.isfinite(seen)]
    values = sensor[::step, ::step]
    valid = values[values > 0]
    ratio = None
    if hit.size and valid.size:
        ratio = float(np.median(valid) / depth_shift / max(float(np.median(hit)), 1e-6))
    return ViewDepth(agreement, hit.size / max(seen.size, 1), ratio)


@dataclass(frozen=True)
class DepthVerdict:
    """The gate's figures for a scan (in its stats) and whether it warns."""

    views: int
    median: float
    share_below: float
    warning: str | None


def check_depth(scan_id: str, poses_file: Path, views: list[ViewDepth], depth_shift: float) -> DepthVerdict | None:
    """Apply the gate to a scan's views (None when no view has sensor depth); raises ``InconsistentScanError``
    naming the cause when the scan fails."""
    if not views:
        return None
    agreement = np.array([v.agreement for v in views])
    median = float(np.median(agreement))
    share = float(np.mean(agreement < VIEW_FLOOR))
    summary = (
        f"sensor depth disagrees with the mesh: median agreement {median:.2f} over {len(views)} views, "
        f"{share:.0%} of them below {VIEW_FLOOR}"
    )
    if median < FAIL_MEDIAN or share > FAIL_SHARE:
        raise InconsistentScanError(scan_id, poses_file, f"{summary}; {cause(views, depth_shift)}")
    warning = None
    if median < WARN_MEDIAN or share > WARN_SHARE:
        warning = f"[{scan_id}] {summary} (near the failure line {FAIL_MEDIAN}); {cause(views, depth_shift)}"
    return DepthVerdict(len(views), median, share, warning)


def cause(views: list[ViewDepth], depth_shift: float) -> str:
    """The likely reason sensor depth and mesh disagree, from the views' coverage and depth ratios."""
    coverage = float(np.median([v.coverage for v in views]))
    if coverage < MIN_COVERAGE:
        return (
            f"the mesh covers {coverage:.0%} of the median view: a broken mesh (degenerate or missing faces) "
            "or poses that do not look at it"
        )
    ratios = [v.ratio for v in views if v.ratio is not None]
    if ratios:
        ratio = float(np.median(ratios))
        if not UNIT_RATIO[0] <= ratio <= UNIT_RATIO[1]:
            return (
                f"the sensor depth is {ratio:.3g}x the mesh's: depth frames in the wrong unit (read as "
                f"{depth_shift:g} values per metre)"
            )
    return "the poses do not match the frames (wrong or shifted pose timestamps, or another recording's poses)"
