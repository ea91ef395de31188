"""The HTTP API and Gradio's own API on a real server (`traite-qa chat --port N`
in a subprocess, on the session's index): answers, the error contract, caps,
the OpenAPI schema, and the chat through `gradio_client`."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import httpx
import pytest

from traite_qa.answer import MARKER_RE
import live

pytestmark = [pytest.mark.server, pytest.mark.slow]
OUT = Path(__file__).parent / "out"
ERROR_KEYS = {"code", "message", "field"}
HIT_KEYS = {
    "id", "kind", "measures", "statuses", "footnote", "acronym", "title", "status", "axis", "action",
    "header", "text", "footnotes", "span", "score", "rank", "pinned", "dense", "lexical",
}


@pytest.fixture(scope="session")
def live_server(index_settings):
    server = live.acquire(index_settings.index_dir, OUT)
    yield server
    live.release(server)


@pytest.fixture(scope="module")
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=60.0) as client:
        yield client


def assert_error(response: httpx.Response, status: int, code: str, field=..., contains: str = "") -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS, body
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    if field is not ...:
        assert error["field"] == field, error
    assert contains.lower() in error["message"].lower(), error
    return error


# ---------------------------------------------------------------- serving
def test_prints_its_url_and_serves_the_page_quickly(live_server, http):
    assert f"http://127.0.0.1:{live_server.port}" in live_server.log()
    # The index exists: the page is served soon after the process starts (the
    # cold-start figures are `make bench`'s). The bound holds on any CPU of this
    # machine kind, with the other test worker busy: 10 s held on an AMD EPYC,
    # but an Intel Xeon (Ice Lake) took 12.1 s in one of four runs.
    assert live_server.page_seconds < 20, live_server.page_seconds
    page = http.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    (OUT / "timings.json").write_text(
        json.dumps({"page_seconds": round(live_server.page_seconds, 2), "ready_seconds": round(live_server.ready_seconds, 2)}),
        encoding="utf-8",
    )


def test_healthz_summarises_the_manifest(http, index_settings):
    body = http.get("/healthz").json()
    manifest = json.loads((index_settings.index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert body["status"] == "ok"
    assert body["model"] == manifest["model"]["id"]
    assert body["dimension"] == manifest["model"]["dimension"] == 384
    assert body["chunks"] == manifest["chunks"] > 0
    assert body["source_sha256"] == hashlib.sha256(index_settings.source.read_bytes()).hexdigest()
    assert body["created_at"] == manifest["created_at"]
    assert body["package_version"] == manifest["package_version"]
    assert body["measures"] == 45


def test_static_assets_and_docs_are_local(http):
    for name, marker in [("chat.js", "tqaAsk"), ("actions.js", "tqa-copy"), ("feedback.js", "/api/feedback"),
                         ("dashboard.js", "tqa-mtable"), ("page.js", "Copy table data")]:
        assert marker in http.get(f"/static/traite-qa/{name}").text, name
    assert ".tqa-marker" in http.get("/static/traite-qa/style.css").text
    docs = http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "cdn." not in docs.text  # Swagger UI is served from this server


# ------------------------------------------------------------------ search
def test_search_returns_hits_in_the_search_contract(http):
    body = http.get("/api/search", params={"q": "mécanisme national de référence", "k": 4}).json()
    assert body["query"] == "mécanisme national de référence"
    assert [h["rank"] for h in body["hits"]] == [1, 2, 3, 4]
    for hit in body["hits"]:
        assert HIT_KEYS <= set(hit)
        assert set(hit["span"]) == {"start", "end"}
    assert any(16 in h["measures"] for h in body["hits"])


def test_search_pins_a_named_measure(http):
    hits = http.get("/api/search", params={"q": "mesure 16", "k": 3}).json()["hits"]
    assert hits[0]["pinned"] and 16 in hits[0]["measures"]


@pytest.mark.parametrize(
    "params, check",
    [
        ({"status": "non-realisee", "kind": "measure"}, lambda h: "Non réalisée" in h["statuses"]),
        ({"axis": 3, "kind": "measure"}, lambda h: h["axis"] == 3),
        ({"kind": "footnote"}, lambda h: h["kind"] == "footnote"),
        ({"action": 5}, lambda h: h["action"] == 5),
    ],
)
def test_search_filters(http, params, check):
    hits = http.get("/api/search", params={"q": "formation des professionnels", "k": 8, **params}).json()["hits"]
    assert hits and all(check(h) for h in hits)


# --------------------------------------------------------------------- ask
def test_ask_answers_with_cited_passages(http, evaluation):
    body = http.post("/api/ask", json={"question": "Où en est la mesure 16 ?"}).json()
    assert body["status"] == "answered"
    assert "non réalisée" in body["answer"].lower()
    assert body["measures"] == {"16": evaluation.measure(16).status.value}
    markers = {c["marker"] for c in body["citations"]}
    assert "Mesure 16" in markers
    assert set(MARKER_RE.findall(body["answer"])) <= markers  # every marker names a citation
    for cit in body["citations"]:
        assert HIT_KEYS <= set(cit)
        assert all(q in cit["text"] for q in cit["quotes"])  # quotes are verbatim


def test_ask_follow_up_uses_the_history(http, evaluation):
    first = http.post("/api/ask", json={"question": "Où en est la mesure 16 ?"}).json()
    history = [
        {"role": "user", "content": "Où en est la mesure 16 ?"},
        {"role": "assistant", "content": [{"type": "text", "text": first["answer"]}]},  # Gradio's parts format
    ]
    body = http.post("/api/ask", json={"question": "Et la mesure 17 ?", "history": history}).json()
    assert body["status"] == "answered"
    assert body["measures"] == {"17": evaluation.measure(17).status.value}


@pytest.mark.parametrize("first, follow_up, none", [
    ("Où en est la mesure 45 ?", "Et la suivante ?", "pas de mesure 46"),
    ("Où en est la mesure 1 ?", "Et la précédente ?", "pas de mesure 0"),
    ("What is the status of measure 45?", "And the next one?", "no measure 46"),
])
def test_a_follow_up_past_the_ends_says_there_is_none(http, evaluation, first, follow_up, none):
    """Issue 23: "Et la suivante ?" after measure 45 quoted measure 45 (or 43) again."""
    answer = http.post("/api/ask", json={"question": first}).json()["answer"]
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": answer}]
    body = http.post("/api/ask", json={"question": follow_up, "history": history}).json()
    assert body["status"] == "no_evidence" and body["intent"] == "unknown_reference", body
    assert none in body["answer"] and not body["citations"] and not body["measures"], body


def test_ask_in_english(http, evaluation):
    body = http.post("/api/ask", json={"question": "What is the status of measure 3?"}).json()
    assert body["language"] == "en" and body["status"] == "answered"
    assert evaluation.measure(3).status.english in body["answer"]


def test_ask_without_an_answer_offers_closest_topics(http):
    body = http.post("/api/ask", json={"question": "Quelle est la recette de la tarte tatin ?"}).json()
    assert body["status"] == "no_evidence"
    assert body["citations"] == []
    assert body["suggestions"]


def test_ask_with_filters(http):
    body = http.post("/api/ask", json={"question": "hébergement des victimes", "status": "non-realisee", "axis": 3}).json()
    assert body["status"] in ("answered", "no_evidence")
    for cit in body["citations"]:
        if cit["kind"] == "measure":
            assert cit["axis"] == 3 and "Non réalisée" in cit["statuses"]


# ---------------------------------------------------------------- measures
def test_measures_lists_all_45_with_their_status(http, evaluation):
    body = http.get("/api/measures").json()
    assert body["count"] == len(body["measures"]) == 45
    for row, measure in zip(body["measures"], evaluation.measures):
        assert (row["number"], row["title"], row["status"], row["axis"], row["action"]) == (
            measure.number, measure.title, measure.status.value, measure.axis, measure.action,
        )
        assert row["status_slug"] == measure.status.slug
    assert body["status_counts"] == {s.value: n for s, n in evaluation.status_counts().items()}


def test_measure_has_its_body_and_footnotes(http, evaluation):
    body = http.get("/api/measures/16").json()
    measure = evaluation.measure(16)
    assert body["body"] == measure.body
    assert body["status"] == "Non réalisée" and body["status_slug"] == "non-realisee"
    assert [f["number"] for f in body["footnotes"]] == list(measure.footnotes)
    for note in body["footnotes"]:
        assert note["text"] == evaluation.footnote(note["number"]).text


# --------------------------------------------------------------- bad input
TOO_LONG = "mesure " * 400  # 2800 characters > the 2000 cap
BAD_INPUTS = [
    # (method, path, kwargs, status, code, field, message fragment)
    ("GET", "/api/search", {"params": {"q": ""}}, 422, "empty_question", "q", "empty"),
    ("GET", "/api/search", {"params": {"q": "   \t "}}, 422, "empty_question", "q", "empty"),
    ("GET", "/api/search", {}, 422, "empty_question", "q", "required"),
    ("GET", "/api/search", {"params": {"q": TOO_LONG}}, 422, "question_too_long", "q", "limit is 2000"),
    ("GET", "/api/search", {"params": {"q": "x", "k": 0}}, 422, "invalid_filter", "k", "from 1 to 50"),
    ("GET", "/api/search", {"params": {"q": "x", "k": 51}}, 422, "invalid_filter", "k", "from 1 to 50"),
    ("GET", "/api/search", {"params": {"q": "x", "k": "abc"}}, 422, "invalid_filter", "k", "integer"),
    ("GET", "/api/search", {"params": {"q": "x", "status": "faite"}}, 422, "invalid_filter", "status", "non-realisee"),
    ("GET", "/api/search", {"params": {"q": "x", "axis": 7}}, 422, "invalid_filter", "axis", "6 axes"),
    ("GET", "/api/search", {"params": {"q": "x", "action": 18}}, 422, "invalid_filter", "action", "17 actions"),
    ("GET", "/api/search", {"params": {"q": "x", "kind": "chapter"}}, 422, "invalid_filter", "kind", "footnote"),
    ("GET", "/api/search", {"params": {"q": "mesure 52"}}, 404, "unknown_reference", "q", "45 measures"),
    ("GET", "/api/search", {"params": {"q": "note 400"}}, 404, "unknown_reference", "q", "footnote"),
    ("GET", "/api/measures/52", {}, 404, "unknown_measure", "n", "45 measures"),
    ("GET", "/api/measures/0", {}, 404, "unknown_measure", "n", "45 measures"),
    ("GET", "/api/measures/abc", {}, 422, "invalid_measure", "n", "not an integer"),
    ("POST", "/api/ask", {"json": {"question": ""}}, 422, "empty_question", "question", "empty"),
    ("POST", "/api/ask", {"json": {"question": " \u200b\n "}}, 422, "empty_question", "question", "empty"),
    ("POST", "/api/ask", {"json": {}}, 422, "empty_question", "question", "required"),
    ("POST", "/api/ask", {"json": {"question": TOO_LONG}}, 422, "question_too_long", "question", "limit is 2000"),
    ("POST", "/api/ask", {"json": {"question": 16}}, 422, "invalid_question", "question", "text"),
    ("POST", "/api/ask", {"json": {"question": "x", "status": "faite"}}, 422, "invalid_filter", "status", "realisee"),
    ("POST", "/api/ask", {"json": {"question": "x", "axis": 0}}, 422, "invalid_filter", "axis", "6 axes"),
    ("POST", "/api/ask", {"json": {"question": "x", "history": "nope"}}, 422, "invalid_field", "history", "list"),
    ("POST", "/api/ask", {"json": {"question": "x", "history": [{"role": "robot", "content": "a"}]}}, 422, "invalid_field", "history[0].role", "user"),
    ("POST", "/api/ask", {"json": ["Où en est la mesure 16 ?"]}, 422, "invalid_body", "body", "object"),
    ("POST", "/api/ask", {"content": b'{"question": "mesure 16"', "headers": {"content-type": "application/json"}}, 400, "invalid_json", "body", "not valid json"),
    ("POST", "/api/ask", {"content": b'{"question": "\xff\xfe"}', "headers": {"content-type": "application/json"}}, 400, "invalid_json", "body", "utf-8"),
    ("POST", "/api/ask", {"content": b"Ou en est la mesure 16 ?", "headers": {"content-type": "text/plain"}}, 415, "unsupported_media_type", "body", "application/json"),
    ("POST", "/api/ask", {}, 422, "missing_field", "body", "required"),
    ("GET", "/api/ask", {}, 405, "method_not_allowed", None, "use POST"),
    ("DELETE", "/api/measures/3", {}, 405, "method_not_allowed", None, "use GET"),
    ("POST", "/healthz", {}, 405, "method_not_allowed", None, "use GET"),
    ("GET", "/api/nothing-here", {}, 404, "not_found", None, "no such endpoint"),
]


@pytest.mark.parametrize(
    "method, path, kwargs, status, code, field, fragment",
    BAD_INPUTS,
    ids=[f"{m} {p} {code}-{i}" for i, (m, p, _, _, code, _, _) in enumerate(BAD_INPUTS)],
)
def test_bad_input_gets_a_json_4xx(http, method, path, kwargs, status, code, field, fragment):
    response = http.request(method, path, **kwargs)
    assert_error(response, status, code, field, fragment)
    if status == 405:
        assert response.headers["allow"]


def test_a_100000_character_question_is_refused_quickly(http):
    started = time.monotonic()
    response = http.post("/api/ask", json={"question": "a" * 100_000})
    assert time.monotonic() - started < 2
    assert_error(response, 422, "question_too_long", "question", "100000 characters")


def test_oversized_bodies_are_refused_before_parsing(http):
    big = b'{"question": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    started = time.monotonic()
    response = http.post("/api/ask", content=big, headers={"content-type": "application/json"})
    assert time.monotonic() - started < 2
    assert_error(response, 413, "body_too_large", "body", "1024 KiB")


def test_lone_surrogates_do_not_break_the_json(http):
    response = http.post("/api/ask", content=b'{"question": "mesure 16 \\ud800"}', headers={"content-type": "application/json"})
    assert response.status_code in (200, 422)
    response.json()


# ----------------------------------------------------------------- OpenAPI
def test_openapi_documents_the_contract(http):
    schema = http.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/api/search", "/api/ask", "/api/measures", "/api/measures/{n}", "/healthz"} <= set(paths)
    q = next(p for p in paths["/api/search"]["get"]["parameters"] if p["name"] == "q")
    assert q["required"] and q["schema"]["maxLength"] == 2000 and q["schema"]["minLength"] == 1 and "pattern" in q["schema"]
    k = next(p for p in paths["/api/search"]["get"]["parameters"] if p["name"] == "k")
    assert (k["schema"]["minimum"], k["schema"]["maximum"]) == (1, 50)
    ask = paths["/api/ask"]["post"]
    for status in ("400", "413", "415", "422"):
        assert ask["responses"][status]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert paths["/api/measures/{n}"]["get"]["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert "HTTPValidationError" not in json.dumps(schema)  # FastAPI's own 422 shape is replaced everywhere
    assert set(schema["components"]["schemas"]["ErrorDetail"]["required"]) == ERROR_KEYS


# ------------------------------------------------------------- gradio_client
@pytest.fixture(scope="module")
def gradio(live_server):
    from gradio_client import Client

    client = Client(live_server.url + "/", verbose=False)
    yield client
    client.close()


def test_gradio_ask_endpoint(gradio, evaluation):
    result = gradio.predict("Où en est la mesure 16 ?", api_name="/ask")
    assert result["status"] == "answered" and "non réalisée" in result["answer"].lower()
    assert "Mesure 16" in {c["marker"] for c in result["citations"]}
    history = [{"role": "user", "content": "Où en est la mesure 16 ?"}, {"role": "assistant", "content": result["answer"]}]
    follow = gradio.predict("Et la mesure 17 ?", history, api_name="/ask")
    assert follow["measures"] == {"17": evaluation.measure(17).status.value}


def test_gradio_search_endpoint(gradio):
    result = gradio.predict("mesure 16", 3, api_name="/search")
    assert len(result["hits"]) == 3 and result["hits"][0]["pinned"]


def test_gradio_bad_filter_is_an_error(gradio):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="axis"):
        gradio.predict("x", None, 9, api_name="/ask")


def test_gradio_chat_renders_an_extractive_answer_once(gradio):
    gradio.reset_session()
    job = gradio.submit("Où en est la mesure 16 ?", "", "", api_name="/chat")
    final = job.result(timeout=60)
    outputs = job.outputs()
    # The question with a pending bubble, then the answer: no simulated
    # streaming (an extractive answer exists whole at once).
    assert len(outputs) == 2, [o[1][-200:] for o in outputs]
    assert "tqa-streaming" in outputs[0][1] and "tqa-streaming" not in outputs[1][1]
    conversation, sources = final[1], final[2]
    assert "non réalisée" in conversation.lower() and 'class="tqa-marker"' in conversation
    assert 'data-marker="Mesure 16"' in sources


def test_gradio_chat_applies_the_filters(gradio):
    import re

    gradio.reset_session()  # a new conversation: the chat keeps its turns per session
    job = gradio.submit("hébergement des victimes", "3", "non-realisee", api_name="/chat")
    sources = job.result(timeout=60)[2]
    assert sources.count('class="tqa-sources-turn"') <= 1
    cards = re.findall(r'<article class="tqa-source tqa-kind-measure".*?</article>', sources, flags=re.S)
    for card in cards:
        assert "Axe 3</span>" in card and "tqa-status-non-realisee" in card
