"""Blind baselines: how well a benchmark's questions can be answered without looking at the images.

Per benchmark and question type: chance (MCQ: the mean of 1 / options), the most frequent answer (MCQ: the
option whose text was most often right in the other folds) or the median answer (numeric), and a text-only model
trained k-fold on the questions themselves (VSI-Bench-Debiased's "test-set stress test", arXiv 2511.04655):
features are the question's words, the option texts, their letters, every (question word, option word) pair and
how many other options share a word with the option (binary, the vocabulary of the training folds); MCQ: a
logistic regression scores each (question, option) pair and answers the option it scores highest; numeric: a
ridge regression predicts the log of the answer from the question's words and word pairs. Every question gets the
score the model trained without its fold gives it: the probability it puts on the right option (MCQ) or the mean
relative accuracy of its guess (numeric), its *blind-answerability*.

scikit-learn is the ``audit`` extra: ``pip install 'ladder[audit]'``.
"""

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from ladderdata.errors import ConfigError, install_command
from ladderdata.io.dataset import BenchRow, StoredRow, open_builds
from ladderdata.scoring import mean_relative_accuracy
from ladderdata.seeding import rng_for
from ladderdata.typed import IntArray

_WORD = re.compile(r"[a-z0-9]+")
_LETTER = re.compile(r"^\s*([A-Z])[.)]\s*")


@dataclass(frozen=True)
class AuditQuestion:
    """What a blind model may read of one question, and its answer."""

    id: str
    benchmark: str
    question_type: str
    answer_type: str
    question: str
    options: tuple[str, ...]
    """Option texts without their letters (empty for numeric questions)."""
    truth: str
    """The right option's text (MCQ) or the number as text."""
    scene: str

    @property
    def truth_index(self) -> int:
        return self.options.index(self.truth)


def option_text(option: str) -> str:
    """``"B. left"`` -> ``"left"``."""
    return _LETTER.sub("", option, count=1).strip()


def audit_question(row: StoredRow) -> AuditQuestion | None:
    """The audited view of a benchmark or dataset row, under its benchmark (a dataset row: its subset); None for
    answers neither MCQ nor numeric (boxes)."""
    options = tuple(option_text(o) for o in row.options)
    truth = row.answer.strip()
    if row.answer_type == "mcq":
        index = ord(truth.upper()[:1] or "?") - ord("A")
        if not 0 <= index < len(options):
            raise ConfigError(f"question {row.id!r}: answer {truth!r} is not the letter of one of its options")
        truth = options[index]
    elif row.answer_type == "numeric":
        try:
            if not math.isfinite(float(truth)):
                raise ValueError(truth)
        except ValueError:
            raise ConfigError(f"question {row.id!r}: numeric answer {truth!r} is not a finite number") from None
    else:
        return None
    return AuditQuestion(
        id=row.id,
        benchmark=row.benchmark if isinstance(row, BenchRow) else row.subset,
        question_type=row.task,
        answer_type=row.answer_type.value,
        question=row.question,
        options=options,
        truth=truth,
        scene=row.scene_id,
    )


def read_questions(folder: Path) -> list[AuditQuestion]:
    """Questions of every build under ``folder`` (a benchmark, a folder of benchmarks or a dataset), in shard
    order; localization (boxes) rows are left out."""
    out = [q for reader in open_builds(folder) for row in reader.rows() if (q := audit_question(row)) is not None]
    if not out:
        raise ConfigError(f"no multiple-choice or numeric questions under {folder}")
    return out


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def option_features(q: AuditQuestion, j: int) -> list[str]:
    """Feature names of (question, option ``j``): question words, option words, the option's text and
    letter, each (question word, option word) pair (a category name that predicts a direction), and how many
    other options share a word with it (distractors built to differ from the answer give it away)."""
    qw = sorted(set(words(q.question)))
    ow = sorted(set(words(q.options[j])))
    shared = sum(1 for k, other in enumerate(q.options) if k != j and set(words(other)) & set(ow))
    return [
        f"letter={chr(65 + j)}",
        f"option={q.options[j]}",
        f"options_sharing_a_word={shared}",
        *(f"o={w}" for w in ow),
        *(f"q={w}|o={o}" for w in qw for o in ow),
    ]


def question_features(q: AuditQuestion) -> list[str]:
    qw = words(q.question)
    return [*(f"q={w}" for w in set(qw)), *(f"q2={a}_{b}" for a, b in pairwise(qw))]


def require_sklearn() -> Any:
    """scikit-learn's pieces the text-only model uses; a ``ConfigError`` saying how to install it when absent."""
    try:
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression, Ridge
    except ImportError:
        raise ConfigError(
            f"ladder audit and build-bench --debias need scikit-learn (the audit extra): {install_command('audit')}"
        ) from None
    return DictVectorizer, LogisticRegression, Ridge


def folds(n: int, k: int, seed: int) -> list[tuple[IntArray, IntArray]]:
    """(train, test) index arrays of a seeded k-fold split of ``n`` questions (k at most n)."""
    order = rng_for(seed, "audit", "folds").permutation(n)
    parts = np.array_split(order, min(k, n))
    return [(np.sort(np.concatenate(parts[:i] + parts[i + 1 :])), np.sort(test)) for i, test in enumerate(parts)]


@dataclass(frozen=True)
class BlindAnswers:
    """Out-of-fold answers of one question type's questions (in the order given)."""

    predictions: list[str]
    """The model's answer (an option text, or a number as text)."""
    scores: list[float]
    """MCQ: 1 if the answer is right; numeric: its mean relative accuracy."""
    answerability: list[float]
    """MCQ: the probability the model gives the right option; numeric: ``scores``."""


def _vectorised(features: list[list[str]], train: IntArray, test: IntArray) -> tuple[Any, Any]:
    """(train, test) sparse matrices of named binary features, the vocabulary taken from the training rows."""
    DictVectorizer, _, _ = require_sklearn()
    vectoriser = DictVectorizer()
    X_train = vectoriser.fit_transform({f: 1.0 for f in features[int(i)]} for i in train)
    X_test = vectoriser.transform({f: 1.0 for f in features[int(i)]} for i in test)
    return X_train, X_test


def mcq_model(questions: Sequence[AuditQuestion], k: int, seed: int) -> BlindAnswers:
    _, LogisticRegression, _ = require_sklearn()
    pairs = [(i, j) for i, q in enumerate(questions) for j in range(len(q.options))]
    features = [option_features(questions[i], j) for i, j in pairs]
    y = np.array([int(questions[i].truth_index == j) for i, j in pairs])
    owner = np.array([i for i, _ in pairs])
    logits = np.zeros(len(pairs))
    for train, test in folds(len(questions), k, seed):
        rows_train, rows_test = np.flatnonzero(np.isin(owner, train)), np.flatnonzero(np.isin(owner, test))
        X_train, X_test = _vectorised(features, rows_train, rows_test)
        model = LogisticRegression(C=1.0, max_iter=1000)
        model.fit(X_train, y[rows_train])
        logits[rows_test] = model.decision_function(X_test)
    predictions, scores, answerability = [], [], []
    for i, q in enumerate(questions):
        mine = logits[owner == i]
        p = np.exp(mine - mine.max())
        p /= p.sum()
        best = int(np.argmax(mine))
        predictions.append(q.options[best])
        scores.append(float(best == q.truth_index))
        answerability.append(float(p[q.truth_index]))
    return BlindAnswers(predictions, scores, answerability)


def numeric_model(questions: Sequence[AuditQuestion], k: int, seed: int) -> BlindAnswers:
    _, _, Ridge = require_sklearn()
    features = [question_features(q) for q in questions]
    y = np.log(np.maximum([float(q.truth) for q in questions], 1e-3))
    guess = np.zeros(len(questions))
    for train, test in folds(len(questions), k, seed):
        X_train, X_test = _vectorised(features, train, test)
        model = Ridge(alpha=1.0)
        model.fit(X_train, y[train])
        guess[test] = np.exp(model.predict(X_test))
    scores = [mean_relative_accuracy(float(g), float(q.truth)) for g, q in zip(guess, questions, strict=True)]
    return BlindAnswers([f"{g:.3g}" for g in guess], scores, scores)


def blind_model(questions: Sequence[AuditQuestion], k: int, seed: int) -> BlindAnswers:
    """The k-fold text-only model's answers to questions of one type (all MCQ or all numeric)."""
    if questions[0].answer_type == "mcq":
        return mcq_model(questions, k, seed)
    return numeric_model(questions, k, seed)


def chance(questions: Sequence[AuditQuestion]) -> float | None:
    """MCQ: expected accuracy of a uniform guess; None for numeric answers (no chance level)."""
    if questions[0].answer_type != "mcq":
        return None
    return float(np.mean([1.0 / len(q.options) for q in questions]))


def frequent_answer(questions: Sequence[AuditQuestion], k: int, seed: int) -> float:
    """Out-of-fold score of answering what was most often right in the other folds: MCQ, the offered option whose
    text was right most often (ties: the earlier option); numeric, the median answer (by MRA)."""
    if len(questions) < 2:
        return chance(questions) or 0.0
    total = 0.0
    for train, test in folds(len(questions), k, seed):
        if questions[0].answer_type == "mcq":
            counts = Counter(questions[int(i)].truth for i in train)
            for i in test:
                q = questions[int(i)]
                pick = max(range(len(q.options)), key=lambda j: (counts[q.options[j]], -j))
                total += float(pick == q.truth_index)
        else:
            median = float(np.median([float(questions[int(i)].truth) for i in train]))
            total += sum(mean_relative_accuracy(median, float(questions[int(i)].truth)) for i in test)
    return total / len(questions)


class TypeAudit(BaseModel):
    """Blind baselines of one question type of one benchmark (accuracy for MCQ, MRA for numeric; 0-1)."""

    benchmark: str
    question_type: str
    answer_type: str
    metric: str
    questions: int
    chance: float | None
    frequent: float
    """Most frequent answer (MCQ) or median answer (numeric), out of fold."""
    blind_model: float | None
    """The k-fold text-only model; None below ``MIN_MODEL_QUESTIONS`` questions."""

    @property
    def floor(self) -> float:
        """What answering without any reading of the question gets: chance (MCQ) or the median answer (numeric)."""
        return self.chance if self.chance is not None else self.frequent

    @property
    def excess(self) -> float | None:
        """How far the text-only model beats :attr:`floor` (percentage points / 100)."""
        return None if self.blind_model is None else self.blind_model - self.floor


class QuestionBlindness(BaseModel):
    id: str
    benchmark: str
    question_type: str
    blind_prediction: str | None
    blind_score: float | None
    """Accuracy (0/1) or MRA of the text-only model's out-of-fold answer."""
    answerability: float | None
    """Probability the text-only model gives the right option (MCQ), or ``blind_score`` (numeric)."""


#: Fewer questions of a type than this: no text-only model (k-fold on a handful of questions means nothing).
MIN_MODEL_QUESTIONS = 10


def audit_type(
    questions: Sequence[AuditQuestion], k: int, seed: int, with_model: bool = True
) -> tuple[TypeAudit, list[QuestionBlindness]]:
    """Baselines of one (benchmark, question type) group and each question's blind-answerability; without the
    model (``with_model`` False: no scikit-learn needed) only chance and the most frequent / median answer."""
    first = questions[0]
    answers = blind_model(questions, k, seed) if with_model and len(questions) >= MIN_MODEL_QUESTIONS else None
    audit = TypeAudit(
        benchmark=first.benchmark,
        question_type=first.question_type,
        answer_type=first.answer_type,
        metric="accuracy" if first.answer_type == "mcq" else "MRA",
        questions=len(questions),
        chance=chance(questions),
        frequent=frequent_answer(questions, k, seed),
        blind_model=None if answers is None else float(np.mean(answers.scores)),
    )
    per_question = [
        QuestionBlindness(
            id=q.id,
            benchmark=q.benchmark,
            question_type=q.question_type,
            blind_prediction=None if answers is None else answers.predictions[i],
            blind_score=None if answers is None else answers.scores[i],
            answerability=None if answers is None else answers.answerability[i],
        )
        for i, q in enumerate(questions)
    ]
    return audit, per_question


def by_type(questions: Sequence[AuditQuestion]) -> dict[tuple[str, str], list[AuditQuestion]]:
    """(benchmark, question type) -> its questions sorted by id (results do not depend on file order)."""
    groups: dict[tuple[str, str], list[AuditQuestion]] = defaultdict(list)
    for q in questions:
        groups[(q.benchmark, q.question_type)].append(q)
    return {key: sorted(groups[key], key=lambda q: q.id) for key in sorted(groups)}
