"""The feedback database: SQLite (default) or PostgreSQL, through SQLAlchemy Core.

    store = FeedbackStore.from_settings(settings)    # nothing is opened yet
    store.add(record)                                # creates and migrates on first write
    store.feedback(rating="down", reason="autre")    # newest first
    store.purge(days=180)

Nothing is created before the first write: reading a SQLite file that does not
exist yet returns nothing. Every database problem (unreachable, locked past
`timeout`, refused) surfaces as `FeedbackStoreError` with the URL (password
hidden) and what to do; the caller decides that answering goes on.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from ..errors import ConfigError, FeedbackStoreError
from ..settings import Settings
from . import migrations
from .model import RATINGS, REASONS, FeedbackRecord, clean_text, now_utc

_COLUMNS = "answer_id, question, answer_json, citations, settings_json, model_fingerprint"


class FeedbackStore:
    def __init__(self, url: str, timeout: float = 5.0):
        try:
            self.url: URL = make_url(url)
        except ArgumentError:
            raise ConfigError(f"database URL {url[:60]!r} is not a URL: use sqlite:///PATH or postgresql://… "
                              "(TRAITE_QA_DATABASE_URL)") from None
        if self.url.drivername == "postgres":  # the libpq spelling, unknown to SQLAlchemy
            self.url = self.url.set(drivername="postgresql")
        if self.url.get_backend_name() == "sqlite" and self.url.database in (None, "", ":memory:"):
            raise ConfigError("an in-memory SQLite database would lose the feedback: use sqlite:///PATH (TRAITE_QA_DATABASE_URL)")
        if self.url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ConfigError(f"database {self.display} is neither SQLite nor PostgreSQL (TRAITE_QA_DATABASE_URL)")
        self.timeout = timeout
        self._engine: Engine | None = None
        self._migrated = False
        self._lock = threading.RLock()  # migrate() runs under it and opens the engine

    @classmethod
    def from_settings(cls, settings: Settings) -> "FeedbackStore":
        return cls(settings.feedback_database, settings.database_timeout)

    @property
    def display(self) -> str:
        """The URL with its password hidden, for messages."""
        return self.url.render_as_string(hide_password=True)

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    @property
    def path(self) -> Path | None:
        return Path(self.url.database) if self.backend == "sqlite" else None

    # ------------------------------------------------------------ writes
    def add(self, record: FeedbackRecord) -> int:
        """Save one rating; returns its id. With `record.edit_token`, its SHA-256
        is kept so that the sender can later change or withdraw the rating."""
        with self._transaction("save the feedback") as conn:
            return conn.execute(
                text(f"INSERT INTO feedback ({_COLUMNS}, rating, reason, comment, created_at, edit_key) VALUES "
                     "(:answer_id, :question, :answer_json, :citations, :settings_json, :model_fingerprint, "
                     ":rating, :reason, :comment, :created_at, :edit_key) RETURNING id"),
                {**_row(record), "rating": record.rating, "reason": record.reason,
                 "comment": clean_text(record.comment) if record.comment is not None else None,
                 "edit_key": edit_key(record.edit_token) if record.edit_token else None},
            ).scalar_one()

    def change(self, feedback_id: int, token: str, rating: str, reason: str | None, comment: str | None) -> FeedbackRecord | None:
        """Replace a rating by its sender's new one (the store keeps the latest);
        None when no rating has this id and token."""
        if not self._exists():
            return None
        with self._transaction("change the feedback") as conn:
            done = conn.execute(
                text("UPDATE feedback SET rating = :rating, reason = :reason, comment = :comment, updated_at = :now "
                     "WHERE id = :id AND edit_key = :key"),
                {"rating": rating, "reason": reason, "comment": clean_text(comment) if comment is not None else None,
                 "now": now_utc(), "id": int(feedback_id), "key": edit_key(token)},
            ).rowcount
            if not done:
                return None
            row = conn.execute(text(f"SELECT id, {_COLUMNS}, rating, reason, comment, created_at FROM feedback WHERE id = :id"),
                               {"id": int(feedback_id)}).mappings().one()
            return _record(row)

    def withdraw(self, feedback_id: int, token: str) -> bool:
        """Delete a rating at its sender's request; False when no rating has this id and token."""
        if not self._exists():
            return False
        with self._transaction("withdraw the feedback") as conn:
            return conn.execute(text("DELETE FROM feedback WHERE id = :id AND edit_key = :key"),
                                {"id": int(feedback_id), "key": edit_key(token)}).rowcount > 0

    def log(self, record: FeedbackRecord) -> None:
        """Save a question and its answer, unrated (TRAITE_QA_LOG_QUESTIONS=1); the rating fields are ignored."""
        with self._transaction("log the question") as conn:
            conn.execute(
                text(f"INSERT INTO question_log ({_COLUMNS}, created_at) VALUES "
                     "(:answer_id, :question, :answer_json, :citations, :settings_json, :model_fingerprint, :created_at)"),
                _row(record),
            )

    def purge(self, days: int, now: datetime | None = None) -> dict[str, int]:
        """Delete feedback and logged questions older than `days` days; returns how many of each."""
        if days <= 0:
            raise ConfigError(f"retention of {days} days: use a number of days > 0 (TRAITE_QA_FEEDBACK_RETENTION_DAYS)")
        if not self._exists():
            return {"feedback": 0, "questions": 0}
        cutoff = ((now or datetime.now(timezone.utc)) - timedelta(days=days)).isoformat(timespec="microseconds")
        with self._transaction("purge old feedback") as conn:
            return {
                "feedback": conn.execute(text("DELETE FROM feedback WHERE created_at < :c"), {"c": cutoff}).rowcount,
                "questions": conn.execute(text("DELETE FROM question_log WHERE created_at < :c"), {"c": cutoff}).rowcount,
            }

    # ------------------------------------------------------------- reads
    def feedback(self, rating: str | None = None, reason: str | None = None, limit: int | None = None) -> list[FeedbackRecord]:
        """Stored ratings, newest first, optionally filtered."""
        if rating is not None and rating not in RATINGS:
            raise ConfigError(f"rating {rating!r}: use 'up' or 'down'")
        if reason is not None and reason not in REASONS:
            raise ConfigError(f"reason {reason!r}: use one of {', '.join(REASONS)}")
        if not self._exists():
            return []
        where = " AND ".join(c for c, v in (("rating = :rating", rating), ("reason = :reason", reason)) if v) or "1 = 1"
        sql = f"SELECT id, {_COLUMNS}, rating, reason, comment, created_at FROM feedback WHERE {where} ORDER BY created_at DESC, id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._transaction("read the feedback") as conn:
            rows = conn.execute(text(sql), {"rating": rating, "reason": reason}).mappings().all()
        return [_record(row) for row in rows]

    def export_groups(self, rating: str | None = None, reason: str | None = None, batch: int = 50):
        """(counts, groups): counts = {"answers", "down"}; groups yields each
        answer's ratings (a list, newest first), answers rated down first, then
        by their latest rating, newest first (the export's order).

        Rows stream from the database `batch` at a time, so memory holds one
        answer's ratings, whatever the table's size. Read without the write
        lock: a long export does not stop ratings from being saved."""
        self._filters(rating, reason)
        if not self._exists():
            return {"answers": 0, "down": 0}, iter(())
        where = self._where(rating, reason, "f.")
        params = {"rating": rating, "reason": reason}
        groups = (f"SELECT f.answer_id, MAX(f.created_at) AS last, MAX(CASE WHEN f.rating = 'down' THEN 1 ELSE 0 END) AS down "
                  f"FROM feedback f WHERE {where} GROUP BY f.answer_id")
        with self._transaction("read the feedback") as conn:
            answers, down = conn.execute(text(f"SELECT COUNT(*), COALESCE(SUM(g.down), 0) FROM ({groups}) g"), params).one()
        sql = (f"SELECT f.id, {', '.join('f.' + c.strip() for c in _COLUMNS.split(','))}, f.rating, f.reason, f.comment, "
               f"f.created_at FROM feedback f JOIN ({groups}) g ON f.answer_id = g.answer_id WHERE {where} "
               "ORDER BY g.down DESC, g.last DESC, f.answer_id, f.created_at DESC, f.id DESC")

        def stream():
            with self._guard("read the feedback", begin=False) as conn:
                result = conn.execution_options(yield_per=batch, traite_qa_read=True).execute(text(sql), params).mappings()
                group: list[FeedbackRecord] = []
                for row in result:
                    if group and row["answer_id"] != group[0].answer_id:
                        yield group
                        group = []
                    group.append(_record(row))
                if group:
                    yield group

        return {"answers": int(answers), "down": int(down)}, stream()

    @staticmethod
    def _filters(rating, reason) -> None:
        if rating is not None and rating not in RATINGS:
            raise ConfigError(f"rating {rating!r}: use 'up' or 'down'")
        if reason is not None and reason not in REASONS:
            raise ConfigError(f"reason {reason!r}: use one of {', '.join(REASONS)}")

    @staticmethod
    def _where(rating, reason, prefix: str = "") -> str:
        return " AND ".join(f"{prefix}{c}" for c, v in (("rating = :rating", rating), ("reason = :reason", reason)) if v) or "1 = 1"

    def logged(self) -> list[dict]:
        """Logged questions, newest first (TRAITE_QA_LOG_QUESTIONS=1)."""
        if not self._exists():
            return []
        with self._transaction("read the question log") as conn:
            rows = conn.execute(text(f"SELECT id, {_COLUMNS}, created_at FROM question_log ORDER BY created_at DESC, id DESC"))
            return [dict(row) for row in rows.mappings()]

    def summary(self, latest: int = 10) -> dict:
        """For the "retours" view: counts by rating and by reason, and the latest answers rated down."""
        counts = {"total": 0, "ratings": {r: 0 for r in RATINGS}, "reasons": {r: 0 for r in REASONS} | {"none": 0}}
        if not self._exists():
            return {**counts, "latest_down": []}
        with self._transaction("read the feedback") as conn:
            for rating, reason, n in conn.execute(text("SELECT rating, reason, COUNT(*) FROM feedback GROUP BY rating, reason")):
                counts["total"] += n
                counts["ratings"][rating] += n
                if rating == "down":
                    counts["reasons"][reason or "none"] += n
        down = self.feedback(rating="down", limit=latest)
        latest_down = [{"id": r.id, "created_at": r.created_at, "answer_id": r.answer_id, "question": r.question,
                        "reason": r.reason, "comment": r.comment, "answer": str(r.answer.get("answer", ""))} for r in down]
        return {**counts, "latest_down": latest_down}

    def schema_version(self) -> int:
        if not self._exists():
            return 0
        with self._guard("read the schema version", begin=False) as conn:
            return migrations.current_version(conn)

    # ---------------------------------------------------------- schema
    def migrate(self, target: int = migrations.LATEST) -> list[int]:
        """Create or upgrade the schema (done on first use anyway); returns the steps applied."""
        self._prepare_file()
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with self._guard("migrate the feedback database", begin=True) as conn:
                    applied = migrations.migrate(conn, target)
                    version = migrations.current_version(conn)
                break
            except FeedbackStoreError as err:
                # Several processes opening a new SQLite file at once: one of
                # them may get SQLITE_BUSY before busy_timeout applies (while
                # another switches the file to WAL). Migrating is idempotent
                # (versions are applied under the write lock), so try again
                # until the store's timeout.
                if not getattr(err, "sqlite_busy", False) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
        if version > migrations.LATEST:
            raise FeedbackStoreError(
                f"the feedback database {self.display} has schema version {version}, newer than this traite-qa "
                f"knows ({migrations.LATEST}): upgrade traite-qa"
            )
        self._migrated = version >= migrations.LATEST
        return applied

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -------------------------------------------------------- internals
    def _exists(self) -> bool:
        """False only for a SQLite file not created yet: reading it must not create it."""
        return self.backend != "sqlite" or self.path.exists()

    def _prepare_file(self) -> None:
        if self.backend != "sqlite" or self.path.exists():
            return
        try:
            # Private by default: questions can name real people.
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as err:
            raise FeedbackStoreError(
                f"could not create the feedback database {self.path}: {err.strerror}; "
                "set TRAITE_QA_DATABASE_URL=sqlite:///A/WRITABLE/PATH"
            ) from None

    def _transaction(self, doing: str):
        """A transaction on an up-to-date schema (migrated on first use)."""
        if not self._migrated:
            with self._lock:
                if not self._migrated:
                    self.migrate()
        return self._guard(doing, begin=True)

    @contextmanager
    def _guard(self, doing: str, begin: bool):
        """A connection whose database errors become FeedbackStoreError."""
        try:
            with self._lock:
                if self._engine is None:
                    self._engine = _make_engine(self.url, self.timeout)
            with self._engine.begin() if begin else self._engine.connect() as conn:
                yield conn
        except (SQLAlchemyError, OSError, ModuleNotFoundError) as err:
            reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0][:200] or type(err).__name__
            effect = "" if doing.startswith("read") else "nothing was saved and answering is not affected: "
            error = FeedbackStoreError(
                f"could not {doing}: the database {self.display} is unavailable ({reason}); "
                f"{effect}retry later, or check TRAITE_QA_DATABASE_URL"
            )
            # Read by migrate(), which may try again.
            error.sqlite_busy = getattr(getattr(err, "orig", None), "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
            raise error from None


def _make_engine(url: URL, timeout: float) -> Engine:
    if url.get_backend_name() == "sqlite":
        # pysqlite's own transaction handling starts transactions late and not
        # before DDL; SQLAlchemy's documented recipe takes it over, and BEGIN
        # IMMEDIATE takes the write lock up front so concurrent writers queue on
        # busy_timeout instead of failing on a lock upgrade.
        engine = create_engine(url, connect_args={"timeout": timeout, "check_same_thread": False}, pool_timeout=timeout)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None
            dbapi_connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            dbapi_connection.execute("PRAGMA journal_mode = WAL")

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # A streamed read (export) takes no write lock: in WAL mode, writers go on meanwhile.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("traite_qa_read") else "BEGIN IMMEDIATE")

        return engine
    # "postgresql://" means psycopg2 to SQLAlchemy; psycopg (3) is what is installed.
    url = url.set(drivername="postgresql+psycopg")
    ms = int(timeout * 1000)
    return create_engine(
        url,
        pool_pre_ping=True,  # a restarted server leaves dead pooled connections: test each before use
        pool_timeout=timeout,
        connect_args={"connect_timeout": max(1, math.ceil(timeout)), "options": f"-c statement_timeout={ms} -c lock_timeout={ms}"},
    )


def edit_key(token: str) -> str:
    """What the database keeps of an edit token: its SHA-256 (a stolen database cannot edit ratings)."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _row(record: FeedbackRecord) -> dict:
    dump = lambda value: json.dumps(value, ensure_ascii=False)  # noqa: E731 - JSON escapes control characters
    return {
        "answer_id": record.answer_id,
        "question": clean_text(record.question),
        "answer_json": clean_text(dump(record.answer)),
        "citations": clean_text(dump(record.citations)),
        "settings_json": clean_text(dump(record.settings)),
        "model_fingerprint": record.model_fingerprint,
        "created_at": record.created_at,
    }


def _record(row) -> FeedbackRecord:
    return FeedbackRecord(
        answer_id=row["answer_id"], question=row["question"], answer=json.loads(row["answer_json"]),
        citations=json.loads(row["citations"]), settings=json.loads(row["settings_json"]),
        model_fingerprint=row["model_fingerprint"], rating=row["rating"], reason=row["reason"], comment=row["comment"],
        created_at=row["created_at"], id=row["id"],
    )
