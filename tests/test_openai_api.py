"""The OpenAI-compatible endpoint (/v1/) through the `openai` Python client,
on a real `traite-qa chat` server: the model list, answers with their markers
and citations, streaming, follow-ups, OpenAI-shaped errors, and the guards
every route goes through."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import live

openai = pytest.importorskip("openai")  # a dependency of the [llm] extra and of the dev tools

pytestmark = [pytest.mark.server, pytest.mark.slow]
OUT = Path(__file__).parent / "out"
QUESTION = "Où en est la mesure 16 ?"


@pytest.fixture(scope="session")
def server(index_settings):  # the shared server: session-scoped like its other users', so it is not stopped and restarted
    server = live.acquire(index_settings.index_dir, OUT)
    yield server
    live.release(server)


@pytest.fixture(scope="module")
def client(server):
    with openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=120) as client:
        yield client


def ask(client, *messages, **options):
    return client.chat.completions.create(model="traite-qa", messages=list(messages), **options)


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def test_models_lists_the_one_model(client):
    assert [m.id for m in client.models.list()] == ["traite-qa"]


def test_answer_keeps_markers_and_carries_citations(client, server):
    completion = ask(client, {"role": "system", "content": "Réponds en français."}, user(QUESTION))
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    citations = choice.message.citations  # an extra field: the client keeps it
    assert citations and all(c["marker"] and c["id"] for c in citations)
    answer, sources = choice.message.content.split("\n\nSources :\n")
    assert "[Mesure 16]" in answer
    for c in citations:
        assert f"[{c['marker']}]" in answer and f"- [{c['marker']}] {c['title']}" in sources
    assert 16 in citations[0]["measures"]
    # The same answer as the HTTP API gives.
    direct = httpx.post(server.url + "/api/ask", json={"question": QUESTION}, timeout=60).json()
    assert answer == direct["answer"] and [c["id"] for c in citations] == [c["id"] for c in direct["citations"]]
    assert completion.model_extra["answer_id"] == direct["answer_id"]


def test_stream_gives_the_same_message_then_done(client, server):
    whole = ask(client, user(QUESTION)).choices[0].message
    chunks = list(ask(client, user(QUESTION), stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole.content
    last = chunks[-1].choices[0]
    assert last.finish_reason == "stop" and last.delta.citations == whole.citations
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    # On the wire: SSE data lines, the last one [DONE], as OpenAI sends them.
    body = {"model": "traite-qa", "messages": [user(QUESTION)], "stream": True}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"


def test_follow_up_uses_the_conversation(client, server):
    first = ask(client, user(QUESTION)).choices[0].message.content  # with its Sources block, as a client sends it back
    follow = ask(client, user(QUESTION), {"role": "assistant", "content": first}, user("Et la 17 ?")).choices[0].message
    assert "[Mesure 17]" in follow.content and any(17 in c["measures"] for c in follow.citations)
    # The history the chat and /api/ask use: the answer text without its sources.
    history = [user(QUESTION), {"role": "assistant", "content": first.split("\n\nSources :\n")[0]}]
    direct = httpx.post(server.url + "/api/ask", json={"question": "Et la 17 ?", "history": history}, timeout=60).json()
    assert follow.content.split("\n\nSources :\n")[0] == direct["answer"]


@pytest.mark.parametrize(
    "messages, param, code",
    [
        ([{"role": "assistant", "content": "Bonjour"}], "messages[0].role", "invalid_value"),
        ([{"role": "tool", "content": "x"}], "messages[0].role", "invalid_value"),
        ([user("   ")], "messages[0].content", "invalid_question"),
        ([user("a" * 2001)], "messages[0].content", "invalid_question"),
        ([user("x" * 10_001)], "messages[0].content", "invalid_value"),
        ([], "messages", "invalid_value"),
        ([user("Et la 17 ?")] * 52, "messages", "invalid_value"),
    ],
)
def test_bad_requests_are_400_in_openai_shape(client, messages, param, code):
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, *messages)
    error = caught.value.body
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert "x" * 50 not in error["message"]  # the value is not echoed back


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[user(QUESTION)])
    assert caught.value.body["code"] == "model_not_found" and "traite-qa" in caught.value.body["message"]


def test_malformed_json_is_400(server):
    response = httpx.post(server.url + "/v1/chat/completions", content=b"{not json",
                          headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


def test_guards_apply(client, server):
    # The body cap of every route (1 MiB by default).
    with pytest.raises(openai.APIStatusError) as caught:
        ask(client, user("x" * (1024 * 1024 + 10)))
    assert caught.value.status_code == 413
    # A page on another site may not post to it (Edge's Origin check), and the security headers are set.
    body = {"model": "traite-qa", "messages": [user(QUESTION)]}
    refused = httpx.post(server.url + "/v1/chat/completions", json=body, headers={"Origin": "http://evil.example"}, timeout=30)
    assert refused.status_code == 403
    models = httpx.get(server.url + "/v1/models", timeout=30)
    assert models.headers["x-content-type-options"] == "nosniff"
    # Unknown /v1/ paths and wrong methods are JSON errors, not the chat page.
    assert httpx.get(server.url + "/v1/embeddings", timeout=30).status_code == 404
    assert httpx.get(server.url + "/v1/chat/completions", timeout=30).status_code == 405


def test_requests_beyond_the_queue_get_429(index_settings):
    """One completion runs and one waits (chat_concurrency=1, queue_max_size=1): of
    a burst of 12 at once, the excess is refused with 429 in OpenAI's shape."""
    from concurrent.futures import ThreadPoolExecutor

    server = live.start(index_settings.index_dir, OUT, env={"TRAITE_QA_CHAT_CONCURRENCY": "1", "TRAITE_QA_QUEUE_MAX_SIZE": "1"})
    try:
        body = {"model": "traite-qa", "messages": [user("Quelles mesures de l'axe 2 ne sont pas réalisées ?")]}

        def post(_):
            return httpx.post(server.url + "/v1/chat/completions", json=body, timeout=120)

        with ThreadPoolExecutor(12) as pool:
            replies = list(pool.map(post, range(12)))
        statuses = sorted(r.status_code for r in replies)
        assert set(statuses) == {200, 429} and statuses.count(200) >= 2, statuses
        refused = next(r for r in replies if r.status_code == 429)
        assert refused.headers["retry-after"] == "2" and refused.json()["error"]["code"] == "rate_limit_exceeded"
        # The slots are given back: one at a time, every request is answered.
        assert all(post(i).status_code == 200 for i in range(3))
    finally:
        live.stop(server)
