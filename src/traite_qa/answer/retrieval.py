"""The retrieval route: search, pick the sentences that answer, quote them.

Sentences of the top passages are scored as evidence; the gate decides
whether they answer at all (or says what the document does not give, with
the closest passage); the answer leads with one direct sentence (oui / non,
a status, or where the quotes come from), then one quote per line. The
footnotes a quote calls are cited as links, not pasted in.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from ..document import Evaluation
from ..errors import ModelError, UnknownReferenceError
from ..search import Searcher
from ..settings import Tuning
from ..text import markers
from ..types import NO_EVIDENCE, Answer, Evidence, Hit, Query, Route
from ..search.expansion import expand
from ..text import URL_RE, analyze
from ..understand import satisfies
from . import templates as T
from .compose import Composer, measure_items
from .evidence import EvidenceScorer
from .gate import NOT_FOUND, OFF_TOPIC, UNKNOWN_PLACE, Gate, Refusal
from .features import SentenceFeatures, VocabularyGap, vocabulary_gap
from .learned import Answerability, ModelFiles, QueryAdapter, SentenceRanker, answerability_features
from .structured import MeasureResponder, UnknownReferenceResponder
from .topics import MeasureCards

SEARCH_DEPTH = 24  # passages retrieved before the quotable ones are kept
MAX_QUOTES = 3


class RetrievalResponder:
    def __init__(self, evaluation: Evaluation, searcher: Searcher, tuning: Tuning, measures: MeasureResponder,
                 cards: MeasureCards, learned: bool = True):
        self.evaluation = evaluation
        self.searcher = searcher
        self.tuning = tuning
        self.measures = measures
        self.cards = cards
        self.unknown = UnknownReferenceResponder(evaluation)
        self.scorer = EvidenceScorer(searcher.data, tuning)
        self.gate = Gate(searcher.data.source, self.scorer.vocabulary, tuning)
        self.features = SentenceFeatures(searcher.data, self.scorer.idf, self.scorer.sentence_words)
        # `learned=False` only for `make train`, which computes the features the
        # models are trained on; answering needs the models.
        files = ModelFiles.bundled() if learned else None
        self.learned = files is not None
        self.adapter: QueryAdapter | None = None
        if learned and files is None:
            raise ModelError("the learned models are missing from traite_qa/data/models: reinstall, or run `make train`")
        if files is not None:
            self.ranker = SentenceRanker(files)
            self.adapter = QueryAdapter(files.adapter) if files.adapter is not None else None
            self.answerability = Answerability(files.meta)
            self.learned_margin = float(files.meta["ranker"]["choose_margin"])
        # A footnote sentence that is only a reference (a URL, a JORF entry, with
        # under 40 letters of anything else): a link in the sources, never quoted
        # as evidence. (Excluding every footnote sentence with a URL or a JORF entry
        # cost 2 points of dev accuracy: a decree's name is often the answer.)
        t = searcher.data.sentences
        self._reference_only = [_reference_only(searcher.data.chunks[int(r)], searcher.data.chunks[int(r)].body[a:b])
                                for r, a, b in zip(t.rows, t.starts, t.ends)]
        self._source_starts = [searcher.data.chunks[r].span.start + s for r, s in zip(t.rows, t.starts)]
        # Per sentence, as plain Python values: the loop over every sentence of
        # each answer reads them (numpy scalars cost ~1 ms more per question).
        self._chunk_ids = [searcher.data.chunks[int(r)].id for r in t.rows]
        self._spans = list(zip(t.starts.tolist(), t.ends.tolist()))

    # ------------------------------------------------------------ learned
    def learned_features(self, query: Query, every: list[Hit] | None = None):
        """Feature rows of every indexed sentence for the question, and the
        hits of every chunk (fused ranks, within the query's filters), or
        `every`, when the caller has already retrieved them."""
        hits = every if every is not None else self.searcher.retrieve(query, k=len(self.searcher.chunks))
        vector = self.searcher.query_vector(query)
        x = self.features.matrix(query, vector, hits)
        if self.adapter is not None:
            x = np.hstack([x, self.adapter.columns(self.searcher.data, vector)])
        return x, hits

    def refuses(self, query: Query, probs: dict[str, float], broad: bool = False) -> bool:
        """The answerability model's verdict: below the language's cut, or off-topic.
        A `broad` question (a summary, the main criticisms) is about the whole
        document, and no single sentence answers it: when every one of its
        words is in the document ("Résume le document en 5 points"), it is
        answered from the bilan whatever the model says of its sentences."""
        off_topic = probs["offtopic"] >= self.answerability.offtopic_threshold
        if broad and self.vocabulary_gap(query, strict=True).n_absent == 0:
            return False
        return off_topic or probs["answerable"] < self.answerability.thresholds.get(query.language, 0.5)

    def supported_quotes(self, query: Query) -> list[Evidence]:
        """The sentences that answer the question, or [] when the document does
        not (a shared service: the acronym route quotes them below a definition)."""
        _, ranked, probs = self.learned_evidence(query)
        return [] if self.refuses(query, probs) else choose(ranked, self.tuning, scorer=self.scorer, margin=self.learned_margin)

    def sentence_scores(self, query: Query):
        """The learned ranker's score of every indexed sentence, with the feature
        rows (a shared service: topic lists and syntheses rank with it too)."""
        x, _ = self.learned_features(query)
        return x, self.ranker.scores(x)

    def vocabulary_gap(self, query: Query, strict: bool = False) -> VocabularyGap:
        return vocabulary_gap(query, self.scorer.vocabulary, self.searcher.data.source, strict)

    def learned_evidence(self, query: Query, hits: list[Hit] | None = None, kind: str | None = None,
                         every: list[Hit] | None = None):
        """(every chunk's hit, sentences best first, P(answerable), P(off-topic) vs near-domain).
        `hits` or `kind` narrow which passages may be quoted; `every`: as in `learned_features`."""
        x, all_hits = self.learned_features(query, every)
        scores = self.ranker.scores(x)
        allowed = {h.id: h for h in (hits if hits is not None else all_hits) if kind is None or h.kind == kind}
        by_id = {h.id: h for h in all_hits}
        probs = self.answerability.probabilities(answerability_features(
            query, x, scores, self.vocabulary_gap(query), max((h.lexical for h in all_hits), default=0.0),
            self.searcher.query_vector(query)))
        ranked: list[Evidence] = []
        seen: set[int] = set()
        col_lex = 11
        # Best first, ties in sentence order (a stable sort, as sorted() on -score was).
        order = np.argsort(-scores, kind="stable").tolist()
        score_of, cosine, lexical = scores.tolist(), x[:, 0].tolist(), x[:, col_lex].tolist()
        for i in order:
            hit = allowed.get(self._chunk_ids[i])
            if hit is None or self._source_starts[i] in seen or self._reference_only[i]:
                # Outside the filters, the same sentence in an overlapping chunk,
                # or a note that is only a reference (a URL): never quoted as evidence.
                continue
            seen.add(self._source_starts[i])
            start, end = self._spans[i]
            ranked.append(Evidence(hit, start, end, score_of[i], cosine[i], lexical[i]))
        return list(by_id.values()), ranked, probs

    # ------------------------------------------------------------ answer
    def answer(self, query: Query) -> Answer:
        try:
            # Every chunk at once: the evidence's features rank them all, and the
            # first SEARCH_DEPTH are what retrieve(k=SEARCH_DEPTH) returns.
            every = self.searcher.retrieve(query, k=len(self.searcher.chunks))
        except UnknownReferenceError:
            return self.unknown.answer(query)
        hits = every[:SEARCH_DEPTH]
        if query.route == Route.MEASURE_QUESTION and query.measures:
            wanted = set(query.measures)
            own = [h for h in hits if h.kind == "measure" and wanted & set(h.measures)]
            notes = {n for h in own for n in h.footnotes}
            hits = own + [h for h in hits if h.kind == "footnote" and h.footnote in notes]
            hits = hits or self.searcher.hits_for([cid for n in query.measures for cid in self.searcher.measure_chunk_ids(n)])
        named = not may_refuse(query)
        return self._learned_answer(query, hits if named else None, named, every)

    def _learned_answer(self, query: Query, restrict: list[Hit] | None, named: bool, every: list[Hit]) -> Answer:
        kind = "measure" if query.route == Route.STATUS_SEARCH else None
        all_hits, ranked, probs = self.learned_evidence(query, restrict, kind, every)
        chosen = choose(ranked, self.tuning, scorer=self.scorer, margin=self.learned_margin)
        top = _passages_of(ranked, self.tuning.evidence_passages)
        if not chosen:
            return self.refuse(query, top, ranked, None, "no passage")
        if not named:
            place = self.gate.unknown_place(query.core)
            if place:  # checked: none of the country's names is in the document
                note = f"the document never mentions {place!r}"
                return self.refuse(query, top, ranked, Refusal(UNKNOWN_PLACE, place, note), note)
            cut = self.answerability.thresholds.get(query.language, 0.5)
            if self.refuses(query, probs):
                kind = OFF_TOPIC if probs["offtopic"] >= probs["unanswerable"] else NOT_FOUND
                note = (f"P(answerable) {probs['answerable']:.3f} < {cut:.3f} ({query.language}); "
                        f"P(off-topic) {probs['offtopic']:.3f}, P(near-domain) {probs['unanswerable']:.3f}")
                # "Je ne trouve pas de réponse dans le document" only when most
                # of the question's words are not the document's (checked);
                # otherwise only the doubt. Blind readers flagged the plain
                # refusal as false twice, on questions whose words the document
                # mostly has (absent shares 0.18 and 0.5) and which it answers.
                # An English word is absent only if the lexicon has no French for
                # it either: counted strictly, every English question qualified, and
                # a fresh-set reader flagged the plain refusal of one on residence
                # cards that the document answers.
                plain = kind == OFF_TOPIC and self.vocabulary_gap(query).absent_share > 0.5
                return self.refuse(query, top, ranked, Refusal(kind, "", note, plain=plain), note)
        if query.route != Route.STATUS_SEARCH:
            return self.compose(query, chosen)
        # A status asked about a measure described: the closest measures, each
        # with its status, and no single pick. The pick (when the best passage,
        # the best sentence and the closest card agreed) was wrong for 2 of 17
        # dev questions, and a blind reader flagged one as false twice in two
        # wordings ("My search matches your question with measure 40 …, which
        # is implemented", asked about measure 44); without it, bank dev and
        # test were unchanged to the third decimal (status accuracy 0.902 and
        # 0.978), since the pick leads the candidates.
        return self.compose(query, chosen, candidates=self.cards.closest(query, ranked))

    def compose(self, query: Query, chosen: list[Evidence], lead: str | None = None,
                candidates: tuple[int, ...] = ()) -> Answer:
        """`candidates`: the measures a status question may be about, said first with their status."""
        c = Composer(query)
        lang = query.language
        if candidates:
            lead = T.CLOSE_MEASURES[lang].format(items=measure_items(self.evaluation, candidates, c))
        if lead is None:
            if query.yes_no:
                # No Oui / Non read from a sentence (its polarity is not verified):
                # the sentence sharing most of the question's words comes first,
                # and the reader judges from it.
                # A note citing a source (its URL or JORF entry) shares the
                # subject's words through its title, and settles nothing.
                prose = [e for e in chosen if not _cites_a_source(e.hit.kind, e.text)] or chosen
                decider = max(prose, key=lambda e: (e.lexical, e.score))
                chosen = [decider, *(e for e in chosen if e is not decider)]
            lead = self._according(chosen, lang)
        c.say(lead)
        self.quote_lines(c, chosen)
        cited = sorted({n for cit in c.citations.values() if cit["hit"].kind == "measure" for n in cit["hit"].measures}
                       - set(candidates))
        if len(cited) > 1 or cited and len({e.hit.id for e in chosen}) > 1:
            items = ", ".join(f"{T.MEASURE_WORD[lang]} {n} ({c.status_words(self.evaluation.measure(n).status)})" for n in cited)
            c.say(T.STATUS_OF_CITED[lang].format(items=items))
        for n in cited:
            c.measure_status(self.evaluation.measure(n))
        return c.answer(query.route)

    def quote_lines(self, c: Composer, chosen: list[Evidence]) -> None:
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
            if refusal and refusal.kind == UNKNOWN_PLACE:
                text = T.UNKNOWN_PLACE[lang].format(detail=refusal.detail)
            elif refusal is not None and refusal.plain:
                text = T.no_answer(lang)
            else:  # nothing checked says the document lacks it: only the doubt
                text = T.NOT_SURE[lang]
            return Answer(query.text, NO_EVIDENCE, text, intent=query.route, language=lang, suggestions=suggestions,
                          notes=(note,) if note else ())
        first = self.refusal_claim(refusal, query, ranked)
        c = Composer(query)
        c.say(f"{first} {T.NOT_GIVEN[lang]['closest']}")
        self.quote_lines(c, ranked[:1])
        return dataclasses.replace(c.answer(query.route, status=NO_EVIDENCE), suggestions=suggestions, notes=(note,))


    def refusal_claim(self, refusal: Refusal, query: Query, ranked: list[Evidence]) -> str:
        """A near miss speaks of the model's doubt ("I have no confident
        answer"), never of what the document lacks: that is not checked."""
        return T.NOT_FOUND[query.language]


def may_refuse(query: Query) -> bool:
    """Whether this responder's answer passes the answerability gate: every
    question it answers but one naming its measure ("Que dit la mesure 16 sur
    les mineurs ?"). `make train` sets the refusal cuts over the questions the
    gate sees, as users meet them (`Assistant.may_refuse`)."""
    return not (query.route == Route.MEASURE_QUESTION and bool(query.measures))


def _cites_a_source(kind: str, text: str) -> bool:
    """A footnote sentence with a URL or a JORF entry."""
    return kind == "footnote" and ("JORF" in text or bool(URL_RE.search(text)))


def _reference_only(chunk, text: str) -> bool:
    """A source cited and little else: under 40 letters besides the reference."""
    if not _cites_a_source(chunk.kind, text):
        return False
    rest = re.sub(r"JORF[^,;.]*", "", URL_RE.sub("", text))
    return len(re.findall(r"[^\W\d_]", rest)) < 40


def _passages_of(ranked: list[Evidence], n: int) -> list[Hit]:
    """The passages of the best sentences, in that order, each once."""
    out: dict[str, Hit] = {}
    for e in ranked:
        out.setdefault(e.hit.id, e.hit)
        if len(out) == n:
            break
    return list(out.values())


def choose(ranked: list[Evidence], tuning: Tuning, limit: int = MAX_QUOTES, scorer: EvidenceScorer | None = None,
           margin: float = 1.0) -> list[Evidence]:
    """The best sentence, plus up to two close seconds (not repeats of it):
    within `margin` of the best ranker score (chosen on dev by `make train`).
    A sentence that only announces what follows (it ends with ":") brings the
    next one along."""
    if not ranked:
        return []
    chosen = [ranked[0]]
    for evidence in ranked[1:]:
        if len(chosen) == limit or evidence.score < ranked[0].score - margin:
            break
        if not _repeats(evidence, chosen):
            chosen.append(evidence)
    if scorer is not None and chosen[0].text.rstrip().endswith(":"):
        follower = _next_sentence(chosen[0], ranked, scorer)
        if follower is not None and not _repeats(follower, chosen):
            chosen = [chosen[0], follower, *chosen[1:]][:limit]
    return _widened(chosen, scorer)


# A quote is widened where a sentence alone misleads:
# - a short footnote is one reference ("CNCDH, Avis relatif à … . Assemblée
#   plénière du 28 avril 2020, JORF …"): the splitter cut it at the title's
#   period, and the quote lost the date it was asked for; it is quoted whole;
# - a sentence that opens on a pronoun ("Ils valorisent déjà …") names its
#   subject in the sentence before: quoted alone, the reader never learned who
#   "ils" are (blind dev readers scored such answers 0). That sentence comes
#   with it, in one quote when they share a line, else as the quote before it
#   (from the passage's previous piece, when the chunk split fell between).
WHOLE_NOTE_CHARS = 450
_ANAPHORA = re.compile(r"^(?:Ils|Elles|Ceux-ci|Celles-ci|Ces derni[eè]res?|Ce dernier|Cette derni[eè]re|Celui-ci"
                       r"|Celle-ci|They|These)\b")


def _widened(chosen: list[Evidence], scorer: EvidenceScorer | None) -> list[Evidence]:
    out: list[Evidence] = []
    for e in chosen:
        if e.hit.kind == "footnote" and len(e.hit.text.strip()) <= WHOLE_NOTE_CHARS:
            e = dataclasses.replace(e, start=len(e.hit.text) - len(e.hit.text.lstrip()), end=len(e.hit.text.rstrip()))
        elif scorer is not None and _ANAPHORA.match(e.text):
            before = [s for s in scorer.sentences_of(e.hit) if s[1] <= e.start]
            if before and "\n" not in e.hit.text[before[-1][0]:e.start]:
                e = dataclasses.replace(e, start=before[-1][0])
            elif not before and (prior := scorer.previous_piece(e.hit)) and (spans := scorer.sentences_of(prior)):
                antecedent = Evidence(prior, *spans[-1], e.score, e.dense, 0.0)
                if not _repeats(antecedent, out):
                    out.append(antecedent)
        if not _repeats(e, out):
            out.append(e)
    return out


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
