"""Issue 10 (#3, #4): what the optional generator may show, and how long and
how much it may take, against the fake chat-completions server (tests/fakes.py)
and an index built with the fake embedder (fast tier: no model).

- `ask_stream` yields only verified text, as deltas, then the final Answer:
  a reply that misstates a status, in any phrasing, falls back to the
  extractive answer, and no delta before that ever held the wrong status;
- a slow stream is cut at the deadline, an endless or huge one at the size
  cap, whatever its shape; `max_tokens` is sent;
- upstream error bodies reach the log, never the notes; only the errors
  expected from the HTTP client are caught.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import time

import pytest

from fakes import FakeChatServer, FakeEmbedder, Reply, sse_chunk
from traite_qa.answer import Answer, Assistant
from traite_qa.answer.generator import Generator
from traite_qa.answer.verify import answer_problems, stated_status_problems
from traite_qa.index import build_index
from traite_qa.search import Searcher

QUESTION = "Quel est le rôle de la Miprof dans la mesure 16 ?"  # retrieval, cites [Mesure 16] (Non réalisée)
GOOD = "La CNCDH souligne que le mécanisme national de référence reste à créer [Mesure 16]. "
TAIL = "Elle recommande de confier ce rôle à la Miprof [Mesure 16]."


@pytest.fixture(scope="module")
def server():
    with FakeChatServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, settings):
    root = tmp_path_factory.mktemp("generator-index")
    built = settings.with_(index_dir=root / "build", model_cache=root / "models")
    embedder = FakeEmbedder()
    build_index(built, force=True, embedder=embedder)
    return Searcher.load(settings=built, embedder=embedder)


@pytest.fixture(scope="module")
def extractive(searcher) -> Assistant:
    return Assistant(searcher)  # built once (about a second); tests give it a generator


@pytest.fixture(scope="module")
def base(extractive) -> Answer:
    answer = extractive.ask(QUESTION)
    assert answer.status == "answered" and answer.intent == "measure_question", answer
    # Measure 16 alone (one or two of its pieces, as the learned ranker picks its sentences).
    assert answer.citations and {c.marker for c in answer.citations} == {"Mesure 16"}, answer.citations
    return answer


@pytest.fixture
def make(extractive, searcher, server):
    def make(**overrides) -> Assistant:
        values = {"llm_base_url": server.base_url, "llm_model": "fake", "llm_timeout": 1.0, **overrides}
        extractive.generator = Generator(searcher.settings.with_(**values), evaluation=searcher.evaluation)
        return extractive

    yield make
    extractive.generator = None


def _run(assistant: Assistant) -> tuple[list[str], Answer, float]:
    started = time.monotonic()
    items = list(assistant.ask_stream(QUESTION))
    elapsed = time.monotonic() - started
    *deltas, final = items
    assert isinstance(final, Answer) and all(isinstance(d, str) and d for d in deltas), items[:5]
    return deltas, final, elapsed


def _assert_extractive(final: Answer, base: Answer, note: str) -> None:
    assert final.answer == base.answer and [c.id for c in final.citations] == [c.id for c in base.citations]
    assert final.verified is True
    fallback = [n for n in final.notes if "extractive answer used" in n]
    assert len(fallback) == 1 and re.search(note, fallback[0]), final.notes


# ------------------------------------------------------- status phrasings
WRONG = [
    "Mesure 16 est Réalisée.",
    "La mesure 16 est réalisée.",
    "La mesure 16 a été pleinement réalisée.",
    "La mesure 16 est désormais Réalisée.",
    "Measure 16 has been fully implemented.",
    "La mesure\u00a016 est réalisée.",
    "La seizième mesure est Réalisée.",
    "La mesure XVI a été mise en œuvre.",
    "La mesure 16 est partiellement réalisée.",
    "Measure 16 is partly implemented.",
    "Measure 16 has been partially implemented.",
    "La mesure 38 n'a pas été réalisée.",  # a measure the model was not given: still checked
    "La mesure 38 n'a pas été mise en œuvre.",
    "Measure 38 is not implemented.",
    "La mesure 1 est non réalisée.",
    "Elle a été réalisée en 2021.",  # "elle": the measure the previous sentence named
]


@pytest.mark.parametrize("wrong", WRONG)
def test_a_wrong_status_in_any_phrasing_falls_back_and_is_never_shown(make, server, base, searcher, wrong):
    server.script(Reply(GOOD + wrong + " [Mesure 16] " + TAIL, pieces=12))
    deltas, final, _ = _run(make())
    _assert_extractive(final, base, r"generated answer discarded: the answer says measure \d+ is")
    shown = "".join(deltas)
    assert shown.strip() in ("", GOOD.strip()), f"more than the sentence before the wrong one was shown: {shown!r}"
    assert stated_status_problems(shown, searcher.evaluation) == [], shown
    # and `ask` (what the API and the CLI call) falls back the same way
    server.script(Reply(GOOD + wrong + " [Mesure 16] " + TAIL))
    _assert_extractive(make().ask(QUESTION), base, r"generated answer discarded")


@pytest.mark.parametrize("right", [
    "La mesure 16 n'a pas été mise en œuvre.",
    "La mesure 16 est Non réalisée.",
    "Measure 16 has not been implemented.",
    "La seizième mesure n'est toujours pas réalisée.",
])
def test_the_document_s_status_is_kept(make, server, base, searcher, right):
    text = GOOD + right + " [Mesure 16] " + TAIL
    server.script(Reply(text, pieces=9))
    deltas, final, _ = _run(make())
    assert final.answer == text and final.verified is True and "generated by fake" in final.notes
    assert "".join(deltas).strip() == final.answer
    assert answer_problems(final, searcher.evaluation, searcher.data.source) == []


def test_deltas_are_whole_checked_sentences(make, server):
    sentences = [f"Phrase {i} sur le rôle de la Miprof [Mesure 16]. " for i in range(1, 7)]
    server.script(Reply("".join(sentences) + "Fin sans point [Mesure 16]", pieces=40))
    deltas, final, _ = _run(make())
    assert "".join(deltas).strip() == final.answer
    assert len(deltas) >= 3
    for delta in deltas[:-1]:  # released only at a sentence end, its marker included
        assert re.search(r"\[Mesure 16\]\.\s+$", delta), deltas


def test_a_late_wrong_status_is_cut_before_it_shows(make, server, base):
    text = "".join(f"Constat {i} de la CNCDH [Mesure 16]. " for i in range(8)) + "La mesure 16 est réalisée [Mesure 16]. " + TAIL
    server.script(Reply(text, pieces=60, piece_delay=0.005))
    deltas, final, _ = _run(make())
    _assert_extractive(final, base, r"generated answer discarded")
    assert "réalisée" not in "".join(deltas) and "Constat 7" in "".join(deltas)


def test_max_tokens_is_sent(make, server):
    server.script(Reply(GOOD))
    make(llm_max_tokens=77).ask(QUESTION)
    assert server.requests[-1]["max_tokens"] == 77 and server.requests[-1]["stream"] is True


# ---------------------------------------------------------- time and size
def test_a_slow_stream_is_cut_at_the_deadline(make, server, base):
    text = "".join(f"Constat {i} [Mesure 16]. " for i in range(100))
    server.script(Reply(text, pieces=100, piece_delay=0.05))  # 5 s in all, a piece every 50 ms
    deltas, final, elapsed = _run(make(llm_deadline=1.0))
    _assert_extractive(final, base, r"generator unavailable \(no complete reply within 1 s\)")
    assert elapsed < 2.0, f"cut after {elapsed:.1f} s with llm_deadline=1"
    assert deltas, "the sentences verified before the deadline were streamed"


def test_a_stalled_stream_times_out(make, server, base):
    server.script(Reply(GOOD + TAIL, pieces=2, piece_delay=3.0))
    _, final, elapsed = _run(make(llm_timeout=0.5))
    _assert_extractive(final, base, r"generator unavailable \(timeout\)")
    assert elapsed < 2.0


def _forever(chunk: bytes):
    return lambda: itertools.repeat(chunk)


@pytest.mark.parametrize("name, events, note", [
    ("endless text", _forever(sse_chunk("encore ")), r"reply over 2000 characters"),
    ("endless line", _forever(b"data: " + b"x" * 65536), r"malformed reply"),
    ("endless keep-alives", _forever(b": ping\n\n"), r"reply over 2000 characters|no complete reply"),
    ("endless empty events", _forever(sse_chunk("")), r"reply over 2000 characters|no complete reply"),
])
def test_an_endless_stream_is_capped(make, server, base, name, events, note):
    server.script(Reply(events=events))
    _, final, elapsed = _run(make(llm_max_chars=2000, llm_deadline=5.0))
    _assert_extractive(final, base, note)
    assert elapsed < 6.0, f"{name}: {elapsed:.1f} s"


def test_a_10_mb_completion_is_capped_without_being_read(make, server, base):
    server.script(Reply("mot " * 2_500_000, pieces=2_500))  # 10 MB of text in 4 KB events
    _, final, elapsed = _run(make())
    _assert_extractive(final, base, r"reply over 8000 characters")
    assert elapsed < 5.0


def test_a_huge_json_body_is_capped(make, server, base):
    body = json.dumps({"choices": [{"message": {"content": "x" * 10_000_000}}]}).encode()
    server.script(Reply(raw_body=body))
    _assert_extractive(make().ask(QUESTION), base, r"reply over 8000 characters")


def test_a_plain_json_completion_is_read_too(make, server):
    body = json.dumps({"choices": [{"message": {"role": "assistant", "content": GOOD.strip()}}]}).encode()
    server.script(Reply(raw_body=body))  # a server that ignores `stream`
    answer = make().ask(QUESTION)
    assert answer.answer == GOOD.strip() and "generated by fake" in answer.notes


def test_many_tiny_pieces_without_a_sentence_end_cost_linear_time(make, server):
    server.script(Reply("a" * 7_900 + " [Mesure 16]", pieces=7_912))
    deltas, final, elapsed = _run(make(llm_deadline=30.0))
    assert final.answer.endswith("[Mesure 16]") and len(deltas) == 1
    assert elapsed < 15.0, f"{elapsed:.1f} s for 7,912 one-character pieces"


# ----------------------------------------------------------------- errors
SECRET = "SECRET-upstream-body-4242 /etc/passwd"


@pytest.mark.parametrize("reply, note", [
    (Reply(status=500, raw_body=json.dumps({"error": {"message": SECRET}}).encode()), r"\(HTTP 500\)"),
    (Reply(status=401, raw_body=SECRET.encode()), r"\(HTTP 401\)"),
    (Reply(events=lambda: [sse_chunk("Début. "), b'data: {"error": {"message": "' + SECRET.encode() + b'"}}\n\n']),
     r"\(upstream error\)"),
    (Reply(events=lambda: [b"data: " + SECRET.encode() + b"\n\n"]), r"\(malformed reply\)"),
])
def test_upstream_error_bodies_go_to_the_log_not_the_notes(make, server, base, caplog, reply, note):
    server.script(reply)
    with caplog.at_level(logging.WARNING, logger="traite_qa.generator"):
        _, final, _ = _run(make())
    _assert_extractive(final, base, note)
    assert "SECRET" not in json.dumps(final.to_dict(), ensure_ascii=False)
    assert SECRET.split()[0] in caplog.text


def test_unexpected_errors_are_not_swallowed(searcher, server, base):
    """Only the HTTP client's errors mean "generator unavailable": a bug surfaces."""
    class Broken:
        def __getattr__(self, name):
            raise TypeError("a bug in the caller")

    settings = searcher.settings.with_(llm_base_url=server.base_url, llm_model="fake")
    with pytest.raises(TypeError, match="a bug"):
        Generator(settings, client=Broken()).rewrite(base)
