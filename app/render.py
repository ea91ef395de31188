"""Pure rendering: answers, passages, measures and hits -> escaped HTML.

Everything that comes from the document or the user goes through
`html.escape` here, and the HTML around it is built by hand: nothing is passed
to a Markdown renderer. The functions take the plain dicts of the JSON API
(`Answer.to_dict()`, `Hit.to_dict()`) so the chat, the API and the tests share
one shape; `notes` maps a footnote number to an object with `.text` and
`.urls` (the document model's `Footnote`).
"""

from __future__ import annotations

import re
from html import escape
from typing import Iterable, Mapping

from traite_qa import FOOTNOTE_MARKER_RE, MARKER_RE, Status, TraiteQAError

# Passage kind -> (a passage's chip, the search tab's filter): the one table of labels.
KIND_LABELS = {
    "measure": ("Mesure", "Mesures"),
    "footnote": ("Note", "Notes de bas de page"),
    "acronym": ("Sigle", "Sigles"),
    "table": ("Tableau", "Tableau récapitulatif"),
    "preamble": ("Préambule", "Préambule"),
    "conclusion": ("Bilan", "Bilan"),
}
_SAFE_URL = re.compile(r"^https?://[^\s\"'<>]+$", re.IGNORECASE)


def e(value: object) -> str:
    """Escape any value for HTML text and attribute values (quotes included)."""
    return escape("" if value is None else str(value), quote=True)


# ------------------------------------------------------------------ statuses
def status_slug(label: str | None) -> str:
    """'Non réalisée' (or its slug) -> 'non-realisee', the CSS class suffix; unknown -> 'inconnu'."""
    if not label:
        return "inconnu"
    try:
        return Status.parse(str(label)).slug
    except ValueError:
        return "inconnu"


def status_badge(label: str | None) -> str:
    slug = status_slug(label)
    return f'<span class="tqa-badge tqa-status-{slug}" title="Statut évalué par la CNCDH">{e(label or "statut inconnu")}</span>'


# ------------------------------------------------------------- answer text
def marker_targets(citations: list[dict], turn: int) -> dict[str, str]:
    """Marker as written in the answer ('Mesure 16') -> DOM id of its passage card."""
    targets: dict[str, str] = {}
    for index, citation in enumerate(citations):
        targets.setdefault(str(citation.get("marker", "")), source_id(turn, index))
    return targets


def source_id(turn: int, index: int) -> str:
    return f"tqa-src-{turn}-{index}"


def marker_chip(marker: str, target: str | None) -> str:
    if target is None:
        return f'<span class="tqa-marker tqa-marker-orphan">{e(marker)}</span>'
    return (
        f'<button type="button" class="tqa-marker" data-target="{e(target)}" '
        f'title="Afficher le passage cité">{e(marker)}</button>'
    )


def text_with_markers(text: str, targets: Mapping[str, str]) -> str:
    """Escape `text`, turning each `[Mesure 16]` into a chip that shows its passage."""
    out: list[str] = []
    last = 0
    for match in MARKER_RE.finditer(text):
        out.append(e(text[last : match.start()]))
        out.append(marker_chip(match.group(1), targets.get(match.group(1))))
        last = match.end()
    out.append(e(text[last:]))
    return "".join(out)


def suggestion_question(suggestion: str) -> str:
    """A closest-topic label ('mesure 37 « … »', 'note 39', 'sigle ASE') -> a question to ask."""
    m = re.match(r"(?i)mesure (\d+)", suggestion)
    if m:
        return f"Que dit l'évaluation sur la mesure {m.group(1)} ?"
    m = re.match(r"(?i)note (\d+)", suggestion)
    if m:
        return f"Que dit la note {m.group(1)} ?"
    m = re.match(r"(?i)sigle (\S+)", suggestion)
    if m:
        return f"Que signifie le sigle {m.group(1)} ?"
    return suggestion


def answer_html(answer: dict, turn: int) -> str:
    """The assistant's bubble: the text with marker chips, a copy button, closest topics."""
    status = answer.get("status", "answered")
    text = str(answer.get("answer", ""))
    body = text_with_markers(text, marker_targets(answer.get("citations") or [], turn))
    parts = [f'<div class="tqa-answer-text">{body}</div>']
    if status == "no_evidence":
        english = answer.get("language") == "en"
        kind_words = (
            "Sorry, I found nothing in the evaluation that answers this precisely."
            if english
            else "Désolé, je n'ai rien trouvé dans l'évaluation qui réponde précisément à cette question."
        )
        parts.insert(0, f'<p class="tqa-kind">{e(kind_words)}</p>')
        suggestions = answer.get("suggestions") or []
        if suggestions:
            chips = "".join(
                f'<button type="button" class="tqa-suggest" data-question="{e(suggestion_question(s))}">{e(s)}</button>'
                for s in suggestions
            )
            label = "Closest topics:" if english else "Sujets proches :"
            parts.append(f'<div class="tqa-suggestions"><span>{e(label)}</span> {chips}</div>')
    notes = [n for n in answer.get("notes") or [] if status != "invalid_question"]
    if notes:
        items = "".join(f"<li>{e(n)}</li>" for n in notes)
        parts.append(f'<details class="tqa-notes"><summary>Détails techniques</summary><ul>{items}</ul></details>')
    return "".join(parts)


def turn_html(turn: dict, index: int) -> str:
    """One exchange: the user's question, then the (possibly partial) answer."""
    question = f'<div class="tqa-msg tqa-user"><div class="tqa-bubble">{e(turn.get("question", ""))}</div></div>'
    answer = turn.get("answer")
    if answer is None:
        partial = turn.get("partial") or ""
        inner = text_with_markers(partial, {}) if partial else '<span class="tqa-typing">…</span>'
        bubble = f'<div class="tqa-bubble tqa-streaming"><div class="tqa-answer-text">{inner}</div></div>'
    else:
        status = answer.get("status", "answered")
        copy = (
            f'<button type="button" class="tqa-copy" data-text="{e(answer.get("answer", ""))}" '
            f'title="Copier la réponse">Copier</button>'
        )
        bubble = (
            f'<div class="tqa-bubble tqa-status-{e(status)}" id="tqa-answer-{index}" data-turn="{index}">'
            f"{answer_html(answer, index)}{copy}</div>"
        )
    return f'{question}<div class="tqa-msg tqa-assistant">{bubble}</div>'


def conversation_html(turns: list[dict]) -> str:
    if not turns:
        return (
            '<div class="tqa-conversation tqa-empty" id="tqa-conversation">'
            "<p>Posez une question sur l'évaluation du 2<sup>e</sup> plan national d'action contre la traite "
            "des êtres humains (2019-2021) par la CNCDH. Les réponses citent les passages du document. "
            "<em>Questions in English are welcome.</em></p></div>"
        )
    inner = "".join(turn_html(t, i) for i, t in enumerate(turns))
    return f'<div class="tqa-conversation" id="tqa-conversation">{inner}</div>'


# ---------------------------------------------------------------- passages
def highlight(text: str, quotes: Iterable[str], footnotes: Iterable[int] = (), note_ids: Mapping[int, str] | None = None) -> str:
    """Escape a passage, wrapping every occurrence of each quote in <mark>.

    Overlapping quotes merge into one highlight. Footnote calls "(27)" of the
    passage's own footnotes become buttons that open the note below.
    """
    spans: list[list[int]] = []
    for quote in quotes:
        if not quote:
            continue
        start = text.find(quote)
        while start != -1:
            spans.append([start, start + len(quote)])
            start = text.find(quote, start + len(quote))
    spans.sort()
    merged: list[list[int]] = []
    for span in spans:
        if merged and span[0] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], span[1])
        else:
            merged.append(span)
    wanted = set(footnotes)
    ids = note_ids or {}

    def piece(raw: str) -> str:
        escaped = e(raw)
        if not wanted:
            return escaped

        def call(m: re.Match) -> str:
            number = int(m.group(1))
            if number not in wanted:
                return m.group(0)
            target = ids.get(number)
            attr = f' data-note="{e(target)}"' if target else ""
            return f'{m.group(0)[: m.start(1) - m.start() - 1]}<button type="button" class="tqa-fnref"{attr} title="Note {number}">({number})</button>'

        return FOOTNOTE_MARKER_RE.sub(call, escaped)

    out: list[str] = []
    last = 0
    for start, end in merged:
        out.append(piece(text[last:start]))
        out.append(f'<mark class="tqa-quote">{piece(text[start:end])}</mark>')
        last = end
    out.append(piece(text[last:]))
    return "".join(out)


def footnote_html(number: int, note, dom_id: str, open_: bool = False) -> str:
    if note is None:
        body = "<p>Texte de la note indisponible.</p>"
    else:
        links = "".join(
            f'<li><a href="{e(url)}" target="_blank" rel="noopener noreferrer nofollow">{e(url)}</a></li>'
            for url in getattr(note, "urls", ()) or ()
            if _SAFE_URL.match(url)
        )
        body = f"<p>{e(note.text)}</p>" + (f'<ul class="tqa-links">{links}</ul>' if links else "")
    return (
        f'<details class="tqa-footnote" id="{e(dom_id)}"{" open" if open_ else ""}>'
        f"<summary>Note {number}</summary>{body}</details>"
    )


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
    except TraiteQAError:  # an axis/action the document lacks only loses a tooltip
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
                except TraiteQAError:
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


def citation_html(citation: dict, turn: int, index: int, notes: Mapping[int, object] | None = None, evaluation=None) -> str:
    """A card of the sources panel: marker, breadcrumb, title + badge, highlighted passage, footnotes."""
    dom_id = source_id(turn, index)
    notes = notes or {}
    footnotes = [int(n) for n in citation.get("footnotes") or []]
    note_ids = {n: f"{dom_id}-note-{n}" for n in footnotes}
    passage = highlight(str(citation.get("text", "")), citation.get("quotes") or [], footnotes, note_ids)
    notes_html = "".join(footnote_html(n, notes.get(n), note_ids[n]) for n in footnotes)
    if notes_html:
        notes_html = f'<div class="tqa-footnotes"><div class="tqa-footnotes-label">Notes citées dans ce passage</div>{notes_html}</div>'
    kind = citation.get("kind", "")
    return (
        f'<article class="tqa-source tqa-kind-{e(kind)}" id="{e(dom_id)}" data-marker="{e(citation.get("marker", ""))}" '
        f'data-chunk="{e(citation.get("id", ""))}">'
        f'<header><span class="tqa-chip">{e(citation.get("marker") or KIND_LABELS.get(kind, (kind,))[0])}</span>'
        f"{breadcrumb(citation, evaluation)}{passage_titles(citation, evaluation)}</header>"
        f'<div class="tqa-passage">{passage}</div>{notes_html}</article>'
    )


def sources_html(turns: list[dict], notes: Mapping[int, object] | None = None, evaluation=None) -> str:
    """The sources panel: one section per answered turn, only the latest one shown.

    Clicking a marker of an older answer shows that answer's section (chat.js).
    """
    sections = []
    answered = [i for i, t in enumerate(turns) if t.get("answer") is not None]
    latest = answered[-1] if answered else None
    for i in answered:
        answer = turns[i]["answer"]
        citations = answer.get("citations") or []
        if citations:
            cards = "".join(citation_html(c, i, j, notes, evaluation) for j, c in enumerate(citations))
            count = f"{len(citations)} passage{'s' if len(citations) > 1 else ''} cité{'s' if len(citations) > 1 else ''}"
        else:
            cards = '<p class="tqa-none">Aucun passage cité pour cette réponse.</p>'
            count = "aucun passage"
        hidden = "" if i == latest else " hidden"
        sections.append(
            f'<section class="tqa-sources-turn" data-turn="{i}"{hidden}>'
            f'<h3>Sources de la réponse {i + 1} <small>({count})</small></h3>{cards}</section>'
        )
    if not sections:
        return (
            '<div class="tqa-sources" id="tqa-sources"><h3>Sources</h3>'
            '<p class="tqa-none">Les passages cités par la réponse apparaîtront ici.</p></div>'
        )
    return '<div class="tqa-sources" id="tqa-sources">' + "".join(sections) + "</div>"


def error_html(message: str) -> str:
    return f'<div class="tqa-error" role="alert">{e(message)}</div>'


# --------------------------------------------------------------- dashboard
def measure_html(measure, evaluation) -> str:
    """The full text of a measure with its footnotes (dashboard)."""
    axis = evaluation.axis(measure.axis)
    action = evaluation.action(measure.action)
    shared = [n for n in measure.group if n != measure.number]
    shared_html = (
        f'<p class="tqa-shared">Texte commun avec la mesure {e(", ".join(map(str, shared)))}.</p>' if shared else ""
    )
    note_ids = {n: f"tqa-measure-{measure.number}-note-{n}" for n in measure.footnotes}
    paragraphs = "".join(
        f"<p>{highlight(p.text, (), measure.footnotes, note_ids)}</p>" for p in measure.paragraphs
    )
    notes = "".join(footnote_html(n, _note(evaluation, n), note_ids[n], open_=True) for n in measure.footnotes)
    notes_html = f'<div class="tqa-footnotes"><div class="tqa-footnotes-label">Notes</div>{notes}</div>' if notes else ""
    return (
        f'<article class="tqa-measure" id="tqa-measure-{measure.number}">'
        f'<nav class="tqa-crumbs"><span class="tqa-crumb-item">Axe {axis.number} : {e(axis.label)}</span> › '
        f'<span class="tqa-crumb-item">Action {action.number} : {e(action.label)}</span></nav>'
        f'<h3>Mesure {measure.number} : {e(measure.title)} {status_badge(measure.status.value)}</h3>'
        f'{shared_html}<div class="tqa-passage tqa-measure-body">{paragraphs}</div>{notes_html}</article>'
    )


def _note(evaluation, number: int):
    try:
        return evaluation.footnote(number)
    except TraiteQAError:
        return None


def status_summary_html(evaluation) -> str:
    counts = evaluation.status_counts()
    items = "".join(
        f'<li>{status_badge(status.value)} <strong>{n}</strong></li>' for status, n in counts.items()
    )
    return (
        f'<div class="tqa-summary"><p><strong>{len(evaluation.measures)}</strong> mesures, '
        f"{len(evaluation.axes)} axes, {len(evaluation.actions)} actions.</p><ul>{items}</ul></div>"
    )


# ------------------------------------------------------------------ search
def hits_html(query: str, hits: list[dict], evaluation=None) -> str:
    """Ranked hits with their scores (the "Recherche" tab)."""
    if not hits:
        return f'<div class="tqa-hits"><p class="tqa-none">Aucun résultat pour « {e(query)} ».</p></div>'
    rows = []
    for hit in hits:
        badges = ""
        if hit.get("kind") == "measure":
            badges = " ".join(status_badge(s) for s in hit.get("statuses") or [])
        pinned = ' <span class="tqa-pinned" title="Référence nommée dans la requête">épinglé</span>' if hit.get("pinned") else ""
        rows.append(
            f'<article class="tqa-hit" data-rank="{e(hit.get("rank"))}">'
            f'<header><span class="tqa-rank">#{e(hit.get("rank"))}</span> '
            f'<code class="tqa-id">{e(hit.get("id"))}</code> '
            f'<span class="tqa-score" title="score fusionné (RRF)">score {float(hit.get("score", 0)):.4f}</span> '
            f'<span class="tqa-score" title="cosinus dense">dense {float(hit.get("dense", 0)):.3f}</span> '
            f'<span class="tqa-score" title="BM25">bm25 {float(hit.get("lexical", 0)):.2f}</span>{pinned} {badges}'
            f'<div class="tqa-crumbs">{e(hit.get("header", ""))}</div></header>'
            f'<details><summary>{e(_preview(hit.get("text", "")))}</summary>'
            f'<div class="tqa-passage">{e(hit.get("text", ""))}</div></details></article>'
        )
    return f'<div class="tqa-hits"><p>{len(hits)} résultat{"s" if len(hits) > 1 else ""} pour « {e(query)} »</p>{"".join(rows)}</div>'


def _preview(text: str, limit: int = 220) -> str:
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
