"""The served app's guards, in process and without the model (fast tier):
settings of the web server block, the Host policy, the file-shape check,
input checks that never echo a value, the chat's streaming and caps, the
API's refusal to wait for the model, and no process-wide side effects.
The same attacks through a real server: tests/test_security.py."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

import aio
from traite_qa import ConfigError, Settings
from traite_qa_app import chat
from traite_qa_app.edge import HostPolicy
from traite_qa_app.guard import file_data_problem


# ------------------------------------------------------------ settings
def test_web_settings_come_from_the_environment():
    s = Settings.from_env({"TRAITE_QA_TRUSTED_HOSTS": "QA.example.org, [::1],,", "TRAITE_QA_TRUSTED_PROXY": "10.0.0.2, 10.1.0.0/16",
                           "TRAITE_QA_MAX_BODY_BYTES": "2048", "TRAITE_QA_READ_TIMEOUT": "2.5", "TRAITE_QA_MAX_CHAT_TURNS": "7"})
    assert s.trusted_hosts == ("qa.example.org", "::1")
    assert s.trusted_proxy == "10.0.0.2,10.1.0.0/16"
    assert (s.max_body_bytes, s.read_timeout, s.max_chat_turns) == (2048, 2.5, 7)
    assert s.with_(port=8000).trusted_hosts == s.trusted_hosts  # stable through with_()


@pytest.mark.parametrize("env, names", [
    ({"TRAITE_QA_TRUSTED_HOSTS": "evil.example/path"}, "TRAITE_QA_TRUSTED_HOSTS"),
    ({"TRAITE_QA_TRUSTED_HOSTS": "a b"}, "TRAITE_QA_TRUSTED_HOSTS"),
    ({"TRAITE_QA_TRUSTED_PROXY": "proxy.example"}, "TRAITE_QA_TRUSTED_PROXY"),
    ({"TRAITE_QA_MAX_BODY_BYTES": "0"}, "TRAITE_QA_MAX_BODY_BYTES"),
    ({"TRAITE_QA_QUEUE_MAX_SIZE": "-1"}, "TRAITE_QA_QUEUE_MAX_SIZE"),
    ({"TRAITE_QA_READ_TIMEOUT": "0"}, "TRAITE_QA_READ_TIMEOUT"),
    ({"TRAITE_QA_MAX_HEADER_BYTES": "1024"}, "TRAITE_QA_MAX_HEADER_BYTES"),
    ({"TRAITE_QA_SESSION_MAX_EVENTS": "x"}, "TRAITE_QA_SESSION_MAX_EVENTS"),
    ({"TRAITE_QA_CLIENT_MAX_EVENTS": "0"}, "TRAITE_QA_CLIENT_MAX_EVENTS"),
    ({"TRAITE_QA_MAX_SESSIONS": "0"}, "TRAITE_QA_MAX_SESSIONS"),
    ({"TRAITE_QA_SESSION_IDLE_SECONDS": "0"}, "TRAITE_QA_SESSION_IDLE_SECONDS"),
])
def test_bad_web_settings_name_their_variable(env, names):
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(env)


# ----------------------------------------------------------------- Host
@pytest.mark.parametrize("bound, host, ok", [
    ("127.0.0.1", "127.0.0.1:7860", True),
    ("127.0.0.1", "localhost:7860", True),
    ("127.0.0.1", "LOCALHOST.", True),
    ("127.0.0.1", "[::1]:7860", True),
    ("127.0.0.1", "evil.example", False),
    ("127.0.0.1", "evil.example:7860", False),
    ("127.0.0.1", "127.0.0.1.evil.example", False),
    ("127.0.0.1", "10.0.0.5:7860", False),
    ("127.0.0.1", "", False),
    ("127.0.0.1", "localhost:x", False),
    ("10.0.0.5", "10.0.0.5:80", True),
    ("10.0.0.5", "localhost", False),  # not bound to loopback
    ("0.0.0.0", "192.168.1.20:7860", True),  # any address typed in a browser: not a rebound name
    ("0.0.0.0", "[fe80::1]:7860", True),
    ("0.0.0.0", "localhost:7860", True),
    ("0.0.0.0", "evil.example", False),
])
def test_host_policy(bound, host, ok):
    assert HostPolicy(bound).allows(host) is ok


def test_trusted_hosts_add_names_and_subdomains():
    policy = HostPolicy("127.0.0.1", ("qa.example.org", "*.corp.example"))
    assert policy.allows("qa.example.org") and policy.allows("a.corp.example:443")
    assert not policy.allows("corp.example.evil") and not policy.allows("example.org")
    assert policy.allows_origin("https://qa.example.org") and not policy.allows_origin("https://evil.example")
    assert not policy.allows_origin("null") and not policy.allows_origin("file:///x")
    assert HostPolicy("127.0.0.1", ("*",)).allows("anything.example")


# ----------------------------------------------------------- file shape
@pytest.mark.parametrize("payload", [
    {"data": [{"path": "/etc/passwd"}]},
    {"data": [{"url": "http://x"}]},
    {"data": [{"meta": {"_type": "gradio.FileData"}}]},
    {"data": ["x", [{"role": "user", "content": [{"type": "file", "file": {"path": "/etc/passwd"}}]}]]},
    {"event_data": {"value": {"path": "/etc/passwd"}}},
    {"data": [[[[[[[[[[{"path": "/x"}]]]]]]]]]]},
])
def test_file_shaped_payloads_are_found_anywhere(payload):
    assert file_data_problem(payload) is not None


def test_text_payloads_pass_and_depth_cannot_exhaust_the_stack():
    assert file_data_problem({"data": ["Où en est la mesure 16 ?", [{"role": "user", "content": "x"}], "3", "realisee"]}) is None
    deep = current = []
    for _ in range(100_000):
        current.append([])
        current = current[0]
    assert file_data_problem({"data": deep}) is None


# ------------------------------------------------- no echo of client values
TOKEN = "zzzcanary"
VALUES = st.one_of(
    st.just(TOKEN), st.builds(lambda t: {"k": t}, st.just(TOKEN)), st.builds(lambda t: [t], st.just(TOKEN)),
    st.builds(lambda t: {"path": f"/tmp/{t}"}, st.just(TOKEN)), st.builds(lambda t: f"<b>{t}</b>", st.just(TOKEN)),
)


@given(value=VALUES)
def test_input_checks_never_echo_the_value(value):
    checks = [lambda v: chat.parse_axis(v, 6), chat.parse_status, chat.parse_kind, lambda v: chat.parse_k(v, 50),
              chat.parse_question, lambda v: chat.parse_history(v, 50)]
    for check in checks:
        try:
            check(value)
        except chat.BadInput as err:
            assert TOKEN not in str(err), str(err)


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), ("0", None), (0, None), ("3", 3), (3, 3)])
def test_axis_values(value, expected):
    assert chat.parse_axis(value, 6) == expected


@pytest.mark.parametrize("value", ["7", 7, -1, True, 2.5, "x", [3], {"n": 3}])
def test_bad_axis_values(value):
    with pytest.raises(chat.BadInput):
        chat.parse_axis(value, 6)


def test_history_cap_is_the_setting():
    history = [{"role": "user", "content": "x"}] * 5
    assert chat.parse_history(history, 5) == history
    with pytest.raises(chat.BadInput, match="limit is 4"):
        chat.parse_history(history, 4)
    turns = [{"question": f"q{i}", "answer": {"status": "answered", "answer": f"a{i}"}} for i in range(10)]
    assert chat.history_for(turns, 4) == [{"role": "user", "content": "q8"}, {"role": "assistant", "content": "a8"},
                                          {"role": "user", "content": "q9"}, {"role": "assistant", "content": "a9"}]


# ------------------------------------------------------------ streaming
FINAL = object()


@pytest.mark.parametrize("stream, shown", [
    (["La ", "La mesure ", "La mesure 16", FINAL], "La mesure 16"),  # today's library: the growing text
    (["La ", "mesure ", "16", FINAL], "La mesure 16"),  # the new contract: deltas
    (["La", "La", " mesure 16", FINAL], "LaLa mesure 16"),  # deltas that repeat the text so far
    ([FINAL], ""),  # extractive under the new contract: the Answer only
])
def test_pieces_reads_both_stream_contracts(stream, shown):
    out = list(chat.pieces(iter(stream)))
    assert out[-1] is FINAL
    assert "".join(out[:-1]) == shown


class FakeAnswer:
    def __init__(self, text):
        self.text = text

    def to_dict(self):
        return {"question": "q", "status": "answered", "answer": self.text, "citations": [], "suggestions": [], "notes": [],
                "language": "fr", "intent": "search", "verified": True, "measures": {}}


def fake_state(evaluation, settings, stream):
    assistant = SimpleNamespace(
        settings=settings, evaluation=evaluation, generator=object(), searcher=None,
        ask_stream=lambda question, history, **filters: iter(stream),
    )
    from traite_qa_app.state import AppState

    return AppState(assistant=assistant)


def chat_fn(state):
    from traite_qa_app.ui import build_ui

    blocks = build_ui(state)
    return next(fn.fn for fn in blocks.fns.values() if fn.api_name == "chat")


def test_a_generated_answer_streams_deltas_without_re_rendering_the_conversation(evaluation):
    import gradio as gr

    settings = Settings(max_stream_chars=500)

    def slow_deltas():  # ~7,000 characters, a delta every 10 ms or so
        for i in range(1000):
            if i % 5 == 0:
                time.sleep(0.05)
            yield f"mot{i} "
        yield FakeAnswer("La réponse vérifiée.")

    state = fake_state(evaluation, settings, [])
    state._assistant.ask_stream = lambda *a, **k: slow_deltas()
    respond = chat_fn(state)
    updates = list(respond("Une question ?", [], "", ""))
    first, *streamed, last = updates
    assert "tqa-streaming" in first[1]  # the question and a pending bubble, rendered once
    for update in streamed:  # only the live text changes; the conversation and sources are skipped
        assert all(isinstance(u, type(gr.skip())) for u in update[:4]), update[:4]
    assert 3 < len(streamed) <= settings.max_stream_chars // 5 + 1  # nothing more is sent past the cap
    assert len(streamed[-1][4]) < 800
    assert "La réponse vérifiée." in last[1] and last[4] == ""  # the final answer, rendered once


def test_pieces_that_come_at_once_are_shown_together(evaluation):
    """Today's library streams even a structured answer word by word when a
    generator is configured: shown at most every LIVE_INTERVAL, that is once."""
    words = [("mot " * i) for i in range(1, 300)]
    updates = list(chat_fn(fake_state(evaluation, Settings(), [*words, FakeAnswer("fin")]))("Une question ?", [], "", ""))
    assert len(updates) <= 3


def test_an_extractive_answer_is_rendered_once(evaluation):
    state = fake_state(evaluation, Settings(), ["La ", "La réponse", FakeAnswer("La réponse")])
    state._assistant.generator = None
    updates = list(chat_fn(state)("Une question ?", [], "", ""))
    assert len(updates) == 2


def test_a_failing_stream_shows_a_generic_note(evaluation, caplog):
    def broken():
        yield "début "
        raise RuntimeError("upstream said: secret-token-123")

    state = fake_state(evaluation, Settings(), [])
    state._assistant.ask_stream = lambda *a, **k: broken()
    last = list(chat_fn(state)("Une question ?", [], "", ""))[-1]
    assert "erreur interne" in last[1] and "secret-token-123" not in last[1]
    assert "secret-token-123" in caplog.text  # the detail is in the server log


def test_an_over_long_question_is_refused_and_not_kept(evaluation):
    respond = chat_fn(fake_state(evaluation, Settings(), [FakeAnswer("x")]))
    huge = "y" * 500_000
    updates = list(respond(huge, [], "", ""))
    assert len(updates) == 1
    _, conversation, _, turns, _, _ = updates[0]  # the last output: the turn the browser keeps
    assert len(conversation) < 2_000 and len(str(turns)) < 2_000
    assert "500000 caractères" in conversation


def test_a_session_keeps_at_most_max_chat_turns(evaluation):
    respond = chat_fn(fake_state(evaluation, Settings(max_chat_turns=3), [FakeAnswer("réponse")]))
    turns = []
    for i in range(6):
        turns = list(respond(f"question {i}", turns, "", ""))[-1][3]
    assert [t["question"] for t in turns] == ["question 3", "question 4", "question 5"]


# ------------------------------------------------------ loading, side effects
def test_the_api_does_not_wait_for_the_model(settings, monkeypatch):
    """While the Assistant loads, /api/ask and /api/search answer 503 at once."""
    from fastapi.testclient import TestClient

    import traite_qa.answer
    from traite_qa_app.server import create_app

    release = threading.Event()

    def slow_load(cls, **kwargs):
        release.wait(30)
        raise ConfigError("the test's loader gives up")

    monkeypatch.setattr(traite_qa.answer.Assistant, "load", classmethod(slow_load))
    app = create_app(settings, ui=False)
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            for request in (lambda: client.post("/api/ask", json={"question": "mesure 16"}),
                            lambda: client.get("/api/search", params={"q": "mesure 16"}), lambda: client.get("/healthz")):
                response = request()
                assert response.status_code == 503 and response.json()["error"]["code"] == "index_loading"
    finally:
        release.set()


def test_loading_does_not_touch_the_switch_interval(settings, monkeypatch):
    import traite_qa.answer
    from traite_qa_app.state import AppState

    calls = []
    monkeypatch.setattr(sys, "setswitchinterval", lambda value: calls.append(threading.current_thread().name))
    monkeypatch.setattr(traite_qa.answer.Assistant, "load", classmethod(lambda cls, **kw: (_ for _ in ()).throw(ConfigError("no"))))
    state = AppState(settings=settings)
    state.start_loading()
    state._thread.join(10)
    assert calls == []


def test_importing_the_server_sets_no_environment_variable():
    code = "import os; before = dict(os.environ); import traite_qa_app.server; print(before == dict(os.environ))"
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.stdout.strip() == "True", result.stderr[-2000:]


def test_gradios_own_path_check_is_on_in_the_mounted_app(settings, tmp_path):
    """Belt and braces behind GradioGuard: Gradio (6.31, the newest) skips its
    allowed/blocked path check in a mounted app; create_app switches it on
    with every path blocked. Reads Gradio internals on purpose: if they move,
    this fails and the guard alone stands."""
    from gradio import processing_utils
    from gradio.context import LocalContext
    from gradio.exceptions import InvalidPathError

    from traite_qa_app.server import create_app

    app = create_app(settings)
    blocks = next(m for m in app.user_middleware if m.cls.__name__ == "GradioGuard").kwargs["blocks"]
    secret = tmp_path / "secret.txt"
    secret.write_text("x", encoding="utf-8")
    token = LocalContext.blocks.set(blocks)
    try:
        for path, uploaded in [("/etc/passwd", True), ("/etc/passwd", False), ("/dev/zero", False), (str(secret), False)]:
            with pytest.raises(InvalidPathError):
                processing_utils._check_allowed(path, uploaded)
    finally:
        LocalContext.blocks.reset(token)


# ---------------------------------------------------------- proxy headers
def run_edge(trusted_proxy, peer: str, headers: list[tuple[bytes, bytes]], method: str = "GET"):
    """One request through Edge to an app that records what it was given."""
    import asyncio

    from traite_qa_app.edge import Edge

    seen = {}
    sent = []

    async def app(scope, receive, send):
        seen.update(scope)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"access-control-allow-origin", b"*")]})
        await send({"type": "http.response.body", "body": b"hello"})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/", "headers": [(b"host", b"127.0.0.1:7860"), *headers],
             "client": (peer, 5555), "scheme": "http", "query_string": b""}
    aio.run(Edge(app, HostPolicy("127.0.0.1"), trusted_proxy)(scope, receive, send))
    return seen, sent


FORWARDED = [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-host", b"evil.example"), (b"x-forwarded-proto", b"https"),
             (b"forwarded", b"for=203.0.113.7"), (b"x-real-ip", b"203.0.113.7")]


def test_forwarded_headers_are_dropped_without_a_trusted_proxy():
    for trusted in (None, "10.0.0.0/8"):
        seen, _ = run_edge(trusted, "127.0.0.1", FORWARDED)
        names = {k for k, _ in seen["headers"]}
        assert not names & {b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto", b"forwarded", b"x-real-ip"}
        assert seen["client"][0] == "127.0.0.1" and seen["scheme"] == "http"


def test_a_trusted_proxy_forwards_the_client_and_scheme():
    seen, _ = run_edge("10.0.0.0/8", "10.1.2.3", FORWARDED)
    assert seen["client"][0] == "203.0.113.7" and seen["scheme"] == "https"
    assert (b"x-forwarded-host", b"evil.example") in seen["headers"]  # the proxy's to set


def test_edge_sets_security_headers_strips_cors_and_serves_head_without_body():
    _, sent = run_edge(None, "127.0.0.1", [], method="HEAD")
    start, body = sent
    names = {k for k, _ in start["headers"]}
    assert b"content-security-policy" in names and b"x-content-type-options" in names
    assert b"access-control-allow-origin" not in names
    assert body == {"type": "http.response.body", "body": b"", "more_body": False}


# ---------------------------------------------------- per-client fairness
@pytest.mark.parametrize("peer, key", [
    ("10.0.0.7", "10.0.0.7"),
    ("::ffff:10.0.0.7", "10.0.0.7"),  # an IPv4 client of a dual-stack socket: the same client
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),  # one host owns its /64: any address in it is the same client
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
])
def test_clients_are_counted_by_address_and_ipv6_by_64(peer, key):
    from traite_qa_app.sessions import client_key

    assert client_key({"client": (peer, 5000)}) == key
