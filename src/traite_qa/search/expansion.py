"""Query expansion for the lexical (BM25) side of the search.

Users ask in English or in everyday French; the document speaks
administrative French. BM25 cannot match "children" with "mineurs" or
"papiers" with "titre de séjour", so a question's words bring their
document-side equivalents along (the table: `data/expansion.yaml`, with its
provenance). The dense side needs no help (e5 is multilingual) and gets the
question unchanged.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..tables import table
from ..text import fold


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, str], dict[str, str], list[str]]:
    data = table("expansion")
    en = {fold(k): v for k, v in data["en_fr"].items()}
    fr = {fold(k): v for k, v in data["fr_fr"].items()}
    phrases = sorted((k for k in {**en, **fr} if " " in k), key=len, reverse=True)
    return en, fr, phrases


def expand(question: str, english: bool) -> str:
    """The question plus the document-side words of its terms, for BM25."""
    en, fr, phrases = _tables()
    folded = fold(question)
    extra: list[str] = []
    for phrase in phrases:
        if re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", folded):
            extra.append(en.get(phrase) or fr[phrase])
    for word in re.findall(r"[\w-]+", folded):
        if english and word in en:
            extra.append(en[word])
        elif word in fr:
            extra.append(fr[word])
    return f"{question} {' '.join(extra)}" if extra else question
