"""The gate's checks, after the answerability model has found the question
answerable: rules kept because they beat the model alone on dev and test
(`python -m eval.ablation`: more unanswerable questions refused, accuracy up;
they cost some answerable ones):

1. unknown place: the question names a country none of whose names (English
   or French) the document mentions (another country's plan, victims in Germany);
2. what the question asks for: an amount, a count or a date must be in a
   sentence that answers, with the year the question names ("en 2023") and the
   organisations it names ("le budget de la Miprof"); otherwise the answer
   quotes the closest passage, and says the document lacks it only where that
   is checked (retrieval.refusal_claim).

(The cosine floors for off-topic questions are gone: the answerability model
replaced them.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..settings import Tuning
from ..tables import table
from ..text import fold
from ..types import Evidence, Query
from ..understand import implied, satisfies

OFF_TOPIC, UNKNOWN_PLACE, MISSING_YEAR, MISSING_VALUE, MISSING_ENTITY, NOT_FOUND = (
    "off_topic", "unknown_place", "missing_year", "missing_value", "missing_entity", "not_found")
_ENTITY = re.compile(r"\b(?:[A-Z][A-Za-z]*[A-Z][A-Za-z.]*|[A-Z][a-zé]+(?:\.[A-Z][a-zé]+)?)\b")


@dataclass(frozen=True)
class Refusal:
    kind: str  # OFF_TOPIC | UNKNOWN_PLACE | MISSING_YEAR | MISSING_VALUE | MISSING_ENTITY
    detail: str  # the place, year, value kind or entity at stake
    note: str  # for "Détails techniques"

    @property
    def closest_worth_quoting(self) -> bool:
        """Near misses quote the closest passage; off-topic questions get topics instead."""
        return self.kind in (MISSING_YEAR, MISSING_VALUE, MISSING_ENTITY, NOT_FOUND)


@lru_cache(maxsize=1)
def _countries() -> list[frozenset[str]]:
    """Every country's names, folded: English, common, official and French (ISO
    3166 through pycountry). A country is one group: the document "mentions"
    it when any of its names occurs, so "Romania" is known through "Roumanie"."""
    import gettext

    import pycountry

    excluded = {fold(n) for n in table("places")["not_places"]}
    french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"], fallback=True)
    groups = []
    for country in pycountry.countries:
        names = {country.name, getattr(country, "common_name", None), getattr(country, "official_name", None),
                 french.gettext(country.name)}
        folded = {fold(re.split(r"[,(]", n)[0].strip()) for n in names if n}
        folded = {n for n in folded if len(n) >= 3 and n not in excluded}
        if folded:
            groups.append(frozenset(folded))
    return groups


def country_names(name: str) -> frozenset[str]:
    """All the folded names of the country one of whose names is `name` (empty if none)."""
    return next((g for g in _countries() if name in g), frozenset())


def _word(name: str) -> re.Pattern:
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])")


class Gate:
    def __init__(self, corpus: str, vocabulary: set[str], tuning: Tuning):
        self.tuning = tuning
        self._corpus = fold(corpus)
        self._raw = corpus
        self._vocabulary = vocabulary
        # Verified once: a country none of whose names occurs in the document.
        self._unknown_places = [(n, _word(n)) for group in _countries()
                                if not any(_word(n).search(self._corpus) for n in group) for n in sorted(group)]

    def unknown_place(self, question: str) -> str | None:
        """A country named in the question (in English or French, any case or
        accents) none of whose names the document mentions."""
        folded = fold(question)
        return next((name for name, pattern in self._unknown_places if pattern.search(folded)), None)

    def refusal(self, query: Query, chosen: list[Evidence]) -> Refusal | None:
        """Why the evidence does not answer the question, or None when it does."""
        place = self.unknown_place(query.core)
        if place:
            return Refusal(UNKNOWN_PLACE, place, f"the document never mentions {place!r}")
        if query.answer_type is None and not query.years:
            return None
        answering = [e for e in chosen if satisfies(query.answer_type, [e.text])] if query.answer_type else list(chosen)
        if not answering:
            return Refusal(MISSING_VALUE, query.answer_type or "", f"the question asks for a {query.answer_type}; "
                           "no chosen sentence holds one")
        for year in query.years:
            # The year must be in what answers: the sentence with the value, or
            # another quoted sentence of the same passage.
            passages = {e.hit.id for e in answering}
            if not any(str(year) in e.text for e in chosen if e.hit.id in passages):
                return Refusal(MISSING_YEAR, str(year), f"the question asks about {year}; no answering sentence names it")
        if query.answer_type:
            passages = {e.hit.id for e in answering}
            around = [e for e in chosen if e.hit.id in passages]  # the answering sentences and their neighbours quoted
            for entity in self.entities(query.core, query.english):
                if not any(fold(entity) in fold(e.text) or fold(entity) in fold(e.hit.header) for e in around):
                    return Refusal(MISSING_ENTITY, entity, f"the question names {entity!r}; the sentences holding "
                                   f"a {query.answer_type} do not")
        return None

    def entities(self, question: str, english: bool = False) -> list[str]:
        """Organisations and names the question mentions that the document knows
        (its author and subject aside): the answer must be about them. English
        capitalises nationalities and common nouns, so there only acronyms count."""
        out = []
        for match in _ENTITY.finditer(question):
            word = match.group(0)
            if match.start() == 0 or implied(word) or len(word) < 3:
                continue
            acronym = word.replace(".", "").isupper() or "." in word
            capitalised = not english and not question[: match.start()].rstrip().endswith((".", "?", "!"))
            if acronym or capitalised:
                # As the document writes it, capitals included: a word the document
                # writes in lower case is no name, however the question typed it.
                if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", self._raw) and word not in out:
                    out.append(word)
        return out
