"""Pick how a question is answered: a structured route (status, counts and
lists, acronyms, footnotes, recommendations, reasons) answered from the
document model, or retrieval."""

from __future__ import annotations

import re
from dataclasses import replace

from ..document import Evaluation
from ..text import STOPWORDS, fold
from ..types import Query, References, Route
from .answer_type import answer_type
from .language import is_english
from .references import ReferenceFinder

STATUS_CUES = re.compile(
    r"\b(ou en est|ou en sont|etat|statut|avancement|realisee?s?|realise|mise? en (?:oeuvre|place)|abouti|"
    r"accompli|status|implemented|progress|achieved|carried out|completed|done|fulfilled)\b"
)
# "X a-t-il été créé ?", "a-t-elle vu le jour", "est-ce que … a été": was it done?
_YES_NO_DONE = re.compile(
    r"\b(a-t-(?:il|elle|on)|ont-(?:ils|elles)|a t (?:il|elle|on)|est-ce que|est-(?:il|elle)|sont-(?:ils|elles)|"
    r"vu le jour|has|have|was|were|did)\b"
)
RECO_CUES = re.compile(r"\b(recommand\w*|preconis\w*|conseill\w*|propos\w*|suggere\w*|recommend\w*|suggest\w*|advise\w*)\b")
WHY_CUES = re.compile(r"\b(pourquoi|why|raisons?|reasons?|explique\w*|explain\w*|justifi\w*|motif\w*)\b")
_COUNT_CUES = re.compile(r"\b(combien|nombre|how many|number of)\b")
# A question opening with one of these asks for a fact, not whether a measure was carried out.
_WH_START = re.compile(
    r"^(?:(?:a|en|dans|par|pour|de|depuis|sur|sous|avec|selon|parmi|chez|contre|vers|entre|et|mais) )?(quel\w*|quand|combien|qui|comment|pourquoi|que|qu'|quoi|lequel|laquelle|lesquel\w*|"
    r"what|when|who|how|which|where|why)\b"
)
_STRONG_STATUS = re.compile(r"\b(ou en (?:est|sont)|etat d'avancement|statut|status|avancement|progress)\b")


class Router:
    """Reads one question (no history) into a Query; built once per evaluation."""

    def __init__(self, evaluation: Evaluation):
        self.evaluation = evaluation
        self.finder = ReferenceFinder(evaluation)

    def read(self, text: str) -> Query:
        folded = fold(text)
        refs = self.finder.find(text)
        base = Query(text, Route.SEARCH, refs, refs, english=is_english(text), answer_type=answer_type(text))
        n_measures, n_notes = len(self.evaluation.measures), len(self.evaluation.footnotes)
        if any(not 1 <= m <= n_measures for m in refs.measures) or any(not 1 <= n <= n_notes for n in refs.footnotes):
            return replace(base, route=Route.UNKNOWN_REFERENCE)
        if refs.acronyms and refs.definition and not (refs.measures or refs.footnotes or refs.titled):
            return replace(base, route=Route.ACRONYM)
        if refs.footnotes and not refs.measures:
            return replace(base, route=Route.FOOTNOTE)
        if refs.listing:
            return replace(base, route=Route.AGGREGATE, status=refs.status, count=bool(_COUNT_CUES.search(folded)))
        if refs.measures or refs.titled:
            return replace(base, route=_measure_route(folded, refs))
        if _asks_status(folded, base.answer_type is not None):
            return replace(base, route=Route.STATUS_SEARCH)
        if RECO_CUES.search(folded) and re.search(r"\b(cncdh|commission)\b", folded):
            return replace(base, route=Route.RECOMMENDATION)
        return base


def _measure_route(folded: str, refs: References) -> Route:
    """A question naming a measure: what does it want to know about it?"""
    if RECO_CUES.search(folded):
        return Route.RECOMMENDATION
    if WHY_CUES.search(folded):
        return Route.WHY
    if STATUS_CUES.search(folded) or _bare_reference(folded):
        return Route.STATUS
    return Route.MEASURE_QUESTION


def _bare_reference(folded: str) -> bool:
    """'Mesure 16 ?', 'la mesure 16': no question besides the reference."""
    rest = re.sub(r"\b(mesures?|measures?|n°|no|numero|la|le|et|and)\b|\d+|[^\w\s]", " ", folded)
    return not [w for w in rest.split() if w not in STOPWORDS]


def _asks_status(folded: str, asks_fact: bool) -> bool:
    """Without a measure named: does the question ask whether something was done?"""
    if _STRONG_STATUS.search(folded):
        return True
    if asks_fact or _WH_START.search(folded):
        return False
    return bool(STATUS_CUES.search(folded) or _YES_NO_DONE.search(folded) and _asks_done(folded))


def _asks_done(folded: str) -> bool:
    """A yes/no question about an action happening ('… a-t-il été créé ?')."""
    return bool(re.search(
        r"\b(cree|creee|ouvert|lance|mis|mise|instaure|institue|vu le jour|realise|designe|publie|generalise|organise|"
        r"finance|adopte|tenu|arrete|recrute|nomme|forme|renforce|mobilise|ameliore|developpe|soutenu|coordonne|pilote|"
        r"evalue|promu|elabore|diffuse|sensibilise|pereniise|perennise|actualise|specialise|repertorie|consolide|"
        r"created|launched|set up|opened|published|implemented|appointed|trained|funded)\w*\b", folded))
