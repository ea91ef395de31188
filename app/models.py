"""The HTTP API's response models, and the dicts they validate, without FastAPI.

`traite_qa.integrations.mcp` reuses them as its tools' output schemas, so the
MCP server needs pydantic (the SDK's own dependency), not the chat extra.
"""

import enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from traite_qa import KINDS, Status

MAX_TURN_CHARS = 10_000  # one history message (the number of messages is Settings.max_history_messages)

StatusFilter = enum.Enum("StatusFilter", {s.name: s.slug for s in Status}, type=str)
KindFilter = enum.Enum("KindFilter", {k.upper(): k for k in KINDS}, type=str)


# ---------------------------------------------------------------- models
class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. 'question_too_long', 'invalid_filter'")
    message: str = Field(description="what is wrong and how to fix it")
    field: str | None = Field(description="the parameter or body field at fault, when there is one")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class SpanModel(BaseModel):
    start: int
    end: int


class HitModel(BaseModel):
    """A ranked passage (`traite_qa.search.Hit.to_dict()`); `text` is verbatim from the document."""

    model_config = ConfigDict(extra="allow")
    id: str
    kind: str
    measures: list[int]
    statuses: list[str]
    footnote: int | None
    acronym: str | None
    title: str
    status: str | None
    axis: int | None
    action: int | None
    header: str
    text: str
    footnotes: list[int]
    span: SpanModel
    score: float
    rank: int
    pinned: bool
    dense: float
    lexical: float


class SearchResponse(BaseModel):
    query: str
    hits: list[HitModel]


class CitationModel(HitModel):
    marker: str = Field(description="as written in the answer between brackets, e.g. 'Mesure 16'")
    quotes: list[str] = Field(description="sentences quoted from `text`, verbatim")


class AnswerModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    answer_id: str = Field(description="stable id of this answer (same question answered the same way, same id); "
                                       "name it when sending feedback")
    question: str
    status: Literal["answered", "no_evidence", "invalid_question"]
    answer: str = Field(description="the answer, with [Mesure 16]-style markers naming its citations")
    citations: list[CitationModel]
    intent: str
    language: str
    suggestions: list[str] = Field(description="closest topics when there is no answer")
    notes: list[str]
    verified: bool
    measures: dict[str, str] = Field(description="status of every measure cited, by number")
    answer_key: str | None = Field(default=None, max_length=64,
                                   description="this server's key over the answer (an HMAC): feedback that sends the "
                                               "answer back is taken only with it")


class ContentPart(BaseModel):
    type: str = Field(default="text", max_length=32)
    text: str = Field(default="", max_length=MAX_TURN_CHARS)


class Message(BaseModel):
    """A turn of the conversation, in Gradio's messages format."""

    role: Literal["user", "assistant"]
    content: Annotated[str, Field(max_length=MAX_TURN_CHARS)] | Annotated[list[ContentPart], Field(max_length=20)]


class MeasureSummary(BaseModel):
    number: int
    title: str
    status: str = Field(description="French label: 'Réalisée', 'Partiellement réalisée' or 'Non réalisée'")
    status_slug: str
    axis: int
    action: int
    group: list[int] = Field(description="measures sharing this body, in text order (incl. this one)")
    footnotes: list[int]


class MeasureList(BaseModel):
    count: int
    status_counts: dict[str, int]
    measures: list[MeasureSummary]


class FootnoteModel(BaseModel):
    number: int
    text: str
    urls: list[str]


class MeasureDetail(BaseModel):
    number: int
    title: str
    status: str
    status_slug: str
    axis: int
    axis_title: str
    action: int
    action_title: str
    group: list[int]
    body: str
    paragraphs: list[str]
    footnotes: list[FootnoteModel]


class Health(BaseModel):
    status: Literal["ok"]
    version: str = Field(description="version of the running traite-qa")
    model: str
    model_fingerprint: str | None
    dimension: int
    chunks: int
    kinds: dict[str, int]
    source: str
    source_sha256: str
    created_at: str
    package_version: str = Field(description="traite-qa version that built the index")
    measures: int
    load_seconds: float | None


def measure_summary(m) -> dict:
    """A measure as MeasureSummary."""
    return {**m.summary_dict(), "status_slug": m.status.slug}


def measure_list(evaluation, measures) -> dict:
    """`measures` (of `evaluation`) as MeasureList; the counts are those of `measures`."""
    measures = list(measures)
    return {
        "count": len(measures),
        "status_counts": {s.value: sum(m.status is s for m in measures) for s in Status},
        "measures": [measure_summary(m) for m in measures],
    }


def measure_detail(evaluation, m) -> dict:
    """A measure as MeasureDetail."""
    notes = [evaluation.footnote(i) for i in m.footnotes]
    return {
        **measure_summary(m),
        "axis_title": evaluation.axis(m.axis).label,
        "action_title": evaluation.action(m.action).label,
        "body": m.body,
        "paragraphs": [p.text for p in m.paragraphs],
        "footnotes": [{"number": f.number, "text": f.text, "urls": list(f.urls)} for f in notes],
    }

