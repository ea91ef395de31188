"""Assemble an answer's text, markers and citations so they always agree.

Every `cite` checks that its quotes are verbatim substrings of the passage and
returns the marker to write; `answer()` keeps exactly the cited passages.
"""

from __future__ import annotations

import re

from ..document import Evaluation, Measure, Status
from ..types import Answer, Citation, Hit, Query
from .templates import MEASURE_WORD, status_words

MARKER_RE = re.compile(r"\[((?:Mesure|Note|Sigle|Tableau axe|Préambule|Bilan) [^\[\]]+?)\]")


def marker_for(hit: Hit, focus: int | None = None) -> str:
    if hit.kind == "measure":
        if focus is not None and focus in hit.measures:
            return f"Mesure {focus}"
        return "Mesure " + "-".join(map(str, hit.measures))
    if hit.kind == "footnote":
        return f"Note {hit.footnote}"
    if hit.kind == "acronym":
        return f"Sigle {hit.acronym}"
    if hit.kind == "table":
        return f"Tableau axe {hit.axis}"
    number = hit.id.rsplit("-", 1)[-1]
    return f"{'Préambule' if hit.kind == 'preamble' else 'Bilan'} {number}"


def marker_matches(marker: str, citation_hit: Hit) -> bool:
    """Does a marker written in an answer name this passage?"""
    if marker.startswith("Mesure "):
        numbers = [int(n) for n in re.findall(r"\d+", marker)]
        return citation_hit.kind == "measure" and (
            numbers == list(citation_hit.measures) or (len(numbers) == 1 and numbers[0] in citation_hit.measures)
        )
    return marker == marker_for(citation_hit)


class Composer:
    def __init__(self, query: Query):
        self.query = query
        self.parts: list[str] = []
        self.citations: dict[str, dict] = {}  # chunk id -> {"hit", "marker", "quotes"}, in citing order
        self.statuses: dict[int, str] = {}

    def cite(self, hit: Hit, quotes: list[str], focus: int | None = None) -> str:
        for quote in quotes:
            if quote not in hit.text:  # a bug, never user input: fail loudly
                raise AssertionError(f"quote not in passage {hit.id}: {quote[:80]!r}")
        entry = self.citations.setdefault(hit.id, {"hit": hit, "marker": marker_for(hit, focus), "quotes": []})
        for quote in quotes:
            if quote not in entry["quotes"]:
                entry["quotes"].append(quote)
        return f"[{entry['marker']}]"

    def cite_quotes(self, quotes: list[tuple[Hit, str]], focus: int | None = None) -> str:
        """Cite several (passage, sentence) pairs; returns their markers, each once."""
        written: list[str] = []
        for hit, text in quotes:
            marker = self.cite(hit, [text], focus)
            if marker not in written:
                written.append(marker)
        return " ".join(written)

    def say(self, text: str) -> None:
        self.parts.append(text)

    def status_words(self, status: Status) -> str:
        return status_words(status, self.query.language)

    def measure_status(self, measure: Measure) -> None:
        self.statuses[measure.number] = measure.status.value

    def answer(self, route: str, status: str = "answered") -> Answer:
        return Answer(
            question=self.query.text,
            status=status,
            answer="\n".join(self.parts),
            citations=tuple(Citation(e["hit"], e["marker"], tuple(e["quotes"])) for e in self.citations.values()),
            intent=route,
            language=self.query.language,
            measures=dict(self.statuses),
        )


def measure_items(evaluation: Evaluation, numbers, c: Composer) -> str:
    """"mesure 5 « Informer le monde de l'entreprise » (partiellement réalisée) ; …":
    the document's titles and statuses, each stated in `c`."""
    word = MEASURE_WORD[c.query.language]
    for n in numbers:
        c.measure_status(evaluation.measure(n))
    return (" ; " if c.query.language == "fr" else "; ").join(
        f"{word} {n} « {evaluation.measure(n).title} » ({c.status_words(evaluation.measure(n).status)})" for n in numbers)
