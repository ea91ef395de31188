"""`traite-qa mcp`: the search and the answers as tools for AI assistants,
over stdio, with the official MCP SDK (`pip install 'traite-qa[mcp]'`).

Tools: search(query, k, status, axis, kind), ask(question), get_measure(number),
list_measures(status?, axis?). Descriptions are in French and English. A bad
argument (k=0, "mesure 52", an unknown status) comes back as a tool error
(`isError: true`) whose text names the fix; the server keeps serving.

The index is loaded in the background from the start (built first when the
default one is missing, progress on stderr); the first call waits for it,
and sends the build's progress to a client that passed a progressToken
(mcp_progress.py).
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations
# at run time, and they use local values (the settings' max_k).
import enum
import functools
import json
import threading
from typing import Annotated, Any, Literal

from . import require_extra

require_extra("mcp", "mcp")

import anyio.from_thread  # noqa: E402 - the SDK's own async library
from mcp.server.mcpserver import Context, MCPServer  # noqa: E402
from mcp.server.mcpserver.resources import FunctionResource  # noqa: E402
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError  # noqa: E402
from mcp_types import ToolAnnotations  # noqa: E402
from pydantic import Field  # noqa: E402

from .. import __version__  # noqa: E402
from .mcp_lines import CheckedLines  # noqa: E402
from traite_qa_app.models import (  # noqa: E402 - the HTTP API's models, without FastAPI
    AnswerModel, MeasureDetail, MeasureList, SearchResponse, StatusFilter, measure_detail, measure_list,
)

from ..answer import Assistant  # noqa: E402
from ..document import parse_file  # noqa: E402
from ..errors import TraiteQAError  # noqa: E402
from ..index import make_embedder  # noqa: E402
from ..settings import Settings  # noqa: E402
from ..types import KINDS, Status  # noqa: E402
from .mcp_progress import BuildProgress, build_if_missing  # noqa: E402

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
    "FR : statut des mesures : realisee, partiellement-realisee ou non-realisee. "
    "EN: measure status: realisee (done), partiellement-realisee (partly done) or non-realisee (not done)."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
Kind = Literal[KINDS]  # type: ignore[valid-type]  # the JSON schema lists the kinds


class _Loader:
    """One Assistant per server, loaded once in the background."""

    def __init__(self, settings: Settings, assistant: Assistant | None):
        self._assistant = assistant
        self._error: TraiteQAError | str | None = None
        self._done = threading.Event()
        self.progress = BuildProgress()
        self._thread: threading.Thread | None = None
        if assistant is not None:
            self._done.set()
        else:
            self._thread = threading.Thread(target=self._load, args=(settings,), name="traite-qa-load", daemon=True)
            self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait for the load and warm-up before the process exits: a daemon
        thread still inside torch or LightGBM at interpreter shutdown aborts
        the process ("terminate called without an active exception" on stderr)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _load(self, settings: Settings) -> None:
        try:
            embedder = make_embedder(settings)
            build_if_missing(settings, embedder, self.progress)  # a first use: tool calls see its progress
            self._assistant = Assistant.load(settings=settings, embedder=embedder)
        except Exception as err:  # noqa: BLE001 - reported by every call: the server stays up to say so
            self._error = err if isinstance(err, TraiteQAError) else f"{type(err).__name__}: {err}"
        finally:
            self._done.set()
            self.progress.wake()
        if self._assistant is not None:
            try:  # the model too, while the client gets ready; a failure resurfaces (as a tool error) in search
                self._assistant.warm_up(page_in=False)
            except Exception:  # noqa: BLE001
                pass

    def ready(self, ctx: Context | None) -> Assistant:
        """The assistant, once loaded; meanwhile a tool call (in the SDK's worker
        thread) forwards the build's progress to a client that asked for it."""
        if ctx is not None and not self._done.is_set():
            self.progress.follow(self._done, lambda *step: anyio.from_thread.run(lambda: ctx.report_progress(*step)))
        return self.assistant

    @property
    def assistant(self) -> Assistant:
        self._done.wait()
        if self._error is not None:
            raise ToolError(f"the index cannot be loaded: {self._error}")
        return self._assistant


def build_server(settings: Settings | None = None, assistant: Assistant | None = None) -> MCPServer:
    return _build(settings, assistant)[0]


def _build(settings: Settings | None, assistant: Assistant | None) -> tuple[MCPServer, _Loader]:
    settings = settings or (assistant.settings if assistant else Settings.from_env())
    loader = _Loader(settings, assistant)
    # The structure alone (a parse, ~0.1 s): the input bounds, and the resources,
    # which need no index and answer while it loads.
    evaluation = assistant.evaluation if assistant else parse_file(settings.source)
    n_axes, n_measures, n_notes = len(evaluation.axes), len(evaluation.measures), len(evaluation.footnotes)
    axis_help = f"FR : numéro d'axe du plan (1-{n_axes}). EN: axis of the plan (1-{n_axes})."
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
        status: Annotated[StatusFilter | None, Field(description=STATUS_HELP)] = None,
        axis: Annotated[int | None, Field(ge=1, le=n_axes, description=axis_help)] = None,
        kind: Annotated[Kind | None, Field(description="FR : type de passage. EN: kind of passage.")] = None,
        ctx: Context = None,
    ) -> SearchResponse:
        hits = _call(lambda: loader.ready(ctx).searcher.search(query, k=k, status=_slug(status), axis=axis, kind=kind))
        return SearchResponse.model_validate({"query": query, "hits": [hit.to_dict() for hit in hits]})

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
        ctx: Context = None,
    ) -> AnswerModel:
        return AnswerModel.model_validate(_call(lambda: loader.ready(ctx).ask(question)).to_dict())

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
        number: Annotated[int, Field(ge=1, le=n_measures, description=f"FR : numéro de la mesure (1-{n_measures}). "
                                     f"EN: measure number (1-{n_measures}).")],
    ) -> MeasureDetail:
        return MeasureDetail.model_validate(_call(lambda: measure_detail(evaluation, evaluation.measure(number))))

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
        status: Annotated[StatusFilter | None, Field(description=STATUS_HELP)] = None,
        axis: Annotated[int | None, Field(ge=1, le=n_axes, description=axis_help)] = None,
        ctx: Context = None,
    ) -> MeasureList:
        def run():
            loader.ready(ctx)  # an index that cannot be loaded is reported by every tool
            chosen = evaluation.measures_with(status=Status.parse(_slug(status)) if status else None, axis=axis)
            return MeasureList.model_validate(measure_list(evaluation, chosen))

        return _call(run)

    # ------------------------------------------------------------ resources
    @server.resource("traite-qa://outline", name="outline", title="Plan outline / Structure du plan",
                     mime_type="application/json",
                     description="FR : axes, actions et mesures avec leur statut. EN: axes, actions and measures with their status.")
    def outline() -> str:
        return json.dumps(evaluation.outline(), ensure_ascii=False, indent=1)

    for m in evaluation.measures:  # listed one by one, so a client that only lists resources sees them
        server.add_resource(FunctionResource(
            uri=f"traite-qa://mesure/{m.number}", name=f"mesure-{m.number}", mime_type="text/markdown",
            title=f"Mesure {m.number} : {m.title} [{m.status.value}]",
            description=f"FR : la mesure {m.number}, son statut, son texte et ses notes. "
                        f"EN: measure {m.number}, its status, text and footnotes.",
            fn=functools.partial(_measure_markdown, evaluation, m.number)))

    @server.resource("traite-qa://mesure/{number}", name="mesure", title="A measure / Une mesure", mime_type="text/markdown",
                     description=f"FR : une mesure (1-{n_measures}) en Markdown. EN: one measure (1-{n_measures}) as Markdown.")
    def measure(number: int) -> str:
        return _found(lambda: _measure_markdown(evaluation, number))

    @server.resource("traite-qa://note/{number}", name="note", title="A footnote / Une note", mime_type="text/plain",
                     description=f"FR : une note de bas de page (1-{n_notes}), verbatim. "
                                 f"EN: one footnote (1-{n_notes}), verbatim.")
    def note(number: int) -> str:
        def text():
            f = evaluation.footnote(number)
            return "\n".join([f"({f.number}) {f.text}", *f.urls])

        return _found(text)

    # ---------------------------------------------------------------- prompt
    @server.prompt(name="answer_with_citations", title="Answer with citations / Répondre en citant",
                   description="FR : la question et les passages de l'évaluation qui y répondent, avec la consigne de "
                               "citer chaque affirmation [id]. EN: the question and the evaluation's passages that answer "
                               "it, with the instruction to cite every claim as [id].")
    def answer_with_citations(
        question: Annotated[str, Field(description="FR : la question. EN: the question.")],
    ) -> str:
        hits = _call(lambda: loader.assistant.searcher.search(question, k=6))
        passages = "\n\n".join(
            f"[{h.id}] ({h.header}{f' — {h.status}' if h.status else ''})\n{h.text}" for h in hits)
        return (
            "Réponds à la question en t'appuyant uniquement sur les passages ci-dessous, extraits verbatim de "
            "l'évaluation par la CNCDH du 2e plan national contre la traite des êtres humains (2019-2021). "
            "Cite chaque affirmation avec l'identifiant du passage entre crochets, ex. [mesure-16#1] ; donne le "
            "statut exact d'une mesure (« Réalisée », « Partiellement réalisée », « Non réalisée ») tel qu'il est "
            "écrit. Si les passages ne répondent pas, dis-le. Réponds dans la langue de la question.\n"
            "(EN: answer only from the passages below, cite every claim as [id], say so when they do not answer, "
            "and reply in the question's language.)\n\n"
            f"Passages :\n\n{passages}\n\nQuestion : {question}"
        )

    return server, loader


def _found(fn):
    """A resource that does not exist (mesure/52) is the client's error (-32602, naming the range), not a crash."""
    try:
        return fn()
    except TraiteQAError as err:
        raise ResourceNotFoundError(str(err)) from None


def _slug(status) -> str | None:
    return status.value if isinstance(status, enum.Enum) else status


def _measure_markdown(evaluation, number: int) -> str:
    d = measure_detail(evaluation, evaluation.measure(number))  # UnknownReferenceError names the range
    notes = "".join(f"\n({f['number']}) {f['text']}" + "".join(f"\n{u}" for u in f["urls"]) for f in d["footnotes"])
    return (f"# Mesure {d['number']} : {d['title']}\n\n"
            f"Statut : {d['status']}\n"
            f"Axe {d['axis']} : {d['axis_title']}\n"
            f"Action {d['action']} : {d['action_title']}\n\n"
            f"{d['body']}\n" + (f"\n## Notes\n{notes}\n" if notes else ""))


def serve(settings: Settings | None = None) -> None:
    """Serve over stdio until the client closes it (the SDK keeps stray prints
    off the wire). Every line gets an answer: the SDK drops a line it cannot
    validate without a reply (a lone surrogate in an argument, malformed JSON),
    so lines are checked here first (`mcp_lines.CheckedLines`)."""
    import anyio

    import logging

    # bm25s sets its own logger to DEBUG ("Building index from tokens" at every
    # load): on an MCP server's stderr, only real warnings.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    server, loader = _build(settings, None)

    async def run():
        from mcp.server.stdio import stdio_server

        # The SDK's own claim of fds 0 and 1 (stray prints off the wire), then our line check on top.
        async with stdio_server() as (read_stream, write_stream):
            await server._lowlevel_server.run(  # noqa: SLF001 - what MCPServer.run_stdio_async does
                CheckedLines(read_stream, write_stream), write_stream, server._lowlevel_server.create_initialization_options()
            )

    try:
        anyio.run(run)
    finally:
        loader.join(timeout=120)  # a first build can take minutes; past that, exit anyway


def _call(fn):
    try:
        return fn()
    except TraiteQAError as err:  # a bad argument: the client's model reads the fix and retries
        raise ToolError(str(err)) from None
