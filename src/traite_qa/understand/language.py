"""Which language a question is in: English questions get English framing."""

from __future__ import annotations

import re

from ..text import fold

# Function words: English questions share almost none with French ones.
_ENGLISH_WORDS = frozenset(
    """a an the of to in on at by for from with about against into over under up down out off is are was were be been
    being am do does did done has have had can could will would shall should may might must what which who whom whose
    how when where why there this that these those it its they their them he she his her we our you your i my me and
    or not no yes any some many much more most other such than then so if whether did please tell give show list
    measure measures footnote stand stands mean means status implemented""".split()
)
_FRENCH_WORDS = frozenset(
    fold(w)
    for w in """le la les un une des du de d l au aux et ou est sont a ont été être etre que qui quoi quel quelle quels
    quelles dont où ce cet cette ces il elle ils elles on nous vous je tu se sa son ses leur leurs pour par avec sans
    sur sous dans en y ne pas plus moins très tres comment combien pourquoi quand mesure mesures note signifie veut
    dire est-ce t-il t-elle t-on""".split()
)


# French elides at the front (l', d', qu'); English contracts at the back ('s, n't, 're).
_ELISION = re.compile(r"^(?:l|d|qu|j|n|s|c|m|t|jusqu|lorsqu|puisqu|quoiqu)'")
_CONTRACTION = re.compile(r"\w(?:'s|n't|'re|'ve|'ll|'d|'m)$")


def is_english(question: str) -> bool:
    tokens = re.findall(r"[\w'-]+", fold(question).replace("’", "'"))
    english = sum(t in _ENGLISH_WORDS or bool(_CONTRACTION.search(t)) for t in tokens)
    french = sum(t in _FRENCH_WORDS or bool(_ELISION.match(t)) for t in tokens)
    return english >= 2 and english > 2 * french
