"""Issue 23's event-loop, session and memory findings, each reproduced the
way an attacker reaches the app: a real `traite-qa chat` (or the documented
`uvicorn --workers` command) on 127.0.0.1, raw httpx requests and sockets.

Every test here fails on the code before the fix (checked by stashing it).
The figures themselves (how long, how many MB) are printed by
`python -m eval.abuse`, not asserted beyond the issue's "done when".
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import live

pytestmark = [pytest.mark.server, pytest.mark.slow]
OUT = Path(__file__).parent / "out"
ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(index_settings):
    srv = live.start(index_settings.index_dir, OUT)
    # /healthz answers once the index is loaded; the query encoder loads
    # after (holding the interpreter for a while): one retrieval question
    # first, so that load is not mistaken for what a test measures.
    httpx.post(srv.url + "/api/ask", json={"question": "formation des magistrats"}, timeout=120)
    yield srv
    live.stop(srv)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def empty_lists_body(size: int = MIB) -> bytes:
    """{"data": [[], [], ...]}: the most values per byte (~349,000 in 1 MiB)."""
    count = (size - len(b'{"data":[]}') + 1) // 3
    return b'{"data":[' + b",".join([b"[]"] * count) + b"]}"


# ------------------------------------------------------- 1. the event loop
def test_healthz_answers_while_20_clients_send_1_mib_of_empty_lists(server):
    body = empty_lists_body()
    assert len(body) <= MIB and body.count(b"[]") > 340_000
    stop = threading.Event()
    statuses: list[int] = []

    def flood():
        with httpx.Client(base_url=server.url, timeout=60) as client:
            while not stop.is_set():
                try:
                    statuses.append(client.post("/gradio_api/call/ask", content=body,
                                                headers={"content-type": "application/json"}).status_code)
                except httpx.HTTPError:
                    statuses.append(0)  # the server answered 413 and closed before the body was sent

    threads = [threading.Thread(target=flood, daemon=True) for _ in range(20)]
    for thread in threads:
        thread.start()
    waits = []
    try:
        time.sleep(1.0)  # the flood is under way
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for _ in range(15):
                started = time.monotonic()
                assert client.get("/healthz").status_code == 200
                waits.append(time.monotonic() - started)
                time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert len(statuses) >= 20
    # Before the fix the loop parsed each body (1.2-1.5 s apiece) and /healthz
    # waited 11.7-18.2 s. Fixed, it waits ~0.03 s; but this test shares 2 cores
    # with 20 flood threads, the server and another xdist worker, and one CI
    # run (b6a1f16) saw a single wait of 0.70 s at p50 0.03 s. So the median
    # says the loop is free, and the max keeps a margin both ways (3x the worst
    # seen, 6x under the unfixed stall). The 0.5 s target is measured
    # alone by `python -m eval.abuse`, not on a shared machine.
    median = sorted(waits)[len(waits) // 2]
    assert median < 0.25 and max(waits) < 2.0, f"/healthz took up to {max(waits):.2f} s (p50 {median:.2f} s)"
    assert set(statuses) <= {413, 0}, f"1 MiB Gradio bodies got {sorted(set(statuses))}"


def test_event_bodies_are_capped_near_what_the_page_sends(server):
    """64 KiB on Gradio's routes (the page sends a few KB), 1 MiB still on /api/."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for path in ("/gradio_api/call/ask", "/gradio_api/queue/join"):
            big = client.post(path, content=b'{"data": ["' + b"a" * (70 * 1024) + b'"]}', headers={"content-type": "application/json"})
            assert big.status_code == 413, path
            assert "64 KiB" in big.json()["error"]["message"]
        fine = client.post("/gradio_api/call/ask", json={"data": ["Où en est la mesure 16 ?", [], None, None]})
        assert fine.status_code == 200, fine.text
        api = client.post("/api/ask", json={"question": "Où en est la mesure 16 ?", "history": [{"role": "user", "content": "x" * 1500}] * 40})
        assert api.status_code != 413


def test_healthz_is_served_off_the_thread_pool(server):
    """The route is a coroutine: it never waits for a worker thread, which
    every question of a busy server may hold (issue 23: p50 0.88 s under 50
    concurrent asks)."""
    openapi = httpx.get(server.url + "/openapi.json").json()
    assert "/healthz" in openapi["paths"]
    code = (ROOT / "app" / "api.py").read_text(encoding="utf-8")
    assert re.search(r'@router\.get\("/healthz".*\n\s+async def healthz\(', code), "/healthz is a plain def: it runs in the thread pool"


def test_healthz_answers_while_50_clients_ask(server):
    """50 clients asking distinct questions fill the API's thread pool;
    /healthz does not queue behind them (issue 23: p50 0.88 s). Measured
    here: p50 8 ms; 0.27 s with /healthz a plain def (in that pool)."""
    stop = threading.Event()
    asked = []

    def ask(i):
        with httpx.Client(base_url=server.url, timeout=120) as client:
            n = 0
            while not stop.is_set():
                asked.append(client.post("/api/ask", json={"question": f"Que fait la Miprof pour les victimes {i} {n} ?"}).status_code)
                n += 1

    threads = [threading.Thread(target=ask, args=(i,), daemon=True) for i in range(50)]
    for thread in threads:
        thread.start()
    waits = []
    try:
        time.sleep(2.0)  # every thread of the pool is taken
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for _ in range(15):
                started = time.monotonic()
                assert client.get("/healthz").status_code == 200
                waits.append(time.monotonic() - started)
                time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    p50 = sorted(waits)[len(waits) // 2]
    print(f"/healthz under 50 asking clients: p50 {p50:.3f} s, max {max(waits):.3f} s; {len(asked)} answers")
    assert set(asked) == {200} and len(asked) >= 50, f"{len(asked)} asks, statuses {sorted(set(asked))}"
    assert p50 < 0.1, f"/healthz p50 {p50:.2f} s (max {max(waits):.2f} s) under 50 asking clients"


# ---------------------------------------------------------- 2. sessions
def _restore_fn(config: dict) -> tuple[int, int]:
    """(fn_index, trigger id) of the page's hidden "Restaurer" button."""
    ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
    saved, go = ids["tqa-restore"], ids["tqa-restore-go"]
    for dep in config["dependencies"]:
        if dep["inputs"] and dep["inputs"][0] == saved and any(t[0] == go for t in dep["targets"]):
            return dep["id"], go
    raise AssertionError("no restore event in /config")


def _conversation(size: int) -> str:
    """A saved conversation of about `size` bytes: 20 turns, long answers."""
    per_turn = max(100, size // 20 - 300)
    turns = [{"question": f"Question {i} ?", "answer": {"answer": "é" * (per_turn // 2), "status": "answered", "citations": [],
                                                      "answer_id": f"a{i:020d}"}} for i in range(20)]
    return json.dumps(turns, ensure_ascii=False)


def _restore(client: httpx.Client, fn: int, trigger: int, payload: str) -> int:
    """The restore event in a new session, as the page sends it; returns its
    HTTP status (and waits for the event to finish when it was accepted)."""
    session = uuid.uuid4().hex[:16]
    body = {"data": [payload, None], "fn_index": fn, "session_hash": session, "event_data": None, "trigger_id": trigger}
    # As the page's JSON.stringify: non-ASCII text as UTF-8, not \u escapes.
    response = client.post("/gradio_api/queue/join", content=json.dumps(body, ensure_ascii=False).encode(),
                           headers={"content-type": "application/json"})
    if response.status_code == 200:
        with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}, timeout=60) as stream:
            for line in stream.iter_lines():
                if "process_completed" in line:
                    assert '"success":true' in line.replace(" ", ""), line[:300]
                    break
    return response.status_code


def test_restored_sessions_are_bounded(server):
    """200 sessions restored with 1 MB conversations, then 200 with the
    largest the page sends: RSS grows by at most 100 MB in all."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        fn, trigger = _restore_fn(client.get("/config").json())
        small = _conversation(30 * 1024)
        assert _restore(client, fn, trigger, small) == 200  # warm: the first render loads the views
        before = rss_mib(server.process.pid)
        big = _conversation(MIB)
        assert len(big.encode()) >= MIB * 0.95

        def one(payload):
            with httpx.Client(base_url=server.url, timeout=60) as c:
                return _restore(c, fn, trigger, payload)

        with ThreadPoolExecutor(4) as pool:
            big_statuses = list(pool.map(one, [big] * 200))
            small_statuses = list(pool.map(one, [small] * 200))
        grown = rss_mib(server.process.pid) - before
    assert set(big_statuses) == {413}, f"1 MB restores got {sorted(set(big_statuses))}"
    assert set(small_statuses) == {200}
    assert grown <= 100, f"RSS grew by {grown:.0f} MB after 400 restored sessions"


def test_a_big_restored_conversation_is_refused_by_the_handler():
    """Under the body cap too (a larger cap set by an operator): the handler
    restores nothing over RESTORE_MAX_BYTES, and the page never sends more."""
    from traite_qa_app import chat

    ok = _conversation(30 * 1024)
    assert len(chat.parse_saved(ok, 50, 2000)) == 20
    assert chat.parse_saved(_conversation(40 * 1024), 50, 2000) == []
    script = (ROOT / "app" / "chat.js").read_text(encoding="utf-8")
    assert f"MAX_RESTORE_BYTES = {chat.RESTORE_MAX_BYTES};" in script


# ---------------------------------------------------- 5. unfinished bodies
def test_unfinished_bodies_are_bounded_in_all(server):
    """150 connections each send 0.9 MB of a 1 MB body and stall: the server
    holds at most its shared budget of unfinished bodies (32 MiB), not 135 MB."""
    before = rss_mib(server.process.pid)
    head = (f"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000000\r\n\r\n").encode()

    def open_and_stall(_):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        try:
            sock.sendall(head + b'{"question": "' + b"a" * 900_000)
        except OSError:
            pass  # refused (503) and closed: what we want
        return sock

    with ThreadPoolExecutor(20) as pool:
        sockets = list(pool.map(open_and_stall, range(150)))
    time.sleep(1.0)
    grown = rss_mib(server.process.pid) - before
    refused = 0  # answered 503, or closed: not held
    for sock in sockets:
        sock.settimeout(0.05)
        try:
            data = sock.recv(200)
            refused += data == b"" or data.startswith(b"HTTP/1.1 503")
        except (socket.timeout, TimeoutError):
            pass  # still held by the server
        except OSError:
            refused += 1  # reset: closed with the rest of the body unread
        sock.close()
    assert grown <= 100, f"RSS grew by {grown:.0f} MB for 150 unfinished 1 MB bodies"
    assert refused > 0


# ----------------------------------------- 6. the documented uvicorn --workers
def documented_workers_command() -> list[str]:
    text = (ROOT / "docs" / "scaling.md").read_text(encoding="utf-8")
    line = next(line.strip() for line in text.splitlines() if line.strip().startswith("uvicorn ") and "--workers" in line)
    return shlex.split(line)


def test_documented_workers_command_times_out_slow_heads(index_settings):
    """The command docs/scaling.md gives, with 2 workers: 50 connections that
    start a head and stall are closed after the read timeout."""
    command = documented_workers_command()
    command[command.index("--workers") + 1] = "2"
    command[command.index("--port") + 1] = str(port := live.free_port())
    command[command.index("--host") + 1] = "127.0.0.1"
    env = live.server_env(index_settings.index_dir, TRAITE_QA_READ_TIMEOUT="2", TRAITE_QA_HOST="127.0.0.1",
                          TRAITE_QA_PORT=str(port))
    OUT.mkdir(parents=True, exist_ok=True)
    log = open(OUT / f"workers-{port}.log", "w", encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", *command], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (OUT / f"workers-{port}.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/measures/16", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.3)
        sockets = []
        for _ in range(50):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode())
            sockets.append(sock)
        deadline = time.monotonic() + 2 + 4
        still_open = 0
        for sock in sockets:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = sock.recv(4096)
                assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:100]
            except (socket.timeout, TimeoutError):
                still_open += 1
            finally:
                sock.close()
        assert still_open == 0, f"{still_open} of 50 stalled heads still open after 6 s"
    finally:
        live.terminate(process)
        log.close()
