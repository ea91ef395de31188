"""The evidence gate of the retrieval route: answer, or say plainly what the
document does not contain.

e5 cosines bunch between 0.75 and 0.9 whatever the question, so no single
cut-off separates "the cooking recipe" from "the third plan's budget". The
gate combines checks, the floors calibrated per language on the dev split
(`python -m eval.calibrate`):

1. unknown place: the question names a country or nationality the document
   never mentions (another country's plan, victims in Germany);
2. off-topic: the best passage is far (cosine below the language's floor) and
   many of the question's words never occur in the document;
3. what the question asks for: an amount, a count or a date must be in the
   sentence that answers, with the year the question names ("en 2023") and
   the organisations it names ("le budget de la Miprof"); otherwise the
   answer says the document does not give it, and quotes the closest passage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..settings import Tuning
from ..tables import table
from ..text import analyze, fold
from ..types import Evidence, Query
from ..understand import implied, satisfies

OFF_TOPIC, UNKNOWN_PLACE, MISSING_YEAR, MISSING_VALUE, MISSING_ENTITY = (
    "off_topic", "unknown_place", "missing_year", "missing_value", "missing_entity")
_ENTITY = re.compile(r"\b(?:[A-Z][A-Za-z]*[A-Z][A-Za-z.]*|[A-Z][a-zé]+(?:\.[A-Z][a-zé]+)?)\b")


@dataclass(frozen=True)
class Refusal:
    kind: str  # OFF_TOPIC | UNKNOWN_PLACE | MISSING_YEAR | MISSING_VALUE | MISSING_ENTITY
    detail: str  # the place, year, value kind or entity at stake
    note: str  # for "Détails techniques"

    @property
    def closest_worth_quoting(self) -> bool:
        """Near misses quote the closest passage; off-topic questions get topics instead."""
        return self.kind in (MISSING_YEAR, MISSING_VALUE, MISSING_ENTITY)


@lru_cache(maxsize=1)
def _places() -> list[tuple[str, re.Pattern]]:
    import gettext

    import pycountry

    data = table("places")
    excluded = {fold(n) for n in data["not_places"]}
    french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"], fallback=True)
    names = set()
    for country in pycountry.countries:
        for name in (country.name, getattr(country, "common_name", None), french.gettext(country.name)):
            if name:
                names.add(fold(re.split(r"[,(]", name)[0].strip()))
    names |= {fold(d) for d in data["demonyms"]}
    return [(n, re.compile(rf"(?<![\w-]){re.escape(n)}(?![\w-])")) for n in sorted(names - excluded) if len(n) >= 3]


class Gate:
    def __init__(self, corpus: str, vocabulary: set[str], tuning: Tuning):
        self.tuning = tuning
        self._corpus = fold(corpus)
        self._raw = corpus
        self._vocabulary = vocabulary
        self._unknown_places = [(n, p) for n, p in _places() if not p.search(self._corpus)]

    def unknown_place(self, question: str) -> str | None:
        """A country or nationality named in the question that the document never mentions."""
        folded = fold(question)
        return next((name for name, pattern in self._unknown_places if pattern.search(folded)), None)

    def absent_share(self, question: str) -> float:
        words = analyze(question)
        return sum(w not in self._vocabulary for w in words) / len(words) if words else 1.0

    def refusal(self, query: Query, top_dense: float, chosen: list[Evidence]) -> Refusal | None:
        """Why the evidence does not answer the question, or None when it does."""
        place = self.unknown_place(query.core)
        if place:
            return Refusal(UNKNOWN_PLACE, place, f"the document never mentions {place!r}")
        t = self.tuning
        floor = t.floor_en if query.english else t.floor_fr
        absent = 1.0 if query.english else self.absent_share(query.core)
        if top_dense < floor and absent >= t.max_absent_share or not query.english and absent >= t.absent_share_alone:
            return Refusal(OFF_TOPIC, "", f"off-topic: best passage cosine {top_dense:.3f} (floor {floor}), "
                           f"{absent:.0%} of the question's words absent from the document")
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
                if re.search(rf"(?<!\w){re.escape(fold(word))}(?!\w)", self._corpus) and word not in out:
                    out.append(word)
        return out
