"""Issue 23's fourth finding through the real served app: a `traite-qa chat`
whose optional generator (a fake OpenAI-compatible upstream in this test
process) replies with the generated list's status claims.

tests/test_claim_phrasings.py checks the whole list against the verifier
and an in-process Assistant; here a sample goes the way a client meets it,
through POST /api/ask and the chat's event stream, on the real index.
"""

from __future__ import annotations

import html
import json
import uuid
from pathlib import Path

import httpx
import pytest

import live
from claim_phrasings import phrasings
from fakes import FakeChatServer, Reply
from test_security import join

pytestmark = [pytest.mark.server, pytest.mark.slow]
OUT = Path(__file__).parent / "out"
QUESTION = "Quel est le rôle de la Miprof dans la mesure 16 ?"  # answered from passages that cite [Mesure 16]
GOOD = "La CNCDH souligne que le mécanisme national de référence reste à créer [Mesure 16]. "
TAIL = "Elle recommande de confier ce rôle à la Miprof [Mesure 16]."
PHRASINGS = phrasings()
FALSE = [p for p in PHRASINGS if not p.true][::6]  # every sixth: each template family and measure shows up
TRUE = [p for p in PHRASINGS if p.true][::10]


def reply(p) -> Reply:
    return Reply(f"{GOOD}{p.text.rstrip('.')} [Mesure 16]. {TAIL}", pieces=7)


@pytest.fixture(scope="module")
def llm():
    with FakeChatServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def server(index_settings, llm):
    env = {"TRAITE_QA_LLM_BASE_URL": llm.base_url, "TRAITE_QA_LLM_MODEL": "fake", "TRAITE_QA_LLM_TIMEOUT": "10"}
    srv = live.start(index_settings.index_dir, OUT, env=env)
    yield srv
    live.stop(srv)


def test_the_api_never_serves_a_false_phrasing_and_keeps_true_ones(server, llm):
    assert len(FALSE) >= 30 and len(TRUE) >= 10
    shown, lost = [], []
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for p in FALSE + TRUE:
            llm.script(reply(p))
            before = len(llm.requests)
            body = http.post("/api/ask", json={"question": QUESTION}).json()
            assert len(llm.requests) == before + 1, f"the generator was not asked: {body.get('notes')}"
            kept = p.text.rstrip(".") in body["answer"]
            if not p.true and kept:
                shown.append(p.text)
            if p.true and not (kept and body["verified"] is True):
                lost.append((p.text, body.get("notes")))
    assert not shown, f"{len(shown)} false phrasings served: {shown[:10]}"
    assert not lost, f"{len(lost)}/{len(TRUE)} true phrasings lost: {lost[:5]}"


def appears(text: str, stream: str) -> bool:
    """`text` in the chat's event stream, as the page gets it: HTML-escaped, in JSON."""
    text = text.rstrip(".")
    forms = {text, html.escape(text), html.escape(text, quote=False)}
    return any(f in stream or json.dumps(f)[1:-1] in stream for f in forms)


def test_the_chat_stream_never_shows_a_false_phrasing_even_for_a_moment(server, llm):
    """Every event of the chat's stream, not only its last: nothing unchecked
    is streamed. True phrasings, looked for the same way, are found."""
    with httpx.Client(base_url=server.url, timeout=60) as http:
        config = http.get("/config").json()
        chat = next(d for d in config["dependencies"] if d.get("api_name") == "chat")
        for p in FALSE[::4] + TRUE[::4]:
            llm.script(reply(p))
            response, lines = join(http, chat, [QUESTION, None, "", ""], session=uuid.uuid4().hex[:12])
            assert response.status_code == 200, response.text[:200]
            assert any("process_completed" in line for line in lines), lines[-3:]
            stream = "\n".join(lines)
            if p.true:  # the reply is streamed, and found by appears()
                assert appears(TAIL, stream) and appears(p.text, stream), f"lost: {p.text}"
            else:  # a wrong status discards the whole reply: the extractive answer is shown
                assert '"success":true' in stream.replace(" ", "") and "Miprof" in stream
                assert not appears(p.text, stream), f"shown while streaming: {p.text}"
