"""What a text claims about measure statuses, in French or English, any phrasing:
one verifier for the generator's reply and the assistant's own framing.

Every status claim maps to measures and a status, or it is *unmapped* and its
sentence is dropped (fail closed). `check_claims(text, evaluation)` lists the
problems, `supported_sentences(text, evaluation)` keeps the sentences that
have none; `verify.stated_status_problems` is the wrong-status part.

How a sentence is read (`claim_text.py` first folds look-alike letters, marks
such as ✅ or ❌, invisible characters and NFKC):

1. Quotes are set aside when they are the document's words: «…», “…” or "…"
   whose content the document holds (a measure title, a quoted sentence). A
   quote holding only a status label ("« Réalisée »") is the writer naming a
   status: it is kept. A quote the document does not hold is the writer's own.
2. Number words and roman numerals become digits ("la seizième mesure" ->
   "la 16ème mesure").
3. Every status cue (réalisée, mise en œuvre, menée à bien, a vu le jour,
   effective, implemented, done, complete, a success, ...; "se félicite de la
   réalisation de", "l'absence de mise en œuvre de") is tied to the measure
   named nearest before it, else nearest after it, else (for "Elle a été
   réalisée.") the one the previous sentence named; measures joined by "et",
   "and", "ainsi que" or a comma ("la mesure 16 et la mesure 38 sont
   réalisées") all take the claim.
4. The words between that measure and the cue decide the status: negations
   are counted (one: Non réalisée; two, "n'est pas non réalisée": not Non
   réalisée; three or more: unmapped), partly/en partie -> Partiellement,
   "not fully" -> either lesser status. Read twice, over the whole stretch and
   after its last comma: both readings must allow the document's status.
5. Unmapped, so the sentence is dropped: a cue in a sentence about measures
   that names none, a cue under a condition, a modal, a future or a denial
   ("si", "devrait", "will", "il est faux que"), "respectivement", readings
   that contradict each other, a pictograph the fold does not read next to a
   measure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..document import Evaluation, Status
from ..text import collapse_spaces, fold
from ..understand.numbers import digits
from .claim_text import document_texts, has_unknown_mark, normalize, small_numbers, split_sentences

R, P, N = Status.REALISEE, Status.PARTIELLEMENT, Status.NON_REALISEE

_LIST = r"\d{1,4}(?:\s*(?:,|et|and|&|ou|or|-|/)\s*\d{1,4})*"
# "mesure 16", "mesures 16 et 17", "measure n° 16", "[mesure 20-21]", "la 16eme mesure", "the 16th measure"
_REF_RE = re.compile(
    rf"\b(?:mesures?|measures?)\s*(?:n\s*°\s*|n[o°]s?\.?\s+|numeros?\s+|numbers?\s+|#\s*)?({_LIST})\b"
    r"|\b(\d{1,4})\s*(?:e|er|ere|eme|em|ieme|re|nd|nde|th|st|rd|°)\s+(?:mesure|measure)\b"
)
# Between two measures that share one claim: "la mesure 16 et la mesure 38", "measure 16, measure 38".
_JOINED_RE = re.compile(
    r"\s*,?\s*(?:et|and|&|ou|or|ainsi que|de meme que|tout comme|comme|as well as|along with|together with)?"
    r"\s*,?\s*(?:(?:la|le|les|l'|the|sa|ses|its)\s*)?"
)
_PAST = r"(?:e|es|s)?"
# Cues that state a status by themselves ("mesure 16 : réalisée", "measure 16, implemented").
_STRONG = r"realise(?:e|es|s)?|reali[sz]ed|implemented"
# Cues that need an auxiliary to be a claim ("a été mise en œuvre", not "la mise en œuvre de").
_WEAK = (
    rf"mise?s? en (?:oeuvre|place|application)|applique{_PAST}|accompli{_PAST}|acheve{_PAST}|concretise{_PAST}"
    rf"|execute{_PAST}|effectue{_PAST}|mene{_PAST} a bien|vu le jour|effective?s?|abouti{_PAST}|finalise{_PAST}"
    rf"|termine{_PAST}|operationnel(?:le|les|s)?|(?:entree?s? )?en vigueur|en place|chose faite"
    r"|une? (?:succes|reussite)"
    r"|carried out|completed|achieved|fulfilled|accomplished|executed|delivered|put in place|put into (?:effect|practice)"
    r"|enforced|applied|done|complete|finished|finali[sz]ed|a success|successful|in place|in effect|into effect"
    r"|(?:took|taken) effect|operational|up and running|ok"
)
_NEGATED = (
    r"unimplemented|unfulfilled|inaccomplie?s?|irrealisee?s?|undelivered|unreali[sz]ed|unachieved|ineffective?s?"
    r"|lettre morte|un echec|a failure|failed|echoue(?:e|es|s)?"
)
_INCOMPLETE = r"inachevee?s?|incomplete?s?|unfinished|inabouti(?:e|es|s)?"
_NOUN = (
    r"(?:realisation|mise en oeuvre|concretisation|aboutissement|achevement|reussite|succes|implementation"
    r"|completion|delivery|success|achievement|fulfil?ment)"
)
# "La CNCDH se félicite de la réalisation de la mesure 16", "welcomes the implementation of measure 16".
_PRAISE = (
    r"(?:se felicit\w*|salu\w*|se rejoui\w*|applaudi\w*|note avec satisfaction|welcom\w*|prais\w*|celebrat\w*"
    rf"|applaud\w*|hail\w*|commend\w*|notes? with satisfaction)\s+(?:\S+\s+){{0,3}}?{_NOUN}"
)
_LAMENT = rf"(?:absence|defaut|manque|lack|failure|non)\s+(?:(?:de|d'|of|to)\s*)?(?:(?:la|l'|the)\s*)?{_NOUN}"
_PART_RE = re.compile(
    rf"\b(?:(?P<praise>{_PRAISE})|(?P<lament>{_LAMENT})|(?P<strong>{_STRONG})|(?P<weak>{_WEAK})"
    rf"|(?P<negated>{_NEGATED})|(?P<incomplete>{_INCOMPLETE}))\b"
)
_NOUN_KINDS = {"praise", "lament"}
# "en cours de réalisation", "in progress": partly done, with no participle to find.
_ONGOING_RE = re.compile(r"\ben cours (?:de |d')(?:realisation|mise en oeuvre|execution|deploiement)\b|\bunder ?way\b|\bin progress\b")

_AUX_RE = re.compile(
    r"\b(?:est|sont|etait|etaient|a|ont|avait|avaient|ete|sera|seront|serait|seraient|soit|soient|ait|aient|fut"
    r"|reste|restent|demeure|demeurent|devenue?s?"
    r"|is|are|was|were|been|be|being|has|have|had|will|remains?|hasn't|haven't|wasn't|weren't|isn't|aren't)\b|:\s*$"
)
# Right before a participle, these make it a noun or an adjective ("vise à la mise en œuvre").
_DETERMINER_RE = re.compile(r"\b(?:la|le|les|l'|sa|son|ses|leur|leurs|une|un|de|du|des|d'|cette|ce|the|its|their|an|of|for)\s*$")
_NEG_RE = re.compile(r"\b(?:non|pas|jamais|nullement|aucunement|sans|not|never|no longer|without)\b|n't\b"
                     r"|\bn'(?:est|a|ont|sont|etait|avait)\s+plus\b")
_NEITHER_RE = re.compile(r"\bnon plus\b")  # "n'est pas non plus réalisée": one negation, not two
_PARTIAL_RE = re.compile(
    r"\b(?:partiel(?:le)?s?|partiellement|en partie|pour partie|a moitie|incompletement|partly|partially|partial|in part"
    r"|half|incompletely|en cours|being|progressivement|gradually)\b"
)
_NOT_FULLY_RE = re.compile(
    r"\b(?:pas|not|never|jamais|non)\b(?:\s+\S+){0,3}?\s+(?:encore\s+|yet\s+)?(?:entierement|completement|totalement"
    r"|pleinement|integralement|tout a fait|fully|entirely|completely|totally|wholly)\b"
)
# Before a cue, these make it no claim of fact: a condition, a modal, a future, a denial.
_FRAME_RE = re.compile(
    r"\b(?:faux|vrai|inexact\w*|errone\w*|dement\w*|contest\w*|doute\w*|si|s'il|lorsque|quand|une fois que"
    r"|des que|devr\w+|doi(?:t|vent)|pourr\w+|aur(?:ait|aient)|ser(?:a|ont|ait|aient)|il faut|rest\w* a"
    r"|a condition|respectivement|hypoth\w*|false|true|untrue|incorrect|wrong|den(?:y|ies|ied)|doubt\w*|if"
    r"|whether|when|once|unless|should|would|could|might|may|must|will|shall|needs? to|ha(?:s|ve) to"
    r"|remains? to|ought|respectively|suppos\w*|hypothetical\w*)\b"
)
# Before the measure, a denial of what follows: one more negation ("il est faux que la mesure 16 est réalisée").
_DENIAL_RE = re.compile(r"\b(?:(?:il |c')?(?:est|n'est pas) (?:faux|vrai|inexact|errone|exact)|(?:it is|it's|is it) (?:not )?"
                        r"(?:false|true|untrue|incorrect|wrong))\b")
# A sentence about measures in general ("Seules trois mesures ont été réalisées") does not continue the previous one's.
_PLURAL_RE = re.compile(r"\b(?:mesures|measures|toutes|aucune|plusieurs|certaines|all|none|several|some)\b")
_MEASURE_WORD_RE = re.compile(r"\b(?:mesures?|measures?)\b")
_QUOTES = {"«": "»", "“": "”", "„": "“”", '"': '"'}
_WINDOW = 160  # characters between a measure and its cue still read as one claim
_QUOTED_WORDS = 5  # a quote shorter than this counts as the document's only when it is a whole title or label


@dataclass(frozen=True)
class Claim:
    measures: tuple[int, ...]
    allowed: frozenset[Status]  # the statuses the phrasing is compatible with
    text: str  # the sentence, as read (for messages)
    mapped: bool = True  # False: a status claim the reader cannot tie to a measure and a status
    count: int | None = None  # "3 mesures ont été réalisées": how many measures have the status (no `measures`)


@dataclass(frozen=True)
class Problem:
    kind: str  # "wrong_status", "no_such_measure" or "unmapped"
    message: str
    sentence: str
    measure: int | None = None

    def __str__(self) -> str:
        return self.message


class StatusClaims:
    """Reads claims against one evaluation (its words decide what a quote is)."""

    def __init__(self, evaluation: Evaluation):
        self.evaluation = evaluation
        texts = list(document_texts(evaluation))
        self._words = "\n".join(_key(t) for t in texts)
        self._names = {_key(t) for t in texts if len(t) <= 300}  # titles, labels, definitions: quoted whole
        self._labels = {_key(s.value) for s in Status} | {_key(s.english) for s in Status} | {
            _key(f"{s.value} [{s.english}]") for s in Status
        }

    def claims(self, text: str, context: tuple[int, ...] = ()) -> tuple[list[Claim], tuple[int, ...]]:
        """The claims in `text`, and the measures its last sentence named (the
        `context` of a text that continues it, for "Elle a été réalisée.")."""
        found: list[Claim] = []
        for sentence in split_sentences(text):
            claims, context = self.sentence_claims(sentence, context)
            found += claims
        return found, context

    def sentence_claims(self, sentence: str, context: tuple[int, ...] = ()) -> tuple[list[Claim], tuple[int, ...]]:
        """The claims of one sentence, and the context for the next one."""
        normal = normalize(sentence)
        own = self.own_words(normal)
        own = re.sub(r"(?<=\w)-(?=\w)", " ", fold(digits(small_numbers(own))))
        refs = [(m.start(), m.end(), _numbers(m)) for m in _REF_RE.finditer(own)]
        claims = self._claims(own, refs, context)
        if refs and has_unknown_mark(own):
            claims.append(Claim((), frozenset(), collapse_spaces(own)[:200], mapped=False))
        return claims, (refs[-1][2] if refs else context)

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

    def _claims(self, sentence: str, refs: list, context: tuple[int, ...]) -> list[Claim]:
        claims = []
        previous_end = 0
        text = collapse_spaces(sentence)[:200]
        for start, end, kind in _parts(sentence):
            window_floor = previous_end
            previous_end = end
            measures, window_start = _measures_for(sentence, refs, start, end, kind)
            if measures is None:
                if context and not _PLURAL_RE.search(sentence[:start]):
                    measures, window_start = context, window_floor
                elif kind in ("weak", "strong") and not _is_claim(sentence[max(0, start - _WINDOW) : start], kind):
                    continue
                elif (counted := _count_claim(sentence[:start], kind, text)) is not None:
                    claims.append(counted)
                    continue
                elif _MEASURE_WORD_RE.search(sentence):  # about measures, but names none: unmapped
                    claims.append(Claim((), frozenset(), text, mapped=False))
                    continue
                else:
                    continue  # "Le plan a été mis en œuvre": no measure in sight
            window = sentence[max(window_start, window_floor, start - _WINDOW) : start]
            if kind in ("weak", "strong") and not _is_claim(window, kind):
                continue  # "la mise en œuvre de la mesure 16", "the completed review": a noun, not a claim
            if _FRAME_RE.search(_DENIAL_RE.sub(" ", sentence[:start])):
                claims.append(Claim(measures, frozenset(), text, mapped=False))
                continue
            tail = re.split(r"[,;:()\[\]]|\bmesures?\b|\bmeasures?\b", sentence[end : end + 40])[0]
            denials = _denials(sentence[:start])
            whole = _reading(window, tail, kind, denials)
            short = _reading(re.split(r"[,(:—]", window)[-1], tail, kind, denials)
            if whole is None or short is None or not whole & short:
                claims.append(Claim(measures, frozenset(), text, mapped=False))
            else:
                claims.append(Claim(measures, frozenset(whole & short), text))
        return claims


# "3 Réalisée", "28 mesures partiellement réalisées", "14 measures are not implemented".
# Not the number of an axis or action ("the 7 measures of axis 2 « … » are"):
# that read as "2 measures are Réalisée".
_COUNT_RE = re.compile(r"(?<!axe )(?<!axis )(?<!action )\b(\d{1,3})\s+(?:(?:mesures?|measures?)\s+)?(?:(?:sont|ont ete|ont|are|were|have been)\s+)?"
                       r"(?:seules?\s+|only\s+)?((?:partiellement|partially|partly|non|not)\s+)?$")


def _count_claim(prefix: str, kind: str, text: str) -> Claim | None:
    """A claim about how many measures have a status, or None."""
    match = _COUNT_RE.search(prefix)
    if kind != "strong" or not match:
        return None
    status = _reading(match.group(2) or "", "", kind)
    return Claim((), frozenset(status), text, count=int(match.group(1))) if status and len(status) == 1 else None


def _is_claim(window: str, kind: str) -> bool:
    """A weak cue is a claim after an auxiliary or a negation, not after a determiner."""
    if kind != "weak":
        return True
    return not _DETERMINER_RE.search(window) and bool(_AUX_RE.search(window) or _NEG_RE.search(window))


def _measures_for(sentence: str, refs: list, start: int, end: int, kind: str):
    """The measures a cue at [start, end) is about, and where its window starts;
    (None, 0) when the sentence names none around it."""
    before = [i for i, r in enumerate(refs) if r[1] <= start]
    after = [i for i, r in enumerate(refs) if r[0] >= end]
    if kind in _NOUN_KINDS and after and re.fullmatch(r"\s*(?:de|du|des|d'|of)?\s*(?:la|l'|the)?\s*", sentence[end : refs[after[0]][0]]):
        before = []  # "la réalisation de la mesure 16": the measure that follows
    if before:
        first = last = before[-1]
        while first > 0 and _JOINED_RE.fullmatch(sentence[refs[first - 1][1] : refs[first][0]]):
            first -= 1
        window_start = refs[last][1]
    elif after:
        first = last = after[0]
        while last + 1 < len(refs) and _JOINED_RE.fullmatch(sentence[refs[last][1] : refs[last + 1][0]]):
            last += 1
        window_start = 0
    else:
        return None, 0
    measures = tuple(n for r in refs[first : last + 1] for n in r[2])
    return measures, window_start


def _parts(sentence: str) -> list[tuple[int, int, str]]:
    parts = [(m.start(), m.end(), m.lastgroup) for m in _PART_RE.finditer(sentence)]
    parts += [(m.start(), m.end(), "ongoing") for m in _ONGOING_RE.finditer(sentence)]
    return sorted(parts)


def _denials(prefix: str) -> int:
    """How many times the words before a cue deny it: "il est faux que" once,
    "il n'est pas vrai que" once, "il n'est pas faux que" (or more) unreadable: 3."""
    found = _DENIAL_RE.findall(prefix)
    if not found:
        return 0
    denied = sum(bool(re.search(r"faux|inexact|errone|false|untrue|incorrect|wrong|n'est pas|not", f)) for f in found)
    both = sum(bool(re.search(r"(?:faux|inexact|errone|false|untrue|incorrect|wrong)$", f)) and
               bool(re.search(r"n'est pas|not", f)) for f in found)
    return 3 if both or len(found) > 1 else denied


def _reading(window: str, tail: str, kind: str, denials: int = 0) -> set[Status] | None:
    """The statuses a cue allows, given the words before and after it; None
    when the phrasing cannot be read (three negations, a negated "partly")."""
    negations = len(_NEG_RE.findall(_NEITHER_RE.sub(" ", window))) + (kind == "negated") + denials
    partial = _PARTIAL_RE.search(window) or _PARTIAL_RE.search(tail)
    if negations > 2:
        return None
    if kind == "praise":
        return ({P} if partial else {R}) if negations == 0 else None
    if kind == "lament":
        return {N} if negations == 0 else None
    if kind in ("ongoing", "incomplete"):
        return ({P} if kind == "ongoing" else {P, N}) if negations == 0 else None
    if _NOT_FULLY_RE.search(window) or _NOT_FULLY_RE.search(tail):
        return {P, N} if negations <= 1 else None
    if partial:
        return {P} if negations == 0 else None
    return [{R}, {N}, {R, P}][negations]


def _numbers(match: re.Match) -> tuple[int, ...]:
    if match.group(2):
        return (int(match.group(2)),)
    return tuple(int(n) for n in re.findall(r"\d+", match.group(1)))


def _key(text: str) -> str:
    """How quotes are compared with the document: folded, spaces collapsed, outer punctuation off."""
    return collapse_spaces(fold(normalize(text))).strip(" .,;:…'\"")


@lru_cache(maxsize=8)
def reader(evaluation: Evaluation) -> StatusClaims:
    """The claim reader for an evaluation (built once: it indexes the document's words)."""
    return StatusClaims(evaluation)


def claim_problems(claims: list[Claim], evaluation: Evaluation) -> list[Problem]:
    """What is wrong with each claim: a status that is not the document's, a
    measure the plan does not have, or a claim that maps to no status."""
    problems = []
    for claim in claims:
        if not claim.mapped:
            problems.append(Problem("unmapped", f"a status claim that cannot be checked: {claim.text[:80]!r}", claim.text))
            continue
        if claim.count is not None:
            (status,) = claim.allowed
            actual = sum(m.status is status for m in evaluation.measures)
            if actual != claim.count:
                problems.append(Problem("wrong_status", f"the answer says {claim.count} measures are {status.value!r}, "
                                        f"the document has {actual}", claim.text))
        for number in claim.measures:
            try:
                actual = evaluation.measure(number).status
            except LookupError:
                problems.append(Problem("no_such_measure", f"the answer names measure {number}, which does not exist",
                                        claim.text, number))
                continue
            if actual not in claim.allowed:
                said = " or ".join(repr(s.value) for s in Status if s in claim.allowed)
                problems.append(Problem("wrong_status", f"the answer says measure {number} is {said}, "
                                        f"the document says {actual.value!r}", claim.text, number))
    return problems


def check_claims(text: str, evaluation: Evaluation, context: tuple[int, ...] = ()) -> list[Problem]:
    """Every problem with the status claims of `text` (empty: all are the document's)."""
    return claim_problems(reader(evaluation).claims(text, context)[0], evaluation)


def supported_sentences(text: str, evaluation: Evaluation, context: tuple[int, ...] = ()) -> list[str]:
    """The sentences of `text` whose status claims all map to a measure and
    the document's status (each as written, trailing spaces kept); the others
    are dropped."""
    kept = []
    for sentence in split_sentences(text):
        claims, context = reader(evaluation).sentence_claims(sentence, context)
        if not claim_problems(claims, evaluation):
            kept.append(sentence)
    return kept
