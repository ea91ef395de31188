"""FastAPI application: the HTTP API, error contract, static assets, and the
Gradio UI mounted at `/`.

    from traite_qa_app.server import create_app, serve
    app = create_app(settings)      # or create_app(assistant) in tests
    serve(settings)                 # uvicorn on settings.host:settings.port
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import FileResponse
from starlette.routing import Match

import traite_qa
from traite_qa import KINDS, ConfigError, Settings, Status

from . import chat
from .api import build_router
from .openai_api import build_openai_router
from .edge import Edge, HostPolicy
from .feedback_api import add_feedback_routes
from .errors import BodyLimitMiddleware, SafeJSONResponse, ValidationMessages, error_response, install_error_handlers
from .state import AppState

log = logging.getLogger("traite_qa_app")
HERE = Path(__file__).resolve().parent
STATIC_PREFIX = "/static/traite-qa"
STATIC_FILES = {
    "style.css": "text/css",
    "chat.js": "text/javascript",
    "actions.js": "text/javascript",
    "feedback.js": "text/javascript",
    "dashboard.js": "text/javascript",
    "page.js": "text/javascript",
}
SCRIPTS = [name for name, media in STATIC_FILES.items() if media == "text/javascript"]
# What `traite-qa chat` needs offline (set by serve(), never at import time).
OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}

DESCRIPTION = """
Questions and cited answers over the CNCDH's evaluation (2023) of France's 2nd
national action plan against trafficking in human beings (2019-2021).

Every error (4xx) has one shape:
`{{"error": {{"code": "...", "message": "...", "field": "..." | null}}}}`.
Request bodies over {max_body} KiB are refused with 413 (on every route).
The web chat is at `/`; Gradio's own API (`/ask`, `/search`) is usable with `gradio_client`.
"""


def create_app(
    settings_or_assistant: Settings | object | None = None, *, ui: bool = True, rebuild_stale: bool = False, preload: bool = False
) -> FastAPI:
    """The whole application. Pass Settings (the Assistant loads in the
    background at startup) or an already loaded Assistant (tests).
    `rebuild_stale`: rebuild an index the model no longer matches instead of
    reporting it (what `traite-qa chat` does). `preload`: start loading the
    Assistant now, while the UI is built, rather than at server startup."""
    if settings_or_assistant is None or isinstance(settings_or_assistant, Settings):
        state = AppState(settings=settings_or_assistant, rebuild_stale=rebuild_stale)
    else:
        state = AppState(assistant=settings_or_assistant)
    if preload:
        state.start_loading()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.start_loading()
        sessions = getattr(app.state, "sessions", None)  # set by _mount_ui: no UI, no sessions
        sweeper = asyncio.create_task(sessions.run()) if sessions is not None else None
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()

    settings = state.settings
    app = _fastapi(
        title="traite-qa",
        version=traite_qa.__version__,
        description=DESCRIPTION.format(max_body=settings.max_body_bytes // 1024),
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
    )
    app.state.traite_qa = state
    ev = state.evaluation
    messages = ValidationMessages(
        settings.max_question_chars,
        settings.max_k,
        len(ev.axes),
        len(ev.actions),
        len(ev.measures),
        KINDS,
        [s.slug for s in Status],
    )
    install_error_handlers(app, messages)
    router = build_router(state)
    add_feedback_routes(router, state)  # on this router, so APIRoutingGuard below knows them
    app.include_router(router)
    openai_router = build_openai_router(state)  # /v1/: for OpenAI clients and chat front-ends
    app.include_router(openai_router)
    _static_routes(app)
    # Gradio adds credentialed CORS headers (any Origin reflected when the
    # Host is localhost) unless the parent app has its own CORSMiddleware:
    # this one allows no origin. Edge also strips CORS headers from every reply.
    app.add_middleware(CORSMiddleware, allow_origins=[], allow_credentials=False)
    routes = [r for r in [*router.routes, *openai_router.routes] if isinstance(r, APIRoute)]
    app.add_middleware(APIRoutingGuard, routes=routes)
    if ui:
        _mount_ui(app, state)
    # Outermost last: Edge (Host, Origin, proxy headers, HEAD, security
    # headers) -> body cap -> GradioGuard -> APIRoutingGuard -> routes.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, timeout=settings.read_timeout)
    app.add_middleware(Edge, hosts=HostPolicy(settings.host, settings.trusted_hosts), trusted_proxy=settings.trusted_proxy)
    return app


def _mount_ui(app: FastAPI, state: AppState) -> None:
    import gradio as gr

    from .guard import GradioGuard, install_log_filter
    from .sessions import ClientEvents, Sessions
    from .ui import build_ui, theme

    install_log_filter()

    blocks = build_ui(state)
    settings = state.settings
    # Sessions whose state Gradio keeps (oldest dropped first): its default,
    # 10,000, lets anyone who makes up session ids hold that many (issue 23).
    blocks.state_session_capacity = settings.max_sessions
    gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        theme=theme(),
        css=(HERE / "style.css").read_text(encoding="utf-8"),
        head="".join(f'<script src="{STATIC_PREFIX}/{name}" defer></script>' for name in SCRIPTS),
        footer_links=["api"],
        ssr_mode=False,
        show_error=False,  # only our gr.Error messages reach clients, never an exception's text
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
        run_history=False,
        max_file_size=0,  # no file input: any upload is too large (GradioGuard refuses the route anyway)
        blocked_paths=["/"],  # and Gradio may move no file into its cache
    )
    # Gradio skips its allowed/blocked path check until `launch()` sets this;
    # a mounted app never launches. With it, blocked_paths applies too.
    blocks.has_launched = True
    app.state.sessions = Sessions(blocks, settings.session_idle_seconds)  # swept by create_app's lifespan
    app.add_middleware(
        GradioGuard, blocks=blocks, session_max_events=settings.session_max_events, queue_max_size=settings.queue_max_size,
        clients=ClientEvents(blocks, settings.client_max_events), sessions=app.state.sessions,
    )


def _fastapi(**kwargs) -> FastAPI:
    """FastAPI whose /docs page uses locally served Swagger UI files when
    `fastapi_offline` is installed (no CDN); plain FastAPI otherwise."""
    try:
        from fastapi_offline import FastAPIOffline
    except ImportError:  # pragma: no cover - depends on the environment
        return FastAPI(**kwargs)
    return FastAPIOffline(redoc_url=None, static_url="/static/docs", **kwargs)


def _static_routes(app: FastAPI) -> None:
    for name, media in STATIC_FILES.items():
        path = HERE / name

        def serve_file(path: Path = path, media: str = media):
            return FileResponse(path, media_type=media, headers={"Cache-Control": "no-cache"})

        app.add_api_route(f"{STATIC_PREFIX}/{name}", serve_file, methods=["GET"], include_in_schema=False)


class APIRoutingGuard:
    """Unknown /api/ and /v1/ paths get a JSON 404 and known ones called with another
    method (any method, even non-standard ones like QUERY) a JSON 405 with
    `Allow`, instead of falling through to the Gradio app mounted at `/`."""

    def __init__(self, app, routes: list[APIRoute], prefixes=("/api/", "/v1/"), exact=("/healthz", "/api", "/v1")):
        self.app = app
        self.routes = routes
        self.prefixes = prefixes
        self.exact = exact

    def allowed_methods(self, path: str) -> set[str]:
        scope = {"type": "http", "path": path, "method": "GET", "root_path": "", "path_params": {}}
        methods: set[str] = set()
        for route in self.routes:
            if route.path_regex.match(path) and route.matches(scope)[0] != Match.NONE:
                methods |= set(route.methods or ())
        return methods

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path in self.exact or path.startswith(self.prefixes)):
            return await self.app(scope, receive, send)
        methods = self.allowed_methods(path)
        if not methods:
            response = error_response(404, "not_found", f"no such endpoint: {path} (see /docs)")
        elif scope["method"] not in methods:
            allow = ", ".join(sorted(methods))
            response = error_response(
                405, "method_not_allowed", f"{scope['method']} is not allowed on {path}: use {allow}", None, {"Allow": allow}
            )
        else:
            return await self.app(scope, receive, send)
        await response(scope, receive, send)


# ------------------------------------------------------------------ serve
def check_port(host: str, port: int) -> None:
    """Fail early with a clear message when the address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise ConfigError(f"port {port} on {host} is already in use: pass --port N or set TRAITE_QA_PORT") from None
            raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror} (set --host/--port or TRAITE_QA_HOST/PORT)") from None


def url_for(settings: Settings) -> str:
    host = settings.host
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("localhost" if host == "::" else host)
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{settings.port}"


def serve(settings: Settings | None = None) -> None:
    """Serve the chat and the API with uvicorn; prints the URL once listening."""
    for name, value in OFFLINE_ENV.items():  # before gradio is imported (by create_app)
        os.environ.setdefault(name, value)
    import uvicorn

    from .http import bounded_protocol

    settings = settings or Settings.from_env()
    check_port(settings.host, settings.port)
    app = create_app(settings, rebuild_stale=True)
    url = url_for(settings)

    state = app.state.traite_qa

    def announce_ready() -> None:
        # « prêt » only once an answer is possible: the index loaded (built first on a first run).
        if state.wait_ready():
            print(f"traite-qa: prêt : vous pouvez poser vos questions sur {url}", flush=True)
        else:
            print(f"traite-qa: les réponses sont indisponibles : {state.error}", flush=True)

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if self.started:
                if state.ready:
                    doing = ""
                elif state.building:
                    doing = (f"; premier lancement : construction de l'index, environ {chat.BUILD_ESTIMATE:.0f} s "
                             "avant les premières réponses")
                else:
                    doing = f"; chargement du modèle et de l'index, environ {chat.LOAD_ESTIMATE:.0f} s"
                print(f"traite-qa: page servie sur {url}  (API : {url}/docs ; Ctrl+C pour arrêter){doing}", flush=True)
                threading.Thread(target=announce_ready, name="traite-qa-ready", daemon=True).start()

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=os.environ.get("TRAITE_QA_LOG_LEVEL", "warning").lower(),
        timeout_graceful_shutdown=3,
        # The request head: at most max_header_bytes (a 2,000-character GET
        # question fits; longer ones belong in POST /api/ask), within
        # read_timeout seconds (uvicorn alone waits forever).
        http=bounded_protocol(settings.read_timeout, settings.max_header_bytes),
        h11_max_incomplete_event_size=settings.max_header_bytes,
        # X-Forwarded-For/-Proto are applied by Edge, and only from a trusted proxy.
        proxy_headers=False,
        server_header=False,
    )
    Server(config).run()
