"""The Gradio interface: chat with cited passages, status dashboard, search.

All HTML is built by `render` (escaped); Gradio only moves it around. The
page's behaviour is client-side, in the scripts served from
/static/traite-qa/: chat.js (the question queue, scrolling, the saved
conversation), actions.js (chips, footnotes, copy, export), feedback.js
(👍/👎), dashboard.js (the measures table and chart) and page.js (French
strings, dropdowns).

The visible question box and "Envoyer" button run no Python: chat.js echoes
the question at once, queues it, and feeds the questions one by one to the
hidden `#tqa-outbox` + `#tqa-go` pair, which runs the chat turn.

Named endpoints for `gradio_client`:
  /ask     (question, history, axis, status) -> Answer JSON (not streamed)
  /search  (query, k, status, axis, kind)   -> {"query", "hits"}
  /chat    the chat turn itself (undocumented: returns HTML)
"""

from __future__ import annotations

import gradio as gr

from traite_qa import KINDS, Status

from . import render
from .handlers import Handlers
from .state import AppState

EXAMPLES = render.EXAMPLES
STATUS_CHOICES = [("Tous les statuts", "")] + [(s.value, s.slug) for s in Status]
# One concurrency group for everything that runs the model: the chat, the
# search tab and the /ask and /search endpoints share its limit and queue.
WORK = "answer"
# Gradio's own progress overlay greys out the outputs ("0.2s" timers): the
# page shows its own progress in the pending bubble instead.
QUIET = {"show_progress": "hidden"}


def theme() -> gr.themes.Base:
    # System fonts only: the default theme would fetch Google Fonts.
    # Indigo 500 (#6366f1) under white text, or as text on white, is 4.47:1,
    # under axe-core's 4.5:1: the primary buttons and the accent (the
    # selected tab) take indigo 700 and 800 (7.9:1 and 10:1), in every state.
    return gr.themes.Default(
        primary_hue="indigo",
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    ).set(
        button_primary_background_fill="*primary_700",
        button_primary_background_fill_dark="*primary_700",
        button_primary_background_fill_hover="*primary_800",
        button_primary_background_fill_hover_dark="*primary_800",
        button_primary_text_color="white",
        button_primary_text_color_dark="white",
        color_accent="*primary_700",
    )


def examples_html() -> str:
    """The example questions, shown inside the empty conversation (render.conversation_html)."""
    return render.examples_html(EXAMPLES)


def toolbar_html(limit: int) -> str:
    return (
        f'<div class="tqa-compose-info"><p class="tqa-count" id="tqa-count" data-limit="{limit}" aria-live="polite"></p></div>'
        # Right after "Envoyer" in the tab order: from the question box, Tab, Tab, Enter
        # puts the focus on the latest answer (chat.js keeps its target current).
        '<div class="tqa-toolbar"><a href="#tqa-conversation" id="tqa-skip-answer" class="tqa-small-btn tqa-skip">'
        "Aller à la dernière réponse</a>"
        '<button type="button" id="tqa-export" class="tqa-small-btn">Exporter la conversation</button></div>'
    )


def build_ui(state: AppState) -> gr.Blocks:
    ev = state.evaluation
    settings = state.settings
    h = Handlers(state)
    axis_choices = [("Tous les axes", "")] + [(f"Axe {a.number} — {a.label}", str(a.number)) for a in ev.axes]

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
                    with gr.Column(scale=3, min_width=300):
                        gr.HTML('<h2 id="tqa-chat-title">Conversation</h2>', padding=False, elem_classes=["tqa-sr-box"])
                        conversation = gr.HTML(render.conversation_html([]), elem_id="tqa-conversation-box")
                        # Carriers read by chat.js, never shown: a streamed answer or the loading
                        # progress (live), and the newest finished turn to keep in localStorage (record).
                        live = gr.HTML("", elem_id="tqa-live", elem_classes=["tqa-carrier"], padding=False)
                        record = gr.HTML("", elem_id="tqa-record", elem_classes=["tqa-carrier"], padding=False)
                        with gr.Row(equal_height=True, elem_id="tqa-compose"):
                            gr.Textbox(
                                label="Votre question",
                                show_label=False,
                                placeholder="Votre question (ex. : Où en est la mesure 16 ?)",
                                lines=1,
                                max_lines=5,
                                elem_id="tqa-question",
                                scale=6,
                                autofocus=True,
                            )
                            gr.Button("Envoyer", variant="primary", elem_id="tqa-send", scale=1, min_width=90)
                        gr.HTML(toolbar_html(settings.max_question_chars), padding=False)
                        with gr.Row(elem_id="tqa-filters"):
                            axis = gr.Dropdown(axis_choices, value="", label="Filtrer par axe", elem_id="tqa-axis", scale=3, filterable=False)
                            status = gr.Dropdown(STATUS_CHOICES, value="", label="Filtrer par statut", elem_id="tqa-status", scale=2, filterable=False)
                        with gr.Row():
                            no_filters = gr.Button("Retirer les filtres", elem_id="tqa-no-filters", size="sm")
                            clear_btn = gr.Button("Effacer la conversation", elem_id="tqa-clear", size="sm")
                        # What chat.js feeds the chat turn with (hidden, in the DOM).
                        outbox = gr.Textbox(label="Question envoyée", elem_id="tqa-outbox", visible="hidden")
                        go = gr.Button("Poser", elem_id="tqa-go", visible="hidden")
                        saved = gr.Textbox(label="Conversation enregistrée", elem_id="tqa-restore", visible="hidden")
                        restore_go = gr.Button("Restaurer", elem_id="tqa-restore-go", visible="hidden")
                    with gr.Column(scale=2, min_width=300, elem_id="tqa-sources-col"):
                        sources = gr.HTML(render.sources_html([]), elem_id="tqa-sources-box")

            with gr.Tab("Tableau de bord", id="dashboard", elem_id="tqa-tab-dashboard"):
                gr.HTML(render.dashboard_html(ev), elem_id="tqa-dashboard")
                with gr.Column(elem_id="tqa-retours-col"):
                    retours = gr.HTML("", visible=False, elem_id="tqa-retours")
                    refresh = gr.Button("Rafraîchir les retours", size="sm", visible=False, elem_id="tqa-retours-refresh")

            with gr.Tab("Recherche", id="search", elem_id="tqa-tab-search"):
                gr.HTML('<h2 class="tqa-sr">Recherche de passages</h2><p class="tqa-help">Cherchez des passages du document par mots-clés : les plus proches de votre '
                        "requête d'abord, avec leur emplacement et leur statut.</p>")
                with gr.Row(equal_height=True):
                    query = gr.Textbox(label="Requête", placeholder="ex. : mécanisme national de référence", elem_id="tqa-query", scale=4)
                    k = gr.Slider(1, settings.max_k, value=5, step=1, label="Nombre de résultats", elem_id="tqa-k", scale=2)
                with gr.Row():
                    s_status = gr.Dropdown(STATUS_CHOICES, value="", label="Statut", elem_id="tqa-s-status", filterable=False)
                    s_axis = gr.Dropdown(axis_choices, value="", label="Axe", elem_id="tqa-s-axis", filterable=False)
                    s_kind = gr.Dropdown([("Tous les types", "")] + [(render.KIND_LABELS[x][1], x) for x in KINDS], value="",
                                         label="Type de passage", elem_id="tqa-s-kind", filterable=False)
                search_btn = gr.Button("Rechercher", variant="primary", elem_id="tqa-search-btn")
                results = gr.HTML('<p class="tqa-none">Les résultats apparaîtront ici.</p>', elem_id="tqa-results")

        # ------------------------------------------------------- events
        work = {"concurrency_id": WORK, "concurrency_limit": settings.chat_concurrency}
        chat_outputs = [outbox, conversation, sources, turns, live, record]
        go.click(h.respond, [outbox, turns, axis, status], chat_outputs, api_name="chat", api_visibility="undocumented", **work, **QUIET)
        restore_go.click(h.restore, [saved, turns], [saved, conversation, sources, turns, record], api_visibility="private", **QUIET)
        clear_btn.click(h.clear, None, chat_outputs, api_visibility="private", **QUIET)
        no_filters.click(h.no_filters, None, [axis, status], api_visibility="private", **QUIET)
        demo.load(h.retours, None, [retours, refresh], api_visibility="private", **QUIET)
        refresh.click(h.retours, None, [retours, refresh], api_visibility="private", **QUIET)
        search_inputs = [query, k, s_status, s_axis, s_kind]
        search_btn.click(h.search_ui, search_inputs, results, api_visibility="private", **work, show_progress="minimal")
        query.submit(h.search_ui, search_inputs, results, api_visibility="private", **work, show_progress="minimal")
        gr.api(h.ask_api, api_name="ask", **work)
        gr.api(h.search_api, api_name="search", **work)
    # At most queue_max_size events wait; GradioGuard answers the excess with 429.
    demo.queue(default_concurrency_limit=settings.chat_concurrency, max_size=settings.queue_max_size)
    return demo
