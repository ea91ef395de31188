"""Text as the claim reader (`claims.py`) sees it: one spelling per word.

- invisible characters go (zero-width spaces and joiners, soft hyphens, bidi
  marks, variation selectors), NFKC folds no-break spaces, full-width and
  mathematical letters and digits;
- look-alike letters from other scripts become the Latin letter they imitate
  (a Cyrillic "е" in "Rеalisée", a Greek "Ο" in "Οui"): a small confusables
  fold, Cyrillic, Greek and a few others;
- check and cross marks become the status they stand for ("Mesure 16 : ✅"
  reads "Mesure 16 : réalisée"); any other pictograph is reported, so that a
  sentence naming a measure next to a mark nobody can read is dropped;
- sentences are cut where no quote is left open, so a quote of the document
  that holds a period stays whole.
"""

from __future__ import annotations

import re
import unicodedata

from ..text import fold

# Cyrillic, Greek, Armenian and Latin-extension letters that look like a Latin one.
_CONFUSABLES = str.maketrans({
    # Cyrillic capitals and small letters
    "А": "A", "В": "B", "Е": "E", "Ѕ": "S", "І": "I", "Ї": "I", "Ј": "J", "К": "K", "М": "M", "Н": "H",
    "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X", "У": "Y", "Ү": "Y", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W",
    "Ӏ": "I", "Ѵ": "V",
    "а": "a", "е": "e", "ё": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ї": "i",
    "ј": "j", "ѕ": "s", "ԁ": "d", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "ѵ": "v", "к": "k", "ү": "y",
    # Greek capitals and small letters
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C", "Ϳ": "J",
    "α": "a", "ο": "o", "ρ": "p", "ι": "i", "κ": "k", "ν": "v", "υ": "u", "χ": "x", "ϲ": "c", "ϳ": "j",
    "ε": "e", "τ": "t", "ς": "s",
    # Armenian and Latin extensions
    "օ": "o", "ս": "u", "հ": "h", "ո": "n", "ց": "g", "ı": "i", "ɑ": "a", "ɡ": "g", "ɩ": "i", "ʟ": "L",
    "ᴀ": "A", "ᴄ": "C", "ᴅ": "D", "ᴇ": "E", "ᴍ": "M", "ᴏ": "O", "ᴘ": "P", "ᴛ": "T", "ᴜ": "U",
})

_DONE, _NOT_DONE, _PARTLY = " réalisée ", " non réalisée ", " partiellement réalisée "
_MARKS = {
    **dict.fromkeys("✅✔✓☑🗸🟢👍🆗💯", _DONE),
    **dict.fromkeys("❌✗✘❎⛔🚫🔴👎☒✖⨯", _NOT_DONE),
    **dict.fromkeys("🟡🟠⚠⏳🔶🔸◐◑🚧⌛", _PARTLY),
}
_MARKS_TABLE = str.maketrans(_MARKS)
# Pictographs and dingbats (not "°", "©" or currency signs): a mark the table does not read.
_UNKNOWN_MARK_RE = re.compile(r"[\u2190-\u21ff\u2300-\u23ff\u2460-\u27bf\u2900-\u2bff\U0001f000-\U0001faff]")
_DROPPED = {"Cf", "Cs", "Co", "Cn"}  # format characters, lone surrogates, private use, unassigned
_VARIATIONS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef\U0001f3fb-\U0001f3ff]")  # emoji styles, skin tones


def normalize(text: str) -> str:
    """NFKC, look-alikes folded, marks read as words; case and accents kept
    (the caller's quote matching and `fold` come after)."""
    text = _VARIATIONS.sub("", text)
    text = "".join(c for c in text if unicodedata.category(c) not in _DROPPED)
    text = unicodedata.normalize("NFKC", text).translate(_CONFUSABLES)
    return text.translate(_MARKS_TABLE)


def has_unknown_mark(text: str) -> bool:
    """A pictograph left after `normalize` (not one of the status marks)."""
    return bool(_UNKNOWN_MARK_RE.search(text))


# A sentence end: . ! ? ; (with closing quotes or brackets) and spaces, or a newline.
_END_RE = re.compile(r"(?<=[.!?;…])[»”\"')\]]*\s+|\n+")
_PAIRS = (("«", "»"), ("“", "”"))


def split_sentences(text: str) -> list[str]:
    """`text` cut into sentences (each keeps its trailing spaces, so they join
    back into `text`); never inside an open quote."""
    out, start = [], 0
    for match in _END_RE.finditer(text):
        head = text[start : match.end()]
        if all(head.count(a) <= head.count(b) for a, b in _PAIRS) and head.count('"') % 2 == 0:
            out.append(head)
            start = match.end()
    if start < len(text):
        out.append(text[start:])
    return out


# text2num leaves numbers under 3 alone (so "une mesure" stays a phrase): next
# to the noun they still name a measure ("la première mesure", "measure two").
_SMALL = {"un": 1, "une": 1, "one": 1, "deux": 2, "two": 2, "trois": 3, "three": 3}
_SMALL_ORDINALS = {"premier": 1, "premiere": 1, "first": 1, "deuxieme": 2, "second": 2, "seconde": 2,
                   "troisieme": 3, "third": 3}
_SMALL_AFTER_RE = re.compile(r"\b((?:[Mm]esure|[Mm]easure)\s+)(" + "|".join(_SMALL) + r")\b")
_SMALL_BEFORE_RE = re.compile(r"\b(premi[eè]re?|first|deuxi[eè]me|seconde?|troisi[eè]me|third)(\s+(?:mesure|measure)\b)",
                              re.IGNORECASE)


def small_numbers(text: str) -> str:
    text = _SMALL_AFTER_RE.sub(lambda m: f"{m.group(1)}{_SMALL[m.group(2)]}", text)
    return _SMALL_BEFORE_RE.sub(lambda m: f"{_SMALL_ORDINALS[fold(m.group(1))]}e{m.group(2)}", text)


def document_texts(evaluation: Evaluation):
    yield evaluation.title
    for paragraph in (*evaluation.preamble, *evaluation.conclusion):
        yield paragraph.text
    for axis in evaluation.axes:
        yield from (axis.title, axis.label)
    for action in evaluation.actions:
        yield from (action.title, action.label)
    for measure in evaluation.measures:
        yield measure.title
        yield from (p.text for p in measure.paragraphs)
    for note in evaluation.footnotes:
        yield note.text
    for acronym in evaluation.acronyms:
        yield from (acronym.definition, f"{acronym.acronym} : {acronym.definition}")
    for row in evaluation.summary:
        yield row.title
