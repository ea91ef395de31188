"""Every sentence the assistant writes around its quotes, in French and English.

Quotes stay in French; the framing follows the question's language. Answers
are plain text with light Markdown: the direct sentence first, then one quote
per line ("- « … » [Mesure 16]"), statuses in lower case mid-sentence.
"""

from __future__ import annotations

from ..types import Status

# What the search found, not a verdict on the document: blind readers flagged
# "Le document ne répond pas" where the document did answer (judged test, 2026-12-06).
NO_ANSWER = {"fr": "Je ne trouve pas de réponse à cette question dans le document.",
             "en": "I find no answer to this question in the document."}
NO_ANSWER_FR, NO_ANSWER_EN = NO_ANSWER["fr"], NO_ANSWER["en"]

INVALID = {
    "empty": "La question est vide : posez une question sur l'évaluation (par exemple « Où en est la mesure 16 ? »).",
    "too_long": "La question est trop longue (limite : {limit} caractères) : posez une question sur un point précis.",
    "not_text": "La question n'est pas du texte.",
    "filter": "Filtre invalide : {error}",
}

GREETING = {
    "fr": ("Bonjour ! Je réponds aux questions sur l'évaluation, par la CNCDH (12 janvier 2023), du deuxième plan "
           "national d'action contre la traite des êtres humains (2019-2021), en citant le document. Vous pouvez "
           "demander par exemple :\n- « Où en est la mesure 16 ? »\n- « Quelles mesures concernent les mineurs ? »\n"
           "- « Quelles sont les principales critiques de la CNCDH ? »\n- « Que signifie OCRTEH ? »"),
    "en": ("Hello! I answer questions about the CNCDH's evaluation (12 January 2023) of France's second national "
           "action plan against trafficking in human beings (2019-2021), quoting the document (in French). You can "
           "ask for instance:\n- « What is the status of measure 16? »\n- « Which measures concern minors? »\n"
           "- « What are the CNCDH's main criticisms? »"),
}
CLARIFY = {
    "fr": ("Pouvez-vous préciser votre question ? « {question} » fait suite à une question précédente, et cette "
           "conversation n'en a pas. Par exemple : « Pourquoi la mesure 16 n'a-t-elle pas été réalisée ? »"),
    "en": ("Could you say more? « {question} » follows on from an earlier question, and this conversation has none. "
           "For instance: « Why was measure 16 not implemented? »"),
}

UNKNOWN_MEASURE = {
    "fr": "{no_answer} Il n'y a pas {what} : le plan compte {n_m} mesures (numérotées de 1 à {n_m}) et l'évaluation {n_n} notes.",
    "en": "{no_answer} There is no {what}: the plan has {n_m} measures (numbered 1 to {n_m}) and the evaluation {n_n} footnotes.",
}
UNKNOWN_SCOPE = {
    "fr": "{no_answer} Le plan compte {n_ax} axes (1 à {n_ax}) et {n_ac} actions (1 à {n_ac}).",
    "en": "{no_answer} The plan has {n_ax} axes (1 to {n_ax}) and {n_ac} actions (1 to {n_ac}).",
}

ACRONYM = {
    "fr": "{acronym} signifie « {definition} » (annexe 1, sigles utilisés). {marker}",
    "en": "{acronym} stands for « {definition} » (annex 1, glossary). {marker}",
}
FOOTNOTE = {
    "fr": "La note {number}{where} indique : « {text} » {marker}",
    "en": "Footnote {number}{where} says: « {text} » {marker}",
}
FOOTNOTE_WHERE = {"fr": " (appelée par {where})", "en": " (cited by {where})"}
SECTION_NAMES = {"preambule": "le préambule", "bilan": "le bilan"}

# Per-measure routes: status, recommendations, reasons. {lead} is "**Non** : " for a yes/no question.
PER_MEASURE = {
    "status": {
        "fr": "{lead}La mesure {n} « {title} » (axe {axis}, action {action}) est **{status}**{shared}.",
        "en": "{lead}Measure {n} « {title} » (axis {axis}, action {action}) is **{status}**{shared}.",
    },
    "recommendation": {
        "fr": "Sur la mesure {n} « {title} » ({status}), la CNCDH recommande :",
        "en": "On measure {n} « {title} » ({status}), the CNCDH recommends (quoted in French):",
    },
    "why": {
        # Not « La CNCDH explique : »: a blind judge read it above quotes that
        # explained nothing; the quotes are what the search picked.
        "fr": "La mesure {n} « {title} » est **{status}**. Ce que ma recherche trouve dans son évaluation :",
        "en": "Measure {n} « {title} » is **{status}**. What my search finds in its assessment (quoted in French):",
    },
}
SHARED = {"fr": " (évaluée avec la mesure {shared})", "en": " (assessed together with measure {shared})"}
# "Et la suivante ?": the measure counted from, as read from the last exchange;
# when the last answer cited several, the one after each, none picked (counting
# from the first, « La mesure qui suit la mesure 4 », was flagged twice by test
# readers who had 8 in mind).
RELATIVE_AMONG = {"fr": {"next": "Ma réponse précédente citait plusieurs mesures ({cited}) : voici celle qui suit chacune.",
                         "previous": "Ma réponse précédente citait plusieurs mesures ({cited}) : voici celle qui précède chacune."},
                  "en": {"next": "My previous answer cited several measures ({cited}): here is the one after each.",
                         "previous": "My previous answer cited several measures ({cited}): here is the one before each."}}
RELATIVE = {"fr": {"next": "La mesure qui suit la mesure {base} :", "previous": "La mesure qui précède la mesure {base} :"},
            "en": {"next": "The measure after measure {base}:", "previous": "The measure before measure {base}:"}}

# Retrieval answers: where the quotes come from, said of the search. "D'après
# la mesure 4 (non réalisée) :" read as the answer when the search had picked
# the wrong measure, and blind readers flagged it as false (fresh2, dev).
ACCORDING = {
    "fr": {"measure": "Ce que ma recherche trouve dans la mesure {n} « {title} » ({status}) :",
           "footnote": "Ce que ma recherche trouve dans la note {n} :",
           "preamble": "Ce que ma recherche trouve dans le préambule de l'évaluation :",
           "conclusion": "Ce que ma recherche trouve dans le bilan de la CNCDH :",
           "table": "Ce que ma recherche trouve dans l'annexe 2 :", "acronym": "Ce que ma recherche trouve dans l'annexe 1 :",
           "many": "Ce que ma recherche trouve dans l'évaluation de la CNCDH :"},
    "en": {"measure": "What my search finds in measure {n} « {title} » ({status}), quoted in French:",
           "footnote": "What my search finds in footnote {n}, quoted in French:",
           "preamble": "What my search finds in the evaluation's preamble, quoted in French:",
           "conclusion": "What my search finds in the CNCDH's conclusion, quoted in French:",
           "table": "What my search finds in annex 2, quoted in French:", "acronym": "What my search finds in annex 1:",
           "many": "What my search finds in the CNCDH's evaluation, quoted in French:"},
}
YES_NO = {
    "fr": {"oui": "**Oui.**", "non": "**Non.**", "en partie": "**En partie.**",
           None: "Le document ne permet pas de répondre simplement par oui ou par non."},
    "en": {"oui": "**Yes.**", "non": "**No.**", "en partie": "**Partly.**",
           None: "The document does not allow a plain yes or no."},
}
STATUS_OF_CITED = {"fr": "Statut des mesures citées : {items}.", "en": "Status of the measures cited: {items}."}
# A status asked of a measure described, not numbered: the closest measures as
# candidates, none picked (retrieval.py, `_learned_answer`).
CLOSE_MEASURES = {"fr": "Votre question peut porter sur plusieurs mesures ; les plus proches d'après ma recherche : {items}.",
                  "en": "Your question may be about several measures; the closest according to my search: {items}."}

# Topic lists and synthesis.
# The leads describe the search, never the document: "related to your
# question" was a claim that the listed measures are on the topic, which the
# ranking does not verify (its precision on the bank is ~0.65); "the closest
# to your question" was read as a claim too, and flagged false where a
# better measure was missing (dev judges).
TOPIC_LEAD = {
    "fr": "Les mesures du plan que ma recherche classe en tête pour votre question, dans l'ordre{within} :",
    "en": "The plan's measures my search ranks first for your question, in order{within}:",
}
# A count of the measures listed, not a claim that the plan has exactly that
# many on the topic: which measures "concern" a topic is the ranking's call.
TOPIC_COUNT = {
    "fr": "Ma recherche retient {n} mesure{s} du plan pour votre question{within} :",
    "en": "My search keeps {n} measure{s} of the plan for your question{within}:",
}
# No measure clears the ranking's calibrated cut: the closest are shown as
# evidence, without saying that they are on the topic.
TOPIC_UNSURE = {
    "fr": "Je n'ai pas de liste sûre ; à vous de juger. Les mesures que ma recherche classe en tête :",
    "en": "I have no confident list; judge for yourself. The measures my search ranks first:",
}
TOPIC_WITHIN = {"fr": " ({what})", "en": " ({what})"}
ONLY_STATUS = {"fr": "seulement celles notées « {label} »", "en": "only those rated {english}, « {label} »"}
# Two statuses asked at once ("not fully implemented"): each named, joined by "or".
OR = {"fr": " ou ", "en": " or "}
# The scope model (scopes.py) read the list as a whole part of the plan: that
# the part is what was asked is the model's call, so the lead says it is the
# search's; that these are all of the part's measures is the document's structure.
SCOPE_PART = {
    "fr": {"axis": "l'axe {n} « {title} »", "action": "l'action {n} « {title} » (axe {axis})"},
    "en": {"axis": "axis {n} « {title} »", "action": "action {n} « {title} » (axis {axis})"},
}
SCOPE_LEAD = {"fr": "Ma recherche rapporte votre question à {part} ; toutes ses mesures{within} :",
              "en": "My search relates your question to {part}; all its measures{within}:"}
SCOPE_COUNT = {"fr": "Ma recherche rapporte votre question à {part}, qui compte {n} mesure{s}{within} :",
               "en": "My search relates your question to {part}, which has {n} measure{s}{within}:"}
SCOPE_PLAN = {"fr": "Toutes les mesures du plan{within}, selon l'annexe 2 ({n}) :",
              "en": "All the plan's measures{within}, per annex 2 ({n}):"}
# Said of the measures the ranking kept, which the filter leaves empty; the
# closest ones follow with their own statuses, so the reader can check it.
TOPIC_NONE = {
    "fr": "Aucune des mesures que ma recherche classe en tête n'est {what}. Celles-ci, sans ce filtre :",
    "en": "None of the measures my search ranks first is {what}. These, without that filter:",
}
# After TOPIC_NONE: the whole plan's measures under the filter, from annex 2,
# so a count or a list asked with a status is answered even when the search's
# topic words were noise ("Combien de mesures sont réalisées, et lesquelles ?").
TOPIC_ALL = {"fr": "Dans tout le plan, selon l'annexe 2 ({what}) : {numbers}.",
             "en": "In the whole plan, per annex 2 ({what}): {numbers}."}
TOPIC_ALL_NONE = {"fr": "aucune mesure", "en": "no measure"}
TOPIC_ALL_SOME = {"fr": "mesure{s} {numbers}", "en": "measure{s} {numbers}"}
TOPIC_ITEM = {"fr": "- **Mesure {n}** « {title} » (axe {axis}) — {status}{quote} {marker}",
              "en": "- **Measure {n}** « {title} » (axis {axis}) — {status}{quote} {marker}"}
SYNTHESIS_LEAD = {"fr": "Ce que ma recherche retient de l'évaluation de la CNCDH :",
                  "en": "What my search keeps from the CNCDH's evaluation (quoted in French):"}
SYNTHESIS_MEASURES = {"fr": "Mesures qui illustrent ce point :", "en": "Measures that illustrate the point:"}
SYNTHESIS_POINT = {"fr": "- mesure {n} ({status}) : « {quote} » {marker}",
                   "en": "- measure {n} ({status}): « {quote} » {marker}"}
SYNTHESIS_ITEM = {"fr": "- mesure {n} « {title} » ({status}) {marker}", "en": "- measure {n} « {title} » ({status}) {marker}"}

# Refusals that still show the closest passage.
NOT_GIVEN = {"fr": {"closest": "Le passage que ma recherche classe en tête :"},
             "en": {"closest": "The passage my search ranks first, quoted in French:"}}
# The answerability model's doubt, with no verdict on the document: blind
# readers took "I am not sure the document answers" as false above a quote
# that did answer. The reader judges the passage.
NOT_FOUND = {"fr": "Je n'ai pas de réponse sûre ; à vous de juger.",
             "en": "I have no confident answer; judge for yourself."}
# The one verified part is the absence of the place (verify.py, _NO_COUNTRY).
# An off-topic question whose words the document mostly has: the doubt, with
# no passage (an unrelated quote is no evidence) and no verdict.
NOT_SURE = {"fr": "Je n'ai pas de réponse sûre à cette question.", "en": "I have no confident answer to this question."}
# An acronym defined, when the question asked more and no sentence was trusted
# to answer it ("C'est quoi la Miprof et quel est son budget ?"): without it the
# definition alone read as the whole answer.
NOT_SURE_REST = {"fr": "Pour le reste de votre question, je n'ai pas de réponse sûre.",
                 "en": "For the rest of your question, I have no confident answer."}
# What the gate verified, and no more: neither the country's names nor the
# stem of its adjective occur in the document (gate.mentioned).
UNKNOWN_PLACE = {"fr": "Je ne trouve pas de réponse dans le document : le nom de ce pays ({detail}) n'y figure pas.",
                 "en": "I find no answer in the document: the name of this country ({detail}) does not occur in it."}
CLOSEST_TOPICS = {"fr": "Sujets proches que vous pouvez interroger :", "en": "Closest topics you could ask about:"}
MEASURE_WORD = {"fr": "mesure", "en": "measure"}


def no_answer(language: str) -> str:
    return NO_ANSWER.get(language, NO_ANSWER["fr"])


def status_words(status: Status, language: str) -> str:
    """'non réalisée' mid-sentence in French; in English, 'not implemented'
    with the document's own label beside it ('not implemented, « Non réalisée »')."""
    return f"{status.english}, « {status.value} »" if language == "en" else status.value.lower()
