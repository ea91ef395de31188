"""Pick how a question is answered.

A structured route answers from the document model, and only when the
question names its object: a measure by number (digits, number words, roman
numerals, "la 16e"), a footnote, an acronym to define, or a count or list of
measures with no topic. A measure named by its title is a candidate that the
answer stage checks against retrieval. Everything else is answered from
retrieval: a topic list, a synthesis, a status asked about something
described, or a plain question (yes/no or open).
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from ..document import Evaluation
from ..text import STOPWORDS, analyze, fold
from ..types import Query, References, Route
from ..vocabulary import accent_table, embedding_text, initials_table, shouting, spell_out, unshout
from .answer_type import answer_type, asked_years, asks_reference
from .courtesy import core as strip_courtesy
from .form import Form, content_words, read_form
from .language import is_english
from .numbers import digits
from .references import ReferenceFinder
from .route_model import asks_status, guess_route
from .spelling import Speller


class Router:
    """Reads one question (no history) into a Query; built once per evaluation."""

    def __init__(self, evaluation: Evaluation):
        self.evaluation = evaluation
        self.finder = ReferenceFinder(evaluation)
        self._acronym_forms = {fold(a.acronym).upper(): a.acronym for a in evaluation.acronyms}
        self._accents, self._initials, self._speller = _word_tables(tuple(_texts(evaluation)))
        # Capitals kept in a shouted question: annex 1's acronyms and those the
        # text writes without defining them ("ERRIN" lower-cased lost its passage).
        self._acronyms = {fold(a.acronym).upper() for a in evaluation.acronyms} | self._speller.acronyms

    def read(self, text: str) -> Query:
        # A slip in a long word is read as the word meant, before anything reads
        # the words. Capitals typed for emphasis are not acronyms: only the
        # document's own are kept.
        typed = self._speller.respell(text, shouting(text))
        core = spell_out(strip_courtesy(unshout(typed, self._acronyms)), self._initials)
        if not re.search(r"\w", core):
            return Query(text, Route.GREETING, core=text, english=is_english(text))
        refs = self.finder.find(core)
        guess = guess_route(core)
        # A list: of measures counted or named by axis (parsed), or on a topic
        # (learned); a measure named by its title may be the topic. Only the
        # model's topic lists have topic words: "Combien de mesures comporte
        # l'axe 3 « Protéger… » ?" counts an axis. "Et ?" has no word to learn
        # from: only a question with content is guessed.
        on_topic = guess.topic_list and not refs.measures and bool(content_words(core))
        form = read_form(core, on_topic)
        if refs.listing and not on_topic and _COUNTS_MEASURES.search(fold(core)):
            # A count parsed as a reference may still have a topic ("Combien de
            # mesures concernent l'hébergement ?"): its words are read too, or
            # the plan's 45 measures would answer it.
            form = replace(form, topic_words=read_form(core, True).topic_words)
        refs = replace(refs, listing=refs.listing or on_topic)
        wants = tuple(w for w, on in (("recommendation", form.recommendation), ("why", form.why), ("status", form.status),
                                      ("reference", asks_reference(core))) if on)
        base = Query(text, Route.SEARCH, refs, refs, english=is_english(core), answer_type=answer_type(core),
                     core=core, yes_no=form.yes_no, years=asked_years(core), wants=wants,
                     embedded=embedding_text(core, self._acronym_forms, self._accents))
        return replace(base, **self._route(core, refs, form, guess.synthesis or form.summary))

    def _route(self, core: str, refs: References, form: Form, synthesis: bool) -> dict:
        n_measures, n_notes = len(self.evaluation.measures), len(self.evaluation.footnotes)
        n_axes, n_actions = len(self.evaluation.axes), len(self.evaluation.actions)
        # An axis or action the plan lacks too: "Combien de mesures dans l'action
        # 40 ?" was answered with measure 40, "les mesures de l'axe 7" with the
        # closest measures of other axes.
        if any(not 1 <= n <= limit for numbers, limit in ((refs.measures, n_measures), (refs.footnotes, n_notes),
                                                          (refs.axes, n_axes), (refs.actions, n_actions)) for n in numbers):
            return {"route": Route.UNKNOWN_REFERENCE}
        if refs.acronyms and refs.definition and not (refs.measures or refs.footnotes or refs.titled):
            return {"route": Route.ACRONYM}
        if refs.footnotes and not refs.measures:
            return {"route": Route.FOOTNOTE}
        if refs.listing:
            # A count or a list: of everything ("Combien de mesures sont réalisées ?")
            # or of the measures on a topic ("Quelles mesures concernent les mineurs ?").
            count = bool(_COUNT.search(fold(core)))
            topic = self._beyond_scope(form.topic_words, refs)
            if topic:
                return {"route": Route.TOPIC_LIST, "statuses": refs.statuses, "count": count, "topic": topic}
            return {"route": Route.AGGREGATE, "statuses": refs.statuses, "count": count,
                    "enumerates": _enumerates(fold(core), refs, count)}
        if refs.measures or refs.titled:
            return {"route": _measure_route(core, form)}
        if synthesis:
            return {"route": Route.SYNTHESIS}
        if asks_status(core):
            # "Où en est …", "c'est considéré comme fait ?": the status of a measure
            # described, learned (status.json). It replaced a cue rule ("où en
            # est", "statut", or a yes/no question with "réalisé", "mis en
            # place" ...): F1 on the bank's status questions 0.62 -> 0.82 dev,
            # 0.48 -> 0.73 test; bank dev status accuracy 0.902 -> 0.934, test
            # 0.978 both (`python -m eval.bank score`).
            return {"route": Route.STATUS_SEARCH}
        return {"route": Route.SEARCH}


    def _beyond_scope(self, topic: tuple[str, ...], refs: References) -> tuple[str, ...]:
        """Topic words that do not merely restate the axis or action named
        ("l'axe 3 « Protéger et accompagner les victimes »" is a scope, no topic)."""
        n_axes, n_actions = len(self.evaluation.axes), len(self.evaluation.actions)
        titles = [self.evaluation.axis(a).label for a in refs.axes if 1 <= a <= n_axes]
        titles += [self.evaluation.action(a).label for a in refs.actions if 1 <= a <= n_actions]
        scope = {w for t in titles for w in analyze(t)}
        return tuple(w for w in topic if w not in scope)


# A count, and a count of measures (not of axes or actions, whose words are no topic).
_COUNT = re.compile(r"\b(?:combien|nombre|how many|number of)\b")
_COUNTS_MEASURES = re.compile(_COUNT.pattern + r" (?:de |d')?(?:mesures|measures)\b")
# A count or list of the plan's parts themselves ("Combien d'axes compte le
# plan ?", "How many actions does axis 2 have?"), read here once so that the
# answer stage never re-reads the question (issue 20, §4).
_PARTS = re.compile(r"\b(axes|axis|actions)\b")


def _enumerates(folded: str, refs: References, count: bool) -> str | None:
    """"axes" or "actions" when a count or list (`refs.listing`) is of them, not of measures."""
    parts = set(_PARTS.findall(folded))
    if refs.actions or not parts:
        return None
    if parts - {"actions"} and not refs.axes:
        return "axes"
    return "actions" if "actions" in parts and count and "mesure" not in folded else None


@lru_cache(maxsize=4)
def _word_tables(texts: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str], Speller]:
    """The accent and initials tables and the speller of a document's texts,
    built once per document (~0.5 s) rather than for every Searcher loaded; read only."""
    return accent_table(texts), initials_table(texts), Speller(texts)


def _texts(evaluation: Evaluation):
    """Every text of the document the parser keeps: titles, bodies, notes, glossary."""
    yield from (a.title for a in evaluation.axes)
    yield from (a.title for a in evaluation.actions)
    for m in evaluation.measures:
        yield m.title
        yield m.body
    yield from (f.text for f in evaluation.footnotes)
    yield from (f"{a.acronym} {a.definition}" for a in evaluation.acronyms)
    yield from (p.text for p in (*evaluation.preamble, *evaluation.conclusion))


def _measure_route(core: str, form: Form) -> Route:
    """A question naming a measure: what does it want to know about it?"""
    if form.recommendation:
        return Route.RECOMMENDATION
    if form.why:
        return Route.WHY
    if form.status or form.yes_no and form.done or _bare_reference(core):
        # "Le mécanisme national de référence a-t-il été créé ?": the measure's status answers.
        return Route.STATUS
    return Route.MEASURE_QUESTION


def _bare_reference(core: str) -> bool:
    """'Mesure 16 ?', 'la mesure XVI': no question besides the reference."""
    folded = fold(digits(core))
    rest = re.sub(r"\b(mesures?|measures?|n°|no|numero|la|le|et|and)\b|\d+\w*|[^\w\s]", " ", folded)
    return not [w for w in rest.split() if w not in STOPWORDS]
