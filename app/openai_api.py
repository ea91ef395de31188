"""An OpenAI-compatible chat API, so any OpenAI client or chat front-end
(Open WebUI, LibreChat, the `openai` package) can ask the assistant:

    GET  /v1/models               one model, "traite-qa"
    POST /v1/chat/completions     the last user message is the question; the
                                  earlier user/assistant messages are the
                                  conversation, used for follow-ups as the
                                  chat uses them. `"stream": true` sends SSE
                                  `data: {chunk}` lines, then `data: [DONE]`.

The answer keeps its [Mesure N] markers; a "Sources :" block listing the
cited passages is appended to the text, and `message.citations` (in the last
chunk's `delta` when streaming) carries them as objects. System messages and
sampling options (temperature, max_tokens...) are accepted and ignored: the
answers are extractive, not sampled.

Errors from these routes are in OpenAI's shape,
`{"error": {"message", "type", "param", "code"}}`. The body cap, Host/Origin
checks and security headers of every route apply here as well (server.py).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import StreamingResponse

from traite_qa import TraiteQAError, clean_question

from .errors import SafeJSONResponse
from .models import MAX_TURN_CHARS
from .state import AppState, AssistantUnavailable

MODEL_ID = "traite-qa"
CREATED = 1_700_000_000  # a fixed "created" for the model list: there is one model, it has no release date
# What separates the answer from its sources in the text; stripped from an
# assistant message sent back as history, so the sources do not look like the answer.
SOURCES_HEAD = "\n\nSources :\n"
MAX_PARTS = 20


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: str = Field(max_length=MAX_TURN_CHARS)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")  # name, tool_calls...: not used
    role: Literal["system", "developer", "user", "assistant"]
    content: Annotated[str, Field(max_length=MAX_TURN_CHARS)] | Annotated[list[TextPart], Field(max_length=MAX_PARTS)] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content)
        return self.content or ""


class OpenAIError(Exception):
    def __init__(self, status: int, message: str, code: str, param: str | None = None, kind: str = "invalid_request_error",
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.kind, self.headers = status, message, code, param, kind, headers

    def response(self) -> SafeJSONResponse:
        body = {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}
        return SafeJSONResponse(body, status_code=self.status, headers=self.headers)


def request_model(max_messages: int):
    """The request body; the message count is a setting (history + the question)."""

    class ChatRequest(BaseModel):
        model_config = ConfigDict(extra="ignore")  # temperature, max_tokens, stream_options...: accepted, not used
        model: str = Field(min_length=1, max_length=100)
        messages: list[ChatMessage] = Field(min_length=1, max_length=max_messages)
        stream: bool = False
        n: int = Field(default=1, ge=1, le=1)

    return ChatRequest


def _param(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith(("str", "list[", "constrained", "function")):  # pydantic's union branch names
            out += f".{part}" if out else str(part)
    return out or "body"


def validation_error(err: ValidationError) -> OpenAIError:
    first = err.errors(include_url=False, include_input=False)[0]
    param = _param(first["loc"])
    return OpenAIError(400, f"invalid {param}: {first['msg']}", "invalid_value", param)


def conversation(messages: list[ChatMessage], max_history: int) -> tuple[str, list[dict] | None]:
    """The question (the last message, from the user) and the history the
    assistant takes for follow-ups: the earlier user and assistant turns."""
    last = messages[-1]
    if last.role != "user":
        raise OpenAIError(400, f"the last message must come from the user (it is '{last.role}'): end with the question",
                          "invalid_value", f"messages[{len(messages) - 1}].role")
    history = []
    for message in messages[:-1]:
        if message.role in ("user", "assistant"):
            text = message.text()
            if message.role == "assistant":
                text = text.split(SOURCES_HEAD, 1)[0]
            history.append({"role": message.role, "content": text})
    return last.text(), history[-max_history:] or None


def citation_of(c: dict) -> dict:
    return {key: c.get(key) for key in ("marker", "id", "kind", "title", "measures", "status", "axis", "action", "quotes")}


def sources_text(citations: list[dict]) -> str:
    if not citations:
        return ""
    lines = []
    for c in citations:
        status = f" ({c['status']})" if c.get("status") else ""
        lines.append(f"- [{c['marker']}] {c.get('title') or c['id']}{status}")
    return SOURCES_HEAD + "\n".join(lines)


def build_openai_router(state: AppState) -> APIRouter:
    settings = state.settings
    max_chars = settings.max_question_chars
    ChatRequest = request_model(settings.max_history_messages + 1)
    # As the chat: `chat_concurrency` completions run at once, at most
    # `queue_max_size` more wait, and any beyond get 429 at once.
    slots = Slots(settings.chat_concurrency, settings.chat_concurrency + settings.queue_max_size)
    # Outside /openapi.json: the contract is OpenAI's (its own spec), whose
    # validation happens here rather than in FastAPI's.
    router = APIRouter(include_in_schema=False)

    async def parsed(request: Request):
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError):
            raise OpenAIError(400, "the body is not valid JSON: send a chat completion request", "invalid_json", "body") from None
        if not isinstance(body, dict):
            raise OpenAIError(400, "the body must be a JSON object with model and messages", "invalid_value", "body")
        try:
            chat = ChatRequest.model_validate(body)
        except ValidationError as err:
            raise validation_error(err) from None
        if chat.model != MODEL_ID:
            raise OpenAIError(404, f"the model '{chat.model[:100]}' does not exist: use '{MODEL_ID}' (GET /v1/models)",
                              "model_not_found", "model")
        question, history = conversation(chat.messages, settings.max_history_messages)
        try:
            clean_question(question, max_chars)
        except TraiteQAError as err:
            raise OpenAIError(400, f"invalid question (the last user message): {err}", "invalid_question",
                              f"messages[{len(chat.messages) - 1}].content") from None
        try:
            assistant = state.assistant(timeout=0)
        except AssistantUnavailable as err:
            raise OpenAIError(503, str(err), "index_loading" if err.loading else "index_unavailable", None,
                              "server_error", {"Retry-After": "5"}) from None
        return chat, question, history, assistant

    @router.get("/v1/models", summary="The one model: traite-qa (OpenAI-compatible)", tags=["openai"])
    def models():
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": CREATED, "owned_by": "traite-qa"}]}

    @router.post("/v1/chat/completions", summary="Ask, OpenAI-compatible (stream or not)", tags=["openai"])
    async def completions(request: Request):
        if not slots.enter():
            return OpenAIError(429, "too many requests at once: retry in a few seconds", "rate_limit_exceeded",
                               None, "rate_limit_error", {"Retry-After": "2"}).response()
        streaming = False
        try:
            chat, question, history, assistant = await parsed(request)
            completion_id = f"chatcmpl-{uuid.uuid4().hex}"
            created = int(time.time())
            if chat.stream:
                streaming = True  # the stream leaves its slot when it ends
                return StreamingResponse(_stream(assistant, question, history, completion_id, created, slots),
                                         media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
            async with slots.running:
                answer = (await run_in_threadpool(assistant.ask, question, history)).to_dict()
        except OpenAIError as err:
            return err.response()
        finally:
            if not streaming:
                slots.leave()
        citations = [citation_of(c) for c in answer["citations"]]
        message = {"role": "assistant", "content": answer["answer"] + sources_text(citations), "citations": citations}
        return {
            "id": completion_id, "object": "chat.completion", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
            "answer_id": answer["answer_id"], "status": answer["status"],
        }

    return router


def _chunk(completion_id: str, created: int, delta: dict, finish: str | None = None, **extra) -> str:
    chunk = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
    return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"


class Slots:
    """Completions under way (counted in the event loop's thread: no lock)."""

    def __init__(self, running: int, limit: int):
        self.running = asyncio.Semaphore(running)
        self.limit = limit
        self.taken = 0

    def enter(self) -> bool:
        if self.taken >= self.limit:
            return False
        self.taken += 1
        return True

    def leave(self) -> None:
        self.taken -= 1


async def _stream(assistant, question, history, completion_id, created, slots: Slots):
    try:
        async with slots.running:
            async for line in _lines(assistant, question, history, completion_id, created):
                yield line
    finally:
        slots.leave()


async def _lines(assistant, question, history, completion_id, created):
    yield _chunk(completion_id, created, {"role": "assistant", "content": ""})
    streamed = False
    final = None
    # ask_stream yields verified text pieces (a generated answer), then
    # the final Answer; an extractive answer comes as the Answer alone.
    async for item in iterate_in_threadpool(assistant.ask_stream(question, history)):
        if isinstance(item, str):
            if item:
                streamed = True
                yield _chunk(completion_id, created, {"content": item})
        else:
            final = item.to_dict()
    citations = [citation_of(c) for c in final["citations"]]
    text = ("" if streamed else final["answer"]) + sources_text(citations)
    if text:
        yield _chunk(completion_id, created, {"content": text})
    yield _chunk(completion_id, created, {"citations": citations}, "stop",
                 answer_id=final["answer_id"], status=final["status"])
    yield "data: [DONE]\n\n"
