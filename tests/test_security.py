"""Issue 10's findings, each reproduced the way an attacker reaches the app:
a real `traite-qa chat` in a subprocess on 127.0.0.1, driven with raw httpx
requests and sockets (no gradio_client, no browser).

One server serves the module (short read timeout and turn cap so the tests
stay quick); the freeze/SIGTERM and start-up tests start their own.
Every test here fails on the code before the fix (checked on commit 407eb44).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import live

pytestmark = [pytest.mark.server, pytest.mark.slow]
OUT = Path(__file__).parent / "out"
READ_TIMEOUT = 2  # seconds (TRAITE_QA_READ_TIMEOUT of the module's server)
MAX_TURNS = 4
SERVER_ENV = {"TRAITE_QA_READ_TIMEOUT": str(READ_TIMEOUT), "TRAITE_QA_MAX_CHAT_TURNS": str(MAX_TURNS)}
PASSWD = "root:x:0:0"
CACHE_PATH = re.compile(r"gradio[/\\][0-9a-f]{20,}|/tmp/|gradio-tmp")
FILE_URL = re.compile(r"/gradio_api/file=[^\"'\s\\]+")


@pytest.fixture(scope="module")
def server(index_settings):
    srv = live.start(index_settings.index_dir, OUT, env=SERVER_ENV)
    yield srv
    live.stop(srv)


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def canary(tmp_path_factory) -> tuple[Path, str]:
    """A file only this test knows the content of."""
    secret = f"TQA-CANARY-{uuid.uuid4().hex}"
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    path.write_text(secret, encoding="utf-8")
    return path, secret


@pytest.fixture(scope="module")
def fns(http) -> dict[str, dict]:
    """The page's Gradio functions by api_name (fn_index = "id")."""
    config = http.get("/config").json()
    return {d["api_name"]: d for d in config["dependencies"] if d.get("api_name")}


# ---------------------------------------------------------------- helpers
def file_data(path: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


def read_events(client: httpx.Client, url: str, until: tuple[str, ...], timeout: float = 30.0, params=None) -> list[str]:
    """The raw lines of an event stream, until a line contains one of `until`
    (or to its end when `until` is empty)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    found = False
    try:
        with client.stream("GET", url, params=params, timeout=timeout) as response:
            for line in response.iter_lines():
                lines.append(line)
                found = found or any(marker in line for marker in until)
                # An "event: error" line is followed by its data line: keep that too.
                if (found and line.startswith("data:")) or time.monotonic() > deadline:
                    break
    except httpx.HTTPError as err:
        lines.append(f"<{type(err).__name__}>")
    return lines


def call(client: httpx.Client, api: str, data: list) -> tuple[httpx.Response, list[str]]:
    """POST /gradio_api/call/<api>, then (if accepted) its result stream."""
    response = client.post(f"/gradio_api/call/{api}", json={"data": data})
    if response.status_code != 200:
        return response, []
    event = response.json()["event_id"]
    return response, read_events(client, f"/gradio_api/call/{api}/{event}", ("event: complete", "event: error"))


def join(client: httpx.Client, fn: dict, data: list, session: str | None = None, read: bool = True) -> tuple[httpx.Response, list[str]]:
    """POST /gradio_api/queue/join like the page does, then its session's stream."""
    session = session or uuid.uuid4().hex[:12]
    body = {"data": data, "fn_index": fn["id"], "session_hash": session, "event_data": None,
            "trigger_id": fn["targets"][0][0] if fn.get("targets") else None}
    response = client.post("/gradio_api/queue/join", json=body)
    if response.status_code != 200 or not read:
        return response, []
    return response, read_events(client, "/gradio_api/queue/data", ('"process_completed"',), params={"session_hash": session})


def get_briefly(client: httpx.Client, path: str, seconds: float = 3.0) -> tuple[int, str]:
    """GET, reading the body for at most `seconds` (some routes stream forever)."""
    body = b""
    deadline = time.monotonic() + seconds
    with client.stream("GET", path, timeout=seconds) as response:
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if time.monotonic() > deadline or len(body) > 100_000:
                    break
        except httpx.ReadTimeout:
            pass
    return response.status_code, body.decode("utf-8", "replace")


def served_files(client: httpx.Client, texts: list[str]) -> list[str]:
    """Whatever the server serves at the /gradio_api/file= URLs it leaked."""
    contents = []
    for url in set(FILE_URL.findall("\n".join(texts))):
        contents.append(client.get(url).text)
    return contents


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def files_under(folder: Path | None) -> set[str]:
    if folder is None or not folder.exists():
        return set()
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def assert_refused_as_file(response: httpx.Response, texts: list[str], client, secret: str) -> None:
    leaked = served_files(client, texts)
    everything = response.text + "\n".join(texts) + "\n".join(leaked)
    assert secret not in everything and PASSWD not in everything, f"file content came back: {everything[:400]}"
    assert not CACHE_PATH.search(everything), f"a server path leaked: {everything[:400]}"
    assert response.status_code == 422, f"{response.status_code}: {response.text[:300]}"
    assert response.json()["error"]["code"] == "file_data_refused"


# ----------------------------------------------------- 1. file read (critical)
@pytest.mark.parametrize("target", ["canary", "/etc/passwd"])
def test_file_read_through_call_ask_is_refused(http, canary, target):
    path = str(canary[0]) if target == "canary" else target
    response, texts = call(http, "ask", ["x", None, file_data(path), None])  # the axis argument
    assert_refused_as_file(response, texts, http, canary[1])


def test_file_read_through_call_search_is_refused(http, canary):
    response, texts = call(http, "search", ["mesure 16", 3, None, None, file_data(str(canary[0]))])  # the kind argument
    assert_refused_as_file(response, texts, http, canary[1])


@pytest.mark.parametrize(
    "shape",
    [
        "filedata",  # Gradio's FileData
        "legacy",  # {"path": ...}: what Gradio <= 4.20 took as a file
        "url",  # a "url" key alone
        "nested",  # deep inside the history argument
    ],
)
def test_file_read_through_queue_join_is_refused(http, fns, canary, shape):
    path = str(canary[0])
    value = {
        "filedata": file_data(path),
        "legacy": {"path": path},
        "url": {"url": f"file://{path}"},
        "nested": [{"role": "user", "content": [{"type": "file", "file": file_data(path)}]}],
    }[shape]
    data = ["Où en est la mesure 16 ?", None, value, ""] if shape != "nested" else [value, None, "", ""]
    response, texts = join(http, fns["chat"], data)
    assert_refused_as_file(response, texts, http, canary[1])


def test_file_read_through_the_chat_question_is_refused(http, fns, canary):
    # The chat bubble used to render str(question): a FileData question showed its cache path.
    response, texts = join(http, fns["chat"], [file_data(str(canary[0])), None, "", ""])
    assert_refused_as_file(response, texts, http, canary[1])


# ------------------------------------------------- 6. uploads, deep links...
def test_upload_is_refused_and_nothing_is_written(http, server):
    before = files_under(server.gradio_tmp)
    response = http.post("/gradio_api/upload", files={"files": ("a.txt", b"A" * 200_000, "text/plain")})
    assert response.status_code in (404, 413), response.text[:200]
    assert "gradio" not in response.text.lower() or response.headers["content-type"].startswith("application/json")
    # An aborted upload: a 5 MB multipart announced, 100 kB sent, then the connection dropped.
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        head = (f"POST /gradio_api/upload?upload_id=x HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 5000000\r\n\r\n")
        sock.sendall(head.encode() + b'--b\r\nContent-Disposition: form-data; name="files"; filename="z.bin"\r\n\r\n' + b"Z" * 100_000)
    time.sleep(1.0)
    assert files_under(server.gradio_tmp) == before, "Gradio's temp dir changed"


@pytest.mark.parametrize(
    "path",
    ["/gradio_api/deep_link?session_hash=abc", "/?deep_link=abc", "/gradio_api/dev/reload", "/monitoring", "/monitoring/summary",
     "/gradio_api/runs", "/gradio_api/run/ask", "/gradio_api/api/ask", "/gradio_api/upload_progress?upload_id=x",
     "/gradio_api/file=/etc/passwd", "/gradio_api/proxy=http://example.org/", "/gradio_api/mcp/sse", "/gradio_api/startup-events"],
)
def test_unused_gradio_routes_are_closed(http, server, path):
    before = files_under(server.gradio_tmp)
    status, text = get_briefly(http, path)  # dev/reload was an endless event stream
    assert status == 404, f"{path}: {status} {text[:200]}"
    assert json.loads(text)["error"]["code"] == "not_found"
    assert PASSWD not in text
    assert files_under(server.gradio_tmp) == before


@pytest.mark.parametrize("target", ["/assets/../../../../etc/passwd", "/static/..%2f..%2f..%2f..%2fetc/passwd",
                                    "/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/static/..\\..\\etc\\passwd"])
def test_asset_paths_cannot_climb_out(server, target):
    status, _, body = raw_get(server.port, target)
    assert status in (400, 404) and PASSWD.encode() not in body, (status, body[:200])


# ---------------------------------------------------- 5. Host, CORS, proxy
@pytest.mark.parametrize("path", ["/", "/config", "/healthz", "/api/measures", "/gradio_api/info", "/docs"])
def test_a_foreign_host_header_is_refused(http, server, path):
    response = http.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 400, f"{path} served to Host: evil.example ({response.status_code})"
    assert response.json()["error"]["code"] == "invalid_host"
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}"):
        assert http.get(path, headers={"Host": host}).status_code == 200


def test_no_credentialed_cors_and_foreign_origins_are_refused(http, server):
    evil = {"Origin": "http://evil.example"}
    for method, path in [("GET", "/config"), ("GET", "/api/measures"), ("POST", "/gradio_api/queue/join")]:
        response = http.request(method, path, headers=evil, json={} if method == "POST" else None)
        assert "access-control-allow-credentials" not in response.headers
        assert "access-control-allow-origin" not in response.headers
        assert response.status_code == 403, f"{method} {path} from evil.example: {response.status_code}"
    preflight = http.options("/gradio_api/queue/join", headers={**evil, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    same = http.get("/config", headers={"Origin": server.url})
    assert same.status_code == 200
    assert not any(h.startswith("access-control-") for h in same.headers)


def test_x_forwarded_headers_are_ignored_without_a_trusted_proxy(http):
    response = http.get("/config", headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert "evil.example" not in response.text and "https://" not in response.json().get("root", "")


# --------------------------------------------------------- 6. bounded input
BIG = 5 * 1024 * 1024


@pytest.mark.parametrize("path", ["/gradio_api/call/ask", "/gradio_api/queue/join", "/gradio_api/upload", "/", "/api/ask"])
def test_big_bodies_are_refused_on_every_route(http, path):
    started = time.monotonic()
    body = b'{"data": ["' + b"a" * BIG + b'"]}'
    response = http.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413, f"{path}: {response.status_code}"
    assert response.json()["error"]["code"] == "body_too_large"
    assert time.monotonic() - started < 5


def test_a_chunked_big_body_is_refused(http):
    def chunks():
        for _ in range(BIG // 65536):
            yield b"a" * 65536

    response = http.post("/gradio_api/call/ask", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_big_unfinished_headers_cost_little_memory(server):
    """100 connections each trying to send a 1 MB header: the server stops
    reading at its header limit (64 KiB) instead of buffering 4 MiB each."""
    # /healthz answers once the index is loaded, before the query encoder is:
    # one retrieval question first, so its loading is not counted below.
    warm = httpx.post(server.url + "/api/ask", json={"question": "formation des magistrats"}, timeout=120)
    assert warm.status_code == 200
    before = rss_kib(server.process.pid)

    def open_and_stuff(_):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        try:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Pad: ".encode() + b"a" * 1_000_000)
        except OSError:
            pass  # the server refused the head and closed: what we want
        return sock

    with ThreadPoolExecutor(20) as pool:
        sockets = list(pool.map(open_and_stuff, range(100)))
    time.sleep(0.5)
    grown = rss_kib(server.process.pid) - before
    for sock in sockets:
        sock.close()
    assert grown < 40 * 1024, f"RSS grew by {grown // 1024} MiB for 100 unfinished 1 MB headers"


def test_slow_unfinished_headers_are_timed_out(server, http):
    """50 connections that start a request and stall: closed after the read timeout."""
    sockets = []
    for _ in range(50):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Slow: ".encode())
        sockets.append(sock)
    assert http.get("/healthz").status_code == 200  # others are still served meanwhile
    deadline = time.monotonic() + READ_TIMEOUT + 4
    still_open = 0
    for sock in sockets:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(4096)  # b"" (closed) or a 408 reply, then closed
            assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:100]
        except (socket.timeout, TimeoutError):
            still_open += 1
        finally:
            sock.close()
    assert still_open == 0, f"{still_open} of 50 stalled connections still open {READ_TIMEOUT + 4} s later"


# ----------------------------------------------------- 8. 5xx and starvation
def raw_get(port: int, target: str, method: str = "GET") -> tuple[int, dict, bytes]:
    """One request on a raw socket (httpx refuses URLs this long)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize("path", ["/", "/config", "/gradio_api/runs", "/gradio_api/info", "/healthz", "/api/measures", "/api/search"])
@pytest.mark.parametrize("length", [60_000, 66_000])
def test_long_query_strings_never_give_a_5xx(server, path, length):
    status, headers, body = raw_get(server.port, f"{path}?q={'x' * length}")
    assert status < 500, f"{path} with a {length}-character query: {status} {body[:200]!r}"
    assert headers.get("content-type", "").startswith("application/json"), headers
    if status != 200:  # our JSON routes ignore an unknown parameter; the others refuse it
        assert json.loads(body)["error"]["code"]


@pytest.mark.parametrize("fn_index", [9999, -1, "0", True, None, 1.5, 10**30])
def test_queue_join_with_a_bad_fn_index_is_a_4xx(http, fn_index):
    response = http.post("/gradio_api/queue/join", json={"data": [], "fn_index": fn_index, "session_hash": "abc", "event_data": None})
    assert response.status_code == 422, f"fn_index={fn_index!r}: {response.status_code} {response.text[:200]}"
    assert response.json()["error"]["field"] == "fn_index"


def test_one_session_cannot_hold_many_events(http, fns):
    session = uuid.uuid4().hex[:12]
    codes = [join(http, fns["chat"], [f"mesure {i}", None, "", ""], session=session, read=False)[0].status_code for i in range(1, 5)]
    assert codes[:2] == [200, 200] and codes[2:] == [429, 429], codes
    # Reading the session's stream to its end delivers both answers: the session may ask again.
    read_events(http, "/gradio_api/queue/data", (), params={"session_hash": session}, timeout=20)
    assert join(http, fns["chat"], ["mesure 3", None, "", ""], session=session)[0].status_code == 200


def test_a_queue_flood_does_not_starve_a_real_chat_turn(server, fns):
    """300 anonymous joins (one session each), then one real chat turn:
    answered within seconds (before: 15 s behind them)."""
    chat = fns["chat"]

    def flood(i):
        with httpx.Client(base_url=server.url, timeout=30) as client:
            return join(client, chat, [f"Où en est la mesure {i % 45 + 1} ?", None, "", ""], read=False)[0].status_code

    with ThreadPoolExecutor(32) as pool:
        codes = Counter(pool.map(flood, range(300)))
    assert set(codes) <= {200, 429}, codes
    flooded = time.monotonic()
    answer = ""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        while time.monotonic() - flooded < 30:
            response, lines = join(client, chat, ["Où en est la mesure 16 ?", None, "", ""])
            if response.status_code == 429:
                time.sleep(0.5)
                continue
            answer = "\n".join(lines)
            break
    elapsed = time.monotonic() - flooded
    assert "Non réalisée" in answer, answer[-500:]
    assert elapsed < 10, f"a real chat turn took {elapsed:.1f} s after 300 joins ({dict(codes)})"


# --------------------------------------------------- chat caps (server side)
def chat_turn(client: httpx.Client, fns, session: str, question: str) -> str:
    """One chat turn in `session`; the final conversation HTML."""
    response, lines = join(client, fns["chat"], [question, None, "", ""], session=session)
    assert response.status_code == 200, response.text[:200]
    done = next(json.loads(line[5:]) for line in reversed(lines) if line.startswith("data:") and "process_completed" in line)
    return done["output"]["data"][1]


def test_a_refused_huge_question_is_not_kept(http, fns):
    session = uuid.uuid4().hex[:12]
    # Just under the 64 KiB cap on Gradio's bodies (larger ones get 413 at the edge: test_abuse.py).
    huge = "Où en est la mesure 16 ? " + "x" * 60_000
    first = chat_turn(http, fns, session, huge)
    assert len(first) < 5_000, f"the conversation re-renders the {len(huge)}-character question ({len(first)} chars)"
    assert "la limite est de 2000" in first
    second = chat_turn(http, fns, session, "Où en est la mesure 3 ?")
    assert len(second) < 20_000 and "x" * 200 not in second


def test_a_chat_session_keeps_a_bounded_number_of_turns(http, fns):
    session = uuid.uuid4().hex[:12]
    for number in range(1, MAX_TURNS + 3):
        conversation = chat_turn(http, fns, session, f"Où en est la mesure {number} ?")
    asked = re.findall(r'<div class="tqa-msg tqa-user"><div class="tqa-bubble">([^<]*)</div>', conversation)
    assert asked == [f"Où en est la mesure {n} ?" for n in range(3, MAX_TURNS + 3)], asked


# ------------------------------------------------------------- 9. hygiene
def assert_security_headers(headers, where: str) -> None:
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, f"{where}: no frame-ancestors ({csp!r})"
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy"), where


@pytest.mark.parametrize(
    "method, path, status",
    [("GET", "/", 200), ("GET", "/config", 200), ("GET", "/healthz", 200), ("GET", "/api/measures", 200), ("GET", "/docs", 200),
     ("GET", "/openapi.json", 200), ("GET", "/static/traite-qa/chat.js", 200), ("GET", "/theme.css", 200),
     ("GET", "/gradio_api/info", 200), ("GET", "/nothing-here", 404), ("GET", "/api/nothing", 404), ("POST", "/healthz", 405),
     ("GET", "/api/search", 422)],
)
def test_security_headers_on_every_response(http, method, path, status):
    response = http.request(method, path)
    assert response.status_code == status
    assert_security_headers(response.headers, f"{method} {path}")


def test_security_headers_on_edge_refusals(http, server):
    assert_security_headers(http.get("/", headers={"Host": "evil.example"}).headers, "invalid host")
    assert_security_headers(http.post("/api/ask", content=b"x" * (2 * 1024 * 1024)).headers, "413")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        reply = sock.recv(65536).decode("latin-1")
    assert reply.startswith("HTTP/1.1 400"), reply[:100]
    assert "frame-ancestors 'none'" in reply and "nosniff" in reply
    assert json.loads(reply.partition("\r\n\r\n")[2])["error"]["code"] == "bad_request"


@pytest.mark.parametrize("path", ["/healthz", "/", "/config", "/api/measures", "/api/measures/16", "/docs", "/openapi.json",
                                  "/static/traite-qa/style.css", "/theme.css"])
def test_head_works_where_get_does(http, path):
    get = http.get(path)
    head = http.head(path)
    assert head.status_code == get.status_code == 200, f"HEAD {path}: {head.status_code}"
    assert head.content == b""
    assert head.headers.get("content-type") == get.headers.get("content-type")
    assert_security_headers(head.headers, f"HEAD {path}")


def test_head_on_an_event_stream_returns(server):
    status, headers, body = raw_get(server.port, "/gradio_api/queue/data?session_hash=abc", method="HEAD")
    # An unknown session: the guard's 404 (issue 23), without a body, at once.
    assert status == 404 and body == b""


@pytest.mark.parametrize("api, data, secret", [
    ("ask", ["x", None, "zzz-axis-canary", None], "zzz-axis-canary"),
    ("ask", ["x", None, {"nested": "zzz-dict-canary"}, None], "zzz-dict-canary"),
    ("ask", ["x", None, None, "zzz-status-canary"], "zzz-status-canary"),
    ("search", ["mesure 16", "zzz-k-canary", None, None, None], "zzz-k-canary"),
    ("search", ["mesure 16", 3, None, None, "zzz-kind-canary"], "zzz-kind-canary"),
    ("ask", [["zzz-question-canary"], None, None, None], "zzz-question-canary"),
])
def test_gradio_errors_do_not_echo_client_values(http, api, data, secret):
    response, lines = call(http, api, data)
    text = response.text + "\n".join(lines)
    assert response.status_code == 200 and any("event: error" in line for line in lines), text[:300]
    assert secret not in text, f"the error echoes the client's value: {text[:300]}"
    assert "{'" not in text and "[\'" not in text  # no Python repr of anything


# ------------------------------------------------- 2. /dev/zero and SIGTERM
@pytest.fixture
def own_server(index_settings):
    """A fresh server for this test only (it is stopped by the test)."""
    srv = live.start(index_settings.index_dir, OUT, until="page")
    yield srv
    if srv.process.poll() is None:
        srv.process.kill()
        srv.process.wait(timeout=10)


def test_api_answers_at_once_while_the_model_loads(own_server):
    """A burst at start-up gets 503 index_loading at once instead of holding
    a worker thread until the model is loaded."""
    seen = Counter()
    with httpx.Client(base_url=own_server.url, timeout=60) as client:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            started = time.monotonic()
            response = client.post("/api/ask", json={"question": "Où en est la mesure 16 ?"})
            elapsed = time.monotonic() - started
            seen[response.status_code] += 1
            if response.status_code == 200:
                # The first answer may wait for the query encoder's warm-up (the
                # index is served first); what must never wait is the refusal.
                break
            assert response.status_code == 503 and response.json()["error"]["code"] == "index_loading"
            assert elapsed < 2, f"/api/ask waited {elapsed:.1f} s before saying the index is loading"
            time.sleep(0.2)
    assert seen[200] == 1, seen
    assert seen[503] >= 1, f"the model loaded before the first request could see it loading: {seen}"


def test_dev_zero_does_not_freeze_the_server_and_sigterm_stops_it(own_server):
    with httpx.Client(base_url=own_server.url, timeout=10) as client:
        live_fns = {d["api_name"]: d for d in client.get("/config").json()["dependencies"] if d.get("api_name")}
        for send in (lambda: call(client, "ask", ["x", None, file_data("/dev/zero"), None]),
                     lambda: join(client, live_fns["chat"], [file_data("/dev/zero"), None, "", ""])):
            try:
                send()
            except httpx.HTTPError:
                pass  # a frozen server times out here; the checks below say so
        for _ in range(3):
            started = time.monotonic()
            try:
                status = client.get("/healthz", timeout=5).status_code
            except httpx.HTTPError as err:
                pytest.fail(f"the server froze after a /dev/zero payload: {type(err).__name__}")
            assert status in (200, 503) and time.monotonic() - started < 5
            time.sleep(0.3)
    own_server.process.send_signal(signal.SIGTERM)
    try:
        own_server.process.wait(timeout=15)
    except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: reported below
        pytest.fail("SIGTERM did not stop the server within 15 s")
