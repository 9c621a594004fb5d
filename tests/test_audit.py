"""``ladder audit`` and ``build-bench --debias``: a benchmark with a planted text bias (the answer follows a category
name) is caught by the audit and fixed by the pruning; ``ladder eval`` shows the blind baselines."""

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import ladderdata.bench.build as bench_mod
from fixtures.factories import scannet
from fixtures.listed import write_listed_shard
from ladderdata.audit.blind import AuditQuestion, audit_type, folds, read_questions, require_sklearn
from ladderdata.audit.report import DebiasConfig, DebiasResult, audit_questions, debias, run_audit
from ladderdata.bench.build import BenchBuildConfig, build_benchmarks
from ladderdata.cli import app
from ladderdata.errors import ConfigError
from ladderdata.eval.report import evaluate
from ladderdata.eval.scorers import BenchmarkSummary, Summary
from ladderdata.io.dataset import BenchReader

pytest.importorskip("sklearn")

BIASED = {"chair": "left", "lamp": "right"}
NEUTRAL = ("table", "sofa", "bed", "desk")
SIZES = {"chair": 85, "bed": 200, "lamp": 40, "sofa": 180}


def planted_bench(out: Path, seed: int = 0) -> Path:
    """One benchmark, ``planted``: 80 direction questions, half about a chair or a lamp whose answer the category
    gives away, half about other objects with a coin-flip answer; 40 size questions whose answer is the category's
    typical size; letters balanced."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(80):
        biased = i % 2 == 0
        querying = list(BIASED)[i // 2 % 2] if biased else NEUTRAL[i % 4]
        answer = BIASED[querying] if biased else ("left", "right")[int(rng.integers(2))]
        options = ["left", "right"] if i % 4 < 2 else ["right", "left"]
        rows.append(
            {
                "id": f"dir-{i:03d}-{'b' if biased else 'n'}",
                "question_type": "object_rel_direction_easy",
                "question": f"If I am standing by the {NEUTRAL[(i + 1) % 4]} and facing the door, is the {querying} "
                "to my left or right?",
                "options": [f"{'AB'[k]}. {o}" for k, o in enumerate(options)],
                "ground_truth": "AB"[options.index(answer)],
                "answer_type": "mcq",
            }
        )
    for i in range(40):
        category = list(SIZES)[i % 4]
        rows.append(
            {
                "id": f"size-{i:03d}",
                "question_type": "object_size_estimation",
                "question": f"What is the length of the longest dimension of the {category}, in centimeters?",
                "options": [],
                "ground_truth": str(round(SIZES[category] * float(rng.uniform(0.95, 1.05)))),
                "answer_type": "numeric",
            }
        )
    for r in rows:
        r |= {"dataset": "planted", "source": "scannet", "scene_name": "scene0001_00", "modality": "video"}
    folder = out / "planted"
    write_listed_shard(folder, rows, "planted", benchmark=True)
    return folder


def scored(summary: Summary) -> BenchmarkSummary:
    assert isinstance(summary, BenchmarkSummary), summary
    return summary


def test_folds_partition_the_questions_and_depend_only_on_the_seed() -> None:
    split = folds(23, 5, seed=3)
    tests = np.sort(np.concatenate([t for _, t in split]))
    assert np.array_equal(tests, np.arange(23))
    assert all(not set(a) & set(b) and len(a) + len(b) == 23 for a, b in split)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(split, folds(23, 5, seed=3), strict=True))


def test_audit_catches_a_planted_text_bias(tmp_path: Path) -> None:
    bench = planted_bench(tmp_path)
    result = CliRunner().invoke(app, ["audit", str(bench)])
    assert result.exit_code == 0, result.output
    report = json.loads((bench / "audit.json").read_text())
    types = {t["question_type"]: t for t in report["types"]}
    direction, size = types["object_rel_direction_easy"], types["object_size_estimation"]
    assert direction["chance"] == pytest.approx(0.5)
    assert direction["frequent"] == pytest.approx(0.5, abs=0.1)  # both words are right about as often
    assert direction["blind_model"] >= 0.7  # the planted half is given away by its category name
    assert size["chance"] is None
    assert size["blind_model"] > size["frequent"] + 0.2  # the category tells the size, the median does not
    scores = {q["id"]: q["answerability"] for q in report["questions"]}
    biased = [v for k, v in scores.items() if k.endswith("-b")]
    neutral = [v for k, v in scores.items() if k.endswith("-n")]
    assert np.mean(biased) > np.mean(neutral) + 0.2
    assert "| planted | object_rel_direction_easy | accuracy | 80 | 50.0 |" in (bench / "audit.md").read_text()


def test_debias_prunes_the_planted_bias_deterministically(tmp_path: Path) -> None:
    questions = read_questions(planted_bench(tmp_path))
    config = DebiasConfig(margin=0.1, max_removed=0.6, step=0.1)
    result = debias(questions, config)
    assert result == debias(questions, config)
    before = {t.question_type: t for t in result.before}
    after = {t.question_type: t for t in result.after}
    assert before["object_rel_direction_easy"].excess is not None and before["object_rel_direction_easy"].excess > 0.1
    excess = after["object_rel_direction_easy"].excess
    assert excess is not None and excess <= 0.1
    removed_direction = [i for i in result.removed if i.startswith("dir-")]
    assert sum(i.endswith("-b") for i in removed_direction) >= 0.8 * len(removed_direction)
    # the audit of what is left agrees with the pruning's last round
    kept = [q for q in questions if q.id not in set(result.removed)]
    again = {t.question_type: t for t in audit_questions(kept, "kept").types}
    assert again["object_rel_direction_easy"] == after["object_rel_direction_easy"]


def test_debias_respects_its_budget(tmp_path: Path) -> None:
    questions = read_questions(planted_bench(tmp_path))
    result = debias(questions, DebiasConfig(margin=0.0, max_removed=0.1, step=0.05))
    assert len([i for i in result.removed if i.startswith("dir-")]) <= 8
    assert len([i for i in result.removed if i.startswith("size-")]) <= 4


def test_eval_report_shows_blind_baselines(tmp_path: Path) -> None:
    bench = planted_bench(tmp_path)
    shard = bench / "data" / "planted" / "test-00000-of-00001.parquet"
    rows = pq.read_table(shard).to_pylist()
    predictions = tmp_path / "preds.jsonl"
    predictions.write_text("".join(json.dumps({"id": r["id"], "prediction": r["ground_truth"]}) + "\n" for r in rows))
    without_audit = evaluate(bench, predictions, tmp_path / "r1")
    blind = scored(without_audit["ladder"]["planted"]).blind["object_rel_direction_easy"]
    assert blind["chance"] == 50.0 and blind["blind_model"] is None  # no audit.json: no model, no scikit-learn
    run_audit(bench)
    with_audit = evaluate(bench, predictions, tmp_path / "r2")
    assert (scored(with_audit["ladder"]["planted"]).blind["object_rel_direction_easy"]["blind_model"] or 0) >= 70
    md = (tmp_path / "r2" / "report.md").read_text()
    assert "| Model | Scoring | Obj. Size | Rel. Dir. (easy) |" in md
    assert "| blind | chance | - | 50.0 | - | - | - |" in md  # numeric types have no chance level
    assert "| blind | text-only (k-fold) |" in md
    # rebuilt since the audit (other questions): its baselines no longer describe the benchmark and are left out
    pq.write_table(pa.Table.from_pylist(rows[1:]), shard)
    stale = evaluate(bench, predictions, tmp_path / "r3")
    assert scored(stale["ladder"]["planted"]).blind["object_rel_direction_easy"]["blind_model"] is None


def test_build_bench_debias_rebuilds_without_the_pruned_questions(
    bench_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plumbing of ``build-bench --debias``: the pruned ids leave the shards, ``debias.json`` lists them, the
    card gets the before/after table and ``audit.json`` describes what is left. (Synthetic validation scans give
    too few questions per type for the model, so the pruning is stubbed to remove two known ids.)"""
    chosen: list[str] = []

    def two_ids(questions: list[AuditQuestion], config: DebiasConfig) -> DebiasResult:
        result = debias(questions, config)
        chosen.extend(sorted(q.id for q in questions)[:2])
        return result.model_copy(update={"removed": chosen})

    monkeypatch.setattr(bench_mod, "debias", two_ids)
    out = tmp_path / "bench"
    build_benchmarks(
        BenchBuildConfig(
            source=scannet(bench_root), out=out, benchmarks=["spbench-si"], frame_stride=1, debias=DebiasConfig()
        )
    )
    folder = out / "spbench-si"
    ids = {r.id for r in BenchReader(folder).rows()}
    assert len(chosen) == 2 and not ids & set(chosen)
    assert json.loads((folder / "debias.json").read_text())["removed"] == chosen
    assert "## Blind-bias pruning (`--debias`)" in (folder / "README.md").read_text()
    audited = {q["id"] for q in json.loads((folder / "audit.json").read_text())["questions"]}
    assert audited == ids
    counters = json.loads((folder / "stats.json").read_text())["stages"]["render"]["counters"]
    assert counters["dropped by id (debias)"] == 2
    # rebuilt without --debias: every question is back and the stale pruning record is gone
    build_benchmarks(BenchBuildConfig(source=scannet(bench_root), out=out, benchmarks=["spbench-si"], frame_stride=1))
    assert set(chosen) <= {r.id for r in BenchReader(folder).rows()} and not (folder / "debias.json").exists()


def test_without_scikit_learn_the_model_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)  # import fails as if scikit-learn were absent
    with pytest.raises(ConfigError, match=r"need scikit-learn \(the audit extra\): pip install .*\[audit\]"):
        require_sklearn()


def test_distractors_built_to_avoid_the_answers_words_are_caught() -> None:
    """The single-image direction rule (distractors share no direction word with the answer) lets the answer be the
    one option sharing no word with the others: the audit's model sees how many options share a word with each."""
    directions = ("left", "right", "front", "back", "left-front", "left-back", "right-front", "right-back")
    rng = np.random.default_rng(1)
    questions = []
    for i in range(60):
        answer = directions[int(rng.integers(len(directions)))]
        pool = [d for d in directions if not set(d.split("-")) & set(answer.split("-"))]
        options = [answer, *(pool[int(k)] for k in rng.choice(len(pool), size=3, replace=False))]
        order = rng.permutation(4)
        questions.append(
            AuditQuestion(
                id=f"q{i:02d}",
                benchmark="b",
                question_type="object_rel_direction",
                answer_type="mcq",
                question=f"Where is the object {i} relative to the other?",
                options=tuple(options[int(k)] for k in order),
                truth=answer,
                scene="s",
            )
        )
    audit, _ = audit_type(questions, k=5, seed=0)
    assert audit.chance == pytest.approx(0.25) and audit.blind_model is not None and audit.blind_model >= 0.8
