"""Build recipes: every knob of ``ladder build-dataset`` in one validated YAML file.

Built-in recipes live in ``templates/recipes/``; ``Recipe.load("spatialladder-26k")`` or a path.
"""

from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from ladderdata.errors import ConfigError
from ladderdata.layout import SAFE_NAME_PATTERN
from ladderdata.metadata.config import MetadataConfig
from ladderdata.prompts import (
    QuestionTemplates,
    builtin_template_fields,
    builtin_template_keys,
    builtin_yaml_names,
    choice_field_names,
    load_yaml_model,
    read_yaml,
    resource,
    template_fields,
)
from ladderdata.tasks import (
    LOCALIZATION_TASK,
    SPATIAL_TASKS,
    AnswerType,
    FilterConfig,
    Modality,
    TaskGenerator,
    get_task,
)
from ladderdata.tasks.modalities import ModalityConfig
from ladderdata.tasks.modules import load_task_modules


@cache
def category_vocabularies() -> dict[str, dict[str, str]]:
    """Built-in category renamings (``templates/category_names.yaml``): vocabulary -> {category: name}."""
    data = read_yaml(resource("category_names.yaml"), "built-in category_names.yaml")
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.items()}


def check_templates(templates: QuestionTemplates, generators: list[TaskGenerator]) -> None:
    """Users' template keys must be keys some task uses, and their templates may use only the fields that task
    provides: the fields of the built-in wording, plus, for multiple-choice tasks, ``{choices}``, ``{choices_or}``
    and one ``{choice_a}``, ``{choice_b}``, ... per option its drafts offer with the recipe's settings
    (``generators``; a task the recipe does not configure counts with its defaults). A key with no built-in
    wording must start with the name of a task that has none either (a plugin task's key): its fields were only
    checked to be plain names."""
    builtin = builtin_template_keys()
    options = {key: n for g in generators for key, n in g.template_choices().items()}
    for key, path in templates.files.items():
        allowed = builtin_template_fields(key)
        task_name = key.split(".")[0]
        if allowed is None:
            if _plugin_task(task_name, builtin):
                continue
            raise ConfigError(
                f"{path}: no task uses template key {key!r}; the keys are {', '.join(builtin)} "
                "(or a plugin task's name, then '.' and its own suffix)"
            )
        task = get_task(task_name)
        if task.answer_type is AnswerType.MCQ:
            count = options.get(key, task().template_choices().get(key, 0))
            allowed |= choice_field_names(count)
        for text in templates.variants[key]:
            extra = template_fields(text) - allowed
            if extra:
                raise ConfigError(
                    f"{path}: template {key!r} uses {sorted(extra)}, which its task does not provide "
                    f"(it provides {sorted(allowed)})"
                )


def _plugin_task(name: str, builtin: list[str]) -> bool:
    """Whether ``name`` is a registered task without built-in wording (its template keys are its own)."""
    try:
        get_task(name)
    except KeyError:
        return False
    return not any(key == name or key.startswith(f"{name}.") for key in builtin)


#: Longest name a question may give a category (``category_names`` values).
MAX_CATEGORY_NAME = 100


def check_category_names(names: dict[str, str]) -> dict[str, str]:
    """``names`` when every key and value is a name a question can show: non-empty, no leading or trailing
    whitespace, no braces, no control characters (a newline would break the question), at most
    :data:`MAX_CATEGORY_NAME` characters."""
    for text in (*names, *names.values()):
        bad = not text or text != text.strip() or len(text) > MAX_CATEGORY_NAME or any(c in "{}" for c in text)
        if bad or not text.isprintable():
            raise ValueError(
                f"category_names: {text[:60]!r} is not a category name (non-empty, printable, no braces, no "
                f"surrounding whitespace, at most {MAX_CATEGORY_NAME} characters)"
            )
    return names


class LocalizationMode(StrEnum):
    PAIRED = "paired"
    """Paper: every selected single-image spatial question gets a localization twin."""
    STANDALONE = "standalone"
    """Localization questions of their own ("where are the ... ?")."""
    OFF = "off"


class ImageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    max_side: int | None = Field(
        None,
        ge=32,
        le=16_384,
        description="downscale images whose longer side exceeds this (None: store frames as they are)",
    )
    jpeg_quality: int = Field(90, ge=50, le=100, description="only for images that are re-encoded")


#: A question target: how many questions of one task and modality to keep.
Target = Annotated[int, Field(ge=0, le=10_000_000)]


TaskSettings = dict[str, JsonValue]
"""A task's settings as a recipe gives them (its config class validates them: ``TaskGenerator.config_class``)."""


class Recipe(BaseModel):
    """What to generate and how much. Everything is checked when the recipe is read, before any work starts:
    bounded numbers, task settings, targets naming configured tasks, and question templates (files present,
    plain ``{name}`` fields that their task provides)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(
        "custom",
        pattern=SAFE_NAME_PATTERN,
        description="names the benchmark's folder and subset: letters, digits, '.', '_' and '-'",
    )
    description: str = Field("", max_length=10_000)
    metadata: MetadataConfig = Field(default_factory=MetadataConfig)
    modalities: ModalityConfig = Field(default_factory=ModalityConfig)
    filters: FilterConfig = Field(default_factory=FilterConfig)
    tasks: dict[str, TaskSettings] = Field(
        default_factory=lambda: {t: TaskSettings() for t in SPATIAL_TASKS},
        description="task name -> that task's config (see its config class); order is generation order",
    )
    localization: LocalizationMode = LocalizationMode.PAIRED
    localization_config: TaskSettings = Field(default_factory=dict)
    targets: dict[str, dict[Modality, Target]] = Field(
        default_factory=dict, description="questions per task and modality; tasks without a target keep everything"
    )
    reference_scenes: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="scenes the targets assume; fewer scenes scale the targets down proportionally",
    )
    paraphrases: bool = Field(False, description="draw a wording variant per question instead of the paper's")
    deduplicate: bool = Field(
        False, description="keep one question per scene, template and set of objects (benchmarks: no near-duplicates)"
    )
    category_names: str | dict[str, str] = Field(
        default_factory=dict,
        description="names questions use for categories: a mapping {category: name}, or a built-in vocabulary "
        "of templates/category_names.yaml ('vsibench': VSI-Bench's names where ScanNet uses synonyms, "
        "e.g. couch -> sofa)",
    )
    templates: list[Path] = Field(
        default_factory=list, max_length=100, description="extra question-template YAML files"
    )
    images: ImageConfig = Field(default_factory=ImageConfig)
    rows_per_shard: int = Field(500, ge=1, le=100_000)
    plugins: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="task modules to import before the tasks are looked up: .py files (paths from the working "
        "directory) or module names; `--tasks-module FILE.py` adds to them (docs/tasks.md)",
    )

    @model_validator(mode="after")
    def _check_tasks(self) -> "Recipe":
        # unknown task names, bad task settings, targets of tasks the recipe lacks and bad templates fail when the
        # recipe is read
        try:
            load_task_modules(self.plugins)
        except ConfigError as e:
            raise ValueError(str(e)) from None
        generators = [*self.generators(), *self.derivers()]
        localization = get_task(LOCALIZATION_TASK)
        localization.config_class.model_validate(self.localization_config)  # checked in every mode
        self.category_map()
        untargetable = sorted(set(self.targets) - {g.name for g in generators})
        if untargetable:
            raise ValueError(f"targets name tasks this recipe does not generate: {untargetable}")
        for g in generators:  # modalities a task cannot generate would give no question, silently
            supported = [m.value for m in g.supported]
            unsupported = sorted({m.value for m in g.config.modalities or []} - set(supported))
            if unsupported:
                raise ValueError(f"{g.name} does not generate modalities {unsupported} (it supports {supported})")
            missing = sorted({m.value for m in self.targets.get(g.name, {})} - {m.value for m in g.modalities})
            if missing:
                raise ValueError(
                    f"targets of {g.name} name modalities it does not generate: {missing} "
                    f"(it generates {[m.value for m in g.modalities]})"
                )
        try:
            check_templates(QuestionTemplates(self.templates), generators)
        except ConfigError as e:
            raise ValueError(str(e)) from None
        return self

    def category_map(self) -> dict[str, str]:
        """Category -> the name questions use (categories not listed keep their name)."""
        if isinstance(self.category_names, dict):
            return check_category_names(dict(self.category_names))
        vocabularies = category_vocabularies()
        if self.category_names not in vocabularies:
            raise ValueError(
                f"unknown category vocabulary {self.category_names!r}; built-in: {', '.join(sorted(vocabularies))}"
            )
        return dict(vocabularies[self.category_names])

    def generators(self) -> list[TaskGenerator]:
        """The configured spatial generators (plus localization in standalone mode), in recipe order."""
        load_task_modules(self.plugins)  # a worker process imports the recipe's task modules here
        names = list(self.tasks)
        configs = dict(self.tasks)
        if self.localization is LocalizationMode.STANDALONE:
            names.append(LOCALIZATION_TASK)
            configs[LOCALIZATION_TASK] = self.localization_config
        out = []
        for name in names:
            try:
                cls = get_task(name)
            except KeyError as e:
                raise ValueError(str(e)) from None
            out.append(cls(cls.config_class.model_validate(configs[name] or {}), self.filters))
        return out

    def derivers(self) -> list[TaskGenerator]:
        """Tasks whose rows are derived from the other tasks' finished rows (paired localization)."""
        if self.localization is not LocalizationMode.PAIRED:
            return []
        cls = get_task(LOCALIZATION_TASK)
        return [cls(cls.config_class.model_validate(self.localization_config), self.filters)]

    def with_task_modules(self, modules: list[Path]) -> "Recipe":
        """This recipe with ``modules`` (``--tasks-module`` files, imported already) added to its plugins, as
        absolute paths: worker processes import them again."""
        added = [str(p.expanduser().resolve()) for p in modules]
        return self.model_copy(update={"plugins": list(dict.fromkeys([*self.plugins, *added]))})

    def with_tasks(self, names: list[str]) -> "Recipe":
        """This recipe with the tasks ``names`` it does not configure added, with their default settings and no
        target (every question they draft is kept); validated like any recipe."""
        tasks = dict(self.tasks) | {name: {} for name in names if name not in self.tasks}
        return self if tasks == self.tasks else self.model_validate(self.model_dump() | {"tasks": tasks})

    def with_frame_stride(self, frame_stride: int | None) -> "Recipe":
        """This recipe with its metadata's frame stride overridden (``--frame-stride``); unchanged for None."""
        return self.model_copy(update={"metadata": self.metadata.with_frame_stride(frame_stride)})

    def target(self, task: str, modality: Modality, scenes: int) -> int | None:
        """How many questions to keep for ``task`` x ``modality`` from ``scenes`` scenes (None: all)."""
        wanted = self.targets.get(task, {}).get(modality)
        if wanted is None:
            return None
        if self.reference_scenes is None or scenes >= self.reference_scenes:
            return wanted
        return max(1, round(wanted * scenes / self.reference_scenes)) if wanted else 0

    @classmethod
    def builtin_names(cls) -> list[str]:
        return builtin_yaml_names("recipes")

    @classmethod
    def load(cls, name_or_path: str | Path) -> "Recipe":
        """A built-in recipe by name (``templates/recipes/``), or a YAML file."""
        return load_yaml_model(cls, name_or_path, "recipes", "recipe")
