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
import math
import time

import gradio as gr
import pandas as pd

from traite_qa import KINDS, Status, TraiteQAError

from . import render
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
KIND_LABELS = {
    "measure": "Mesures",
    "footnote": "Notes de bas de page",
    "acronym": "Sigles",
    "table": "Tableau récapitulatif",
    "preamble": "Préambule",
    "conclusion": "Bilan",
}
STATUS_COLORS = {"Réalisée": "#2e7d32", "Partiellement réalisée": "#e0a100", "Non réalisée": "#c62828"}
HISTORY_TURNS = 10  # exchanges passed to the assistant for follow-ups
STREAM_UPDATES = 12  # partial renders of an extractive answer
STREAM_PAUSE = 0.03  # seconds between them


def theme() -> gr.themes.Base:
    # System fonts only: the default theme would fetch Google Fonts.
    return gr.themes.Default(
        primary_hue="indigo",
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )


# ------------------------------------------------------------ helpers
def parse_axis(value, n_axes: int) -> int | None:
    if value in (None, "", 0, "0"):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"unknown axis {value!r}: the plan has {n_axes} axes (1-{n_axes})") from None
    if not 1 <= number <= n_axes:
        raise ValueError(f"unknown axis {value!r}: the plan has {n_axes} axes (1-{n_axes})")
    return number


def parse_status(value) -> str | None:
    if value in (None, ""):
        return None
    return Status.parse(str(value)).slug  # ValueError names the valid values


def history_for(turns: list[dict]) -> list[dict]:
    """The answered turns as {"role", "content"} messages, for follow-up questions."""
    messages: list[dict] = []
    for turn in turns[-HISTORY_TURNS:]:
        answer = turn.get("answer")
        if not answer or answer.get("status") == "error":
            continue
        messages.append({"role": "user", "content": turn.get("question", "")})
        messages.append({"role": "assistant", "content": answer.get("answer", "")})
    return messages


def error_answer(message: str) -> dict:
    return {"status": "error", "answer": message, "citations": [], "suggestions": [], "notes": [], "language": "fr"}


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
        turns = list(turns or [])
        text = message if isinstance(message, str) else ""
        if not text.strip():
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        turns.append({"question": text, "answer": None, "partial": ""})
        if not state.ready:
            turns[-1]["partial"] = "Chargement du modèle et de l'index…"
        yield "", *render_chat(turns), turns
        turns[-1]["partial"] = ""
        try:
            filters = {"axis": parse_axis(axis, n_axes), "status": parse_status(status)}
            assistant = state.assistant()
            stream = assistant.ask_stream(text, history_for(turns[:-1]) or None, **filters)
            final = None
            if assistant.generator is None:
                # Extractive: the whole text exists at once; show it in a few
                # evenly spaced steps so it reads as it streams in.
                items = list(stream)
                partials = [item for item in items if isinstance(item, str)]
                final = next((item for item in reversed(items) if not isinstance(item, str)), None)
                step = max(1, math.ceil(len(partials) / STREAM_UPDATES))
                for partial in partials[step - 1 : -1 : step]:
                    turns[-1]["partial"] = partial
                    yield gr.skip(), *render_chat(turns), gr.skip()
                    time.sleep(STREAM_PAUSE)
            else:
                for item in stream:
                    if not isinstance(item, str):
                        final = item
                        break
                    turns[-1]["partial"] = item
                    yield gr.skip(), *render_chat(turns), gr.skip()
            answer = final.to_dict() if final is not None else error_answer("La réponse n'a pas pu être produite.")
        except AssistantUnavailable as err:
            answer = error_answer(f"L'index n'est pas disponible : {err}")
        except (TraiteQAError, ValueError) as err:
            answer = error_answer(f"Question impossible à traiter : {err}")
        except Exception:  # noqa: BLE001 - shown kindly, logged for the developers
            log.exception("traite-qa: chat failed on %r", text[:200])
            answer = error_answer("Une erreur interne est survenue ; reformulez la question ou réessayez.")
        turns[-1] = {"question": text, "answer": answer}
        yield gr.skip(), *render_chat(turns), turns

    def clear():
        return "", *render_chat([]), []

    # --------------------------------------------------------- dashboard
    def open_measure(evt: gr.SelectData):
        try:
            row = evt.row_value or []
            number = int(row[0])
            return render.measure_html(ev.measure(number), ev)
        except (TypeError, ValueError, IndexError, TraiteQAError):
            return render.error_html("Sélectionnez une ligne du tableau pour afficher la mesure.")

    # ------------------------------------------------------------ search
    def search_ui(query, k, status, axis, kind):
        try:
            hits = state.assistant().searcher.search(
                query if isinstance(query, str) else "",
                k=int(k),
                status=parse_status(status),
                axis=parse_axis(axis, n_axes),
                kind=kind or None,
            )
        except AssistantUnavailable as err:
            return render.error_html(f"L'index n'est pas disponible : {err}")
        except (TraiteQAError, ValueError, TypeError) as err:
            return render.error_html(f"Recherche impossible : {err}")
        return render.hits_html(query, [h.to_dict() for h in hits], state.evaluation)

    # ------------------------------------------------------ API endpoints
    def ask_api(question: str, history: list | None = None, axis: int | None = None, status: str | None = None) -> dict:
        """Answer a question with cited passages (not streamed). Returns the Answer JSON."""
        try:
            filters = {"axis": parse_axis(axis, n_axes), "status": parse_status(status)}
        except ValueError as err:
            raise gr.Error(str(err)) from None
        try:
            answer = state.assistant().ask(question if isinstance(question, str) else "", history if isinstance(history, list) else None, **filters)
        except (AssistantUnavailable, TraiteQAError) as err:
            raise gr.Error(str(err)) from None
        return answer.to_dict()

    def search_api(query: str, k: int = 5, status: str | None = None, axis: int | None = None, kind: str | None = None) -> dict:
        """Hybrid search; returns {"query", "hits"} like GET /api/search."""
        try:
            hits = state.assistant().searcher.search(
                query, k=int(k), status=parse_status(status), axis=parse_axis(axis, n_axes), kind=kind or None
            )
        except (AssistantUnavailable, TraiteQAError, ValueError, TypeError) as err:
            raise gr.Error(str(err)) from None
        return {"query": query, "hits": [h.to_dict() for h in hits]}

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
                            copy_btn = gr.Button("Copier la réponse", elem_id="tqa-copy-last", size="sm")
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
                    s_kind = gr.Dropdown([("Tous les types", "")] + [(KIND_LABELS.get(x, x), x) for x in KINDS], value="", label="Type de passage", elem_id="tqa-s-kind")
                search_btn = gr.Button("Rechercher", variant="primary", elem_id="tqa-search-btn")
                results = gr.HTML('<p class="tqa-none">Les résultats apparaîtront ici.</p>', elem_id="tqa-results")

        # ------------------------------------------------------- events
        chat_outputs = [question, conversation, sources, turns]
        chat_inputs = [question, turns, axis, status]
        send.click(respond, chat_inputs, chat_outputs, api_name="chat", api_visibility="undocumented")
        question.submit(respond, chat_inputs, chat_outputs, api_visibility="private")
        for button in example_buttons:
            button.click(respond, [button, turns, axis, status], chat_outputs, api_visibility="private")
        clear_btn.click(clear, None, chat_outputs, api_visibility="private")
        copy_btn.click(None, None, None, js="() => { if (window.tqaCopyLast) window.tqaCopyLast(); }", api_visibility="private")
        table.select(open_measure, None, measure, api_visibility="private")
        search_inputs = [query, k, s_status, s_axis, s_kind]
        search_btn.click(search_ui, search_inputs, results, api_visibility="private")
        query.submit(search_ui, search_inputs, results, api_visibility="private")
        gr.api(ask_api, api_name="ask", concurrency_limit=None)
        gr.api(search_api, api_name="search", concurrency_limit=None)
    demo.queue(default_concurrency_limit=8)
    return demo
