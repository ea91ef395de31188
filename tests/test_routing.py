"""Fast tests (no model) of the pieces that route a question: references,
intents and follow-ups, the evidence gate's answer types, query expansion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from traite_qa.answer.gate import Gate
from traite_qa.search import expand
from traite_qa.settings import Settings, Tuning
from traite_qa.text import sentence_spans
from traite_qa.types import Route, Status
from traite_qa.understand import ReferenceFinder, Understander, answer_type, is_english, satisfies

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def finder(evaluation):
    return ReferenceFinder(evaluation)


@pytest.fixture(scope="module")
def router(evaluation):
    return Understander(evaluation, Settings())


@pytest.mark.parametrize("question, measures, footnotes", [
    ("Où en est la mesure 16 ?", (16,), ()),
    ("mesures 14 et 15", (14, 15), ()),
    ("la 22e mesure", (22,), ()),
    ("What is the status of measure 38?", (38,), ()),
    ("Que dit la note 47 ?", (), (47,)),
    ("footnote 3 and 4", (), (3, 4)),
    ("la dernière mesure", (45,), ()),
    ("mesure 99999999999", (99999999999,), ()),
    ("la traite (2019-2021) et l'OIT", (), ()),
])
def test_numbers_named_in_a_question(finder, question, measures, footnotes):
    refs = finder.find(question)
    assert refs.measures == measures and refs.footnotes == footnotes


@pytest.mark.parametrize("question, titled", [
    ("Le mécanisme national de référence a-t-il été mis en place ?", (16,)),
    ("Quel est le rôle des préfectures ?", (20,)),
    ("Poursuivre les projets de coopération bilatéraux", (45,)),  # annex 2's spelling
    ("Combien de mesures compte le plan ?", ()),  # "Financer les mesures du plan" is too generic to match
])
def test_measure_titles_named_in_a_question(finder, question, titled):
    assert finder.find(question).titled == titled


@pytest.mark.parametrize("question, definition", [
    ("Que signifie OCRTEH ?", True),
    ("SIAO ?", True),
    ("What does OFII stand for?", True),
    ("Quelle somme l'AGRASC a-t-elle versée aux associations en 2019 ?", False),
    ("La mesure « Désigner des référents dans les Direccte » est-elle réalisée ?", False),
])
def test_acronym_definitions_only_when_asked(finder, question, definition):
    assert finder.find(question).definition is definition


@pytest.mark.parametrize("question, intent", [
    ("Où en est la mesure 16 ?", Route.STATUS),
    ("mesure 16 ?", Route.STATUS),
    ("Que recommande la CNCDH sur la mesure 2 ?", Route.RECOMMENDATION),
    ("Pourquoi la mesure 2 n'a-t-elle pas été réalisée ?", Route.WHY),
    ("Combien de places prévoit la mesure 22 ?", Route.MEASURE_QUESTION),
    ("Que signifie OCRTEH ?", Route.ACRONYM),
    ("Que dit la note 47 ?", Route.FOOTNOTE),
    ("Quelles mesures ont été réalisées ?", Route.AGGREGATE),
    ("Quelles sont les mesures de l'axe 4 ?", Route.AGGREGATE),
    ("Où en est la mesure 52 ?", Route.UNKNOWN_REFERENCE),
    ("Quelles mesures de l'axe 7 sont réalisées ?", Route.UNKNOWN_REFERENCE),
    ("Combien de mesures dans l'action 40 ?", Route.UNKNOWN_REFERENCE),
    ("Combien de mesures dans l'action 17 ?", Route.TOPIC_LIST),  # the action itself: a whole part
    # A yes/no question on something done ("ouvert", "créé") is searched like
    # any other: the verb list that sent it to a status lost to retrieval on the bank.
    ("Le gouvernement a-t-il ouvert un site internet consacré à la traite ?", Route.SEARCH),
    ("À quelle date la DACG a-t-elle publié la dépêche ?", Route.SEARCH),
    ("Combien de places compte le centre pour mineurs ?", Route.SEARCH),
])
def test_routes(router, question, intent):
    assert router.understand(question).route == intent


def test_aggregate_status(router):
    assert router.understand("Combien de mesures n'ont pas été réalisées ?").status is Status.NON_REALISEE
    assert router.understand("Which measures were fully implemented?").status is Status.REALISEE


HISTORY_16 = [{"role": "user", "content": "Où en est la mesure 16 ?"},
              {"role": "assistant", "content": [{"type": "text", "text": "… est Non réalisée. [Mesure 16]"}]}]


@pytest.mark.parametrize("question, name, measures", [
    ("Et la mesure 17 ?", Route.STATUS, (17,)),
    ("Pourquoi ?", Route.WHY, (16,)),
    ("Quelles recommandations ?", Route.RECOMMENDATION, (16,)),
    ("Et la suivante ?", Route.STATUS, (17,)),
    ("et celle juste après ?", Route.STATUS, (17,)),
    ("and the measure right after that one?", Route.STATUS, (17,)),
    ("Et la mesure d'avant ?", Route.STATUS, (15,)),
    ("and the one before?", Route.STATUS, (15,)),
    # "after that" alone is a time, "d'après" alone is "according to": not the
    # next measure (the first, with words of its own, is searched with the last
    # question as context; the second borrows its measure).
    ("And what happened after that?", Route.SEARCH, ()),
    ("D'après qui ?", Route.MEASURE_QUESTION, (16,)),
    ("et la 44 ?", Route.STATUS, (44,)),
    ("Combien de mesures sont réalisées ?", Route.AGGREGATE, ()),  # complete on its own
])
def test_follow_ups_resolve_against_the_previous_turn(router, question, name, measures):
    intent = router.understand(question, HISTORY_16)
    assert intent.route == name and intent.measures == measures


@pytest.mark.parametrize("question, leans", [
    # Short and standalone: the rule it replaced (at most two words of its own) read it as a follow-up.
    ("Qui pilote le plan ?", False),
    ("Quel est le rôle de la Miprof ?", False),
    # Leaning on the last exchange with three words or more of its own: the rule read it as standalone.
    ("Is that body still working on it today?", True),
    ("Who was supposed to fund it in the end?", True),
])
def test_the_learned_follow_up_model_tells_a_question_that_leans_on_the_last_one(router, question, leans):
    intent = router.understand(question, HISTORY_16)
    alone = router.understand(question)
    if leans:
        # Words of its own: searched with the last question as context, not
        # pinned to its measure (src/traite_qa/understand/followup.py).
        assert "16" in intent.context and not alone.context
        assert not intent.follow_up and intent.measures == ()
    else:
        assert (intent.route, intent.measures, intent.context) == (alone.route, alone.measures, alone.context)


@pytest.mark.parametrize("question", ["Pourquoi ?", "Elle a été réalisée ?", "Why?", "Was it implemented?"])
def test_a_bare_follow_up_borrows_the_last_measure(router, question):
    intent = router.understand(question, HISTORY_16)
    assert intent.follow_up and intent.measures == (16,)


@pytest.mark.parametrize("question", ["Pourquoi ?", "And who runs it?"])
def test_a_follow_up_with_no_measure_to_borrow_is_searched_with_the_last_question_not_asked_for_context(router, question):
    # The request for context says the conversation has no earlier question: a
    # blind reader flagged it as false after an exchange that named no measure.
    history = [{"role": "user", "content": "Qu'est-ce que le PNLTI ?"},
               {"role": "assistant", "content": "PNLTI : plan national de lutte contre le travail illégal."}]
    assert router.understand(question).route == Route.CLARIFY
    intent = router.understand(question, history)
    assert intent.route != Route.CLARIFY and "PNLTI" in intent.context


@pytest.mark.parametrize("history", [
    [{"role": "user", "content": "Où en est la mesure 99 ?"}],
    [{"role": "assistant", "content": "[Mesure 0]"}],
    [{"content": "x"}, "not a dict", {"role": "user"}],
])
def test_follow_ups_never_borrow_a_measure_the_plan_lacks(router, history):
    assert all(1 <= m <= 45 for m in router.understand("Pourquoi ?", history).measures)


@pytest.mark.parametrize("question, kind", [
    ("Quel est le budget du troisième plan ?", "money"),
    ("How much funding did the CCEM receive?", "money"),
    ("Combien de femmes ont été accompagnées ?", "count"),
    ("Quelle proportion des préfectures dispose d'un référent ?", "count"),
    ("Quand le comité s'est-il réuni ?", "date"),
    ("Peut-on obtenir des papiers quand on dénonce son exploiteur ?", None),  # "quand" = "if"
    ("Qui est chargé d'évaluer le plan ?", None),
])
def test_answer_types(question, kind):
    assert answer_type(question) == kind


@pytest.mark.parametrize("kind, text, ok", [
    ("money", "45.000 euros ont été alloués au CCEM", True),
    ("money", "la coopération européenne (48)", False),  # "euro" inside a word, a footnote marker
    ("count", "neuf femmes ont été accompagnées", True),
    ("count", "une quinzaine d'équipes communes", True),
    ("count", "le parquet de Paris en 2016", False),  # a year is not a count
    ("date", "le 8 février 2021", True),
    ("date", "une dépêche de la DACG", False),
])
def test_evidence_satisfies_an_answer_type(kind, text, ok):
    assert satisfies(kind, [text]) is ok


def test_unknown_places_are_refused_known_ones_are_not(source):
    gate = Gate(source, vocabulary=set(), tuning=Tuning())
    assert gate.unknown_place("Combien de victimes en Allemagne en 2021 ?") == "Allemagne"  # as typed
    assert gate.unknown_place("HOW MANY VICTIMS IN GERMANY?") == "GERMANY"
    # Accents, an apostrophe and a ligature before it: the span is still the typed name.
    assert gate.unknown_place("Œuvre-t-on avec la Côte d'Ivoire ?") == "Côte d'Ivoire"
    assert gate.unknown_place("Des victimes arrivent-elles d'Espagne ou du Pérou ?") is None
    # Named in English, mentioned in French with accents: known.
    assert gate.unknown_place("Are there victims from Romania or Peru?") is None
    assert gate.unknown_place("Peux-tu me traduire ce texte en allemand ?") is None  # a language, not a country
    # Named only by its adjective (« l'expérience italienne »): mentioned, so the gate leaves it to the model.
    assert "italienne" in source and "Italie" not in source
    assert gate.unknown_place("Combien l'Italie donne-t-elle à son observatoire ?") is None
    assert gate.unknown_place("How much does Italy spend on it?") is None
    # France's overseas territories have ISO 3166-1 codes but are no countries:
    # « le nom de ce pays (Guadeloupe) » was false; the model decides.
    for territory in ("Guadeloupe", "Mayotte", "la Guyane française", "New Caledonia", "Wallis-et-Futuna"):
        assert gate.unknown_place(f"Combien de victimes de traite en {territory} ?") is None, territory


def test_the_unknown_places_scan_is_the_plain_scan_and_runs_once_per_document(source):
    """Names are tested as substrings before their word patterns run (speed):
    the same list as running every pattern, computed once for two Gates."""
    import re

    from traite_qa.answer.gate import _countries, _word
    from traite_qa.text import fold

    folded = fold(source)
    plain = [n for group in _countries()
             if not any(_word(n).search(folded) or len(n) >= 6 and n.isalpha() and re.search(rf"(?<![\w-]){n[:-1]}", folded)
                        for n in group) for n in sorted(group)]
    first, second = Gate(source, set(), Tuning()), Gate(source, set(), Tuning())
    assert [n for n, _ in first._unknown_places] == plain
    assert second._unknown_places is first._unknown_places


def test_english_detection():
    assert is_english("Can exploited children be taken somewhere safe?")
    assert is_english("What does OCRTEH stand for?")
    assert not is_english("Que signifie OCRTEH ?")
    assert not is_english("OCRTEH ?")
    # Short questions: the model also learns from questions' first words; the
    # document's acronyms carry no language of their own.
    assert is_english("Who runs GRETA?") and is_english("Is MNR done?")
    assert not is_english("GRETA ?") and not is_english("Miprof") and not is_english("Qui dirige le GRETA ?")


def test_expansion_adds_document_words_to_the_lexical_query():
    added = expand("Can children be protected?", english=True).split("?", 1)[1].split()
    assert "enfants" in added
    source = (ROOT / "index" / "source" / "cncdh-evaluation-pna-traite-2019-2021.txt").read_text(encoding="utf-8").lower()
    assert added and all(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", source) for w in added)
    assert expand("Can children be protected?", english=False) == "Can children be protected?"  # French: no lexicon
    assert "titre séjour" in expand("Peut-on obtenir des papiers ?", english=False)
    assert expand("Où en est la mesure 16 ?", english=False) == "Où en est la mesure 16 ?"


def test_sentence_splitter_keeps_abbreviations_and_initials():
    text = "Selon les articles L. 425-1 et L. 425-3 du Ceseda, un titre est délivré. M. X est venu, etc. Puis il est parti."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Selon les articles L. 425-1 et L. 425-3 du Ceseda, un titre est délivré.",
        "M. X est venu, etc. Puis il est parti.",
    ]


def test_a_history_turn_with_a_lone_surrogate_is_read_safely(router):
    # Found by the fuzz suite: a broken history turn reached the number parser.
    query = router.understand("Et ?", [{"role": "user", "content": "la mesure seize \udc80"}])
    assert query.measures == (16,) and query.follow_up


@pytest.mark.parametrize("question, measure", [
    ("Où en est la seizième mesure ?", 16), ("mesure XVI", 16), ("la 16e mesure", 16),
    ("mesure vingt-deux ?", 22), ("Quel statut pour la quarante-troisième mesure ?", 43),
    ("What about the sixteenth measure?", 16),
])
def test_measures_named_in_words_or_roman_numerals(router, question, measure):
    assert router.understand(question).refs.measures == (measure,)


@pytest.mark.parametrize("question", [
    "Quel bilan pour le plan d'action 2019-2021 ?", "Que dit l'action 2019 du gouvernement ?",
])
def test_years_are_never_references(router, question):
    refs = router.understand(question).refs
    assert not refs.actions and not refs.measures and not refs.axes


@pytest.mark.parametrize("question, route", [
    ("Bonjour", Route.GREETING), ("Merci !", Route.GREETING), ("Pourquoi ?", Route.CLARIFY),
    ("Quelles mesures concernent les mineurs ?", Route.TOPIC_LIST),
    ("Quelles sont les principales critiques de la CNCDH ?", Route.SYNTHESIS),
    # "statut" here is France's standing, not a measure's: the cue rule sent it
    # to three unrelated measures; the learned status model leaves it to search
    # (« le statut de pays pionnier » is quoted).
    ("Quel statut la France a-t-elle obtenu dans l'Alliance 8.7 ?", Route.SEARCH),
    # The bank's writers ask this for the points of several measures: a
    # synthesis from retrieval, learned (route_model.py), not a template.
    ("Que recommande la CNCDH sur la formation des magistrats ?", Route.SYNTHESIS),
])
def test_templates_answer_only_named_objects(router, question, route):
    assert router.understand(question).route == route


@pytest.mark.parametrize("polite", [
    "Bonjour, pourriez-vous me dire : {q} Merci.", "BONJOUR, {q}", "{q} Merci beaucoup",
])
def test_politeness_does_not_change_how_a_question_is_read(router, polite):
    plain = router.understand("Où en est la mesure 16 ?")
    reworded = router.understand(polite.format(q="Où en est la mesure 16 ?"))
    assert (reworded.route, reworded.refs.measures) == (plain.route, plain.refs.measures)


@pytest.mark.parametrize("question, status", [
    ("Quelles mesures de l'axe 3 n'ont pas du tout été réalisées ?", Status.NON_REALISEE),
    ("Which measures of axis 1 were not carried out at all?", Status.NON_REALISEE),
    ("Quelles mesures n'ont jamais abouti ?", Status.NON_REALISEE),
    ("Which measures were never implemented?", Status.NON_REALISEE),
    ("Quelles mesures ont été réalisées ?", Status.REALISEE),
    ("Quelles mesures sont partiellement réalisées ?", Status.PARTIELLEMENT),
])
def test_a_negation_a_few_words_before_the_status_asks_for_the_measures_not_carried_out(router, question, status):
    # "pas du tout réalisées" was read as "réalisées", and the list's lead then
    # said no "réalisée" measure matched (a false statement, blind judges).
    assert router.understand(question).status == status


N, P, R = Status.NON_REALISEE, Status.PARTIELLEMENT, Status.REALISEE


@pytest.mark.parametrize("question, statuses", [
    # "Not fully" is two statuses: read as "not implemented", the count said 14 of 45.
    ("Combien de mesures ne sont pas entièrement réalisées ?", (P, N)),
    ("How many measures were not fully implemented?", (P, N)),
    ("Which measures haven't been completely carried out?", (P, N)),
    ("quelles mesures ne sont pas complètement mises en œuvre", (P, N)),
    ("Quelles mesures sont partiellement ou pas du tout réalisées ?", (P, N)),
    ("Quelles mesures n'ont pas été réalisées ou seulement en partie ?", (P, N)),
    # Two named with "or": the participle of "partiellement réalisées" is not a third.
    ("Combien de mesures sont réalisées ou partiellement réalisées ?", (R, P)),
    ("Which measures were implemented or partly implemented?", (R, P)),
    ("Quelles mesures ont été au moins partiellement réalisées ?", (R, P)),
    # One.
    ("Quelles mesures ont été réalisées en partie ?", (P,)),
    ("Which measures were only partly carried out?", (P,)),
    ("Quelles mesures ont été entièrement réalisées ?", (R,)),
    ("Which measures weren't implemented?", (N,)),
    # All three is no filter; none named, none.
    ("Combien de mesures sont réalisées, partiellement réalisées ou non réalisées ?", ()),
    ("Quelles mesures concernent les mineurs ?", ()),
])
def test_every_status_a_question_names_is_read(router, question, statuses):
    query = router.understand(question)
    assert query.statuses == query.refs.statuses == statuses
    assert query.status == (statuses[0] if len(statuses) == 1 else None)


@pytest.mark.parametrize("question, enumerates", [
    ("Combien d'axes compte le plan ?", "axes"),
    ("How many axes does the plan have?", "axes"),
    ("Combien d'actions dans le plan ?", "actions"),
    ("How many actions does axis 2 have?", "actions"),
    # Measures are counted, whatever part they are counted in.
    ("Combien de mesures par axe ?", None),
    ("Combien de mesures compte l'action 3 ?", None),
    ("How many measures does axis 2 have?", None),
])
def test_a_count_of_the_plans_parts_is_read_once(router, question, enumerates):
    # The answer stage reads this field, never the question's text again.
    query = router.understand(question)
    assert query.route == Route.AGGREGATE and query.enumerates == enumerates


@pytest.mark.parametrize("typed, usual", [
    ("La mesure 37 a-t-elle ete realisee", "La mesure 37 a-t-elle été réalisée ?"),
    ("QUI SENSIBILISE LES ELEVES ?", "Qui sensibilise les élèves ?"),
    ("Que fait la MIPROF?", "Que fait la Miprof ?"),
])
def test_the_encoder_reads_a_careless_question_as_usually_typed(router, typed, usual):
    assert router.understand(typed).embedded == router.understand(usual).embedded


def test_english_words_are_not_given_french_accents(router):
    assert router.understand("What does the report say about children and measures?").embedded == \
        "What does the report say about children and measures ?"


@pytest.mark.parametrize("question", ["Quelles mesures de l'axe 2 n'ont pas du tout été réalisées ?",
                                      "Which measures of axis 1 were not carried out at all?"])
def test_the_words_of_a_negated_status_are_no_topic(router, question):
    # "tout" read as a topic made a list of axis 2 say no measure matched.
    query = router.understand(question)
    assert query.route == Route.AGGREGATE and query.status == Status.NON_REALISEE and not query.topic


@pytest.mark.parametrize("question, route", [
    # Words the cue lists never had: the model learned lists and syntheses from the bank.
    ("Je cherche tout ce que le plan prévoyait pour les mineurs, mesure par mesure, avec leur état", "topic_list"),
    ("What are the main findings?", "synthesis"),
    ("Quelles sont les principales critiques de la CNCDH ?", "synthesis"),
    ("Combien de places compte le centre sécurisé pour mineurs ?", "search"),
    ("Et ?", "clarify"),  # no words to learn from: never guessed a list
])
def test_the_route_model_decides_lists_and_syntheses(router, question, route):
    assert router.understand(question).route.value == route


@pytest.mark.parametrize("question", ["Combien de mesures comporte l'axe 3 « Protéger et accompagner les victimes » ?",
                                      "En combien d'axes le plan est-il organisé ?",
                                      "Combien de mesures le deuxième plan national d'action contenait-il ?",
                                      "Combien de mesures de l'axe 3 sont non réalisées ?"])
def test_a_count_of_an_axis_or_of_axes_is_an_aggregate_not_a_topic(router, question):
    assert router.understand(question).route.value == "aggregate"


@pytest.mark.parametrize("question", ["Combien de mesures concernent l'hébergement des victimes ?",
                                      "Combien de mesures du plan portent sur la formation ?"])
def test_a_count_of_measures_on_a_topic_is_a_topic_list_not_the_plans_total(router, question):
    # Read as a bare count, these were answered "Le deuxième plan compte 45 mesures".
    query = router.understand(question)
    assert query.route.value == "topic_list" and query.topic


def test_an_acronym_the_document_never_writes_is_read_as_its_own_term(router):
    # "MNR" is nowhere in the document; "mécanisme national de référence" is, six times.
    query = router.understand("Le MNR a-t-il été créé ?")
    assert query.measures == (16,) and query.refs.titled == (16,)
    assert "mécanisme national de référence" in query.core


def test_initials_are_spelled_out_only_for_unknown_capitals():
    from traite_qa.vocabulary import initials_table, spell_out

    table = initials_table(["Le mécanisme national de référence. Un mécanisme national de référence existe.",
                            "Le plan national. La Miprof. Ce mécanisme national de référence."])
    assert table["MNR"] == "mécanisme national de référence"
    assert spell_out("Le MNR ?", table) == "Le MNR (mécanisme national de référence) ?"
    assert spell_out("le mnr ?", table) == "le mnr ?"  # only capitals are acronyms
    assert "PN" not in table  # two letters: too short to be sure
    # Twice is an accident of initials, not the document's term; so is a phrase with a verb's glue.
    assert "MNR" not in initials_table(["Le mécanisme national de référence.", "Un mécanisme national de référence."])
    assert "CDE" not in initials_table(["Ce dispositif est là."] * 4)


@pytest.mark.parametrize("question", ["Quel est le rôle de la CNDA pour les victimes ?", "L'OCDE a-t-elle évalué le plan ?",
                                      "La RATP forme-t-elle ses agents à la traite ?"])
def test_an_acronym_of_another_body_is_not_spelled_out_from_chance_initials(router, question):
    # Each was read as a phrase of the document with its initials (« coordination
    # nationale devrait assurer », ...), and search followed the phrase.
    assert router.read(question).core == question


# ------------------------------------------------------------- typing slips
@pytest.mark.parametrize("typed, meant, route", [
    ("Que singifie OCRTEH ?", "signifie", Route.ACRONYM),  # a question word: the one real word one edit away
    ("QUE SINGIFIE MIPROF ?", "signifie", Route.ACRONYM),  # shouted
    ("Où en est l'hébregement des victimes ?", "hébergement", None),  # the document's own spelling, accents kept
    ("What is the imlpementation status of measure 5?", "implementation", Route.STATUS),
    ("Quelles mesures concernent l'accmopagnement des mineurs ?", "accompagnement", None),
])
def test_a_slip_in_a_long_word_is_read_as_the_word_meant(router, typed, meant, route):
    query = router.read(typed)
    assert meant in query.core.lower() and meant in query.embedded.lower(), query.core
    assert query.text == typed  # the question as asked is kept
    if route is not None:
        assert query.route == route


@pytest.mark.parametrize("typed, meant", [
    ("Les DDTES, c'est quoi ?", "DDETS"),
    ("What does OCTREH stand for?", "OCRTEH"),
    ("l'appel à projets lancé par l'GARASC en 2022", "AGRASC"),  # the first two letters swapped
    ("CEESDA, ça veut dire quoi ?", "CESEDA"),
])
def test_an_acronym_with_two_letters_swapped_is_read_as_the_documents(router, typed, meant):
    query = router.read(typed)
    assert meant in query.core and meant in query.refs.acronyms, query.core
    assert query.text == typed


@pytest.mark.parametrize("shouted, kept, lowered", [
    ("QUE FAIT LE RÉSEAU ERRIN POUR LE RETOUR DES VICTIMES ?", "ERRIN", "réseau"),  # written in capitals, not in annex 1
    ("QUEL EST LE RÔLE DE L'OCRTEH ?", "OCRTEH", "rôle"),  # annex 1's
    ("LA LUTTE CONTRE LA TRAITE DANS LES DDETS ?", "DDETS", "lutte"),  # « LUTTE » is a title's word in capitals
])
def test_a_shouted_question_keeps_the_documents_acronyms_and_lowers_the_rest(router, shouted, kept, lowered):
    core = router.read(shouted).core
    assert kept in core.split(" ") or f"L'{kept}" in core or kept in core.replace("'", " ").split(), core
    assert lowered in core and lowered.upper() not in core


@pytest.mark.parametrize("question, route", [
    # Written for this test: a status asked in everyday words, no measure named (status.json).
    ("La formation des policiers à la traite, on peut dire que c'est fait ?", Route.STATUS_SEARCH),
    ("Le guide à l'usage des professionnels, ça a avancé ou pas ?", Route.STATUS_SEARCH),
    ("How did the evaluation rate the work on shelters for victims?", Route.STATUS_SEARCH),
    ("Qui coordonne la lutte contre la traite en France ?", None),
    ("Why are residence permits so rarely granted to victims?", None),
])
def test_a_status_asked_in_everyday_words_goes_to_the_closest_measures(router, question, route):
    if route is None:  # no status asked
        assert router.read(question).route != Route.STATUS_SEARCH
    else:
        assert router.read(question).route == route


@pytest.mark.parametrize("typed", [
    "Quel est l'argent prévu pour les victimes ?",  # "argent" is one edit from the document's "urgent"
    "How many victims were identified?",  # English words the document does not write
    "La préfecture préside-t-elle le comité ?",
    "Combien coute le plan ?",  # "coûte" without its accent is still a word
    "Le DREES est-il cité ?",  # capitals the document lacks, one letter from its DREETS: another body's name
    "Que fait l'OCDE ?",  # four letters: too short to read as a swap
    "Que fait l'OCRTEH contre les réseaux ?",
    "Why shouldn't victims be prosecuted?",  # "shouldn" is one edit from "should": wordfreq lists the half, the negation stays
    "Pourquoi aujourd’hui ?",
])
def test_real_words_and_acronyms_are_kept_as_typed(router, typed):
    assert _words(router.read(typed).core) == _words(typed)


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]{6,}", text)


def test_a_run_of_letters_longer_than_any_word_is_not_respelled(router):
    """Its one-edit neighbours would be ~100,000 strings of its length: a 2,000-letter
    question (the cap) took 1.2 s and hundreds of MB to read before the cap on word length."""
    import time

    question = "abcdefghij" * 199 + "abcdefgh ?"
    started = time.process_time()
    query = router.read(question)
    assert query.core.startswith("abcdefghij" * 199)
    assert time.process_time() - started < 0.5


@pytest.mark.parametrize("previous, question, route", [
    # Written for this test: the route model read these follow-ups alone as lists of measures.
    ("Qu'est-ce que le dispositif Ac.Sé ?", "Et ça a aidé beaucoup de femmes ?", Route.SEARCH),
    # A follow-up that asks for measures is a list, after a list or not.
    ("Quelles mesures concernent l'hébergement des victimes ?", "Et quelles mesures pour les mineurs ?", Route.TOPIC_LIST),
    ("Qui a lancé le dispositif Ac.Sé ?", "Et quelles mesures du plan en parlent ?", Route.TOPIC_LIST),
])
def test_a_follow_up_is_a_list_only_when_it_asks_for_measures_or_follows_one(router, previous, question, route):
    history = [{"role": "user", "content": previous}, {"role": "assistant", "content": "…"}]
    assert router.understand(question, history).route == route
    assert router.understand(question).route == Route.TOPIC_LIST  # alone, the model's reading
