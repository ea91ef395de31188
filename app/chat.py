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

import logging
from html import escape
from typing import Iterable, Iterator

from traite_qa import KINDS, Status


log = logging.getLogger("traite_qa_app")

SHOWN_REFUSED_CHARS = 120  # of a refused over-long question, what the conversation keeps
LIVE_INTERVAL = 0.1  # seconds between two updates of a streamed answer
CHAT_LOAD_WAIT = 60.0  # seconds a chat turn waits for the model at start-up (the API does not wait)
LOADING = "Chargement du modèle et de l'index…"
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
