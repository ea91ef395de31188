"""`pytest eval`, the question bank (eval/bank/questions.yaml plus the earlier
blind sets): dev and test splits, scored as a user would judge the answer
(eval/blind.py's scorer), and the rewording check on the curated questions.
Test is read only as aggregates. Thresholds come from `python -m eval.arith
write`: the worst arithmetic minus a margin."""

from __future__ import annotations

import json

import pytest
import yaml

from eval import bank
from eval.common import EVAL_DIR, THRESHOLDS

from .conftest import STATE

SPLITS = ("dev", "test")


@pytest.fixture(scope="session")
def bank_results(assistant):
    scores = {split: bank.run(assistant, bank.load(split)) for split in SPLITS}
    stats = {split: bank.aggregate(s) for split, s in scores.items()}
    lines = ["## Question bank (eval/bank), per split", ""]
    for split in SPLITS:
        lines += [bank.table(stats[split], f"{split} ({len(scores[split])} questions)"), ""]
    (EVAL_DIR / "report-bank.md").write_text("\n".join(lines), encoding="utf-8")
    (EVAL_DIR / "out").mkdir(exist_ok=True)
    (EVAL_DIR / "out" / "bank.json").write_text(json.dumps(stats, indent=1), encoding="utf-8")
    STATE["blind"] = "\n".join(lines)
    return {"scores": scores, "stats": stats}


@pytest.fixture(scope="session")
def rewording(assistant):
    kept = bank.rewording_kept(assistant)
    (EVAL_DIR / "out").mkdir(exist_ok=True)
    (EVAL_DIR / "out" / "rewording.json").write_text(json.dumps(kept, indent=1), encoding="utf-8")
    return kept


def test_the_bank_is_large_blind_and_split_by_fact():
    qs = bank.load_all()
    assert len([q for q in qs if q.origin == "bank"]) >= 2000
    assert len([q for q in qs if q.split == "test"]) >= 400
    facts = {}
    for q in qs:  # a fact (its first gold sentence) lives in one split only
        for sid in bank.doc_sentence_ids(q.gold_sentences[:1]):
            facts.setdefault(sid, set()).add(q.split)
    assert all(len(splits) == 1 for splits in facts.values())
    kinds = {q.kind for q in qs if q.origin == "bank"}
    assert set(bank.KINDS) <= kinds, kinds


def test_no_bank_answer_breaks_the_guarantees(bank_results):
    broken = [(s.question.id, s.score.problems) for split in SPLITS for s in bank_results["scores"][split]
              if s.score.problems]
    assert not broken, broken[:5]


def _limits():
    return (yaml.safe_load(THRESHOLDS.read_text(encoding="utf-8")) or {}).get("bank", {})


LIMITS = [(split, metric, value) for split, metrics in _limits().items() for metric, value in metrics.items()]
MAXIMUMS = ("answerable_refused", "wrong_status", "wrong_lead")


@pytest.mark.parametrize("split, metric, limit", LIMITS, ids=[f"{s}-{m}" for s, m, _ in LIMITS])
def test_bank_threshold(bank_results, split, metric, limit):
    group, _, key = metric.rpartition(".")
    value = bank_results["stats"][split][group][key]
    if key in MAXIMUMS:
        assert value <= limit, f"{split} {metric} = {value} > {limit}"
    else:
        assert value >= limit, f"{split} {metric} = {value:.3f} < {limit}"


REWORDING_LIMITS = (yaml.safe_load(THRESHOLDS.read_text(encoding="utf-8")) or {}).get("rewording", {})


@pytest.mark.parametrize("name, limit", sorted(REWORDING_LIMITS.items()))
def test_rewording_keeps_the_curated_answers(rewording, name, limit):
    assert rewording[name] >= limit, f"{name}: {rewording[name]:.3f} of the curated answers kept < {limit}"
