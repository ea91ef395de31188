"""Quotes widened where a sentence alone misleads (`retrieval.choose`):
a sentence that opens on a pronoun ("Ils valorisent déjà …") brings the
sentence that names its subject, verbatim: merged when both share a line of
the passage, as the quote before it when the chunk split fell between them;
a short footnote, one reference cut by the sentence splitter, is quoted whole."""

from __future__ import annotations

import pytest

from traite_qa.answer.retrieval import choose
from traite_qa.types import Evidence

pytestmark = pytest.mark.slow


def _evidence(assistant, chunk_id: str, index: int) -> Evidence:
    hit = assistant.searcher.hits_for([chunk_id])[0]
    start, end = assistant.retrieval.scorer.sentences_of(hit)[index]
    return Evidence(hit, start, end, 1.0, 0.5, 0.0)


def _chosen(assistant, evidence: Evidence) -> list[Evidence]:
    return choose([evidence], assistant.settings.tuning, scorer=assistant.retrieval.scorer)


def _opening(assistant, word: str, first: bool):
    """A sentence that opens on `word`: a later piece's first sentence, or a later one on its line."""
    scorer = assistant.retrieval.scorer
    for hit in assistant.searcher.hits_for([c.id for c in assistant.searcher.chunks]):
        spans = scorer.sentences_of(hit)
        for i, (s, e) in enumerate(spans):
            if hit.text[s:e].startswith(word + " ") and (i == 0) == first:
                if (scorer.previous_piece(hit) is not None) if first else "\n" not in hit.text[spans[i - 1][0]:s]:
                    return hit.id, i
    raise AssertionError(f"no sentence opening on {word!r} (first={first}) in the index")


def test_the_split_between_pieces_brings_the_previous_pieces_last_sentence(assistant):
    chunk_id, i = _opening(assistant, "Ils", first=True)
    e = _evidence(assistant, chunk_id, i)
    out = _chosen(assistant, e)
    assert len(out) == 2 and out[1] == e
    prior = assistant.retrieval.scorer.previous_piece(e.hit)
    assert out[0].hit.id == prior.id != chunk_id and out[0].hit.measures == e.hit.measures
    assert out[0].end == assistant.retrieval.scorer.sentences_of(prior)[-1][1]
    source = assistant.searcher.data.source
    assert all(x.text in source for x in out)  # verbatim
    assert source.index(out[0].text) < source.index(e.text)


def test_a_pronoun_on_the_same_line_is_quoted_with_the_sentence_before(assistant):
    chunk_id, i = _opening(assistant, "Ils", first=False)
    e = _evidence(assistant, chunk_id, i)
    (merged,) = _chosen(assistant, e)
    before = assistant.retrieval.scorer.sentences_of(e.hit)[i - 1]
    assert merged.start == before[0] and merged.end == e.end
    assert merged.text.endswith(e.text) and len(merged.text) > len(e.text)
    assert merged.text in assistant.searcher.data.source


def test_a_sentence_with_its_subject_is_left_alone_and_a_first_piece_has_no_previous(assistant):
    e = _evidence(assistant, "mesure-6#1", 0)
    assert not e.text.startswith(("Ils", "Elles"))
    assert _chosen(assistant, e) == [e]
    scorer = assistant.retrieval.scorer
    assert scorer.previous_piece(e.hit) is None
    assert scorer.previous_piece(assistant.searcher.hits_for(["note-30"])[0]) is None


def test_a_short_footnote_is_quoted_whole_with_its_date(assistant):
    # Note 30's first sentence ends at the title of the opinion; its date is in the next.
    e = _evidence(assistant, "note-30", 0)
    assert "28 avril 2020" not in e.text
    (whole,) = _chosen(assistant, e)
    assert whole.text == e.hit.text.strip() and "28 avril 2020" in whole.text
    assert whole.text in assistant.searcher.data.source
