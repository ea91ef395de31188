"""Issue 23's "one client can saturate the chat" and "sessions are bounded
in lifetime", through a real `traite-qa chat` on 127.0.0.1.

Clients are told apart by their address, so the attacker here connects from
127.0.0.2 and the normal user from 127.0.0.3 (any 127.x address reaches a
server bound to 127.0.0.1 on Linux): the server sees two real peers, as it
would on a network.

Every test here fails on the code before the fix (checked by stashing it):
the flood took the whole queue, the slow streams every worker, and sessions
kept their state until 1,000 newer ones pushed it out.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import live
from fakes import FakeChatServer, Reply
from test_security import chat_turn, join, read_events
from traite_qa import Settings

pytestmark = [pytest.mark.server, pytest.mark.slow]
OUT = Path(__file__).parent / "out"
ATTACKER, SLOW_ATTACKER, USER = "127.0.0.2", "127.0.0.4", "127.0.0.3"
LIMIT = Settings().client_max_events  # the default, as shipped
SLOW_SECONDS = 20  # each of the attacker's generator streams
USER_SECONDS = SLOW_SECONDS / 2  # the user's turn, under either attack: ~0.05-0.8 s here, a stream's length unfixed
RETRIEVAL = "Quel est le rôle de la Miprof dans la mesure 16 ?"  # answered from passages: the generator rewords it
STRUCTURED = "Où en est la mesure 16 ?"  # the measure's status: never sent to the generator


def client(server, address: str, timeout: float = 60) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=timeout, transport=httpx.HTTPTransport(local_address=address))


def config_fns(server) -> dict[str, dict]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        config = http.get("/config").json()
    return {d["api_name"]: d for d in config["dependencies"] if d.get("api_name")}


@pytest.fixture(scope="module")
def slow_llm():
    text = "La CNCDH souligne que le mécanisme national de référence reste à créer [Mesure 16]. " * 4
    with FakeChatServer(Reply(text, pieces=20, piece_delay=SLOW_SECONDS / 20)) as fake:
        yield fake


@pytest.fixture(scope="module")
def server(index_settings, slow_llm):
    """The shipped per-client cap and queue, with a slow generator upstream."""
    env = {"TRAITE_QA_CLIENT_MAX_EVENTS": str(LIMIT), "TRAITE_QA_LLM_BASE_URL": slow_llm.base_url,
           "TRAITE_QA_LLM_MODEL": "fake", "TRAITE_QA_LLM_TIMEOUT": "10"}
    srv = live.start(index_settings.index_dir, OUT, env=env)
    yield srv
    live.stop(srv)


def timed_turn(server, fns, address: str, question: str) -> tuple[int, float, str]:
    """One chat turn from `address`: (status of its join, seconds to the answer, the answer's stream)."""
    started = time.monotonic()
    with client(server, address) as http:
        response, lines = join(http, fns["chat"], [question, None, "", ""])
    return response.status_code, time.monotonic() - started, "\n".join(lines)


def test_one_clients_join_flood_leaves_the_queue_to_others(server):
    """The attacker keeps joining (new sessions, never reading) while the user
    asks: the attacker holds LIMIT events, the user's first join is taken at
    once and answered within seconds (before: the queue stayed full, 429)."""
    fns = config_fns(server)
    stop = threading.Event()
    codes: Counter = Counter()

    def flood(i):
        with client(server, ATTACKER, timeout=30) as http:
            while not stop.is_set():
                response, _ = join(http, fns["chat"], [f"Où en est la mesure {i % 45 + 1} ?", None, "", ""], read=False)
                codes[response.status_code, response.json().get("error", {}).get("code")] += 1

    with ThreadPoolExecutor(16) as pool:
        floods = [pool.submit(flood, i) for i in range(16)]
        try:
            time.sleep(2.0)  # the flood is under way
            status, seconds, answer = timed_turn(server, fns, USER, STRUCTURED)
        finally:
            stop.set()
        for f in floods:
            f.result()
    print(f"user's turn: {status} in {seconds:.2f} s; attacker's joins: {dict(codes)}")
    assert status == 200, f"the user's join got {status} during the flood ({dict(codes)})"
    assert "Non réalisée" in answer, answer[-500:]
    # Before the fix the join got 429; fixed, the turn takes ~0.8 s here. The
    # bound is "within seconds" with room for a loaded CI machine: 3 s left
    # under 4x, the least margin of this file (the test failed once with the
    # CPU shared four ways; which assertion was not kept).
    assert seconds < USER_SECONDS, f"the user's turn took {seconds:.1f} s during the flood"
    assert codes[200, None] == LIMIT, dict(codes)
    assert codes[429, "too_many_events"] > 100, dict(codes)


def test_one_clients_slow_streams_leave_workers_for_others(server, slow_llm):
    """The attacker opens 8 chat turns that stream for 20 s each (the
    chat's 8 workers): LIMIT are taken; the user's turn is answered within
    seconds (before: all 8 workers held, the user waited for a stream to end)."""
    fns = config_fns(server)
    before = len(slow_llm.requests)
    with ThreadPoolExecutor(8) as pool:
        slow = [pool.submit(timed_turn, server, fns, SLOW_ATTACKER, RETRIEVAL) for _ in range(8)]
        deadline = time.monotonic() + 30
        while len(slow_llm.requests) - before < LIMIT and time.monotonic() < deadline:
            time.sleep(0.2)  # the attacker's streams have started
        status, seconds, answer = timed_turn(server, fns, USER, STRUCTURED)
        attacker = [f.result() for f in slow]
    print(f"user's turn: {status} in {seconds:.2f} s; attacker's turns: {[(c, round(s, 1)) for c, s, _ in attacker]}")
    assert max(s for code, s, _ in attacker if code == 200) >= SLOW_SECONDS * 0.8, "the streams were not slow"
    assert status == 200 and "Non réalisée" in answer, answer[-500:]
    # ~0.05 s here; before the fix, the length of a stream (SLOW_SECONDS).
    assert seconds < USER_SECONDS, f"the user's turn took {seconds:.1f} s behind the attacker's slow streams"
    assert sorted(code for code, _, _ in attacker) == [200] * LIMIT + [429] * (8 - LIMIT), [a[0] for a in attacker]
    assert len(slow_llm.requests) - before == LIMIT, "the generator was not asked once per accepted turn"


def test_the_client_cap_counts_events_until_they_are_read(server):
    """An answer read frees its place: a client that reads its answers is never refused."""
    fns = config_fns(server)
    with client(server, USER) as http:
        for i in range(LIMIT + 2):
            response, lines = join(http, fns["chat"], [f"Où en est la mesure {i + 1} ?", None, "", ""])
            assert response.status_code == 200, (i, response.text[:200])
            assert any("process_completed" in line for line in lines)


# ------------------------------------------------------- session lifetime
IDLE = 2.0  # TRAITE_QA_SESSION_IDLE_SECONDS of the short-lived server
MAX_SESSIONS = 3


@pytest.fixture(scope="module")
def short(index_settings):
    env = {"TRAITE_QA_SESSION_IDLE_SECONDS": str(IDLE), "TRAITE_QA_MAX_SESSIONS": str(MAX_SESSIONS)}
    srv = live.start(index_settings.index_dir, OUT, env=env)
    yield srv
    live.stop(srv)


class Page:
    """What an open page holds: its session's heartbeat connection."""

    def __init__(self, server, session: str):
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        self.sock.sendall(f"GET /gradio_api/heartbeat/{session} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
        assert self.sock.recv(4096).startswith(b"HTTP/1.1 200"), "the heartbeat was refused"

    def close(self) -> None:
        self.sock.close()


def asked(conversation: str) -> list[str]:
    import re

    return re.findall(r'<div class="tqa-msg tqa-user"><div class="tqa-bubble">([^<]*)</div>', conversation)


def test_a_session_without_an_open_page_is_dropped_once_idle(short):
    """An open page keeps its session: Gradio's page holds the heartbeat open
    when the config says so (it does for any gr.State, as the chat's turns)."""
    assert httpx.get(short.url + "/config").json()["connect_heartbeat"] is True
    fns = config_fns(short)
    gone, kept = uuid.uuid4().hex[:12], uuid.uuid4().hex[:12]
    page = Page(short, kept)
    try:
        with httpx.Client(base_url=short.url, timeout=60) as http:
            for session in (gone, kept):
                chat_turn(http, fns, session, "Où en est la mesure 3 ?")
            time.sleep(IDLE * 2 + 1)  # idle past the limit, and a sweep
            assert asked(chat_turn(http, fns, gone, "Où en est la mesure 4 ?")) == ["Où en est la mesure 4 ?"]
            assert asked(chat_turn(http, fns, kept, "Où en est la mesure 4 ?")) == ["Où en est la mesure 3 ?", "Où en est la mesure 4 ?"]
    finally:
        page.close()


def test_unread_answers_are_dropped_with_their_idle_session(short):
    """A join whose answer is never read: once idle, its stream is gone (404),
    not kept for whoever comes for it, ever."""
    fns = config_fns(short)
    session = uuid.uuid4().hex[:12]
    with httpx.Client(base_url=short.url, timeout=60) as http:
        assert join(http, fns["chat"], ["Où en est la mesure 5 ?", None, "", ""], session=session, read=False)[0].status_code == 200
        time.sleep(IDLE * 2 + 3)  # answered, idle, swept
        response = http.get("/gradio_api/queue/data", params={"session_hash": session})
        assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_session", response.text[:300]
        fresh = uuid.uuid4().hex[:12]
        assert join(http, fns["chat"], ["Où en est la mesure 5 ?", None, "", ""], session=fresh, read=False)[0].status_code == 200
        lines = read_events(http, "/gradio_api/queue/data", ('"process_completed"',), params={"session_hash": fresh})
        assert any('"success":true' in line.replace(" ", "") for line in lines if "process_completed" in line), lines[-3:]


def test_sessions_beyond_max_sessions_are_dropped_oldest_first(short):
    fns = config_fns(short)
    sessions = [uuid.uuid4().hex[:12] for _ in range(MAX_SESSIONS + 1)]
    pages = [Page(short, s) for s in sessions]  # open pages: only the cap can drop them
    try:
        with httpx.Client(base_url=short.url, timeout=60) as http:
            for session in sessions:
                chat_turn(http, fns, session, "Où en est la mesure 3 ?")
            assert asked(chat_turn(http, fns, sessions[-1], "Et la mesure 4 ?")) == ["Où en est la mesure 3 ?", "Et la mesure 4 ?"]
            assert asked(chat_turn(http, fns, sessions[0], "Et la mesure 4 ?")) == ["Et la mesure 4 ?"]
    finally:
        for page in pages:
            page.close()


# ------------------------------------------------------- the real page
@pytest.mark.browser
def test_an_open_page_keeps_its_session_past_the_idle_limit(browser, short):
    """The page in chromium holds its heartbeat: idle past the limit, its
    next turn still follows the conversation (the server kept its turns)."""
    from browser_support import Page

    page = Page(browser, short.url)
    try:
        page.ask("Où en est la mesure 16 ?", 0)
        time.sleep(IDLE * 2 + 1)
        page.send("Et la mesure 17 ?")
        page.page.wait_for_selector("#tqa-answer-1", timeout=30_000)
        assert page.page.locator(".tqa-msg.tqa-user").count() == 2
    finally:
        page.close()


@pytest.mark.browser
def test_two_tabs_of_one_person_are_served_under_the_client_cap(browser, server):
    """Two pages from one address, three questions typed at once in each:
    the page sends them one by one, so the shipped cap never refuses them."""
    from browser_support import Page

    pages = [Page(browser, server.url) for _ in range(2)]
    try:
        for page in pages:
            for n in (3, 4, 5):
                page.send(f"Où en est la mesure {n} ?")
        for page in pages:
            for index in range(3):
                assert "réalisée" in page.wait_answer(index).inner_text().lower()
    finally:
        for page in pages:
            page.close()
