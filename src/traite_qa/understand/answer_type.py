"""What kind of value a question asks for ("how much", "how many", "when"),
and whether a text holds one: quoting a sentence without it is not an answer.

The cue words live in `data/cues.yaml` (answer_types); number words are read
with `text2num`, so "neuf femmes" counts as a number without a word list.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..tables import phrase_pattern, table
from ..text import FOOTNOTE_MARKER_RE, fold

_YEAR = r"(?:19|20)\d\d"
# A year the question asks about ("en 2023", "in 2021", "pour 2022"), not a
# period that names the plan ("2019-2021").
_ASKED_YEAR = re.compile(rf"(?<![\d-])({_YEAR})(?![\d-])")


@lru_cache(maxsize=1)
def _cues() -> dict:
    t = table("cues")["answer_types"]
    months = "|".join(t["months"])
    return {
        "money_q": phrase_pattern(t["money_question"]),
        "count_q": phrase_pattern(t["count_question"]),
        "date_q": phrase_pattern(t["date_question"]),
        "date_head": re.compile(r"(?:^|[.?!;:] )(?:\w+ )?(?:" + "|".join(t["date_question_head"]) + r")\b"),
        "money": re.compile(r"\d[\d  .,]*\s*(?:" + "|".join(t["money_units"]) + r")\b|€|\beuros?\b", re.IGNORECASE),
        # A count: a number that is not a year, not a day of a date ("21 octobre"),
        # not an article or decree number ("225-4-1", "n° 2013-7").
        "number": re.compile(rf"(?<![\w°./-])(?!{_YEAR}\b)\d[\d  ]*(?:[.,]\d+)?\s*%?(?![\d/-])(?!\s*(?:{months})\b)"
                             r"|\b(?:" + "|".join(t["approximate_counts"]) + r")s?\b", re.IGNORECASE),
        "date": re.compile(rf"\b{_YEAR}\b|\b(?:{months})\b", re.IGNORECASE),
        "implied": {fold(e) for e in t["implied_entities"]},
        "reference_q": phrase_pattern(t["reference_question"]),
        "reference": re.compile("|".join(t["reference_evidence"])),
        "reference_numbered": re.compile("|".join(t["reference_numbered"])),
    }


def answer_type(question: str) -> str | None:
    """"money" | "count" | "date" | None."""
    folded = fold(question)
    cues = _cues()
    if cues["money_q"].search(folded):
        return "money"
    if cues["date_head"].search(folded) or cues["date_q"].search(folded):
        return "date"
    if cues["count_q"].search(folded):
        return "count"
    return None


def asks_reference(question: str) -> bool:
    """Does the question ask for a decree, a law, a report, a source?"""
    return bool(_cues()["reference_q"].search(fold(question)))


def holds_reference(text: str, numbered: bool = False) -> bool:
    """Does the text name a law, a decree, a report (with its number, if `numbered`)?"""
    return bool(_cues()["reference_numbered" if numbered else "reference"].search(fold(text)))


def asked_years(question: str) -> tuple[int, ...]:
    return tuple(dict.fromkeys(int(y) for y in _ASKED_YEAR.findall(question)))


def satisfies(kind: str | None, texts: list[str]) -> bool:
    """Does one of `texts` hold a value of `kind` (footnote markers aside)?"""
    if kind is None:
        return True
    pattern = _cues()[{"money": "money", "date": "date", "count": "number"}[kind]]
    for text in texts:
        text = FOOTNOTE_MARKER_RE.sub("", text)
        if pattern.search(text) or kind == "count" and pattern.search(_digits(text)):
            return True
    return False


def implied(entity: str) -> bool:
    """An entity every sentence of the document implies (its author, its subject)."""
    return fold(entity) in _cues()["implied"]


def _digits(text: str) -> str:
    try:
        from text_to_num import alpha2digit
    except ImportError:  # pragma: no cover - a declared dependency
        return text
    return alpha2digit(text, "fr", threshold=2)
