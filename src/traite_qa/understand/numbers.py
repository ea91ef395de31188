"""Numbers written out in a question: "la seizième mesure", "mesure vingt-deux",
"mesure XVI", "the sixteenth measure" become digits before references are read.

French and English number words go through `text2num` (a maintained
library, rather than a hand-written list); roman numerals are read only right
after or before a word that numbers something (mesure, note, axe, action), so
the English pronoun "I" or a "V" in an acronym are never numbers.
"""

from __future__ import annotations

import re

_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
_ROMAN = r"[IVXLC]{1,7}"
_NOUN = r"(?:[Mm]esures?|[Mm]easures?|[Nn]otes?|[Ff]ootnotes?|[Aa]xes?|[Aa]xis|[Aa]ctions?)"
_ROMAN_AFTER = re.compile(rf"\b({_NOUN}\s+(?:n°\s*|no\.?\s*)?)({_ROMAN})\b")
_ROMAN_BEFORE = re.compile(rf"\b({_ROMAN})(e|ème|eme|th)\s+({_NOUN})\b")


def roman_value(text: str) -> int | None:
    """The value of a well-formed roman numeral (I … CCCXCIX), else None."""
    if not text or any(c not in _ROMAN_VALUES for c in text):
        return None
    total, previous = 0, 0
    for c in reversed(text):
        value = _ROMAN_VALUES[c]
        total = total - value if value < previous else total + value
        previous = max(previous, value)
    return total if _to_roman(total) == text else None


def _to_roman(value: int) -> str:
    out = []
    for number, letters in ((100, "C"), (90, "XC"), (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while value >= number:
            out.append(letters)
            value -= number
    return "".join(out)


def digits(text: str) -> str:
    """`text` with numbers written in words or roman numerals as digits."""
    text = _ROMAN_AFTER.sub(lambda m: m.group(1) + str(roman_value(m.group(2)) or m.group(2)), text)
    text = _ROMAN_BEFORE.sub(lambda m: (f"{roman_value(m.group(1))}e {m.group(3)}" if roman_value(m.group(1))
                                        else m.group(0)), text)
    try:
        from text_to_num import alpha2digit
    except ImportError:  # pragma: no cover - a declared dependency
        return text
    # French first (the document's language), then English ("the sixteenth measure").
    return alpha2digit(alpha2digit(text, "fr"), "en")
