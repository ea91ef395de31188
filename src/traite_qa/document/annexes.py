"""The annexes: the glossary (annex 1) and the summary table (annex 2),
checked against the measures' own headers."""

from __future__ import annotations

import re

from ..errors import DocumentFormatError
from ..text import collapse_spaces
from ..types import Status
from .cursor import Cursor
from .model import Acronym, Measure, SummaryRow

_ACRONYM_RE = re.compile(r"^(\S+) : (.+?)\.?$")
_SUMMARY_AXIS_RE = re.compile(r"^AXE N° ?(\d+) : (.+)$")
# Page furniture after annex 2, not part of the evaluation.
_TRAILER_RE = re.compile(r"^(BILAN|Extrait du Journal officiel.*|Retourner en haut de la page)$")


def parse_glossary(cur: Cursor) -> tuple[Acronym, ...]:
    _expect_annex(cur, "1", "the glossary (annex 1)")
    heading = cur.next("the glossary heading 'SIGLES UTILISÉS'")
    if "SIGLES" not in heading.text.upper():
        raise cur.fail("expected the glossary heading 'SIGLES UTILISÉS'", heading)
    acronyms: list[Acronym] = []
    seen: set[str] = set()
    while (line := cur.peek()) is not None and not line.text.lstrip("• ").startswith("ANNEXE"):
        match = _ACRONYM_RE.match(line.text)
        if not match:
            raise cur.fail("expected a glossary line 'SIGLE : définition.'", line)
        name = match.group(1)
        if name.upper() in seen:
            raise cur.fail(f"acronym {name} is defined twice in the glossary", line)
        seen.add(name.upper())
        acronyms.append(Acronym(name, match.group(2).strip(), line.span))
        cur.next("glossary lines")
    if not acronyms:
        raise cur.fail("the glossary (annex 1) has no 'SIGLE : définition.' line")
    return tuple(acronyms)


def _expect_annex(cur: Cursor, number: str, what: str) -> None:
    line = cur.peek()
    if line is None or line.text.lstrip("• ").strip() != f"ANNEXE {number}":
        got = f", found {line.text[:60]!r}" if line else " (the document ends here: truncated?)"
        raise cur.fail(f"expected '• ANNEXE {number}', {what}{got}", line)
    cur.next(f"annex {number}")


def parse_summary(cur: Cursor) -> tuple[SummaryRow, ...]:
    _expect_annex(cur, "2", "the summary table")
    rows: list[SummaryRow] = []
    axis = 0
    # Title and column headings come before the first axis row.
    while (line := cur.peek()) is not None and not _SUMMARY_AXIS_RE.match(line.text):
        cur.next("the summary table's headings")
    while (line := cur.peek()) is not None:
        if match := _SUMMARY_AXIS_RE.match(line.text):
            axis = int(match.group(1))
            cur.next("an axis row")
        elif line.text.isdigit():
            cur.next("a measure number")
            title = cur.next(f"the title of measure {line.text} in annex 2")
            status_line = cur.next(f"the status of measure {line.text} in annex 2")
            try:
                status = Status(status_line.text)
            except ValueError:
                raise cur.fail(
                    f"expected the status of measure {line.text} in annex 2, found {status_line.text[:60]!r}",
                    status_line,
                ) from None
            rows.append(SummaryRow(int(line.text), title.text, status, axis, line.number))
        elif _TRAILER_RE.match(line.text):
            cur.next("the trailer")
        else:
            raise cur.fail("unexpected line in annex 2: expected a measure number, 'AXE N°n :' or the end", line)
    if not rows:
        raise cur.fail("the summary table (annex 2) has no rows")
    return tuple(rows)


def check_summary(summary: tuple[SummaryRow, ...], measures: dict[int, Measure], warnings: list[str]) -> None:
    by_number = {}
    for row in summary:
        if row.number in by_number:
            raise DocumentFormatError(f"measure {row.number} appears twice in annex 2", row.line)
        by_number[row.number] = row
    for number, measure in sorted(measures.items()):
        row = by_number.get(number)
        if row is None:
            raise DocumentFormatError(f"measure {number} is missing from the summary table (annex 2)")
        if row.status is not measure.status:
            raise DocumentFormatError(
                f"measure {number}: annex 2 says '{row.status}' but its header says '{measure.status}'", row.line
            )
        if row.axis != measure.axis:
            raise DocumentFormatError(f"measure {number}: annex 2 puts it in axis {row.axis}, the body in axis {measure.axis}", row.line)
        if _title_key(row.title) != _title_key(measure.title):
            warnings.append(f"measure {number}: title differs in annex 2: '{measure.title}' / '{row.title}'")
    if extra := sorted(set(by_number) - set(measures)):
        raise DocumentFormatError(f"annex 2 lists measure {extra[0]}, which the body does not have", by_number[extra[0]].line)


def _title_key(title: str) -> str:
    """Compare titles ignoring case, quote style and spacing, not wording or accents."""
    return collapse_spaces(re.sub(r"[\"«»“”]", " ", title)).casefold()
