"""``ladder build-dataset`` as stages: plan -> draft -> select -> render -> write.

* :mod:`~ladderdata.pipeline.plan`: the scans to use (split, benchmark rooms excluded, limit).
* :mod:`~ladderdata.pipeline.draft`: per scan, in the executor: metadata (cached), then every task x modality's
  drafts (cached per scan, keyed on the scan's input files, so finished scans cost a few file stats).
* :mod:`~ladderdata.pipeline.select`: per task x modality, scenes take turns until the recipe's target is met.
* :mod:`~ladderdata.pipeline.render`: wording, options with balanced letters, answers in stored pixels, rows
  derived by deriving tasks (paired localization), shuffled subsets.
* :mod:`~ladderdata.pipeline.write`: shards, in the executor, each written atomically or reused.

Every stage is a :class:`~ladderdata.pipeline.stage.Stage`: its counters and time go to ``stats.json`` and
``stats.md``. :func:`build_dataset` runs them inside the output folder's lock.
"""

from ladderdata.pipeline.config import BuildConfig, DraftRecord, SceneDrafts
from ladderdata.pipeline.report import BuildSummary
from ladderdata.pipeline.run import build_dataset
from ladderdata.pipeline.stage import BuildProgress, StageStats

__all__ = ["BuildConfig", "BuildProgress", "BuildSummary", "DraftRecord", "SceneDrafts", "StageStats", "build_dataset"]
