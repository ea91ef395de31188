"""A quote that opens on a pronoun ("Ils valorisent déjà …") brings the
sentence that names its subject, verbatim: merged when both share a line of
the passage, as the quote before it when the chunk split fell between them."""

from __future__ import annotations

import pytest

from traite_qa.answer.retrieval import with_antecedents
from traite_qa.types import Evidence

pytestmark = pytest.mark.slow


def _evidence(assistant, chunk_id: str, index: int) -> Evidence:
    hit = assistant.searcher.hits_for([chunk_id])[0]
    start, end = assistant.retrieval.scorer.sentences_of(hit)[index]
    return Evidence(hit, start, end, 1.0, 0.5, 0.0)


def _chosen(assistant, evidence: list[Evidence]) -> list[Evidence]:
    return with_antecedents(evidence, assistant.retrieval.scorer, assistant.retrieval.previous_chunk)


def _opening(assistant, word: str, first: bool):
    """A chunk sentence that opens on `word`: the chunk's first sentence, or a later one on the same line."""
    scorer = assistant.retrieval.scorer
    for hit in assistant.searcher.hits_for([c.id for c in assistant.searcher.chunks]):
        spans = scorer.sentences_of(hit)
        for i, (s, e) in enumerate(spans):
            if hit.text[s:e].startswith(word + " ") and (i == 0) == first and ("#" in hit.id or not first):
                if first or "\n" not in hit.text[spans[i - 1][0]:s]:
                    return hit.id, i
    raise AssertionError(f"no sentence opening on {word!r} (first={first}) in the index")


def test_the_split_between_chunks_brings_theprevious_chunks_last_sentence(assistant):
    chunk_id, i = _opening(assistant, "Ils", first=True)
    e = _evidence(assistant, chunk_id, i)
    out = _chosen(assistant, [e])
    assert len(out) == 2 and out[1] == e
    prior = assistant.retrieval.previous_chunk(e.hit)
    assert out[0].hit.id == prior.id and out[0].hit.id != chunk_id
    assert out[0].end == assistant.retrieval.scorer.sentences_of(prior)[-1][1]
    source = assistant.searcher.data.source
    assert all(x.text in source for x in out)  # verbatim


def test_a_pronoun_on_the_same_line_is_quoted_with_the_sentence_before(assistant):
    chunk_id, i = _opening(assistant, "Ils", first=False)
    e = _evidence(assistant, chunk_id, i)
    (merged,) = _chosen(assistant, [e])
    before = assistant.retrieval.scorer.sentences_of(e.hit)[i - 1]
    assert merged.start == before[0] and merged.end == e.end
    assert merged.text.endswith(e.text) and len(merged.text) > len(e.text)
    assert merged.text in assistant.searcher.data.source


def test_a_sentence_with_its_subject_is_left_alone_and_a_first_chunk_has_no_previous(assistant):
    e = _evidence(assistant, "mesure-6#1", 0)
    assert not e.text.startswith(("Ils", "Elles"))
    assert _chosen(assistant, [e]) == [e]
    assert assistant.retrieval.previous_chunk(e.hit) is None
    assert assistant.retrieval.previous_chunk(assistant.searcher.hits_for(["note-30"])[0]) is None
