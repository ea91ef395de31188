"""User input checked once, at the door: the question, the filters, k.

Every refusal is an `InvalidQuestionError` or `InvalidFilterError` whose
message says what is wrong and what to type instead.
"""

from __future__ import annotations

import numbers
import re
import unicodedata

from ..document import Evaluation
from ..errors import InvalidFilterError, InvalidQuestionError, UnknownReferenceError
from ..types import KINDS, Filters, References, Status

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def clean_question(text: object, max_chars: int) -> str:
    """Validate and normalise user input; raise InvalidQuestionError with the reason."""
    if not isinstance(text, str):
        raise InvalidQuestionError(f"the question must be text, not {type(text).__name__}", "not_text")
    # Lone surrogates (from broken UTF-16 or JSON "\ud800") cannot be encoded.
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = unicodedata.normalize("NFC", _CONTROL_RE.sub(" ", text))
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise InvalidQuestionError("the question is empty: type a question about the evaluation", "empty")
    if len(text) > max_chars:
        raise InvalidQuestionError(
            f"the question is {len(text)} characters long, the limit is {max_chars}: ask about one point at a time",
            "too_long",
        )
    return text


def check_k(k, max_k: int) -> int:
    # numbers.Integral admits numpy integers; bool is an int but not a count.
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= max_k:
        raise InvalidFilterError(f"k={k!r} is out of range: use an integer from 1 to {max_k}", "k")
    return int(k)


SEARCH_MODES = ("hybrid", "dense", "lexical")


def check_mode(mode) -> str:
    if mode not in SEARCH_MODES:
        raise InvalidFilterError(f"unknown search mode {mode!r}: use one of {', '.join(SEARCH_MODES)}", "mode")
    return mode


def check_filters(evaluation: Evaluation, status=None, axis=None, action=None, kind=None) -> Filters:
    """The filters as values the document has; "" and None mean no filter."""
    wanted = None
    if status is not None and status != "":
        try:
            wanted = status if isinstance(status, Status) else Status.parse(str(status))
        except ValueError as err:
            raise InvalidFilterError(str(err), "status") from None
    if axis is not None:
        _check_number("axis", axis, len(evaluation.axes))
    if action is not None:
        _check_number("action", action, len(evaluation.actions))
    if kind is not None and kind != "":
        if kind not in KINDS:
            raise InvalidFilterError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}", "kind")
    else:
        kind = None
    return Filters(status=wanted, axis=None if axis is None else int(axis), action=None if action is None else int(action),
                   kind=kind)


def _check_number(name: str, value, count: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= count:
        raise InvalidFilterError(f"unknown {name} {value!r}: the plan has {count} ({name} 1-{count})", name)


def check_references(evaluation: Evaluation, refs: References) -> None:
    """Raise UnknownReferenceError for a measure or footnote number the document lacks ("mesure 52")."""
    n_measures, n_notes = len(evaluation.measures), len(evaluation.footnotes)
    for number in refs.measures:
        if not 1 <= number <= n_measures:
            raise UnknownReferenceError(f"unknown measure {number}: the plan has {n_measures} measures (1-{n_measures})")
    for number in refs.footnotes:
        if not 1 <= number <= n_notes:
            raise UnknownReferenceError(f"unknown footnote {number}: the evaluation has {n_notes} footnotes (1-{n_notes})")
