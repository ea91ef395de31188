"""The Gradio interface: chat with cited passages, status dashboard, raw search.

All HTML is built by `render` (escaped); Gradio only moves it around. The
marker chips, copy buttons and closest-topic chips work client-side
(`chat.js`, loaded from /static/traite-qa/).

Named endpoints for `gradio_client`:
  /ask     (question, history, axis, status) -> Answer JSON (not streamed)
  /search  (query, k, status, axis, kind)   -> {"query", "hits"}
  /chat    the streaming chat itself (undocumented: returns HTML)
"""

from __future__ import annotations

import logging
import time

import gradio as gr
import pandas as pd

from traite_qa import KINDS, Status, TraiteQAError

from . import chat, render
from .state import AppState, AssistantUnavailable

log = logging.getLogger("traite_qa_app")

EXAMPLES = [
    "Où en est la mesure 16 ?",
    "Combien de mesures sont réalisées ?",
    "Qu'est-ce que l'OCRTEH ?",
    "Que recommande la CNCDH sur la formation des magistrats ?",
    "Pourquoi la mesure 2 n'a-t-elle pas été réalisée ?",
    "What is the status of measure 3?",
]
STATUS_CHOICES = [("Tous les statuts", "")] + [(s.value, s.slug) for s in Status]
STATUS_COLORS = {"Réalisée": "#2e7d32", "Partiellement réalisée": "#e0a100", "Non réalisée": "#c62828"}
# One concurrency group for everything that runs the model: the chat, the
# search tab and the /ask and /search endpoints share its limit and queue.
WORK = "answer"


def theme() -> gr.themes.Base:
    # System fonts only: the default theme would fetch Google Fonts.
    return gr.themes.Default(
        primary_hue="indigo",
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )


# ------------------------------------------------------------ frames
def status_plot_frame(evaluation) -> pd.DataFrame:
    rows = []
    for axis in evaluation.axes:
        for status in Status:
            count = len(evaluation.measures_with(status=status, axis=axis.number))
            if count:  # a zero-height bar only clutters the tooltip
                rows.append({"Axe": f"Axe {axis.number}", "Statut": status.value, "Mesures": count})
    return pd.DataFrame(rows)


def measures_frame(evaluation) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "N°": m.number,
                "Mesure": m.title,
                "Axe": m.axis,
                "Action": m.action,
                "Statut": m.status.value,
            }
            for m in evaluation.measures
        ]
    )


# --------------------------------------------------------------- the UI
def build_ui(state: AppState) -> gr.Blocks:
    ev = state.evaluation
    settings = state.settings
    n_axes = len(ev.axes)
    axis_choices = [("Tous les axes", "")] + [(f"Axe {a.number} — {a.label}", str(a.number)) for a in ev.axes]
    notes = state.notes()

    def render_chat(turns):
        evaluation = state.evaluation
        return render.conversation_html(turns), render.sources_html(turns, notes, evaluation)

    # ---------------------------------------------------------------- chat
    def respond(message, turns, axis, status):
        """One chat turn. Outputs: question box, conversation, sources, turns, live text."""
        skip = gr.skip()
        turns = list(turns or [])
        if not isinstance(message, str) or not message.strip():
            yield skip, skip, skip, skip, skip
            return
        if len(message) > settings.max_question_chars:  # refused, and not kept whole
            turns = chat.capped(turns + [chat.refused_turn(message, settings.max_question_chars)], settings.max_chat_turns)
            yield "", *render_chat(turns), turns, ""
            return
        turns = chat.capped(turns + [{"question": message, "answer": None, "partial": "" if state.ready else chat.LOADING}],
                            settings.max_chat_turns)
        yield "", *render_chat(turns), turns, ""
        try:
            filters = {"axis": chat.parse_axis(axis, n_axes), "status": chat.parse_status(status)}
            assistant = state.assistant(timeout=chat.CHAT_LOAD_WAIT)
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
                    yield skip, skip, skip, skip, chat.live_html(streamed, settings.max_stream_chars)
            answer = final.to_dict() if final is not None else chat.error_answer(chat.INTERNAL)
        except AssistantUnavailable as err:
            answer = chat.error_answer(f"L'index n'est pas disponible : {err}")
        except chat.BadInput as err:
            answer = chat.error_answer(f"Filtre invalide : {err}")
        except TraiteQAError as err:
            answer = chat.error_answer(f"Question impossible à traiter : {err}")
        except Exception:  # noqa: BLE001 - a bug or an upstream failure: a generic note here, the detail in the log
            log.exception("traite-qa: chat turn failed (question of %d characters)", len(message))
            answer = chat.error_answer(chat.INTERNAL)
        turns[-1] = {"question": message, "answer": answer}
        yield skip, *render_chat(turns), turns, ""

    def clear():
        return "", *render_chat([]), [], ""

    # --------------------------------------------------------- dashboard
    def open_measure(evt: gr.SelectData):
        try:
            row = evt.row_value or []
            number = int(row[0])
            return render.measure_html(ev.measure(number), ev)
        except (TypeError, ValueError, IndexError, TraiteQAError):
            return render.error_html("Sélectionnez une ligne du tableau pour afficher la mesure.")

    # ------------------------------------------------------------ search
    def run_search(query, k, status, axis, kind) -> dict:
        """Checked inputs -> {"query", "hits"}; BadInput, AssistantUnavailable or TraiteQAError otherwise."""
        query = chat.parse_question(query)
        filters = {
            "k": chat.parse_k(k, settings.max_k),
            "status": chat.parse_status(status),
            "axis": chat.parse_axis(axis, n_axes),
            "kind": chat.parse_kind(kind),
        }
        hits = state.assistant(timeout=0).searcher.search(query, **filters)
        return {"query": query, "hits": [h.to_dict() for h in hits]}

    def search_ui(query, k, status, axis, kind):
        try:
            result = run_search(query, k, status, axis, kind)
        except AssistantUnavailable as err:
            return render.error_html(f"L'index n'est pas disponible : {err}")
        except (chat.BadInput, TraiteQAError) as err:
            return render.error_html(f"Recherche impossible : {err}")
        return render.hits_html(result["query"], result["hits"], state.evaluation)

    # ------------------------------------------------------ API endpoints
    # Neither waits for the model: while it loads they fail at once (gr.Error).
    def ask_api(question: str, history: list | None = None, axis: int | None = None, status: str | None = None) -> dict:
        """Answer a question with cited passages (not streamed). Returns the Answer JSON."""
        try:
            question = chat.parse_question(question)
            history = chat.parse_history(history, settings.max_history_messages)
            filters = {"axis": chat.parse_axis(axis, n_axes), "status": chat.parse_status(status)}
            return state.assistant(timeout=0).ask(question, history, **filters).to_dict()
        except (chat.BadInput, AssistantUnavailable, TraiteQAError) as err:
            raise gr.Error(str(err)) from None

    def search_api(query: str, k: int = 5, status: str | None = None, axis: int | None = None, kind: str | None = None) -> dict:
        """Hybrid search; returns {"query", "hits"} like GET /api/search."""
        try:
            return run_search(query, k, status, axis, kind)
        except (chat.BadInput, AssistantUnavailable, TraiteQAError) as err:
            raise gr.Error(str(err)) from None

    # ----------------------------------------------------------- layout
    with gr.Blocks(title="traite-qa — évaluation du 2e plan contre la traite des êtres humains", analytics_enabled=False) as demo:
        gr.HTML(
            '<header class="tqa-header"><h1>Évaluation du 2<sup>e</sup> plan national contre la traite des êtres humains</h1>'
            "<p>Questions-réponses sur l'avis de la CNCDH (2023) : chaque réponse cite les passages du document.</p></header>",
            elem_id="tqa-header",
        )
        with gr.Tabs(elem_id="tqa-tabs"):
            with gr.Tab("Chat", id="chat", elem_id="tqa-tab-chat"):
                turns = gr.State([])
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=360):
                        conversation = gr.HTML(render.conversation_html([]), elem_id="tqa-conversation-box", autoscroll=True)
                        # A generated answer's text while it streams; chat.js shows it in the pending bubble.
                        live = gr.HTML("", elem_id="tqa-live", elem_classes=["tqa-live"], padding=False)
                        with gr.Row(equal_height=True):
                            question = gr.Textbox(
                                show_label=False,
                                placeholder="Votre question (ex. : Où en est la mesure 16 ?)",
                                lines=1,
                                max_lines=5,
                                max_length=settings.max_question_chars,
                                elem_id="tqa-question",
                                scale=6,
                                autofocus=True,
                            )
                            send = gr.Button("Envoyer", variant="primary", elem_id="tqa-send", scale=1, min_width=100)
                        with gr.Row():
                            axis = gr.Dropdown(axis_choices, value="", label="Filtrer par axe", elem_id="tqa-axis", scale=3)
                            status = gr.Dropdown(STATUS_CHOICES, value="", label="Filtrer par statut", elem_id="tqa-status", scale=2)
                        with gr.Row():
                            clear_btn = gr.Button("Effacer la conversation", elem_id="tqa-clear", size="sm")
                            gr.Button("Copier la réponse", elem_id="tqa-copy-last", size="sm")
                        gr.HTML('<p class="tqa-examples-label">Exemples (un clic pose la question) :</p>')
                        with gr.Row(elem_id="tqa-examples"):
                            example_buttons = [gr.Button(q, size="sm", elem_classes=["tqa-example"]) for q in EXAMPLES]
                    with gr.Column(scale=2, min_width=320, elem_id="tqa-sources-col"):
                        sources = gr.HTML(render.sources_html([]), elem_id="tqa-sources-box")

            with gr.Tab("Tableau de bord", id="dashboard", elem_id="tqa-tab-dashboard"):
                gr.HTML(render.status_summary_html(ev), elem_id="tqa-summary")
                gr.BarPlot(
                    status_plot_frame(ev),
                    x="Axe",
                    y="Mesures",
                    color="Statut",
                    color_map=STATUS_COLORS,
                    y_lim=[0, None],
                    title="Statut des mesures par axe",
                    x_title="Axe",
                    y_title="Nombre de mesures",
                    color_title="Statut",
                    sort=[f"Axe {a.number}" for a in ev.axes],
                    elem_id="tqa-plot",
                    height=320,
                )
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        table = gr.Dataframe(
                            measures_frame(ev),
                            interactive=False,
                            show_search="search",
                            wrap=True,
                            max_height=2600,  # all 45 rows in the page (no virtual scrolling)
                            column_widths=["7%", "53%", "8%", "10%", "22%"],
                            datatype=["number", "str", "number", "number", "str"],
                            label="Les 45 mesures (cliquez sur une ligne pour lire la mesure)",
                            elem_id="tqa-table",
                        )
                    with gr.Column(scale=2, elem_id="tqa-measure-col"):
                        measure = gr.HTML(
                            '<p class="tqa-none">Cliquez sur une ligne du tableau pour lire le texte de la mesure et ses notes.</p>',
                            elem_id="tqa-measure",
                        )

            with gr.Tab("Recherche", id="search", elem_id="tqa-tab-search"):
                gr.HTML('<p class="tqa-help">Recherche brute (dense + BM25, fusion RRF) : les passages classés avec leurs scores.</p>')
                with gr.Row(equal_height=True):
                    query = gr.Textbox(label="Requête", placeholder="ex. : mécanisme national de référence", max_length=settings.max_question_chars, elem_id="tqa-query", scale=4)
                    k = gr.Slider(1, settings.max_k, value=5, step=1, label="k (nombre de résultats)", elem_id="tqa-k", scale=2)
                with gr.Row():
                    s_status = gr.Dropdown(STATUS_CHOICES, value="", label="Statut", elem_id="tqa-s-status")
                    s_axis = gr.Dropdown(axis_choices, value="", label="Axe", elem_id="tqa-s-axis")
                    s_kind = gr.Dropdown([("Tous les types", "")] + [(render.KIND_LABELS[x][1], x) for x in KINDS], value="", label="Type de passage", elem_id="tqa-s-kind")
                search_btn = gr.Button("Rechercher", variant="primary", elem_id="tqa-search-btn")
                results = gr.HTML('<p class="tqa-none">Les résultats apparaîtront ici.</p>', elem_id="tqa-results")

        # ------------------------------------------------------- events
        work = {"concurrency_id": WORK, "concurrency_limit": settings.chat_concurrency}
        chat_outputs = [question, conversation, sources, turns, live]
        chat_inputs = [question, turns, axis, status]
        send.click(respond, chat_inputs, chat_outputs, api_name="chat", api_visibility="undocumented", **work)
        question.submit(respond, chat_inputs, chat_outputs, api_visibility="private", **work)
        for button in example_buttons:
            button.click(respond, [button, turns, axis, status], chat_outputs, api_visibility="private", **work)
        clear_btn.click(clear, None, chat_outputs, api_visibility="private")
        # "Copier la réponse" is handled in chat.js (no `js=` listener: it would need eval in the page)
        table.select(open_measure, None, measure, api_visibility="private")
        search_inputs = [query, k, s_status, s_axis, s_kind]
        search_btn.click(search_ui, search_inputs, results, api_visibility="private", **work)
        query.submit(search_ui, search_inputs, results, api_visibility="private", **work)
        gr.api(ask_api, api_name="ask", **work)
        gr.api(search_api, api_name="search", **work)
    # At most queue_max_size events wait; GradioGuard answers the excess with 429.
    demo.queue(default_concurrency_limit=settings.chat_concurrency, max_size=settings.queue_max_size)
    return demo
