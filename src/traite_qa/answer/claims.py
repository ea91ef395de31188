"""What a text claims about measure statuses, in French or English, any phrasing.

The generator may write "La seizième mesure est désormais Réalisée",
"Measure 16 has been fully implemented" or "la mesure 16 n'a pas été mise en
œuvre": each is a claim (measure 16, a set of statuses it allows), checked
against the document by `verify.stated_status_problems`.

How a text is read:

1. Invisible characters go, NFKC folds no-break spaces and full-width digits,
   and quotes are set aside when they are the document's words: «…», “…” or
   "…" whose content the document holds (a measure title, a quoted sentence).
   A quote holding only a status label ("« Réalisée »") is the writer naming a
   status: it is kept. A quote the document does not hold is the writer's own.
2. Number words and roman numerals become digits (`understand.numbers`):
   "la seizième mesure" -> "la 16ème mesure".
3. Per sentence, every status participle (réalisée, mise en œuvre,
   implemented, carried out, …) is tied to the measure named nearest before
   it in the sentence, else nearest after it, else (for "Elle a été
   réalisée.") the one the previous sentence named.
4. The words between that measure and the participle (and a few after it)
   decide the status claimed: a negation (pas, non, not, never) -> Non
   réalisée; partly, partiellement, en partie -> Partiellement réalisée;
   "not fully" -> either of those; nothing -> Réalisée. Read twice, over the
   whole stretch and after its last comma, and both readings must agree with
   the document: a doubtful phrasing counts as a wrong status (the extractive
   answer is shown instead, which is always safe).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..document import Evaluation, Status
from ..text import collapse_spaces, fold
from ..understand.numbers import digits

R, P, N = Status.REALISEE, Status.PARTIELLEMENT, Status.NON_REALISEE

_LIST = r"\d{1,4}(?:\s*(?:,|et|and|&|ou|or|-|/)\s*\d{1,4})*"
# "mesure 16", "mesures 16 et 17", "measure n° 16", "[mesure 20-21]", "la 16eme mesure", "the 16th measure"
_REF_RE = re.compile(
    rf"\b(?:mesures?|measures?)\s*(?:n\s*°\s*|n[o°]s?\.?\s+|numeros?\s+|numbers?\s+|#\s*)?({_LIST})\b"
    r"|\b(\d{1,4})\s*(?:e|er|ere|eme|em|ieme|re|nd|nde|th|st|rd|°)\s+(?:mesure|measure)\b"
)
# Participles that state a status by themselves ("mesure 16 : réalisée", "measure 16, implemented").
_STRONG = r"realise(?:e|es|s)?|reali[sz]ed|implemented"
# Participles that need an auxiliary to be a claim ("a été mise en œuvre", not "la mise en œuvre de").
_WEAK = (
    r"mise?s? en (?:oeuvre|place|application)|applique(?:e|es|s)?|accompli(?:e|es|s)?|acheve(?:e|es|s)?"
    r"|concretise(?:e|es|s)?|execute(?:e|es|s)?|effectue(?:e|es|s)?|carried out|completed|achieved|fulfilled"
    r"|accomplished|executed|delivered|put in place|put into (?:effect|practice)|enforced|applied"
)
_NEGATED = r"unimplemented|unfulfilled|inachevee?s?|inaccomplie?s?|irrealisee?s?"
_PART_RE = re.compile(rf"\b(?:(?P<strong>{_STRONG})|(?P<weak>{_WEAK})|(?P<negated>{_NEGATED}))\b")
# "en cours de réalisation", "in progress": partly done, with no participle to find.
_ONGOING_RE = re.compile(r"\ben cours (?:de |d')(?:realisation|mise en oeuvre|execution|deploiement)\b|\bunder ?way\b|\bin progress\b")

_AUX_RE = re.compile(
    r"\b(?:est|sont|etait|etaient|a|ont|avait|avaient|ete|sera|seront|serait|seraient|soit|soient|ait|aient|fut"
    r"|is|are|was|were|been|be|being|has|have|had|will|hasn't|haven't|wasn't|weren't|isn't|aren't)\b|:\s*$"
)
# Right before a participle, these make it a noun or an adjective ("vise à la mise en œuvre").
_DETERMINER_RE = re.compile(r"\b(?:la|le|les|l'|sa|son|ses|leur|leurs|une|un|de|du|des|d'|cette|ce|the|its|their|an|of|for)\s*$")
_NEG_RE = re.compile(r"\b(?:non|pas|jamais|nullement|aucunement|sans|not|never|no longer|without)\b|n't\b")
_PARTIAL_RE = re.compile(
    r"\b(?:partiellement|en partie|pour partie|a moitie|incompletement|partly|partially|in part|half|incompletely"
    r"|en cours|being|progressivement|gradually)\b"
)
_NOT_FULLY_RE = re.compile(
    r"\b(?:pas|not|never|jamais|non)\b(?:\s+\S+){0,3}?\s+(?:encore\s+|yet\s+)?(?:entierement|completement|totalement"
    r"|pleinement|integralement|tout a fait|fully|entirely|completely|totally|wholly)\b"
)
_SENTENCE_RE = re.compile(r"(?<=[.!?;])\s+|\n+")
# A sentence about several measures ("Seules trois mesures ont été réalisées") does not continue the previous one's.
_PLURAL_RE = re.compile(r"\b(?:mesures|measures|toutes|aucune|plusieurs|certaines|all|none|several|some)\b")
_INVISIBLE = {"Cf"}  # zero-width spaces and joiners, soft hyphens, BOMs, bidi marks
_QUOTES = {"«": "»", "“": "”", "„": "“”", '"': '"'}
_WINDOW = 160  # characters between a measure and its participle still read as one claim
_QUOTED_WORDS = 5  # a quote shorter than this counts as the document's only when it is a whole title or label


@dataclass(frozen=True)
class Claim:
    measures: tuple[int, ...]
    allowed: frozenset[Status]  # the statuses the phrasing is compatible with
    text: str  # the sentence, as read (for messages)


class StatusClaims:
    """Reads claims against one evaluation (its words decide what a quote is)."""

    def __init__(self, evaluation: Evaluation):
        self.evaluation = evaluation
        texts = list(_document_texts(evaluation))
        self._words = "\n".join(_key(t) for t in texts)
        self._names = {_key(t) for t in texts if len(t) <= 300}  # titles, labels, definitions: quoted whole
        self._labels = {_key(s.value) for s in Status} | {_key(s.english) for s in Status} | {
            _key(f"{s.value} [{s.english}]") for s in Status
        }

    def claims(self, text: str, context: tuple[int, ...] = ()) -> tuple[list[Claim], tuple[int, ...]]:
        """The claims in `text`, and the measures its last sentence named (the
        `context` of a text that continues it, for "Elle a été réalisée.")."""
        own = self.own_words(unicodedata.normalize("NFKC", "".join(c for c in text if unicodedata.category(c) not in _INVISIBLE)))
        own = re.sub(r"(?<=\w)-(?=\w)", " ", fold(digits(_small_numbers(own))))
        found: list[Claim] = []
        for sentence in _SENTENCE_RE.split(own):
            refs = [(m.start(), m.end(), _numbers(m)) for m in _REF_RE.finditer(sentence)]
            found += self._sentence_claims(sentence, refs, context)
            if refs:
                context = refs[-1][2]
        return found, context

    def own_words(self, text: str) -> str:
        """`text` without the quotes that are the document's words."""
        out, i = [], 0
        while i < len(text):
            char = text[i]
            closers = _QUOTES.get(char)
            if closers is None:
                out.append(char)
                i += 1
                continue
            end = self._quote_end(text, i, closers)
            if end is None:  # not the document's words: the writer's own, read as such
                i += 1
                continue
            content = text[i + 1 : end]
            out.append(f" {content} " if _key(content) in self._labels else " ")
            i = end + 1
        return "".join(out)

    def _quote_end(self, text: str, start: int, closers: str) -> int | None:
        """Where the quote opened at `start` closes, if its content is the document's."""
        candidates = [j for j in range(start + 1, min(len(text), start + 4000)) if text[j] in closers][:8]
        for end in sorted(candidates, reverse=True):  # the longest: nested quotes stay inside
            content = _key(text[start + 1 : end])
            if content in self._labels or content in self._names:
                return end
            # A stretch of the document's text: long enough not to be a phrase
            # the writer could have made up ("« est réalisée »" is not a quote).
            if len(content.split()) >= _QUOTED_WORDS and content in self._words:
                return end
        return None

    def _sentence_claims(self, sentence: str, refs: list, context: tuple[int, ...]) -> list[Claim]:
        claims = []
        previous_end = 0
        for part in _parts(sentence):
            start, end, kind = part
            before = [r for r in refs if r[1] <= start]
            after = [r for r in refs if r[0] >= end]
            if before:
                measures, window_start = before[-1][2], before[-1][1]
            elif after:
                measures, window_start = after[0][2], previous_end
            elif context and not _PLURAL_RE.search(sentence[:start]):
                measures, window_start = context, previous_end
            else:
                previous_end = end
                continue
            window = sentence[max(window_start, previous_end, start - _WINDOW) : start]
            previous_end = end
            tail = re.split(r"[,;:()\[\]]|\bmesures?\b|\bmeasures?\b", sentence[end : end + 40])[0]
            if kind == "weak" and (_DETERMINER_RE.search(window) or not (_AUX_RE.search(window) or _NEG_RE.search(window))):
                continue  # "la mise en œuvre de la mesure 16", "the completed review": a noun, not a claim
            allowed = _reading(window, tail, kind)
            short = re.split(r"[,(:—]", window)[-1]
            allowed &= _reading(short, tail, kind)
            claims.append(Claim(measures, frozenset(allowed), collapse_spaces(sentence)[:200]))
        return claims


# text2num leaves numbers under 3 alone (so "une mesure" stays a phrase): next
# to the noun they still name a measure ("la première mesure", "measure two").
_SMALL = {"un": 1, "une": 1, "one": 1, "deux": 2, "two": 2, "trois": 3, "three": 3}
_SMALL_ORDINALS = {"premier": 1, "premiere": 1, "first": 1, "deuxieme": 2, "second": 2, "seconde": 2,
                   "troisieme": 3, "third": 3}
_SMALL_AFTER_RE = re.compile(r"\b((?:[Mm]esure|[Mm]easure)\s+)(" + "|".join(_SMALL) + r")\b")
_SMALL_BEFORE_RE = re.compile(r"\b(premi[eè]re?|first|deuxi[eè]me|seconde?|troisi[eè]me|third)(\s+(?:mesure|measure)\b)",
                              re.IGNORECASE)


def _small_numbers(text: str) -> str:
    text = _SMALL_AFTER_RE.sub(lambda m: f"{m.group(1)}{_SMALL[m.group(2)]}", text)
    return _SMALL_BEFORE_RE.sub(lambda m: f"{_SMALL_ORDINALS[fold(m.group(1))]}e{m.group(2)}", text)


def _parts(sentence: str) -> list[tuple[int, int, str]]:
    parts = [(m.start(), m.end(), m.lastgroup) for m in _PART_RE.finditer(sentence)]
    parts += [(m.start(), m.end(), "ongoing") for m in _ONGOING_RE.finditer(sentence)]
    return sorted(parts)


def _reading(window: str, tail: str, kind: str) -> set[Status]:
    """The statuses a participle allows, given the words before and after it."""
    if kind == "negated":
        return {N}
    if kind == "ongoing":
        return {P}
    if _NOT_FULLY_RE.search(window) or _NOT_FULLY_RE.search(tail):
        return {P, N}
    if _PARTIAL_RE.search(window) or _PARTIAL_RE.search(tail):
        return {P}
    if _NEG_RE.search(window):
        return {N}
    return {R}


def _numbers(match: re.Match) -> tuple[int, ...]:
    if match.group(2):
        return (int(match.group(2)),)
    return tuple(int(n) for n in re.findall(r"\d+", match.group(1)))


def _key(text: str) -> str:
    """How quotes are compared with the document: folded, spaces collapsed, outer punctuation off."""
    return collapse_spaces(fold(unicodedata.normalize("NFKC", text))).strip(" .,;:…'\"")


def _document_texts(evaluation: Evaluation):
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
