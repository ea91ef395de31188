"""The feedback store, one suite run against SQLite and against a real
PostgreSQL the session starts itself: migrations (from empty, from the
previous version, concurrent, a newer schema), every stored field, filters,
the summary, retention, 50 concurrent writers, and an unreachable or locked
database."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, inspect, text

from traite_qa.errors import ConfigError, FeedbackStoreError
from traite_qa.feedback import SCHEMA_VERSION, FeedbackRecord, FeedbackStore
from traite_qa.feedback.migrations import MIGRATIONS
from traite_qa.types import answer_id_of

pytestmark = pytest.mark.postgres


def make_answer(question: str = "Où en est la mesure 16 ?", text_: str = "La mesure 16 est Non réalisée. [Mesure 16]") -> dict:
    citations = [{"id": "mesure-16#1", "kind": "measure", "measures": [16], "footnote": None, "acronym": None,
                  "marker": "Mesure 16", "quotes": ["…"]},
                 {"id": "note-47", "kind": "footnote", "measures": [16], "footnote": 47, "acronym": None,
                  "marker": "Note 47", "quotes": []}]
    answer_id = answer_id_of(question, "answered", text_, [c["id"] for c in citations], "status", "fr")
    return {"answer_id": answer_id, "question": question, "status": "answered", "answer": text_, "citations": citations,
            "intent": "status", "language": "fr", "suggestions": [], "notes": [], "verified": True,
            "measures": {"16": "Non réalisée"}}


def make_record(rating="down", reason="erreur_de_statut", comment="elle est réalisée", created_at=None, **answer) -> FeedbackRecord:
    data = make_answer(**answer)
    extra = {"created_at": created_at} if created_at else {}
    return FeedbackRecord(
        answer_id=data["answer_id"], question=data["question"], answer=data,
        citations=[{k: c[k] for k in ("id", "kind", "measures", "footnote", "acronym", "marker")} for c in data["citations"]],
        settings={"model": "fake", "model_fingerprint": "fp-1", "tuning": {"rrf_k": 20}}, model_fingerprint="fp-1",
        rating=rating, reason=reason if rating == "down" else None, comment=comment, **extra,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'feedback.sqlite3'}"
    return request.getfixturevalue("pg").create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def store(url):
    store = FeedbackStore(url, timeout=5.0)
    yield store
    store.close()


def columns(url: str, table: str) -> set[str]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return {c["name"] for c in inspect(conn).get_columns(table)}
    finally:
        engine.dispose()


def raw(url: str, sql: str, **params):
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return result.all() if result.returns_rows else None
    finally:
        engine.dispose()


# ---------------------------------------------------------------- schema
def test_migrates_an_empty_database_to_the_latest_version(store, url):
    assert store.schema_version() == 0
    assert store.migrate() == [n for n, _, _ in MIGRATIONS] == [1, 2, 3]
    assert store.schema_version() == SCHEMA_VERSION == 3
    assert store.migrate() == []  # idempotent
    assert {"answer_id", "question", "answer_json", "citations", "settings_json", "model_fingerprint", "rating", "reason",
            "comment", "created_at", "edit_key", "updated_at"} <= columns(url, "feedback")
    assert [row[0] for row in raw(url, "SELECT version FROM schema_version ORDER BY version")] == [1, 2, 3]


def test_upgrades_from_the_previous_version_keeping_its_rows(url):
    old = FeedbackStore(url)
    assert old.migrate(target=1) == [1]
    assert "question_log" not in _tables(url)
    # A row written by the previous version, with its columns only.
    raw(url, "INSERT INTO feedback (answer_id, question, answer_json, citations, settings_json, model_fingerprint, rating, "
             "reason, comment, created_at) VALUES ('ans-00000000000000000001', 'ancienne question', '{}', '[]', '{}', NULL, "
             "'up', NULL, NULL, :at)", at=datetime.now(timezone.utc).isoformat())
    old.close()
    store = FeedbackStore(url)
    new_id = store.add(make_record())  # the first write migrates
    assert store.schema_version() == 3
    assert "question_log" in _tables(url)
    rows = store.feedback()
    assert [r.question for r in rows] == ["Où en est la mesure 16 ?", "ancienne question"]
    assert rows[0].id == new_id
    store.close()


def _tables(url: str) -> set[str]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_concurrent_first_writes_apply_each_migration_once(url):
    stores = [FeedbackStore(url) for _ in range(8)]
    applied, errors = [], []
    barrier = threading.Barrier(len(stores))

    def first_write(store):
        try:
            barrier.wait()
            applied.extend(store.migrate())
            store.add(make_record())
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=first_write, args=(s,)) for s in stores]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors, errors
    assert sorted(applied) == [1, 2, 3]
    assert len(stores[0].feedback()) == 8
    for store in stores:
        store.close()


def test_a_schema_newer_than_the_code_is_refused(store, url):
    store.migrate()
    raw(url, "INSERT INTO schema_version (version, description, applied_at) VALUES (99, 'future', 'x')")
    fresh = FeedbackStore(url)
    with pytest.raises(FeedbackStoreError, match="schema version 99.*upgrade traite-qa"):
        fresh.add(make_record())
    fresh.close()


# ---------------------------------------------------------------- records
def test_every_field_round_trips(store):
    record = make_record(comment="très\tbien\nmais… 🙂")
    record_id = store.add(record)
    [back] = store.feedback()
    assert back.id == record_id
    assert back == FeedbackRecord(**{**record.__dict__, "id": record_id})


def test_text_a_database_would_refuse_is_cleaned_not_lost(store):
    nasty = "mesure\x00 16 \ud800 \x1b[31m ?"
    record = make_record(comment="nul\x00 et \udc80", question=nasty)
    store.add(FeedbackRecord(**{**record.__dict__, "answer": {**record.answer, "extra": "\x00\ud800"}}))
    [back] = store.feedback()
    # NUL and ESC dropped, the lone surrogate replaced: the rest is kept.
    assert back.question == "mesure 16 ? [31m ?"
    assert back.comment == "nul et ?"
    assert back.answer["answer_id"] == record.answer_id


def test_filters_and_order(store):
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i, (rating, reason) in enumerate([("up", None), ("down", "autre"), ("down", "mauvaise_mesure"), ("down", "autre")]):
        store.add(make_record(rating, reason, f"c{i}", created_at=(t0 + timedelta(minutes=i)).isoformat(timespec="microseconds")))
    assert [r.comment for r in store.feedback()] == ["c3", "c2", "c1", "c0"]  # newest first
    assert [r.comment for r in store.feedback(rating="up")] == ["c0"]
    assert [r.comment for r in store.feedback(reason="autre")] == ["c3", "c1"]
    assert [r.comment for r in store.feedback(rating="down", limit=2)] == ["c3", "c2"]
    with pytest.raises(ConfigError, match="use 'up' or 'down'"):
        store.feedback(rating="bof")
    summary = store.summary(latest=2)
    assert summary["total"] == 4 and summary["ratings"] == {"up": 1, "down": 3}
    assert summary["reasons"]["autre"] == 2 and summary["reasons"]["mauvaise_mesure"] == 1 and summary["reasons"]["none"] == 0
    assert [d["comment"] for d in summary["latest_down"]] == ["c3", "c2"]
    assert summary["latest_down"][0]["answer"].startswith("La mesure 16")


def test_purge_deletes_only_what_is_older_than_the_retention(store):
    now = datetime.now(timezone.utc)
    for days, comment in ((400, "old"), (31, "month"), (1, "new")):
        when = (now - timedelta(days=days)).isoformat(timespec="microseconds")
        store.add(make_record(comment=comment, created_at=when))
        store.log(make_record(rating=None, comment=None, created_at=when))
    assert store.purge(30) == {"feedback": 2, "questions": 2}
    assert [r.comment for r in store.feedback()] == ["new"]
    assert len(store.logged()) == 1
    assert store.purge(30) == {"feedback": 0, "questions": 0}
    with pytest.raises(ConfigError, match="> 0"):
        store.purge(0)


def test_nothing_about_the_sender_has_a_column(store, url):
    store.migrate()
    for table in ("feedback", "question_log"):
        names = " ".join(columns(url, table)).lower()
        for word in ("ip", "addr", "agent", "host", "session", "user", "cookie"):
            assert not any(part == word or part.startswith(word) for part in names.replace("_", " ").split()), (table, names)


# -------------------------------------------------------------- reliability
def test_fifty_concurrent_writers_lose_nothing(url):
    """50 writers, each with its own store (its own connections, as 50 processes
    would have), 10 ratings each, all at once."""
    writers, per_writer = 50, 10
    errors = []
    barrier = threading.Barrier(writers)
    FeedbackStore(url).migrate()

    def write(n: int):
        store = FeedbackStore(url, timeout=30.0)
        try:
            barrier.wait()
            for i in range(per_writer):
                store.add(make_record(comment=f"w{n}-{i}"))
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(err))
        finally:
            store.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    [t.start() for t in threads]
    [t.join(timeout=120) for t in threads]
    assert not errors, errors[:3]
    check = FeedbackStore(url)
    comments = [r.comment for r in check.feedback()]
    check.close()
    assert len(comments) == writers * per_writer
    assert set(comments) == {f"w{n}-{i}" for n in range(writers) for i in range(per_writer)}


def test_an_unreachable_database_is_a_store_error_naming_the_fix(pg):
    from fakes import free_port

    store = FeedbackStore(f"postgresql://tqa:s3cret@127.0.0.1:{free_port()}/nothing", timeout=2.0)
    started = time.monotonic()
    with pytest.raises(FeedbackStoreError) as caught:
        store.add(make_record())
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert "s3cret" not in message and "***" in message
    assert "nothing was saved" in message and "TRAITE_QA_DATABASE_URL" in message


def test_an_unwritable_sqlite_path_is_a_store_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    store = FeedbackStore(f"sqlite:///{blocker / 'feedback.sqlite3'}")
    with pytest.raises(FeedbackStoreError, match="could not create the feedback database.*TRAITE_QA_DATABASE_URL"):
        store.add(make_record())


def test_a_locked_database_fails_within_the_timeout_then_recovers(url):
    store = FeedbackStore(url, timeout=0.5)
    store.migrate()
    holder, release = _hold_lock(url)
    try:
        started = time.monotonic()
        with pytest.raises(FeedbackStoreError, match="unavailable"):
            store.add(make_record())
        assert time.monotonic() - started < 4
    finally:
        release()
    store.add(make_record(comment="after"))
    assert [r.comment for r in store.feedback()] == ["after"]
    store.close()


def _hold_lock(url: str):
    """Another client holding the write lock: SQLite's exclusive lock, or PostgreSQL's table lock."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        return conn, lambda: (conn.execute("ROLLBACK"), conn.close())
    import psycopg

    conn = psycopg.connect(url)
    conn.execute("LOCK TABLE feedback IN ACCESS EXCLUSIVE MODE")
    return conn, lambda: (conn.rollback(), conn.close())


# ------------------------------------------------------------ SQLite only
def test_sqlite_file_is_created_on_the_first_write_only_private_and_in_wal_mode(tmp_path):
    path = tmp_path / "data" / "feedback.sqlite3"
    store = FeedbackStore(f"sqlite:///{path}")
    assert store.feedback() == [] and store.summary()["total"] == 0 and store.purge(30) == {"feedback": 0, "questions": 0}
    assert store.schema_version() == 0 and store.logged() == []
    assert not path.exists() and not path.parent.exists()
    store.add(make_record())
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    store.close()


def test_the_libpq_spelling_of_postgresql_is_understood(pg):
    store = FeedbackStore(pg.url().replace("postgresql://", "postgres://"))
    assert store.backend == "postgresql" and store.schema_version() >= 0
    store.close()


@pytest.mark.parametrize("bad", ["sqlite://", "sqlite:///:memory:", "mysql://x/y", "not a url"])
def test_unusable_urls_are_config_errors(bad):
    with pytest.raises(ConfigError, match="TRAITE_QA_DATABASE_URL"):
        FeedbackStore(bad)


def test_settings_name_the_database_and_refuse_other_schemes(monkeypatch, tmp_path):
    from traite_qa import Settings

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert Settings().feedback_database == f"sqlite:///{tmp_path / 'traite-qa' / 'feedback.sqlite3'}"
    env = {"TRAITE_QA_DATABASE_URL": "postgresql://u@h/db", "TRAITE_QA_LOG_QUESTIONS": "1", "TRAITE_QA_FEEDBACK_RETENTION_DAYS": "7"}
    settings = Settings.from_env(env)
    assert (settings.feedback_database, settings.log_questions, settings.feedback_retention_days) == ("postgresql://u@h/db", True, 7)
    assert Settings.from_env({"TRAITE_QA_LOG_QUESTIONS": "0"}).log_questions is False
    with pytest.raises(ConfigError, match="TRAITE_QA_LOG_QUESTIONS"):
        Settings.from_env({"TRAITE_QA_LOG_QUESTIONS": "peut-être"})
    with pytest.raises(ConfigError, match="sqlite:///PATH or postgresql://"):
        Settings.from_env({"TRAITE_QA_DATABASE_URL": "mysql://u@h/db"})
    with pytest.raises(ConfigError, match="TRAITE_QA_FEEDBACK_RETENTION_DAYS"):
        Settings(feedback_retention_days=0)


def test_json_columns_are_json(store, url):
    store.add(make_record())
    [(answer_json, citations, settings_json)] = raw(url, "SELECT answer_json, citations, settings_json FROM feedback")
    assert json.loads(answer_json)["question"] == "Où en est la mesure 16 ?"
    assert [c["id"] for c in json.loads(citations)] == ["mesure-16#1", "note-47"]
    assert json.loads(settings_json)["model_fingerprint"] == "fp-1"


@pytest.mark.parametrize("busy_times, fails", [(2, False), (10_000, True)])
def test_a_busy_sqlite_file_at_first_migration_is_tried_again_until_the_timeout(tmp_path, monkeypatch, busy_times, fails):
    """SQLITE_BUSY can come before busy_timeout applies (another process
    switching a new file to WAL): migrate() tries again, within the store's
    timeout, then says the database is unavailable."""
    from sqlalchemy.exc import OperationalError

    from traite_qa.feedback import migrations

    real, calls = migrations.migrate, []

    def busy_then_real(conn, target=migrations.LATEST):
        calls.append(1)
        if len(calls) <= busy_times:
            orig = sqlite3.OperationalError("database is locked")
            orig.sqlite_errorcode = sqlite3.SQLITE_BUSY
            raise OperationalError("BEGIN IMMEDIATE", {}, orig)
        return real(conn, target)

    monkeypatch.setattr(migrations, "migrate", busy_then_real)
    store = FeedbackStore(f"sqlite:///{tmp_path / 'busy.db'}", timeout=0.5)
    started = time.monotonic()
    if fails:
        with pytest.raises(FeedbackStoreError, match="database is locked"):
            store.migrate()
        assert 0.5 <= time.monotonic() - started < 3
    else:
        assert store.migrate() == [1, 2, 3] and len(calls) == 3
        store.add(make_record())
        assert len(store.feedback()) == 1
    store.close()
