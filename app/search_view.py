"""The "Recherche" tab: the passages found for a query, best first.

For people: the passage, where it sits and its status. The ranking figures
(fused, dense, BM25) are kept under "Détails techniques" on each hit, and a
query the document does not seem to be about gets a warning above the list.
"""

from __future__ import annotations

from .markup import KIND_LABELS, e, preview, status_badge


def weak_results(hits: list[dict], floor: float) -> bool:
    """True when nothing ties the hits to the query: no exact reference, and
    either no word of the query occurs in them (BM25 0 everywhere) or even the
    closest passage is below the similarity floor the answers use."""
    if not hits or any(h.get("pinned") for h in hits):
        return False
    best_dense = max(float(h.get("dense") or 0) for h in hits)
    any_word = any(float(h.get("lexical") or 0) > 0 for h in hits)
    return not any_word or best_dense < floor


def hits_html(query: str, hits: list[dict], evaluation=None, floor: float | None = None) -> str:
    """Ranked hits; scores under "Détails techniques"."""
    if not hits:
        return f'<div class="tqa-hits"><p class="tqa-none">Aucun résultat pour « {e(query)} ».</p></div>'
    rows = []
    for hit in hits:
        badges = ""
        if hit.get("kind") == "measure":
            badges = " ".join(status_badge(s) for s in hit.get("statuses") or [])
        kind = KIND_LABELS.get(str(hit.get("kind", "")), ("Passage",))[0]
        pinned = ' <span class="tqa-pinned" title="Référence nommée dans la requête">référence exacte</span>' if hit.get("pinned") else ""
        details = (
            '<details class="tqa-notes tqa-hit-details"><summary>Détails techniques</summary><ul>'
            f'<li>Identifiant du passage : <code class="tqa-id">{e(hit.get("id"))}</code></li>'
            f'<li>Score fusionné (RRF) : {float(hit.get("score") or 0):.4f}</li>'
            f'<li>Similarité (cosinus) : {float(hit.get("dense") or 0):.3f}</li>'
            f'<li>Score lexical (BM25) : {float(hit.get("lexical") or 0):.2f}</li></ul></details>'
        )
        rows.append(
            f'<article class="tqa-hit" data-rank="{e(hit.get("rank"))}">'
            f'<header><span class="tqa-rank">{e(hit.get("rank"))}.</span> <span class="tqa-kindlabel">{e(kind)}</span>'
            f"{pinned} {badges}"
            f'<div class="tqa-crumbs">{e(hit.get("header", ""))}</div></header>'
            f'<details><summary>{e(preview(hit.get("text", "")))}</summary>'
            f'<div class="tqa-passage">{e(hit.get("text", ""))}</div></details>{details}</article>'
        )
    warning = ""
    if floor is not None and weak_results(hits, floor):
        warning = ('<p class="tqa-warning" role="note">Ces passages ressemblent peu à votre requête : le document ne '
                   "semble pas en parler. Essayez d'autres mots, ou posez votre question dans l'onglet Chat.</p>")
    count = f'{len(hits)} passage{"s" if len(hits) > 1 else ""} pour « {e(query)} », du plus proche au moins proche'
    return f'<div class="tqa-hits">{warning}<p>{count}</p>{"".join(rows)}</div>'
