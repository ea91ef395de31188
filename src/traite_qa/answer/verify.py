"""The answer guarantees, as a checker the tests and the eval run on every answer:

- every quote is a verbatim substring of its passage (and of the source);
- every marker in the text names a cited passage, every citation is named;
- the status stated for a measure is the document's, in whatever words (claims.py).
"""

from __future__ import annotations

from ..document import Evaluation
from .claims import Claim, StatusClaims, reader
from .claims import claim_problems as problems_of
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


def status_claims(evaluation: Evaluation) -> StatusClaims:
    """The claim reader for an evaluation (built once: it indexes the document's words)."""
    return reader(evaluation)


def stated_status_problems(text: str, evaluation: Evaluation, context: tuple[int, ...] = ()) -> list[str]:
    """Every status the text's own sentences claim that is not the document's.

    Case, accents, look-alike letters, marks (✅, ❌), no-break spaces, French
    or English, number words, ordinals and roman numerals do not matter;
    quotes of the document are not the writer's claims (see `claims.py`).
    `context`: the measures the text before `text` named last, when `text`
    continues it. Claims that cannot be mapped are not listed here (see
    `claims.check_claims`, whose caller drops their sentences)."""
    return claim_problems(status_claims(evaluation).claims(text, context)[0], evaluation)


def claim_problems(claims: list[Claim], evaluation: Evaluation) -> list[str]:
    """The wrong statuses and unknown measures among `claims`, as messages."""
    return [p.message for p in problems_of(claims, evaluation) if p.kind != "unmapped"]
