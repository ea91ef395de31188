"""Politeness around a question ("Bonjour, pourriez-vous me dire … ? Merci.")
is not part of it: the core is what gets routed, searched and matched, so a
courteous question is answered like the bare one. The formulas live in
`data/courtesy.yaml`."""

from __future__ import annotations

import re
from functools import lru_cache

from ..tables import phrase_pattern, table
from ..text import fold

_SEPARATORS = r"[\s,;:!.…?\-–—'\"«»()]*"


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern, re.Pattern]:
    data = table("courtesy")
    words = [*data["greetings"], *data["requests"], *data["closings"]]
    body = phrase_pattern(words, prefix="", suffix="").pattern
    return (re.compile(rf"{_SEPARATORS}(?:{body})(?!\w){_SEPARATORS}"),
            re.compile(rf"{_SEPARATORS}(?<!\w)(?:{body}){_SEPARATORS}$"))


def _fold_same_length(text: str) -> str:
    # Offsets found in the folded text must hold in the original: fold char by char.
    return "".join((fold(c) or " ")[0] for c in text)


def core(text: str) -> str:
    """`text` without the politeness formulas at its start and end (the
    original characters are kept, accents and case included)."""
    head, tail = _patterns()
    folded = _fold_same_length(text)
    start, end = 0, len(text)
    while (match := head.match(folded, start, end)) and match.end() > start:
        start = match.end()
    while (match := tail.search(folded, start, end)) and match.start() < end:
        end = match.start()
    stripped = text[start:end].strip(" ,;:-–—")
    if stripped and "?" in text[end:] and not stripped.endswith("?"):
        stripped += " ?"
    return stripped


def is_greeting(text: str) -> bool:
    """Nothing but politeness ("Bonjour", "Merci !", "Hello")."""
    return not re.search(r"\w", core(text))
