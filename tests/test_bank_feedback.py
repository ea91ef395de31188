"""Reviewed user questions (from `traite-qa feedback export`) join the bank's
train split, and only train: `python -m eval.bank from-feedback FILE`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from eval import bank

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def feedback_file(tmp_path, monkeypatch):
    monkeypatch.setattr(bank, "FEEDBACK", tmp_path / "feedback.yaml")
    bank.load_all.cache_clear()
    yield tmp_path / "feedback.yaml"
    bank.load_all.cache_clear()


def _gold_of(split: str) -> str:
    return next(q.gold_sentences[0] for q in bank.load(split) if q.kind == "fact" and q.gold_sentences)


def test_reviewed_questions_join_train_and_never_dev_or_test(feedback_file, tmp_path):
    train_gold, dev_gold = _gold_of("train"), _gold_of("dev")
    sizes = {s: len(bank.load(s)) for s in ("train", "dev", "test")}
    export = tmp_path / "export.yaml"
    export.write_text(yaml.safe_dump([
        {"id": "a1", "reviewed": True, "kind": "fact", "question": "Une question d'usager sur ce fait ?", "gold_sentences": [train_gold]},
        {"id": "a2", "reviewed": True, "kind": "fact", "question": "Une autre, sur un fait de dev ?", "gold_sentences": [dev_gold]},
        {"id": "a3", "kind": "fact", "question": "Pas encore relue ?", "gold_sentences": [train_gold]},
        {"id": "a4", "reviewed": True, "kind": "fact", "question": "Un or inventé ?", "gold_sentences": ["Cette phrase n'est pas dans le document."]},
    ], allow_unicode=True), encoding="utf-8")
    added, dropped = bank.from_feedback(export)
    assert added == 2 and dropped == {"not reviewed": 1, "gold not verbatim": 1}
    bank.load_all.cache_clear()
    train = [q for q in bank.load("train") if q.origin == "feedback"]
    assert [q.question for q in train] == ["Une question d'usager sur ce fait ?"]
    assert len(bank.load("dev")) == sizes["dev"] and len(bank.load("test")) == sizes["test"]
    assert len(bank.load("train")) == sizes["train"] + 1
    # Adding the same file again adds nothing.
    assert bank.from_feedback(export)[0] == 0


def test_the_command_says_what_it_added(tmp_path):
    export = tmp_path / "export.yaml"
    export.write_text(yaml.safe_dump([{"id": "x", "kind": "fact", "question": "Non relue ?"}]), encoding="utf-8")
    target = tmp_path / "feedback.yaml"
    out = subprocess.run([sys.executable, "-m", "eval.bank", "from-feedback", str(export)], cwd=REPO,
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "TRAITE_QA_BANK_FEEDBACK": str(target)})
    assert out.returncode == 0, out.stderr
    assert "0 reviewed questions added" in out.stdout and "not reviewed" in out.stdout
    assert target.exists() and yaml.safe_load(target.read_text(encoding="utf-8")) == []
