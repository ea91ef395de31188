"""Fuzz `POST /api/feedback` like the other endpoints (tests/test_api_fuzz.py,
whose oracle helpers and contract checks it reuses): 1,000 generated JSON
bodies and 300 raw bodies, against the real app in process (an assistant
over a fake-embedded index, a real SQLite file).

What must hold: no 5xx; every reply is UTF-8 JSON valid against
`/openapi.json`; every 4xx has the error shape; an oracle predicts from the
body alone whether it is valid, and a valid one is saved (201, and the row
is in the database) when the answer is known to the server or sent along
unaltered, else 404 `unknown_answer` (409 `answer_mismatch` when another
answer's JSON is sent); an invalid one gets 422 naming the field at fault
(when only one is).
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from traite_qa import FeedbackStore
from traite_qa.feedback import REASONS
from traite_qa_app.server import create_app

from feedback_support import build_fake_index, fake_assistant
from test_api_fuzz import (
    CONTENT_TYPES, FUZZ, JSON_ANY, MAX_BODY, NOT_TEXT, TEXT, Contract, Failures, _code, _has_surrogate, combine, expect,
    raw_bodies, reply_problems,
)

MAX_COMMENT = 500
ID_RE = re.compile(r"ans-[0-9a-f]{20}")
QUESTIONS = ["Où en est la mesure 16 ?", "Que signifie OCRTEH ?", "note 47", "Combien de mesures sont réalisées ?",
             "What is the status of measure 22?", "hébergement des victimes"]


@pytest.fixture(scope="module")
def app(tmp_path_factory, settings, evaluation, source):
    root = tmp_path_factory.mktemp("feedback-fuzz")
    built, embedder = build_fake_index(root, settings)
    url = f"sqlite:///{root / 'fuzz.sqlite3'}"
    with TestClient(create_app(fake_assistant(built, embedder, database_url=url, feedback_burst=10**6, feedback_rate_per_minute=10**6), ui=False), client=("127.0.0.1", 1), base_url="http://127.0.0.1") as client:
        answers = [client.post("/api/ask", json={"question": q}).json() for q in QUESTIONS]
        contract = Contract(client.get("/openapi.json").json(), evaluation, source, 0)
        yield client, contract, answers, FeedbackStore(url)


def feedback_bodies(answers: list[dict]):
    known_ids = [a["answer_id"] for a in answers]
    answer_id = st.one_of(st.sampled_from(known_ids), st.sampled_from(known_ids),
                          st.text("0123456789abcdef", min_size=20, max_size=20).map("ans-".__add__),
                          st.sampled_from(["", "ans-", "ans-0123", "ANS-0123456789ABCDEF0123", "ans-0123456789abcdef0123 ",
                                           "ans-0123456789abcdef012\ud800", "mesure 16"]),
                          TEXT, NOT_TEXT)
    rating = st.one_of(st.sampled_from(["up", "down"]), st.sampled_from(["up", "down"]),
                       st.sampled_from(["Up", "DOWN", "👍", "👎", "", "meh", "1", "\ud800"]), NOT_TEXT)
    reason = st.one_of(st.none(), st.sampled_from(list(REASONS)), st.sampled_from(list(REASONS)),
                       st.sampled_from(["Autre", "mauvaise mesure", "", "none", "\ud800"]), NOT_TEXT)
    comment = st.one_of(st.none(), TEXT, st.sampled_from(["x" * MAX_COMMENT, "x" * (MAX_COMMENT + 1), " " * 600 + "x",
                                                          "<script>alert(1)</script>", "'; DROP TABLE feedback; --",
                                                          "\x00" * 10, "🙂" * MAX_COMMENT]), NOT_TEXT)
    payload = st.one_of(
        st.sampled_from(answers),
        st.builds(lambda a, s: {**a, "answer": a["answer"] + s}, st.sampled_from(answers), st.text(min_size=1, max_size=5)),
        st.builds(lambda a, k: {key: v for key, v in a.items() if key != k}, st.sampled_from(answers),
                  st.sampled_from(["question", "status", "answer", "citations", "intent", "language", "answer_id"])),
        JSON_ANY,
    )
    plausible = st.fixed_dictionaries({"answer_id": st.sampled_from(known_ids), "rating": st.sampled_from(["up", "down"])},
                                      optional={"reason": reason, "comment": comment})
    wild = st.fixed_dictionaries({}, optional={"answer_id": answer_id, "rating": rating, "reason": reason, "comment": comment,
                                               "answer": payload, "extra": JSON_ANY})
    with_payload = st.builds(lambda a, r: {"answer_id": a["answer_id"], "rating": r, "answer": a},
                             st.sampled_from(answers), st.sampled_from(["up", "down"]))
    return st.one_of(plausible, plausible, wild, wild, wild, with_payload, JSON_ANY)


def verdicts_for(body: dict, answers: dict[str, dict]) -> dict[str, bool | None]:
    answer_id, rating, reason, comment = (body.get(k) for k in ("answer_id", "rating", "reason", "comment"))
    verdicts = {
        "answer_id": isinstance(answer_id, str) and bool(ID_RE.fullmatch(answer_id)),
        "rating": rating in ("up", "down") and isinstance(rating, str),
        "reason": reason is None or (isinstance(reason, str) and reason in REASONS),
        "comment": comment is None or (isinstance(comment, str) and len(comment) <= MAX_COMMENT),
    }
    if isinstance(comment, str) and _has_surrogate(comment):
        verdicts["comment"] = None  # refused by the body parser or cleaned: either is fine (as for /api/ask)
    if verdicts["reason"] and reason is not None and rating == "up":
        verdicts["reason"] = False  # a reason goes with 'down' only
    if body.get("answer") is not None:
        sent = body["answer"]
        # The generator sends real answers, real answers with their text changed, answers missing a key, or junk.
        shaped = isinstance(sent, dict) and isinstance(sent.get("answer"), str) and any(
            {**sent, "answer": a["answer"]} == a for a in answers.values())
        # Well-formed is enough here: with a known answer_id the server's own copy
        # is used; otherwise an answer that is not the one the id names is a
        # conflict (409, checked in the test), told apart from a malformed one (422).
        verdicts["answer"] = shaped
    return verdicts


def test_fuzz_feedback_json(app):
    client, contract, answers, store = app
    by_id = {a["answer_id"]: a for a in answers}
    failures = Failures()
    codes = {"answer_id": {"invalid_field", "missing_field"}, "rating": {"invalid_field", "missing_field"},
             "reason": {"invalid_field", "invalid_feedback"}, "comment": {"invalid_field", "invalid_feedback"},
             "answer": {"invalid_field", "missing_field", "invalid_feedback", "invalid_body"}}
    saved: list[int] = []

    @FUZZ
    @given(body=feedback_bodies(answers), ascii_escapes=st.booleans())
    def run(body, ascii_escapes):
        content = json.dumps(body, ensure_ascii=ascii_escapes).encode("utf-8", "surrogatepass")
        response = client.post("/api/feedback", content=content, headers={"content-type": "application/json"})
        problems, reply = reply_problems(contract, "/api/feedback", "post", response)
        for problem in problems:
            failures.add(problem, body)
        if problems or reply is None:
            return
        status = response.status_code
        if len(content) > MAX_BODY:
            failures.outcomes[str(status)] += 1
            if status != 413:
                failures.add(f"a body over 1 MiB got {status}", f"{len(content)} bytes")
            return
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            failures.outcomes[str(status)] += 1
            if status != 400:
                failures.add(f"a body that is not UTF-8 got {status}", body)
            return
        if not isinstance(body, dict):
            failures.outcomes[str(status)] += 1
            if status != 422 or reply["error"]["code"] != "invalid_body":
                failures.add(f"a non-object body got {status} {_code(reply)}", body)
            return
        verdicts = verdicts_for(body, by_id)
        expect(failures, body, status, reply, verdicts, codes, extra_ok=(201, 403, 404, 409))
        if combine(verdicts.values()) is True:
            known = body["answer_id"] in by_id
            sent = body.get("answer")
            # With an unknown id, the answer sent is taken only as this server
            # served it (its answer_key): as served, it is another id's answer
            # (409); with its text changed, the key no longer matches (403).
            as_served = sent is not None and any(sent == a for a in answers)
            expected = 201 if known else (404 if sent is None else 409 if as_served else 403)
            if status != expected:
                failures.add(f"a valid body for a {'known' if known else 'unknown'} answer got {status} {_code(reply)}", body)
        if status == 201:
            saved.append(reply["id"])
            if reply["answer_id"] != body["answer_id"] or reply["rating"] != body["rating"]:
                failures.add("201 does not echo the answer_id and rating", body)
        elif status == 403 and (reply["error"]["code"], reply["error"]["field"]) != ("answer_not_served", "answer.answer_key"):
            failures.add(f"403 with {_code(reply)}", body)
        elif status == 404 and reply["error"]["code"] != "unknown_answer":
            failures.add(f"404 with code {reply['error']['code']}", body)
        elif status == 409 and (reply["error"]["code"], reply["error"]["field"]) != ("answer_mismatch", "answer"):
            failures.add(f"409 with {_code(reply)}", body)

    run()
    stored = {r.id: r for r in store.feedback()}
    lost = [i for i in saved if i not in stored]
    if lost:
        failures.add(f"{len(lost)} feedback answered 201 are not in the database", lost[:5])
    for record in stored.values():
        # The store keeps the answer without the server's key over it.
        served = {k: v for k, v in (by_id.get(record.answer_id) or {}).items() if k != "answer_key"}
        if record.answer != served:
            failures.add("a stored answer is not the answer its id names", record.answer_id)
    print("\nfeedback fuzz " + failures.report() + f"\nsaved: {len(saved)}")
    assert len(saved) > 100, "the generator produced too few valid bodies to exercise saving"
    assert not failures.found, "POST /api/feedback:\n" + failures.report()


def test_fuzz_feedback_raw_bodies(app):
    client, contract, _, _ = app
    failures = Failures()

    @settings(FUZZ, max_examples=300)
    @given(body=raw_bodies(), ctype=st.sampled_from(CONTENT_TYPES))
    def run(body, ctype):
        kind, data = body
        headers = {} if ctype is None else {"content-type": ctype}
        response = client.post("/api/feedback", content=data, headers=headers)
        problems, reply = reply_problems(contract, "/api/feedback", "post", response)
        example = (kind, ctype, data[:200])
        for problem in problems:
            failures.add(problem, example)
        if problems or reply is None:
            return
        status = response.status_code
        failures.outcomes[str(status)] += 1
        json_type = ctype is not None and re.match(r"application/([a-z.]+\+)?json\s*(;|$)", ctype) and "latin" not in ctype
        if len(data) > MAX_BODY:
            if status != 413:
                failures.add(f"a body over 1 MiB got {status}", (kind, ctype, len(data)))
        elif kind == "bad-utf8" and json_type and status != 400:
            failures.add(f"a JSON body that is not UTF-8 got {status}", example)
        elif ctype in ("text/plain", "text/html", "application/x-www-form-urlencoded") and data and status != 415:
            failures.add(f"a {ctype} body got {status} {_code(reply)}", example)
        elif status < 400:
            failures.add(f"a raw body without answer_id and rating got {status}", example)

    run()
    print("\nfeedback raw fuzz " + failures.report())
    assert not failures.found, "POST /api/feedback (raw bodies):\n" + failures.report()
