"""Broad questions ("les principales critiques", "pourquoi le plan a-t-il peu
avancé ?") are answered from the document's own synthesis — the bilan and the
preamble's findings — plus the measures that carry the point, each with its
status and marker. Greetings and follow-ups with nothing to follow get a
short help instead of quotes."""

from __future__ import annotations

from ..document import Evaluation
from ..search import Searcher
from ..settings import Tuning
from ..types import NO_EVIDENCE, Answer, Evidence, Query, Route
from . import templates as T
from .compose import Composer
from .retrieval import RetrievalResponder
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
        return self._points(query)

    def _points(self, query: Query) -> Answer | None:
        """One line per point: the bilan's and the preamble's best sentences for
        the question, then the measures that carry it, each as « mesure N
        (statut) : its best sentence ». All from the learned ranking; a note that
        is only a reference (a URL, a JORF entry) is never a point."""
        _, ranked, probs = self.retrieval.learned_evidence(query)
        if self.retrieval.refuses(query, probs, broad=True):
            return None  # a broad question off the document's subject: retrieval refuses it
        # A point is a sentence, not a heading of the title page ("Adopté à l'unanimité").
        general = [e for e in ranked if e.hit.kind in SYNTHESIS_KINDS and len(e.text.split()) >= 8][:SYNTHESIS_GENERAL]
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
        self.retrieval.quote_lines(c, general)
        for number, e in measures.items():
            measure = self.evaluation.measure(number)
            marker = c.cite(e.hit, [e.text], focus=number)
            c.say(T.SYNTHESIS_POINT[lang].format(n=number, status=c.status_words(measure.status), quote=e.text,
                                                 marker=marker))
            c.measure_status(measure)
        return c.answer(Route.SYNTHESIS)


SYNTHESIS_GENERAL = 2  # sentences of the bilan or preamble
SYNTHESIS_MEASURES = 3  # measures, one line each


class GreetingResponder:
    def answer(self, query: Query) -> Answer:
        return Answer(query.text, "answered", T.GREETING[query.language], intent=Route.GREETING, language=query.language)


class ClarifyResponder:
    def answer(self, query: Query) -> Answer:
        text = T.CLARIFY[query.language].format(question=query.core.strip())
        return Answer(query.text, NO_EVIDENCE, text, intent=Route.CLARIFY, language=query.language,
                      notes=("the question refers to an earlier one, and the conversation has none",))
