"""What kind of value a question asks for ("how much", "how many", "when"),
and whether a text holds one: quoting a sentence without it is not an answer."""

from __future__ import annotations

import re

from ..text import FOOTNOTE_MARKER_RE, fold

_MONEY_Q = re.compile(
    r"\b(budget|budgets|montant|salaire|remuneration|cout|couts|combien d'argent|quelle somme|how much money|"
    r"how much funding|funding|salary|cost|costs|prix)\b"
)
_COUNT_Q = re.compile(r"\b(combien|nombre de|how many|how much|quelle proportion|quelle part|pourcentage|what share|what percentage)\b")
# "quand" opens a "when" question; inside one ("… quand on dénonce …") it means "if".
_DATE_Q = re.compile(r"(?:^|[.?!] )(?:\w+ )?quand\b|\b(quelle date|en quelle annee|depuis quand|a quelle date|"
                     r"when|what date|which year|what year)\b")
_MONEY = re.compile(r"\d[\d  .,]*\s*(?:€|euros?\b|millions?|milliards?)|\beuros?\b|€", re.IGNORECASE)
# A count: digits that are not a year, or a number word ("neuf femmes", "une quinzaine").
_NUMBER = re.compile(r"\b(?!(?:19|20)\d\d\b)\d[\d  .,]*%?|\b(deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|"
                     r"treize|quatorze|quinze|seize|vingt|trente|quarante|cinquante|soixante|cent|mille|millier|million|"
                     r"milliard|dizaine|douzaine|quinzaine|vingtaine|trentaine|quarantaine|cinquantaine|soixantaine|"
                     r"centaine|seul|seule|unique)s?\b", re.IGNORECASE)
_DATE = re.compile(r"\b(1[89]\d\d|20\d\d)\b|\b(janvier|fevrier|février|mars|avril|mai|juin|juillet|aout|août|septembre|"
                   r"octobre|novembre|decembre|décembre)\b", re.IGNORECASE)


def answer_type(question: str) -> str | None:
    folded = fold(question)
    if _MONEY_Q.search(folded):
        return "money"
    if _DATE_Q.search(folded):
        return "date"
    if _COUNT_Q.search(folded):
        return "count"
    return None


def satisfies(kind: str | None, texts: list[str]) -> bool:
    if kind is None:
        return True
    pattern = {"money": _MONEY, "date": _DATE, "count": _NUMBER}[kind]
    return any(pattern.search(FOOTNOTE_MARKER_RE.sub("", t)) for t in texts)
