"""One JSON shape for every error of the HTTP API:

    {"error": {"code": "question_too_long", "message": "...", "field": "q"}}

`code` is stable and machine-readable, `message` says what is wrong and how to
fix it (English, like the library's errors), `field` names the parameter or
body field at fault (null when none). FastAPI's own validation errors,
malformed or non-UTF-8 JSON bodies, unknown routes, wrong methods and
oversized bodies are all answered in this shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from traite_qa import InvalidFilterError, InvalidQuestionError, TraiteQAError, UnknownReferenceError

from .state import AssistantUnavailable

log = logging.getLogger("traite_qa_app")

# Request bodies larger than this are refused with 413 before being parsed.
MAX_BODY_BYTES = 1024 * 1024


class SafeJSONResponse(JSONResponse):
    """UTF-8 JSON that never fails on lone surrogates (they become U+FFFD)."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "replace")


class APIError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None, headers: dict | None = None):
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers
        super().__init__(message)


def error_body(code: str, message: str, field: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(status: int, code: str, message: str, field: str | None = None, headers: dict | None = None) -> SafeJSONResponse:
    return SafeJSONResponse(error_body(code, message, field), status_code=status, headers=headers)


def from_library(err: TraiteQAError, field: str | None = None) -> APIError:
    """A library error -> the API error that says the same thing."""
    if isinstance(err, InvalidQuestionError):
        code = {"empty": "empty_question", "too_long": "question_too_long"}.get(err.code, "invalid_question")
        return APIError(422, code, str(err), field)
    if isinstance(err, InvalidFilterError):
        return APIError(422, "invalid_filter", str(err), err.field or field)
    if isinstance(err, UnknownReferenceError):
        return APIError(404, "unknown_reference", str(err), field)
    return APIError(503, "index_unavailable", str(err), None, {"Retry-After": "5"})


# ----------------------------------------------------- validation messages
def _field(loc: tuple) -> str | None:
    parts = [p for p in loc if p not in ("query", "path", "body", "header", "cookie")]
    if not parts:
        return "body" if loc and loc[0] == "body" else None
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ValidationMessages:
    """Turns pydantic's error entries into the API's codes and messages."""

    def __init__(self, max_question_chars: int, max_k: int, n_axes: int, n_actions: int, n_measures: int, kinds, statuses):
        self.max_chars = max_question_chars
        self.max_k = max_k
        self.n_axes = n_axes
        self.n_actions = n_actions
        self.n_measures = n_measures
        self.kinds = tuple(kinds)
        self.statuses = tuple(statuses)

    def describe(self, err: dict) -> tuple[str, str, str | None]:
        loc = tuple(err.get("loc") or ())
        field = _field(loc)
        kind = err.get("type", "")
        value = err.get("input")
        if kind == "missing":
            if field in ("q", "question"):
                return "empty_question", f"{field} is required: type a question about the evaluation", field
            return "missing_field", f"{field} is required", field
        if field in ("q", "question"):
            if kind == "string_too_short":
                return "empty_question", "the question is empty: type a question about the evaluation", field
            if kind == "string_too_long":
                length = len(value) if isinstance(value, str) else "too many"
                return (
                    "question_too_long",
                    f"the question is {length} characters long, the limit is {self.max_chars}: ask about one point at a time",
                    field,
                )
            return "invalid_question", f"the question must be text: {err.get('msg', '')}", field
        if field == "k":
            return "invalid_filter", f"k={_short(value)} is out of range: use an integer from 1 to {self.max_k}", field
        if field == "status":
            return "invalid_filter", f"unknown status {_short(value)}: use one of " + ", ".join(f"'{s}'" for s in self.statuses), field
        if field == "kind":
            return "invalid_filter", f"unknown kind {_short(value)}: use one of {', '.join(self.kinds)}", field
        if field == "axis":
            return "invalid_filter", f"unknown axis {_short(value)}: the plan has {self.n_axes} axes (axis 1-{self.n_axes})", field
        if field == "action":
            return "invalid_filter", f"unknown action {_short(value)}: the plan has {self.n_actions} actions (action 1-{self.n_actions})", field
        if field == "n":
            return "invalid_measure", f"measure number {_short(value)} is not an integer: use 1-{self.n_measures}", field
        if field == "body":
            return "invalid_body", f"the body must be a JSON object: {err.get('msg', '')}", field
        return "invalid_field", f"{field}: {err.get('msg', 'invalid value')}", field


# ------------------------------------------------------------- handlers
def install_error_handlers(app: FastAPI, messages: ValidationMessages) -> None:
    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError):
        return error_response(exc.status, exc.code, exc.message, exc.field, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = list(exc.errors())
        if not errors:
            return error_response(422, "invalid_request", "the request is invalid")
        if any(err.get("type") == "json_invalid" for err in errors):
            err = next(err for err in errors if err.get("type") == "json_invalid")
            detail = (err.get("ctx") or {}).get("error", "")
            return error_response(400, "invalid_json", f"the body is not valid JSON{': ' + str(detail) if detail else ''}", "body")
        first = errors[0]
        if tuple(first.get("loc") or ()) == ("body",) and isinstance(first.get("input"), (bytes, bytearray)):
            return error_response(
                415, "unsupported_media_type", "send the body as JSON with 'Content-Type: application/json'", "body"
            )
        code, message, field = messages.describe(first)
        if len(errors) > 1:
            others = [messages.describe(err)[1] for err in errors[1:4]]
            message = "; ".join([message, *others])
        return error_response(422, code, message, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        status = exc.status_code
        code = {
            400: "invalid_json" if request.method in ("POST", "PUT", "PATCH") else "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "body_too_large",
            415: "unsupported_media_type",
        }.get(status, "http_error")
        message = {
            400: "the body could not be parsed: send UTF-8 encoded JSON" if code == "invalid_json" else str(exc.detail),
            404: f"no such endpoint: {request.url.path} (see /docs)",
        }.get(status, str(exc.detail))
        return error_response(status, code, message, "body" if code == "invalid_json" else None, getattr(exc, "headers", None))

    @app.exception_handler(AssistantUnavailable)
    async def _unavailable(request: Request, exc: AssistantUnavailable):
        code = "index_loading" if exc.loading else "index_unavailable"
        return error_response(503, code, str(exc), None, {"Retry-After": "5"})

    @app.exception_handler(TraiteQAError)
    async def _library(request: Request, exc: TraiteQAError):
        err = from_library(exc)
        return error_response(err.status, err.code, err.message, err.field, err.headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):  # a bug: logged, answered in the same shape
        log.exception("traite-qa: internal error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal error: please report it with the request that caused it")


# --------------------------------------------------------------- raw ASGI
async def send_error(send, status: int, code: str, message: str, field: str | None = None, headers: dict | None = None) -> None:
    """The error shape, sent straight on an ASGI `send` (middleware, before any route)."""
    body = json.dumps(error_body(code, message, field), ensure_ascii=False).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------- body cap
def _is_json(headers: dict) -> bool:
    return b"json" in headers.get(b"content-type", b"")


def _strict_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8", "strict")
    except UnicodeDecodeError:
        return False
    return True


def _size(max_bytes: int) -> str:
    return f"{max_bytes // 1024} KiB" if max_bytes >= 1024 and max_bytes % 1024 == 0 else f"{max_bytes} bytes"


# Gradio's event routes take what the page sends: a question, the filters,
# a restored conversation (chat.js keeps that under RESTORE_MAX_BYTES), a few
# KB in all. A larger body is refused while it streams in, before anything
# parses it (issue 23: 1 MiB of empty lists cost the event loop over a second).
EVENT_PREFIX = "/gradio_api/"
EVENT_MAX_BYTES = 64 * 1024
# Bytes of unfinished bodies held at once, all connections together: a crowd
# of clients that send most of a body and then stall cannot hold more than
# this (issue 23: 1,000 such connections held +870 MB). Beyond, 503.
BUFFERED_MAX_BYTES = 32 * 1024 * 1024


class BodyLimitMiddleware:
    """Every request body: at most `max_bytes` (`EVENT_MAX_BYTES` on Gradio's
    routes) or 413, sent within `timeout` seconds (408), strict UTF-8 when it
    says it is JSON (400). Read once, before any route (Gradio's included),
    then replayed to the application. While bodies arrive, at most
    `buffered_max` bytes of them are held in all (503 beyond)."""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES, timeout: float = 10.0,
                 event_max_bytes: int = EVENT_MAX_BYTES, buffered_max: int = BUFFERED_MAX_BYTES):
        self.app = app
        self.max_bytes = max_bytes
        self.event_max_bytes = min(event_max_bytes, max_bytes)
        self.timeout = timeout
        self.buffered_max = buffered_max
        self.buffered = 0  # bytes of bodies being received (one event loop: no lock needed)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict((k.lower(), v) for k, v in scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is None and b"transfer-encoding" not in headers:
            return await self.app(scope, receive, send)  # no body
        cap = self.event_max_bytes if scope.get("path", "").startswith(EVENT_PREFIX) else self.max_bytes
        if declared is not None:
            if not declared.isdigit():
                return await send_error(send, 400, "bad_request", "invalid Content-Length header", None, {"connection": "close"})
            if int(declared) > cap:
                return await self._too_large(send, cap)
        held = [0]
        try:
            data = await asyncio.wait_for(self._read(receive, cap, held), self.timeout)
        except asyncio.TimeoutError:
            return await send_error(
                send, 408, "body_timeout", f"the request body was not received within {self.timeout:g} s", "body", {"connection": "close"}
            )
        finally:
            self.buffered -= held[0]
        if data is None:  # the client left
            return
        if data is False:
            return await self._too_large(send, cap)
        if data is True:
            return await send_error(send, 503, "server_busy", "the server is receiving too many request bodies: retry in a few seconds",
                                    "body", {"connection": "close", "Retry-After": "2"})
        if data and _is_json(headers) and not _strict_utf8(data):
            # Starlette decodes with surrogatepass; encoded surrogates are not UTF-8.
            return await send_error(send, 400, "invalid_json", "the body is not UTF-8: send UTF-8 encoded JSON", "body", {"connection": "close"})
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _read(self, receive, cap: int, held: list[int]) -> bytes | bool | None:
        """The body; False when over `cap`, True when over the shared budget,
        None when the client left. `held[0]`: bytes counted in `buffered`."""
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body = message.get("body", b"")
            total += len(body)
            if total > cap:
                return False
            if self.buffered + len(body) > self.buffered_max:
                return True
            self.buffered += len(body)
            held[0] += len(body)
            chunks.append(body)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _too_large(send, cap: int):
        return await send_error(
            send, 413, "body_too_large", f"the request body is larger than {_size(cap)}: send a shorter question and history",
            "body", {"connection": "close"},
        )
