"""The retrieval route: search, pick the sentences that answer, quote them.

Sentences of the top passages are scored as evidence; the gate decides
whether they answer at all (or says what the document does not give, with
the closest passage); the answer leads with one direct sentence (oui / non,
a status, or where the quotes come from), then one quote per line. The
footnotes a quote calls are cited as links, not pasted in.
"""

from __future__ import annotations

import dataclasses

from ..document import Evaluation
from ..errors import UnknownReferenceError
from ..search import Searcher
from ..settings import Tuning
from ..text import markers
from ..types import NO_EVIDENCE, QUOTABLE_KINDS, Answer, Evidence, Filters, Hit, Query, Route
from ..search.expansion import expand
from ..text import analyze
from ..understand import holds_reference, satisfies
from . import templates as T
from .compose import Composer
from .evidence import EvidenceScorer
from .gate import NOT_FOUND, OFF_TOPIC, Gate, Refusal
from .features import FEATURES, SentenceFeatures, VocabularyGap, vocabulary_gap
from .learned import Answerability, ModelFiles, SentenceRanker, answerability_features, evidence_of
from .structured import MeasureResponder, UnknownReferenceResponder
from .topics import MeasureCards

SEARCH_DEPTH = 24  # passages retrieved before the quotable ones are kept
MAX_QUOTES = 3


class RetrievalResponder:
    def __init__(self, evaluation: Evaluation, searcher: Searcher, tuning: Tuning, measures: MeasureResponder,
                 cards: MeasureCards):
        self.evaluation = evaluation
        self.searcher = searcher
        self.tuning = tuning
        self.measures = measures
        self.cards = cards
        self.unknown = UnknownReferenceResponder(evaluation)
        self.scorer = EvidenceScorer(searcher.data, tuning)
        self.gate = Gate(searcher.data.source, self.scorer.vocabulary, tuning)
        files = ModelFiles.bundled() if tuning.learned else None
        self.learned = files is not None
        self.features = SentenceFeatures(searcher.data, self.scorer.idf, self.scorer.sentence_words)
        if self.learned:
            self.ranker = SentenceRanker(files)
            self.answerability = Answerability(files.meta)
            self.learned_margin = float(files.meta["ranker"].get("choose_margin", 1.0))
        self._url_only = FEATURES.index("url_only")
        t = searcher.data.sentences
        self._source_starts = [searcher.data.chunks[r].span.start + s for r, s in zip(t.rows, t.starts)]

    # ------------------------------------------------------------ learned
    def learned_features(self, query: Query):
        """Feature rows of every indexed sentence for the question, and the
        hits of every chunk (fused ranks, within the query's filters)."""
        hits = self.searcher.retrieve(query, k=len(self.searcher.chunks))
        vector = self.searcher.query_vector(query)
        return self.features.matrix(query, vector, hits), hits

    def sentence_scores(self, query: Query):
        """The learned ranker's score of every indexed sentence, with the feature
        rows (a shared service: topic lists and syntheses rank with it too)."""
        x, _ = self.learned_features(query)
        return x, self.ranker.scores(x)

    def vocabulary_gap(self, query: Query) -> VocabularyGap:
        return vocabulary_gap(query, self.scorer.vocabulary, self.searcher.data.source)

    def learned_evidence(self, query: Query, hits: list[Hit] | None = None):
        """(every chunk's hit, sentences best first, P(answerable), P(off-topic) vs near-domain)."""
        x, all_hits = self.learned_features(query)
        scores = self.ranker.scores(x)
        allowed = {h.id: h for h in (hits if hits is not None else all_hits)}
        by_id = {h.id: h for h in all_hits}
        probs = self.answerability.probabilities(answerability_features(
            query, x, scores, self.vocabulary_gap(query), max((h.lexical for h in all_hits), default=0.0),
            self.searcher.query_vector(query)))
        ranked: list[Evidence] = []
        seen: set[int] = set()
        col_lex = 11
        for i in sorted(range(len(scores)), key=lambda i: -scores[i]):
            chunk_id = self.searcher.data.chunks[int(self.searcher.data.sentences.rows[i])].id
            if chunk_id not in allowed or self._source_starts[i] in seen or x[i, self._url_only]:
                # Outside the filters, the same sentence in an overlapping chunk,
                # or a note that is only a reference (a URL): never quoted as evidence.
                continue
            seen.add(self._source_starts[i])
            e = evidence_of(self.searcher.data, {chunk_id: allowed[chunk_id]}, i, scores[i], x[i, 0], x[i, col_lex])
            if e is not None:
                ranked.append(e)
        return list(by_id.values()), ranked, probs

    # ------------------------------------------------------------ pieces
    def evidence(self, query: Query, hits: list[Hit] | None = None) -> tuple[list[Hit], list[Evidence], list[Evidence]]:
        """(top passages, every sentence ranked, the sentences chosen to quote)."""
        if hits is None:
            hits = self.searcher.retrieve(query, k=SEARCH_DEPTH)
        wanted_kinds = ("measure",) if query.route == Route.STATUS_SEARCH else QUOTABLE_KINDS
        n = self.tuning.evidence_passages
        top = [h for h in hits if h.kind in wanted_kinds][:n] or hits[:n]
        if "reference" in query.wants:  # a decree, a law, a report: the footnotes hold them
            seen = {h.id for h in top}
            top += [h for h in self.searcher.retrieve(query, k=3, filters=Filters(kind="footnote")) if h.id not in seen]
        vector = self.searcher.query_vector(query)
        ranked = self.scorer.score(query, vector, top)
        chosen = choose(ranked, self.tuning, answer_type=query.answer_type, scorer=self.scorer)
        if "reference" in query.wants and chosen:
            # A decree, a law asked for: a sentence that names one leads when it
            # scores close enough (the same margin as a typed amount or date).
            close = [e for e in [*chosen, *ranked] if e.score >= chosen[0].score - self.tuning.type_margin]
            named = next((e for e in close if holds_reference(e.text, numbered=True)), None) or next(
                (e for e in close if holds_reference(e.text)), None)
            if named is not None:
                chosen = [named, *[e for e in chosen if e is not named and not _repeats(e, [named])]][:MAX_QUOTES]
        return top, ranked, self._with_answering_notes(query, vector, top, chosen)

    def _with_answering_notes(self, query: Query, vector, top: list[Hit], chosen: list[Evidence]) -> list[Evidence]:
        """A footnote the top passages call is quoted too when one of its
        sentences answers as well as the quotes do (a decree's number, a law's
        reference); otherwise it stays a link."""
        if not chosen:
            return chosen
        present = {h.id for h in top}
        called = [n for h in top for n in h.footnotes if 1 <= n <= len(self.evaluation.footnotes) and f"note-{n}" not in present]
        notes = self.searcher.hits_for([f"note-{n}" for n in dict.fromkeys(called)])
        if not notes:
            return chosen
        best = self.scorer.score(query, vector, notes)
        if "reference" in query.wants:
            # A decree, a law, a report asked for: the notes that hold one compete more widely.
            best = [e for e in best if holds_reference(e.text)] or best
            margin = self.tuning.type_margin
        else:
            margin = self.tuning.choose_margin
        if best and best[0].score >= chosen[0].score - margin and not _repeats(best[0], chosen):
            return [*chosen[: MAX_QUOTES - 1], best[0]]
        return chosen

    # ------------------------------------------------------------ answer
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
        named = query.route == Route.MEASURE_QUESTION and bool(query.measures)
        if self.learned:
            return self._learned_answer(query, hits if named else None, named)
        top, ranked, chosen = self.evidence(query, hits)
        if not chosen:
            return self.refuse(query, top, ranked, None, "no passage")
        refusal = None if named else self.gate.refusal(query, max(h.dense for h in top), chosen)
        if refusal:
            return self.refuse(query, top, ranked, refusal, refusal.note)
        subject = self._subject(query, top, chosen)
        if subject is not None:
            answer = self.measures.answer(query, numbers=(subject,), route=Route.STATUS_SEARCH, evidence=chosen)
            if answer is not None:
                return answer
        return self.compose(query, chosen)

    def _learned_answer(self, query: Query, restrict: list[Hit] | None, named: bool) -> Answer:
        if query.route == Route.STATUS_SEARCH:
            restrict = [h for h in self.searcher.retrieve(query, k=len(self.searcher.chunks)) if h.kind == "measure"]
        all_hits, ranked, probs = self.learned_evidence(query, restrict)
        chosen = choose(ranked, self.tuning, scorer=self.scorer, margin=self.learned_margin)
        top = _passages_of(ranked, self.tuning.evidence_passages)
        if not chosen:
            return self.refuse(query, top, ranked, None, "no passage")
        if not named:
            cut = self.answerability.thresholds.get(query.language, 0.5)
            if probs["answerable"] < cut or probs["offtopic"] >= self.answerability.offtopic_threshold:
                kind = OFF_TOPIC if probs["offtopic"] >= probs["unanswerable"] else NOT_FOUND
                note = (f"P(answerable) {probs['answerable']:.3f} < {cut:.3f} ({query.language}); "
                        f"P(off-topic) {probs['offtopic']:.3f}, P(near-domain) {probs['unanswerable']:.3f}")
                return self.refuse(query, top, ranked, Refusal(kind, "", note), note)
            refusal = self.gate.refusal(query, max(h.dense for h in top), chosen, off_topic=False) \
                if self.tuning.gate_rules else None
            if refusal:
                return self.refuse(query, top, ranked, refusal, refusal.note)
        subject = self._subject(query, top, chosen)
        if subject is not None:
            answer = self.measures.answer(query, numbers=(subject,), route=Route.STATUS_SEARCH, evidence=chosen)
            if answer is not None:
                return answer
        return self.compose(query, chosen)

    def _subject(self, query: Query, top: list[Hit], chosen: list[Evidence]) -> int | None:
        """The one measure a status question is about, when three readings agree:
        the best passage and the best sentence belong to it, and its card
        (axis, action, title) is among the closest to the question."""
        if query.route != Route.STATUS_SEARCH or not top or top[0].kind != "measure" or chosen[0].hit.kind != "measure":
            return None
        shared = [m for m in top[0].measures if m in chosen[0].hit.measures]
        candidates = [m for m in shared if self.cards.rank_of(query, m) <= self.tuning.subject_card_rank]
        return candidates[0] if len(candidates) == 1 else None

    def compose(self, query: Query, chosen: list[Evidence], lead: str | None = None) -> Answer:
        c = Composer(query)
        lang = query.language
        if lead is None:
            if query.yes_no:
                # No Oui / Non read from a sentence (its polarity is not verified):
                # the sentence sharing most of the question's words comes first,
                # and the reader judges from it.
                decider = max(chosen, key=lambda e: (e.lexical, e.score))
                chosen = [decider, *(e for e in chosen if e is not decider)]
            lead = self._according(chosen, lang)
        c.say(lead)
        self._quote_lines(c, chosen)
        cited = sorted({n for cit in c.citations.values() if cit["hit"].kind == "measure" for n in cit["hit"].measures})
        if len(cited) > 1 or cited and len({e.hit.id for e in chosen}) > 1:
            items = ", ".join(f"{T.MEASURE_WORD[lang]} {n} ({c.status_words(self.evaluation.measure(n).status)})" for n in cited)
            c.say(T.STATUS_OF_CITED[lang].format(items=items))
        for n in cited:
            c.measure_status(self.evaluation.measure(n))
        return c.answer(query.route)

    def _quote_lines(self, c: Composer, chosen: list[Evidence]) -> None:
        for evidence in chosen:
            focus = _focus_measures(evidence.hit, c.query)
            marker = c.cite(evidence.hit, [evidence.text], focus=focus[0] if focus else None)
            # The notes a quote calls are linked (cited without a quote), not pasted in.
            notes = [c.cite(self.searcher.hits_for([f"note-{n}"])[0], []) for n in markers(evidence.text)
                     if 1 <= n <= len(self.evaluation.footnotes)]
            c.say(f"- « {evidence.text} » {' '.join([marker, *notes])}")

    def _according(self, chosen: list[Evidence], lang: str) -> str:
        sources = {e.hit.id.split("#")[0] for e in chosen}
        hit = chosen[0].hit
        if len(sources) > 1 or hit.kind not in T.ACCORDING[lang]:
            return T.ACCORDING[lang]["many"]
        if hit.kind == "measure":
            measure = self.evaluation.measure(hit.measures[0])
            return T.ACCORDING[lang]["measure"].format(n=measure.number, title=measure.title,
                                                       status=T.status_words(measure.status, lang))
        return T.ACCORDING[lang][hit.kind].format(n=hit.footnote)

    def refuse(self, query: Query, top: list[Hit], ranked: list[Evidence], refusal: Refusal | None, note: str) -> Answer:
        """No answer: say what is missing; quote the closest passage when the
        question was near (a year, a figure, an organisation the document lacks)."""
        lang = query.language
        suggestions = tuple(_suggestions(top, self.evaluation))
        if refusal is None or not refusal.closest_worth_quoting or not ranked:
            text = T.UNKNOWN_PLACE[lang].format(detail=refusal.detail) if refusal and refusal.kind == "unknown_place" else T.no_answer(lang)
            return Answer(query.text, NO_EVIDENCE, text, intent=query.route, language=lang, suggestions=suggestions,
                          notes=(note,) if note else ())
        first = self.refusal_claim(refusal, query, ranked)
        c = Composer(query)
        c.say(f"{first} {T.NOT_GIVEN[lang]['closest']}")
        self._quote_lines(c, ranked[:1])
        return dataclasses.replace(c.answer(query.route, status=NO_EVIDENCE), suggestions=suggestions, notes=(note,))


    def refusal_claim(self, refusal: Refusal, query: Query, ranked: list[Evidence]) -> str:
        """What the refusal says of the document, only where it is checked:
        a year the whole document never names; no value of the kind asked for
        in any sentence of the passages searched. Anything else speaks of the
        search ("I found no passage that answers this precisely")."""
        lang = query.language
        if refusal.kind == "missing_year" and refusal.detail not in self.searcher.data.source:
            return T.NOT_GIVEN[lang]["missing_year"].format(detail=refusal.detail)
        if refusal.kind == "missing_value" and query.answer_type and not any(
                satisfies(query.answer_type, [e.text]) for e in ranked):
            return T.NOT_GIVEN[lang]["missing_value"].format(what=T.VALUE_WORDS[lang][query.answer_type])
        return T.NOT_FOUND[lang]


def _passages_of(ranked: list[Evidence], n: int) -> list[Hit]:
    """The passages of the best sentences, in that order, each once."""
    out: dict[str, Hit] = {}
    for e in ranked:
        out.setdefault(e.hit.id, e.hit)
        if len(out) == n:
            break
    return list(out.values())


def choose(ranked: list[Evidence], tuning: Tuning, limit: int = MAX_QUOTES, answer_type: str | None = None,
           scorer: EvidenceScorer | None = None, margin: float | None = None) -> list[Evidence]:
    """The best sentence, plus up to two close seconds (not repeats of it).

    When the question wants an amount, a count or a date and none of those
    sentences holds one, the best sentence of the same passage that does (if
    close enough) replaces the last pick: the topic sentence alone does not
    answer, and the figure that does usually follows it. A sentence that only
    announces what follows (it ends with ":") brings the next one along.
    """
    if not ranked:
        return []
    chosen = [ranked[0]]
    for evidence in ranked[1:]:
        if len(chosen) == limit or evidence.score < ranked[0].score - (tuning.choose_margin if margin is None else margin):
            break
        if not _repeats(evidence, chosen):
            chosen.append(evidence)
    if answer_type and not satisfies(answer_type, [e.text for e in chosen]):
        typed = next((e for e in ranked if e.hit.id == ranked[0].hit.id and e.score >= ranked[0].score - tuning.type_margin
                      and satisfies(answer_type, [e.text]) and not _repeats(e, chosen)), None)
        if typed is not None:
            chosen = (chosen if len(chosen) < limit else chosen[:-1]) + [typed]
    if scorer is not None and chosen[0].text.rstrip().endswith(":"):
        follower = _next_sentence(chosen[0], ranked, scorer)
        if follower is not None and not _repeats(follower, chosen):
            chosen = [chosen[0], follower, *chosen[1:]][:limit]
    return chosen


def _next_sentence(evidence: Evidence, ranked: list[Evidence], scorer: EvidenceScorer) -> Evidence | None:
    spans = scorer.sentences_of(evidence.hit)
    after = [s for s in spans if s[0] >= evidence.end]
    if not after:
        return None
    start, end = after[0]
    return next((e for e in ranked if e.hit.id == evidence.hit.id and e.start == start), None) or Evidence(
        evidence.hit, start, end, evidence.score, evidence.dense, 0.0)


def _repeats(evidence: Evidence, chosen: list[Evidence]) -> bool:
    return any(evidence.text in e.text or e.text in evidence.text for e in chosen)


def _focus_measures(hit: Hit, query: Query) -> tuple[int, ...]:
    asked = [m for m in query.measures if m in hit.measures]
    return tuple(asked) or hit.measures if hit.kind == "measure" else ()


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
