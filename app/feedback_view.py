"""The "retours" view as an HTML fragment, for the dashboard (issue 16).

    html = retours_html(state.feedback.store.summary(latest=10))

Counts by rating and by reason, and the latest answers rated down with the
question, the reason and the comment. Everything from users is escaped. The
caller decides who sees it: like `GET /api/feedback/summary`, serve it to
127.0.0.1 only or behind TRAITE_QA_FEEDBACK_TOKEN (it shows users' questions).
"""

from __future__ import annotations

from html import escape

from traite_qa import REASONS


def retours_html(summary: dict) -> str:
    ratings = summary.get("ratings", {})
    reasons = summary.get("reasons", {})
    down = ratings.get("down", 0)
    rows = "".join(
        f'<tr><td>{escape(label)}</td><td class="tqa-num">{int(reasons.get(code, 0))}</td></tr>'
        for code, label in [*REASONS.items(), ("none", "Sans raison")]
    )
    head = (
        f'<p class="tqa-retours-counts"><span class="tqa-up">👍 {int(ratings.get("up", 0))}</span> '
        f'<span class="tqa-down">👎 {int(down)}</span> · {int(summary.get("total", 0))} retours</p>'
    )
    table = (f'<table class="tqa-retours-reasons"><thead><tr><th>Raison (👎)</th><th>Nombre</th></tr></thead>'
             f"<tbody>{rows}</tbody></table>")
    latest = summary.get("latest_down") or []
    if latest:
        items = "".join(_item(entry) for entry in latest)
        recent = f'<h3>Derniers 👎</h3><ol class="tqa-retours-latest">{items}</ol>'
    else:
        recent = '<p class="tqa-retours-empty">Aucune réponse notée 👎 pour l\'instant.</p>'
    return f'<section class="tqa-retours">{head}{table}{recent}</section>'


def _item(entry: dict) -> str:
    reason = REASONS.get(entry.get("reason") or "", "Sans raison")
    comment = entry.get("comment")
    when = str(entry.get("created_at", ""))[:16].replace("T", " ")
    return (
        f'<li><div class="tqa-retours-q">{escape(str(entry.get("question", "")))}</div>'
        f'<div class="tqa-retours-meta">{escape(when)} UTC · {escape(reason)}</div>'
        + (f'<blockquote class="tqa-retours-comment">{escape(comment)}</blockquote>' if comment else "")
        + f'<details><summary>Réponse donnée</summary><p>{escape(str(entry.get("answer", "")))}</p></details></li>'
    )
