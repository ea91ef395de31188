"""The dashboard as plain HTML (dashboard.js makes it interactive): the status
counts, a stacked bar per axis whose segments filter the table, the table of
the 45 measures (a card list on a phone), and each measure's full text,
opened in a dialog wherever the reader is on the page.
"""

from __future__ import annotations

from traite_qa import Status, TraiteQAError

from .markup import STATUS_ORDER, e, footnote_html, highlight, status_badge


def measure_html(measure, evaluation) -> str:
    """The full text of a measure with its footnotes."""
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
    notes = "".join(footnote_html(n, _note(evaluation, n), note_ids[n]) for n in measure.footnotes)
    notes_html = f'<div class="tqa-footnotes"><div class="tqa-footnotes-label">Notes</div>{notes}</div>' if notes else ""
    return (
        f'<article class="tqa-measure" id="tqa-measure-{measure.number}">'
        f'<nav class="tqa-crumbs" aria-label="Emplacement de la mesure {measure.number}"><span class="tqa-crumb-item">Axe {axis.number} : {e(axis.label)}</span> › '
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


def chart_html(evaluation) -> str:
    """One stacked bar per axis, a segment per status; a segment is a button
    that filters the table below to that axis and status."""
    totals = {a.number: len(evaluation.measures_with(axis=a.number)) for a in evaluation.axes}
    widest = max(totals.values() or [1])
    rows = []
    for axis in evaluation.axes:
        segments = []
        for status in Status:
            count = len(evaluation.measures_with(status=status, axis=axis.number))
            if not count:  # a zero-width segment could not be clicked or read
                continue
            label = f"Axe {axis.number}, {status.value} : {count} mesure{'s' if count > 1 else ''} (filtrer le tableau)"
            segments.append(
                f'<button type="button" class="tqa-seg tqa-status-{status.slug}" style="flex-grow:{count}" '
                f'data-axis="{axis.number}" data-status="{status.slug}" data-count="{count}" '
                f'aria-label="{e(label)}" title="{e(label)}">{count}</button>'
            )
        width = 100 * totals[axis.number] / widest
        rows.append(
            f'<div class="tqa-chart-row"><span class="tqa-chart-axis" title="{e(axis.label)}">Axe {axis.number}</span>'
            f'<div class="tqa-chart-track"><div class="tqa-chart-bar" style="width:{width:.1f}%">{"".join(segments)}</div></div>'
            f'<span class="tqa-chart-total">{totals[axis.number]}</span></div>'
        )
    legend = "".join(f"<li>{status_badge(s.value)}</li>" for s in Status)
    return (
        '<figure class="tqa-chart" id="tqa-chart"><figcaption>Statut des mesures par axe '
        '<small>(cliquez sur un segment pour filtrer le tableau)</small></figcaption>'
        f'{"".join(rows)}<ul class="tqa-legend" aria-label="Légende">{legend}</ul></figure>'
    )


def measures_table_html(evaluation) -> str:
    """The 45 measures with search, filters and sortable columns (dashboard.js)."""
    axis_options = "".join(f'<option value="{a.number}">Axe {a.number} — {e(a.label)}</option>' for a in evaluation.axes)
    status_options = "".join(f'<option value="{s.slug}">{e(s.value)}</option>' for s in Status)
    rows = []
    for m in evaluation.measures:
        rows.append(
            f'<tr data-number="{m.number}" data-axis="{m.axis}" data-action="{m.action}" '
            f'data-status="{m.status.slug}" data-order="{STATUS_ORDER[m.status.slug]}">'
            f'<td class="tqa-num" data-label="N°">{m.number}</td>'
            f'<td class="tqa-mtitle" data-label="Mesure"><button type="button" class="tqa-open" data-number="{m.number}">'
            f"{e(m.title)}</button></td>"
            f'<td class="tqa-num" data-label="Axe">{m.axis}</td><td class="tqa-num" data-label="Action">{m.action}</td>'
            f'<td data-label="Statut">{status_badge(m.status.value)}</td></tr>'
        )
    headers = "".join(
        f'<th scope="col" aria-sort="none" class="tqa-col-{key}"><button type="button" class="tqa-sort" data-key="{key}">'
        f'{label}<span class="tqa-sort-icon" aria-hidden="true"></span></button></th>'
        for key, label in (("number", "N°"), ("title", "Mesure"), ("axis", "Axe"), ("action", "Action"), ("status", "Statut"))
    )
    return (
        '<section class="tqa-measures" id="tqa-measures" aria-label="Les 45 mesures">'
        '<div class="tqa-mfilters">'
        '<label class="tqa-field"><span>Rechercher une mesure</span>'
        '<input type="search" id="tqa-msearch" placeholder="mot du titre ou numéro" autocomplete="off"></label>'
        f'<label class="tqa-field"><span>Axe</span><select id="tqa-maxis"><option value="">Tous les axes</option>{axis_options}</select></label>'
        f'<label class="tqa-field"><span>Statut</span><select id="tqa-mstatus"><option value="">Tous les statuts</option>{status_options}</select></label>'
        '<button type="button" id="tqa-mreset" class="tqa-small-btn">Tout afficher</button></div>'
        f'<p class="tqa-mcount" id="tqa-mcount" role="status">{len(evaluation.measures)} mesures affichées</p>'
        '<p class="tqa-help">Cliquez sur le titre d\'une mesure pour lire son texte et ses notes.</p>'
        f'<table class="tqa-mtable" id="tqa-mtable"><thead><tr>{headers}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        "</section>"
    )


def measure_dialog_html(evaluation) -> str:
    """Every measure's text, hidden, and the dialog that shows one of them
    (dashboard.js copies it in): opened in the viewport, wherever the reader is."""
    texts = "".join(
        f'<div class="tqa-measure-src" id="tqa-msrc-{m.number}" hidden>{measure_html(m, evaluation)}</div>'
        for m in evaluation.measures
    )
    return (
        f'<div class="tqa-measure-texts">{texts}</div>'
        '<dialog class="tqa-dialog" id="tqa-measure-dialog" aria-labelledby="tqa-dialog-title">'
        '<div class="tqa-dialog-head"><span id="tqa-dialog-title">Texte de la mesure</span>'
        '<button type="button" class="tqa-dialog-close" aria-label="Fermer">✕</button></div>'
        '<div class="tqa-dialog-body" id="tqa-measure"></div></dialog>'
    )


def dashboard_html(evaluation) -> str:
    return '<h2 class="tqa-sr">Tableau de bord</h2>' + status_summary_html(evaluation) + chart_html(evaluation) + measures_table_html(evaluation) + measure_dialog_html(evaluation)
