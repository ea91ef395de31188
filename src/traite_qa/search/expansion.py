"""Query expansion for the lexical (BM25) side of the search.

Users ask in English or in everyday French; the document speaks
administrative French. BM25 cannot match "children" with "mineurs" or
"papiers" with "titre de séjour", so a question's words bring their
document-side equivalents along:

- English words: a lexicon learned from the encoder (`data/models/lexicon.json`,
  `make train`, eval/train_lexicon.py), each common English word with its
  nearest words of the document. It replaced a hand table, which it beat on
  dev and test;
- everyday French words: the hand table `data/expansion.yaml`, with its
  provenance (the encoder's neighbours lost to it on dev).

The dense side needs no help (e5 is multilingual) and gets the question
unchanged.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from ..tables import table
from ..text import fold

LEXICON_FILE = "lexicon.json"


@lru_cache(maxsize=1)
def _french() -> tuple[dict[str, str], list[str]]:
    fr = {fold(k): v for k, v in table("expansion")["fr_fr"].items()}
    return fr, sorted((k for k in fr if " " in k), key=len, reverse=True)


@lru_cache(maxsize=1)
def lexicon() -> dict[str, list[str]]:
    path = resources.files("traite_qa").joinpath("data", "models", LEXICON_FILE)
    try:
        return json.loads(path.read_text(encoding="utf-8"))["words"]
    except (FileNotFoundError, OSError) as err:
        raise FileNotFoundError(f"the lexicon {path} is missing: run `make train`") from err


def expand_with(question: str, english: bool, en: dict[str, list[str]]) -> str:
    """The question plus the document-side words of its terms, `en` the English lexicon."""
    fr, phrases = _french()
    folded = fold(question)
    extra: list[str] = [fr[p] for p in phrases if re.search(rf"(?<!\w){re.escape(p)}(?!\w)", folded)]
    for word in re.findall(r"[\w-]+", folded):
        if english and word in en:
            extra.extend(en[word])
        elif word in fr:
            extra.append(fr[word])
    return f"{question} {' '.join(extra)}" if extra else question


def expand(question: str, english: bool) -> str:
    """The question plus the document-side words of its terms, for BM25."""
    return expand_with(question, english, lexicon() if english else {})
