"""The answer guarantees, as a checker the tests and the eval run on every answer:

- every quote is a verbatim substring of its passage (and of the source);
- every marker in the text names a cited passage, every citation is named;
- the status stated for a measure is the document's.
"""

from __future__ import annotations

import re

from ..document import Evaluation, Status
from .compose import MARKER_RE, marker_matches


def answer_problems(answer, evaluation: Evaluation, source: str | None = None) -> list[str]:
    problems: list[str] = []
    for citation in answer.citations:
        hit = citation.hit
        for quote in citation.quotes:
            if quote not in hit.text:
                problems.append(f"quote not in passage {hit.id}: {quote[:60]!r}")
        if source is not None and source[hit.span[0] : hit.span[1]] != hit.text:
            problems.append(f"passage {hit.id} is not the source text at its span")
    written = MARKER_RE.findall(answer.answer)
    for marker in written:
        if not any(marker == c.marker or marker_matches(marker, c.hit) for c in answer.citations):
            problems.append(f"marker [{marker}] names no citation")
    for citation in answer.citations:
        if citation.marker not in written:
            problems.append(f"citation {citation.id} ([{citation.marker}]) is not referred to in the answer")
    for number, status in answer.measures.items():
        if evaluation.measure(int(number)).status.value != status:
            problems.append(f"measure {number} stated as {status!r}, the document says {evaluation.measure(int(number)).status.value!r}")
    problems += stated_status_problems(answer.answer, evaluation)
    if answer.status == "invalid_question" and answer.citations:
        problems.append("an invalid_question answer cites passages")
    return problems


_STATUS_ALT = "|".join(sorted((re.escape(s.value) for s in Status), key=len, reverse=True))
# "La mesure 16 « … » (…) est Non réalisée", "mesure 22 « … » : Partiellement réalisée"
_STATED_RE = re.compile(rf"\b(?:mesure|measure) (\d+)(?: «[^»]*»)?(?: \([^)]*\))?(?: est| is| :|,)? ({_STATUS_ALT})")


def stated_status_problems(text: str, evaluation: Evaluation) -> list[str]:
    problems = []
    for number, status in _STATED_RE.findall(text):
        try:
            actual = evaluation.measure(int(number)).status.value
        except LookupError:
            problems.append(f"the answer names measure {number}, which does not exist")
            continue
        if actual != status:
            problems.append(f"the answer says measure {number} is {status!r}, the document says {actual!r}")
    return problems
