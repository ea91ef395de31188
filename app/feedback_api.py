"""The feedback endpoints (issue 16), for the chat's 👍/👎 and the "retours" view.

    POST   /api/feedback       {answer_id, rating, reason?, comment?, answer?}  -> 201 {saved, id, edit_token, …}
    PUT    /api/feedback/{id}  {edit_token, rating, reason?, comment?}  -> 200: the rating changed (the store keeps the latest)
    DELETE /api/feedback/{id}  {edit_token}                              -> 200 {withdrawn: true}: the rating is deleted
    GET  /api/feedback/summary  counts by rating and reason, the latest answers rated down
                                (127.0.0.1 only, or `Authorization: Bearer $TRAITE_QA_FEEDBACK_TOKEN`)

The answer is found by its answer_id among the answers this process gave
recently (kept in memory only); otherwise the client sends the answer JSON it
received as `answer`, taken only with the `answer_key` this server put on it
(403 `answer_not_served` otherwise). Each client address may write
`feedback_burst` ratings at once and `feedback_rate_per_minute` a minute (429
with Retry-After beyond), each within `feedback_max_row_bytes` (413). A database that is down or locked gets a 503
`feedback_unavailable` ("not saved"); answering is never affected. Nothing
about the sender (address, user agent) is read or stored; the edit token
returned once by POST lets its holder (the browser that rated) change or
withdraw that rating, and the database keeps only its SHA-256.
"""

import enum
import hmac
import ipaddress
import logging
import math
import threading
import time
from collections import OrderedDict
from typing import Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from traite_qa import (REASONS, AnswerNotServedError, FeedbackStoreError, FeedbackTooLargeError, InvalidFeedbackError,
                       UnknownAnswerError, UnknownFeedbackError)

from .api import AnswerModel, ErrorResponse
from .errors import APIError
from .state import AppState

log = logging.getLogger("traite_qa_app")
# What an anonymous client learns when the database fails: never where it is
# (SQLite path, PostgreSQL user, host, port, database) nor the driver's words;
# those go to the server log.
UNAVAILABLE = ("the feedback database is unavailable: nothing was saved and answering is not affected; "
               "retry later")
Reason = enum.Enum("Reason", {code.upper(): code for code in REASONS}, type=str)
ANSWER_ID_PATTERN = r"^ans-[0-9a-f]{20}$"
ERRORS = {
    400: "Malformed JSON body (or not UTF-8)",
    401: "TRAITE_QA_FEEDBACK_TOKEN is set and the request does not carry it",
    403: "POST: the answer sent back does not carry this server's answer_key (it did not serve it). "
         "Summary: served to 127.0.0.1 only, and never through a trusted proxy (set TRAITE_QA_FEEDBACK_TOKEN)",
    404: "The answer is not among this server's recent answers, and its JSON was not sent; or (PUT, DELETE) no rating "
         "has this id and edit_token (withdrawn, purged, or sent by someone else)",
    409: "The answer JSON sent is not the answer answer_id names (changed, or another answer)",
    413: "Request body over 1024 KiB, or (POST) the rating's question, answer and citations over feedback_max_row_bytes",
    415: "Body not sent as application/json",
    422: "Invalid field: answer_id, rating, reason (only with 'down'), comment (too long), answer (not an Answer JSON), "
         "edit_token",
    429: "This client address sent too many ratings: wait Retry-After seconds",
    503: "The feedback database is unreachable or locked: nothing was saved (answering is not affected)",
}


def _errors(*statuses: int) -> dict:
    return {s: {"model": ErrorResponse, "description": ERRORS[s]} for s in statuses}


class FeedbackSaved(BaseModel):
    saved: Literal[True]
    id: int = Field(description="the feedback's id in the database")
    answer_id: str
    rating: Literal["up", "down"]
    reason: str | None
    created_at: str = Field(description="ISO 8601, UTC")
    edit_token: str | None = Field(default=None, description="returned once, by POST: send it to PUT or DELETE "
                                                             "/api/feedback/{id} to change or withdraw this rating")


class FeedbackWithdrawn(BaseModel):
    withdrawn: Literal[True]
    id: int


class LatestDown(BaseModel):
    id: int
    created_at: str
    answer_id: str
    question: str
    reason: str | None
    comment: str | None
    answer: str = Field(description="the answer's text")


class FeedbackSummary(BaseModel):
    total: int
    ratings: dict[str, int] = Field(description="count per rating: up, down")
    reasons: dict[str, int] = Field(description="answers rated down, per reason ('none': no reason given)")
    latest_down: list[LatestDown]


def add_feedback_routes(router: APIRouter, state: AppState) -> None:
    """Adds the routes to the app's own router (so its /api/ guard knows them)."""
    settings = state.settings
    buckets = TokenBuckets(settings.feedback_rate_per_minute / 60, settings.feedback_burst)

    def rate_limited(http: Request) -> None:
        # A dependency: refused before the body is looked at. The address is
        # the peer's, or the one a trusted proxy forwarded (Edge).
        wait = buckets.take(http.client.host if http.client else "")
        if wait > 0:
            raise APIError(429, "too_many_ratings", "this client sent too many ratings in a short time: "
                           f"retry in {math.ceil(wait)} s", None, {"Retry-After": str(math.ceil(wait))})

    LIMITED = [Depends(rate_limited)]

    class FeedbackRequest(BaseModel):
        # A reason goes with 'down' only: stated in the schema, so clients and fuzzers know it.
        model_config = ConfigDict(json_schema_extra={
            "if": {"properties": {"rating": {"const": "up"}}, "required": ["rating"]},
            "then": {"properties": {"reason": {"type": "null"}}},
        })
        answer_id: str = Field(pattern=ANSWER_ID_PATTERN, description="the `answer_id` of the answer rated",
                               examples=["ans-0123456789abcdef0123"])
        rating: Literal["up", "down"] = Field(description="👍 'up' or 👎 'down'")
        reason: Reason | None = Field(default=None, description="what was wrong (only with rating 'down'): "
                                                                + ", ".join(f"{k} ({v})" for k, v in REASONS.items()))
        comment: str | None = Field(default=None, max_length=settings.feedback_comment_chars,
                                    description=f"a short comment (at most {settings.feedback_comment_chars} characters)")
        answer: AnswerModel | None = Field(default=None, description="the answer JSON as /api/ask returned it; needed only "
                                                                     "when this server no longer remembers the answer (404)")

    @router.post(
        "/api/feedback",
        status_code=201,
        response_model=FeedbackSaved,
        responses=_errors(400, 403, 404, 409, 413, 415, 422, 429, 503),
        dependencies=LIMITED,
        summary="Rate an answer (👍/👎, with what was wrong and a comment)",
        tags=["feedback"],
    )
    def feedback(request: FeedbackRequest = Body()):
        answer = request.answer.model_dump(mode="json") if request.answer is not None else None
        try:
            record = state.feedback.submit(
                request.answer_id, request.rating, request.reason.value if request.reason else None, request.comment, answer
            )
        except AnswerNotServedError as err:
            raise APIError(403, "answer_not_served", str(err), "answer.answer_key") from None
        except FeedbackTooLargeError as err:
            raise APIError(413, "feedback_too_large", str(err), "answer") from None
        except InvalidFeedbackError as err:
            if err.field == "answer":  # well-formed, but not the answer answer_id names
                raise APIError(409, "answer_mismatch", str(err), "answer") from None
            raise APIError(422, "invalid_feedback", str(err), err.field) from None
        except UnknownAnswerError as err:
            raise APIError(404, "unknown_answer", str(err), "answer_id") from None
        except FeedbackStoreError as err:
            raise _unavailable(err, "saving feedback") from None
        return {"saved": True, "id": record.id, "answer_id": record.answer_id, "rating": record.rating,
                "reason": record.reason, "created_at": record.created_at, "edit_token": record.edit_token}

    class FeedbackChange(BaseModel):
        model_config = ConfigDict(json_schema_extra={
            "if": {"properties": {"rating": {"const": "up"}}, "required": ["rating"]},
            "then": {"properties": {"reason": {"type": "null"}}},
        })
        edit_token: str = Field(min_length=16, max_length=64, description="the edit_token POST /api/feedback returned")
        rating: Literal["up", "down"] = Field(description="the new rating: 👍 'up' or 👎 'down'")
        reason: Reason | None = Field(default=None, description="what was wrong (only with rating 'down')")
        comment: str | None = Field(default=None, max_length=settings.feedback_comment_chars,
                                    description=f"a short comment (at most {settings.feedback_comment_chars} characters)")

    class FeedbackToken(BaseModel):
        edit_token: str = Field(min_length=16, max_length=64, description="the edit_token POST /api/feedback returned")

    FEEDBACK_ID = Path(ge=1, le=2**62, description="the id POST /api/feedback returned")

    @router.put(
        "/api/feedback/{feedback_id:int}",
        response_model=FeedbackSaved,
        responses=_errors(400, 404, 413, 415, 422, 429, 503),
        dependencies=LIMITED,
        summary="Change a rating you sent (the store keeps the latest)",
        tags=["feedback"],
    )
    def change(feedback_id: int = FEEDBACK_ID, request: FeedbackChange = Body()):
        try:
            record = state.feedback.change(feedback_id, request.edit_token, request.rating,
                                           request.reason.value if request.reason else None, request.comment)
        except InvalidFeedbackError as err:
            raise APIError(422, "invalid_feedback", str(err), err.field) from None
        except UnknownFeedbackError as err:
            raise APIError(404, "unknown_feedback", str(err), "edit_token") from None
        except FeedbackStoreError as err:
            raise _unavailable(err, "changing feedback") from None
        return {"saved": True, "id": record.id, "answer_id": record.answer_id, "rating": record.rating,
                "reason": record.reason, "created_at": record.created_at}

    @router.delete(
        "/api/feedback/{feedback_id:int}",
        response_model=FeedbackWithdrawn,
        responses=_errors(400, 404, 413, 415, 422, 429, 503),
        dependencies=LIMITED,
        summary="Withdraw a rating you sent: it is deleted from the database",
        tags=["feedback"],
    )
    def withdraw(feedback_id: int = FEEDBACK_ID, request: FeedbackToken = Body()):
        try:
            state.feedback.withdraw(feedback_id, request.edit_token)
        except InvalidFeedbackError as err:
            raise APIError(422, "invalid_feedback", str(err), err.field) from None
        except UnknownFeedbackError as err:
            raise APIError(404, "unknown_feedback", str(err), "edit_token") from None
        except FeedbackStoreError as err:
            raise _unavailable(err, "withdrawing feedback") from None
        return {"withdrawn": True, "id": feedback_id}

    @router.get(
        "/api/feedback/summary",
        response_model=FeedbackSummary,
        responses=_errors(401, 403, 422, 503),
        summary="Feedback for the operator: counts by reason, the latest answers rated down",
        tags=["feedback"],
    )
    def summary(request: Request, latest: int = Query(10, ge=1, le=100, description="how many answers rated down (1-100)")):
        _check_operator(request, settings.feedback_token, settings.trusted_proxy is not None)
        try:
            return state.feedback.store.summary(latest)
        except FeedbackStoreError as err:
            raise _unavailable(err, "reading the feedback summary") from None


def _unavailable(err: FeedbackStoreError, doing: str) -> APIError:
    """The generic 503; the database's own words go to the log only."""
    log.warning("traite-qa: %s failed: %s", doing, err)
    return APIError(503, "feedback_unavailable", UNAVAILABLE, None, {"Retry-After": "30"})


def _check_operator(request: Request, token: str | None, proxied: bool) -> None:
    """The summary shows users' questions: the token when one is set, else loopback clients only."""
    host = request.client.host if request.client else ""
    refusal = operator_refusal(host, request.headers.get("authorization", ""), token, proxied)
    if refusal == "unauthorized":
        raise APIError(401, "unauthorized", "send 'Authorization: Bearer <TRAITE_QA_FEEDBACK_TOKEN>'", None,
                       {"WWW-Authenticate": "Bearer"})
    if refusal == "forbidden":
        where = ("only with a token behind a proxy (TRAITE_QA_TRUSTED_PROXY is set: a forwarded address proves nothing)"
                 if proxied else "to 127.0.0.1 only")
        raise APIError(403, "forbidden", f"the feedback summary is served {where}: set TRAITE_QA_FEEDBACK_TOKEN "
                                         "and send 'Authorization: Bearer <token>' to read it")


def operator_refusal(host: str, authorization: str, token: str | None, proxied: bool = False) -> str | None:
    """Who may read users' questions (this summary, the dashboard's "retours"):
    None when allowed; "unauthorized" (a token is set and not sent) or
    "forbidden" (no token is set and the client is not this machine).

    `proxied` (TRAITE_QA_TRUSTED_PROXY is set): then the client's address is
    whatever the proxy forwarded (or the proxy's own, loopback for a proxy on
    this machine), so it proves nothing: only the token makes an operator."""
    if token:
        sent = authorization or ""
        if hmac.compare_digest(sent.encode("utf-8", "replace"), f"Bearer {token}".encode("utf-8", "replace")):
            return None
        return "unauthorized"
    if proxied:
        return "forbidden"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    return None if loopback else "forbidden"


class TokenBuckets:
    """A token bucket per client address: `burst` writes at once, refilled at
    `rate` a second. At most `clients` addresses are tracked (the least
    recently seen is forgotten), so a flood of addresses cannot grow it."""

    def __init__(self, rate: float, burst: int, clients: int = 10_000):
        self.rate, self.burst, self.clients = rate, burst, clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()  # the routes run in the thread pool

    def take(self, client: str, now: float | None = None) -> float:
        """0 when a write is allowed (and counted), else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, then = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1 if wait == 0 else tokens, now)
            while len(self._buckets) > self.clients:
                self._buckets.popitem(last=False)
            return wait
