"""Typing slips, read back as the word the reader meant.

A swapped, missing, doubled or wrong letter in a long word ("hébregement",
"singifie") broke the cue words, the BM25 terms and the acronym questions: a
typo in the longest word of a curated question changed 12% of the answers
(`python -m eval.arith run none`, "typo"). A word is respelled only when
neither the document nor a list of common French and English words knows it
(so "argent", "victims" and "préside" stay as typed), into the document's own
word one edit away, or else the one real word one edit away. The real words are wordfreq's
most frequent French and English ones (`python -m eval.train_words`), not a
table of ours: nothing here comes from a question.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from importlib import resources

from ..text import STOPWORDS, fold
from ..vocabulary import WORD

# Short words are left alone: one edit away from a short word there are many
# real words ("assos" -> "assis", "cerfa" -> "cerf"), and the typos that change
# answers are in the long, content-bearing ones.
MIN_LENGTH = 6
# An acronym typed with two letters swapped ("DDTES", "OCTREH") is read as the
# document's: only swaps, as a deletion or a wrong letter makes another real
# body's name ("DREES" is one letter from "DREETS"), and only from five letters.
MIN_ACRONYM = 5
# Nor is a run of letters longer than any word (French's longest common one,
# "anticonstitutionnellement", has 25): its edits would cost a second and
# hundreds of MB for a 2,000-letter "word" (the question's cap).
MAX_LENGTH = 30
WORDS_FILE = "words.txt"


class Speller:
    """Built once per document from its texts (route.py's `_word_tables`); `respell` is pure."""

    def __init__(self, texts: tuple[str, ...]):
        counts: Counter[str] = Counter()
        spelled: dict[str, Counter[str]] = {}
        lower: set[str] = set()
        capitals: set[str] = set()
        for text in texts:
            for word in WORD.findall(text):
                low = word.lower()
                bare = fold(low)
                counts[bare] += 1
                spelled.setdefault(bare, Counter())[low] += 1
                if word.islower():
                    lower.add(bare)
                elif word.isupper() and 3 <= len(word) <= 8 and word.isascii():
                    capitals.add(word)
        self._counts = counts
        # The document's acronyms: words of 3-8 letters without accents that it
        # writes in capitals, never in lower case, and that are no common word
        # (the plan's titles in capitals are words: « DANS », « LUTTE », « LOCALE »).
        self._acronyms = {w.lower(): w for w in capitals if w.lower() not in lower and w.lower() not in _lexicon()}
        # The document's most frequent spelling of each folded word (accents kept).
        self._spelling = {bare: forms.most_common(1)[0][0] for bare, forms in spelled.items()}

    @property
    def acronyms(self) -> frozenset[str]:
        """The document's acronyms, folded and in capitals ("ERRIN", "CESEDA")."""
        return frozenset(a.upper() for a in self._acronyms)

    def respell(self, text: str, shouted: bool = False) -> str:
        """The text with each unknown long word replaced by the word one edit away
        (the document's first); every other character as typed."""
        return WORD.sub(lambda m: self._word(m.group(0), shouted), text)

    def _word(self, word: str, shouted: bool) -> str:
        low = word.lower()
        bare = fold(low)
        if word.isupper() and MIN_ACRONYM <= len(word) <= MAX_LENGTH and bare not in self._counts:
            swapped = {w for w in _swaps(bare) if w in self._acronyms}
            if len(swapped) == 1 and bare not in _lexicon():
                return self._acronyms[swapped.pop()]
        if not MIN_LENGTH <= len(word) <= MAX_LENGTH or (word.isupper() and not shouted):
            return word  # other capitals are an acronym the document lacks, kept as typed
        if bare in self._counts or bare in STOPWORDS or bare in _lexicon():
            return word
        edits = _edits(bare)
        near = [w for w in edits if w in self._counts]
        if near:
            found = self._spelling[max(near, key=lambda w: (self._counts[w], w))]
        else:
            found = _dictionary_fix(edits)
            if found is None:
                return word
        if word.isupper():
            return found.upper()
        return found.capitalize() if word[:1].isupper() else found


def _swaps(word: str) -> set[str]:
    """Every word two neighbouring letters away."""
    return {word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1)} - {word}


def _edits(word: str) -> set[str]:
    """Every word one deletion, transposition, substitution or insertion away
    (Norvig's edits1, over the folded alphabet)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= _swaps(word)
    out |= {a + c + b[1:] for a, b in splits if b for c in letters}
    out |= {a + c + b for a, b in splits for c in letters}
    out.discard(word)
    return out


@lru_cache(maxsize=1)
def _lexicon() -> frozenset[str]:
    """The real words (`data/models/words.txt`, `python -m eval.train_words`)."""
    path = resources.files("traite_qa").joinpath("data", "models", WORDS_FILE)
    try:
        return frozenset(path.read_text(encoding="utf-8").split())
    except (FileNotFoundError, OSError) as err:
        raise FileNotFoundError(f"the word list {path} is missing: run `python -m eval.train_words`") from err


def _dictionary_fix(edits: set[str]) -> str | None:
    """The one real word among a slip's edits, if there is exactly one: two or
    more and the slip is ambiguous, so it is left as typed."""
    near = [w for w in edits if w in _lexicon()]
    return near[0] if len(near) == 1 else None


def load() -> None:
    """Read the word list now (a server's warm-up), not on the first slip."""
    _lexicon()
