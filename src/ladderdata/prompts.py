"""Question templates and the prompts of paper B.2, read from ``templates/`` (shipped as package data).

One module renders every prompt, for dataset messages, training and evaluation alike, so that the wording
and the options layout can never differ between them.
"""

from enum import StrEnum
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from ladderdata.errors import ConfigError

LETTERS = "ABCDEFGH"


def resource(name: str) -> str:
    """Text of a file under ``templates/`` (e.g. ``questions.yaml``, ``recipes/spatialladder-26k.yaml``)."""
    return (files("ladderdata") / "resources" / name).read_text(encoding="utf-8")


def builtin_yaml_names(folder: str) -> list[str]:
    """Names of the YAML files in ``templates/<folder>/`` (built-in recipes)."""
    root = files("ladderdata") / "resources" / folder
    return sorted(p.name.removesuffix(".yaml") for p in root.iterdir() if p.name.endswith(".yaml"))


_M = TypeVar("_M", bound=BaseModel)


def load_yaml_model(model: type[_M], name_or_path: str | Path, folder: str, what: str) -> _M:
    """A built-in ``templates/<folder>/<name>.yaml`` or a YAML file, validated as ``model``; errors name the source."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot read {what} {path}: {e}") from None
        where = str(path)
    elif str(name_or_path) in builtin_yaml_names(folder):
        text = resource(f"{folder}/{name_or_path}.yaml")
        where = f"built-in {what} {name_or_path}"
    else:
        raise ConfigError(
            f"no {what} {name_or_path!r}: not a file, and the built-in ones are {builtin_yaml_names(folder)}"
        )
    try:
        return model.model_validate(yaml.safe_load(text) or {})
    except (ValidationError, yaml.YAMLError) as e:
        raise ConfigError(f"invalid {what} ({where}): {e}") from None


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
    return Prompts.model_validate(yaml.safe_load(resource("prompts.yaml")))


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


def chat_messages(prompt: str, images: int, answer: str | None = None) -> list[dict[str, Any]]:
    """Chat turns in the format TRL's vision trainers read: image placeholders first, then the prompt.

    Every content block has both keys (``text`` is None for images) so the column has one Arrow type.
    """
    content = [{"type": "image", "text": None} for _ in range(images)]
    content.append({"type": "text", "text": prompt})
    turns: list[dict[str, Any]] = [
        {"role": "system", "content": [{"type": "text", "text": prompts().system}]},
        {"role": "user", "content": content},
    ]
    if answer is not None:
        turns.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
    return turns


class QuestionTemplates:
    """Template variants per key: the built-in ``questions.yaml`` plus users' files (later files win)."""

    def __init__(self, extra_files: list[Path] | None = None) -> None:
        self.variants: dict[str, list[str]] = dict(_builtin_questions())
        for path in extra_files or []:
            try:
                data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as e:
                raise ConfigError(f"cannot read question templates {path}: {e}") from None
            if not isinstance(data, dict):
                raise ConfigError(f"{path}: expected a mapping of template key -> list of variants")
            for key, value in data.items():
                self.variants[str(key)] = [value] if isinstance(value, str) else [str(v) for v in value]

    def render(self, key: str, fields: dict[str, str], rng: np.random.Generator | None = None) -> str:
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
    data = yaml.safe_load(resource("questions.yaml"))
    return {str(k): [v] if isinstance(v, str) else list(v) for k, v in data.items()}


def choice_fields(choices: list[str]) -> dict[str, str]:
    """Template fields for choices in option order: choice_a..., choices ("a, b"), choices_or ("a, b or c")."""
    fields = {f"choice_{LETTERS[i].lower()}": c for i, c in enumerate(choices)}
    fields["choices"] = ", ".join(choices)
    fields["choices_or"] = ", ".join(choices[:-1]) + " or " + choices[-1] if len(choices) > 1 else choices[0]
    return fields
