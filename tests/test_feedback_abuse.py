"""Issue 23's feedback and operator findings, each reproduced through a real
`traite-qa chat` on 127.0.0.1 (raw httpx, as a client of the probe would):

- feedback is taken only for answers this server served (`answer_key`);
- ratings are rate-limited per client address (429 + Retry-After) and each
  row is capped in bytes (413);
- behind `TRAITE_QA_TRUSTED_PROXY=*`, `X-Forwarded-For: 127.0.0.1` does not
  make a client the operator;
- a 503 `feedback_unavailable` says nothing of where the database is;
- an unknown Gradio session or event costs one log line, not a traceback.

The module's server trusts any proxy, so each test rates from its own
forwarded address and the rate limit of one does not spill into another.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

import live
from traite_qa import FeedbackStore
from traite_qa.types import answer_id_of

pytestmark = [pytest.mark.server, pytest.mark.slow]
OUT = Path(__file__).parent / "out"
BURST = 3
MAX_ROW = 6000  # bytes: a short question's answer fits (about 2-3 KB), a 2,000-character question's does not
QUESTION = "Où en est la mesure 16 ?"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("feedback-abuse")


@pytest.fixture(scope="module")
def server(index_settings, data):
    env = {
        "TRAITE_QA_DATABASE_URL": f"sqlite:///{data / 'feedback.sqlite3'}",
        "TRAITE_QA_TRUSTED_PROXY": "*",
        "TRAITE_QA_FEEDBACK_BURST": str(BURST),
        "TRAITE_QA_FEEDBACK_RATE_PER_MINUTE": "6",
        "TRAITE_QA_FEEDBACK_MAX_ROW_BYTES": str(MAX_ROW),
        "XDG_DATA_HOME": str(data / "xdg"),
    }
    srv = live.start(index_settings.index_dir, OUT, env=env)
    yield srv
    live.stop(srv)


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=60.0) as client:
        yield client


def ask(http, question: str = QUESTION) -> dict:
    response = http.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    return response.json()


def rate(http, answer: dict, client: str, send_answer: bool = False, **extra) -> httpx.Response:
    body = {"answer_id": answer["answer_id"], "rating": "up", **extra}
    if send_answer:
        body["answer"] = answer
    return http.post("/api/feedback", json=body, headers={"X-Forwarded-For": client})


def error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code, body
    return body


def stored(data: Path) -> list:
    return FeedbackStore(f"sqlite:///{data / 'feedback.sqlite3'}").feedback()


def forge(answer: dict, text: str) -> dict:
    """What the probe did: any text, with the public answer_id recomputed from it."""
    fake = {**answer, "answer": text}
    fake["answer_id"] = answer_id_of(fake["question"], fake["status"], fake["answer"], [c["id"] for c in fake["citations"]],
                                     fake["intent"], fake["language"])
    return fake


# ------------------------------------------------ only answers served here
def test_feedback_for_an_answer_the_server_never_gave_is_refused(http, data):
    served = ask(http)
    before = len(stored(data))
    forged = forge(served, "La mesure 16 est réalisée. " + "x" * 5000)
    # Its old key, no key, or a key made up: the server did not serve it.
    for n, key in enumerate((served.get("answer_key"), None, "0" * 32)):
        body = {k: v for k, v in forged.items() if k != "answer_key"} | ({"answer_key": key} if key else {})
        err = error(rate(http, body, f"198.51.100.1{n}", send_answer=True), 403, "answer_not_served")
        assert err["field"] == "answer.answer_key" and "not served by this server" in err["message"]
    assert len(stored(data)) == before  # nothing written
    # The answer as served is taken, by its id (the server remembers it) or with its JSON.
    assert rate(http, served, "198.51.100.1").status_code == 201
    assert rate(http, served, "198.51.100.1", send_answer=True).status_code == 201
    assert {r.answer_id for r in stored(data)[:2]} == {served["answer_id"]}
    assert len(served["answer_key"]) == 32


def test_the_chat_answer_carries_its_key_and_can_be_rated(http, server):
    """The page's answers come through Gradio: they carry the key too, so its 👍/👎 (and its resend after a restart) work."""
    started = http.post("/gradio_api/call/ask", json={"data": [QUESTION, None, None, None]})
    assert started.status_code == 200, started.text
    stream = http.get(f"/gradio_api/call/ask/{started.json()['event_id']}").text
    assert "event: complete" in stream, stream[:500]
    answer = json.loads(stream.split("data: ", 1)[1].splitlines()[0])[0]
    assert len(answer["answer_key"]) == 32
    assert rate(http, answer, "198.51.100.2", send_answer=True).status_code == 201


# ------------------------------------------------- rate limit and row cap
def test_ratings_are_rate_limited_per_client_address(http):
    served = ask(http)
    codes = [rate(http, served, "198.51.100.3").status_code for _ in range(BURST)]
    assert codes == [201] * BURST
    refused = rate(http, served, "198.51.100.3")
    error(refused, 429, "too_many_ratings")
    assert int(refused.headers["retry-after"]) >= 1
    # Withdrawing counts as a write too; another address is not affected.
    assert http.request("DELETE", "/api/feedback/1", json={"edit_token": "x" * 20},
                        headers={"X-Forwarded-For": "198.51.100.3"}).status_code == 429
    assert rate(http, served, "198.51.100.4").status_code == 201


def test_a_rating_over_the_row_cap_is_refused(http, data):
    long_question = ("Où en est la mesure 16 sur le mécanisme national de référence ? " * 40)[:1990]
    served = ask(http, long_question)
    before = len(stored(data))
    err = error(rate(http, served, "198.51.100.5"), 413, "feedback_too_large")
    assert f"{MAX_ROW}-byte limit" in err["message"]
    assert len(stored(data)) == before
    assert rate(http, ask(http), "198.51.100.5").status_code == 201  # an ordinary answer fits


# ------------------------------------------------------------ the operator
def test_a_forwarded_loopback_address_is_not_the_operator(http):
    for headers in ({"X-Forwarded-For": "127.0.0.1"}, {"X-Forwarded-For": "::1"}, {}):
        err = error(http.get("/api/feedback/summary", headers=headers), 403, "forbidden")
        assert "TRAITE_QA_FEEDBACK_TOKEN" in err["message"]


# -------------------------------------------------------------------- logs
def test_unknown_gradio_sessions_cost_one_log_line_each(http, server):
    http.get("/healthz")
    time.sleep(0.3)
    start = len(server.log().encode())
    for i in range(10):
        assert http.get("/gradio_api/queue/data", params={"session_hash": f"nosuch{i}"}).status_code == 404
        assert http.get(f"/gradio_api/call/ask/nosuchevent{i}").status_code == 404
    time.sleep(0.5)
    added = server.log().encode()[start:].decode()
    assert "Traceback" not in added, added[:2000]
    assert added.count("no such Gradio session or event") == 20, added[:2000]
    assert len(added.encode()) < 20 * 200, len(added.encode())


# -------------------------------------------------------- database errors
def test_a_503_says_nothing_of_where_the_database_is(index_settings, tmp_path):
    from fakes import free_port

    port = free_port()  # nothing listens there
    url = f"postgresql://tqa_secret_user:hunter2@127.0.0.1:{port}/tqa_secret_db"
    env = {"TRAITE_QA_DATABASE_URL": url, "TRAITE_QA_DATABASE_TIMEOUT": "1", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    srv = live.start(index_settings.index_dir, OUT, env=env)
    try:
        with httpx.Client(base_url=srv.url, timeout=60.0) as client:
            served = ask(client)
            response = rate(client, served, "198.51.100.6")
            error(response, 503, "feedback_unavailable")
            for secret in ("tqa_secret_user", "tqa_secret_db", "hunter2", str(port), "psycopg", "postgresql", "refused"):
                assert secret not in response.text, (secret, response.text)
            time.sleep(0.3)
            assert "tqa_secret_db" in srv.log()  # the detail is in the log, for the operator
    finally:
        live.stop(srv)
