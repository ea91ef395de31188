"""Feedback on the answers of a running assistant.

    assistant = with_feedback(Assistant.load())          # same API, plus .feedback()
    answer = assistant.ask("Où en est la mesure 16 ?")
    assistant.feedback(answer.answer_id, "down", reason="erreur_de_statut", comment="elle est réalisée")

Where the question and answer come from when feedback names only an
answer_id: the last `feedback_recent_answers` answers are kept in this
process's memory (an LRU map, never written anywhere), so nothing about a
question is stored before someone rates its answer. An answer that is no
longer there (evicted, a restart, another process behind a load balancer)
can be rated by sending its JSON along (`answer=`): it is accepted only if
it carries the `answer_key` this server gave it (`served()`, keys.py) and its
answer_id recomputes from its content. A rating is refused beyond
`feedback_max_row_bytes`.
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
from collections import OrderedDict
from dataclasses import asdict, replace
from typing import Iterator

from .. import __version__
from ..errors import (AnswerNotServedError, ConfigError, FeedbackStoreError, FeedbackTooLargeError, InvalidFeedbackError,
                      UnknownAnswerError, UnknownFeedbackError)
from ..settings import Settings
from .keys import KEY_FIELD, answer_key, key_matches, load_secret
from .model import FeedbackRecord, check_answer_id, check_answer_payload, check_feedback, citations_of
from .store import FeedbackStore

log = logging.getLogger("traite_qa.feedback")
LOG_QUEUE = 1000  # logged questions waiting for the database; beyond this they are dropped (and counted)


def check_edit_token(token) -> str:
    if not isinstance(token, str) or not 16 <= len(token) <= 64:
        raise InvalidFeedbackError("edit_token: send the edit_token the rating was saved with", "edit_token")
    return token


class RecentAnswers:
    """answer_id -> Answer JSON for the last `size` answers (thread-safe, memory only)."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, answer_id: str, answer: dict) -> None:
        with self._lock:
            self._items[answer_id] = answer
            self._items.move_to_end(answer_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, answer_id: str) -> dict | None:
        with self._lock:
            return self._items.get(answer_id)

    def __len__(self) -> int:
        return len(self._items)


class FeedbackRecorder:
    def __init__(self, settings: Settings | None = None, store: FeedbackStore | None = None):
        self.settings = settings or Settings.from_env()
        self.store = store or FeedbackStore.from_settings(self.settings)
        self.recent = RecentAnswers(self.settings.feedback_recent_answers)
        self.context = snapshot(self.settings)
        self.dropped = 0  # logged questions lost because the database could not keep up
        self._queue: queue.Queue | None = None
        self._queue_lock = threading.Lock()
        self._secret: bytes | None = None

    @property
    def secret(self) -> bytes:
        """Read (or made) on first use, not at start: a process that never serves writes nothing."""
        if self._secret is None:
            with self._queue_lock:
                if self._secret is None:
                    try:
                        self._secret = load_secret(self.settings.feedback_secret, self.settings.data_dir)
                    except ConfigError as err:
                        # Answering never fails for feedback's sake: a key for
                        # this process only (answers served before a restart
                        # can then be rated only while it remembers them).
                        log.warning("traite-qa: %s; answers are keyed for this process only", err)
                        self._secret = secrets.token_bytes(32)
        return self._secret

    def served(self, answer) -> dict:
        """The answer JSON as this server serves it: with its `answer_key`."""
        data = answer.to_dict() if hasattr(answer, "to_dict") else dict(answer)
        return {**data, KEY_FIELD: answer_key(self.secret, data)}

    def attach(self, assistant) -> None:
        """Record what produced the answers: the assistant's model fingerprint and index."""
        self.context = snapshot(self.settings, assistant)

    def remember(self, answer) -> None:
        """Keep an answer (an Answer or its JSON) in memory so feedback can name it;
        with TRAITE_QA_LOG_QUESTIONS=1, also log it (in the background: answering never waits)."""
        data = answer.to_dict() if hasattr(answer, "to_dict") else dict(answer)
        self.recent.put(data["answer_id"], data)
        if self.settings.log_questions:
            self._enqueue(self._record(data, rating=None))

    def submit(self, answer_id: str, rating: str, reason: str | None = None, comment: str | None = None,
               answer: dict | None = None) -> FeedbackRecord:
        """Save a rating; returns the stored record (with its id).

        Raises InvalidFeedbackError (bad input, nothing saved; AnswerNotServedError
        for an answer this server did not serve, FeedbackTooLargeError beyond the
        row cap), UnknownAnswerError (the answer is not in memory and none was
        sent) or FeedbackStoreError (the database could not take it)."""
        answer_id = check_answer_id(answer_id)
        rating, reason, comment = check_feedback(rating, reason, comment, self.settings.feedback_comment_chars)
        data = self.recent.get(answer_id)
        if data is None and answer is not None:
            if not key_matches(self.secret, answer):
                raise AnswerNotServedError(
                    f"answer {answer_id} was not served by this server (its {KEY_FIELD} is missing or does not match): "
                    "rate an answer as this server returned it, with its answer_key", "answer")
            data = check_answer_payload({k: v for k, v in answer.items() if k != KEY_FIELD}, answer_id)
        if data is None:
            raise UnknownAnswerError(
                f"answer {answer_id} is not among the last {self.recent.size} answers of this server: "
                "send the answer JSON with the feedback (field `answer`)"
            )
        record = replace(self._record(data, rating, reason, comment), edit_token=secrets.token_urlsafe(24))
        self._check_size(record)
        return replace(record, id=self.store.add(record))

    def change(self, feedback_id: int, edit_token: str, rating: str, reason: str | None = None,
               comment: str | None = None) -> FeedbackRecord:
        """Change a rating (its sender holds `edit_token`, returned by submit): the store keeps the latest.

        Raises InvalidFeedbackError, UnknownFeedbackError (no rating with this id
        and token: withdrawn, purged, or not this sender's) or FeedbackStoreError."""
        rating, reason, comment = check_feedback(rating, reason, comment, self.settings.feedback_comment_chars)
        record = self.store.change(feedback_id, check_edit_token(edit_token), rating, reason, comment)
        if record is None:
            raise UnknownFeedbackError(f"no rating {feedback_id} with this edit_token: withdrawn, purged, or sent by someone else")
        return record

    def withdraw(self, feedback_id: int, edit_token: str) -> None:
        """Delete a rating at its sender's request (same errors as change)."""
        if not self.store.withdraw(feedback_id, check_edit_token(edit_token)):
            raise UnknownFeedbackError(f"no rating {feedback_id} with this edit_token: withdrawn, purged, or sent by someone else")

    def _check_size(self, record: FeedbackRecord) -> None:
        size = sum(len(json.dumps(v, ensure_ascii=False).encode("utf-8", "replace"))
                   for v in (record.question, record.answer, record.citations))
        limit = self.settings.feedback_max_row_bytes
        if size > limit:
            raise FeedbackTooLargeError(
                f"this rating's question, answer and citations take {size} bytes, over the {limit}-byte limit "
                "(TRAITE_QA_FEEDBACK_MAX_ROW_BYTES): nothing was saved", "answer")

    def _record(self, data: dict, rating: str | None, reason: str | None = None, comment: str | None = None) -> FeedbackRecord:
        return FeedbackRecord(
            answer_id=data["answer_id"], question=str(data.get("question", "")), answer=data, citations=citations_of(data),
            settings=self.context, model_fingerprint=self.context.get("model_fingerprint"), rating=rating, reason=reason,
            comment=comment,
        )

    # ------------------------------------------------- background log
    def _enqueue(self, record: FeedbackRecord) -> None:
        with self._queue_lock:
            if self._queue is None:
                self._queue = queue.Queue(LOG_QUEUE)
                threading.Thread(target=self._drain, name="traite-qa-question-log", daemon=True).start()
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def _drain(self) -> None:
        while True:
            record = self._queue.get()
            try:
                self.store.log(record)
            except FeedbackStoreError as err:
                self.dropped += 1
                log.warning("traite-qa: a question was not logged: %s", err)
            finally:
                self._queue.task_done()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until logged questions are written (tests, shutdown); False on timeout."""
        if self._queue is None:
            return True
        done = threading.Event()
        threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True).start()
        return done.wait(timeout)


class RecordingAssistant:
    """An Assistant whose answers can be rated: `ask`/`ask_stream` remember each
    answer; everything else is the wrapped assistant's."""

    def __init__(self, assistant, recorder: FeedbackRecorder):
        self.wrapped = assistant
        self.recorder = recorder
        recorder.attach(assistant)

    def ask(self, question, history=None, **filters):
        answer = self.wrapped.ask(question, history, **filters)
        self.recorder.remember(answer)
        return answer

    def ask_stream(self, question, history=None, **filters) -> Iterator:
        for item in self.wrapped.ask_stream(question, history, **filters):
            if not isinstance(item, str):
                self.recorder.remember(item)
            yield item

    def feedback(self, answer_id: str, rating: str, reason: str | None = None, comment: str | None = None,
                 answer: dict | None = None) -> FeedbackRecord:
        return self.recorder.submit(answer_id, rating, reason, comment, answer)

    def __getattr__(self, name):
        return getattr(self.wrapped, name)


def with_feedback(assistant, recorder: FeedbackRecorder | None = None) -> RecordingAssistant:
    """The assistant, with its answers remembered for feedback (see the module doc)."""
    if isinstance(assistant, RecordingAssistant):
        return assistant
    return RecordingAssistant(assistant, recorder or FeedbackRecorder(assistant.settings))


def snapshot(settings: Settings, assistant=None) -> dict:
    """What produced an answer, stored with its feedback (no secrets: no API key, no URLs)."""
    manifest = {}
    if assistant is not None:
        data = getattr(getattr(assistant, "searcher", None), "data", None)
        manifest = getattr(data, "manifest", None) or {}
    model = manifest.get("model", {})
    return {
        "package_version": __version__,
        "model": settings.model,
        "model_fingerprint": model.get("fingerprint"),
        "index_created_at": manifest.get("created_at"),
        "source_sha256": manifest.get("source", {}).get("sha256"),
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "vector_store": settings.vector_store,
        "tuning": asdict(settings.tuning),
        "llm_model": settings.llm_model,
    }
