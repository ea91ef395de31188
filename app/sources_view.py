"""The sources panel: one card per cited passage, with its breadcrumb, title,
status badge, the quoted sentences highlighted and its footnotes; an annex 2
table passage as a small table whose rows the answer names are highlighted.
Also the conversation as Markdown, for the export.
"""

from __future__ import annotations

from typing import Mapping

from traite_qa import Status, TraiteQAError

from .answer_view import answer_markdown, filters_text
from .markup import KIND_LABELS, e, footnote_html, highlight, plain, source_id, status_badge


def breadcrumb(citation: dict, evaluation=None) -> str:
    """'Axe 2 › Action 5 › Mesure 16' for measures; the chunk's own header otherwise."""
    kind = citation.get("kind")
    measures = citation.get("measures") or []
    if kind == "measure" and citation.get("axis") is not None:
        axis, action = citation.get("axis"), citation.get("action")
        axis_title = action_title = ""
        if evaluation is not None:
            axis_title = _safe_label(evaluation, "axis", axis)
            action_title = _safe_label(evaluation, "action", action)
        items = [
            f'<span class="tqa-crumb-item" title="{e(axis_title)}">Axe {e(axis)}</span>',
            f'<span class="tqa-crumb-item" title="{e(action_title)}">Action {e(action)}</span>',
            f'<span class="tqa-crumb-item">{"Mesures" if len(measures) > 1 else "Mesure"} {e(", ".join(map(str, measures)))}</span>',
        ]
        return '<nav class="tqa-crumbs" aria-label="Emplacement">' + " › ".join(items) + "</nav>"
    return f'<nav class="tqa-crumbs" aria-label="Emplacement">{e(citation.get("header", ""))}</nav>'


def _safe_label(evaluation, what: str, number) -> str:
    try:
        return getattr(evaluation, what)(number).label
    except (TraiteQAError, TypeError, ValueError):  # an axis/action the document lacks only loses a tooltip
        return ""


def passage_titles(citation: dict, evaluation=None) -> str:
    """The title line(s): one per measure of the passage, each with its status badge."""
    measures = citation.get("measures") or []
    statuses = citation.get("statuses") or []
    if citation.get("kind") == "measure" and measures:
        rows = []
        for i, number in enumerate(measures):
            title = ""
            if evaluation is not None:
                try:
                    title = evaluation.measure(number).title
                except (TraiteQAError, TypeError, ValueError):
                    title = ""
            if not title:
                titles = str(citation.get("title", "")).split(" ; ")
                title = titles[i] if i < len(titles) else citation.get("title", "")
            status = statuses[i] if i < len(statuses) else citation.get("status")
            rows.append(
                f'<div class="tqa-title"><span class="tqa-title-text">Mesure {e(number)} : {e(title)}</span> '
                f"{status_badge(status)}</div>"
            )
        return "".join(rows)
    return f'<div class="tqa-title"><span class="tqa-title-text">{e(citation.get("title", ""))}</span></div>'


# ------------------------------------------------------------------ tables
def table_rows(text: str) -> list[tuple[int, str, str]] | None:
    """An annex 2 passage ("36\\n\\n  Piloter …\\n\\n  Partiellement réalisée\\n\\n  37 …")
    as (number, title, status) rows; None when the text is not such a table."""
    cells = [line.strip() for line in str(text).split("\n") if line.strip()]
    if not cells or len(cells) % 3:
        return None
    rows = []
    for i in range(0, len(cells), 3):
        number, title, status = cells[i : i + 3]
        if not number.isdigit():
            return None
        try:
            label = Status.parse(status).value
        except ValueError:
            return None
        rows.append((int(number), title, label))
    return rows


def table_html(rows: list[tuple[int, str, str]], quotes: list, named: set[int]) -> str:
    """The rows as a small table; the rows the answer is about (named measures
    or quoted titles) highlighted, each with its status badge."""
    quoted = {q for q in quotes if isinstance(q, str)}
    body = []
    for number, title, status in rows:
        hit = number in named or title in quoted
        css = ' class="tqa-row-hit"' if hit else ""
        mark = f'<mark class="tqa-quote">{e(title)}</mark>' if hit else e(title)
        body.append(f"<tr{css}><td class=\"tqa-num\">{number}</td><td>{mark}</td><td>{status_badge(status)}</td></tr>")
    return (
        '<table class="tqa-srctable"><thead><tr><th scope="col">N°</th><th scope="col">Mesure</th>'
        f'<th scope="col">Statut</th></tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def _named_measures(answer: Mapping | None) -> set[int]:
    measures = (answer or {}).get("measures") if isinstance(answer, Mapping) else None
    named = set()
    for key in measures or {}:
        try:
            named.add(int(key))
        except (TypeError, ValueError):
            continue
    return named


# ------------------------------------------------------------------- cards
def citation_html(citation: dict, turn: int, index: int, notes: Mapping[int, object] | None = None, evaluation=None,
                  named: set[int] | None = None) -> str:
    """A card of the sources panel: marker, breadcrumb, title + badge, highlighted passage, footnotes."""
    dom_id = source_id(turn, index)
    notes = notes or {}
    footnotes = [int(n) for n in citation.get("footnotes") or [] if isinstance(n, int) and not isinstance(n, bool)]
    note_ids = {n: f"{dom_id}-note-{n}" for n in footnotes}
    kind = citation.get("kind", "")
    quotes = citation.get("quotes") if isinstance(citation.get("quotes"), list) else []
    rows = table_rows(citation.get("text", "")) if kind == "table" else None
    if rows:
        passage = table_html(rows, quotes, named or set())
    else:
        passage = f'<div class="tqa-passage">{highlight(str(citation.get("text", "")), quotes, footnotes, note_ids)}</div>'
    notes_html = "".join(footnote_html(n, notes.get(n), note_ids[n]) for n in footnotes)
    if notes_html:
        notes_html = f'<div class="tqa-footnotes"><div class="tqa-footnotes-label">Notes citées dans ce passage</div>{notes_html}</div>'
    return (
        f'<article class="tqa-source tqa-kind-{e(kind)}" id="{e(dom_id)}" data-marker="{e(citation.get("marker", ""))}" '
        f'data-chunk="{e(citation.get("id", ""))}">'
        f'<header><span class="tqa-chip">{e(citation.get("marker") or KIND_LABELS.get(kind, (kind,))[0])}</span>'
        # On a phone the sources sit below the conversation: a way back to the answer, by the title (actions.js).
        f'<button type="button" class="tqa-small-btn tqa-back" data-answer="tqa-answer-{turn}">↑ Retour à la réponse</button>'
        f"{breadcrumb(citation, evaluation)}{passage_titles(citation, evaluation)}</header>"
        f"{passage}{notes_html}</article>"
    )


def sources_html(turns: list[dict], notes: Mapping[int, object] | None = None, evaluation=None) -> str:
    """The sources panel: one section per answered turn, only the latest one shown.

    Clicking a marker of an older answer shows that answer's section (chat.js).
    """
    sections = []
    answered = [i for i, t in enumerate(turns) if isinstance(t.get("answer"), dict)]
    latest = answered[-1] if answered else None
    for i in answered:
        answer = turns[i]["answer"]
        citations = [c for c in answer.get("citations") or [] if isinstance(c, dict)]
        if citations:
            named = _named_measures(answer)
            cards = "".join(citation_html(c, i, j, notes, evaluation, named) for j, c in enumerate(citations))
            count = f"{len(citations)} passage{'s' if len(citations) > 1 else ''} cité{'s' if len(citations) > 1 else ''}"
        else:
            cards = '<p class="tqa-none">Aucun passage cité pour cette réponse.</p>'
            count = "aucun passage"
        hidden = "" if i == latest else " hidden"
        sections.append(
            f'<section class="tqa-sources-turn" data-turn="{i}"{hidden}>'
            f'<h2>Sources de la réponse {i + 1} <small>({count})</small></h2>{cards}</section>'
        )
    if not sections:
        return (
            '<div class="tqa-sources" id="tqa-sources"><h2>Sources</h2>'
            '<p class="tqa-none">Les passages cités par la réponse apparaîtront ici.</p></div>'
        )
    return '<div class="tqa-sources" id="tqa-sources">' + "".join(sections) + "</div>"


# ---------------------------------------------------------------- markdown
def citation_markdown(citation: dict) -> str:
    header = str(citation.get("header") or citation.get("title") or "")
    lines = [f"- [{citation.get('marker', '')}] {plain(header)}".rstrip()]
    for quote in citation.get("quotes") or []:
        if isinstance(quote, str) and quote:
            lines.append(f"  > « {' '.join(quote.split())} »")
    return "\n".join(lines)


def turn_markdown(turn: dict, number: int) -> str:
    """One exchange for the export: the question, the answer, its filters and its sources."""
    question = " ".join(str(turn.get("question", "")).split())
    answer = turn.get("answer")
    parts = [f"## {number}. {question}"]
    if not isinstance(answer, dict):
        return parts[0] + "\n\n(sans réponse)"
    parts.append(answer_markdown(answer))
    note = filters_text(turn.get("filters"), str(answer.get("language", "fr")))
    if note:
        parts.append(f"*{note}*")
    citations = [c for c in answer.get("citations") or [] if isinstance(c, dict)]
    if citations:
        parts.append("Sources :\n\n" + "\n".join(citation_markdown(c) for c in citations))
    return "\n\n".join(parts)


def conversation_markdown(turns: list[dict]) -> str:
    head = ("# Conversation avec traite-qa\n\nQuestions sur l'évaluation, par la CNCDH (2023), du 2e plan national "
            "d'action contre la traite des êtres humains (2019-2021). Les citations sont extraites du document.")
    return "\n\n".join([head] + [turn_markdown(t, i + 1) for i, t in enumerate(turns)]) + "\n"
