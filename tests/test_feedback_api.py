"""Feedback through the app (in process, an assistant over a fake-embedded
index) and through the library's Assistant wrapper: 👍 and 👎 land in the
database with the question, the answer and what produced it; the answer is
found in memory or sent along; bad input is a 4xx in the usual shape; a
locked or unreachable database never touches answering; nothing is stored
before feedback unless TRAITE_QA_LOG_QUESTIONS=1; the operator's summary is
for 127.0.0.1 or the token only."""

from __future__ import annotations

import copy
import time

import pytest
from starlette.testclient import TestClient

from traite_qa import FeedbackStore
from traite_qa.errors import FeedbackStoreError, InvalidFeedbackError, UnknownAnswerError
from traite_qa.feedback import FeedbackRecorder, RecordingAssistant, with_feedback
from traite_qa_app.feedback_view import retours_html
from traite_qa_app.server import create_app

from feedback_support import build_fake_index, fake_assistant
from fakes import free_port

ERROR_KEYS = {"code", "message", "field"}
LOCAL = ("127.0.0.1", 50000)


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory, settings):
    return build_fake_index(tmp_path_factory.mktemp("feedback-index"), settings)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "feedback.sqlite3"


_LOADED: dict[int, object] = {}  # the module's loaded assistant, by its fake_index


def make_client(fake_index, db_url: str, client=LOCAL, **changes) -> TestClient:
    """The app over the module's assistant, with these feedback settings.

    Loading an Assistant takes a couple of seconds; the feedback settings
    (database, timeout, question log, token, limits) are read from
    `assistant.settings` by the app and its recorder, never by answering, so
    each app gets a shallow copy of one loaded assistant with its own settings
    (a restart is a new app: new recorder, empty memory)."""
    built, embedder = fake_index
    loaded = _LOADED.get(id(fake_index))
    if loaded is None:
        loaded = _LOADED[id(fake_index)] = fake_assistant(built, embedder)
    assistant = copy.copy(loaded)
    assistant.settings = loaded.settings.with_(database_url=db_url, **changes)
    return TestClient(create_app(assistant, ui=False), client=client, base_url="http://127.0.0.1")


@pytest.fixture
def http(fake_index, db):
    with make_client(fake_index, f"sqlite:///{db}") as client:
        yield client


def ask(http, question="Où en est la mesure 16 ?") -> dict:
    response = http.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    return response.json()


def assert_error(response, status: int, code: str, field=...) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"].strip()
    if field is not ...:
        assert body["error"]["field"] == field, body
    return body["error"]


# ------------------------------------------------------------- it lands
def test_thumbs_up_and_down_with_a_comment_land_in_sqlite(http, db):
    up = ask(http)
    down = ask(http, "Que signifie OCRTEH ?")
    assert not db.exists()  # asking stores nothing
    r1 = http.post("/api/feedback", json={"answer_id": up["answer_id"], "rating": "up"})
    r2 = http.post("/api/feedback", json={"answer_id": down["answer_id"], "rating": "down", "reason": "reponse_incomplete",
                                          "comment": "  il manque la définition complète  "})
    assert r1.status_code == r2.status_code == 201, (r1.text, r2.text)
    saved = r2.json()
    assert saved["saved"] is True and saved["rating"] == "down" and saved["reason"] == "reponse_incomplete"
    rows = {r.answer_id: r for r in FeedbackStore(f"sqlite:///{db}").feedback()}
    assert set(rows) == {up["answer_id"], down["answer_id"]}
    row = rows[down["answer_id"]]
    assert row.id == saved["id"] and row.created_at == saved["created_at"]
    assert (row.rating, row.reason, row.comment) == ("down", "reponse_incomplete", "il manque la définition complète")
    assert row.question == "Que signifie OCRTEH ?"
    assert down["answer_key"]  # served with the server's key...
    assert row.answer == without_key(down)  # ...and stored as the client received it, but for the key
    assert [c["id"] for c in row.citations] == [c["id"] for c in down["citations"]]
    assert row.model_fingerprint == row.settings["model_fingerprint"] == "fake-for-feedback"
    assert row.settings["index_created_at"] and row.settings["tuning"]["rrf_k"] == 20
    assert rows[up["answer_id"]].reason is None and rows[up["answer_id"]].comment is None


def test_a_rating_is_changed_then_withdrawn_by_its_sender_only(http, db):
    answer = ask(http)
    other = ask(http, "Que signifie OCRTEH ?")
    saved = http.post("/api/feedback", json={"answer_id": answer["answer_id"], "rating": "up"}).json()
    kept = http.post("/api/feedback", json={"answer_id": other["answer_id"], "rating": "up"}).json()
    token, fid = saved["edit_token"], saved["id"]
    assert isinstance(token, str) and len(token) >= 16
    store = FeedbackStore(f"sqlite:///{db}")
    with store._transaction("read") as conn:  # only the token's SHA-256 is stored
        keys = [row[0] for row in conn.exec_driver_sql("SELECT edit_key FROM feedback")]
    assert token not in keys and all(len(k) == 64 for k in keys)
    # Changed: one row, the latest rating.
    changed = http.put(f"/api/feedback/{fid}", json={"edit_token": token, "rating": "down", "reason": "erreur_de_statut",
                                                     "comment": "elle est réalisée"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["rating"] == "down" and changed.json().get("edit_token") is None
    rows = {r.id: r for r in store.feedback()}
    assert len(rows) == 2 and (rows[fid].rating, rows[fid].reason, rows[fid].comment) == ("down", "erreur_de_statut", "elle est réalisée")
    assert rows[fid].question == "Où en est la mesure 16 ?"
    # Changed back to 👍: the reason and comment go.
    assert http.put(f"/api/feedback/{fid}", json={"edit_token": token, "rating": "up"}).status_code == 200
    assert {r.id: r for r in store.feedback()}[fid].rating == "up" and {r.id: r for r in store.feedback()}[fid].reason is None
    # Someone else's token, or none, changes nothing.
    assert_error(http.put(f"/api/feedback/{fid}", json={"edit_token": kept["edit_token"], "rating": "down"}), 404, "unknown_feedback")
    assert_error(http.request("DELETE", f"/api/feedback/{kept['id']}", json={"edit_token": token}), 404, "unknown_feedback")
    assert http.request("DELETE", f"/api/feedback/{fid}", json={}).status_code == 422
    assert http.put(f"/api/feedback/{fid}", json={"edit_token": token, "rating": "up", "reason": "autre"}).status_code == 422
    # Withdrawn: deleted; a second withdrawal is a 404.
    gone = http.request("DELETE", f"/api/feedback/{fid}", json={"edit_token": token})
    assert gone.status_code == 200 and gone.json() == {"withdrawn": True, "id": fid}
    assert [r.id for r in store.feedback()] == [kept["id"]]
    assert_error(http.request("DELETE", f"/api/feedback/{fid}", json={"edit_token": token}), 404, "unknown_feedback")
    assert_error(http.put(f"/api/feedback/{fid}", json={"edit_token": token, "rating": "up"}), 404, "unknown_feedback")


def test_an_answer_this_server_forgot_is_rated_with_its_json(fake_index, tmp_path):
    url = f"sqlite:///{tmp_path / 'fb.sqlite3'}"
    with make_client(fake_index, url) as first:
        answer = ask(first)
        other = ask(first, "Que signifie OCRTEH ?")
    with make_client(fake_index, url) as second:  # a restart: the memory is empty, the secret is kept
        missing = second.post("/api/feedback", json={"answer_id": answer["answer_id"], "rating": "up"})
        assert_error(missing, 404, "unknown_answer", "answer_id")
        assert "send the answer JSON" in missing.json()["error"]["message"]
        tampered = {**answer, "answer": answer["answer"] + " (modifié)"}
        assert_error(second.post("/api/feedback", json={"answer_id": answer["answer_id"], "rating": "up", "answer": tampered}),
                     403, "answer_not_served", "answer.answer_key")
        assert_error(second.post("/api/feedback", json={"answer_id": answer["answer_id"], "rating": "up", "answer": other}),
                     409, "answer_mismatch", "answer")
        ok = second.post("/api/feedback", json={"answer_id": answer["answer_id"], "rating": "up", "answer": answer})
        assert ok.status_code == 201, ok.text
    [row] = FeedbackStore(url).feedback()
    assert row.answer == without_key(answer)
    assert (tmp_path / "feedback-secret").stat().st_mode & 0o777 == 0o600


def without_key(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "answer_key"}


@pytest.mark.parametrize("body, status, code, field", [
    ({"rating": "up"}, 422, "missing_field", "answer_id"),
    ({"answer_id": "ans-0123456789abcdef0123"}, 422, "missing_field", "rating"),
    ({"answer_id": "ans-XYZ", "rating": "up"}, 422, "invalid_field", "answer_id"),
    ({"answer_id": "ans-0123456789abcdef0123", "rating": "meh"}, 422, "invalid_field", "rating"),
    ({"answer_id": "ans-0123456789abcdef0123", "rating": True}, 422, "invalid_field", "rating"),
    ({"answer_id": "ans-0123456789abcdef0123", "rating": "down", "reason": "nul"}, 422, "invalid_field", "reason"),
    ({"answer_id": "ans-0123456789abcdef0123", "rating": "down", "comment": "x" * 501}, 422, "invalid_field", "comment"),
    ({"answer_id": "ans-0123456789abcdef0123", "rating": "down", "comment": 5}, 422, "invalid_field", "comment"),
    ({"answer_id": "ans-0123456789abcdef0123", "rating": "up", "answer": {"question": "x"}}, 422, "missing_field", "answer.answer_id"),
    ({"answer_id": "ans-0123456789abcdef0123", "rating": "up"}, 404, "unknown_answer", "answer_id"),
    ([], 422, "invalid_body", "body"),
])
def test_bad_feedback_gets_a_json_4xx(http, db, body, status, code, field):
    assert_error(http.post("/api/feedback", json=body), status, code, field)
    assert not db.exists()


def test_a_reason_with_a_thumbs_up_is_refused(http):
    answer = ask(http)
    error = assert_error(http.post("/api/feedback", json={"answer_id": answer["answer_id"], "rating": "up", "reason": "autre"}),
                         422, "invalid_feedback", "reason")
    assert "only goes with rating 'down'" in error["message"]


@pytest.mark.parametrize("raw, ctype, status, code", [
    (b'{"answer_id": ', "application/json", 400, "invalid_json"),
    (b'{"answer_id": "\xff"}', "application/json", 400, "invalid_json"),
    (b"answer_id=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (b'{"comment": "' + b"a" * (1024 * 1024) + b'"}', "application/json", 413, "body_too_large"),
])
def test_malformed_bodies(http, raw, ctype, status, code):
    assert_error(http.post("/api/feedback", content=raw, headers={"content-type": ctype}), status, code)


def test_nothing_about_the_sender_is_stored(http, db):
    answer = ask(http)
    headers = {"User-Agent": "AgentSecret/1.0", "X-Forwarded-For": "203.0.113.77", "Cookie": "sid=cookie-secret"}
    assert http.post("/api/feedback", json={"answer_id": answer["answer_id"], "rating": "up"}, headers=headers).status_code == 201
    http.close()
    dump = b"".join(p.read_bytes() for p in db.parent.glob("feedback.sqlite3*"))
    for secret in (b"AgentSecret", b"203.0.113.77", b"cookie-secret", b"127.0.0.1", b"50000"):
        assert secret not in dump, secret


# --------------------------------------------- the database cannot break answering
def test_a_locked_database_says_not_saved_and_answering_goes_on(fake_index, tmp_path):
    import sqlite3

    path = tmp_path / "fb.sqlite3"
    FeedbackStore(f"sqlite:///{path}").migrate()
    with make_client(fake_index, f"sqlite:///{path}", database_timeout=0.3, log_questions=True) as http:
        answer = ask(http)
        lock = sqlite3.connect(path, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            started = time.monotonic()
            again = ask(http)  # logging the question fails in the background; the answer does not wait
            assert time.monotonic() - started < 2
            assert again == answer
            error = assert_error(http.post("/api/feedback", json={"answer_id": answer["answer_id"], "rating": "down"}),
                                 503, "feedback_unavailable", None)
            assert "nothing was saved" in error["message"] and "answering is not affected" in error["message"]
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert http.post("/api/feedback", json={"answer_id": answer["answer_id"], "rating": "down"}).status_code == 201


def test_an_unreachable_database_never_touches_answering(fake_index):
    url = f"postgresql://tqa@127.0.0.1:{free_port()}/gone"
    with make_client(fake_index, url, database_timeout=1.0, log_questions=True) as http:
        answers = [ask(http, q) for q in ("Où en est la mesure 16 ?", "Que signifie OCRTEH ?", "note 47")]
        assert all(a["status"] == "answered" for a in answers)
        response = http.post("/api/feedback", json={"answer_id": answers[0]["answer_id"], "rating": "up"})
        assert_error(response, 503, "feedback_unavailable")
        assert response.headers["retry-after"]
        assert ask(http)["answer_id"] == answers[0]["answer_id"]


# ------------------------------------------------------ privacy: the log
def test_questions_are_logged_only_when_the_operator_asks(fake_index, tmp_path):
    quiet, logged = tmp_path / "quiet.sqlite3", tmp_path / "logged.sqlite3"
    with make_client(fake_index, f"sqlite:///{quiet}") as http:
        ask(http)
        ask(http, "Que signifie OCRTEH ?")
    assert not quiet.exists()
    with make_client(fake_index, f"sqlite:///{logged}", log_questions=True) as http:
        answer = ask(http)
        ask(http, "Que signifie OCRTEH ?")
        assert http.app.state.traite_qa.feedback.flush()
    rows = FeedbackStore(f"sqlite:///{logged}").logged()
    assert {r["question"] for r in rows} == {"Où en est la mesure 16 ?", "Que signifie OCRTEH ?"}
    assert any(r["answer_id"] == answer["answer_id"] for r in rows)
    assert FeedbackStore(f"sqlite:///{logged}").feedback() == []  # logged, not rated


# ------------------------------------------------------ operator summary
def test_the_summary_is_for_localhost_only(fake_index, db):
    url = f"sqlite:///{db}"
    with make_client(fake_index, url) as http:
        answer = ask(http)
        http.post("/api/feedback", json={"answer_id": answer["answer_id"], "rating": "down", "reason": "autre",
                                         "comment": "<b>gras</b>"})
        summary = http.get("/api/feedback/summary").json()
        assert summary["ratings"] == {"up": 0, "down": 1} and summary["reasons"]["autre"] == 1
        assert summary["latest_down"][0]["comment"] == "<b>gras</b>"
    with make_client(fake_index, url, client=("198.51.100.9", 4000)) as remote:
        error = assert_error(remote.get("/api/feedback/summary"), 403, "forbidden")
        assert "TRAITE_QA_FEEDBACK_TOKEN" in error["message"]


def test_the_summary_behind_a_token(fake_index, db):
    with make_client(fake_index, f"sqlite:///{db}", client=("198.51.100.9", 4000), feedback_token="t0ken") as remote:
        assert_error(remote.get("/api/feedback/summary"), 401, "unauthorized")
        assert_error(remote.get("/api/feedback/summary", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
        ok = remote.get("/api/feedback/summary", headers={"Authorization": "Bearer t0ken"})
        assert ok.status_code == 200 and ok.json()["total"] == 0
        assert_error(remote.get("/api/feedback/summary?latest=0", headers={"Authorization": "Bearer t0ken"}), 422, "invalid_field")


def test_the_retours_fragment_escapes_what_users_wrote():
    summary = {"total": 2, "ratings": {"up": 1, "down": 1},
               "reasons": {"mauvaise_mesure": 0, "reponse_incomplete": 0, "pas_de_reponse": 0, "erreur_de_statut": 1, "autre": 0,
                           "none": 0},
               "latest_down": [{"id": 1, "created_at": "2026-11-29T10:00:00+00:00", "answer_id": "ans-0", "reason": "erreur_de_statut",
                                "question": "<img src=x onerror=alert(1)>", "comment": "<script>x</script>", "answer": "a & b"}]}
    html = retours_html(summary)
    assert "<img" not in html and "<script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;" in html and "a &amp; b" in html
    assert "Erreur de statut" in html and "👎 1" in html and "2026-11-29 10:00" in html
    assert "Aucune réponse notée" in retours_html({"total": 0, "ratings": {}, "reasons": {}, "latest_down": []})


def test_openapi_documents_the_feedback_contract(http):
    spec = http.get("/openapi.json").json()
    post = spec["paths"]["/api/feedback"]["post"]
    assert {"201", "400", "404", "409", "413", "415", "422", "503"} <= set(post["responses"])
    body_schema = spec["components"]["schemas"][post["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]]
    assert body_schema["then"] == {"properties": {"reason": {"type": "null"}}}  # a reason goes with "down" only
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    props = spec["components"]["schemas"][ref]["properties"]
    assert props["answer_id"]["pattern"] == "^ans-[0-9a-f]{20}$"
    assert props["rating"]["enum"] == ["up", "down"]
    assert props["comment"]["anyOf"][0]["maxLength"] == 500
    reason_ref = props["reason"]["anyOf"][0]["$ref"].split("/")[-1]
    assert spec["components"]["schemas"][reason_ref]["enum"] == [
        "mauvaise_mesure", "reponse_incomplete", "pas_de_reponse", "erreur_de_statut", "autre"]
    assert {"401", "403", "503"} <= set(spec["paths"]["/api/feedback/summary"]["get"]["responses"])


# ------------------------------------------------------ the library's API
def test_the_assistant_wrapper_remembers_and_saves(fake_index, tmp_path):
    built, embedder = fake_index
    assistant = with_feedback(fake_assistant(built, embedder, database_url=f"sqlite:///{tmp_path / 'fb.sqlite3'}"))
    assert isinstance(assistant, RecordingAssistant) and with_feedback(assistant) is assistant
    answer = assistant.ask("Où en est la mesure 16 ?")
    streamed = list(assistant.ask_stream("Que signifie OCRTEH ?"))[-1]
    assert assistant.evaluation is assistant.wrapped.evaluation  # the rest is the assistant's
    record = assistant.feedback(answer.answer_id, "down", reason="erreur_de_statut", comment="x")
    assert record.id and record.question == "Où en est la mesure 16 ?"
    assert assistant.feedback(streamed.answer_id, "up").answer["answer"] == streamed.answer
    with pytest.raises(InvalidFeedbackError) as bad:
        assistant.feedback(answer.answer_id, "down", comment="x" * 501)
    assert bad.value.field == "comment"
    with pytest.raises(UnknownAnswerError, match="send the answer JSON"):
        assistant.feedback("ans-0123456789abcdef0123", "up")


def test_recent_answers_are_bounded(fake_index, tmp_path):
    built, embedder = fake_index
    settings = built.with_(database_url=f"sqlite:///{tmp_path / 'fb.sqlite3'}", feedback_recent_answers=2)
    recorder = FeedbackRecorder(settings)
    assistant = with_feedback(fake_assistant(built, embedder), recorder)
    first, second, third = (assistant.ask(q) for q in ("mesure 16", "mesure 17", "mesure 18"))
    assert len(recorder.recent) == 2
    with pytest.raises(UnknownAnswerError):
        assistant.feedback(first.answer_id, "up")
    with pytest.raises(InvalidFeedbackError, match="not served by this server"):  # no answer_key: not known as served
        assistant.feedback(first.answer_id, "up", answer=first.to_dict())
    assert assistant.feedback(first.answer_id, "up", answer=recorder.served(first)).id
    assert assistant.feedback(third.answer_id, "up").id


def test_the_recorder_reports_a_dead_database(fake_index):
    built, _ = fake_index
    recorder = FeedbackRecorder(built.with_(database_url=f"postgresql://tqa@127.0.0.1:{free_port()}/x", database_timeout=1.0))
    recorder.remember({"answer_id": "ans-0123456789abcdef0123", "question": "q", "citations": []})
    with pytest.raises(FeedbackStoreError, match="nothing was saved"):
        recorder.submit("ans-0123456789abcdef0123", "up")
