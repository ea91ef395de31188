"""The gate's one rule: a country none of whose names (English or French, any
case or accents) the document mentions ("victims in Germany", another
country's plan) is refused plainly, and the refusal names it: the claim is
checked by construction.

The checks that used to follow (an amount, a count, a date, a year or an
organisation missing from the answering sentences) were measured against the
answerability model alone (`python -m eval.ablation`): they refused more
unanswerable questions (+8-12 points) but also 4-5% of answerable ones, over
the 3% the refusals may cost, so they were removed; so were the cosine floors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..settings import Tuning
from ..tables import table
from ..text import fold

OFF_TOPIC, UNKNOWN_PLACE, NOT_FOUND = "off_topic", "unknown_place", "not_found"


@dataclass(frozen=True)
class Refusal:
    kind: str  # OFF_TOPIC | UNKNOWN_PLACE | NOT_FOUND
    detail: str  # the place, year, value kind or entity at stake
    note: str  # for "Détails techniques"
    plain: bool = False  # off-topic, and most of the question's words are not the document's: said plainly

    @property
    def closest_worth_quoting(self) -> bool:
        """Near misses quote the closest passage; off-topic questions get topics instead."""
        return self.kind == NOT_FOUND


@lru_cache(maxsize=1)
def _countries() -> list[frozenset[str]]:
    """Every country's names, folded: English, common, official and French (ISO
    3166 through pycountry). A country is one group: the document "mentions"
    it when any of its names occurs, so "Romania" is known through "Roumanie"."""
    import gettext

    import pycountry

    excluded = {fold(n) for n in table("places")["not_places"]}
    french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"], fallback=True)
    # France's overseas departments and collectivities have ISO 3166-1 codes
    # too, but they are no countries: a test reader flagged « le nom de ce pays
    # (Guadeloupe) » as false. ISO 3166-2 lists them as subdivisions of France.
    french_parts = list(pycountry.subdivisions.get(country_code="FR"))
    overseas = {_plain(s.name) for s in french_parts if "overseas" in s.type.lower()}
    codes = {s.code for s in french_parts}
    groups = []
    for country in pycountry.countries:
        names = {country.name, getattr(country, "common_name", None), getattr(country, "official_name", None),
                 french.gettext(country.name)}
        if f"FR-{country.alpha_2}" in codes or any(_plain(n) in overseas for n in names if n):
            continue
        folded = {fold(re.split(r"[,(]", n)[0].strip()) for n in names if n}
        folded = {n for n in folded if len(n) >= 3 and n not in excluded}
        if folded:
            groups.append(frozenset(folded))
    return groups


def _plain(name: str) -> str:
    """A territory's name without brackets or a leading article: « Guyane (française) », « La Réunion »."""
    return re.sub(r"^la ", "", re.sub(r"\s+", " ", fold(re.sub(r"[()]", "", name))).strip())


def country_names(name: str) -> frozenset[str]:
    """All the folded names of the country one of whose names is `name` (empty if none)."""
    return next((g for g in _countries() if name in g), frozenset())


def _word(name: str) -> re.Pattern:
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])")


def mentioned(group: frozenset[str], folded: str) -> str | None:
    """The name of a country (one group of names) that occurs in a folded text,
    or the stem of its adjective: a one-word name of six letters or more
    without its last letter, starting a word. The document's « l'expérience
    italienne » names Italy ("itali-"), as a reader counts it (fresh11's blind
    reader flagged « il ne mentionne pas ce pays (italie) » as false). The
    gate's test and the framing verifier's."""
    for name in sorted(group):
        stem = name[:-1] if len(name) >= 6 and name.isalpha() else None
        if name in folded and _word(name).search(folded):
            return name
        if stem and stem in folded and re.search(rf"(?<![\w-]){re.escape(stem)}", folded):
            return stem
    return None


@lru_cache(maxsize=4)
def _unknown_places(corpus: str) -> tuple[tuple[str, re.Pattern], ...]:
    """Every name of the countries none of whose names (nor their stems) occurs in `corpus`.

    Cached per document text: the scan took ~1.5 s and ran for every
    Assistant built (the tests build dozens). A name must occur as a plain
    substring before its word pattern can match, and few do: testing that
    first skips almost every regex scan of the ~120,000 characters."""
    folded = fold(corpus)
    return tuple((n, _word(n)) for group in _countries() if mentioned(group, folded) is None for n in sorted(group))


class Gate:
    def __init__(self, corpus: str, vocabulary: set[str], tuning: Tuning):
        self.tuning = tuning
        self._raw = corpus
        self._vocabulary = vocabulary
        # Verified once per document: a country none of whose names occurs in it.
        self._unknown_places = _unknown_places(corpus)

    def unknown_place(self, question: str) -> str | None:
        """A country named in the question (in English or French, any case or
        accents) none of whose names the document mentions, as the question
        spells it ("Allemagne", not the folded "allemagne")."""
        folded = fold(question)
        # The substring test first: ~800 patterns per question cost ~1 ms, the test a few µs.
        return next((_as_typed(question, name, pattern) for name, pattern in self._unknown_places
                     if name in folded and pattern.search(folded)), None)


def _as_typed(question: str, name: str, pattern: re.Pattern) -> str:
    """The span of the question that folds to `name`: the question is folded
    one character at a time, each folded character remembering its source
    (only once a name is found, not for every question)."""
    pieces = [fold(c) for c in question]
    origin = [i for i, piece in enumerate(pieces) for _ in piece]
    m = pattern.search("".join(pieces))
    return question[origin[m.start()]:origin[m.end() - 1] + 1] if m else name
