"""`traite-qa feedback list | export | purge | migrate`, and the loop back into
evaluation: the export is a file `eval.common.load_questions` and `pytest
eval` load as they are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from eval.common import KINDS, QUESTIONS, load_questions
from traite_qa.cli import main
from traite_qa.feedback import FeedbackRecord, FeedbackStore, to_yaml
from traite_qa.feedback.model import clean_text
from traite_qa.types import answer_id_of

REPO = Path(__file__).resolve().parents[1]


def answer(question, intent="status", status="answered", language="fr", cited=(("mesure-16#1", "measure", [16], None, None),)):
    citations = [{"id": i, "kind": k, "measures": m, "footnote": f, "acronym": a, "marker": i} for i, k, m, f, a in cited]
    text = f"réponse à {question}"
    return {"answer_id": answer_id_of(question, status, text, [c["id"] for c in citations], intent, language),
            "question": question, "status": status, "answer": text, "citations": citations, "intent": intent,
            "language": language, "suggestions": [], "notes": [], "verified": True, "measures": {}}


def record(data, rating="down", reason="autre", comment=None, days_ago=0.0) -> FeedbackRecord:
    when = (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat(timespec="microseconds")
    return FeedbackRecord(data["answer_id"], data["question"], data, data["citations"], {"model": "fake"}, "fp", rating,
                          reason if rating == "down" else None, comment, when)


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'feedback.sqlite3'}"
    store = FeedbackStore(url)
    rows = [
        record(answer("Où en est la mesure 16 ?"), "down", "erreur_de_statut", "elle est réalisée", days_ago=0.3),
        record(answer("Où en est la mesure 16 ?"), "up", days_ago=0.2),
        record(answer("Que signifie OCRTEH ?", "acronym", cited=(("sigle-OCRTEH", "acronym", [], None, "OCRTEH"),)), "up",
               days_ago=0.1),
        record(answer("Qui a gagné la coupe du monde ?", "search", "no_evidence", cited=()), "up"),
        record(answer("What does note 47 say?", "footnote", language="en", cited=(("note-47", "footnote", [16], 47, None),
                                                                                  ("preambule-2", "preamble", [], None, None))),
               "down", "reponse_incomplete", "«\u00a0incomplet\u00a0»"),
    ]
    for row in rows:
        store.add(row)
    store.close()
    return url


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_is_a_table_filtered_by_rating_and_reason(url, capsys):
    code, out, _ = run(capsys, "feedback", "--database", url, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["id", "date", "(UTC)", "note"]
    assert len([line for line in lines if line[:5].strip().isdigit()]) == 5
    assert "5 retour(s)" in out and "elle est réalisée" in out
    _, down, _ = run(capsys, "feedback", "--database", url, "list", "--rating", "down")
    assert "erreur_de_statut" in down and "reponse_incomplete" in down and " up " not in down
    _, reason, _ = run(capsys, "feedback", "--database", url, "list", "--reason", "erreur_de_statut", "--json")
    [row] = [json.loads(line) for line in reason.splitlines()]
    assert row["question"] == "Où en est la mesure 16 ?" and row["comment"] == "elle est réalisée"
    assert row["answer"]["answer_id"] == row["answer_id"]


def test_bad_filters_and_urls_are_refused_with_the_fix(url, capsys, tmp_path):
    with pytest.raises(SystemExit):
        main(["feedback", "--database", url, "list", "--rating", "bof"])
    assert "invalid choice: 'bof'" in capsys.readouterr().err
    code, _, err = run(capsys, "feedback", "--database", "mysql://u@h/db", "list")
    assert code == 1 and err.startswith("traite-qa: error:") and "sqlite:///PATH or postgresql://" in err
    code, _, err = run(capsys, "feedback", "--database", url, "purge", "--days", "0")
    assert code == 1 and "TRAITE_QA_FEEDBACK_RETENTION_DAYS" in err


def test_reading_a_database_that_does_not_exist_creates_nothing(tmp_path, capsys):
    path = tmp_path / "none" / "feedback.sqlite3"
    for command in (["list"], ["export"], ["purge"]):
        assert run(capsys, "feedback", "--database", f"sqlite:///{path}", *command)[0] == 0
    assert not path.exists() and not path.parent.exists()


def test_purge_enforces_the_retention(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'fb.sqlite3'}"
    store = FeedbackStore(url)
    for days in (400, 200, 10):
        store.add(record(answer(f"question {days}"), comment=str(days), days_ago=days))
    monkeypatch.setenv("TRAITE_QA_FEEDBACK_RETENTION_DAYS", "180")
    code, out, _ = run(capsys, "feedback", "--database", url, "purge")
    assert code == 0 and "purged 2 feedback row(s)" in out and "180 days" in out
    assert [r.comment for r in store.feedback()] == ["10"]
    assert "purged 1 feedback" in run(capsys, "feedback", "--database", url, "purge", "--days", "5")[1]


def test_migrate_reports_the_schema_version(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'fb.sqlite3'}"
    assert "schema version 3 (applied [1, 2, 3])" in run(capsys, "feedback", "--database", url, "migrate")[1]
    assert "schema version 3 (up to date)" in run(capsys, "feedback", "--database", url, "migrate")[1]


# ------------------------------------------------------------ the export
def test_export_streams_in_bounded_memory(tmp_path, capsys):
    """Issue 23: 858 rows of 1 MB took 4.3 GB to export. Rows are now read and
    written as they come: the peak is a small part of what is exported."""
    import tracemalloc

    url = f"sqlite:///{tmp_path / 'fb.sqlite3'}"
    store = FeedbackStore(url)
    for i in range(200):
        data = answer(f"question {i}")
        data["answer"] = f"réponse {i} " + "x" * 8_000
        store.add(record(data, "down" if i % 3 else "up", days_ago=i / 1000))
    store.close()
    out = tmp_path / "candidates.yaml"
    tracemalloc.start()
    try:
        assert run(capsys, "feedback", "--database", url, "export", "-o", str(out))[0] == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = out.stat().st_size
    assert size > 1_600_000
    print(f"export: {size} bytes written, tracemalloc peak {peak} bytes")
    assert peak < size / 3, (peak, size)


def test_the_streamed_export_is_the_whole_table_export(url, tmp_path, capsys):
    out = tmp_path / "candidates.yaml"
    assert run(capsys, "feedback", "--database", url, "export", "-o", str(out))[0] == 0
    text = out.read_text(encoding="utf-8")
    when = text.split("feedback export`, ", 1)[1].split(")", 1)[0]
    assert text == to_yaml(FeedbackStore(url).feedback(), when=when)


def test_export_round_trips_through_the_question_loader(url, tmp_path, capsys):
    out = tmp_path / "candidates.yaml"
    code, _, err = run(capsys, "feedback", "--database", url, "export", "-o", str(out))
    assert code == 0 and "4 candidate question(s)" in err
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Candidate questions from user feedback")
    questions = {q.question: q for q in load_questions(out)}
    assert len(questions) == 4 and all(q.kind in KINDS and q.id.startswith("feedback-") for q in questions.values())
    status = questions["Où en est la mesure 16 ?"]
    assert (status.kind, status.gold_measures, status.expect, status.expect_status) == ("status", (16,), (), "answered")
    assert questions["Que signifie OCRTEH ?"].gold_acronyms == ("OCRTEH",)
    assert questions["Que signifie OCRTEH ?"].expect_status == "answered"
    english = questions["What does note 47 say?"]
    assert (english.kind, english.gold_footnotes, english.gold_sections) == ("english", (47,), ("preambule",))
    unanswerable = questions["Qui a gagné la coupe du monde ?"]
    assert (unanswerable.kind, unanswerable.has_gold, unanswerable.expect_status) == ("unanswerable", False, "no_evidence")
    raw = {e["question"]: e for e in yaml.safe_load(text)}
    entry = raw["Où en est la mesure 16 ?"]
    assert entry["feedback"]["ratings"] == {"up": 1, "down": 1} and entry["feedback"]["reasons"] == ["erreur_de_statut"]
    assert entry["feedback"]["comments"] == ["elle est réalisée"] and entry["review"].startswith("TODO")
    assert list(raw)[:2] == ["What does note 47 say?", "Où en est la mesure 16 ?"]  # rated down first, newest first
    # Curated into the set as they are: the ids do not collide with the set's.
    merged = tmp_path / "merged.yaml"
    merged.write_text(QUESTIONS.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")
    assert len(load_questions(merged)) == len(load_questions(QUESTIONS)) + 4


def test_pytest_eval_collects_the_exported_file(url, tmp_path, capsys):
    out = tmp_path / "candidates.yaml"
    run(capsys, "feedback", "--database", url, "export", "-o", str(out))
    ids = [q.id for q in load_questions(out)]
    env = {**os.environ, "TRAITE_QA_EVAL_QUESTIONS": str(out), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "eval/test_questions.py::test_question", "--collect-only", "-q",
                             "-p", "no:cacheprovider"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    collected = [line for line in result.stdout.splitlines() if "::test_question[" in line]
    assert sorted(c.split("[", 1)[1].rstrip("]") for c in collected) == sorted(ids)


@settings(max_examples=150, deadline=None)
@given(question=st.text(min_size=1, max_size=200), comment=st.one_of(st.none(), st.text(max_size=80)))
def test_any_question_survives_the_export(question, comment):
    data = answer(clean_text(question))
    cleaned = clean_text(comment) if comment is not None else None
    text = to_yaml([record(data, comment=cleaned)], when="now")
    [entry] = yaml.safe_load(text)
    assert entry["question"] == data["question"]
    assert entry["feedback"]["comments"] == ([cleaned] if cleaned else [])


def test_an_empty_export_still_loads(tmp_path):
    out = tmp_path / "empty.yaml"
    out.write_text(to_yaml([], when="now"), encoding="utf-8")
    assert load_questions(out) == []
