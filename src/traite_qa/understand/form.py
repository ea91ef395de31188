"""How a question is asked: yes/no or open, a status or a recommendation
asked for, and the topic words of a list of measures.

Every cue list lives in `data/cues.yaml`; every cue is matched anywhere in
the question's core (politeness removed), never anchored at its start.
Whether a question asks for a list or a synthesis is learned
(route_model.py), not read from cues.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..tables import phrase_pattern, table
from ..text import STOPWORDS, analyze, fold


@dataclass(frozen=True)
class Form:
    yes_no: bool = False  # answered by oui / non / en partie
    listing: bool = False  # asks for the measures on a topic, or measure by measure (given by the caller)
    summary: bool = False  # asks in so many words for a summary ("résume", "in short")
    status: bool = False  # asks whether something was done, or where it stands
    strong_status: bool = False  # "où en est", "statut", "avancement"
    done: bool = False  # asks whether something planned was done ("… a-t-il été créé ?")
    recommendation: bool = False
    why: bool = False
    topic_words: tuple[str, ...] = ()  # stems of a list request that name its topic


@lru_cache(maxsize=1)
def _cues() -> dict:
    c = table("cues")
    yn = c["yes_no"]
    return {
        "wh": phrase_pattern([*c["wh"]["fr"], *c["wh"]["en"]]),
        "fr_inversion": re.compile(yn["fr_inversion"]),
        "yn_phrases": re.compile(phrase_pattern(yn["fr_phrases"]).pattern + r"|\best-ce qu'"),
        "qu_est_ce": re.compile(r"\bqu'est[- ]ce\b"),
        # At the head of a clause, or after a preposition ("à qui", "depuis quand").
        "wh_head": re.compile(r"(?:^|[.?!;:,] ?|\b(?:a|de|par|pour|depuis|jusqu'a|avec|chez|sur|en) )(?:"
                              + "|".join(re.escape(w) for w in c["wh"]["fr_head"]) + r")(?!\w)"),
        # An English auxiliary heading a clause ("Did France …", "… ; is it …").
        "en_aux": re.compile(r"(?:^|[.?!;:,] ?)(?:" + "|".join(re.escape(a) for a in yn["en_auxiliaries"]) + r")\b"),
        "after_request": re.compile(r"(?:^|[.?!;:,] ?)(?:" + "|".join(yn["fr_after_request"] + yn["en_after_request"]) + r")\b"),
        "listing_generic": frozenset(analyze(" ".join(c["listing_generic"]))),
        "summary_request": phrase_pattern(c["summary_request"]),
        "strong_status": phrase_pattern(c["status"]["strong"]),
        "done": phrase_pattern(c["status"]["done"]),
        "recommendation": re.compile(r"\b(?:" + "|".join(c["recommendation"]) + r")\b"),
        "why": re.compile(r"\b(?:" + "|".join(c["why"]) + r")\b"),
    }


def read_form(core: str, listing: bool = False) -> Form:
    """`listing`: the route model reads a list of measures on a topic; its
    topic words are then read (a count parsed as a reference has none)."""
    folded = fold(core)
    cues = _cues()
    has_wh = bool(cues["wh"].search(folded) or cues["qu_est_ce"].search(folded) or cues["wh_head"].search(folded)
                  or re.search(r"(?<!\w)où(?!\w)", core.lower()))
    inverted = bool(cues["fr_inversion"].search(folded) or cues["yn_phrases"].search(folded)
                    or cues["en_aux"].search(folded) or cues["after_request"].search(folded))
    topic = tuple(w for w in content_words(core) if w not in cues["listing_generic"]) if listing else ()
    strong = bool(cues["strong_status"].search(folded))
    return Form(
        yes_no=inverted and not has_wh and not listing,
        listing=listing,
        summary=bool(cues["summary_request"].search(folded)),
        status=strong or bool(cues["done"].search(folded)),
        strong_status=strong,
        done=bool(cues["done"].search(folded)),
        recommendation=bool(cues["recommendation"].search(folded)),
        why=bool(cues["why"].search(folded)),
        topic_words=topic,
    )


def content_words(text: str) -> list[str]:
    """Stems that carry meaning: no French or English stopwords, no question words."""
    wh = _cues()["wh"]
    return [w for w in analyze(text) if not wh.fullmatch(w) and w not in STOPWORDS and w not in _stopword_stems()]


@lru_cache(maxsize=1)
def _stopword_stems() -> frozenset[str]:
    # bm25s's maintained English list, analysed like the text (the French
    # stemmer on folded words), and the stems of text.STOPWORDS: the stemmer
    # makes "have" "hav" and "were" "wer", which no list holds ("How many
    # measures does axis 2 have?" was a list on the topic "hav").
    from bm25s.stopwords import STOPWORDS_EN

    return (frozenset(analyze(" ".join(STOPWORDS_EN))) | frozenset(fold(w) for w in STOPWORDS_EN)
            | frozenset(analyze(" ".join(STOPWORDS))))
