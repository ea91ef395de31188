"""Topic lists: "Quelles mesures concernent les mineurs, et où en sont-elles ?"

Measures are ranked for the topic by three votes fused by reciprocal rank:
the search over their passages, and a card per measure (its axis, action and
title) read densely and lexically, so a measure is found by the theme of its
action too ("la coopération internationale" → axis 6). Those close enough to
the best are listed, best first, each with its number, title, status and the
sentence that says where it stands; a status or axis the question (or a
filter) names narrows the list.
"""

from __future__ import annotations

import threading

import numpy as np

from ..document import Evaluation, Measure
from ..search import Searcher, ranks
from ..settings import Tuning
from ..text import analyze
from ..types import Answer, Filters, Query, Route, Status
from . import templates as T
from .compose import Composer
from .structured import status_sentences


class MeasureCards:
    """One short text per measure (its axis, action and title), embedded once
    per process on first use (45 short passages): what a question asking about
    a measure by its meaning should match."""

    def __init__(self, evaluation: Evaluation, searcher: Searcher):
        self.evaluation = evaluation
        self.searcher = searcher
        self.words = [set(analyze(card_text(evaluation, m))) for m in evaluation.measures]
        self._vectors: np.ndarray | None = None
        self._lock = threading.Lock()

    def cosines(self, query: Query) -> np.ndarray:
        """Cosine of every measure's card with the question, in measure order."""
        return self.vectors() @ self.searcher.query_vector(query)

    def rank_of(self, query: Query, number: int) -> int:
        """1-based rank of a measure's card among all cards for this question."""
        cosines = self.cosines(query)
        return int((cosines > cosines[number - 1]).sum()) + 1

    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            with self._lock:
                if self._vectors is None:
                    texts = [card_text(self.evaluation, m) for m in self.evaluation.measures]
                    self._vectors = self.searcher.embedder.embed_documents(texts)
        return self._vectors


class TopicResponder:
    def __init__(self, evaluation: Evaluation, searcher: Searcher, tuning: Tuning, cards: MeasureCards):
        self.evaluation = evaluation
        self.searcher = searcher
        self.tuning = tuning
        self.cards = cards

    def answer(self, query: Query) -> Answer | None:
        ranked = self.rank(query)
        if not ranked:
            return None
        status = query.status if query.status is not None else query.filters.status
        axis = (query.refs.axes or (None,))[0] if query.refs.axes else query.filters.axis
        best = ranked[0][1]
        chosen = [m for m, score in ranked if score >= self.tuning.topic_ratio * best][: self.tuning.topic_max]
        kept = [m for m in chosen if (status is None or m.status is status) and (axis is None or m.axis == axis)]
        lang = query.language
        within = _within(status, axis, lang)
        c = Composer(query)
        if kept:
            if query.count:
                n = len(kept)
                c.say(T.TOPIC_COUNT[lang].format(n=n, s="s" if n > 1 else "", nt="nt" if n > 1 else "",
                                                 verb_s="" if n > 1 else "s", within=within))
            else:
                c.say(T.TOPIC_LEAD[lang].format(within=within))
        else:
            c.say(T.TOPIC_NONE[lang].format(what=(within.strip(" ()") or "").strip()))
            kept = chosen[:3]
        for measure in kept:
            self._item(c, query, measure)
        return c.answer(Route.TOPIC_LIST)

    def rank(self, query: Query) -> list[tuple[Measure, float]]:
        """Every measure with a topic score, best first."""
        hits = self.searcher.retrieve(query, k=60, filters=Filters(kind="measure"), pin=False)
        n = len(self.evaluation.measures)
        search_rank = np.full(n, np.inf)
        for hit in hits:
            for m in hit.measures:
                search_rank[m - 1] = min(search_rank[m - 1], hit.rank)
        cards = self.cards.cosines(query)
        topic = set(query.topic) or set(analyze(query.core))
        overlap = np.array([len(topic & words) for words in self.cards.words], dtype=np.float64)
        k = self.tuning.rrf_k
        score = 1.0 / (k + search_rank) + self.tuning.topic_card_weight / (k + ranks(cards))
        has = overlap > 0
        score[has] += self.tuning.topic_lexical_weight / (k + ranks(overlap)[has])
        order = np.argsort(-score, kind="stable")
        return [(self.evaluation.measures[i], float(score[i])) for i in order]

    def _item(self, c: Composer, query: Query, measure: Measure) -> None:
        lang = query.language
        hits = self.searcher.hits_for(self.searcher.measure_chunk_ids(measure.number))
        picked = status_sentences(hits, measure.number)[:1]
        quote = ""
        marker = ""
        if picked:
            hit, text = picked[0]
            quote = f" : « {text} »"
            marker = c.cite(hit, [text], focus=measure.number)
        elif hits:
            marker = c.cite(hits[0], [], focus=measure.number)
        c.say(T.TOPIC_ITEM[lang].format(n=measure.number, title=measure.title, status=c.status_words(measure.status),
                                        quote=quote, marker=marker))
        c.measure_status(measure)


def card_text(evaluation: Evaluation, measure: Measure) -> str:
    axis, action = evaluation.axis(measure.axis), evaluation.action(measure.action)
    return f"Axe {axis.number} : {axis.label} › Action {action.number} : {action.label} › Mesure {measure.number} : {measure.title}"


def _within(status: Status | None, axis: int | None, lang: str) -> str:
    parts = []
    if status is not None:
        parts.append(T.status_words(status, lang))
    if axis is not None:
        parts.append(f"{'axis' if lang == 'en' else 'axe'} {axis}")
    return T.TOPIC_WITHIN[lang].format(what=", ".join(parts)) if parts else ""
