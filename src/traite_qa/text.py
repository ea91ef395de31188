"""Text helpers shared by the parser, the lexical index and the answerer."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# A footnote marker is a bare number of one or two digits in parentheses:
# "(32)". Years "(2019-2021)", "(1989)" and "(mesure 13.1)" are not markers.
FOOTNOTE_MARKER_RE = re.compile(r"\s?\((\d{1,2})\)")
URL_RE = re.compile(r"(?:https?://|www\.)[^\s]+[^\s.,;:)]")

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "’": "'", "‘": "'", "«": '"', "»": '"'})


def fold(text: str) -> str:
    """Lower case without accents or ligatures: 'Égalité œuvre' -> 'egalite oeuvre'.

    Users type without accents; bm25s's French stemmer does not fold them.
    """
    text = text.translate(_LIGATURES)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def collapse_spaces(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def strip_markers(text: str) -> str:
    """Remove footnote markers: 'Direccte (32)' -> 'Direccte'."""
    return FOOTNOTE_MARKER_RE.sub("", text)


def markers(text: str) -> list[int]:
    return [int(m.group(1)) for m in FOOTNOTE_MARKER_RE.finditer(text)]


# Words ending with a period that do not end a sentence.
_ABBREVIATIONS = {
    "m", "mme", "mmes", "mm", "dr", "etc", "cf", "p", "pp", "n", "no", "art", "al", "ibid",
    "ac", "vol", "ex", "av", "st", "ste", "s",
}
_SENTENCE_END_RE = re.compile(r"[.!?…]+[\"»)]*(?=\s+[\"«(]?[A-ZÀ-ÖØ-Þ0-9])|[.!?…]+[\"»)]*$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split French prose into sentences; returns [start, end) offsets into `text`.

    Offsets (not strings) so quotes stay verbatim substrings of their chunk.
    Newlines always end a sentence: every line of the source is a paragraph.
    """
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        base, chunk = line.start(), line.group()
        start = 0
        for end_match in _SENTENCE_END_RE.finditer(chunk):
            end = end_match.end()
            word = re.search(r"(\w+)\W*$", chunk[start : end_match.start() + 1])
            # "M.", "L. 425-1", "etc." do not end a sentence (single letters are initials).
            if word and (word.group(1).lower() in _ABBREVIATIONS or len(word.group(1)) == 1) and end < len(chunk):
                continue
            _append_trimmed(spans, chunk, base, start, end)
            start = end
        _append_trimmed(spans, chunk, base, start, len(chunk))
    return spans


def _append_trimmed(spans: list[tuple[int, int]], chunk: str, base: int, start: int, end: int) -> None:
    piece = chunk[start:end]
    left = len(piece) - len(piece.lstrip())
    right = len(piece.rstrip())
    if right > left:
        spans.append((base + start + left, base + start + right))


_WORD_RE = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """Folded word tokens."""
    return _WORD_RE.findall(fold(text))


# Function words that carry no topic (folded). Used by the answerer's lexical
# overlap and by intent detection; the BM25 index has its own stemmed list.
STOPWORDS = frozenset(
    fold(w)
    for w in """
    a au aux avec ce ces cet cette dans de des du elle en et est etait eux il ils je la le les leur leurs
    lui ma mais me meme mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta
    te tes toi ton tu un une vos votre vous c d j l m n s t y ete etre sont ont a-t-il a-t-elle
    quel quelle quels quelles quoi comment combien pourquoi quand est-ce dont ou donc ni car si plus
    the of and or to in on for is are was were what which who how many much does do did be has have
    it its this that with by at as from an
    """.split()
)




# ------------------------------------------------------------ the analyzer
# One analyzer for BM25, title matching and evidence overlap: folded, stopwords
# dropped, French-stemmed. bm25s's French stemmer keeps accents, so the corpus,
# the queries and the stopword list (whose entries carry accents: "été") are folded first.
# Article and decree numbers ("225-4-1", "2013-7") and amounts ("45.000")
# stay one token; other words need two characters.
_TOKEN_RE = re.compile(r"\d+(?:[-.,/]\d+)+|\w\w+")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("french")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """bm25s's French stopwords, folded."""
    from bm25s.stopwords import STOPWORDS_FRENCH

    return frozenset(fold(w) for w in STOPWORDS_FRENCH)


def analyze(text: str) -> list[str]:
    """Folded, stopword-free French stems: 'Les préfectures' -> ['prefectur']."""
    tokens = [t for t in _TOKEN_RE.findall(fold(text)) if t not in stopwords()]
    return _stemmer().stemWords(tokens)


@lru_cache(maxsize=8192)
def word_set(text: str) -> frozenset[str]:
    """`analyze(text)` as a set, cached: the answerer's tables analyse every
    chunk and sentence of the document (~0.2 s) for each Assistant built, and
    the texts are the same each time (a few documents' worth are kept)."""
    return frozenset(analyze(text))


