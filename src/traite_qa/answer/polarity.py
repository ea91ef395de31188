"""Oui / Non / En partie, read from the sentence that answers a yes/no question.

The decision is deliberately narrow, so that it fails safe: it reads only the
best evidence sentence (and the status of a measure the question is about),
and says "the document does not settle it" when the cues disagree or when the
question is itself negative. Cue patterns live in `data/cues.yaml` (polarity).
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..tables import regex_list, table
from ..text import fold
from ..types import Status

YES, NO, PARTLY = "oui", "non", "en partie"


@lru_cache(maxsize=1)
def _cues() -> dict[str, re.Pattern]:
    p = table("cues")["polarity"]
    return {name: regex_list(p[name]) for name in ("negation", "restriction", "partial")}


def polarity(sentence: str) -> str | None:
    """What a sentence says of its main proposition: YES, NO, PARTLY, or None when unclear."""
    folded = fold(sentence)
    cues = _cues()
    negative = bool(cues["negation"].search(folded))
    restricted = bool(cues["restriction"].search(folded))
    partial = bool(cues["partial"].search(folded))
    if negative and (restricted or partial):
        return None  # "n'est que partiellement …": too mixed to call
    if negative:
        return NO
    if restricted or partial:
        return PARTLY
    return YES


def decide(question: str, sentence: str, status: Status | None = None) -> str | None:
    """The answer to a yes/no question from its best sentence, or None.

    `status` is the status of the measure the question is about, when the
    question asks whether that measure was carried out: it decides alone.
    A negative question ("n'a-t-il pas …", "isn't …") is left undecided: a bare
    Oui or Non would be ambiguous.
    """
    if _cues()["negation"].search(fold(question)):
        return None
    if status is not None:
        return {Status.REALISEE: YES, Status.PARTIELLEMENT: PARTLY, Status.NON_REALISEE: NO}[status]
    return polarity(sentence)
