"""Issue 23 (medium #4): one claim verifier, tested on a generated list of
status phrasings, true and false (`claim_phrasings.py`: conjunctions, double
negatives, look-alike letters, check and cross marks, French and English
verbs of completion).

- read directly (`claims.check_claims`, `claims.supported_sentences`): every
  false phrasing is caught, at least 99% of the true ones pass;
- through the optional generator as it runs (`Assistant.ask_stream` against
  the fake chat-completions server): a false phrasing is never shown, a true
  one is;
- a claim the verifier cannot map drops its sentence, not the reply.
"""

from __future__ import annotations

import pytest

from claim_phrasings import MEASURES, phrasings
from fakes import FakeChatServer, FakeEmbedder, Reply
from traite_qa.answer import Answer, Assistant
from traite_qa.answer.claims import check_claims, supported_sentences
from traite_qa.answer.generator import Generator
from traite_qa.index import build_index
from traite_qa.search import Searcher

PHRASINGS = phrasings()
QUESTION = "Quel est le rôle de la Miprof dans la mesure 16 ?"  # retrieval, cites [Mesure 16]
GOOD = "La CNCDH souligne que le mécanisme national de référence reste à créer [Mesure 16]. "
TAIL = "Elle recommande de confier ce rôle à la Miprof [Mesure 16]."


def test_the_list_is_large_and_mixed(evaluation):
    assert len(PHRASINGS) >= 300
    true = sum(p.true for p in PHRASINGS)
    assert true >= 100 and len(PHRASINGS) - true >= 100
    for number, status in MEASURES.items():  # true and false are decided by the document model
        assert evaluation.measure(number).status is status


def test_every_false_phrasing_is_caught_and_true_ones_pass(evaluation):
    missed = [p.text for p in PHRASINGS if not p.true and not check_claims(p.text, evaluation)]
    flagged = [(p.text, [str(x) for x in check_claims(p.text, evaluation)]) for p in PHRASINGS
               if p.true and check_claims(p.text, evaluation)]
    true = sum(p.true for p in PHRASINGS)
    assert not missed, f"{len(missed)} false phrasings passed: {missed[:10]}"
    assert len(flagged) <= true * 0.01, f"{len(flagged)}/{true} true phrasings flagged: {flagged[:10]}"


def test_supported_sentences_keep_true_claims_and_drop_the_rest(evaluation):
    for p in PHRASINGS:
        text = f"{GOOD}{_ended(p.text)} {TAIL}"
        kept = "".join(supported_sentences(text, evaluation))
        assert GOOD in kept and TAIL in kept, (p.text, kept)
        if not p.true:
            assert p.text not in kept, p.text


@pytest.mark.parametrize("text, kind", [
    ("Si la mesure 16 était réalisée, le mécanisme existerait.", "unmapped"),
    ("Measure 16 will be implemented.", "unmapped"),
    ("La mesure 16 n'est pas non pas non réalisée.", "unmapped"),
    ("Les mesures 16 et 38 sont respectivement non réalisée et réalisée.", "unmapped"),
    ("Il n'est pas faux que la mesure 16 est réalisée.", "unmapped"),
    ("Aucune mesure n'a été menée à bien.", "unmapped"),
    ("Mesure 16 : 🎉", "unmapped"),
    ("Seules quatre mesures ont été réalisées.", "wrong_status"),
    ("Il est faux de dire que la mesure 38 est réalisée.", "wrong_status"),
])
def test_claims_it_cannot_map_or_that_are_wrong(evaluation, text, kind):
    problems = check_claims(text, evaluation)
    assert problems and problems[0].kind == kind, (text, problems)
    assert supported_sentences(text, evaluation) == []


@pytest.mark.parametrize("text", [
    "Seules trois mesures ont été réalisées.",
    "Le plan compte 45 mesures : 3 Réalisée, 28 Partiellement réalisée, 14 Non réalisée.",
    "Il est faux de dire que la mesure 16 est réalisée.",
    "La mise en œuvre de la mesure 16 est attendue.",
    "Le rapport a été publié en 2023.",
])
def test_true_or_claimless_sentences_are_kept(evaluation, text):
    assert check_claims(text, evaluation) == [], text
    assert supported_sentences(text, evaluation) == [text]


def _ended(text: str) -> str:
    return text if text.endswith(".") else text + "."


# ------------------------------------------------ through the generator
@pytest.fixture(scope="module")
def server():
    with FakeChatServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, settings, server):
    root = tmp_path_factory.mktemp("phrasings-index")
    built = settings.with_(index_dir=root / "build", model_cache=root / "models")
    embedder = FakeEmbedder()
    build_index(built, force=True, embedder=embedder)
    searcher = Searcher.load(settings=built, embedder=embedder)
    assistant = Assistant(searcher)
    values = {"llm_base_url": server.base_url, "llm_model": "fake", "llm_timeout": 2.0}
    assistant.generator = Generator(searcher.settings.with_(**values), evaluation=searcher.evaluation)
    return assistant


def _run(assistant: Assistant) -> tuple[str, Answer]:
    *deltas, final = list(assistant.ask_stream(QUESTION))
    assert isinstance(final, Answer)
    return "".join(deltas), final


def test_the_generator_never_shows_a_false_phrasing_and_keeps_true_ones(assistant, server):
    shown_false, lost_true = [], []
    for p in PHRASINGS:
        server.script(Reply(f"{GOOD}{p.text.rstrip('.')} [Mesure 16]. {TAIL}", pieces=7))
        shown, final = _run(assistant)
        if not p.true and (p.text.rstrip(".") in shown or p.text.rstrip(".") in final.answer):
            shown_false.append(p.text)
        if p.true and (p.text.rstrip(".") not in final.answer or "generated by fake" not in final.notes):
            lost_true.append((p.text, final.notes))
    true = sum(p.true for p in PHRASINGS)
    assert not shown_false, f"{len(shown_false)} false phrasings shown: {shown_false[:10]}"
    assert len(lost_true) <= true * 0.01, f"{len(lost_true)}/{true} true phrasings lost: {lost_true[:5]}"


def test_an_unmappable_claim_drops_its_sentence_not_the_reply(assistant, server):
    server.script(Reply(f"{GOOD}Si la mesure 16 était réalisée, tout irait mieux [Mesure 16]. {TAIL}", pieces=9))
    shown, final = _run(assistant)
    assert "Si la mesure 16" not in shown and "Si la mesure 16" not in final.answer
    assert final.answer == f"{GOOD}{TAIL}" and final.verified is True
    assert "generated by fake" in final.notes
    assert any("1 generated sentence(s) dropped" in n for n in final.notes), final.notes
