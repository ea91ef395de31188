"""Broad questions ("les principales critiques", "pourquoi le plan a-t-il peu
avancé ?") are answered from the document's own synthesis — the bilan and the
preamble's findings — plus the measures that carry the point, each with its
status and marker. Greetings and follow-ups with nothing to follow get a
short help instead of quotes."""

from __future__ import annotations

from ..document import Evaluation
from ..search import Searcher
from ..settings import Tuning
from ..types import NO_EVIDENCE, Answer, Evidence, Filters, Query, Route
from . import templates as T
from .compose import Composer
from .retrieval import RetrievalResponder, choose
from .topics import TopicResponder

SYNTHESIS_KINDS = ("conclusion", "preamble")


class SynthesisResponder:
    def __init__(self, evaluation: Evaluation, searcher: Searcher, tuning: Tuning, retrieval: RetrievalResponder,
                 topics: TopicResponder):
        self.evaluation = evaluation
        self.searcher = searcher
        self.tuning = tuning
        self.retrieval = retrieval
        self.topics = topics

    def answer(self, query: Query) -> Answer | None:
        if self.retrieval.learned:
            return self._points(query)
        hits = []
        for kind in SYNTHESIS_KINDS:
            hits += self.searcher.retrieve(query, k=6, filters=Filters(kind=kind), pin=False)
        hits.sort(key=lambda h: -h.score)
        ranked = self.retrieval.scorer.score(query, self.searcher.query_vector(query), hits[: self.tuning.evidence_passages])
        quotes = choose(ranked, self.tuning, limit=2)
        _, _, general = self.retrieval.evidence(query)
        if general and not any(general[0].text in e.text or e.text in general[0].text for e in quotes):
            quotes = _merge(quotes, general[0])
        if not quotes:
            return None
        lang = query.language
        c = Composer(query)
        c.say(T.SYNTHESIS_LEAD[lang])
        self.retrieval._quote_lines(c, quotes)
        supporting = [m for m, _ in self.topics.rank(query)[: self.tuning.synthesis_measures]]
        if supporting:
            c.say(T.SYNTHESIS_MEASURES[lang])
            for measure in supporting:
                hits = self.searcher.hits_for(self.searcher.measure_chunk_ids(measure.number))
                marker = c.cite(hits[0], [], focus=measure.number)
                c.say(T.SYNTHESIS_ITEM[lang].format(n=measure.number, title=measure.title,
                                                    status=c.status_words(measure.status), marker=marker))
                c.measure_status(measure)
        for n in sorted({m for e in quotes if e.hit.kind == "measure" for m in e.hit.measures}):
            c.measure_status(self.evaluation.measure(n))
        return c.answer(Route.SYNTHESIS)


    def _points(self, query: Query) -> Answer | None:
        """One line per point: the bilan's and the preamble's best sentences for
        the question, then the measures that carry it, each as « mesure N
        (statut) : its best sentence ». All from the learned ranking; a note that
        is only a reference (a URL, a JORF entry) is never a point."""
        _, ranked, _ = self.retrieval.learned_evidence(query)
        general = [e for e in ranked if e.hit.kind in SYNTHESIS_KINDS][:SYNTHESIS_GENERAL]
        measures: dict[int, Evidence] = {}
        for e in ranked:
            if e.hit.kind == "measure" and len(measures) < SYNTHESIS_MEASURES:
                number = e.hit.measures[0]
                measures.setdefault(number, e)
        if not general and not measures:
            return None
        lang = query.language
        c = Composer(query)
        c.say(T.SYNTHESIS_LEAD[lang])
        self.retrieval._quote_lines(c, general)
        for number, e in measures.items():
            measure = self.evaluation.measure(number)
            marker = c.cite(e.hit, [e.text], focus=number)
            c.say(T.SYNTHESIS_POINT[lang].format(n=number, status=c.status_words(measure.status), quote=e.text,
                                                 marker=marker))
            c.measure_status(measure)
        return c.answer(Route.SYNTHESIS)


SYNTHESIS_GENERAL = 2  # sentences of the bilan or preamble
SYNTHESIS_MEASURES = 3  # measures, one line each


def _merge(quotes: list[Evidence], extra: Evidence) -> list[Evidence]:
    """The synthesis sentences first, then the best sentence of the search (three at most)."""
    return [*quotes[:2], extra]


class GreetingResponder:
    def answer(self, query: Query) -> Answer:
        return Answer(query.text, "answered", T.GREETING[query.language], intent=Route.GREETING, language=query.language)


class ClarifyResponder:
    def answer(self, query: Query) -> Answer:
        text = T.CLARIFY[query.language].format(question=query.core.strip())
        return Answer(query.text, NO_EVIDENCE, text, intent=Route.CLARIFY, language=query.language,
                      notes=("the question refers to an earlier one, and the conversation has none",))
