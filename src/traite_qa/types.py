"""The values that travel between the stages, all frozen.

    document → index → understand → search → answer

`Status` and `Span` come from the document; `Chunk` is what the index stores;
`References` and `Query` are what the understanding stage makes of a question;
`Hit` is a ranked chunk; `Evidence` a sentence of a hit; `Citation` and
`Answer` what the assistant returns. Ids are derived from the document
(`mesure-16#1`, `note-47`), so they are stable across rebuilds.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Mapping

from .text import fold


class Status(str, enum.Enum):
    """The three statuses the CNCDH gives a measure."""

    REALISEE = "Réalisée"
    PARTIELLEMENT = "Partiellement réalisée"
    NON_REALISEE = "Non réalisée"

    @property
    def english(self) -> str:
        return _ENGLISH[self]

    @property
    def slug(self) -> str:
        """Stable identifier for URLs, filters and CSS classes."""
        return _SLUGS[self]

    @classmethod
    def parse(cls, text: str) -> "Status":
        """Accept the French label (any case/accents), the slug or the English label."""
        key = fold(text).strip().replace("_", " ").replace("-", " ")
        for status in cls:
            names = {fold(status.value), status.slug.replace("-", " "), status.english}
            if key in names:
                return status
        raise ValueError(f"unknown status {text!r}: use one of " + ", ".join(f"'{s.slug}'" for s in cls))

    def __str__(self) -> str:
        return self.value


_ENGLISH = {
    Status.REALISEE: "implemented",
    Status.PARTIELLEMENT: "partially implemented",
    Status.NON_REALISEE: "not implemented",
}
_SLUGS = {
    Status.REALISEE: "realisee",
    Status.PARTIELLEMENT: "partiellement-realisee",
    Status.NON_REALISEE: "non-realisee",
}


@dataclass(frozen=True)
class Span:
    """Half-open [start, end) char offsets into the source text."""

    start: int
    end: int

    def slice(self, source: str) -> str:
        return source[self.start : self.end]


# ------------------------------------------------------------------- index
KINDS = ("measure", "footnote", "acronym", "table", "preamble", "conclusion")
# Sentences worth quoting live in these; a glossary line or a table row is not an answer.
QUOTABLE_KINDS = ("measure", "footnote", "preamble", "conclusion")


@dataclass(frozen=True)
class Chunk:
    id: str  # derived from the document: stable across rebuilds
    kind: str  # one of KINDS
    header: str
    body: str  # == source[span.start:span.end]
    span: Span
    title: str
    measures: tuple[int, ...] = ()  # measures of the chunk; for a footnote, those citing it
    statuses: tuple[str, ...] = ()  # parallel to `measures` for measure chunks
    footnote: int | None = None
    acronym: str | None = None
    axis: int | None = None
    action: int | None = None
    footnotes: tuple[int, ...] = ()  # footnotes cited inside this body piece
    piece: int = 1
    pieces: int = 1

    @property
    def text(self) -> str:
        return f"{self.header}\n{self.body}"

    @property
    def status(self) -> str | None:
        """The status when every measure of the chunk shares it (14/15 and 43/45 don't)."""
        return self.statuses[0] if self.statuses and len(set(self.statuses)) == 1 else None

    @property
    def passage(self) -> str:
        """What the embedder and BM25 see: header and body, layout whitespace collapsed."""
        return _collapse(self.text)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["span"] = {"start": self.span.start, "end": self.span.end}
        data["measures"] = list(self.measures)
        data["statuses"] = list(self.statuses)
        data["footnotes"] = list(self.footnotes)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Chunk":
        data = dict(data)
        data["span"] = Span(**data["span"])
        for key in ("measures", "statuses", "footnotes"):
            data[key] = tuple(data.get(key, ()))
        return cls(**data)


def _collapse(text: str) -> str:
    return re.sub(r"[ \t]*\n\s*", "\n", re.sub(r"[ \t]+", " ", text)).strip()


# -------------------------------------------------------------- understand
class Route(enum.StrEnum):
    """How a question is answered (the `intent` field of an Answer)."""

    STATUS = "status"
    STATUS_SEARCH = "status_by_search"
    RECOMMENDATION = "recommendation"
    WHY = "why"
    ACRONYM = "acronym"
    FOOTNOTE = "footnote"
    AGGREGATE = "aggregate"
    TOPIC_LIST = "topic_list"
    SYNTHESIS = "synthesis"
    GREETING = "greeting"
    CLARIFY = "clarify"  # a follow-up with nothing to follow
    MEASURE_QUESTION = "measure_question"
    SEARCH = "search"
    UNKNOWN_REFERENCE = "unknown_reference"
    INVALID = "invalid"


# Routes answered from the document model rather than by quoting search results.
STRUCTURED_ROUTES = frozenset({
    Route.ACRONYM, Route.FOOTNOTE, Route.AGGREGATE, Route.STATUS, Route.UNKNOWN_REFERENCE,
    Route.RECOMMENDATION, Route.WHY, Route.STATUS_SEARCH, Route.TOPIC_LIST, Route.GREETING, Route.CLARIFY,
})


@dataclass(frozen=True)
class References:
    measures: tuple[int, ...] = ()  # as asked, including numbers the document lacks
    footnotes: tuple[int, ...] = ()
    axes: tuple[int, ...] = ()
    actions: tuple[int, ...] = ()
    acronyms: tuple[str, ...] = ()  # glossary spelling
    titled: tuple[int, ...] = ()  # measures whose title the question quotes or nearly quotes
    definition: bool = False  # asks what an acronym means ("Que signifie OCRTEH ?", "SIAO ?")
    listing: bool = False  # asks for a list or count of measures, axes or actions
    statuses: tuple[Status, ...] = ()  # every status it names, in the scale's order ("non réalisées"; "not fully": two)

    def __bool__(self) -> bool:
        return bool(self.measures or self.footnotes or self.acronyms or self.titled)

    @property
    def status(self) -> Status | None:
        """The status it names, when it names one."""
        return self.statuses[0] if len(self.statuses) == 1 else None


@dataclass(frozen=True)
class Filters:
    """Search and answer filters, checked against the document."""

    status: Status | None = None
    axis: int | None = None
    action: int | None = None
    kind: str | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.status, self.axis, self.action, self.kind))


@dataclass(frozen=True)
class Query:
    """A question, read once: every later stage takes this, never the raw string."""

    text: str  # the question, cleaned (control characters, spaces)
    route: Route = Route.SEARCH
    refs: References = field(default_factory=References)  # as resolved (follow-ups borrow measures)
    search_refs: References = field(default_factory=References)  # as found in the text (search pins these)
    english: bool = False
    answer_type: str | None = None  # "money" | "count" | "date": what the answer must hold
    statuses: tuple[Status, ...] = ()  # for counts and lists: every status asked about ("réalisées ou partiellement": two)
    count: bool = False  # the question asks "how many"
    enumerates: str | None = None  # a count or list of "axes" or "actions", not of measures
    follow_up: bool = False  # measures borrowed from the history
    # "the next one": ("next" | "previous", the measure it counts from, and the
    # measures the last answer cited when it cited several: then refs.measures
    # holds the neighbour of each, none picked)
    after: tuple[str, int, tuple[int, ...]] | None = None
    filters: Filters = field(default_factory=Filters)
    core: str = ""  # the question without politeness: what is searched and matched
    yes_no: bool = False  # answered by oui / non / en partie
    years: tuple[int, ...] = ()  # years the question asks about ("en 2023"), not periods ("2019-2021")
    topic: tuple[str, ...] = ()  # for topic lists: the stems that name the topic
    wants: tuple[str, ...] = ()  # what the answer should hold besides facts: "recommendation", "why", "status", "reference"
    context: str = ""  # a follow-up's previous question: searched along with `core` ("Et pour les mineurs ?")
    embedded: str = ""  # `core` as the encoder reads it (vocabulary.embedding_text); `core` when empty

    def __post_init__(self) -> None:
        if not self.core:
            object.__setattr__(self, "core", self.text)

    @property
    def language(self) -> str:
        return "en" if self.english else "fr"

    @property
    def measures(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys(self.refs.measures + self.refs.titled))

    @property
    def status(self) -> Status | None:
        """The status asked about, when it is one."""
        return self.statuses[0] if len(self.statuses) == 1 else None

    @property
    def status_filter(self) -> tuple[Status, ...]:
        """The statuses a count or a list is narrowed to: the question's, else
        the UI filter's; empty for any."""
        if self.statuses or self.filters.status is None:
            return self.statuses
        return (self.filters.status,)


# ------------------------------------------------------------------ search
@dataclass(frozen=True)
class Hit:
    """One ranked chunk. `text` is the chunk body, verbatim from the source."""

    id: str
    kind: str
    measures: tuple[int, ...]
    statuses: tuple[str, ...]
    footnote: int | None
    acronym: str | None
    title: str
    status: str | None
    axis: int | None
    action: int | None
    header: str
    text: str
    footnotes: tuple[int, ...]  # footnotes cited by this passage
    span: tuple[int, int]
    score: float
    rank: int
    pinned: bool = False  # placed first because the query named it
    dense: float = 0.0  # cosine with the query
    lexical: float = 0.0  # BM25 score
    chunk: Chunk | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_chunk(cls, chunk: Chunk, score: float, rank: int, *, pinned: bool = False, dense: float = 0.0,
                   lexical: float = 0.0) -> "Hit":
        # Every field written straight into the new object, not through the frozen
        # dataclass's __init__ (one object.__setattr__ per field): an answer ranks
        # all 219 chunks, and that __init__ took ~0.5 ms of it. The same object
        # (tests/test_search.py checks it against the constructor, field by field).
        hit = object.__new__(cls)
        hit.__dict__.update(
            id=chunk.id, kind=chunk.kind, measures=chunk.measures, statuses=chunk.statuses, footnote=chunk.footnote,
            acronym=chunk.acronym, title=chunk.title, status=chunk.status, axis=chunk.axis, action=chunk.action,
            header=chunk.header, text=chunk.body, footnotes=chunk.footnotes, span=(chunk.span.start, chunk.span.end),
            score=float(score), rank=rank, pinned=pinned, dense=dense, lexical=lexical, chunk=chunk,
        )
        return hit

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "measures": list(self.measures),
            "statuses": list(self.statuses),
            "footnote": self.footnote,
            "acronym": self.acronym,
            "title": self.title,
            "status": self.status,
            "axis": self.axis,
            "action": self.action,
            "header": self.header,
            "text": self.text,
            "footnotes": list(self.footnotes),
            "span": {"start": self.span[0], "end": self.span[1]},
            "score": round(self.score, 6),
            "rank": self.rank,
            "pinned": self.pinned,
            "dense": round(self.dense, 6),
            "lexical": round(self.lexical, 6),
        }


# ------------------------------------------------------------------ answer
ANSWERED, NO_EVIDENCE, INVALID_QUESTION = "answered", "no_evidence", "invalid_question"


@dataclass(frozen=True)
class Evidence:
    """A sentence of a hit, scored as an answer to the question."""

    hit: Hit
    start: int  # offsets in hit.text (the chunk body)
    end: int
    score: float
    dense: float
    lexical: float

    @property
    def text(self) -> str:
        return self.hit.text[self.start : self.end]


@dataclass(frozen=True)
class Citation:
    """A cited passage: the search hit's fields plus the sentences quoted from it."""

    hit: Hit
    marker: str  # as written in the answer, without brackets: "Mesure 16"
    quotes: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.hit.id

    @property
    def title(self) -> str:
        return self.hit.title

    def to_dict(self) -> dict:
        return {**self.hit.to_dict(), "marker": self.marker, "quotes": list(self.quotes)}


@dataclass(frozen=True)
class Answer:
    question: str
    status: str  # ANSWERED | NO_EVIDENCE | INVALID_QUESTION
    answer: str
    citations: tuple[Citation, ...] = ()
    intent: str = Route.SEARCH
    language: str = "fr"
    suggestions: tuple[str, ...] = ()  # closest topics when there is no answer
    notes: tuple[str, ...] = ()  # e.g. the generator failed and the extractive answer was used
    verified: bool = True  # False when a generated answer kept no valid citation
    # number -> status of every measure the answer states; read-only, and left
    # out of the hash so that an Answer can be hashed like any frozen value.
    measures: Mapping[int, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "measures", MappingProxyType(dict(self.measures)))
        object.__setattr__(self, "intent", str(self.intent))

    @property
    def answer_id(self) -> str:
        """Stable id of this answer: the same question answered the same way
        (text, citations, route) gets the same id, so feedback can name it."""
        return answer_id_of(self.question, self.status, self.answer, [c.id for c in self.citations], self.intent, self.language)

    def to_dict(self) -> dict:
        return {
            "answer_id": self.answer_id,
            "question": self.question,
            "status": self.status,
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "intent": self.intent,
            "language": self.language,
            "suggestions": list(self.suggestions),
            "notes": list(self.notes),
            "verified": self.verified,
            "measures": {str(k): v for k, v in self.measures.items()},
        }


def answer_id_of(question: str, status: str, answer: str, citation_ids, intent: str, language: str) -> str:
    """`Answer.answer_id` from the fields of an answer's JSON: lets feedback
    check that an answer sent back by a client is one the system gave."""
    payload = json.dumps([question, status, answer, list(citation_ids), intent, language], ensure_ascii=False)
    return "ans-" + hashlib.sha256(payload.encode("utf-8", "replace")).hexdigest()[:20]
