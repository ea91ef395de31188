"""What a piece of feedback is, and the checks it passes before any write.

A record carries everything needed to review an answer later without the
server that gave it: the question, the answer JSON, its citations, the
settings and model fingerprint that produced it. It carries nothing about who
sent it (no IP address, no user agent, no session).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..errors import InvalidFeedbackError
from ..types import answer_id_of

RATINGS = ("up", "down")
# What was wrong with an answer rated down: code -> the label the chat shows.
REASONS = {
    "mauvaise_mesure": "Mauvaise mesure",
    "reponse_incomplete": "Réponse incomplète",
    "pas_de_reponse": "N'a pas répondu",
    "erreur_de_statut": "Erreur de statut",
    "autre": "Autre",
}
ANSWER_ID_RE = re.compile(r"ans-[0-9a-f]{20}")
# Control characters a database or a YAML file may refuse (PostgreSQL rejects
# NUL in text); tab and newline stay.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """Storable text: lone surrogates replaced, control characters dropped."""
    return _CONTROL_RE.sub("", text.encode("utf-8", "replace").decode("utf-8"))


def now_utc() -> str:
    """A timestamp as stored: ISO 8601 in UTC, fixed width, so text order is time order
    in SQLite and PostgreSQL alike."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class FeedbackRecord:
    """One rating of one answer, as stored (`id` and `created_at` set by the store)."""

    answer_id: str
    question: str
    answer: dict  # the Answer JSON (`Answer.to_dict()`)
    citations: list  # [{id, kind, measures, footnote, acronym, marker}] of the answer, best first
    settings: dict  # what produced the answer: model, fingerprint, index, chunking, tuning, generator model
    model_fingerprint: str | None
    rating: str | None  # None for a logged question (TRAITE_QA_LOG_QUESTIONS=1)
    reason: str | None = None
    comment: str | None = None
    created_at: str = field(default_factory=now_utc)
    id: int | None = None
    # Given to the sender once (POST /api/feedback), to change or withdraw the
    # rating; the store keeps only its SHA-256 (`edit_key`). Not in to_dict().
    edit_token: str | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {
            "id": self.id, "answer_id": self.answer_id, "question": self.question, "rating": self.rating,
            "reason": self.reason, "comment": self.comment, "created_at": self.created_at,
            "model_fingerprint": self.model_fingerprint, "citations": self.citations, "settings": self.settings,
            "answer": self.answer,
        }


def citations_of(answer: dict) -> list[dict]:
    """The citations' identity (what the export turns into candidate gold)."""
    keys = ("id", "kind", "measures", "footnote", "acronym", "marker")
    return [{k: c.get(k) for k in keys} for c in answer.get("citations") or [] if isinstance(c, dict)]


def check_feedback(rating, reason, comment, max_comment_chars: int) -> tuple[str, str | None, str | None]:
    """(rating, reason, comment) normalised, or InvalidFeedbackError naming the field and the fix."""
    if rating not in RATINGS:
        raise InvalidFeedbackError(f"rating {rating!r} is not one of 'up', 'down'", "rating")
    if reason is not None and reason not in REASONS:
        raise InvalidFeedbackError(f"reason {reason!r} is not one of {', '.join(REASONS)}", "reason")
    if reason is not None and rating != "down":
        raise InvalidFeedbackError("a reason only goes with rating 'down': drop it, or rate the answer down", "reason")
    if comment is not None:
        if not isinstance(comment, str):
            raise InvalidFeedbackError("comment must be text", "comment")
        comment = clean_text(comment).strip() or None
        if comment is not None and len(comment) > max_comment_chars:
            raise InvalidFeedbackError(
                f"the comment is {len(comment)} characters long, the limit is {max_comment_chars}: shorten it", "comment"
            )
    return rating, reason, comment


def check_answer_id(answer_id) -> str:
    if not isinstance(answer_id, str) or not ANSWER_ID_RE.fullmatch(answer_id):
        raise InvalidFeedbackError(
            f"answer_id {str(answer_id)[:40]!r} is not an answer id: use the `answer_id` of the answer (ans- and 20 hex digits)",
            "answer_id",
        )
    return answer_id


def check_answer_payload(answer: dict, answer_id: str) -> dict:
    """An answer JSON sent back by a client: it must be the answer `answer_id` names,
    unaltered (its id is recomputed from its question, text, citations and route)."""
    try:
        computed = answer_id_of(
            answer["question"], answer["status"], answer["answer"], [c["id"] for c in answer["citations"]],
            answer["intent"], answer["language"],
        )
    except (KeyError, TypeError) as err:
        raise InvalidFeedbackError(f"answer is not an Answer JSON (missing {err}): send it as /api/ask returned it", "answer") from None
    if computed != answer_id:
        raise InvalidFeedbackError(
            f"answer does not match answer_id {answer_id}: send the answer JSON exactly as it was returned", "answer"
        )
    return answer
