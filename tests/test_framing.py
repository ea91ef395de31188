"""The framing verifiers (`answer.verify.framing_problems`): every claim the
assistant writes in its own words, outside « quotes », is checked against the
document. Each verifier is shown known-false inputs (it must object) and a
true one (it must not)."""

from __future__ import annotations

import pytest

from traite_qa.answer.verify import framing_problems
from traite_qa.types import Answer


def _answer(text: str, measures: dict | None = None) -> Answer:
    return Answer("q", "answered", text, measures=measures or {})


@pytest.mark.parametrize("text, measures", [
    ("**Oui.** La mesure 16 « Mettre en place un mécanisme national de référence » est **non réalisée**.",
     {16: "Non réalisée"}),
    ("**Non.** La mesure 38 est **réalisée**.", {38: "Réalisée"}),
    ("**En partie.** D'après la mesure 16 :", {16: "Non réalisée"}),
    ("**Yes.** According to the CNCDH's evaluation:", {}),  # no measure: nothing settles it
    ("**Non.** Statut des mesures citées : mesure 16, mesure 1.", {16: "Non réalisée", 1: "Partiellement réalisée"}),
])
def test_a_yes_no_lead_that_is_not_the_stated_measures_status_is_caught(text, measures):
    assert any("lead" in p for p in framing_problems(_answer(text, measures), evaluation=None))


@pytest.mark.parametrize("text, measures", [
    ("**Non.** La mesure 16 est **non réalisée**.", {16: "Non réalisée"}),
    ("**En partie.** La mesure 1 est **partiellement réalisée**.", {1: "Partiellement réalisée"}),
    ("**Yes.** Measure 38 is **implemented**.", {38: "Réalisée"}),
])
def test_a_lead_from_the_status_passes(text, measures):
    assert framing_problems(_answer(text, measures), evaluation=None) == []


def test_not_mentioned_claims_are_checked_against_the_source(source):
    false = [
        "Le document ne mentionne pas l'année 2021. Le passage le plus proche :",
        "The document does not mention the year 2019.",
        "Le document ne répond pas à cette question : il ne mentionne pas ce pays (romania).",  # "Roumanie" is there
        "The document does not answer this question: it never mentions this country (spain).",  # "Espagne"
        "Je ne trouve pas de réponse dans le document : le nom de ce pays (italie) n'y figure pas.",  # « italienne »
        "I find no answer in the document: the name of this country (italy) does not occur in it.",
        "Je ne trouve pas de réponse dans le document : le nom de ce pays (ROUMANIE) n'y figure pas.",  # as typed
    ]
    for text in false:
        assert framing_problems(_answer(text), None, source), text
    true = ["Le document ne mentionne pas l'année 2031.",
            "Le document ne répond pas à cette question : il ne mentionne pas ce pays (germany).",
            "Je ne trouve pas de réponse dans le document : le nom de ce pays (allemagne) n'y figure pas.",
            "Je ne trouve pas de réponse dans le document : le nom de ce pays (Côte d'Ivoire) n'y figure pas."]
    for text in true:
        assert framing_problems(_answer(text), None, source) == [], text


def test_no_figure_is_not_claimed_above_a_quote_that_gives_one():
    from traite_qa.types import Citation, Hit

    hit = Hit("mesure-26#1", "measure", (26,), (), None, None, "t", None, 1, 1, "h",
              "Le centre compte 12 places.", (), (0, 10), 1.0, 1)
    cited = Answer("q", "no_evidence", "Les passages les plus proches ne donnent pas de chiffre. Le passage le plus "
                   "proche :\n- « Le centre compte 12 places. » [Mesure 26]", (Citation(hit, "Mesure 26", ("Le centre compte 12 places.",)),))
    assert framing_problems(cited, None)
    plain = Answer("q", "no_evidence", "Les passages les plus proches ne donnent pas de chiffre.\n- « Le centre est ouvert. » [Mesure 26]",
                   (Citation(hit.__class__(**{**hit.__dict__, "text": "Le centre est ouvert."}), "Mesure 26", ("Le centre est ouvert.",)),))
    assert framing_problems(plain, None) == []


def test_the_cncdh_recommends_only_above_quotes_that_recommend():
    lead = "Sur la mesure 20 « Renforcer le rôle des préfectures » (partiellement réalisée), la CNCDH recommande :"
    false = (f"{lead}\n- « Il convient de noter que les statistiques mélangent les motifs. » [Mesure 20]\n"
             "- « La CNCDH recommande de les distinguer. » [Mesure 20]")
    assert any("recommends nothing" in p for p in framing_problems(_answer(false), evaluation=None))
    english = ("On measure 20 « Renforcer le rôle des préfectures » (partly done), the CNCDH recommends (quoted in French):\n"
               "- « Le cas échéant, la victime doit en être informée. » [Mesure 20]")
    assert framing_problems(_answer(english), evaluation=None)
    true = (f"{lead}\n- « La CNCDH recommande de distinguer les motifs. » [Mesure 20]\n"
            "- « Elle préconise un suivi annuel. » [Mesure 20]\nStatut des mesures citées : mesure 20.")
    assert framing_problems(_answer(true), evaluation=None) == []
