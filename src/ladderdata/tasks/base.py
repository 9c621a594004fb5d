"""The task-generator base class, its records and configs, and the task registry.

A new question type is one module: a :class:`TaskGenerator` subclass decorated with :func:`register_task`
(or exposed through the ``ladderdata.tasks`` entry-point group) plus its wording in a template file.
See docs/tasks.md for a complete worked example.
"""

import logging
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any, ClassVar, Generic, Self, cast, get_args, get_origin

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator
from typing_extensions import TypeVar

from ladderdata.geometry.vision_grid import rescale_boxes
from ladderdata.layout import check_name
from ladderdata.prompts import PromptStyle, chat_messages, user_prompt
from ladderdata.registry import Registry
from ladderdata.tasks.context import ObjectFacts, SceneContext, Shown
from ladderdata.tasks.plausibility import PlausibilityConfig

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ladderdata.tasks"


class Modality(StrEnum):
    SINGLE_IMAGE = "single_image"
    MULTI_VIEW = "multi_view"
    VIDEO = "video"


class AnswerType(StrEnum):
    MCQ = "mcq"
    NUMERIC = "numeric"
    BOXES = "boxes"


class OfficialScorer(StrEnum):
    """Evaluation code outside ladder whose question-type lists name ladder's tasks (``eval/official.py``)."""

    VSIBENCH = "vsibench"
    """lmms-eval's ``vsibench`` task (``MCA_QUESTION_TYPES`` / ``NA_QUESTION_TYPES``)."""
    SPATIALLADDER = "spatialladder"
    """SpatialLadder's evaluator ``eval_spld`` (VSI-Bench's lists plus SPBench's ``object_rel_direction``)."""
    VSTIBENCH = "vstibench"
    """VLM-3R's lmms-eval ``vstibench`` task (VSTI-Bench)."""


class ObjectRef(BaseModel):
    """An object a question refers to."""

    model_config = ConfigDict(frozen=True)

    object_id: int
    category: str
    role: str
    """What the object is in the question: "target", "reference", "candidate", "positioning", ..."""
    visibility: float
    """Best visibility of the object among the views shown."""
    bbox_2d: list[float] | None = None
    """Single image: box of the object's visible part, [x1, y1, x2, y2] pixels of the image as stored."""


class Draft(BaseModel):
    """A question before its final wording: multiple-choice drafts list the correct choice first.

    Letters, option order and the template variant are chosen when the dataset is finalised, so that answer
    letters can be balanced over the whole dataset.
    """

    template: str
    """Key of the question template (``templates/questions.yaml``)."""
    fields: dict[str, str] = Field(default_factory=dict)
    choices: list[str] = Field(default_factory=list)
    """Multiple choice: the correct choice, then the distractors."""
    answer: str = ""
    """Numeric answers, formatted; empty for multiple choice."""
    objects: list[ObjectRef]
    margins: dict[str, float] = Field(default_factory=dict)
    """Every quantity a filter compared with a threshold, so users can re-threshold later."""
    extras: dict[str, JsonValue] = Field(default_factory=dict)
    """What a task stores beyond its question, by key (route_planning: the route's top-down map,
    :mod:`ladderdata.tasks.route_map`); the row's ``extras`` column, as JSON."""

    @property
    def categories(self) -> set[str]:
        return {o.category for o in self.objects}


class QuestionRecord(BaseModel):
    """The fields of a finished question wherever it is: as written (:class:`Sample`) and as read back from a
    shard (:class:`ladderdata.io.dataset.StoredRow`)."""

    model_config = ConfigDict(frozen=True)

    id: str
    task: str
    """VSI-Bench ``question_type`` (or ``object_localization``)."""
    modality: Modality
    scene_id: str
    source: str
    """Where the scan comes from, as VSI-Bench's ``dataset`` field names it (``scannet`` for ScanNet scans)."""
    frame_ids: list[int]
    timestamps: list[float] | None
    """Seconds, one per image (videos: the frames' times in the scan's stream); None when the scan's frames
    layout does not record when frames were taken (a ``posed_images`` subsample)."""
    image_width: int
    image_height: int
    """Size of the stored images (pixel coordinates of localization answers refer to it)."""
    question: str
    options: list[str]
    """``["A. chair", "B. table"]`` for multiple choice, else empty."""
    answer: str
    """Option letter, number as text, or JSON boxes."""
    answer_type: AnswerType
    objects: list[ObjectRef]


class Sample(QuestionRecord):
    """One finished question (one row of a shard, without its image bytes)."""

    margins: dict[str, float]
    extras: dict[str, JsonValue] = Field(default_factory=dict, exclude_if=lambda extras: not extras)
    """The draft's :attr:`Draft.extras`; left out of a dump when empty, so rows without extras serialise (and
    key their shards) as they did before the field existed."""

    @property
    def prompt_style(self) -> PromptStyle:
        return PromptStyle.LOCALIZATION if self.answer_type is AnswerType.BOXES else PromptStyle.ANSWER

    def messages(self) -> list[dict[str, JsonValue]]:
        """Chat turns for supervised training: the B.2 prompt of the sample's stage and the answer; boxes are in
        the pixels of the image as Qwen2.5-VL's processor resizes it at the paper's pixel budget
        (:func:`ladderdata.geometry.vision_grid.resized_size`), which is where the model answers."""
        prompt = user_prompt(self.question, self.options, self.answer_type.value, self.prompt_style)
        target = self.answer
        if self.answer_type is AnswerType.BOXES:
            target = rescale_boxes(self.answer, self.image_width, self.image_height)
        return chat_messages(prompt, len(self.frame_ids), target)


class UnknownLabels(StrEnum):
    """What questions do with objects whose raw label the label table lacks (they always occlude)."""

    DROP = "drop"
    """Never name them in a question."""
    KEEP = "keep"
    """Name them by their raw label."""


class GuardBands(BaseModel):
    """How far clear of its threshold each gated quantity must be for a question to be kept, so that a small change
    in sampling never flips a kept question (docs/benchmarks.md#guard-bands says how each was chosen). The measured
    values stay in the ``margins`` column; candidates inside a band are counted as ``guard_band:<quantity>``."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    visibility: float = Field(
        0.03, ge=0, le=1, description="visibility fractions (min_visibility, counting, first sightings), absolute"
    )
    ratio: float = Field(
        0.05, ge=0, le=10, description="distance ratios (far/near, distance/size): relative, threshold x (1 + this)"
    )
    angle_deg: float = Field(1.0, ge=0, le=45, description="direction angles and lateral offsets, degrees")
    depth: float = Field(0.03, ge=0, le=10, description="single-image depth gaps, metres")


class FilterConfig(BaseModel):
    """Filters every task shares (paper B.1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    min_visibility: float = Field(
        0.4, ge=0, le=1, description="a referenced object's best visibility in the views shown"
    )
    presence_visibility: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="an instance whose visibility exceeds this counts as present (uniqueness; counting takes "
        "every partly visible instance)",
    )
    noisy_categories: list[str] = Field(
        default_factory=lambda: ["wall", "floor", "ceiling", "object", "objects", "doorframe", "door frame"],
        description="values of the label table's `category` column never asked about",
    )
    noisy_nyu40_classes: list[str] = Field(
        default_factory=lambda: ["wall", "floor", "ceiling", "otherstructure"],
        description="values of the label table's `nyu40class` column never asked about (room structure)",
    )
    catch_all_nyu40_classes: list[str] = Field(
        default_factory=lambda: ["otherfurniture", "otherprop"],
        description="NYU40's catch-all classes: their objects are asked about only when their raw label is common "
        "in ScanNet (min_label_count)",
    )
    min_label_count: int = Field(
        100,
        ge=0,
        le=10_000_000,
        description="a catch-all-class object is askable when the label table counts at least this many instances "
        "of its raw label (`count` column): trash can 1,090 and monitor 765 are; tissue box 73 is not",
    )
    unknown_labels: UnknownLabels = Field(
        UnknownLabels.DROP, description="objects whose raw label the label table lacks: drop from questions or keep"
    )
    guard_bands: GuardBands = Field(default_factory=GuardBands, description="tolerances around every gate")
    plausibility: PlausibilityConfig = Field(
        default_factory=PlausibilityConfig, description="objects of implausible size for their category are not asked"
    )


class TaskConfig(BaseModel):
    """Settings every task has; subclasses add their own thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    modalities: list[Modality] | None = Field(None, description="None: every modality the task supports")
    max_per_scene: int = Field(12, ge=0, le=10_000, description="questions per scene and modality")
    max_per_category: int = Field(
        4, ge=1, le=10_000, description="questions per scene and modality naming one category"
    )
    max_per_context: int = Field(2, ge=1, le=1000, description="questions per shown image set")

    #: (low, high) pairs of fields where low must not exceed high (a range, or a threshold below another).
    ordered_fields: ClassVar[tuple[tuple[str, str], ...]] = ()

    @model_validator(mode="after")
    def _check_order(self) -> Self:
        for low, high in self.ordered_fields:
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} ({getattr(self, low)}) is above {high} ({getattr(self, high)})")
        return self


class Rejections:
    """Counts, per filter name, the candidates a filter rejected."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def check(self, name: str, ok: bool) -> bool:
        if not ok:
            self.counts[name] += 1
        return ok


def clear_of(value: float, threshold: float, band: float) -> bool:
    """Whether ``value`` lies at least ``band`` from ``threshold`` (either side; the gate itself is checked apart),
    up to rounding: 0.43 is clear of 0.4 by 0.03 although 0.43 - 0.4 < 0.03 in floating point."""
    return abs(value - threshold) >= band - 1e-9


ConfigT = TypeVar("ConfigT", bound=TaskConfig, default=TaskConfig, covariant=True)
"""A task's config class: ``class Counting(TaskGenerator[CountingConfig])`` makes ``self.config`` a
``CountingConfig`` (and :attr:`TaskGenerator.config_class` that class). A bare ``TaskGenerator`` is any task."""


class TaskGenerator(ABC, Generic[ConfigT]):
    """Generates drafts for one question type from a scene and the views shown.

    Subclasses name their config class as the type argument (``TaskGenerator[CountingConfig]``), set the class
    attributes and implement :meth:`drafts`; :meth:`generate` applies the caps.
    """

    name: ClassVar[str]
    answer_type: ClassVar[AnswerType]
    supported: ClassVar[tuple[Modality, ...]]
    margins: ClassVar[tuple[str, ...]]
    """Names of the margins this task stores (the union over tasks becomes the ``margins`` column)."""
    config_class: ClassVar[type[TaskConfig]] = TaskConfig
    """The class of :attr:`config` (recipes validate a task's settings with it): the type argument the task
    subclasses ``TaskGenerator`` with."""
    subset: ClassVar[str] = "spatial"
    """The dataset subset (Hugging Face config) this task's rows go to."""
    unit: ClassVar[str] = ""
    """Unit of a numeric answer, shown next to it in previews ("m", "cm", "m²", "count"); empty otherwise."""
    temporal: ClassVar[bool] = False
    """Whether answers depend on when frames were taken (such tasks skip scans whose frame times are unknown)."""
    short_name: ClassVar[str] = ""
    """Column heading in cards and evaluation tables (the paper's abbreviations); empty: the task's name."""
    official: ClassVar[frozenset[OfficialScorer]] = frozenset()
    """Official scorers that know this question type (their lists are built from these declarations)."""
    spatialladder_rank: ClassVar[int | None] = None
    """Position among SpatialLadder-26k's question types in its Table 6 (0 first): these make the default recipe
    and lead the columns of cards and reports (:func:`spatialladder_tasks`); None: not one of them."""
    scored_within: ClassVar[str] = ""
    """Another question type whose official score averages this one in (VSI-Bench's three relative-direction
    forms are reported as ``object_rel_direction``); empty: scored under its own name."""
    drafts_version: ClassVar[str] = ""
    """Bump when this task's drafts change (what they hold or mean): cached drafts of recipes with the task are
    recomputed, while other recipes keep theirs (and their shards' keys). Empty: the first version."""
    questions: ClassVar[dict[str, tuple[str, ...]]] = {}
    """A plugin task's own wording: template key (the task's name, or its name, ``.`` and a suffix) -> variants
    (the first is the default). A recipe's ``templates`` files override it; built-in tasks' wording is
    ``templates/questions.yaml``."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            args = get_args(base) if get_origin(base) is TaskGenerator else ()
            if args and isinstance(args[0], type) and issubclass(args[0], TaskConfig):
                cls.config_class = args[0]

    def __init__(self, config: ConfigT | None = None, filters: FilterConfig | None = None) -> None:
        chosen = config if config is not None else self.config_class()
        if not isinstance(chosen, self.config_class):
            raise TypeError(f"{type(self).__name__} takes a {self.config_class.__name__}, not {type(chosen).__name__}")
        self.config: ConfigT = cast(ConfigT, chosen)  # checked just above: config_class is ConfigT's class
        self.filters = filters if filters is not None else FilterConfig()

    @property
    def modalities(self) -> list[Modality]:
        chosen = self.config.modalities
        return [m for m in self.supported if chosen is None or m in chosen]

    @abstractmethod
    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        """Every acceptable draft for this image set, in an order drawn from ``rng``."""

    def generate(
        self, ctx: SceneContext, contexts: list[Shown], rng: np.random.Generator, rejections: Rejections
    ) -> list[tuple[Shown, Draft]]:
        """Drafts of one scene and modality, at most ``max_per_context`` per image set, within the caps."""
        cfg = self.config
        pool: list[tuple[Shown, Draft]] = []
        for i in rng.permutation(len(contexts)):
            shown = contexts[int(i)]
            for k, draft in enumerate(self.drafts(ctx, shown, rng, rejections)):
                unknown = set(draft.margins) - set(self.margins)
                if unknown:
                    raise ValueError(f"task {self.name} stored undeclared margins {sorted(unknown)}")
                pool.append((shown, draft))
                if k + 1 >= cfg.max_per_context:
                    break
            if len(pool) >= 4 * cfg.max_per_scene:
                break
        kept: list[tuple[Shown, Draft]] = []
        per_category: Counter[str] = Counter()
        for i in rng.permutation(len(pool)):
            shown, draft = pool[int(i)]
            if len(kept) >= cfg.max_per_scene:
                rejections.counts["scene_cap"] += 1
                continue
            if any(per_category[c] >= cfg.max_per_category for c in draft.categories):
                rejections.counts["category_cap"] += 1
                continue
            per_category.update(draft.categories)
            kept.append((shown, draft))
        return kept

    def template_choices(self) -> dict[str, int]:
        """Template key -> number of options of the multiple-choice drafts that use it, with this config (recipes
        check users' templates against it: ``{choice_d}`` needs 4 options). Empty for other tasks."""
        return {}

    def final_answer(self, draft: Draft, objects: list[ObjectRef]) -> str:
        """The stored answer of a draft without choices, once images are stored: ``objects`` carry their boxes
        in stored pixels (after any resize). Default: the drafted answer."""
        return draft.answer

    def derive(self, sample: Sample) -> Sample | None:
        """A row of this task derived from another task's finished row, or None. Runs only for the tasks a
        recipe names as derivers (:meth:`ladderdata.recipe.Recipe.derivers`); by default nothing is derived."""
        return None

    # ----------------------------------------------------------------------------------- shared filters

    def unaskable(self, obj: ObjectFacts) -> str | None:
        """Why ``obj`` may never be named in a question (the rejection name), or None when it may."""
        f = self.filters
        if obj.category in f.noisy_categories or obj.nyu40_class in f.noisy_nyu40_classes:
            return "noisy_category"
        if obj.nyu40_class in f.catch_all_nyu40_classes and obj.label_count < f.min_label_count:
            return "rare_label"
        if not obj.in_label_table and f.unknown_labels is UnknownLabels.DROP:
            return "unknown_label"
        return None

    def referable(self, ctx: SceneContext, shown: Shown, object_id: int, rejections: Rejections) -> bool:
        """Askable (:meth:`unaskable`), visible enough in the views shown, and the only instance of its category
        there."""
        reason = self.unaskable(ctx.objects[object_id])
        if reason is not None:
            rejections.counts[reason] += 1
            return False
        obj = ctx.objects[object_id]
        visibility, threshold = shown.visibility(object_id), self.filters.min_visibility
        if not self.reaches("visibility", visibility, threshold, self.filters.guard_bands.visibility, rejections):
            return False
        rivals = [o for o in shown.present(obj.category, self.filters.presence_visibility) if o != object_id]
        return rejections.check("not_unique", not rivals)

    @staticmethod
    def reaches(name: str, value: float, threshold: float, band: float, rejections: Rejections) -> bool:
        """Whether ``value`` reaches ``threshold`` (else counted as ``name``) and is clear of it by ``band`` (else
        counted as ``guard_band:<name>``): the two checks of every gate with a guard band, in order."""
        return rejections.check(name, value >= threshold) and TaskGenerator.clear(
            name, value, threshold, band, rejections
        )

    @staticmethod
    def clear(name: str, value: float, threshold: float, band: float, rejections: Rejections) -> bool:
        """Whether ``value``, which passed ``threshold``, is also clear of it by ``band`` (:func:`clear_of`; else
        counted as ``guard_band:<name>``)."""
        return rejections.check(f"guard_band:{name}", clear_of(value, threshold, band))

    def ref(self, ctx: SceneContext, shown: Shown, object_id: int, role: str) -> ObjectRef:
        obj = ctx.objects[object_id]
        box = shown.in_view(object_id).bbox_2d if len(shown.views) == 1 else None
        return ObjectRef(
            object_id=object_id, category=obj.category, role=role, visibility=shown.visibility(object_id), bbox_2d=box
        )

    def candidates(self, ctx: SceneContext, shown: Shown, rejections: Rejections) -> list[int]:
        """Object ids (keys of ``ctx.objects``, not positions in any list) of the objects that may be named in
        questions about ``shown`` (see :meth:`referable`), in the order ``shown`` lists them: draw from them with
        ``rng.permutation(len(ids))`` and look each one up with ``ctx.objects[ids[k]]``."""
        return [i for i in shown.object_ids if self.referable(ctx, shown, i, rejections)]


# ----------------------------------------------------------------------------------------------- registry

TASKS: Registry[type[TaskGenerator]] = Registry(
    "task",
    entry_point_group=ENTRY_POINT_GROUP,
    unknown_hint=(
        f"; a task of your own comes in with --tasks-module FILE.py, a recipe's plugins: [FILE.py], or a "
        f"package's {ENTRY_POINT_GROUP!r} entry point (docs/tasks.md)"
    ),
)
_T = TypeVar("_T", bound=type[TaskGenerator])


def register_task(name: str) -> Callable[[_T], _T]:
    """Class decorator: make a generator available under ``name`` (its VSI-Bench ``question_type``)."""

    def wrap(cls: _T) -> _T:
        check_name(cls.subset, f"subset of task {name!r}")  # subsets name folders of the dataset
        TASKS.add(name, cls)
        cls.name = name
        return cls

    return wrap


def column_name(task: str) -> str:
    """A task's column heading (:attr:`TaskGenerator.short_name`); unregistered names stand for themselves."""
    cls = TASKS.get(task)
    return (cls.short_name or task) if cls is not None else task


def official_types(scorer: OfficialScorer, answer_type: AnswerType) -> tuple[str, ...]:
    """The question types ``scorer`` scores as ``answer_type`` (multiple choice or numeric), in registration
    order: the registry's counterpart of the official code's hand-kept lists."""
    return tuple(n for n, cls in TASKS.items() if scorer in cls.official and cls.answer_type is answer_type)


def spatialladder_tasks() -> tuple[str, ...]:
    """SpatialLadder-26k's question types among the registered tasks, in its Table 6 order
    (:attr:`TaskGenerator.spatialladder_rank`)."""
    ranked = sorted((rank, n) for n, cls in TASKS.items() if (rank := cls.spatialladder_rank) is not None)
    return tuple(n for _, n in ranked)


def forms_of(task: str) -> tuple[str, ...]:
    """The question types scored within ``task`` (:attr:`TaskGenerator.scored_within`), in registration order."""
    return tuple(n for n, cls in TASKS.items() if cls.scored_within == task)


def get_task(name: str) -> type[TaskGenerator]:
    """The task registered as ``name``; third-party tasks load from the ``ladderdata.tasks`` entry points."""
    return TASKS.get_entry(name)
