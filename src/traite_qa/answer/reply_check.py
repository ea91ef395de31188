"""A generated reply, checked sentence by sentence before anyone sees it.

The model's text arrives in pieces. A piece is held until the sentence it
ends is complete (and no quote is left open); that sentence is then checked
and only then released, as a delta:

- markers naming a passage the model was not given are dropped;
- every status it claims for a measure, in any phrasing (`claims.py`), must
  be the document's. A wrong one stops the reply: the caller shows the
  extractive answer instead, and what was released before never held a
  wrong status. A status claim the reader cannot map to a measure and a
  status (a condition, three negations, an unknown mark) drops its sentence
  (fail closed); the final Answer says how many were dropped.

At the end the whole text is checked once more, and the Answer is built: the
markers kept decide its citations; with none left it is marked unverified.
"""

from __future__ import annotations

import dataclasses
import re

from ..document import Evaluation
from ..types import Answer
from .compose import MARKER_RE, marker_matches
from .claims import claim_problems
from .verify import stated_status_problems, status_claims

# A sentence end: punctuation (and closing quotes or brackets), spaces, then
# the start of the next sentence, which must have begun: a marker right after
# the period ("… manques. [Mesure 16]") still belongs to this sentence.
_END_RE = re.compile(r"(?:[.!?…;]+[»”\"')\]]*[ \t]+|\n+[ \t]*)(?=[^\s\[])")
_PAIRS = (("«", "»"), ("“", "”"))
_MARGIN = 64  # characters searched again before the new piece: a sentence end may straddle two pieces


class StatusMisstated(Exception):
    """The reply claims a status the document does not give (the message says which)."""


class ReplyChecker:
    def __init__(self, answer: Answer, evaluation: Evaluation | None):
        self.answer = answer
        self.evaluation = evaluation
        self._pending = ""
        self._scanned = 0  # how much of _pending has been searched for sentence ends
        self._released: list[str] = []
        self._kept: list[str] = []
        self._context: tuple[int, ...] = ()  # the measure the released text named last ("Elle a été réalisée.")
        self.dropped = 0  # sentences dropped: a status claim that maps to no measure and status

    def feed(self, piece: str) -> str:
        """The verified text `piece` completes (maybe ''); raises StatusMisstated."""
        self._pending += piece
        cut = self._cut()
        if cut == 0:
            return ""
        sentence, self._pending = self._pending[:cut], self._pending[cut:]
        return self._release(sentence)

    def finish(self) -> str:
        """The rest of the text, verified (the reply has ended)."""
        rest, self._pending = self._pending, ""
        return self._release(rest) if rest else ""

    @property
    def text(self) -> str:
        return "".join(self._released).strip()

    def final(self, notes: tuple[str, ...]) -> Answer:
        """The checked Answer for the whole reply (call after `finish`)."""
        text = self.text
        if self.evaluation is not None:
            problems = stated_status_problems(text, self.evaluation)
            if problems:  # read whole, the text says more than its sentences did one by one
                raise StatusMisstated(problems[0])
        if self.dropped:
            notes += (f"{self.dropped} generated sentence(s) dropped: a status claim that could not be checked",)
        used = [c for c in self.answer.citations if any(m == c.marker or marker_matches(m, c.hit) for m in self._kept)]
        if not used:
            sources = " ".join(f"[{c.marker}]" for c in self.answer.citations)
            return dataclasses.replace(
                self.answer,
                answer=f"{text}\n(Réponse non vérifiée : aucun repère valide. Sources consultées : {sources})",
                verified=False,
                notes=self.answer.notes + notes + ("no valid marker in the generated answer",),
            )
        return dataclasses.replace(self.answer, answer=text, citations=tuple(used), notes=self.answer.notes + notes)

    # ------------------------------------------------------------ internals
    def _cut(self) -> int:
        """Where the held text can be cut: after its last complete sentence
        that leaves no quote open; 0 when there is none yet.

        Only the end of the held text is searched (what the last piece added,
        and a margin for an end that straddles two pieces): a reply that never
        ends a sentence costs linear time, not a rescan per piece."""
        text = self._pending
        start = max(0, self._scanned - _MARGIN)
        self._scanned = len(text)
        for match in reversed(list(_END_RE.finditer(text, start))):
            head = text[: match.end()]
            if all(head.count(a) == head.count(b) for a, b in _PAIRS) and head.count('"') % 2 == 0:
                self._scanned = len(text) - match.end()
                return match.end()
        return 0

    def _release(self, sentence: str) -> str:
        kept: list[str] = []
        cleaned = MARKER_RE.sub(lambda m: self._keep_or_drop(m, kept), sentence)
        if self.evaluation is not None:
            claims, self._context = status_claims(self.evaluation).claims(cleaned, self._context)
            problems = claim_problems(claims, self.evaluation)
            wrong = [p for p in problems if p.kind != "unmapped"]
            if wrong:
                raise StatusMisstated(wrong[0].message)
            if problems:  # a claim nobody can check: the sentence goes, the reply goes on
                self.dropped += 1
                return ""
        self._kept += kept
        if not self._released:
            cleaned = cleaned.lstrip()
        if cleaned:
            self._released.append(cleaned)
        return cleaned

    def _keep_or_drop(self, match: re.Match, kept: list[str]) -> str:
        marker = match.group(1)
        if any(marker == c.marker or marker_matches(marker, c.hit) for c in self.answer.citations):
            kept.append(marker)
            return match.group(0)
        return ""  # names a passage the model was not given
