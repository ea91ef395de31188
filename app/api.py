"""The HTTP API: routes; their response models are in `models.py` (the OpenAPI schema).

Constraints that depend on the settings or the document (question length,
k, number of axes and actions) are read when the router is built, so
`/openapi.json` states exactly what is accepted.
"""

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, BeforeValidator, Field

import traite_qa
from traite_qa import TraiteQAError, clean_question

from .errors import APIError, from_library
from .models import (  # noqa: F401 - re-exported: the models were defined here
    MAX_TURN_CHARS, AnswerModel, CitationModel, ContentPart, ErrorDetail, ErrorResponse, FootnoteModel, Health, HitModel,
    KindFilter, MeasureDetail, MeasureList, MeasureSummary, Message, SearchResponse, SpanModel, StatusFilter,
    measure_detail, measure_list, measure_summary,
)
from .state import AppState


def _not_a_bool(value):
    if isinstance(value, bool):
        raise ValueError("a boolean is not an axis number")
    return value


# A question must contain a character that is neither white space nor an
# invisible control/format character (those are blanked by the library).
VISIBLE_PATTERN = r"[^\s\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"

def _errors(*statuses: int, max_body: int = 1024 * 1024) -> dict:
    text = {
        400: "Malformed JSON body (or not UTF-8)",
        404: "Unknown measure or reference",
        413: f"Request body over {max_body // 1024} KiB",
        415: "Body not sent as application/json",
        422: "Invalid parameter: empty or over-long question, k out of range, unknown filter",
        503: "The index is loading or could not be loaded",
    }
    return {s: {"model": ErrorResponse, "description": text[s]} for s in statuses}


# ---------------------------------------------------------------- routes
def build_router(state: AppState) -> APIRouter:
    settings = state.settings
    ev = state.evaluation
    n_axes, n_actions, n_measures = len(ev.axes), len(ev.actions), len(ev.measures)
    max_chars, max_k = settings.max_question_chars, settings.max_k
    router = APIRouter()

    class AskRequest(BaseModel):
        question: str = Field(
            min_length=1,
            max_length=max_chars,
            description=f"the question, French or English (at most {max_chars} characters)",
            json_schema_extra={"pattern": VISIBLE_PATTERN},
            examples=["Où en est la mesure 16 ?"],
        )
        history: list[Message] | None = Field(
            default=None,
            max_length=settings.max_history_messages,
            description="earlier turns, oldest first, for follow-up questions ('Et la mesure 17 ?')",
        )
        status: StatusFilter | None = Field(default=None, description="only search measures with this status")
        # JSON true is not an axis number (pydantic would read it as 1); 3.0 is,
        # as JSON Schema's "integer" says.
        axis: Annotated[int | None, BeforeValidator(_not_a_bool)] = Field(
            default=None, ge=1, le=n_axes, description=f"only search this axis (1-{n_axes})"
        )

    def question_or_422(text: str, field: str) -> str:
        try:
            return clean_question(text, max_chars)
        except TraiteQAError as err:
            raise from_library(err, field) from None

    @router.get(
        "/api/search",
        response_model=SearchResponse,
        responses=_errors(404, 422, 503),
        summary="Hybrid search (dense + BM25) over the evaluation's passages",
        tags=["search"],
    )
    def search(
        q: str = Query(
            min_length=1,
            max_length=max_chars,
            description=f"the query (at most {max_chars} characters)",
            json_schema_extra={"pattern": VISIBLE_PATTERN},
        ),
        k: int = Query(5, ge=1, le=max_k, description=f"number of hits (1-{max_k})"),
        status: StatusFilter | None = Query(None, description="measure status"),
        axis: int | None = Query(None, ge=1, le=n_axes, description=f"axis number (1-{n_axes})"),
        action: int | None = Query(None, ge=1, le=n_actions, description=f"action number (1-{n_actions})"),
        kind: KindFilter | None = Query(None, description="passage kind"),
    ):
        question_or_422(q, "q")
        searcher = state.assistant(timeout=0).searcher  # 503 index_loading at once while the model loads
        try:
            hits = searcher.search(
                q, k=k, status=status.value if status else None, axis=axis, action=action, kind=kind.value if kind else None
            )
        except TraiteQAError as err:
            raise from_library(err, "q") from None
        return {"query": q, "hits": [h.to_dict() for h in hits]}

    @router.post(
        "/api/ask",
        response_model=AnswerModel,
        responses=_errors(400, 413, 415, 422, 503, max_body=settings.max_body_bytes),
        summary="Answer a question with cited passages",
        tags=["ask"],
    )
    def ask(request: AskRequest = Body()):
        question_or_422(request.question, "question")
        history = [m.model_dump() for m in request.history or []]
        answer = state.assistant(timeout=0).ask(
            request.question,
            history or None,
            status=request.status.value if request.status else None,
            axis=request.axis,
        )
        if answer.status == "invalid_question":  # defensive: clean_question already passed
            raise APIError(422, "invalid_question", answer.notes[0] if answer.notes else answer.answer, "question")
        return state.feedback.served(answer)  # with its answer_key: feedback may send it back

    @router.get("/api/measures", response_model=MeasureList, summary="The plan's measures with their status", tags=["measures"])
    def measures():
        ev = state.evaluation
        return measure_list(ev, ev.measures)

    @router.get(
        "/api/measures/{n}",
        response_model=MeasureDetail,
        responses=_errors(404, 422),
        summary="One measure: body, status and footnotes",
        tags=["measures"],
    )
    def measure(n: int = Path(description=f"measure number (1-{n_measures})")):
        ev = state.evaluation
        try:
            m = ev.measure(n)
        except TraiteQAError as err:
            raise APIError(404, "unknown_measure", str(err), "n") from None
        return measure_detail(ev, m)

    @router.get("/healthz", response_model=Health, responses=_errors(503), summary="Index manifest summary", tags=["health"])
    async def healthz():
        # On the event loop, not in the thread pool the questions share: with
        # every worker thread busy answering, the health check still answers
        # at once (issue 23). Nothing here blocks: timeout=0, and the manifest
        # is in memory.
        assistant = state.assistant(timeout=0)
        manifest = assistant.searcher.data.manifest
        model = manifest.get("model", {})
        source = manifest.get("source", {})
        return {
            "status": "ok",
            "version": traite_qa.__version__,
            "model": model.get("id", ""),
            "model_fingerprint": model.get("fingerprint"),
            "dimension": int(model.get("dimension", 0)),
            "chunks": int(manifest.get("chunks", len(assistant.searcher.chunks))),
            "kinds": manifest.get("kinds", {}),
            "source": source.get("name", ""),
            "source_sha256": source.get("sha256", ""),
            "created_at": manifest.get("created_at", ""),
            "package_version": manifest.get("package_version", ""),
            "measures": len(assistant.evaluation.measures),
            "load_seconds": round(state.load_seconds, 2) if state.load_seconds is not None else None,
        }

    return router

