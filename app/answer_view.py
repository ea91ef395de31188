"""An answer as a person reads it: the direct sentence first, the quotes as a
list (one per line, each with its chip), footnotes collapsed, closest topics
as one-click questions, technical notes out of the way.

Two answer texts are read, the library's current one and the new one:

- new: light Markdown, "first line\\n- « quote » [Mesure 16]\\n- …", `**bold**`;
- current: quotes strung on one line after "La CNCDH écrit :" («…» «…»
  [Mesure 16]), quote lines starting with "«", footnotes pasted inline as
  indented "note 3 : « … » [Note 3]" lines.

Both are parsed into the same blocks (`answer_blocks`), which give the HTML
and the Markdown that "Copier" and the export use, so what is copied is
what is shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from traite_qa import MARKER_RE, REASONS, Status

from .markup import e, inline, marker_targets, status_slug

# A run of quotes (and their markers) that ends a paragraph after a colon:
# the current format's "La CNCDH écrit : « a » « b » [Mesure 16]".
_QUOTE_RUN = re.compile(r"(?<=:)\s+((?:«[^«»]*»\s*)+)((?:\[[^\[\]]+\]\s*)*)$")
_QUOTE = re.compile(r"«[^«»]*»")
_INLINE_NOTE = re.compile(r"^\s+note (\d+)\s*:\s*(.*)$", re.IGNORECASE)
_TOPICS_SENTENCE = re.compile(r"\s*(Sujets proches que vous pouvez interroger|Closest topics you could ask about)\s*:.*$", re.S)
_ASKABLE = re.compile(r"^«\s*(.+?)\s*»$")


@dataclass
class Item:
    text: str
    notes: list[tuple[int, str]] = field(default_factory=list)  # footnotes pasted under it (current format)


@dataclass
class Block:
    kind: str  # "p" or "ul"
    text: str = ""
    items: list[Item] = field(default_factory=list)


def answer_blocks(text: str) -> list[Block]:
    """The answer text as paragraphs and lists, whichever format it is in."""
    blocks: list[Block] = []

    def items() -> list[Item]:
        if not blocks or blocks[-1].kind != "ul":
            blocks.append(Block("ul"))
        return blocks[-1].items

    for line in str(text).split("\n"):
        note = _INLINE_NOTE.match(line)
        stripped = line.strip()
        if not stripped:
            continue
        if note and blocks and blocks[-1].kind == "ul" and blocks[-1].items:
            blocks[-1].items[-1].notes.append((int(note.group(1)), note.group(2)))
        elif stripped.startswith(("- ", "• ")):
            items().append(Item(stripped[2:].strip()))
        elif stripped.startswith("«"):
            items().append(Item(stripped))
        else:
            run = _QUOTE_RUN.search(stripped)
            if run:
                blocks.append(Block("p", stripped[: run.start()].strip()))
                markers = run.group(2).strip()
                for quote in _QUOTE.findall(run.group(1)):
                    items().append(Item(f"{quote} {markers}".strip()))
            else:
                blocks.append(Block("p", stripped))
    return blocks


def blocks_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if block.kind == "p":
            lines.append(block.text)
            continue
        for item in block.items:
            lines.append(f"- {item.text}")
            lines.extend(f"  - note {number} : {text}" for number, text in item.notes)
    return "\n".join(lines)


def displayed_text(answer: dict) -> str:
    """The answer text without what the bubble shows otherwise: the current
    format's closest-topics sentence, when the topics are shown as chips."""
    text = str(answer.get("answer", ""))
    if answer.get("status") == "no_evidence" and answer.get("suggestions"):
        text = _TOPICS_SENTENCE.sub("", text)
    return text


def answer_markdown(answer: dict) -> str:
    """What "Copier" copies: the answer as Markdown, markers kept."""
    return blocks_markdown(answer_blocks(displayed_text(answer)))


# ------------------------------------------------------------------ HTML
def _quoteless_notes(citations: list) -> dict[str, tuple[int, str]]:
    """Footnotes cited without a quote ('[Préambule 4] [Note 3]'): marker -> (number, text)."""
    notes = {}
    for c in citations:
        if isinstance(c, dict) and c.get("kind") == "footnote" and not c.get("quotes"):
            number = c.get("footnote")
            notes[str(c.get("marker", ""))] = (number if isinstance(number, int) else 0, str(c.get("text", "")))
    return notes


def _collapsed_note(number: int, body: str, targets: Mapping[str, str]) -> str:
    return (f'<details class="tqa-fn"><summary>Note {e(number)}</summary>'
            f'<div class="tqa-fn-text">{inline(body, targets)}</div></details>')


def _item_html(item: Item, targets: Mapping[str, str], quoteless: Mapping[str, tuple[int, str]], askable: bool) -> str:
    if askable:
        m = _ASKABLE.match(item.text)
        if m:
            return (f'<li><button type="button" class="tqa-suggest tqa-ask-example" data-question="{e(m.group(1))}">'
                    f"{e(m.group(1))}</button></li>")
    collapsed = []
    text = item.text
    for match in list(MARKER_RE.finditer(text)):
        if match.group(1) in quoteless:
            number, body = quoteless[match.group(1)]
            collapsed.append(_collapsed_note(number, body, {}))
    if collapsed:  # shown collapsed below the line instead of as a chip
        text = MARKER_RE.sub(lambda m: "" if m.group(1) in quoteless else m.group(0), text).rstrip()
    collapsed += [_collapsed_note(number, body, targets) for number, body in item.notes]
    return f"<li>{inline(text, targets)}{''.join(collapsed)}</li>"


def blocks_html(blocks: list[Block], targets: Mapping[str, str], quoteless: Mapping[str, tuple[int, str]], askable: bool = False) -> str:
    out = []
    for i, block in enumerate(blocks):
        if block.kind == "p":
            css = ' class="tqa-lead"' if i == 0 else ""
            out.append(f"<p{css}>{inline(block.text, targets)}</p>")
        else:
            css = "tqa-examples-list" if askable else "tqa-quotes"
            out.append(f'<ul class="{css}">' + "".join(_item_html(it, targets, quoteless, askable) for it in block.items) + "</ul>")
    return "".join(out)


# ----------------------------------------------------------- suggestions
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


def off_topic(answer: dict) -> bool:
    return any("off-topic" in str(n) for n in answer.get("notes") or [])


def suggestions_html(answer: dict) -> str:
    suggestions = [s for s in answer.get("suggestions") or [] if isinstance(s, str)]
    if not suggestions:
        return ""
    english = answer.get("language") == "en"
    if off_topic(answer):
        label = "This document is about trafficking in human beings. You could ask about:" if english else \
            "Ce document porte sur la lutte contre la traite des êtres humains. Vous pouvez par exemple interroger :"
    else:
        label = "Closest topics:" if english else "Sujets proches :"
    chips = "".join(
        f'<button type="button" class="tqa-suggest" data-question="{e(suggestion_question(s))}">{e(s)}</button>'
        for s in suggestions
    )
    return f'<div class="tqa-suggestions"><span>{e(label)}</span> {chips}</div>'


# ----------------------------------------------------------------- notes
_NOTE_WORDING = [
    (re.compile(r"off-topic\D*cosine ([\d.]+)\D+?([\d.]+)\)?(?:,\s*(\d+)%)?"), lambda m: (
        "La question semble sortir du sujet du document : même le passage le plus proche lui ressemble peu "
        f"(similarité {_num(m.group(1))}, seuil {_num(m.group(2))})"
        + (f" et {m.group(3)} % de ses mots n'apparaissent nulle part dans le document." if m.group(3) else ".")
    )),
    (re.compile(r"the document never mentions '?([^']+)'?"), lambda m: f"Le document ne mentionne jamais « {m.group(1)} »."),
    (re.compile(r"asks for an? (\w+); no chosen sentence"), lambda m: "Aucune phrase trouvée ne contient l'information demandée."),
    (re.compile(r"asks about (\d{4}); no answering sentence"), lambda m: f"Aucune phrase trouvée ne parle de {m.group(1)}."),
    (re.compile(r"the question names '?([^';]+)'?; the sentences"), lambda m: f"Les phrases trouvées ne parlent pas de « {m.group(1)} »."),
    (re.compile(r"refers to an earlier one"), lambda m: "La question fait suite à une question précédente, absente de cette conversation."),
    (re.compile(r"^generated by (.+)$"), lambda m: f"Réponse rédigée par un modèle de langue ({m.group(1)}), vérifiée sur les passages cités."),
    (re.compile(r"no valid marker in the generated answer"), lambda m: "La réponse rédigée ne citait aucun passage valable : à lire avec prudence."),
    (re.compile(r"generator unavailable|misstates a status"), lambda m: "La rédaction automatique n'a pas pu être utilisée : la réponse est extraite directement du document."),
]


def _num(text: str) -> str:
    try:
        return f"{float(text.rstrip('.')):.2f}".replace(".", ",")
    except ValueError:
        return text


def humane_note(note: str) -> str:
    """A technical note from the library, worded for people (unknown ones are shown as they are)."""
    for pattern, words in _NOTE_WORDING:
        m = pattern.search(note)
        if m:
            return words(m)
    return f"Note technique : {note}"


def notes_html(answer: dict) -> str:
    notes = [str(n) for n in answer.get("notes") or [] if n]
    if not notes or answer.get("status") == "invalid_question":
        return ""
    items = "".join(f"<li>{e(humane_note(n))}</li>" for n in notes)
    return f'<details class="tqa-notes"><summary>Détails techniques</summary><ul>{items}</ul></details>'


# --------------------------------------------------------------- filters
def filters_text(filters: Mapping | None, language: str = "fr") -> str:
    """'Filtres appliqués : axe 2, statut « non réalisée ».' or '' when none was set."""
    if not isinstance(filters, Mapping):
        return ""
    parts = []
    axis, status = filters.get("axis"), filters.get("status")
    english = language == "en"
    if isinstance(axis, int) and not isinstance(axis, bool):
        parts.append(f"axis {axis}" if english else f"axe {axis}")
    if isinstance(status, str) and status:
        slug = status_slug(status)
        label = next((s.english if english else s.value.lower() for s in Status if s.slug == slug), status)
        parts.append(f"status « {label} »" if english else f"statut « {label} »")
    if not parts:
        return ""
    if english:
        return f"Filters applied: {', '.join(parts)}. Only matching passages were searched; they also apply to the next questions."
    return f"Filtres appliqués : {', '.join(parts)}. Seuls les passages correspondants ont été cherchés ; ils s'appliquent aussi aux questions suivantes."


# -------------------------------------------------------------- feedback
def feedback_html(answer: dict, index: int, comment_chars: int = 500) -> str:
    """👍/👎 under an answer; 👎 opens what was wrong and a comment (feedback.js sends it)."""
    answer_id = answer.get("answer_id")
    if not isinstance(answer_id, str) or answer.get("status") not in ("answered", "no_evidence"):
        return ""
    reasons = "".join(
        f'<label class="tqa-fb-reason"><input type="radio" name="tqa-reason-{index}" value="{e(code)}"> {e(label)}</label>'
        for code, label in REASONS.items()
    )
    return (
        f'<div class="tqa-feedback" data-answer-id="{e(answer_id)}" data-turn="{index}">'
        '<button type="button" class="tqa-rate" data-rating="up" aria-pressed="false" title="Réponse utile">'
        '<span aria-hidden="true">👍</span><span class="tqa-sr">Réponse utile</span></button>'
        '<button type="button" class="tqa-rate" data-rating="down" aria-pressed="false" title="Réponse à revoir">'
        '<span aria-hidden="true">👎</span><span class="tqa-sr">Réponse à revoir</span></button>'
        f'<div class="tqa-fb-form" hidden><fieldset><legend>Qu\'est-ce qui n\'allait pas ? (facultatif)</legend>{reasons}</fieldset>'
        f'<label class="tqa-fb-comment-label" for="tqa-fb-comment-{index}">Commentaire (facultatif, {comment_chars} caractères au plus)</label>'
        f'<textarea id="tqa-fb-comment-{index}" class="tqa-fb-comment" rows="2" data-max="{comment_chars}"></textarea>'
        '<div class="tqa-fb-buttons"><button type="button" class="tqa-fb-send">Envoyer</button>'
        '<button type="button" class="tqa-fb-cancel">Annuler</button></div></div>'
        '<button type="button" class="tqa-small-btn tqa-fb-withdraw" hidden>Retirer mon avis</button>'
        # What a rating sends, and why (issue 22): one line, always shown.
        '<p class="tqa-fb-note">Noter envoie la question et cette réponse (rien sur vous) pour aider à corriger les réponses ; '
        "vous pouvez changer ou retirer votre avis.</p>"
        '<p class="tqa-fb-status" role="status" aria-live="polite"></p></div>'
    )


# --------------------------------------------------------------- bubbles
def answer_html(answer: dict, turn: int, filters: Mapping | None = None) -> str:
    """The assistant's bubble content: text with chips, filters, topics, technical details."""
    citations = answer.get("citations") if isinstance(answer.get("citations"), list) else []
    targets = marker_targets(citations, turn)
    askable = answer.get("intent") == "greeting"
    body = blocks_html(answer_blocks(displayed_text(answer)), targets, _quoteless_notes(citations), askable)
    parts = [f'<div class="tqa-answer-text">{body}</div>']
    note = filters_text(filters, str(answer.get("language", "fr")))
    if note:
        parts.append(f'<p class="tqa-filters" role="note">{e(note)}</p>')
    if answer.get("status") == "no_evidence":
        parts.append(suggestions_html(answer))
    parts.append(notes_html(answer))
    return "".join(parts)


def turn_html(turn: dict, index: int, comment_chars: int = 500) -> str:
    """One exchange: the user's question, then the (possibly pending) answer."""
    question = f'<div class="tqa-msg tqa-user"><div class="tqa-bubble">{e(turn.get("question", ""))}</div></div>'
    answer = turn.get("answer")
    if not isinstance(answer, dict):
        partial = turn.get("partial") or ""
        inner = inline(partial, {}) if partial else '<span class="tqa-typing" aria-label="Réponse en cours">…</span>'
        bubble = f'<div class="tqa-bubble tqa-streaming" aria-busy="true"><div class="tqa-answer-text">{inner}</div></div>'
    else:
        status = str(answer.get("status", "answered"))
        copy = (
            f'<button type="button" class="tqa-copy" data-text="{e(answer_markdown(answer))}" '
            f'title="Copier la réponse (texte Markdown avec ses renvois)">Copier</button>'
        )
        bubble = (
            f'<div class="tqa-bubble tqa-status-{e(status)}" id="tqa-answer-{index}" data-turn="{index}" tabindex="-1" '
            f'role="article" aria-label="Réponse {index + 1}">'
            f"{answer_html(answer, index, turn.get('filters'))}"
            f'<div class="tqa-actions">{copy}{feedback_html(answer, index, comment_chars)}</div></div>'
        )
    return f'{question}<div class="tqa-msg tqa-assistant">{bubble}</div>'


EXAMPLES = [
    "Où en est la mesure 16 ?",
    "Combien de mesures sont réalisées ?",
    "Qu'est-ce que l'OCRTEH ?",
    "Que recommande la CNCDH sur la formation des magistrats ?",
    "Pourquoi la mesure 2 n'a-t-elle pas été réalisée ?",
    "What is the status of measure 3?",
]


def examples_html(examples=EXAMPLES) -> str:
    """The example questions: a click asks one (actions.js)."""
    buttons = "".join(f'<li><button type="button" class="tqa-example" data-question="{e(q)}">{e(q)}</button></li>'
                      for q in examples)
    return (f'<div class="tqa-examples"><p class="tqa-examples-label" id="tqa-examples-label">Exemples (un clic pose la question) :</p>'
            f'<ul class="tqa-examples-items" aria-labelledby="tqa-examples-label">{buttons}</ul></div>')


def conversation_html(turns: list[dict], comment_chars: int = 500, render_id: str = "", examples=EXAMPLES) -> str:
    """The conversation. `render_id` changes at every render: Gradio patches
    the DOM in place rather than replacing it, and chat.js tells a new render
    from its own changes by this attribute. Empty, it shows the example
    questions, above the fold (issue 22)."""
    rid = f' data-render="{e(render_id)}"' if render_id else ""
    if not turns:
        return (
            f'<div class="tqa-conversation tqa-empty" id="tqa-conversation" role="log" aria-live="polite" '
            f'aria-label="Conversation" tabindex="-1"{rid}>'
            '<div class="tqa-welcome"><p>Posez une question sur l\'évaluation du 2<sup>e</sup> plan national d\'action contre la traite '
            "des êtres humains (2019-2021) par la CNCDH. Les réponses citent les passages du document. "
            f"<em>Questions in English are welcome.</em></p>{examples_html(examples)}</div></div>"
        )
    inner = "".join(turn_html(t, i, comment_chars) for i, t in enumerate(turns))
    return (f'<div class="tqa-conversation" id="tqa-conversation" role="log" aria-live="polite" aria-label="Conversation" '
            f'tabindex="-1"{rid}>{inner}</div>')
