"""The parsed model against the document's own summary table (annex 2) and
glossary (annex 1): the first thing to check after any change to the parser."""

from __future__ import annotations

import re

import pytest

from traite_qa.document import Status
from traite_qa.document import parse_file
from traite_qa.settings import Settings
from traite_qa.text import fold


@pytest.fixture(scope="module")
def evaluation():
    return parse_file(Settings.from_env().source)


def test_every_measure_of_annex_2_is_parsed_with_the_same_status_and_axis(evaluation):
    rows = {row.number: row for row in evaluation.summary}
    assert sorted(rows) == [m.number for m in evaluation.measures] == list(range(1, 46))
    for measure in evaluation.measures:
        assert rows[measure.number].status is measure.status, measure.number
        assert rows[measure.number].axis == measure.axis, measure.number


def test_annex_2_titles_match_the_body_up_to_the_known_variants(evaluation):
    def key(title: str) -> str:
        return re.sub(r"\W+", " ", fold(title)).strip()

    differing = [m.number for m in evaluation.measures
                 if key(m.title) != key(next(r.title for r in evaluation.summary if r.number == m.number))]
    # Connaitre/Connaître fold alike; "national"/"nationale" (24) and
    # "bilatérale"/"bilatéraux" (45) are the document's own variants.
    assert differing == [24, 45]


def test_status_counts_match_annex_2(evaluation):
    from collections import Counter

    assert Counter(r.status for r in evaluation.summary) == Counter(m.status for m in evaluation.measures)
    assert {s: n for s, n in evaluation.status_counts().items()} == {
        Status.REALISEE: 3, Status.PARTIELLEMENT: 28, Status.NON_REALISEE: 14}


def test_glossary_has_40_entries_and_each_is_defined(evaluation):
    assert len(evaluation.acronyms) == 40
    assert all(a.definition and a.definition[0].isalpha() for a in evaluation.acronyms)
    assert {"Miprof", "OCRTEH", "UE", "AAI"} <= {a.acronym for a in evaluation.acronyms}


def test_most_glossary_acronyms_are_used_in_the_text(evaluation):
    body = " ".join(p.text for m in evaluation.measures for p in m.paragraphs) + " ".join(
        p.text for p in evaluation.preamble + evaluation.conclusion) + " ".join(f.text for f in evaluation.footnotes)
    unused = [a.acronym for a in evaluation.acronyms if not re.search(rf"\b{re.escape(a.acronym)}\b", body, re.IGNORECASE)]
    # The glossary lists a few acronyms the text spells out instead.
    assert len(unused) <= 4, unused
