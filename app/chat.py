"""The chat's turns and the Gradio endpoints' input checks.

Every value here comes from a client (the page, `gradio_client`, or anyone
posting to /gradio_api/): it is checked for type and range before the
library sees it, and no message ever echoes it (`repr()` of a client value
once leaked Gradio's cache paths back to the client).

A chat session keeps at most `Settings.max_chat_turns` exchanges. A question
over `max_question_chars` is refused without being kept (only its first
characters are shown). Answers stream only when a generator writes them:
the streamed pieces go to a separate element (`#tqa-live`), and the
conversation and its sources are rendered once, when the answer is final.
"""

from __future__ import annotations

import json
import logging
import secrets
from html import escape
from typing import Iterable, Iterator

from traite_qa import KINDS, Status

from .sources_view import turn_markdown


log = logging.getLogger("traite_qa_app")

SHOWN_REFUSED_CHARS = 120  # of a refused over-long question, what the conversation keeps
LIVE_INTERVAL = 0.1  # seconds between two updates of a streamed answer
CHAT_LOAD_WAIT = 60.0  # seconds a chat turn waits for the model at start-up (the API does not wait)
LOADING = "Chargement du modèle et de l'index…"
LOAD_ESTIMATE = 10.0  # seconds a cold start usually takes to load the model and index (README: ~8 s)
BUILD_ESTIMATE = 15.0  # seconds a first run takes to build the index, then load it (measured 9-21 s on 2 cores: the
# embedding cache makes a rebuild faster; tests/test_first_run.py holds it within a factor of 2)
LOAD_TICK = 0.5  # seconds between two progress updates while the model loads
INTERNAL = "Une erreur interne est survenue ; reformulez la question ou réessayez."


class BadInput(ValueError):
    """A client value the endpoint cannot take; the message names the fix, never the value."""


# ------------------------------------------------------------- inputs
def parse_axis(value, n_axes: int) -> int | None:
    if value is None or value == "" or value == "0" or (value == 0 and not isinstance(value, bool)):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadInput(f"axis must be a number from 1 to {n_axes} (or empty for all axes)")
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= n_axes:
        raise BadInput(f"unknown axis: the plan has {n_axes} axes (1-{n_axes})")
    return int(text)


def parse_status(value) -> str | None:
    if value is None or value == "":
        return None
    choices = ", ".join(s.slug for s in Status)
    if not isinstance(value, str) or len(value) > 40:
        raise BadInput(f"status must be one of {choices} (or empty for all)")
    try:
        return Status.parse(value).slug
    except ValueError:
        raise BadInput(f"unknown status: use one of {choices}") from None


def parse_kind(value) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in KINDS:
        raise BadInput(f"unknown passage kind: use one of {', '.join(KINDS)}")
    return value


def parse_k(value, max_k: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= max_k:
        raise BadInput(f"k must be an integer from 1 to {max_k}")
    return value


def parse_question(value) -> str:
    if not isinstance(value, str):
        raise BadInput("the question must be text")
    return value


def parse_history(value, max_messages: int) -> list[dict] | None:
    """Gradio's messages: [{"role": "user"|"assistant", "content": str | [{"type": "text", "text": str}]}]."""
    if value is None or value == "" or value == []:
        return None
    if not isinstance(value, list):
        raise BadInput("history must be a list of {role, content} messages")
    if len(value) > max_messages:
        raise BadInput(f"history has {len(value)} messages, the limit is {max_messages}: send the latest ones")
    for message in value:
        if not (isinstance(message, dict) and message.get("role") in ("user", "assistant") and _is_content(message.get("content"))):
            raise BadInput('each history message must be {"role": "user" or "assistant", "content": text}')
    return value


def _is_content(content) -> bool:
    if isinstance(content, str):
        return True
    return isinstance(content, list) and all(isinstance(p, dict) and isinstance(p.get("text", ""), str) for p in content)


# -------------------------------------------------------------- turns
def error_answer(message: str) -> dict:
    return {"status": "error", "answer": message, "citations": [], "suggestions": [], "notes": [], "language": "fr"}


def history_for(turns: list[dict], max_messages: int) -> list[dict] | None:
    """The answered turns as {"role", "content"} messages (the latest
    `max_messages`), for follow-up questions."""
    messages: list[dict] = []
    for turn in turns:
        answer = turn.get("answer")
        if not answer or answer.get("status") == "error":
            continue
        messages.append({"role": "user", "content": turn.get("question", "")})
        messages.append({"role": "assistant", "content": answer.get("answer", "")})
    return messages[-max_messages:] or None


def refused_turn(text: str, limit: int) -> dict:
    """An over-long question: kept as its first characters and a refusal."""
    shown = text[:SHOWN_REFUSED_CHARS].rstrip() + "…"
    message = (
        f"La question fait {len(text)} caractères ; la limite est de {limit} : "
        "posez une question plus courte, sur un point précis."
    )
    return {"question": shown, "answer": error_answer(message)}


def capped(turns: list[dict], max_turns: int) -> list[dict]:
    return turns[-max_turns:]


def pieces(stream: Iterable) -> Iterator[str | object]:
    """The assistant's stream as text pieces to append, then its final Answer.

    The library's contract: `ask_stream` yields str deltas, then the Answer.
    Until that lands it yields the growing text instead (always longer than
    the piece before); a piece longer than everything shown so far and
    starting with it is read as that growing text, and the first piece that
    is not switches to deltas for good. (A second delta that happens to start
    with the first would lose that start on screen until the final answer
    replaces the streamed text.)"""
    shown = ""
    growing = True
    for item in stream:
        if not isinstance(item, str):
            yield item
            return
        if growing and len(item) > len(shown) and item.startswith(shown):
            delta = item[len(shown):]
        else:
            growing = False
            delta = item
        if delta:
            shown += delta
            yield delta


def live_html(text: str, limit: int) -> str:
    """The streamed text so far, escaped (chat.js shows it in the pending bubble)."""
    if not text:
        return ""
    clipped = text if len(text) <= limit else text[:limit] + " […]"
    return f'<div class="tqa-live-text">{escape(clipped)}</div>'


# ------------------------------------------------------- loading progress
def loading_html(elapsed: float, estimate: float | None = None, building: bool = False) -> str:
    """The pending bubble while the model loads: a progress bar and what is left (chat.js shows it).
    `building`: the index is built first (a first run), which takes longer, and it says so."""
    estimate = estimate or (BUILD_ESTIMATE if building else LOAD_ESTIMATE)
    left = estimate - elapsed
    when = f"environ {max(1, round(left))} s" if left >= 1 else "encore quelques secondes"
    value = min(0.95, max(0.02, elapsed / estimate))
    doing = ("Premier lancement : construction de l'index du document" if building
             else "Chargement du modèle et de l'index")
    return (
        f'<div class="tqa-live-progress" data-elapsed="{elapsed:.1f}" data-estimate="{estimate:.0f}" '
        f'data-building="{int(building)}">'
        f'<span class="tqa-progress-text">{escape(doing)} ({escape(when)})… '
        "votre question sera traitée ensuite.</span>"
        f'<progress max="1" value="{value:.2f}" aria-label="Chargement du modèle">{round(value * 100)} %</progress></div>'
    )


# ------------------------------------------------- the browser's copy of the turns
def record_html(turns: list[dict], last: dict | None = None, restored: bool = False) -> str:
    """What chat.js keeps in localStorage: the number of turns the server holds
    and the newest finished one (question, answer JSON, filters, Markdown)."""
    # A new value each time: Gradio patches the element in place, so chat.js
    # tells records apart by this, not by the element.
    attrs = f'data-count="{len(turns)}" data-nonce="{secrets.token_hex(6)}"'
    if last is not None:
        saved = {key: last.get(key) for key in ("question", "answer", "filters")}
        saved["markdown"] = turn_markdown(last, len(turns))
        attrs += f' data-turn="{escape(json.dumps(saved, ensure_ascii=False), quote=True)}"'
    if restored:
        attrs += ' data-restored="1"'
    return f'<div class="tqa-record" {attrs}></div>'


# The most a restored conversation may weigh (UTF-8 bytes of its JSON): a
# session keeps what is restored into it, and its rendering, until Gradio
# drops the session, and the restore event can be called by anyone with any
# session id (issue 23: 200 sessions of 1 MB each held +1 GB). chat.js sends
# its latest turns that fit (MAX_RESTORE_BYTES, the same number).
RESTORE_MAX_BYTES = 32 * 1024


def parse_saved(payload, max_turns: int, max_chars: int, max_bytes: int = RESTORE_MAX_BYTES) -> list[dict]:
    """Turns saved by the browser (JSON text) -> turns the views can render.

    The browser's copy is the user's own data, but anything may arrive here:
    only well-formed turns are kept (question text within the limit, an
    answer object with text, citations as objects), the latest `max_turns`;
    a payload over `max_bytes` restores nothing (it is not parsed)."""
    if not isinstance(payload, str) or not payload.strip():
        return []
    if len(payload) > max_bytes or len(payload.encode("utf-8", "surrogatepass")) > max_bytes:
        log.warning("traite-qa: a restored conversation of %d characters was refused (over %d bytes)", len(payload), max_bytes)
        return []
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return []
    turns: list[dict] = []
    for item in data if isinstance(data, list) else []:
        if not isinstance(item, dict):
            continue
        question, answer = item.get("question"), item.get("answer")
        if not isinstance(question, str) or len(question) > max_chars or not isinstance(answer, dict):
            continue
        if not isinstance(answer.get("answer"), str) or not isinstance(answer.get("citations", []), list):
            continue
        answer = dict(answer)
        answer["citations"] = [c for c in answer.get("citations", []) if isinstance(c, dict)]
        for key in ("suggestions", "notes"):
            answer[key] = [x for x in answer.get(key) or [] if isinstance(x, str)] if isinstance(answer.get(key), list) else []
        if not isinstance(answer.get("measures"), dict):
            answer["measures"] = {}
        turn = {"question": question, "answer": answer}
        filters = item.get("filters")
        if isinstance(filters, dict):
            turn["filters"] = {k: filters.get(k) for k in ("axis", "status") if isinstance(filters.get(k), (int, str))}
        turns.append(turn)
    return turns[-max_turns:]


def filters_of(axis: int | None, status: str | None) -> dict | None:
    """The filters a turn was answered with, kept with it (None when none was set)."""
    filters = {k: v for k, v in (("axis", axis), ("status", status)) if v}
    return filters or None


# ------------------------------------------------------ messages for people
def search_problem(err: Exception, max_chars: int, n_measures: int, n_notes: int) -> str:
    """Why a search of the "Recherche" tab failed, in French (the API's messages are English)."""
    name = type(err).__name__
    text = str(err)
    if isinstance(err, BadInput) and "k must" in text:
        return "Le nombre de résultats doit être compris entre 1 et la limite du curseur."
    if isinstance(err, BadInput):
        return "Un filtre n'est pas valable : choisissez-le à nouveau dans la liste."
    if name == "InvalidQuestionError":
        if "empty" in text:
            return "La requête est vide : saisissez quelques mots, par exemple « mécanisme national de référence »."
        if "long" in text:
            return f"La requête est trop longue (limite : {max_chars} caractères) : gardez les mots importants."
        return "La requête n'est pas du texte lisible : saisissez quelques mots."
    if name == "UnknownReferenceError":
        return (f"Cette référence n'existe pas dans le document : le plan compte {n_measures} mesures "
                f"et l'évaluation {n_notes} notes.")
    if name == "InvalidFilterError":
        return "Un filtre n'est pas valable : choisissez-le à nouveau dans la liste."
    return "La recherche n'a pas pu être faite : reformulez la requête."
