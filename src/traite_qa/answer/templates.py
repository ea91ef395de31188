"""Every sentence the assistant writes around its quotes, in French and English.

Quotes stay in French; the framing follows the question's language.
"""

from __future__ import annotations

NO_ANSWER_FR = "Le document ne répond pas à cette question."
NO_ANSWER_EN = "The document does not answer this question."

INVALID = {
    "empty": "La question est vide : posez une question sur l'évaluation (par exemple « Où en est la mesure 16 ? »).",
    "too_long": "La question est trop longue (limite : {limit} caractères) : posez une question sur un point précis.",
    "not_text": "La question n'est pas du texte.",
    "filter": "Filtre invalide : {error}",
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

# Per-measure routes: status, recommendations, reasons.
PER_MEASURE = {
    "status": {
        "fr": "La mesure {n} « {title} » (axe {axis}, action {action}) est {status}{shared}. La CNCDH écrit : {quotes} {markers}",
        "en": "Measure {n} « {title} » (axis {axis}, action {action}) is {status}{shared}. The CNCDH writes: {quotes} {markers}",
    },
    "recommendation": {
        "fr": "Sur la mesure {n} « {title} » ({status}), la CNCDH recommande : {quotes} {markers}",
        "en": "On measure {n} « {title} » ({status}), the CNCDH recommends: {quotes} {markers}",
    },
    "why": {
        "fr": "La mesure {n} « {title} » est {status}. La CNCDH explique : {quotes} {markers}",
        "en": "Measure {n} « {title} » is {status}. The CNCDH explains: {quotes} {markers}",
    },
}
SHARED = {"fr": " (évaluée avec la mesure {shared})", "en": " (assessed together with measure {shared})"}

EVIDENCE_LEAD = {"fr": "D'après l'évaluation de la CNCDH :", "en": "According to the CNCDH's evaluation (quoted in French):"}
FOOTNOTE_LABEL = {"fr": "note", "en": "footnote"}
STATUS_LINE = {"fr": "Statut — ", "en": "Status — "}
MEASURE_WORD = {"fr": "mesure", "en": "measure"}
CLOSEST = {"fr": "Sujets proches que vous pouvez interroger : ", "en": "Closest topics you could ask about: "}


def no_answer(language: str) -> str:
    return NO_ANSWER_EN if language == "en" else NO_ANSWER_FR
