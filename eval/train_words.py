"""The words a reader may type that are real French or English words
(`src/traite_qa/data/models/words.txt`), so that the speller
(`traite_qa/understand/spelling.py`) respells only slips.

They come from wordfreq (a maintained frequency list, built from Wikipedia,
subtitles, news, books and the web), not from any question: the 100,000 most
frequent words of each language, of at least 6 letters (the speller leaves
shorter words alone), without accents (a reader who types "coute" for "coûte"
typed a word), most frequent first. Deterministic for a wordfreq version;
`tests/test_learned.py` regenerates it and compares.

    python -m eval.train_words          # writes the file
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from traite_qa.text import fold
from traite_qa.understand.spelling import MIN_LENGTH, WORDS_FILE

PER_LANGUAGE = 100_000
OUT = Path(__file__).resolve().parents[1] / "src" / "traite_qa" / "data" / "models" / WORDS_FILE


def words_text() -> str:
    from wordfreq import iter_wordlist

    lists = [list(itertools.islice(iter_wordlist(lang, "large"), PER_LANGUAGE)) for lang in ("fr", "en")]
    seen: dict[str, None] = {}
    # Interleaved by rank, so that a line's position is its frequency rank in either language.
    for pair in itertools.zip_longest(*lists):
        for word in pair:
            if word and len(word) >= MIN_LENGTH and word.isalpha():
                seen.setdefault(word if word.isascii() else fold(word), None)
    return "".join(f"{w}\n" for w in seen)


def main(argv: list[str]) -> int:
    text = words_text()
    OUT.write_text(text, encoding="utf-8")
    print(f"{text.count(chr(10))} words written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
