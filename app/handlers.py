"""What the page's events and the named Gradio endpoints run (ui.py wires them).

The chat turn (`respond`) is fed by chat.js, one question at a time: the
page echoes a question at once and queues the next ones, so none is dropped
while an answer is pending. While the model loads, the pending bubble shows
progress with an estimate (`#tqa-live`); the conversation is rendered once
the answer is final. `restore` re-renders a conversation the browser kept
(localStorage) after a reload.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

import gradio as gr

from traite_qa import TraiteQAError

from . import chat, render
from .feedback_api import operator_refusal
from .feedback_view import retours_html
from .state import AppState, AssistantUnavailable

log = logging.getLogger("traite_qa_app")

# The "Recherche" tab warns when even the closest passage is this far from the
# query (a display hint for raw search; answers decide with the answerability model).
SEARCH_HINT_COSINE = 0.82


_WIDE = re.compile(r"[^\x00-\xff]")


def latin1(html: str) -> str:
    """`html` with every character past U+00FF as a numeric reference. Gradio
    keeps each session's last outputs until the session goes; CPython stores
    a string at the width of its widest character, so one 👍 made a restored
    conversation's HTML 4 bytes a character (issue 23: +0.5 MB a session).
    The browser shows the same text: references are decoded in text,
    attributes and textareas alike."""
    return _WIDE.sub(lambda m: f"&#{ord(m.group())};", html)


class Handlers:
    def __init__(self, state: AppState):
        self.state = state
        self.settings = state.settings
        self.n_axes = len(state.evaluation.axes)
        self.notes = state.notes()

    # ------------------------------------------------------------- chat
    def render_chat(self, turns):
        comment_chars = self.settings.feedback_comment_chars
        render_id = secrets.token_hex(6)
        return (latin1(render.conversation_html(turns, comment_chars, render_id)),
                latin1(render.sources_html(turns, self.notes, self.state.evaluation)))

    def respond(self, message, turns, axis, status):
        """One chat turn. Outputs: outbox, conversation, sources, turns, live text, record."""
        settings = self.settings
        skip = gr.skip()
        turns = list(turns or [])
        if not isinstance(message, str) or not message.strip():
            yield skip, skip, skip, skip, skip, skip
            return
        if len(message) > settings.max_question_chars:  # refused, and not kept whole
            turns = chat.capped(turns + [chat.refused_turn(message, settings.max_question_chars)], settings.max_chat_turns)
            yield "", *self.render_chat(turns), turns, "", chat.record_html(turns)
            return
        pending = {"question": message, "answer": None, "partial": "" if self.state.ready else chat.LOADING}
        turns = chat.capped(turns + [pending], settings.max_chat_turns)
        yield "", *self.render_chat(turns), turns, "", skip
        filters = None
        try:
            filters = {"axis": chat.parse_axis(axis, self.n_axes), "status": chat.parse_status(status)}
            assistant = None
            for progress in self.wait_for_model():
                if isinstance(progress, str):
                    yield skip, skip, skip, skip, progress, skip
                else:
                    assistant = progress
            history = chat.history_for(turns[:-1], settings.max_history_messages)
            final, streamed, shown_at = None, "", time.monotonic()
            for item in chat.pieces(assistant.ask_stream(message, history, **filters)):
                if not isinstance(item, str):
                    final = item
                    break
                # An extractive answer is whole at once: rendered once, below.
                # A generated one streams into #tqa-live only, up to the cap,
                # at most every LIVE_INTERVAL (pieces that come faster are
                # shown together; the final answer replaces them anyway).
                if assistant.generator is None or len(streamed) >= settings.max_stream_chars:
                    continue
                streamed += item
                if time.monotonic() - shown_at >= chat.LIVE_INTERVAL:
                    shown_at = time.monotonic()
                    yield skip, skip, skip, skip, chat.live_html(streamed, settings.max_stream_chars), skip
            answer = self.state.feedback.served(final) if final is not None else chat.error_answer(chat.INTERNAL)
        except AssistantUnavailable as err:
            answer = chat.error_answer(
                "Le modèle est encore en cours de chargement : reposez la question dans quelques secondes."
                if err.loading else "L'index n'a pas pu être chargé : l'exploitant du service doit le reconstruire (traite-qa build)."
            )
        except chat.BadInput:
            answer = chat.error_answer("Un filtre n'est pas valable : choisissez-le à nouveau dans la liste.")
        except TraiteQAError:
            answer = chat.error_answer("La question n'a pas pu être traitée : reformulez-la.")
        except Exception:  # noqa: BLE001 - a bug or an upstream failure: a generic note here, the detail in the log
            log.exception("traite-qa: chat turn failed (question of %d characters)", len(message))
            answer = chat.error_answer(chat.INTERNAL)
        turn = {"question": message, "answer": answer}
        used = chat.filters_of(filters["axis"], filters["status"]) if filters else None
        if used:
            turn["filters"] = used
        turns[-1] = turn
        yield skip, *self.render_chat(turns), turns, "", chat.record_html(turns, turn)

    def wait_for_model(self):
        """Yields progress HTML while the model loads, then the Assistant.
        Gives up after CHAT_LOAD_WAIT seconds (AssistantUnavailable)."""
        started = time.monotonic()
        wait = 0.0  # the first look does not wait: a loaded model answers at once
        while True:
            try:
                yield self.state.assistant(timeout=wait)
                return
            except AssistantUnavailable as err:
                if not err.loading or time.monotonic() - started >= chat.CHAT_LOAD_WAIT:
                    raise
            since = self.state.load_started or started
            yield chat.loading_html(time.monotonic() - since, building=self.state.building)
            wait = chat.LOAD_TICK

    def restore(self, payload, turns):
        """The conversation the browser kept, rendered again after a reload
        (only into a session that has none yet)."""
        if turns:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        saved = chat.parse_saved(payload, self.settings.max_chat_turns, self.settings.max_question_chars)
        if not saved:
            return "", gr.skip(), gr.skip(), gr.skip(), chat.record_html([], restored=True)
        return "", *self.render_chat(saved), saved, chat.record_html(saved, restored=True)

    def clear(self):
        return "", *self.render_chat([]), [], "", chat.record_html([])

    @staticmethod
    def no_filters():
        return "", ""

    # ----------------------------------------------------------- search
    def run_search(self, query, k, status, axis, kind) -> dict:
        """Checked inputs -> {"query", "hits"}; BadInput, AssistantUnavailable or TraiteQAError otherwise."""
        query = chat.parse_question(query)
        filters = {
            "k": chat.parse_k(k, self.settings.max_k),
            "status": chat.parse_status(status),
            "axis": chat.parse_axis(axis, self.n_axes),
            "kind": chat.parse_kind(kind),
        }
        hits = self.state.assistant(timeout=0).searcher.search(query, **filters)
        return {"query": query, "hits": [h.to_dict() for h in hits]}

    def search_ui(self, query, k, status, axis, kind):
        ev = self.state.evaluation
        try:
            result = self.run_search(query, k, status, axis, kind)
        except AssistantUnavailable as err:
            return render.error_html("Le modèle est encore en cours de chargement : relancez la recherche dans quelques secondes."
                                     if err.loading else "L'index n'a pas pu être chargé.")
        except (chat.BadInput, TraiteQAError) as err:
            return render.error_html(chat.search_problem(err, self.settings.max_question_chars, len(ev.measures), len(ev.footnotes)))
        return render.hits_html(result["query"], result["hits"], ev, floor=SEARCH_HINT_COSINE)

    # ----------------------------------------------------- the operator
    def retours(self, request: gr.Request):
        """The "retours" view, for the operator only: from the machine itself
        (loopback), or with `Authorization: Bearer <TRAITE_QA_FEEDBACK_TOKEN>`."""
        hidden = gr.update(visible=False, value="")
        if not operator_request(request, self.settings.feedback_token, self.settings.trusted_proxy is not None):
            return hidden, gr.update(visible=False)
        try:
            html = ('<h2 class="tqa-retours-title">Retours des utilisateurs</h2><p class="tqa-help">Visible seulement par '
                    "l'exploitant (depuis cette machine, ou avec le jeton des retours).</p>"
                    + retours_html(self.state.feedback.store.summary(10)))
        except TraiteQAError:
            html = render.error_html("Les retours ne sont pas lisibles : la base de données est indisponible.")
        return gr.update(visible=True, value=html), gr.update(visible=True)

    # ------------------------------------------------------ API endpoints
    # Neither waits for the model: while it loads they fail at once (gr.Error).
    def ask_api(self, question: str, history: list | None = None, axis: int | None = None, status: str | None = None) -> dict:
        """Answer a question with cited passages (not streamed). Returns the Answer JSON."""
        try:
            question = chat.parse_question(question)
            history = chat.parse_history(history, self.settings.max_history_messages)
            filters = {"axis": chat.parse_axis(axis, self.n_axes), "status": chat.parse_status(status)}
            return self.state.feedback.served(self.state.assistant(timeout=0).ask(question, history, **filters))
        except (chat.BadInput, AssistantUnavailable, TraiteQAError) as err:
            raise gr.Error(str(err)) from None

    def search_api(self, query: str, k: int = 5, status: str | None = None, axis: int | None = None, kind: str | None = None) -> dict:
        """Hybrid search; returns {"query", "hits"} like GET /api/search."""
        try:
            return self.run_search(query, k, status, axis, kind)
        except (chat.BadInput, AssistantUnavailable, TraiteQAError) as err:
            raise gr.Error(str(err)) from None


def operator_request(request, token: str | None, proxied: bool = False) -> bool:
    """The feedback summary's rule (feedback_api.operator_refusal) applied to a Gradio request."""
    if request is None:
        return False
    headers = getattr(request, "headers", None) or {}
    client = getattr(request, "client", None)
    return operator_refusal(getattr(client, "host", "") or "", headers.get("authorization", ""), token, proxied) is None
