"""The parser on the real document (each quirk) and on small inline texts."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from traite_qa.document import Status
from traite_qa.errors import DocumentFormatError, UnknownReferenceError
from traite_qa.document import parse

MINI = """Evaluation de test (2019-2021)

Version initiale

  • Assemblée plénière du 12 janvier 2023
    Adopté à l'unanimité

    Un préambule qui cite la Miprof (1).

    AXE 1 : PRÉVENIR

    ACTION N° 1 : MOBILISER
    Mesure 1 : Informer le public (2) [Partiellement réalisée]
    Un corps de texte (OIT) (2019-2021) sans autre marqueur.
    Mesure 2 : Créer un site [Non réalisée] et mesure 3 : Publier un guide [Réalisée]
    Un corps partagé (3).
    ACTION N° 2 : AGIR
    Mesure 4 : Agir vite [Non réalisée]
    Mesure 5 : Agir fort [Non réalisée]
    Un corps commun aux mesures 4 et 5, coupé au milieu d'une phr

    BILAN

    La conclusion.

    (1) Décret n° 2013-7 du 3 janvier 2013 : https://www.legifrance.gouv.fr/x.
    (2) Note de la mesure 1.
    (3) Note partagée.
    (4) Note jamais citée.


    • ANNEXE 1
      SIGLES UTILISÉS

      Miprof : mission interministérielle.
      OIT : organisation internationale du travail.

    • ANNEXE 2
      TABLEAU RÉCAPITULATIF DE L'ÉTAT D'AVANCEMENT DES MESURES

      Mesure

      AXE N°1 : PRÉVENIR

      1

      Informer le public

      Partiellement réalisée

      2

      Créer un site

      Non réalisée

      3

      Publier un guide

      Réalisée

      4

      Agir vite

      Non réalisée

      5

      Agir fort

      Non réalisée

      BILAN

Extrait du Journal officiel électronique authentifié PDF - 1 Ko
"""


def test_mini_document_parses():
    ev = parse(MINI)
    assert ev.title == "Evaluation de test (2019-2021)"
    assert ev.adopted == dt.date(2023, 1, 12)
    assert [m.number for m in ev.measures] == [1, 2, 3, 4, 5]
    assert [p.text for p in ev.conclusion] == ["La conclusion."]
    assert ev.footnote(1).urls == ("https://www.legifrance.gouv.fr/x",)
    assert ev.footnote(1).sections == ("preambule",)
    assert ev.footnote(3).measures == (2, 3)
    assert "footnote 4 is defined but never cited" in ev.warnings


def test_mini_body_cut_mid_sentence_is_kept_as_is():
    ev = parse(MINI)
    assert ev.measure(4).body.endswith("coupé au milieu d'une phr")
    assert ev.measure(5).body == ev.measure(4).body


def test_mini_trailer_is_not_conclusion():
    ev = parse(MINI)
    assert all("Journal officiel" not in p.text for p in ev.conclusion)


# --------------------------------------------------------------- real document
def test_counts(evaluation):
    assert len(evaluation.axes) == 6
    assert len(evaluation.actions) == 17
    assert len(evaluation.measures) == 45
    assert len(evaluation.footnotes) == 61
    assert len(evaluation.acronyms) == 40
    assert [m.number for m in evaluation.measures] == list(range(1, 46))
    counts = {s.value: n for s, n in evaluation.status_counts().items()}
    assert counts == {"Réalisée": 3, "Partiellement réalisée": 28, "Non réalisée": 14}
    assert evaluation.adopted == dt.date(2023, 1, 12)


def test_measures_14_and_15_share_one_header_line_and_body(evaluation, source):
    m14, m15 = evaluation.measure(14), evaluation.measure(15)
    assert m14.status is Status.NON_REALISEE
    assert m15.status is Status.PARTIELLEMENT
    assert m14.title == "Définir un plan de formation et de sensibilisation"
    assert m15.title == "Favoriser la coordination des formations"
    assert m14.body_span == m15.body_span and m14.group == m15.group == (14, 15)
    line_of = lambda span: source.count("\n", 0, span.start)  # noqa: E731
    assert line_of(m14.header_span) == line_of(m15.header_span)
    assert source[m15.header_span.start : m15.header_span.end].startswith("mesure 15 :")


@pytest.mark.parametrize("pair", [(20, 21), (22, 23)])
def test_consecutive_headers_share_a_body(evaluation, pair):
    a, b = (evaluation.measure(n) for n in pair)
    assert a.group == b.group == pair
    assert a.paragraphs == b.paragraphs and a.body_span == b.body_span
    assert a.header_span.end < b.header_span.start < a.body_span.start


def test_measures_43_and_45_share_a_body_and_45_comes_before_44(evaluation):
    m43, m44, m45 = (evaluation.measure(n) for n in (43, 44, 45))
    assert m43.group == m45.group == (43, 45)
    assert m43.body_span == m45.body_span
    assert m45.header_span.start < m44.header_span.start
    assert m44.group == (44,) and m44.body_span != m45.body_span
    assert m45.status is Status.REALISEE and m43.status is Status.NON_REALISEE


def test_footnote_marker_in_a_title(evaluation):
    m18 = evaluation.measure(18)
    assert m18.title == "Désigner des référents dans les Direccte"
    assert 32 in m18.footnotes
    assert 18 in evaluation.footnote(32).measures


@pytest.mark.parametrize("not_a_marker", ["(mesure 13.1)", "(2019-2021)", "(ONU, 1989)", "(OIT)", "(Miprof)", "(3e PNA)"])
def test_other_parentheses_are_not_markers(evaluation, source, not_a_marker):
    assert not_a_marker in source
    # Every footnote is cited by something, and nothing cites a footnote that does not exist.
    cited = {n for m in evaluation.measures for n in m.footnotes}
    assert cited <= set(range(1, 62))
    assert all(f.measures or f.sections for f in evaluation.footnotes)


def test_footnotes_defined_once_after_the_conclusion(evaluation, source):
    bilan_end = evaluation.conclusion[-1].span.end
    assert [f.number for f in evaluation.footnotes] == list(range(1, 62))
    assert all(f.span.start > bilan_end for f in evaluation.footnotes)
    assert evaluation.footnote(47).text.startswith("45.000 euros ont été alloués au Comité contre l'esclavage moderne")
    for f in evaluation.footnotes:
        assert source[f.span.start : f.span.end] == f.text
        assert not re.match(r"\(\d+\)", f.text)


def test_no_footnote_is_reported_uncited(evaluation):
    assert not [w for w in evaluation.warnings if "never cited" in w]


def test_measure_27_body_is_kept_verbatim(evaluation, source):
    m27 = evaluation.measure(27)
    assert source[m27.body_span.start : m27.body_span.end] == m27.body
    assert m27.body.startswith("En l'absence d'annuaire")


def test_annex_2_titles_differ_and_both_are_kept(evaluation):
    rows = {r.number: r for r in evaluation.summary}
    assert evaluation.measure(13).title.startswith("Connaitre") and rows[13].title.startswith("Connaître")
    assert evaluation.measure(45).title.endswith("bilatérale") and rows[45].title.endswith("bilatéraux")
    assert "dispositif national d'accueil" in evaluation.measure(24).title
    assert "dispositif nationale d'accueil" in rows[24].title
    differing = sorted(int(re.match(r"measure (\d+)", w).group(1)) for w in evaluation.warnings if "title differs" in w)
    assert differing == [13, 24, 45]


def test_annex_2_statuses_agree_with_the_body(evaluation):
    assert len(evaluation.summary) == 45
    for row in evaluation.summary:
        assert row.status is evaluation.measure(row.number).status


def test_annex_2_disagreement_names_the_measure(source):
    broken = source.replace("Renforcer le dispositif Ac.Sé\n\n      Partiellement réalisée", "Renforcer le dispositif Ac.Sé\n\n      Réalisée")
    assert broken != source
    with pytest.raises(DocumentFormatError, match=r"measure 22: annex 2 says 'Réalisée' but its header says 'Partiellement réalisée'"):
        parse(broken)


def test_glossary(evaluation):
    names = [a.acronym for a in evaluation.acronyms]
    assert names[0] == "AAI" and names[-1] == "UE"
    assert evaluation.acronym("AAI").definition == "autorité administrative indépendante"
    assert evaluation.acronym("UE").definition == "Union Européenne"
    assert evaluation.acronym("miprof").acronym == "Miprof"
    assert evaluation.acronym("OCRTEH").definition == "office central pour la répression de la traite des êtres humains"


def test_last_line_is_not_part_of_the_conclusion(evaluation, source):
    assert len(evaluation.conclusion) == 6
    assert evaluation.conclusion[0].text.startswith("La présente évaluation de la CNCDH démontre")
    assert all("Journal officiel" not in p.text and p.text != "BILAN" for p in evaluation.conclusion)
    assert evaluation.conclusion[-1].span.end < source.index("(1) Décret")


def test_lookup_errors_name_the_range(evaluation):
    with pytest.raises(UnknownReferenceError, match="unknown measure 52: the plan has 45 measures"):
        evaluation.measure(52)
    with pytest.raises(UnknownReferenceError, match="61 footnotes"):
        evaluation.footnote(80)


# ------------------------------------------------------------ malformed inputs
def _cut_before(text: str, marker: str) -> str:
    return text[: text.index(marker)]


MALFORMED = [
    pytest.param("", r"line 1: the document is empty", id="empty"),
    pytest.param(_cut_before(MINI, "    • ANNEXE 1"), r"expected '• ANNEXE 1'", id="missing-annex-1"),
    pytest.param(_cut_before(MINI, "    • ANNEXE 2"), r"expected '• ANNEXE 2'", id="missing-annex-2"),
    pytest.param(_cut_before(MINI, "    BILAN"), r"truncated\?\): expected 'BILAN'", id="truncated-in-measures"),
    pytest.param(MINI.replace("Mesure 5 : Agir fort", "Mesure 4 : Agir fort"), r"line 19: duplicate measure 4", id="duplicate-measure"),
    pytest.param(MINI.replace("Mesure 1 : Informer le public (2) [Partiellement réalisée]", "Mesure 1 : Informer le public (2)"), r"line 13: measure 1 has no status", id="measure-without-status"),
    pytest.param(MINI.replace("[Réalisée]", "[En cours]"), r"measure 3 has an unknown status \[En cours\]", id="unknown-status"),
    pytest.param(MINI.replace("Mesure 2 : Créer un site [Non réalisée] et mesure 3 : Publier un guide [Réalisée]", "Mesure 2 : Créer un site [Non réalisée]"), r"measure 3 is missing", id="missing-measure"),
    pytest.param(MINI.replace("    (3) Note partagée.\n", ""), r"footnote 4 out of order: expected footnote 3", id="footnote-gap"),
    pytest.param(MINI.replace("    (2) Note de la mesure 1.\n", "    (2) Note de la mesure 1.\n    (2) Encore.\n"), r"footnote 2 is defined twice", id="footnote-twice"),
    pytest.param(MINI.replace("(3).", "(9)."), r"footnote \(9\) is cited in measure 2 but never defined", id="undefined-footnote"),
    pytest.param(MINI.replace("      Publier un guide\n\n      Réalisée", "      Publier un guide\n\n      Non réalisée"), r"measure 3: annex 2 says 'Non réalisée'", id="annex-disagrees"),
    pytest.param(MINI.replace("      5\n\n      Agir fort\n\n      Non réalisée\n", ""), r"measure 5 is missing from the summary table", id="annex-missing-row"),
    pytest.param(_cut_before(MINI, "Un corps commun"), r"ends early \(truncated\?\): expected 'BILAN'", id="truncated-mid-body"),
    pytest.param(MINI.replace("OIT : organisation", "OIT organisation"), r"expected a glossary line 'SIGLE : définition.'", id="bad-glossary-line"),
    pytest.param(MINI.replace("    ACTION N° 1 : MOBILISER\n", ""), r"expected 'ACTION N° n :' or 'Mesure n :' after the axis|a measure before any 'ACTION", id="measure-before-action"),
    pytest.param(MINI.replace("ACTION N° 2 : AGIR", "ACTION N° 5 : AGIR"), r"action 5 out of order: expected action 2", id="action-out-of-order"),
]


@pytest.mark.parametrize("text, message", MALFORMED)
def test_malformed_document_raises_with_line_and_expectation(text, message):
    with pytest.raises(DocumentFormatError, match=message) as info:
        parse(text)
    assert re.match(r"line \d+: ", str(info.value)) or info.value.line is None
