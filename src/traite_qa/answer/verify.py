"""The answer guarantees, as a checker the tests and the eval run on every answer:

- every quote is a verbatim substring of its passage (and of the source);
- every marker in the text names a cited passage, every citation is named;
- the status stated for a measure is the document's, in whatever words (claims.py);
- every other claim the framing makes in its own words (outside « quotes ») is
  checked against the document (`framing_problems`): a Oui / Non / En partie
  lead, "the document does not mention the year / this country", "the
  passages give no figure / date / amount".
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..document import Evaluation, Status
from ..text import fold
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
    problems += framing_problems(answer, evaluation, source)
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

_LEAD = re.compile(r"^\*\*(Oui|Non|En partie|Yes|No|Partly)\.\*\*")
_LEAD_STATUS = {"oui": Status.REALISEE, "yes": Status.REALISEE, "non": Status.NON_REALISEE, "no": Status.NON_REALISEE,
                "en partie": Status.PARTIELLEMENT, "partly": Status.PARTIELLEMENT}
_NO_YEAR = re.compile(r"(?:ne mentionne pas l'année|does not mention the year) (\d{4})")
_NO_COUNTRY = re.compile(r"(?:ne mentionne pas ce pays|never mentions this country|le nom de ce pays|the name of this country) \(([^)]+)\)")
_NO_VALUE = re.compile(r"(?:ne donnent pas|give no) (?:de |d')?(montant|chiffre|date|amount|figure)")
_VALUE_TYPE = {"montant": "money", "amount": "money", "chiffre": "count", "figure": "count", "date": "date"}
# « la CNCDH recommande : » claims that each quote below it is a recommendation:
# each must use the document's own verb for one (61 times in the text). The
# wider sentence picks ("doit", "il convient", "demande") also take
# "Il convient de noter que les statistiques…", which recommends nothing.
RECOMMENDS = re.compile(r"\brecommand|\bpréconis", re.IGNORECASE)
_RECOMMENDS_LEAD = re.compile(r"la CNCDH recommande :|the CNCDH recommends \(quoted in French\):")
_QUOTE_LINE = re.compile(r"^- (?:[^«\n]*: )?« (.*) » \[")


# A list said to hold a whole part of the plan (topics.py, SCOPE_*): the part's
# title (and an action's axis) must be the document's, the count it gives the
# number listed, and the items exactly that part's measures under the status
# named in brackets.
_PART_LEAD = re.compile(
    r"(?:(?P<kind>axe|axis|action) (?P<n>\d+) « (?P<title>[^»]*) »(?: \((?:axe|axis) (?P<axis>\d+)\))?"
    r"(?: ; toutes ses mesures|; all its measures|, qui compte (?P<count>\d+) mesures?|, which has (?P<count_en>\d+) measures?)"
    r"|(?P<plan>Toutes les mesures du plan|All the plan's measures))(?P<within> \([^)]*\))?"
    r"(?:(?:, selon l'annexe 2|, per annex 2) \((?P<total>\d+)\))?")
_ITEM = re.compile(r"^- \*\*(?:Mesure|Measure) (\d+)\*\*", re.MULTILINE)


def part_problems(answer, evaluation: Evaluation) -> list[str]:
    """A list said to be all of an axis's, an action's or the plan's measures (under
    a status, an axis) that is not exactly those measures, or that names the part,
    its axis or its count wrongly."""
    m = _PART_LEAD.search(answer.answer.split("\n", 1)[0])
    if not m:
        return []
    problems = []
    within = (m.group("within") or "").lower()
    # Every status named in the brackets ("« Partiellement réalisée » ou « Non
    # réalisée »), longest label first: "non réalisée" holds "réalisée".
    statuses = set()
    for s in sorted(Status, key=lambda s: -len(s.value)):
        if s.value.lower() in within:
            statuses.add(s)
            within = within.replace(s.value.lower(), " ")
    axis = re.search(r"(?:axe|axis) (\d+)", within)
    scope = {"axis": int(axis.group(1))} if axis else {}
    if m.group("kind"):
        kind, n = "axis" if m.group("kind") in ("axe", "axis") else "action", int(m.group("n"))
        parts = evaluation.axes if kind == "axis" else evaluation.actions
        if not 1 <= n <= len(parts):
            return [f"names {kind} {n}, which the plan does not have"]
        part = (evaluation.axis if kind == "axis" else evaluation.action)(n)
        if m.group("title") != part.label:
            problems.append(f"names {kind} {n} « {m.group('title')} »; its title is « {part.label} »")
        if m.group("axis") and int(m.group("axis")) != part.axis:
            problems.append(f"places action {n} in axis {m.group('axis')}; it is in axis {part.axis}")
        scope = {kind: n}
    wanted = [x.number for x in evaluation.measures_with(**scope) if not statuses or x.status in statuses]
    listed = [int(n) for n in _ITEM.findall(answer.answer)]
    if sorted(listed) != wanted:
        named = " or ".join(s.value for s in Status if s in statuses) or "any status"
        problems.append(f"says it lists all of {scope or 'the plan'}'s measures ({named}): "
                        f"it lists {listed}, the document has {wanted}")
    count = m.group("count") or m.group("count_en") or m.group("total")
    if count is not None and int(count) != len(wanted):
        problems.append(f"gives {count} measures; the document has {len(wanted)}")
    return problems


def framing_problems(answer, evaluation: Evaluation, source: str | None = None) -> list[str]:
    """Claims of the answer's own words that the document does not support.

    - A yes/no lead states a status: it must be the status of the one measure
      the answer states (annex 2), never read from a sentence.
    - "does not mention the year Y" / "this country (X)": Y, or any name of X
      (English or French, any case or accents), must be absent from the source.
    - "the closest passages give no figure": no quoted sentence may hold one.
    - « la CNCDH recommande : »: every quote under it recommends (RECOMMENDS).
    - "all the measures of action N" (or of an axis, or the plan): exactly those.
    """
    from ..understand import satisfies
    from .gate import country_names, mentioned

    problems: list[str] = part_problems(answer, evaluation)
    own = _outside_quotes(answer.answer)
    lead = _LEAD.match(answer.answer)
    if lead:
        statuses = {Status(v) for v in answer.measures.values()}
        wanted = _LEAD_STATUS[lead.group(1).lower()]
        if len(answer.measures) != 1 or statuses != {wanted}:
            problems.append(f"yes/no lead {lead.group(1)!r} is not the status of the one measure stated "
                            f"({dict(answer.measures)})")
    if source is not None:
        for year in _NO_YEAR.findall(own):
            if year in source:
                problems.append(f"says the document does not mention {year}; it does")
        for name in _NO_COUNTRY.findall(own):
            found = mentioned(country_names(fold(name)) or frozenset({fold(name)}), _folded(source))
            if found:
                problems.append(f"says the document never names the country {name!r}; it has {found!r}")
    lines = answer.answer.split("\n")
    for i, line in enumerate(lines):
        if _RECOMMENDS_LEAD.search(_outside_quotes(line)):
            for quoted in lines[i + 1:]:
                m = _QUOTE_LINE.match(quoted)
                if not m:
                    break
                if not RECOMMENDS.search(m.group(1)):
                    problems.append(f"says the CNCDH recommends, above a quote that recommends nothing: {m.group(1)[:80]!r}")
    for word in _NO_VALUE.findall(own):
        quotes = [q for c in answer.citations for q in c.quotes]
        if any(satisfies(_VALUE_TYPE[word], [q]) for q in quotes):
            problems.append(f"says no {word} is given, above a quote that gives one")
    return problems


@lru_cache(maxsize=2)
def _folded(source: str) -> str:
    # Folding the whole document costs 70 ms: once per source, not per answer
    # (the fuzz tests and the bank check verify thousands of answers).
    return fold(source)


def _outside_quotes(text: str) -> str:
    return re.sub(r"«[^»]*»", "«»", text)
