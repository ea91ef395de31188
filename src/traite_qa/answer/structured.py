"""Answers built from the document model for questions that name their object:
a measure's status, recommendations or reasons, an acronym, a footnote, or a
reference the document does not have. Quotes come from the named passages."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from ..document import Evaluation
from ..search import Searcher
from ..tables import table
from ..text import analyze, sentence_spans
from ..vocabulary import asks_completion, names_measure, negated
from ..types import NO_EVIDENCE, Status, Answer, Evidence, Filters, Hit, Query, Route
from . import templates as T
from .compose import Composer
from .verify import RECOMMENDS


@lru_cache(maxsize=1)
def _picks() -> dict[str, re.Pattern]:
    # Unfolded: the document's own wording, accents included.
    return {name: re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
            for name, patterns in table("cues")["sentence_picks"].items()}


def status_sentences(hits: list[Hit], number: int) -> list[tuple[Hit, str]]:
    """Sentences of a measure that say where it stands (naming it first), or its first sentence."""
    return _pick(hits, _picks()["status"], 2, prefer=_names(number)) or _first_sentences(hits, 1)


def _names(number: int) -> Callable[[str], bool]:
    """Sentences naming the measure: in a shared body (20/21) they speak of it."""
    return lambda sentence: names_measure(sentence, number)


def _sentences(hit: Hit) -> list[str]:
    return [hit.text[s:e] for s, e in sentence_spans(hit.text)]


def _pick(hits: list[Hit], pattern: re.Pattern, limit: int,
          prefer: Callable[[str], bool] | None = None) -> list[tuple[Hit, str]]:
    """Up to `limit` sentences matching `pattern`, in document order (preferred ones first)."""
    found = [(hit, s) for hit in hits for s in _sentences(hit) if pattern.search(s)]
    found = list({s: (h, s) for h, s in found}.values())  # overlapping pieces repeat sentences
    if prefer is not None:  # stable: document order within each group
        found.sort(key=lambda hs: not prefer(hs[1]))
    return found[:limit]


_RECOMMANDE = re.compile(r"recommand", re.I)


def _first_sentences(hits: list[Hit], limit: int) -> list[tuple[Hit, str]]:
    return [(hits[0], s) for s in _sentences(hits[0])[:limit]] if hits else []


# Oui / Non / En partie, from annex 2's status alone: the only yes/no lead the
# assistant writes in its own words. Sentence polarity ("n'a pas vu le jour",
# "ne … que", "devait", "recommande") was read by cue lists and stated "Oui"
# where the document says no; no reading of sentences is trusted to 0.98.
STATUS_ANSWER = {Status.REALISEE: "oui", Status.PARTIELLEMENT: "en partie", Status.NON_REALISEE: "non"}


def status_settles(query: Query, route: Route) -> bool:
    """The question names the measure by number and asks whether it was carried
    out (not whether it was funded, evaluated, …), with no negation to invert it."""
    return (route == Route.STATUS and query.yes_no and bool(query.refs.measures) and asks_completion(query.core)
            and not negated(query.core))


# route: (sentence picker, max measures answered)
_PICKERS = {
    Route.STATUS: (status_sentences, 4),
    Route.RECOMMENDATION: (lambda hits, n: _pick(hits, _picks()["recommendation"], 3, prefer=_RECOMMANDE.search), 2),
    Route.WHY: (
        lambda hits, n: _pick(hits, _picks()["why"], 3, prefer=_names(n)) or _pick(hits, _picks()["status"], 2)
        or _first_sentences(hits, 2),
        2,
    ),
}
_TEMPLATE_OF = {Route.STATUS: "status", Route.RECOMMENDATION: "recommendation", Route.WHY: "why"}


class MeasureResponder:
    """Status, recommendations or reasons for the measures a question names, quoted from their body."""

    def __init__(self, evaluation: Evaluation, searcher: Searcher):
        self.evaluation = evaluation
        self.searcher = searcher

    def answer(self, query: Query, numbers: tuple[int, ...] | None = None, route: Route | None = None,
               evidence: list[Evidence] | None = None) -> Answer | None:
        route = route or query.route
        numbers = numbers or query.measures
        if not numbers and route == Route.RECOMMENDATION:  # "Que recommande la CNCDH sur … ?"
            hits = self.searcher.retrieve(query, k=3, filters=Filters(kind="measure"))
            numbers = hits[0].measures[:1] if hits else ()
        if not numbers or query.refs.titled and not query.refs.measures and not query.follow_up and not self._agrees(query):
            return None  # a title-like question that retrieval reads otherwise: let retrieval answer
        pick, limit = _PICKERS[route]
        lang = query.language
        template = T.PER_MEASURE[_TEMPLATE_OF[route]][lang]
        c = Composer(query)
        relative = query.after is not None and numbers == query.refs.measures
        if relative:
            direction, base, cited = query.after
            if cited:  # one neighbour per measure the last answer cited: none is picked
                c.say(T.RELATIVE_AMONG[lang][direction].format(cited=", ".join(map(str, cited))))
                limit = len(numbers)
            else:
                c.say(T.RELATIVE[lang][direction].format(base=base))
        for number in numbers[:limit]:
            measure = self.evaluation.measure(number)
            quotes = self._quotes(number, pick, evidence, route)
            if not quotes:
                continue
            if relative and cited:
                c.say(T.RELATIVE[lang][direction].format(base=number - 1 if direction == "next" else number + 1))
            shared = ", ".join(str(n) for n in measure.group if n != number)
            lead = ""
            if status_settles(query, route):
                lead = T.YES_NO[lang][STATUS_ANSWER[measure.status]] + " "
            said = template
            if route == Route.RECOMMENDATION and not all(RECOMMENDS.search(t) for _, t in quotes):
                # « la CNCDH recommande : » is a claim about the quotes (verify.py)
                said = T.ACCORDING[lang]["measure"]
            c.say(said.format(
                lead=lead, n=number, title=measure.title, axis=measure.axis, action=measure.action,
                status=c.status_words(measure.status), shared=T.SHARED[lang].format(shared=shared) if shared else "",
            ))
            c.measure_status(measure)
            for hit, text in quotes:
                c.say(f"- « {text} » {c.cite(hit, [text], focus=number)}")
        return c.answer(route) if c.citations else None

    def _quotes(self, number: int, pick, evidence: list[Evidence] | None, route: Route) -> list[tuple[Hit, str]]:
        """The retrieval's own sentences of this measure first (they answer the
        question's wording), then the route's picks, two or three in all. Asked
        for recommendations, the measure's sentences that say « recommande »
        come alone when it has some (the retrieval's first among them)."""
        own = [(e.hit, e.text) for e in evidence or () if e.hit.kind == "measure" and number in e.hit.measures][:2]
        picked = pick(self.searcher.hits_for(self.searcher.measure_chunk_ids(number)), number)
        if route == Route.RECOMMENDATION and any(RECOMMENDS.search(t) for _, t in picked):
            own = [(h, t) for h, t in own if RECOMMENDS.search(t)]
            picked = [(h, t) for h, t in picked if RECOMMENDS.search(t)]
        out = list(own)
        for hit, text in picked:
            if len(out) >= 3 or own and len(out) >= 2:
                break
            if not any(text in t or t in text for _, t in out):
                out.append((hit, text))
        return out

    def _agrees(self, query: Query) -> bool:
        """A measure named by its title: the search, with nothing pinned, must
        rank it among its first measure passages."""
        hits = self.searcher.retrieve(query, k=8, pin=False)
        top = [m for h in hits if h.kind == "measure" for m in h.measures][:3]
        return any(m in top for m in query.refs.titled)


class AcronymResponder:
    """What an acronym stands for; when the question asks more than that
    ("C'est quoi la Miprof, et pourquoi la remplacer ?"), the rest is answered
    from retrieval below the definition."""

    def __init__(self, evaluation: Evaluation, searcher: Searcher, retrieval=None):
        self.evaluation = evaluation
        self.searcher = searcher
        self.retrieval = retrieval

    def answer(self, query: Query) -> Answer:
        c = Composer(query)
        for name in query.refs.acronyms:
            acronym = self.evaluation.acronym(name)
            hit = self.searcher.hits_for([f"sigle-{acronym.acronym}"])[0]
            marker = c.cite(hit, [hit.text])
            c.say(T.ACRONYM[query.language].format(acronym=acronym.acronym, definition=acronym.definition, marker=marker))
        if self.retrieval is not None and _asks_more(query):
            chosen = [e for e in self.retrieval.supported_quotes(query) if e.hit.kind != "acronym"][:2]
            if not chosen:
                c.say(T.NOT_SURE_REST[query.language])
            self.retrieval.quote_lines(c, chosen)
            for n in sorted({m for e in chosen if e.hit.kind == "measure" for m in e.hit.measures}):
                c.measure_status(self.evaluation.measure(n))
        return c.answer(Route.ACRONYM)


def _asks_more(query: Query) -> bool:
    """Content words besides the acronyms and the asking for a definition."""
    from ..understand.form import content_words

    named = {w for a in query.refs.acronyms for w in analyze(a)}
    extra = [w for w in content_words(query.core) if w not in named and not _picks_define().search(w)]
    return len(extra) >= 2


@lru_cache(maxsize=1)
def _picks_define() -> re.Pattern:
    return re.compile(r"^(?:signif|veut|dir|defin|sigl|acronym|stand|mean|abbrevi|correspond|design|developp|quoi)")


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
        if not bad_m and not bad_n:  # an axis or action the plan does not have
            return self.scope(query)
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
