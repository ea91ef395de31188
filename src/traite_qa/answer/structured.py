"""Answers built from the document model for questions that name their object:
a measure's status, recommendations or reasons, an acronym, a footnote, or a
reference the document does not have. Quotes come from the named passages."""

from __future__ import annotations

import re

from ..document import Evaluation
from ..search import Searcher
from ..text import sentence_spans
from ..types import NO_EVIDENCE, Answer, Filters, Hit, Query, Route
from . import templates as T
from .compose import Composer

_RECOMMEND_RE = re.compile(
    r"\b(recommand\w*|préconis\w*|invite|appelle|suggère|propose|il importe|il convient|conviendrait|"
    r"nécessaire|doit|doivent|devrait|devraient|rappelle|demande)\b",
    re.IGNORECASE,
)
_STATUS_EVIDENCE_RE = re.compile(
    r"(mise? en œuvre|mises en œuvre|réalis\w*|n'a pas été|n'ont pas été|aucun\w*|absence|faute|partiellement|"
    r"salue|pas encore|toujours pas|reste|insuffisan\w*|effectiv\w*)",
    re.IGNORECASE,
)
_REASON_RE = re.compile(
    r"(faute|en l'absence|absence|manque|malgré|insuffisan\w*|n'a pas|n'ont pas|pas été|aucun\w*|toutefois|"
    r"cependant|pourtant|seulement|uniquement|en raison|car |parce)",
    re.IGNORECASE,
)


def _names(number: int) -> re.Pattern:
    """Sentences naming the measure: in a shared body (20/21) they speak of it."""
    return re.compile(rf"\bmesures? (?:\d+ (?:et|à) )?{number}\b", re.IGNORECASE)


def _sentences(hit: Hit) -> list[str]:
    return [hit.text[s:e] for s, e in sentence_spans(hit.text)]


def _pick(hits: list[Hit], pattern: re.Pattern, limit: int, prefer: re.Pattern | None = None) -> list[tuple[Hit, str]]:
    """Up to `limit` sentences matching `pattern`, in document order (preferred ones first)."""
    found = [(hit, s) for hit in hits for s in _sentences(hit) if pattern.search(s)]
    found = list({s: (h, s) for h, s in found}.values())  # overlapping pieces repeat sentences
    if prefer is not None:  # stable: document order within each group
        found.sort(key=lambda hs: not prefer.search(hs[1]))
    return found[:limit]


def _first_sentences(hits: list[Hit], limit: int) -> list[tuple[Hit, str]]:
    return [(hits[0], s) for s in _sentences(hits[0])[:limit]] if hits else []


# route: (sentence picker, max measures answered)
_PICKERS = {
    Route.STATUS: (lambda hits, n: _pick(hits, _STATUS_EVIDENCE_RE, 2, prefer=_names(n)) or _first_sentences(hits, 1), 4),
    Route.RECOMMENDATION: (lambda hits, n: _pick(hits, _RECOMMEND_RE, 3, prefer=re.compile(r"recommand", re.I)), 2),
    Route.WHY: (
        lambda hits, n: _pick(hits, _REASON_RE, 3, prefer=_names(n)) or _pick(hits, _STATUS_EVIDENCE_RE, 2) or _first_sentences(hits, 2),
        2,
    ),
}
_PICKERS[Route.STATUS_SEARCH] = _PICKERS[Route.STATUS]
_TEMPLATE_OF = {Route.STATUS: "status", Route.STATUS_SEARCH: "status", Route.RECOMMENDATION: "recommendation", Route.WHY: "why"}


class MeasureResponder:
    """Status, recommendations or reasons for the measures a question names, quoted from their body."""

    def __init__(self, evaluation: Evaluation, searcher: Searcher):
        self.evaluation = evaluation
        self.searcher = searcher

    def answer(self, query: Query, numbers: tuple[int, ...] | None = None, route: Route | None = None) -> Answer | None:
        route = route or query.route
        numbers = numbers or query.measures
        if not numbers and route == Route.RECOMMENDATION:  # "Que recommande la CNCDH sur … ?"
            hits = self.searcher.retrieve(query, k=3, filters=Filters(kind="measure"))
            numbers = hits[0].measures[:1] if hits else ()
        pick, limit = _PICKERS[route]
        template = T.PER_MEASURE[_TEMPLATE_OF[route]][query.language]
        c = Composer(query)
        for number in numbers[:limit]:
            measure = self.evaluation.measure(number)
            quotes = pick(self.searcher.hits_for(self.searcher.measure_chunk_ids(number)), number)
            if not quotes:
                continue
            shared = ", ".join(str(n) for n in measure.group if n != number)
            c.say(template.format(
                n=number, title=measure.title, axis=measure.axis, action=measure.action,
                status=c.status_words(measure.status), quotes=" ".join(f"« {text} »" for _, text in quotes),
                markers=c.cite_quotes(quotes, focus=number),
                shared=T.SHARED[query.language].format(shared=shared) if shared else "",
            ))
            c.measure_status(measure)
        return c.answer(route) if c.citations else None


class AcronymResponder:
    def __init__(self, evaluation: Evaluation, searcher: Searcher):
        self.evaluation = evaluation
        self.searcher = searcher

    def answer(self, query: Query) -> Answer:
        c = Composer(query)
        for name in query.refs.acronyms:
            acronym = self.evaluation.acronym(name)
            hit = self.searcher.hits_for([f"sigle-{acronym.acronym}"])[0]
            marker = c.cite(hit, [hit.text])
            c.say(T.ACRONYM[query.language].format(acronym=acronym.acronym, definition=acronym.definition, marker=marker))
        return c.answer(Route.ACRONYM)


class FootnoteResponder:
    def __init__(self, evaluation: Evaluation, searcher: Searcher):
        self.evaluation = evaluation
        self.searcher = searcher

    def answer(self, query: Query) -> Answer:
        c = Composer(query)
        word = T.MEASURE_WORD[query.language]
        for number in query.refs.footnotes:
            note = self.evaluation.footnote(number)
            hit = self.searcher.hits_for([f"note-{number}"])[0]
            cited = ", ".join(f"{word} {m} « {self.evaluation.measure(m).title} »" for m in note.measures)
            sections = [T.SECTION_NAMES.get(s, s) for s in note.sections]
            where = " ; ".join(filter(None, [cited, *sections]))
            marker = c.cite(hit, [note.text])
            where_text = T.FOOTNOTE_WHERE[query.language].format(where=where) if where else ""
            c.say(T.FOOTNOTE[query.language].format(number=number, where=where_text, text=note.text, marker=marker))
        return c.answer(Route.FOOTNOTE)


class UnknownReferenceResponder:
    """"mesure 52", "note 99", "axe 9": say what the document has instead."""

    def __init__(self, evaluation: Evaluation):
        self.evaluation = evaluation

    def answer(self, query: Query) -> Answer:
        n_m, n_n = len(self.evaluation.measures), len(self.evaluation.footnotes)
        bad_m = [m for m in query.refs.measures if not 1 <= m <= n_m]
        bad_n = [n for n in query.refs.footnotes if not 1 <= n <= n_n]
        if query.english:
            what = f"measure {bad_m[0]}" if bad_m else f"footnote {bad_n[0]}"
        else:
            what = f"de mesure {bad_m[0]}" if bad_m else f"de note {bad_n[0]}"
        text = T.UNKNOWN_MEASURE[query.language].format(no_answer=T.no_answer(query.language), what=what, n_m=n_m, n_n=n_n)
        return Answer(query.text, NO_EVIDENCE, text, intent=Route.UNKNOWN_REFERENCE, language=query.language)

    def scope(self, query: Query) -> Answer:
        """An axis or action the plan does not have."""
        n_ax, n_ac = len(self.evaluation.axes), len(self.evaluation.actions)
        text = T.UNKNOWN_SCOPE[query.language].format(no_answer=T.no_answer(query.language), n_ax=n_ax, n_ac=n_ac)
        return Answer(query.text, NO_EVIDENCE, text, intent=Route.UNKNOWN_REFERENCE, language=query.language)
