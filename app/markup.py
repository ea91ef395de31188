"""The small pieces every view is built from: escaping, status badges, marker
chips, light inline Markdown, highlighted passages and footnotes.

Everything that comes from the document or the user goes through `e()`
(html.escape, quotes included); the HTML around it is written by hand and
nothing is handed to a Markdown renderer.
"""

from __future__ import annotations

import re
from html import escape
from typing import Iterable, Mapping

from traite_qa import FOOTNOTE_MARKER_RE, MARKER_RE, Status

# Passage kind -> (a passage's chip, the search tab's filter): the one table of labels.
KIND_LABELS = {
    "measure": ("Mesure", "Mesures"),
    "footnote": ("Note", "Notes de bas de page"),
    "acronym": ("Sigle", "Sigles"),
    "table": ("Tableau", "Tableau récapitulatif"),
    "preamble": ("Préambule", "Préambule"),
    "conclusion": ("Bilan", "Bilan"),
}
STATUS_ORDER = {s.slug: i for i, s in enumerate(Status)}  # Réalisée, Partiellement réalisée, Non réalisée
_SAFE_URL = re.compile(r"^https?://[^\s\"'<>]+$", re.IGNORECASE)
_BOLD = re.compile(r"\*\*(.+?)\*\*")


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


# ------------------------------------------------------------------ markers
def source_id(turn: int, index: int) -> str:
    return f"tqa-src-{turn}-{index}"


def marker_targets(citations: list[dict], turn: int) -> dict[str, str]:
    """Marker as written in the answer ('Mesure 16') -> DOM id of its passage card."""
    targets: dict[str, str] = {}
    for index, citation in enumerate(citations):
        if isinstance(citation, dict):
            targets.setdefault(str(citation.get("marker", "")), source_id(turn, index))
    return targets


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


def inline(text: str, targets: Mapping[str, str]) -> str:
    """One line of an answer: `**bold**` spans and marker chips, the rest escaped.

    Bold is split first, so a marker inside a bold span still becomes a chip
    and an unpaired `**` stays as typed."""
    out: list[str] = []
    last = 0
    for match in _BOLD.finditer(text):
        out.append(text_with_markers(text[last : match.start()], targets))
        out.append(f"<strong>{text_with_markers(match.group(1), targets)}</strong>")
        last = match.end()
    out.append(text_with_markers(text[last:], targets))
    return "".join(out)


def plain(text: str) -> str:
    """The text a person reads: `**bold**` without its stars (markers kept)."""
    return _BOLD.sub(r"\1", text)


# ---------------------------------------------------------------- passages
def highlight(text: str, quotes: Iterable[str], footnotes: Iterable[int] = (), note_ids: Mapping[int, str] | None = None) -> str:
    """Escape a passage, wrapping every occurrence of each quote in <mark>.

    Overlapping quotes merge into one highlight. Footnote calls "(27)" of the
    passage's own footnotes become buttons that open the note below.
    """
    spans: list[list[int]] = []
    for quote in quotes:
        if not quote or not isinstance(quote, str):
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


def error_html(message: str) -> str:
    return f'<div class="tqa-error" role="alert">{e(message)}</div>'


def preview(text: str, limit: int = 220) -> str:
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
