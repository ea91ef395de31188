"""The status checker (`answer/claims.py`, `verify.stated_status_problems`):
every phrasing of a status claim, true and false, for a measure of each
status; quotes of the document are not claims; and the extractive answers to
the question set never trip it (no false alarm on the assistant's own text)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fakes import FakeEmbedder
from traite_qa.answer.claims import check_claims
from traite_qa.answer.verify import stated_status_problems
from traite_qa.types import Status

R, P, N = Status.REALISEE, Status.PARTIELLEMENT, Status.NON_REALISEE
REPO = Path(__file__).resolve().parents[1]

# One measure of each status, with its number written every way a writer might.
MEASURES = {
    16: {"status": N, "fr": "seizième", "en": "sixteenth", "roman": "XVI", "word": "seize"},
    1: {"status": P, "fr": "première", "en": "first", "roman": "I", "word": "une"},
    38: {"status": R, "fr": "trente-huitième", "en": "thirty-eighth", "roman": "XXXVIII", "word": "trente-huit"},
}
NBSP, NNBSP = "\u00a0", "\u202f"

# (phrasing, the status it claims). {n}: the number; {fr}/{en}: the ordinal; {roman}; {word}.
PHRASINGS = [
    # Réalisée
    ("Mesure {n} est Réalisée.", R),
    ("La mesure {n} est réalisée.", R),
    ("La mesure {n} a été pleinement réalisée.", R),
    ("La mesure {n} est désormais Réalisée.", R),
    ("LA MESURE {n} EST RÉALISÉE.", R),
    ("La mesure" + NBSP + "{n} est réalisée.", R),
    ("La mesure" + NNBSP + "{n} est realisee.", R),
    ("La {fr} mesure est Réalisée.", R),
    ("La mesure {word} est réalisée.", R),
    ("La mesure {roman} a été mise en œuvre.", R),
    ("Mesure {n} : Réalisée.", R),
    ("Réalisée : la mesure {n}.", R),
    ("La mesure n° {n} a bien été appliquée.", R),
    ("Measure {n} has been fully implemented.", R),
    ("The {en} measure was carried out.", R),
    ("Measure {n} is implemented [Mesure {n}].", R),
    ("La mesure {n} vise un objectif clair. Elle a été réalisée en 2021.", R),
    # Partiellement réalisée
    ("La mesure {n} est partiellement réalisée.", P),
    ("La mesure {n} n'a été réalisée qu'en partie.", P),
    ("La mesure {n} est en cours de réalisation.", P),
    ("Measure {n} is partly implemented.", P),
    ("Measure {n} has been partially implemented.", P),
    ("La {fr} mesure est Partiellement réalisée.", P),
    # Non réalisée
    ("La mesure {n} n'est pas réalisée.", N),
    ("La mesure {n} est non réalisée.", N),
    ("La mesure {n} est non-réalisée.", N),
    ("La mesure {n} n'a pas été réalisée.", N),
    ("La mesure {n} n'a toujours pas été mise en œuvre.", N),
    ("La mesure {n} n'a pas été mise en œuvre.", N),
    ("Measure {n} is not implemented.", N),
    ("Measure {n} has not been implemented.", N),
    ("Measure {n} hasn't been implemented yet.", N),
    ("The {en} measure remains unimplemented.", N),
    ("La mesure {roman} est Non réalisée.", N),
]
CASES = [(phrasing, claimed, number) for phrasing, claimed in PHRASINGS for number in MEASURES]


def _render(phrasing: str, number: int) -> str:
    forms = MEASURES[number]
    return phrasing.format(n=number, fr=forms["fr"], en=forms["en"], roman=forms["roman"], word=forms["word"])


@pytest.mark.parametrize("phrasing, claimed, number", CASES,
                         ids=[f"{n}-{c.slug}-{p[:40]}" for p, c, n in CASES])
def test_every_phrasing_is_read(evaluation, phrasing, claimed, number):
    text = _render(phrasing, number)
    problems = stated_status_problems(text, evaluation)
    actual = MEASURES[number]["status"]
    assert evaluation.measure(number).status is actual
    if claimed is actual:
        assert problems == [], f"{text!r} states the document's status ({actual.value}) but was flagged: {problems}"
    else:
        assert problems, f"{text!r} states {claimed.value!r} for measure {number} ({actual.value}) and was not flagged"
        assert f"measure {number}" in problems[0]


# "Not fully" allows either of the two lesser statuses; a claim about a measure
# the plan does not have is a problem whatever it says.
@pytest.mark.parametrize("text, flagged", [
    ("La mesure 16 n'a pas été entièrement réalisée.", False),
    ("La mesure 1 n'a pas été entièrement réalisée.", False),
    ("La mesure 38 n'a pas été entièrement réalisée.", True),
    ("Measure 1 has not been fully implemented.", False),
    ("La mesure 99 est réalisée.", True),
    ("Les mesures 38 et 40 sont réalisées.", False),
    ("Les mesures 38 et 16 sont réalisées.", True),
    ("Les mesures 38, 40 et 45 ont été réalisées.", False),
    ("Trois mesures ont été réalisées : les mesures 38, 40 et 45.", False),
    ("Trois mesures ont été réalisées : les mesures 38, 16 et 45.", True),
    ("La mesure 16 n'est pas réalisée, contrairement à la mesure 38 qui est réalisée.", False),
    ("La mesure 38 est réalisée, la mesure 16 aussi est réalisée.", True),
    ("La mesure 16 vise un mécanisme ; elle a été réalisée.", True),
    ("Seules trois mesures ont été réalisées.", False),  # about no measure in particular
    ("La mise en œuvre de la mesure 16 est attendue.", False),  # a noun, not a claim
    ("La mesure 16 vise à la mise en œuvre d'un mécanisme.", False),
    ("Measure 16 requires the completed review.", False),
    ("La mesure 16 est mise en place.", True),
    ("Measure 16 has been completed.", True),
    ("La mesure 16 « Mettre en place un mécanisme national de référence » est Non réalisée.", False),
    ("La mesure 16 « Mettre en place un mécanisme national de référence » est Réalisée.", True),
    ("Mesure 16 : « Réalisée ».", True),  # a status label quoted is the writer naming a status
    ("La mesure 1\u200b6 est réalisée.", True),  # a zero-width space does not hide the number
    ("La mesure １６ est réalisée.", True),  # nor do full-width digits
    ("2 mesures sont réalisées.", True),  # the document has 3
    ("3 mesures sont réalisées.", False),
    # An axis's number is not a count ("2 … are Réalisée" was flagged against the 3 of the plan).
    ("0 of the 7 measures of axis 2 « Définir une stratégie d'identification des victimes » are « Réalisée » [implemented].", False),
])
def test_claims_about_several_measures_and_edge_phrasings(evaluation, text, flagged):
    problems = stated_status_problems(text, evaluation)
    assert bool(problems) is flagged, f"{text!r}: {problems}"


def test_quotes_of_the_document_are_not_claims_but_made_up_quotes_are(evaluation):
    # The document's own sentence, quoted, about measure 1 ("ait été mise en œuvre"), with measure 16 named before.
    sentence = next(p.text for p in evaluation.measure(1).paragraphs if "ait été mise en œuvre" in p.text)
    quoted = sentence.split(". ")[1] if ". " in sentence else sentence
    assert stated_status_problems(f"Sur la mesure 16, la CNCDH écrit : « {quoted} » [Mesure 16]", evaluation) == []
    # A "quote" the document does not hold is the writer's own claim.
    assert stated_status_problems("La CNCDH écrit que « la mesure 16 a été réalisée » [Mesure 16]", evaluation)
    assert stated_status_problems('La CNCDH écrit que "la mesure 16 a été réalisée" [Mesure 16]', evaluation)
    # A short phrase in quotes is not taken for the document's words.
    assert stated_status_problems("La mesure 16 « est réalisée ».", evaluation)


# ------------------------------------------------- no false alarm on answers
@pytest.fixture(scope="module")
def fake_assistant(tmp_path_factory, settings):
    from traite_qa.answer import Assistant
    from traite_qa.index import build_index

    root = tmp_path_factory.mktemp("claims-index")
    built = settings.with_(index_dir=root / "build", model_cache=root / "models")
    embedder = FakeEmbedder()
    build_index(built, force=True, embedder=embedder)
    return Assistant.load(settings=built, embedder=embedder)


def _questions() -> list[str]:
    entries = yaml.safe_load((REPO / "eval" / "questions.yaml").read_text(encoding="utf-8"))
    questions = [e["question"] for e in entries if isinstance(e.get("question"), str)]
    # Every structured template, for every measure, in both languages, and the aggregates.
    for n in range(1, 46):
        questions += [f"Où en est la mesure {n} ?", f"What is the status of measure {n}?",
                      f"Pourquoi la mesure {n} n'est-elle pas réalisée ?", f"What does the CNCDH recommend on measure {n}?"]
    for status in ("réalisées", "partiellement réalisées", "non réalisées", "fully implemented", "not implemented"):
        questions += [f"Quelles mesures sont {status} ?", f"Combien de mesures sont {status} ?"]
    questions += [f"Quelles sont les mesures de l'axe {a} ?" for a in range(1, 7)]
    questions += [f"What are the measures of action {a}?" for a in range(1, 18)]
    return questions


def test_extractive_answers_never_trip_the_checker(fake_assistant):
    """A property of the assistant's own sentences (templates around quotes of
    the document): whatever it answers, the checker finds no wrong status."""
    alarms = []
    questions = _questions()
    assert len(questions) > 400
    for question in questions:
        answer = fake_assistant.ask(question)
        problems = stated_status_problems(answer.answer, fake_assistant.evaluation)
        # nor does the one verifier find a claim it cannot map (its framing is kept whole)
        problems += [str(p) for p in check_claims(answer.answer, fake_assistant.evaluation)]
        if problems:
            alarms.append(f"{question!r}: {problems[0]}\n    {answer.answer[:300]!r}")
    assert not alarms, f"{len(alarms)} false alarms:\n" + "\n".join(alarms[:10])
