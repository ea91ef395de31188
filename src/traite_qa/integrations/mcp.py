"""`traite-qa mcp`: the search and the answers as tools for AI assistants,
over stdio, with the official MCP SDK (`pip install 'traite-qa[mcp]'`).

Tools: search(query, k, status, axis, kind), ask(question), get_measure(number),
list_measures(status?, axis?). Descriptions are in French and English. A bad
argument (k=0, "mesure 52", an unknown status) comes back as a tool error
(`isError: true`) whose text names the fix; the server keeps serving.

The index is loaded in the background from the start (built first when the
default one is missing, progress on stderr); the first call waits for it.
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations
# at run time, and they use local values (the settings' max_k).
import json
import re
import sys
import threading
from typing import Annotated, Any, Literal

from . import require_extra

require_extra("mcp", "mcp")

from mcp.server.mcpserver import MCPServer  # noqa: E402
from mcp.server.mcpserver.exceptions import ToolError  # noqa: E402
from mcp_types import ToolAnnotations  # noqa: E402
from pydantic import Field  # noqa: E402

from .. import __version__  # noqa: E402
from ..answer import Assistant  # noqa: E402
from ..errors import TraiteQAError  # noqa: E402
from ..settings import Settings  # noqa: E402
from ..types import KINDS  # noqa: E402

INSTRUCTIONS = (
    "FR : questions et réponses citées sur l'évaluation par la CNCDH (12 janvier 2023) du 2e plan d'action "
    "national contre la traite des êtres humains (2019-2021) : 6 axes, 17 actions, 45 mesures, chacune "
    "« Réalisée », « Partiellement réalisée » ou « Non réalisée ». Les citations sont en français, verbatim.\n"
    "EN: questions and cited answers over the CNCDH's evaluation (12 January 2023) of France's 2nd national "
    "action plan against trafficking in human beings (2019-2021): 6 axes, 17 actions, 45 measures, each "
    "'Réalisée' (done), 'Partiellement réalisée' (partly done) or 'Non réalisée' (not done). Quotes are "
    "verbatim French."
)
STATUS_HELP = (
    "FR : statut des mesures : realisee, partiellement-realisee ou non-realisee (ou le libellé français). "
    "EN: measure status: realisee (done), partiellement-realisee (partly done) or non-realisee (not done)."
)
AXIS_HELP = "FR : numéro d'axe du plan (1-6). EN: axis of the plan (1-6)."
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
Kind = Literal[KINDS]  # type: ignore[valid-type]  # the JSON schema lists the kinds


class _Loader:
    """One Assistant per server, loaded once in the background."""

    def __init__(self, settings: Settings, assistant: Assistant | None):
        self._assistant = assistant
        self._error: TraiteQAError | str | None = None
        self._done = threading.Event()
        if assistant is not None:
            self._done.set()
        else:
            threading.Thread(target=self._load, args=(settings,), name="traite-qa-load", daemon=True).start()

    def _load(self, settings: Settings) -> None:
        try:
            self._assistant = Assistant.load(settings=settings)
        except Exception as err:  # noqa: BLE001 - reported by every call: the server stays up to say so
            self._error = err if isinstance(err, TraiteQAError) else f"{type(err).__name__}: {err}"
        finally:
            self._done.set()
        if self._assistant is not None:
            try:  # the model too, while the client gets ready; a failure resurfaces (as a tool error) in search
                self._assistant.warm_up()
            except Exception:  # noqa: BLE001
                pass

    @property
    def assistant(self) -> Assistant:
        self._done.wait()
        if self._error is not None:
            raise ToolError(f"the index cannot be loaded: {self._error}")
        return self._assistant


def build_server(settings: Settings | None = None, assistant: Assistant | None = None) -> MCPServer:
    settings = settings or (assistant.settings if assistant else Settings.from_env())
    loader = _Loader(settings, assistant)
    server = MCPServer("traite-qa", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")

    @server.tool(
        title="Search the evaluation / Rechercher dans l'évaluation",
        annotations=READ_ONLY,
        structured_output=True,
        description=(
            "FR : recherche hybride (sens + mots exacts) dans l'évaluation ; renvoie les passages verbatim classés, "
            "avec leur mesure, statut, axe, action, note ou sigle. « mesure 16 », « note 47 » ou un sigle passent "
            "en premier.\n"
            "EN: hybrid search (meaning + exact words) over the evaluation; returns ranked verbatim passages with "
            "their measure, status, axis, action, footnote or acronym. 'mesure 16', 'note 47' or an acronym come first."
        ),
    )
    def search(
        query: Annotated[str, Field(description="FR : la requête, en français ou en anglais. EN: the query, French or English.")],
        k: Annotated[int, Field(ge=1, le=settings.max_k, description=f"FR : nombre de passages (1-{settings.max_k}). "
                                f"EN: number of passages (1-{settings.max_k}).")] = 5,
        status: Annotated[str | None, Field(description=STATUS_HELP)] = None,
        axis: Annotated[int | None, Field(description=AXIS_HELP)] = None,
        kind: Annotated[Kind | None, Field(description="FR : type de passage. EN: kind of passage.")] = None,
    ) -> dict[str, Any]:
        hits = _call(lambda: loader.assistant.searcher.search(query, k=k, status=status, axis=axis, kind=kind))
        return {"query": query, "hits": [hit.to_dict() for hit in hits]}

    @server.tool(
        title="Ask a question / Poser une question",
        annotations=READ_ONLY,
        structured_output=True,
        description=(
            "FR : répond à une question avec des citations verbatim (statut d'une mesure, sigle, note, chiffres, "
            "comptes) ; renvoie le JSON Answer : status (answered, no_evidence, invalid_question), answer, "
            "citations.\n"
            "EN: answers a question with verbatim quotes (a measure's status, an acronym, a footnote, figures, "
            "counts); returns the Answer JSON: status (answered, no_evidence, invalid_question), answer, citations."
        ),
    )
    def ask(
        question: Annotated[str, Field(description="FR : la question, ex. « Où en est la mesure 16 ? ». "
                                       "EN: the question, e.g. 'What is the status of measure 16?'.")],
    ) -> dict[str, Any]:
        return _call(lambda: loader.assistant.ask(question)).to_dict()

    @server.tool(
        title="One measure / Une mesure",
        annotations=READ_ONLY,
        structured_output=True,
        description=(
            "FR : une mesure du plan : titre, statut, axe, action, texte de l'évaluation et notes citées.\n"
            "EN: one measure of the plan: title, status, axis, action, the evaluation's text and the footnotes it cites."
        ),
    )
    def get_measure(
        number: Annotated[int, Field(description="FR : numéro de la mesure (1-45). EN: measure number (1-45).")],
    ) -> dict[str, Any]:
        return _call(lambda: _measure_detail(loader.assistant.evaluation, number))

    @server.tool(
        title="List measures / Lister les mesures",
        annotations=READ_ONLY,
        structured_output=True,
        description=(
            "FR : les mesures du plan avec leur statut, filtrables par statut et par axe.\n"
            "EN: the plan's measures with their status, optionally filtered by status and axis."
        ),
    )
    def list_measures(
        status: Annotated[str | None, Field(description=STATUS_HELP)] = None,
        axis: Annotated[int | None, Field(description=AXIS_HELP)] = None,
    ) -> dict[str, Any]:
        def run():
            assistant = loader.assistant
            filters = assistant.searcher.check_filters(status=status, axis=axis)
            chosen = [m for m in assistant.evaluation.measures
                      if (filters.status is None or m.status == filters.status)
                      and (filters.axis is None or m.axis == filters.axis)]
            return {"count": len(chosen), "measures": [_measure_summary(m) for m in chosen]}

        return _call(run)

    return server


def serve(settings: Settings | None = None) -> None:
    """Serve over stdio until the client closes it (the SDK keeps stray prints
    off the wire). Every line gets an answer: the SDK drops a line it cannot
    validate without a reply (a lone surrogate in an argument, malformed JSON),
    so lines are checked here first (`_Lines`)."""
    import anyio

    server = build_server(settings)

    async def run():
        from mcp.server.stdio import stdio_server

        # The SDK's own claim of fds 0 and 1 (stray prints off the wire), then our line check on top.
        async with stdio_server() as (read_stream, write_stream):
            await server._lowlevel_server.run(  # noqa: SLF001 - what MCPServer.run_stdio_async does
                _Checked(read_stream, write_stream), write_stream, server._lowlevel_server.create_initialization_options()
            )

    anyio.run(run)


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _scrub(value):
    """Lone surrogates (valid JSON escapes, not Unicode) become U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE_RE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    return value


class _Checked:
    """The SDK's read stream, with the lines it could not validate answered.

    The stdio transport sends an Exception (not a message) for a line it
    cannot validate, and the session only logs it: the client waits forever.
    Here the raw line is not available any more, so the exception's input is:
    pydantic keeps it. A lone surrogate is scrubbed and the message replayed;
    anything else gets a JSON-RPC error (-32700 parse error, -32600 invalid
    request) with the request's id when it has one."""

    def __init__(self, stream, write_stream):
        self._stream, self._write = stream, write_stream

    def __aiter__(self):
        return self._messages()

    @property
    def last_context(self):  # the sender's contextvars, as the SDK's own stream carries them
        return getattr(self._stream, "last_context", None)

    async def __aenter__(self):
        await self._stream.__aenter__()
        return self

    async def __aexit__(self, *exc):
        return await self._stream.__aexit__(*exc)

    async def aclose(self):
        await self._stream.aclose()

    async def receive(self):
        async for item in self._messages():
            return item
        raise StopAsyncIteration

    async def _messages(self):
        import mcp_types as types
        from mcp.shared.message import SessionMessage

        async for item in self._stream:
            if not isinstance(item, Exception):
                yield item
                continue
            raw = _raw_input(item)
            try:
                data = json.loads(raw) if raw is not None else None
            except ValueError:
                data = None
            if data is not None:
                try:
                    yield SessionMessage(types.jsonrpc_message_adapter.validate_json(
                        json.dumps(_scrub(data), ensure_ascii=False), by_name=False))
                    continue
                except Exception:  # noqa: BLE001 - not a JSON-RPC message even scrubbed: answered below
                    pass
            request_id = data.get("id") if isinstance(data, dict) else None
            if isinstance(request_id, bool) or not isinstance(request_id, (int, str)):
                request_id = None
            if isinstance(data, dict) and "method" not in data and ("result" in data or "error" in data):
                continue  # a malformed *response* of the client's: nothing to answer
            code, message = (-32600, "Invalid Request") if data is not None else (-32700, "Parse error")
            print(f"traite-qa mcp: {message.lower()} on a line from the client", file=sys.stderr)
            error = types.JSONRPCError(jsonrpc="2.0", id=request_id, error=types.ErrorData(code=code, message=message))
            await self._write.send(SessionMessage(error))


def _raw_input(exc: Exception) -> str | None:
    """The line a pydantic ValidationError was raised on, when it says."""
    try:
        errors = exc.errors()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        return None
    for error in errors:
        value = error.get("input")
        if isinstance(value, (str, bytes)):
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return None


def _call(fn):
    try:
        return fn()
    except TraiteQAError as err:  # a bad argument: the client's model reads the fix and retries
        raise ToolError(str(err)) from None


def _measure_summary(m) -> dict:
    d = m.summary_dict()
    return {"number": d["number"], "title": d["title"], "status": d["status"], "status_slug": m.status.slug,
            "axis": d["axis"], "action": d["action"], "group": d["group"], "footnotes": d["footnotes"]}


def _measure_detail(evaluation, number: int) -> dict:
    m = evaluation.measure(number)  # UnknownReferenceError names the range
    return {
        **_measure_summary(m),
        "axis_title": evaluation.axis(m.axis).label,
        "action_title": evaluation.action(m.action).label,
        "body": m.body,
        "footnotes": [{"number": f.number, "text": f.text, "urls": list(f.urls)}
                      for f in (evaluation.footnote(i) for i in m.footnotes)],
    }
