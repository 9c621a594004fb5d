"""Question templates and the prompts of paper B.2, read from ``templates/`` (shipped as package data).

One module renders every prompt, for dataset messages, training and evaluation alike, so that the wording
and the options layout can never differ between them.
"""

from collections.abc import Hashable
from enum import StrEnum
from functools import cache
from importlib.resources import files
from pathlib import Path
from string import Formatter
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from ladderdata.cache import regular_file_stat
from ladderdata.errors import ConfigError, validation_text

if TYPE_CHECKING:  # numpy is not imported by `ladder --help` (tests/test_startup.py)
    import numpy as np

LETTERS = "ABCDEFGH"


def resource(name: str) -> str:
    """Text of a file under ``templates/`` (e.g. ``questions.yaml``, ``recipes/spatialladder-26k.yaml``)."""
    return (files("ladderdata") / "resources" / name).read_text(encoding="utf-8")


def builtin_yaml_names(folder: str) -> list[str]:
    """Names of the YAML files in ``templates/<folder>/`` (built-in recipes)."""
    root = files("ladderdata") / "resources" / folder
    return sorted(p.name.removesuffix(".yaml") for p in root.iterdir() if p.name.endswith(".yaml"))


_M = TypeVar("_M", bound=BaseModel)

#: Limits of the YAML ladder reads (recipes, question templates): far above any real file, far below what
#: would take memory or time to parse. Aliases are refused: a few nested ones expand to billions of nodes.
MAX_YAML_BYTES = 1 << 20
MAX_YAML_DEPTH = 32
MAX_YAML_NODES = 100_000


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (the safe loader keeps the last value: a
    setting written twice would silently lose one of them)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(text: str, where: str) -> Any:
    """Parse YAML safely (a ``yaml.SafeLoader``: no Python tags) within :data:`MAX_YAML_BYTES`,
    :data:`MAX_YAML_DEPTH` nesting levels and :data:`MAX_YAML_NODES` nodes, without aliases or keys given twice
    in one mapping; anything else is a ``ConfigError`` naming ``where``. The limits are checked on the event
    stream first, in linear time."""
    if len(text) > MAX_YAML_BYTES:
        raise ConfigError(f"{where} is {len(text):,} characters; ladder reads YAML files of at most {MAX_YAML_BYTES:,}")
    if "\x00" in text:
        raise ConfigError(f"{where} is binary, not YAML text")
    depth = nodes = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise ConfigError(f"{where}: YAML aliases (*name) are not accepted; write the values out")
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if depth > MAX_YAML_DEPTH or nodes > MAX_YAML_NODES:
                raise ConfigError(
                    f"{where} nests deeper than {MAX_YAML_DEPTH} levels or holds more than {MAX_YAML_NODES:,} values"
                )
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no Python tags
    except yaml.YAMLError as e:
        raise ConfigError(f"{where} is not valid YAML: {_yaml_problem(e)}") from None


def _yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error in one line: what is wrong and where (PyYAML's own text spans several lines)."""
    problem = getattr(error, "problem", None)
    mark = getattr(error, "problem_mark", None)
    if problem is None:
        return " ".join(str(error).split())
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else str(problem)


def load_yaml_model(model: type[_M], name_or_path: str | Path, folder: str, what: str) -> _M:
    """A built-in ``templates/<folder>/<name>.yaml`` or a YAML file, validated as ``model``; errors name the source."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        text = read_text_file(path, what)
        where = str(path)
    elif str(name_or_path) in builtin_yaml_names(folder):
        text = resource(f"{folder}/{name_or_path}.yaml")
        where = f"built-in {what} {name_or_path}"
    else:
        raise ConfigError(
            f"no {what} {name_or_path!r}: not a file, and the built-in ones are {builtin_yaml_names(folder)}"
        )
    data = read_yaml(text, f"{what} {where}")
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"invalid {what} ({where}): expected a mapping of settings, found {type(data).__name__}")
    try:
        return model.model_validate(data or {})
    except ValidationError as e:
        raise ConfigError(f"invalid {what} ({where}): {validation_text(e)}") from None


def read_text_file(path: Path, what: str) -> str:
    """A UTF-8 text file ladder is given (a recipe, templates), at most :data:`MAX_YAML_BYTES`."""
    try:
        if regular_file_stat(path).st_size > MAX_YAML_BYTES:  # a FIFO would block the read forever
            raise ConfigError(f"{what} {path} is larger than {MAX_YAML_BYTES:,} bytes")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not UTF-8 text") from None
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror or e}") from None


class PromptStyle(StrEnum):
    """Which stage's instructions follow the question (paper B.2)."""

    LOCALIZATION = "localization"
    """Stage 1: find the objects, answer with JSON boxes."""
    ANSWER = "answer"
    """Stage 2: answer directly."""
    THINK = "think"
    """Stage 3: reason in <think>, answer in <answer>."""


class Prompts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str
    options_header: str
    localization: str
    answer: dict[str, str]
    think: str
    think_answer: dict[str, str]


@cache
def prompts() -> Prompts:
    return Prompts.model_validate(read_yaml(resource("prompts.yaml"), "built-in prompts.yaml"))


def user_prompt(question: str, options: list[str], answer_type: str, style: PromptStyle) -> str:
    """The user turn's text: question, options (one per line), then the stage's instructions.

    >>> print(user_prompt("Which is closer to the bed?", ["A. lamp", "B. desk"], "mcq", PromptStyle.ANSWER))
    Which is closer to the bed?
    Options:
    A. lamp
    B. desk
    Please answer with the option's letter from the given choices (e.g., A, B, etc.) directly.
    """
    p = prompts()
    lines = [question]
    if options:
        lines += [p.options_header, *options]
    if style is PromptStyle.LOCALIZATION:
        lines.append(p.localization)
    elif style is PromptStyle.ANSWER:
        lines.append(p.answer[answer_type])
    else:
        lines.append(f"{p.think} {p.think_answer[answer_type]}")
    return "\n".join(lines)


def chat_messages(prompt: str, images: int, answer: str | None = None) -> list[dict[str, JsonValue]]:
    """Chat turns in the format TRL's vision trainers read: image placeholders first, then the prompt.

    Every content block has both keys (``text`` is None for images) so the column has one Arrow type.
    """
    content: list[JsonValue] = [{"type": "image", "text": None} for _ in range(images)]
    content.append({"type": "text", "text": prompt})
    turns: list[dict[str, JsonValue]] = [
        {"role": "system", "content": [{"type": "text", "text": prompts().system}]},
        {"role": "user", "content": content},
    ]
    if answer is not None:
        turns.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
    return turns


def template_fields(text: str) -> set[str]:
    """The names of the fields a question template fills. Only plain ``{name}`` fields are accepted: a stray
    brace, a positional ``{0}`` or ``{}``, attribute or index access (``{category.__class__}``, ``{a[0]}``), a
    conversion or a format spec raise ``ValueError`` (write ``{{`` and ``}}`` for literal braces).

    >>> sorted(template_fields("Is the {object1} left of the {object2}? {{literal}}"))
    ['object1', 'object2']
    """
    names: set[str] = set()
    try:
        parsed = list(Formatter().parse(text))
    except ValueError as e:
        raise ValueError(f"malformed braces ({e}); write {{{{ and }}}} for literal braces") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ValueError(
                f"{{{field}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} is not a plain "
                "{name} field (no positions, attributes, indices, conversions or format specs)"
            )
        names.add(field)
    return names


def choice_field_names(options: int) -> set[str]:
    """The fields a multiple-choice question of ``options`` options offers its template (:func:`choice_fields`).

    >>> sorted(choice_field_names(2))
    ['choice_a', 'choice_b', 'choices', 'choices_or']
    """
    return {*(f"choice_{letter.lower()}" for letter in LETTERS[:options]), "choices", "choices_or"}


def _variants(value: Any, where: str) -> list[str]:
    """A template key's variants: a string or a non-empty list of strings, each with plain fields only."""
    variants = [value] if isinstance(value, str) else value
    if not isinstance(variants, list) or not variants or not all(isinstance(v, str) and v.strip() for v in variants):
        raise ConfigError(f"{where}: a template is a non-empty string or a list of them, not {str(value)[:60]!r}")
    for text in variants:
        try:
            template_fields(text)
        except ValueError as e:
            raise ConfigError(f"{where}: {e} in {text[:80]!r}") from None
    return variants


class QuestionTemplates:
    """Template variants per key: the built-in ``questions.yaml`` plus users' files (later files win). Every
    template is checked when read (:func:`template_fields`); ``files`` says which file each user key came from."""

    def __init__(self, extra_files: list[Path] | None = None, task_wording: dict[str, list[str]] | None = None) -> None:
        """``task_wording``: the wording plugin tasks declare (``TaskGenerator.questions``), which users' files
        override like the built-in one."""
        self.variants: dict[str, list[str]] = dict(_builtin_questions())
        for key, texts in (task_wording or {}).items():
            self.variants[key] = _variants(texts, f"task wording, template {key!r}")
        self.files: dict[str, Path] = {}
        for path in extra_files or []:
            path = Path(path)
            data = read_yaml(read_text_file(path, "question templates"), f"question templates {path}")
            if not isinstance(data, dict):
                raise ConfigError(f"{path}: expected a mapping of template key -> list of variants")
            for key, value in data.items():
                self.variants[str(key)] = _variants(value, f"{path}, template {key!r}")
                self.files[str(key)] = path

    def render(self, key: str, fields: dict[str, str], rng: "np.random.Generator | None" = None) -> str:
        """Fill variant 0 (or a variant drawn from ``rng``) of ``key`` with ``fields``."""
        if key not in self.variants:
            raise ConfigError(f"no question template {key!r}; known: {', '.join(sorted(self.variants))}")
        variants = self.variants[key]
        text = variants[int(rng.integers(len(variants)))] if rng is not None else variants[0]
        try:
            return text.format(**fields)
        except KeyError as e:
            raise ConfigError(f"template {key!r} uses field {e} that its task does not provide") from None


@cache
def _builtin_questions() -> dict[str, list[str]]:
    data = read_yaml(resource("questions.yaml"), "built-in questions.yaml")
    return {str(k): _variants(v, f"built-in questions.yaml, template {k!r}") for k, v in data.items()}


def builtin_template_keys() -> list[str]:
    """The keys of the built-in ``questions.yaml``, sorted."""
    return sorted(_builtin_questions())


def builtin_template_fields(key: str) -> set[str] | None:
    """The fields the built-in wording of ``key`` uses (what its task provides), None for a key it lacks."""
    variants = _builtin_questions().get(key)
    return set().union(*(template_fields(v) for v in variants)) if variants else None


def choice_fields(choices: list[str]) -> dict[str, str]:
    """Template fields for choices in option order: choice_a..., choices ("a, b"), choices_or ("a, b or c")."""
    fields = {f"choice_{LETTERS[i].lower()}": c for i, c in enumerate(choices)}
    fields["choices"] = ", ".join(choices)
    fields["choices_or"] = ", ".join(choices[:-1]) + " or " + choices[-1] if len(choices) > 1 else choices[0]
    return fields
