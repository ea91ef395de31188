"""Chunks: one per measure group (split when long), per footnote, per acronym,
per axis of annex 2, per preamble/conclusion paragraph; spans are verbatim."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from traite_qa.index.chunker import MAX_WHOLE_CHARS, Chunk, chunk_evaluation


@pytest.fixture(scope="module")
def chunks(evaluation, source):
    return chunk_evaluation(evaluation, source)


def test_every_chunk_body_is_the_source_at_its_span(chunks, source):
    for chunk in chunks:
        assert source[chunk.span.start : chunk.span.end] == chunk.body, chunk.id
        assert chunk.text == f"{chunk.header}\n{chunk.body}"


def _covered(spans) -> set[int]:
    return {i for s in spans for i in range(s.start, s.end)}


def test_measure_chunks_cover_every_measure_body(chunks, evaluation, source):
    covered = _covered(c.span for c in chunks if c.kind == "measure")
    for measure in evaluation.measures:
        body = range(measure.body_span.start, measure.body_span.end)
        # Only the whitespace between paragraphs may fall outside the pieces.
        lost = [i for i in body if i not in covered and not source[i].isspace()]
        assert not lost, f"measure {measure.number} loses {source[lost[0]:lost[0] + 40]!r}"


def test_footnote_chunks_cover_every_footnote(chunks, evaluation):
    by_note = {c.footnote: c for c in chunks if c.kind == "footnote"}
    assert sorted(by_note) == list(range(1, 62))
    for note in evaluation.footnotes:
        assert by_note[note.number].span == note.span


def test_ids_are_derived_from_the_document_and_unique(chunks):
    ids = [c.id for c in chunks]
    assert len(ids) == len(set(ids))
    for expected in ["mesure-16#1", "mesure-20-21#2", "mesure-14-15#1", "mesure-43-45", "mesure-44", "note-47",
                     "sigle-OCRTEH", "sigle-Miprof", "tableau-axe-3", "preambule-4", "bilan-2"]:
        assert expected in ids, expected


def test_chunk_counts_by_kind(chunks):
    kinds = Counter(c.kind for c in chunks)
    assert kinds["footnote"] == 61 and kinds["acronym"] == 40 and kinds["table"] == 6
    assert kinds["preamble"] == 16 and kinds["conclusion"] == 6
    groups = {c.measures for c in chunks if c.kind == "measure"}
    assert len(groups) == 41  # 45 measures, four pairs sharing a body
    assert {(14, 15), (20, 21), (22, 23), (43, 45)} <= groups


def test_shared_body_gives_one_group_with_both_statuses(chunks):
    group = [c for c in chunks if c.kind == "measure" and c.measures == (14, 15)]
    assert group and all(c.statuses == ("Non réalisée", "Partiellement réalisée") for c in group)
    assert all(c.status is None for c in group)  # mixed: no single status
    assert all(c.status == "Partiellement réalisée" for c in chunks if c.kind == "measure" and c.measures == (20, 21))


def test_every_piece_names_its_measure_and_status(chunks):
    piece = next(c for c in chunks if c.id == "mesure-20-21#3")
    assert piece.header.startswith("Axe 3 › Action 6 › Mesure 20 : Renforcer le rôle des préfectures [Partiellement réalisée]")
    assert "Mesure 21 :" in piece.header
    assert piece.pieces > 3 and piece.piece == 3


def test_long_bodies_are_split_short_ones_kept_whole(chunks, evaluation):
    for measure in evaluation.measures:
        pieces = [c for c in chunks if c.kind == "measure" and measure.number in c.measures]
        length = measure.body_span.end - measure.body_span.start
        if length <= MAX_WHOLE_CHARS:
            assert len(pieces) == 1 and pieces[0].span == measure.body_span
        else:
            assert len(pieces) > 1 and all(len(p.body) <= 1200 for p in pieces)


def test_footnote_chunk_names_the_measures_citing_it(chunks):
    note = next(c for c in chunks if c.id == "note-47")
    assert note.measures == (30,)
    assert note.header.startswith("Note 47 — citée par Mesure 30 : Sécuriser et renforcer le financement des associations")
    assert "CCEM" in note.body and not note.body.startswith("(47)")


def test_measure_chunk_lists_the_footnotes_it_cites(chunks):
    m18 = [c for c in chunks if c.kind == "measure" and c.measures == (18,)]
    assert len(m18) == 2
    assert all(32 in c.footnotes for c in m18)  # the marker in the title belongs to every piece


def test_round_trip_through_json(chunks):
    for chunk in chunks[:: max(1, len(chunks) // 20)]:
        assert Chunk.from_dict(chunk.to_dict()) == chunk


@hsettings(max_examples=25, deadline=None)
@given(size=st.integers(min_value=300, max_value=2500), overlap=st.integers(min_value=0, max_value=250))
def test_property_any_chunk_size_keeps_spans_verbatim_and_complete(evaluation, source, size, overlap):
    if overlap >= size:
        overlap = size - 1
    chunks = chunk_evaluation(evaluation, source, size, overlap)
    covered = _covered(c.span for c in chunks if c.kind == "measure")
    for chunk in chunks:
        assert source[chunk.span.start : chunk.span.end] == chunk.body
    for measure in evaluation.measures:
        assert all(i in covered or source[i].isspace() for i in range(measure.body_span.start, measure.body_span.end))
