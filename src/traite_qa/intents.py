"""Route a question: structured intents answered from the document model, or
retrieval. Follow-ups borrow the measure (and the intent) of the previous turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .document import Evaluation, Status
from .gate import answer_type
from .references import ReferenceFinder, References
from .text import STOPWORDS, fold, is_english, words

# Intent names (the `intent` field of an Answer).
STATUS = "status"
STATUS_SEARCH = "status_by_search"
RECOMMENDATION = "recommendation"
WHY = "why"
ACRONYM = "acronym"
FOOTNOTE = "footnote"
AGGREGATE = "aggregate"
MEASURE_QUESTION = "measure_question"
SEARCH = "search"
UNKNOWN_REFERENCE = "unknown_reference"
INVALID = "invalid"

_STATUS_CUES = re.compile(
    r"\b(ou en est|ou en sont|etat|statut|avancement|realisee?s?|realise|mise? en (?:oeuvre|place)|abouti|"
    r"accompli|status|implemented|progress|achieved|carried out|completed|done|fulfilled)\b"
)
# "X a-t-il été créé ?", "a-t-elle vu le jour", "est-ce que … a été": was it done?
_YES_NO_DONE = re.compile(
    r"\b(a-t-(?:il|elle|on)|ont-(?:ils|elles)|a t (?:il|elle|on)|est-ce que|est-(?:il|elle)|sont-(?:ils|elles)|"
    r"vu le jour|has|have|was|were|did)\b"
)
_RECO_CUES = re.compile(r"\b(recommand\w*|preconis\w*|conseill\w*|propos\w*|suggere\w*|recommend\w*|suggest\w*|advise\w*)\b")
_WHY_CUES = re.compile(r"\b(pourquoi|why|raisons?|reasons?|explique\w*|explain\w*|justifi\w*|motif\w*)\b")
_COUNT_CUES = re.compile(r"\b(combien|nombre|how many|number of)\b")
_FOLLOW_UP_START = re.compile(r"^(et|mais|and|what about|pourquoi|why|quelles? recommandations?|lesquelles|la suivante)\b")
@dataclass(frozen=True)
class Intent:
    name: str
    question: str  # the question as asked (cleaned)
    refs: References = field(default_factory=References)
    status: Status | None = None  # for aggregates: the status asked about
    count: bool = False  # the question asks "how many"
    english: bool = False
    follow_up: bool = False  # measures borrowed from the history
    answer_type: str | None = None  # "money" | "count" | "date": what the answer must hold

    @property
    def measures(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys(self.refs.measures + self.refs.titled))


class Router:
    def __init__(self, evaluation: Evaluation):
        self.evaluation = evaluation
        self.finder = ReferenceFinder(evaluation)

    def route(self, question: str, history: list[dict] | None = None) -> Intent:
        intent = self._route_one(question)
        if history:
            intent = self._resolve_follow_up(intent, history)
        return intent

    def _route_one(self, question: str) -> Intent:
        folded = fold(question)
        refs = self.finder.find(question)
        english = is_english(question)
        base = Intent(SEARCH, question, refs, english=english, answer_type=answer_type(question))
        n_measures, n_notes = len(self.evaluation.measures), len(self.evaluation.footnotes)
        if any(not 1 <= m <= n_measures for m in refs.measures) or any(not 1 <= n <= n_notes for n in refs.footnotes):
            return replace(base, name=UNKNOWN_REFERENCE)
        if refs.acronyms and refs.definition and not (refs.measures or refs.footnotes or refs.titled):
            return replace(base, name=ACRONYM)
        if refs.footnotes and not refs.measures:
            return replace(base, name=FOOTNOTE)
        if refs.listing:
            return replace(base, name=AGGREGATE, status=refs.status, count=bool(_COUNT_CUES.search(folded)))
        explicit = refs.measures or refs.titled
        if explicit:
            if _RECO_CUES.search(folded):
                return replace(base, name=RECOMMENDATION)
            if _WHY_CUES.search(folded):
                return replace(base, name=WHY)
            if _STATUS_CUES.search(folded) or self._bare_reference(folded, refs):
                return replace(base, name=STATUS)
            return replace(base, name=MEASURE_QUESTION)
        if _asks_status(folded, base.answer_type is not None):
            return replace(base, name=STATUS_SEARCH)
        if _RECO_CUES.search(folded) and re.search(r"\b(cncdh|commission)\b", folded):
            return replace(base, name=RECOMMENDATION)
        return base

    def _relative_measure(self, folded: str, previous: int) -> int | None:
        count = len(self.evaluation.measures)
        if re.search(r"\b(suivante|next|following)\b", folded):
            target = previous + 1
        elif re.search(r"\b(precedente|previous)\b", folded):
            target = previous - 1
        elif match := re.search(r"\b(\d{1,3})\b", folded):
            target = int(match.group(1))
        else:
            return None
        return target if 1 <= target <= count else None

    @staticmethod
    def _bare_reference(folded: str, refs: References) -> bool:
        """'Mesure 16 ?', 'la mesure 16': no question besides the reference."""
        rest = re.sub(r"\b(mesures?|measures?|n°|no|numero|la|le|et|and)\b|\d+|[^\w\s]", " ", folded)
        return not [w for w in rest.split() if w not in STOPWORDS]

    def _resolve_follow_up(self, intent: Intent, history: list[dict]) -> Intent:
        if intent.name in (AGGREGATE, ACRONYM, FOOTNOTE, UNKNOWN_REFERENCE) and not intent.refs.footnotes:
            return intent  # complete on its own ("Combien de mesures sont réalisées ?")
        previous_q, previous_a = _last_turns(history)
        if not previous_q and not previous_a:
            return intent
        folded = fold(intent.question)
        elliptic = bool(_FOLLOW_UP_START.search(folded)) or len([w for w in words(folded) if w not in STOPWORDS]) <= 2
        if not elliptic:
            return intent
        previous = self._route_one(previous_q) if previous_q else None
        if intent.measures or intent.refs.footnotes:
            # "Et la mesure 17 ?": same question as before, about another measure.
            if previous and intent.name in (STATUS, MEASURE_QUESTION) and previous.name in (STATUS, RECOMMENDATION, WHY, FOOTNOTE):
                name = previous.name if previous.name != FOOTNOTE or intent.refs.footnotes else STATUS
                return replace(intent, name=name, follow_up=True)
            return intent
        measures = previous.measures if previous and previous.measures else ()
        if not measures and previous_a:
            measures = tuple(int(n) for n in re.findall(r"\[Mesures? (\d+)", previous_a))[:1]
        # A history is user input too: only measures the plan has carry over.
        measures = tuple(m for m in measures if 1 <= m <= len(self.evaluation.measures))
        if measures:
            other = self._relative_measure(folded, measures[0])
            if other is not None:
                # "Et la suivante ?", "et la 44 ?": the previous question, about another measure.
                name = previous.name if previous and previous.name in (STATUS, RECOMMENDATION, WHY) else STATUS
                return replace(intent, name=name, refs=replace(intent.refs, measures=(other,)), follow_up=True)
        if not measures:
            notes = previous.refs.footnotes if previous else ()
            if notes and re.search(r"^(et|and)\b", folded):
                return intent
            return intent
        refs = replace(intent.refs, measures=measures[:2])
        if _RECO_CUES.search(folded):
            return replace(intent, name=RECOMMENDATION, refs=refs, follow_up=True)
        if _WHY_CUES.search(folded):
            return replace(intent, name=WHY, refs=refs, follow_up=True)
        if _STATUS_CUES.search(folded):
            return replace(intent, name=STATUS, refs=refs, follow_up=True)
        return replace(intent, name=MEASURE_QUESTION, refs=refs, follow_up=True)


# A question opening with one of these asks for a fact, not whether a measure was carried out.
_WH_START = re.compile(
    r"^(?:(?:a|en|dans|par|pour|de|depuis|sur|sous|avec|selon|parmi|chez|contre|vers|entre|et|mais) )?(quel\w*|quand|combien|qui|comment|pourquoi|que|qu'|quoi|lequel|laquelle|lesquel\w*|"
    r"what|when|who|how|which|where|why)\b"
)
_STRONG_STATUS = re.compile(r"\b(ou en (?:est|sont)|etat d'avancement|statut|status|avancement|progress)\b")


def _asks_status(folded: str, asks_fact: bool) -> bool:
    """Without a measure named: does the question ask whether something was done?"""
    if _STRONG_STATUS.search(folded):
        return True
    if asks_fact or _WH_START.search(folded):
        return False
    return bool(_STATUS_CUES.search(folded) or _YES_NO_DONE.search(folded) and _asks_done(folded))


def _asks_done(folded: str) -> bool:
    """A yes/no question about an action happening ('… a-t-il été créé ?')."""
    return bool(re.search(
        r"\b(cree|creee|ouvert|lance|mis|mise|instaure|institue|vu le jour|realise|designe|publie|generalise|organise|"
        r"finance|adopte|tenu|arrete|recrute|nomme|forme|renforce|mobilise|ameliore|developpe|soutenu|coordonne|pilote|"
        r"evalue|promu|elabore|diffuse|sensibilise|pereniise|perennise|actualise|specialise|repertorie|consolide|"
        r"created|launched|set up|opened|published|implemented|appointed|trained|funded)\w*\b", folded))


def _text_of(content) -> str:
    """History content is a string, or (Gradio 6) a list of {"type": "text", "text": ...} parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(_text_of(part.get("text", "") if isinstance(part, dict) else part) for part in content)
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return ""


def _last_turns(history: list[dict]) -> tuple[str, str]:
    question = answer = ""
    for turn in reversed(history):
        if not isinstance(turn, dict):
            continue
        role, text = turn.get("role"), _text_of(turn.get("content", ""))
        if role == "assistant" and not answer and not question:
            answer = text
        elif role == "user" and not question:
            question = text
            break
    return question.strip()[:2000], answer.strip()[:4000]
