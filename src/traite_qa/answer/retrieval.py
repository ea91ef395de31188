"""The retrieval route: search, pick the sentences that answer, quote them.

Sentences of the top passages are scored as evidence; the gate decides
whether they answer at all; the chosen ones are quoted verbatim with their
markers, and the footnotes they call come along.
"""

from __future__ import annotations

from ..document import Evaluation
from ..errors import UnknownReferenceError
from ..search import Searcher
from ..settings import Tuning
from ..text import markers, sentence_spans
from ..types import NO_EVIDENCE, QUOTABLE_KINDS, Answer, Evidence, Hit, Query, Route
from ..understand import satisfies
from . import templates as T
from .compose import Composer
from .evidence import EvidenceScorer
from .gate import Gate
from .structured import MeasureResponder, UnknownReferenceResponder

SEARCH_DEPTH = 24  # passages retrieved before the quotable ones are kept


class RetrievalResponder:
    def __init__(self, evaluation: Evaluation, searcher: Searcher, tuning: Tuning, measures: MeasureResponder):
        self.evaluation = evaluation
        self.searcher = searcher
        self.tuning = tuning
        self.measures = measures
        self.unknown = UnknownReferenceResponder(evaluation)
        self.scorer = EvidenceScorer(searcher.data, tuning)
        self.gate = Gate(searcher.data.source, self.scorer.vocabulary, tuning)

    def answer(self, query: Query) -> Answer:
        try:
            hits = self.searcher.retrieve(query, k=SEARCH_DEPTH)
        except UnknownReferenceError:
            return self.unknown.answer(query)
        if query.route == Route.MEASURE_QUESTION and query.measures:
            wanted = set(query.measures)
            own = [h for h in hits if h.kind == "measure" and wanted & set(h.measures)]
            notes = {n for h in own for n in h.footnotes}
            hits = own + [h for h in hits if h.kind == "footnote" and h.footnote in notes]
            hits = hits or self.searcher.hits_for([cid for n in query.measures for cid in self.searcher.measure_chunk_ids(n)])
        # Sentences worth quoting live in measures, footnotes, the preamble and
        # the conclusion; a glossary line or a table row is not an answer here.
        wanted_kinds = ("measure",) if query.route == Route.STATUS_SEARCH else QUOTABLE_KINDS
        n = self.tuning.evidence_passages
        top = [h for h in hits if h.kind in wanted_kinds][:n] or hits[:n]
        ranked = self.scorer.score(query.text, self.searcher.query_vector(query), top, query.answer_type)
        chosen = choose(ranked, self.tuning, answer_type=query.answer_type)
        named = query.route == Route.MEASURE_QUESTION and bool(query.measures)
        reason = "no passage" if not chosen else None
        if chosen and not named:  # a named measure's best sentences are the answer
            reason = self.gate.reason(query, top[0].dense, [e.text for e in chosen])
        if reason:
            return self._no_evidence(query, top, reason)
        if query.route == Route.STATUS_SEARCH and chosen[0].hit.kind == "measure":
            return self.measures.answer(query, numbers=_focus_measures(chosen[0].hit, query)[:1], route=Route.STATUS_SEARCH)
        return self._compose(query, chosen)

    def _compose(self, query: Query, chosen: list[Evidence]) -> Answer:
        c = Composer(query)
        lang = query.language
        c.say(T.EVIDENCE_LEAD[lang])
        for evidence in chosen:
            focus = _focus_measures(evidence.hit, query)
            m = c.cite(evidence.hit, [evidence.text], focus=focus[0] if focus else None)
            c.say(f"« {evidence.text} » {m}")
            # The footnotes a quoted sentence calls come along, shown inline:
            # they often hold the reference the question is about (a decree, a law).
            for number in markers(evidence.text):
                if 1 <= number <= len(self.evaluation.footnotes):
                    note = self.searcher.hits_for([f"note-{number}"])[0]
                    excerpt = _excerpt(note.text)
                    c.say(f"  {T.FOOTNOTE_LABEL[lang]} {number} : « {excerpt} » {c.cite(note, [excerpt])}")
        cited = sorted({n for cit in c.citations.values() if cit["hit"].kind == "measure" for n in cit["hit"].measures})
        if cited:
            parts = [f"{T.MEASURE_WORD[lang]} {n} « {self.evaluation.measure(n).title} » : "
                     f"{c.status_words(self.evaluation.measure(n).status)}" for n in cited]
            c.say(T.STATUS_LINE[lang] + " ; ".join(parts) + ".")
            for n in cited:
                c.measure_status(self.evaluation.measure(n))
        return c.answer(query.route)

    def _no_evidence(self, query: Query, hits: list[Hit], reason: str = "") -> Answer:
        suggestions = _suggestions(hits, self.evaluation)
        no_answer = T.no_answer(query.language)
        text = f"{no_answer} {T.CLOSEST[query.language]}" + " ; ".join(suggestions) + "." if suggestions else no_answer
        return Answer(query.text, NO_EVIDENCE, text, intent=query.route, language=query.language,
                      suggestions=tuple(suggestions), notes=(reason,) if reason else ())


def choose(ranked: list[Evidence], tuning: Tuning, limit: int = 3, answer_type: str | None = None) -> list[Evidence]:
    """The best sentence, plus up to two close seconds (not repeats of it).

    When the question wants an amount, a count or a date and none of those
    sentences holds one, the best sentence of the same passage that does (if
    close enough) replaces the last pick: the topic sentence alone does not
    answer, and the figure that does usually follows it. A figure from another
    passage is about something else ("the third plan's budget" must not be
    answered with another budget line).
    """
    if not ranked:
        return []
    chosen = [ranked[0]]
    for evidence in ranked[1:]:
        if len(chosen) == limit or evidence.score < ranked[0].score - tuning.choose_margin:
            break
        if not _repeats(evidence, chosen):
            chosen.append(evidence)
    if answer_type and not satisfies(answer_type, [e.text for e in chosen]):
        typed = next((e for e in ranked if e.hit.id == ranked[0].hit.id and e.score >= ranked[0].score - tuning.type_margin
                      and satisfies(answer_type, [e.text]) and not _repeats(e, chosen)), None)
        if typed is not None:
            chosen = (chosen if len(chosen) < limit else chosen[:-1]) + [typed]
    return chosen


def _repeats(evidence: Evidence, chosen: list[Evidence]) -> bool:
    return any(evidence.text in e.text or e.text in evidence.text for e in chosen)


def _focus_measures(hit: Hit, query: Query) -> tuple[int, ...]:
    asked = [m for m in query.measures if m in hit.measures]
    return tuple(asked) or hit.measures if hit.kind == "measure" else ()


def _excerpt(text: str, limit: int = 400) -> str:
    """The whole text when short, else its first sentences up to `limit` chars (verbatim)."""
    if len(text) <= limit:
        return text
    spans = sentence_spans(text)
    end = spans[0][1]
    for _, e in spans[1:]:
        if e > limit:
            break
        end = e
    return text[:end]


def _suggestions(hits: list[Hit], evaluation: Evaluation) -> list[str]:
    out: list[str] = []
    for hit in hits:
        if hit.kind == "measure":
            label = f"mesure {hit.measures[0]} « {evaluation.measure(hit.measures[0]).title} »"
        elif hit.kind == "footnote":
            label = f"note {hit.footnote}"
        elif hit.kind == "acronym":
            label = f"sigle {hit.acronym}"
        else:
            continue
        if label not in out:
            out.append(label)
        if len(out) == 3:
            break
    return out
