"""The words the assistant reads with one meaning everywhere: negation,
completion ("a-t-elle été réalisée ?") and case.

Patterns live in `data/cues.yaml` (each entry says where it comes from); this
module is the one place that compiles and applies them, so a question is
read the same way by the router, the gate and the framing verifiers.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .tables import phrase_pattern, regex_list, table
from .text import STOPWORDS, analyze, fold


# A word: a run of letters (no digits, no underscore), in any script.
WORD = re.compile(r"[^\W\d_]+")


@lru_cache(maxsize=1)
def _negation() -> re.Pattern:
    return regex_list(table("cues")["negation"])


@lru_cache(maxsize=1)
def _completion() -> re.Pattern:
    return phrase_pattern(table("cues")["status"]["done"])


def negated(text: str) -> bool:
    """The text says 'not' ('n'a pas', 'aucun', 'not', 'never'), in any case or accents."""
    return bool(_negation().search(fold(text)))


def asks_completion(text: str) -> bool:
    """The text asks whether something was carried out ('réalisée', 'mise en
    œuvre', 'implemented'): a measure's status answers exactly that."""
    return bool(_completion().search(fold(text)))


def shouting(text: str) -> bool:
    """Typed in capitals: most cased letters upper case, over a few words.
    Such capitals say nothing about acronyms or names."""
    letters = [c for c in text if c.isalpha() and c.lower() != c.upper()]
    return len(letters) >= 8 and sum(c.isupper() for c in letters) >= 0.7 * len(letters)


def unshout(text: str, acronyms: set[str]) -> str:
    """Lower-case a question typed in capitals, keeping the document's own
    acronyms (annex 1) as they are written there."""
    if not shouting(text):
        return text
    return WORD.sub(lambda m: m.group(0) if fold(m.group(0)).upper() in acronyms else m.group(0).lower(), text)


def accent_table(texts) -> dict[str, str]:
    """The document's accented words by their unaccented spelling ("realisee":
    "réalisée"), where that spelling is unambiguous: one accented form, and the
    unaccented one is not itself a word of the document ("a", "ou" stay)."""
    forms: dict[str, set[str]] = {}
    plain: set[str] = set()
    for text in texts:
        for word in WORD.findall(text.lower()):
            bare = fold(word)
            if bare == word:
                plain.add(word)
            else:
                forms.setdefault(bare, set()).add(word)
    return {bare: next(iter(f)) for bare, f in forms.items() if len(f) == 1 and bare not in plain}


def embedding_text(text: str, acronyms: dict[str, str], accents: dict[str, str] | None = None) -> str:
    """The question as the encoder reads it, whatever its capitals and closing
    punctuation: capitals typed for emphasis are lowered (the document's own
    acronyms kept, as annex 1 writes them), the first letter is a capital, and
    it ends with " ?". Shouting, or a missing question mark, changed 2.5% and
    4% of the curated answers (`python -m eval.arith run none`). (Lower-casing
    every question kept them all too, but cost 2 points of dev accuracy.)"""
    if shouting(text):
        text = WORD.sub(lambda m: acronyms.get(fold(m.group(0)).upper(), m.group(0).lower()), text)
    # An acronym typed in capitals is written as the annex writes it ("MIPROF": "Miprof").
    text = WORD.sub(lambda m: acronyms.get(fold(m.group(0)).upper(), m.group(0)) if m.group(0).isupper() else m.group(0), text)
    if accents and text.isascii():
        # Typed without accents: the document's own spelling of each word it has
        # (a question with some accents was typed with them, and is left alone).
        text = WORD.sub(lambda m: _accented(m.group(0), accents), text)
    text = re.sub(r"[\s?!.…]+$", "", text.strip())
    return f"{text[:1].upper()}{text[1:]} ?" if text else text


def _accented(word: str, accents: dict[str, str]) -> str:
    found = accents.get(word.lower())
    if found is None:
        return word
    return found.capitalize() if word[:1].isupper() else found


# Short words an acronym skips ("mécanisme national DE référence": MNR).
_ACRONYM_GLUE = frozenset("de du des la le les l d et a aux au en pour sur contre of the and for".split())
_NOT_IN_A_TERM = frozenset(STOPWORDS) - _ACRONYM_GLUE


def initials_table(texts) -> dict[str, str]:
    """Acronyms the reader may type that the document never writes, spelled out
    from the document itself: "MNR" is the initials of "mécanisme national de
    référence", which the document writes six times and never abbreviates.
    Kept only where one phrase has those initials at least three times and
    three times as often as any other, and holds no word but the glue of a
    term ("de", "la", ...), so that an entry is the document's own term, not
    an accident of initials: at twice, with any words, "CNDA" (the asylum
    court) read as « coordination nationale devrait assurer », "OCDE" as
    « œuvre de ce dispositif est » and "RATP" as « renouvelable
    automatiquement le temps de la procédure », and search followed them."""
    counts: dict[str, dict[str, int]] = {}
    spelled: dict[str, str] = {}
    vocabulary: set[str] = set()
    for text in texts:
        for sentence in re.split(r"[.;:!?()\"«»\n]", text):
            tokens = WORD.findall(sentence)
            vocabulary.update(fold(t).lower() for t in tokens)
            for i, first in enumerate(tokens):
                if fold(first).lower() in _ACRONYM_GLUE:
                    continue
                initials = ""
                for j in range(i, min(len(tokens), i + 9)):
                    word = fold(tokens[j]).lower()
                    if word in _ACRONYM_GLUE:
                        continue
                    initials += word[0].upper()
                    if 3 <= len(initials) <= 6:
                        phrase = " ".join(tokens[i:j + 1])
                        key = fold(phrase).lower()
                        spelled.setdefault(key, phrase)
                        counts.setdefault(initials, {})[key] = counts.get(initials, {}).get(key, 0) + 1
    table = {}
    for initials, phrases in counts.items():
        ranked = sorted(phrases.items(), key=lambda kv: -kv[1])
        best, n = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0
        if n >= 3 and n >= 3 * second and initials.lower() not in vocabulary and not (set(best.split()) & _NOT_IN_A_TERM):
            table[initials] = spelled[best].lower() if not spelled[best].isupper() else spelled[best]
    return table


def spell_out(text: str, initials: dict[str, str]) -> str:
    """Each acronym of the question that the document never writes, followed by
    the document's own term for it: "Le MNR a-t-il été créé ?" is read as "Le MNR
    (mécanisme national de référence) a-t-il été créé ?"."""
    return re.sub(r"\b[A-Z]{3,6}\b", lambda m: f"{m.group(0)} ({initials[m.group(0)]})"
                  if m.group(0) in initials else m.group(0), text)


# The words that name a part of the plan's structure, as `analyze` stems them
# (the document's own headings: "AXE 1", "Action 3"; "axis" is English).
_PART_WORDS = {"axis": frozenset({"axe", "axis"}), "action": frozenset({"action"})}


# « L'action publique » / "public action" is a phrase of two of the plan's own
# titles (axis 5 « Coordonner l'action publique… », action 3 « … guider l'action
# publique »), not the name of a part: « l'axe sur la coordination de l'action
# publique » names an axis only (it read as naming both, and the list became
# action 14's measures, short of axis 5's measure 39).
_NOT_A_PART = re.compile(r"\bactions? publiques?\b|\bpublic actions?\b")


def names_part(text: str, kind: str) -> bool:
    """The question names an axis or an action as such ("l'axe sur…", "the action on…")."""
    return bool(set(analyze(_NOT_A_PART.sub(" ", fold(text)))) & _PART_WORDS[kind])


# The document's own way of naming a measure in its text (« la mesure 20 », « mesures 20 et 21 »).
_MEASURE_NAMED = re.compile(r"\bmesures? (\d{1,2})(?: (?:et|à) (\d{1,2}))?\b", re.IGNORECASE)


def measures_named(text: str) -> set[int]:
    """The measures a sentence of the document names by number."""
    return {int(n) for pair in _MEASURE_NAMED.findall(text) for n in pair if n}


def names_measure(text: str, number: int) -> bool:
    return number in measures_named(text)


def names_another_measure(text: str, number: int) -> bool:
    return bool(measures_named(text) - {number})
