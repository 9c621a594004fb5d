"""The Hugging Face Hub's rules for a dataset card's YAML metadata, checked offline.

The Hub validates a card's metadata when it is pushed and refuses (or flags) values it does not know. The rules
here are the documented ones, so that ``ladder push`` and the tests catch a bad card before any upload:

- ``license``: an identifier of https://huggingface.co/docs/hub/repositories-licenses (:data:`LICENSES`, the
  ids that page lists); ``other`` needs ``license_name`` (an id such as ``my-license-1.0``) and ``license_link``
  (a URL, or ``LICENSE``/``LICENSE.md`` in the repository) (hub-docs ``datasetcard.md``);
- ``task_categories``: the Hub's pipeline types (huggingface.js ``packages/tasks/src/pipelines.ts``,
  :data:`TASK_CATEGORIES`); ``task_ids``: their subtasks (:data:`TASK_IDS`);
- ``size_categories``: one of huggingface_hub's ``DatasetCardData`` buckets (:data:`SIZE_CATEGORIES`);
- ``language``: ISO 639-1/2/3 codes (two or three letters) or ``code`` / ``multilingual``;
- ``configs``: unique ``config_name``\\ s, at most one ``default: true``, ``data_files`` as ``{split, path}``
  entries whose split names are words (``train``, ``test``...) and whose paths are relative to the repository
  (and, when a folder is given, name files that exist in it);
- ``pretty_name``: a non-empty string; ``tags`` and ``source_datasets``: lists of non-empty strings.
"""

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NotRequired, TypedDict

LICENSES = frozenset(
    [
        "apache-2.0",
        "mit",
        "openrail",
        "bigscience-openrail-m",
        "creativeml-openrail-m",
        "bigscience-bloom-rail-1.0",
        "bigcode-openrail-m",
        "afl-3.0",
        "artistic-2.0",
        "bsl-1.0",
        "bsd",
        "bsd-2-clause",
        "bsd-3-clause",
        "bsd-3-clause-clear",
        "c-uda",
        "cc",
        "cc0-1.0",
        "cc-by-2.0",
        "cc-by-2.5",
        "cc-by-3.0",
        "cc-by-4.0",
        "cc-by-sa-3.0",
        "cc-by-sa-4.0",
        "cc-by-nc-2.0",
        "cc-by-nc-3.0",
        "cc-by-nc-4.0",
        "cc-by-nd-4.0",
        "cc-by-nc-nd-3.0",
        "cc-by-nc-nd-4.0",
        "cc-by-nc-sa-2.0",
        "cc-by-nc-sa-3.0",
        "cc-by-nc-sa-4.0",
        "cdla-sharing-1.0",
        "cdla-permissive-1.0",
        "cdla-permissive-2.0",
        "wtfpl",
        "ecl-2.0",
        "epl-1.0",
        "epl-2.0",
        "etalab-2.0",
        "eupl-1.1",
        "eupl-1.2",
        "agpl-3.0",
        "gfdl",
        "gpl",
        "gpl-2.0",
        "gpl-3.0",
        "lgpl",
        "lgpl-2.1",
        "lgpl-3.0",
        "isc",
        "h-research",
        "intel-research",
        "lppl-1.3c",
        "ms-pl",
        "apple-ascl",
        "apple-amlr",
        "mpl-2.0",
        "odc-by",
        "odbl",
        "openmdw-1.0",
        "openrail++",
        "osl-3.0",
        "postgresql",
        "ofl-1.1",
        "ncsa",
        "unlicense",
        "zlib",
        "pddl",
        "lgpl-lr",
        "deepfloyd-if-license",
        "fair-noncommercial-research-license",
        "llama2",
        "llama3",
        "llama3.1",
        "llama3.2",
        "llama3.3",
        "llama4",
        "grok2-community",
        "gemma",
        "unknown",
        "other",
    ]
)
TASK_CATEGORIES = frozenset(
    [
        "biology",
        "text-classification",
        "token-classification",
        "table-question-answering",
        "question-answering",
        "zero-shot-classification",
        "translation",
        "summarization",
        "feature-extraction",
        "text-generation",
        "text2text-generation",
        "fill-mask",
        "sentence-similarity",
        "text-to-speech",
        "text-to-audio",
        "automatic-speech-recognition",
        "audio-to-audio",
        "audio-classification",
        "audio-text-to-text",
        "voice-activity-detection",
        "depth-estimation",
        "image-classification",
        "object-detection",
        "image-segmentation",
        "text-to-image",
        "image-to-text",
        "image-to-image",
        "image-to-video",
        "unconditional-image-generation",
        "video-classification",
        "reinforcement-learning",
        "robotics",
        "tabular-classification",
        "tabular-regression",
        "tabular-to-text",
        "table-to-text",
        "multiple-choice",
        "text-ranking",
        "text-retrieval",
        "time-series-forecasting",
        "text-to-video",
        "image-text-to-text",
        "visual-question-answering",
        "document-question-answering",
        "zero-shot-image-classification",
        "graph-ml",
        "mask-generation",
        "zero-shot-object-detection",
        "text-to-3d",
        "image-to-3d",
        "image-feature-extraction",
        "video-text-to-text",
        "keypoint-detection",
        "visual-document-retrieval",
        "any-to-any",
        "other",
    ]
)
TASK_IDS = frozenset(
    [
        "visual-question-answering",
        "document-question-answering",
        "multiple-choice-qa",
        "extractive-qa",
        "open-domain-qa",
        "closed-domain-qa",
        "image-captioning",
        "instance-segmentation",
        "semantic-segmentation",
        "face-detection",
        "vehicle-detection",
    ]
)
"""The subtasks of the categories a spatial-reasoning dataset may name (pipelines.ts lists them per type)."""
SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
    (10_000_000_000, "1B<n<10B"),
    (100_000_000_000, "10B<n<100B"),
    (1_000_000_000_000, "100B<n<1T"),
)
SIZE_NAMES = frozenset([name for _, name in SIZE_CATEGORIES] + ["n>1T", "other"])
LANGUAGE = re.compile(r"^[a-z]{2,3}$")
LICENSE_NAME = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")


def size_category(rows: int) -> str:
    """The Hub's bucket for ``rows`` examples: ``n<1K`` below 1,000, ``1K<n<10K`` from 1,000 to 9,999, ...

    >>> size_category(999), size_category(1_000), size_category(26_000)
    ('n<1K', '1K<n<10K', '10K<n<100K')
    """
    for bound, name in SIZE_CATEGORIES:
        if rows < bound:
            return name
    return "n>1T"


# ------------------------------------------------------------------------------------- the metadata ladder writes


class DataFiles(TypedDict):
    split: str
    path: list[str] | str
    """The files by name, or a glob."""


class CardConfig(TypedDict):
    """One entry of a card's ``configs`` (the Hub's dataset-card metadata)."""

    config_name: str
    default: NotRequired[bool]
    data_files: list[DataFiles]


class LicenseFields(TypedDict):
    license: str
    license_name: str
    license_link: str


class FrontMatter(LicenseFields):
    """A card's YAML metadata, in the order it is written."""

    pretty_name: str
    language: list[str]
    task_categories: list[str]
    task_ids: list[str]
    size_categories: list[str]
    source_datasets: list[str]
    annotations_creators: list[str]
    tags: list[str]
    configs: NotRequired[list[CardConfig]]


# ------------------------------------------------------------------------------------------- checking a card

CardMetadata = Mapping[str, object]
"""A card's YAML metadata as parsed, unchecked: every value is narrowed (``isinstance``) before it is used."""


def read_card_metadata(text: str) -> dict[str, Any]:
    """A card's YAML metadata as huggingface_hub parses it (empty when there is none); raises ``ValueError``
    when the block is not a YAML mapping."""
    from huggingface_hub import DatasetCard

    card_data: Any = DatasetCard(text).data  # CardData.to_dict is untyped
    data: dict[str, Any] = card_data.to_dict()
    return data


def _strings(meta: CardMetadata, key: str) -> list[str] | None:
    """The field as a list of strings (a single string counts as one), None when absent; raises on other types."""
    value = meta.get(key)
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
        raise ValueError(f'"{key}" must be a string or a list of non-empty strings')
    return items


def _check_list(meta: CardMetadata, key: str, allowed: frozenset[str], problems: list[str]) -> None:
    try:
        values = _strings(meta, key)
    except ValueError as e:
        problems.append(str(e))
        return
    for v in values or []:
        if v not in allowed:
            problems.append(f'"{key}" must be one of [{", ".join(sorted(allowed))}], not {v!r}')


def _check_license(meta: CardMetadata, problems: list[str]) -> None:
    _check_list(meta, "license", LICENSES, problems)
    licence = meta.get("license")
    if licence != "other" and not (isinstance(licence, list) and "other" in licence):
        return
    name, link = meta.get("license_name"), meta.get("license_link")
    if not isinstance(name, str) or not LICENSE_NAME.match(name):
        problems.append('"license: other" needs "license_name": an id in lower case, like my-license-1.0')
    if not isinstance(link, str) or not (re.match(r"^https?://\S+$", link) or link in ("LICENSE", "LICENSE.md")):
        problems.append('"license: other" needs "license_link": a URL, or LICENSE / LICENSE.md in the repository')


def _check_data_file(name: str, entry: object, root: Path | None, problems: list[str]) -> None:
    """One ``data_files`` entry of config ``name``: a split name and paths relative to the repository (which
    exist under ``root`` when given, unless they are glob patterns)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("split"), str):
        problems.append(f'config {name!r}: every "data_files" entry needs a "split" and a "path"')
        return
    if not SPLIT_NAME.match(entry["split"]):
        problems.append(f"config {name!r}: split name {entry['split']!r} must be a word (train, test...)")
    paths = entry.get("path")
    paths = [paths] if isinstance(paths, str) else paths
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
        problems.append(f'config {name!r}: "path" must be a path or a non-empty list of paths')
        return
    for path in paths:
        if path.startswith("/") or ".." in Path(path).parts:
            problems.append(f"config {name!r}: {path!r} must be relative to the repository")
        elif root is not None and not any(c in path for c in "*?[") and not (root / path).is_file():
            problems.append(f"config {name!r}: {path} does not exist in {root}")


def _check_config(config: object, root: Path | None, problems: list[str]) -> str | None:
    """One entry of ``configs``; its name, None when it has none."""
    if not isinstance(config, dict) or not isinstance(config.get("config_name"), str) or not config["config_name"]:
        problems.append('every entry of "configs" needs a "config_name"')
        return None
    name: str = config["config_name"]
    files = config.get("data_files")
    if not isinstance(files, list) or not files:
        problems.append(f'config {name!r}: "data_files" must be a non-empty list of {{split, path}}')
        return name
    for entry in files:
        _check_data_file(name, entry, root, problems)
    return name


def _check_configs(meta: CardMetadata, root: Path | None, problems: list[str]) -> None:
    configs = meta.get("configs")
    if configs is None:
        return
    if not isinstance(configs, list) or not configs:
        problems.append('"configs" must be a non-empty list (leave it out when there is no data)')
        return
    names = [name for config in configs if (name := _check_config(config, root, problems)) is not None]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        problems.append(f"config names must be unique: {', '.join(duplicated)}")
    if sum(1 for c in configs if isinstance(c, dict) and c.get("default")) > 1:
        problems.append('at most one config may be "default: true"')


def card_problems(meta: CardMetadata, root: Path | None = None, required: tuple[str, ...] = ()) -> list[str]:
    """Everything in a card's metadata the Hub would refuse or not understand; ``root``: the folder whose files
    ``configs`` must name; ``required``: fields that must be present."""
    problems = [f'"{key}" is missing' for key in required if key not in meta]
    _check_license(meta, problems)
    _check_list(meta, "task_categories", TASK_CATEGORIES, problems)
    _check_list(meta, "task_ids", TASK_IDS, problems)
    _check_list(meta, "size_categories", SIZE_NAMES, problems)
    try:
        languages = _strings(meta, "language") or []
    except ValueError as e:
        problems.append(str(e))
        languages = []
    problems += [
        f'"language" must be ISO 639 codes (en, fr, ...), not {v!r}'
        for v in languages
        if not (LANGUAGE.match(v) or v in ("code", "multilingual"))
    ]
    for key in ("tags", "source_datasets"):
        try:
            _strings(meta, key)
        except ValueError as e:
            problems.append(str(e))
    if "pretty_name" in meta and not (isinstance(meta["pretty_name"], str) and meta["pretty_name"].strip()):
        problems.append('"pretty_name" must be a non-empty string')
    _check_configs(meta, root, problems)
    return problems
