"""What may reach the Gradio app mounted at `/`.

Gradio serves far more than this app uses: file upload and download,
deep links, dev reload, monitoring, run history, MCP, streaming, proxies...
and copies any input shaped like `{"path": ..., "meta": {"_type":
"gradio.FileData"}}` into its cache, serving it back (its own path check is
skipped in a mounted app). So `GradioGuard` lets through only the routes the
page and `gradio_client` need, and checks the event payloads before Gradio
parses them:

- a route not listed in `ROUTES` gets a JSON 404;
- a query string over `MAX_QUERY_BYTES` gets 414 (Gradio's routes take
  short ones), and the page's `deep_link` parameter 404;
- `queue/join` and `call/<api>` bodies must be JSON objects whose data holds
  no dict with a "path", "url" or "meta" key anywhere (422: this app takes no
  files), naming a function or API that exists (404 / 422, not Gradio's 500);
- an event stream (`queue/data`, `call/<api>/<event_id>`) for a session or
  event Gradio does not hold gets a JSON 404 and one log line: Gradio would
  start the stream, then raise, and uvicorn would log a ~15 KB traceback
  per request (`OneLineGradioErrors` shortens any that still happen);
- at most `queue_max_size` events wait in the queue, and a Gradio session
  may hold `session_max_events` unfinished ones: beyond, 429 with
  Retry-After, so a flood of joins is refused at once and cannot push a
  real turn far back. (Gradio's own "queue full", for joins racing past the
  check, is a 503: it is answered as the same 429.)
- one client address may hold `client_max_events` unfinished events, all
  its sessions together (429 beyond), and sessions with no open page are
  dropped once idle: both in sessions.py, fed from here.

The parse and the walk of every value run in a worker thread (a few at a
time, on a limiter of their own so the API's threads are not taken): a body
full of tiny values costs the event loop nothing, and `/healthz` and the
other clients' requests go on (issue 23). BodyLimitMiddleware has capped the
body at `EVENT_MAX_BYTES` before it gets here.
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import parse_qs

import anyio
import anyio.to_thread

from .errors import send_error
from .sessions import ClientEvents, Sessions, client_key

log = logging.getLogger("traite_qa_app")

API = "/gradio_api"
# Our own routes (server.py): not Gradio's business.
OWN_PREFIXES = ("/api/", "/v1/", "/static/traite-qa/", "/static/docs/", "/docs/")
OWN_PATHS = ("/api", "/v1", "/healthz", "/docs", "/openapi.json")
MAX_QUERY_BYTES = 1024
FILE_KEYS = ("path", "url", "meta")
SESSION_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SEGMENT = r"[A-Za-z0-9_-]{1,64}"
_ASSET = r"[A-Za-z0-9_./-]{1,200}"


def _routes(api_names: list[str]) -> dict[str, list[re.Pattern]]:
    names = "|".join(re.escape(n) for n in api_names) or "(?!)"
    get = [
        "/", "/config/?", "/theme\\.css", "/favicon\\.ico", "/robots\\.txt",
        f"/assets/{_ASSET}", f"/static/{_ASSET}",
        f"{API}/info/?", f"{API}/heartbeat/{_SEGMENT}", f"{API}/queue/data",
        f"{API}/call/(?:{names})/{_SEGMENT}",
    ]
    post = [f"{API}/queue/join", f"{API}/call/(?:{names})/?"]
    return {"GET": [re.compile(p) for p in get], "POST": [re.compile(p) for p in post]}


class GradioGuard:
    def __init__(self, app, blocks, session_max_events: int, queue_max_size: int, clients: ClientEvents, sessions: Sessions):
        self.app = app
        self.blocks = blocks
        self.session_max_events = session_max_events
        self.queue_max_size = queue_max_size
        self.clients = clients
        self.sessions = sessions
        # Functions the server runs (a `js=`-only listener has no Python side).
        self.fns = {i for i, fn in blocks.fns.items() if fn.fn is not None}
        self.api_names = sorted(
            fn.api_name for fn in blocks.fns.values() if fn.api_name and fn.fn is not None and fn.api_visibility != "private"
        )
        self.routes = _routes(self.api_names)
        self.checks = anyio.CapacityLimiter(CHECK_THREADS)

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OWN_PATHS or path.startswith(OWN_PREFIXES):
            return await self.app(scope, receive, send)
        method = scope["method"]
        if ".." in path.split("/") or "\\" in path:  # a climb out of /assets or /static (Gradio refuses it too)
            return await send_error(send, 404, "not_found", "no such endpoint (see /docs)")
        if not any(p.fullmatch(path) for p in self.routes.get(method, ())):
            known = any(p.fullmatch(path) for ps in self.routes.values() for p in ps)
            if known:
                allow = "GET" if any(p.fullmatch(path) for p in self.routes["GET"]) else "POST"
                return await send_error(send, 405, "method_not_allowed", f"{method} is not allowed on {path}: use {allow}", None, {"Allow": allow})
            return await send_error(send, 404, "not_found", f"no such endpoint: {path[:100]} (see /docs)")
        query = scope.get("query_string", b"")
        if len(query) > MAX_QUERY_BYTES:
            return await send_error(send, 414, "uri_too_long", f"the query string is over {MAX_QUERY_BYTES} bytes: the page's routes take short ones")
        if path == "/" and re.search(rb"(^|&)deep_link=", query):
            return await send_error(send, 404, "not_found", "deep links are turned off on this server")
        if method != "POST":
            session = self.stream_session(path, query)
            if session is not None and self.unknown_stream(session):
                log.warning("traite-qa: %s %s: no such Gradio session or event (404)", method, path[:100])
                return await send_error(send, 404, "unknown_session", "no such session or event: join the queue first "
                                        "(POST /gradio_api/queue/join or /gradio_api/call/<api>)")
            if path.startswith(f"{API}/heartbeat/"):
                session = path.rsplit("/", 1)[1]
            if session is not None:  # a page or a reader is there: the session is not idle
                return await self.sessions.hold(session, lambda: self.app(scope, receive, send))
            return await self.app(scope, receive, send)
        body, payload, problem = await self._payload(receive, path)
        client = client_key(scope)
        if problem is None and not self.clients.reserve(client):
            problem = (429, "too_many_events", (
                f"this client already has {self.clients.limit} unfinished requests: wait for their answers "
                "(the server's limit is TRAITE_QA_CLIENT_MAX_EVENTS)"), None)
        if problem is not None:
            status, code, message, *field = problem
            headers = {"Retry-After": "2"} if status == 429 else None
            return await send_error(send, status, code, message, field[0] if field else None, headers)
        session = payload.get("session_hash") if isinstance(payload.get("session_hash"), str) else None
        accepted: list[str] = []
        try:
            return await self._forward(scope, body, receive, _event_id_into(accepted, _busy_as_429(send)))
        finally:
            self.clients.settle(client, accepted[0] if accepted else None, session)
            self.sessions.touch(session or (accepted[0] if accepted else None))

    async def _forward(self, scope, body: bytes, receive, send):
        """The app, given the body already read."""
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _payload(self, receive, path: str) -> tuple[bytes, dict, tuple | None]:
        """The body (read in full: BodyLimitMiddleware has capped it), its
        JSON object ({} when it has none) and what is wrong with it, as
        (status, code, message, field), or None."""
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"", {}, (400, "bad_request", "the client left")
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        join = path.endswith("/queue/join")
        payload, problem = await anyio.to_thread.run_sync(body_problem, body, join, limiter=self.checks)
        if problem is None and join:
            problem = self._join_problem(payload)
        if problem is None and self.waiting() >= self.queue_max_size:
            problem = BUSY
        return body, payload if isinstance(payload, dict) else {}, problem

    def _join_problem(self, payload: dict) -> tuple | None:
        fn_index = payload.get("fn_index")
        if isinstance(fn_index, bool) or not isinstance(fn_index, int) or fn_index not in self.fns:
            return 422, "invalid_field", "fn_index names no function of this app (see /config)", "fn_index"
        session = payload["session_hash"]
        if self.pending(session) >= self.session_max_events:
            return 429, "too_many_events", (
                f"this session already has {self.session_max_events} unfinished requests: wait for their answers"
            ), "session_hash"
        return None

    def stream_session(self, path: str, query: bytes) -> str | None:
        """The session an event stream (`queue/data`, `call/<api>/<event_id>`)
        reads, as Gradio resolves it; None for other routes."""
        queue = getattr(self.blocks, "_queue", None)
        if queue is None:
            return None
        if path == f"{API}/queue/data":
            sessions = parse_qs(query.decode("latin-1")).get("session_hash")
            return sessions[0] if sessions else None  # none: Gradio's own 422, before any stream
        if path.startswith(f"{API}/call/"):
            event_id = path.rsplit("/", 1)[1]
            event = queue.event_ids_to_events.get(event_id)
            return event.session_hash if event is not None else next(
                (s for s, ids in queue.pending_event_ids_session.items() if event_id in ids), event_id)
        return None

    def unknown_stream(self, session: str) -> bool:
        """A stream Gradio would open and then abort with a 404 (its
        queue_data_helper's own test, made before the response starts)."""
        return session not in self.blocks._queue.pending_messages_per_session

    # Gradio keeps no public count of these: both read its queue (`_queue`),
    # and tests/test_security.py fails if that moves.
    def pending(self, session: str) -> int:
        """Events of a session not yet delivered to it."""
        table = getattr(getattr(self.blocks, "_queue", None), "pending_event_ids_session", None) or {}
        return len(table.get(session, ()))

    def waiting(self) -> int:
        """Events waiting in the queue (not yet running)."""
        queue = getattr(self.blocks, "_queue", None)
        return len(queue) if queue is not None else 0


CHECK_THREADS = 4


def body_problem(body: bytes, join: bool) -> tuple[dict | None, tuple | None]:
    """The parsed event body and what is wrong with it (or None): the work
    done off the event loop, in proportion to the number of values."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None, (400, "invalid_json", "the body is not valid JSON: send a JSON object like {\"data\": [...]}", "body")
    if not isinstance(payload, dict):
        return None, (422, "invalid_body", "the body must be a JSON object like {\"data\": [...]}", "body")
    problem = file_data_problem(payload)
    if problem is not None:
        return payload, (422, "file_data_refused", f"{problem}: this app takes no files, only text", "data")
    return payload, field_problem(payload, join)


def field_problem(payload: dict, join: bool) -> tuple | None:
    """The fields Gradio reads (its PredictBody), checked with the API's error
    shape rather than FastAPI's, and stricter: Gradio would coerce "0" to 0."""
    if not isinstance(payload.get("data"), list):
        return 422, "invalid_field", "data must be a list of the function's inputs", "data"
    session = payload.get("session_hash")
    if (join or session is not None) and not (isinstance(session, str) and SESSION_RE.fullmatch(session)):
        return 422, "invalid_field", "session_hash must be 1-64 letters, digits, '-' or '_'", "session_hash"
    event_id = payload.get("event_id")
    if event_id is not None and not (isinstance(event_id, str) and SESSION_RE.fullmatch(event_id)):
        return 422, "invalid_field", "event_id must be 1-64 letters, digits, '-' or '_', or null", "event_id"
    trigger = payload.get("trigger_id")
    if trigger is not None and (isinstance(trigger, bool) or not isinstance(trigger, int)):
        return 422, "invalid_field", "trigger_id must be an integer or null", "trigger_id"
    for name in ("simple_format", "batched"):
        if payload.get(name) not in (None, False) and not (name == "simple_format" and payload[name] is True):
            return 422, "invalid_field", f"{name} must be false (this app's functions take one input at a time)", name
    if payload.get("oauth_token") is not None:
        return 422, "invalid_field", "oauth_token must be null: this app has no sign-in", "oauth_token"
    try:  # a lone surrogate ("\ud800") could not be encoded on the way back
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return 422, "invalid_text", "the payload holds a lone surrogate (\\ud800-\\udfff): send valid Unicode text", "data"
    except RecursionError:
        return 422, "invalid_body", "the payload is nested too deeply", "data"
    return None


BUSY = (429, "queue_full", "the server is busy answering other questions: retry in a few seconds")


def _busy_as_429(send):
    """Gradio's own "queue full" (503, its shape) as the guard's 429."""
    replaced = False

    async def wrapped(message):
        nonlocal replaced
        if message["type"] == "http.response.start" and message["status"] == 503:
            replaced = True
            status, code, text = BUSY
            return await send_error(send, status, code, text, None, {"Retry-After": "2"})
        if not replaced:
            await send(message)

    return wrapped


def _event_id_into(accepted: list[str], send):
    """`send` that notes the event id of an accepted join (Gradio answers
    `{"event_id": ...}` with 200), so the event is counted as its client's."""
    status = 0

    async def wrapped(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and status == 200 and not accepted:
            try:
                event_id = json.loads(message.get("body") or b"{}").get("event_id")
            except (ValueError, AttributeError):
                event_id = None
            if isinstance(event_id, str):
                accepted.append(event_id)
        await send(message)

    return wrapped


def file_data_problem(payload) -> str | None:
    """Where the payload carries a dict Gradio could treat as a file (a
    "path", "url" or "meta" key, at any depth), or None. Iterative: a deeply
    nested payload cannot exhaust the stack."""
    stack = [(payload, "body")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            for key in FILE_KEYS:
                if key in value:
                    return f"{where} has a {key!r} key"
            stack.extend((v, f"{where}.{_label(k)}") for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(value))
    return None


def _label(key) -> str:
    """A key of the client's payload, shown safely (short, word characters only)."""
    text = str(key)
    return text if re.fullmatch(r"\w{1,30}", text) else "…"


class OneLineGradioErrors(logging.Filter):
    """uvicorn's "Exception in ASGI application" for a Gradio stream that
    ended in an HTTPException after it started (a session dropped mid-stream):
    one line instead of the traceback. Other errors keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, RuntimeError) and "response already started" in str(exc):
            cause = exc.__cause__ or exc.__context__
            if type(cause).__name__ == "HTTPException":
                record.msg = "traite-qa: a Gradio event stream ended with %s after it started (no traceback: not a bug here)"
                record.args = (f"HTTP {getattr(cause, 'status_code', '?')}",)
                record.exc_info = None
                record.exc_text = None
        return True


def install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, OneLineGradioErrors) for f in logger.filters):
        logger.addFilter(OneLineGradioErrors())
