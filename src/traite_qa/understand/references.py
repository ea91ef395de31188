"""Exact references inside a question: measures, footnotes, axes, actions,
glossary acronyms and measure titles. The searcher pins the named chunks
first; the router picks a structured answer for them.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..document import Evaluation
from ..tables import regex_list, table
from ..text import STOPWORDS, analyze, fold
from ..types import References, Status
from .numbers import digits

_ORD = r"(?:e|eme|ieme|er|ere|re|th|st|nd|rd)"
_NUM = r"(-?\d{1,15})"
_MEASURE_RES = [
    # "mesure 16", "mesures 14 et 15", "mesure n° 16", "measure 16", "measures 3, 4 and 5"
    re.compile(rf"\b(?:mesures?|measures?)\s*(?:n\s*°|no\.?|n°|numero|number|#)?\s*{_NUM}((?:\s*(?:,|et|and|ou|or|&)\s*\d{{1,3}}\b)*)"),
    # "la 16e mesure", "16ème mesure", "the 16th measure"
    re.compile(rf"\b(\d{{1,3}})\s*{_ORD}\s+(?:mesure|measure)\b()"),
]
_FOOTNOTE_RES = [
    re.compile(rf"\b(?:notes?(?:\s+de\s+bas\s+de\s+page)?|footnotes?|renvois?|nbp)\s*(?:n\s*°|no\.?|numero|number|#)?\s*{_NUM}((?:\s*(?:,|et|and|&)\s*\d{{1,3}}\b)*)"),
    re.compile(rf"\b(\d{{1,3}})\s*{_ORD}\s+(?:note|footnote)\b()"),
]
_AXIS_RE = re.compile(r"\b(?:axes?|axis)\s*(?:n\s*°|no\.?|numero)?\s*(-?\d{1,15})\b")
_ACTION_RE = re.compile(r"\b(?:actions?)\s*(?:n\s*°|no\.?|numero)\s*(-?\d{1,15})\b|\baction\s+(-?\d{1,15})\b")
_ORDINAL_WORDS = {"premiere": 1, "first": 1, "derniere": -1, "last": -1}
_ORDINAL_WORD_RE = re.compile(r"\b(premiere|derniere|first|last)\s+(mesure|measure|note|footnote)\b")
_PLURAL_SCOPE_RE = re.compile(r"\b(mesures|measures|axes|actions)\b")


def _numbers(match: re.Match) -> list[int]:
    first = [int(match.group(1))]
    rest = [int(n) for n in re.findall(r"\d+", match.group(2) or "")]
    return first + rest


N, P, R = Status.NON_REALISEE, Status.PARTIELLEMENT, Status.REALISEE


@lru_cache(maxsize=1)
def _cues() -> dict:
    c = table("cues")["references"]
    named = c["status_named"]
    return {
        "define": re.compile(r"\b(?:" + "|".join(c["definition"]) + r")\b"),
        "listing": re.compile(r"\b(?:" + "|".join(c["listing"]) + r")\b"),
        # Most specific first: "non réalisées" also contains "réalisées", and
        # "pas entièrement réalisées" both; each names the statuses it asks for.
        "status": [((N, P), _word_regex(named["not_fully"])), ((P, N), _word_regex(named["partly_or_not"])),
                   ((R, P), _word_regex(named["at_least_partly"])), ((N,), _word_regex(named["non_realisee"])),
                   ((P,), _word_regex(named["partiellement"])), ((R,), _word_regex(named["realisee"]))],
    }


def _word_regex(patterns) -> re.Pattern:
    return re.compile(rf"\b(?:{regex_list(patterns).pattern})\b")


def statuses_in(folded: str) -> tuple[Status, ...]:
    """The statuses a question asks about, in the scale's order: one ("non
    réalisées"), two ("réalisées ou partiellement réalisées", "not fully
    implemented": Partiellement and Non réalisée), or none. Each cue's words are
    read once, most specific first, so the "réalisées" of "partiellement
    réalisées" is not also Réalisée. All three is no filter."""
    taken: list[tuple[int, int]] = []
    found: set[Status] = set()
    for statuses, pattern in _cues()["status"]:
        for match in pattern.finditer(folded):
            if not any(s < match.end() and match.start() < e for s, e in taken):
                taken.append(match.span())
                found.update(statuses)
    return () if len(found) == len(Status) else tuple(s for s in Status if s in found)


def _not_a_year(number: int, match: re.Match) -> bool:
    """Years and year ranges are never references ("plan d'action 2019-2021")."""
    end = match.string[match.end(): match.end() + 2]
    return not (1900 <= number <= 2099 or end[:1] == "-" and end[1:2].isdigit())


class ReferenceFinder:
    """Finds references in questions; built once per evaluation."""

    def __init__(self, evaluation: Evaluation):
        self.evaluation = evaluation
        self._acronyms = {fold(a.acronym): a.acronym for a in evaluation.acronyms}
        self._titles = [(m.number, _title_key(m.title)) for m in evaluation.measures]
        # The document's words: a question word outside it is a typo or a word of another topic.
        texts = [m.body for m in evaluation.measures] + [f.text for f in evaluation.footnotes] + [
            p.text for p in evaluation.preamble + evaluation.conclusion]
        self._vocabulary = frozenset(w for t in texts for w in re.findall(r"\w+", fold(t)))

    def find(self, question: str) -> References:
        question = digits(question)
        folded = fold(question)
        measures: list[int] = []
        for regex in _MEASURE_RES:
            for match in regex.finditer(folded):
                if _not_a_year(int(match.group(1)), match):
                    measures += _numbers(match)
        footnotes: list[int] = []
        for regex in _FOOTNOTE_RES:
            for match in regex.finditer(folded):
                if _not_a_year(int(match.group(1)), match):
                    footnotes += _numbers(match)
        for match in _ORDINAL_WORD_RE.finditer(folded):
            is_measure = match.group(2) in ("mesure", "measure")
            count = len(self.evaluation.measures if is_measure else self.evaluation.footnotes)
            value = _ORDINAL_WORDS[match.group(1)]
            (measures if is_measure else footnotes).append(count if value == -1 else value)
        axes = [int(m.group(1)) for m in _AXIS_RE.finditer(folded) if _not_a_year(int(m.group(1)), m)]
        actions = [int(m.group(1) or m.group(2)) for m in _ACTION_RE.finditer(folded)
                   if _not_a_year(int(m.group(1) or m.group(2)), m)]
        acronyms = self.acronyms(folded)
        titled = self.titles(question)
        listing = not (measures or titled) and bool(
            _cues()["listing"].search(folded) or ((axes or actions) and _PLURAL_SCOPE_RE.search(folded))
        )
        return References(
            measures=tuple(dict.fromkeys(measures)),
            footnotes=tuple(dict.fromkeys(footnotes)),
            axes=tuple(dict.fromkeys(axes)),
            actions=tuple(dict.fromkeys(actions)),
            acronyms=acronyms,
            titled=titled,
            definition=bool(acronyms) and not titled and self._defines(folded, acronyms),
            listing=listing,
            statuses=statuses_in(folded),
        )

    def _defines(self, folded: str, acronyms: tuple[str, ...]) -> bool:
        if _cues()["define"].search(folded):
            return True
        # "OCRTEH ?", "le SIAO", "DACG : ?": nothing asked besides the acronym;
        # in a short question one unknown word is a misspelt cue ("que sigifie le SIAO").
        named = {fold(a) for a in acronyms}
        rest = [w for w in re.findall(r"\w+", folded) if w not in STOPWORDS and w not in named]
        return not rest or len(rest) == 1 and len(folded.split()) <= 5 and rest[0] not in self._vocabulary

    def acronyms(self, folded: str) -> tuple[str, ...]:
        found = [self._acronyms[w] for w in re.findall(r"\w+", folded) if w in self._acronyms]
        return tuple(dict.fromkeys(found))

    def titles(self, question: str) -> tuple[int, ...]:
        """Measures whose title's topic words all appear in the question.

        Titles open with a verb ("Mettre en place un mécanisme national de
        référence"); users name the topic ("le mécanisme national de
        référence"), so the verb is dropped unless the rest is generic
        ("Financer les mesures du plan"). Topics of five words or more may
        miss one, so a title quoted from annex 2 ("Connaître") still matches.
        """
        words = set(analyze(question))
        found = []
        for number, title_words in self._titles:
            missing = len(title_words - words)
            if missing == 0 or (len(title_words) >= 5 and missing == 1):
                found.append((len(title_words) - missing, number))
        if not found:
            return ()
        # Keep the most specific titles: a long quoted title should not also
        # pin every short title whose words it happens to contain.
        best = max(score for score, _ in found)
        return tuple(n for score, n in sorted(found, reverse=True) if score >= max(best - 1, 2))


# Words too common in this document to identify a measure on their own.
_GENERIC = frozenset(analyze("mesure mesures plan plans traite êtres humains victimes action actions national nationale"))


def _title_key(title: str) -> frozenset[str]:
    words = analyze(title)
    topic = words[1:]
    if topic[:1] == analyze("en place"):  # "Mettre en place …"
        topic = topic[1:]
    if len(set(topic) - _GENERIC) >= 2:
        return frozenset(topic)
    return frozenset(words)
