"""Parse the evaluation's text into `document.Evaluation`.

The text is a plain export of the Journal officiel page. Its layout, in order:
title and meta lines, preamble paragraphs, `AXE n :` / `ACTION N° n :` /
`Mesure n : titre [statut]` headers with body paragraphs, `BILAN`, footnote
definitions `(n) …`, `• ANNEXE 1` (glossary `SIGLE : définition.`), `• ANNEXE 2`
(summary table: number, title and status on separate lines), then a trailer.

Quirks of this document the parser handles (each has a test):
- two measures on one header line: `Mesure 14 : … [..] et mesure 15 : … [..]`;
- consecutive headers sharing one body (20/21, 22/23, 43/45), 45 before 44;
- footnote markers `(32)` in titles and bodies, unlike `(2019-2021)` or `(OIT)`;
- annex 2 titles that differ slightly from the body's (kept, reported as warnings);
- an empty repeated `BILAN`, `Extrait du Journal officiel …` and `Retourner en haut
  de la page` after annex 2: page furniture, not part of the conclusion.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from ..errors import DocumentFormatError
from ..text import FOOTNOTE_MARKER_RE, URL_RE, collapse_spaces, markers, strip_markers
from .annexes import check_summary, parse_glossary, parse_summary
from .cursor import Cursor, Line
from .model import (
    Action,
    Axis,
    Evaluation,
    Footnote,
    Measure,
    Paragraph,
    Span,
    Status,
)
from .source import MAX_SOURCE_BYTES, UnsafeFileError, read_regular

_AXIS_RE = re.compile(r"^AXE (\d+) : (.+)$")
_ACTION_RE = re.compile(r"^ACTION N° ?(\d+) : (.+)$")
_MEASURE_START_RE = re.compile(r"^Mesure (\d+) :")
# One measure inside a header line; a line may hold several joined by " et ".
_MEASURE_PART_RE = re.compile(r"(?:^|\s+et\s+)([Mm]esure (\d+) : (.*?)(?: \[([^\]]*)\])?)(?=\s+et\s+[Mm]esure \d+ :|$)")
_FOOTNOTE_DEF_RE = re.compile(r"^\((\d+)\) (.+)$")
_ADOPTED_RE = re.compile(r"Assemblée plénière du (\d{1,2})(?:er)? (\w+) (\d{4})")
_MONTHS = {
    m: i
    for i, m in enumerate(
        "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(), 1
    )
}


def parse_file(path: str | Path) -> Evaluation:
    return parse(read_source_text(path))


def read_source_text(path: str | Path) -> str:
    """The document's text: a regular UTF-8 file of at most MAX_SOURCE_BYTES
    (`--source /dev/zero` or a FIFO is refused at once, not read)."""
    return decode_source(path, read_source_bytes(path))


def read_source_bytes(path: str | Path) -> bytes:
    path = Path(path)
    fix = "point --source (TRAITE_QA_SOURCE) at the evaluation's text file"
    try:
        return read_regular(path, MAX_SOURCE_BYTES)
    except FileNotFoundError:
        raise DocumentFormatError(f"source document not found: {path}: {fix}") from None
    except UnsafeFileError as err:
        raise DocumentFormatError(f"source document {path} {err.reason}: {fix}") from None
    except OSError as err:
        raise DocumentFormatError(f"source document {path} is unreadable ({err.strerror}): {fix}") from None


def decode_source(path: str | Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DocumentFormatError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})") from None


def parse(source: str) -> Evaluation:
    cur = Cursor(source)
    if cur.peek() is None:
        raise DocumentFormatError("the document is empty: expected the evaluation's title", 1)
    title = cur.next("the title").text
    adopted, meta = _parse_meta(cur)
    preamble = meta + _paragraphs_until(cur, lambda t: _AXIS_RE.match(t) is not None, "'AXE 1 : …' after the preamble")
    axes, actions, measures = _parse_body(cur)
    conclusion = _paragraphs_until(cur, lambda t: _FOOTNOTE_DEF_RE.match(t) is not None, "footnote '(1) …' after the BILAN")
    footnote_lines = _parse_footnote_lines(cur)
    acronyms = parse_glossary(cur)
    summary = parse_summary(cur)

    warnings: list[str] = []
    footnotes = _link_footnotes(footnote_lines, measures, preamble, conclusion, warnings)
    check_summary(summary, measures, warnings)
    measure_list = tuple(sorted(measures.values(), key=lambda m: m.number))
    return Evaluation(
        title=title,
        adopted=adopted,
        preamble=tuple(preamble),
        axes=tuple(axes),
        actions=tuple(actions),
        measures=measure_list,
        footnotes=footnotes,
        acronyms=acronyms,
        summary=summary,
        conclusion=tuple(conclusion),
        warnings=tuple(warnings),
    )


def _parse_meta(cur: Cursor) -> tuple[dt.date, list[Paragraph]]:
    """Skip 'Version initiale'; read the plenary date and the vote.

    The plenary and vote lines are kept as the first preamble paragraphs: they
    are the document's own answer to "when and how was it adopted?".
    """
    while (line := cur.peek()) is not None and not _AXIS_RE.match(line.text):
        match = _ADOPTED_RE.search(line.text)
        if match:
            day, month, year = match.groups()
            if month.lower() not in _MONTHS:
                raise cur.fail(f"unknown month {month!r} in the plenary date", line)
            adopted = dt.date(int(year), _MONTHS[month.lower()], int(day))
            meta = [_bulletless(line)]
            cur.next("the plenary date")
            if (vote := cur.peek()) is not None and vote.text.startswith("Adopté"):
                meta.append(_bulletless(vote))
                cur.next("the vote")
            return adopted, meta
        if len(line.text) > 80:  # prose: the preamble started without a date line
            break
        cur.next("meta lines")
    raise cur.fail("expected 'Assemblée plénière du <jour> <mois> <année>' before the preamble")


def _bulletless(line: Line) -> Paragraph:
    text = line.text.lstrip("•- ").strip()
    start = line.start + line.text.index(text)
    return Paragraph(text, Span(start, start + len(text)))


def _paragraphs_until(cur: Cursor, stop, expected: str) -> list[Paragraph]:
    paragraphs = []
    while True:
        line = cur.peek()
        if line is None:
            raise cur.fail(f"the document ends early (truncated?): expected {expected}")
        if stop(line.text):
            return paragraphs
        paragraphs.append(Paragraph(line.text, line.span))
        cur.next(expected)


def _parse_body(cur: Cursor) -> tuple[list[Axis], list[Action], dict[int, Measure]]:
    axes: list[Axis] = []
    actions: list[Action] = []
    measures: dict[int, Measure] = {}
    pending: list[tuple[int, str, Status, Span, tuple[int, ...], Line]] = []  # headers awaiting a body
    body: list[Paragraph] = []

    def flush(at: Line | None) -> None:
        if not pending:
            return
        if not body:
            numbers = ", ".join(str(p[0]) for p in pending)
            raise cur.fail(f"measure {numbers} has no body: expected its text after the header", at)
        group = tuple(p[0] for p in pending)
        body_cites = tuple(n for p in body for n in markers(p.text))
        body_span = Span(body[0].span.start, body[-1].span.end)
        for number, title, status, header_span, title_cites, _ in pending:
            measures[number] = Measure(
                number=number,
                title=title,
                status=status,
                axis=axes[-1].number,
                action=actions[-1].number,
                paragraphs=tuple(body),
                footnotes=_unique(title_cites + body_cites),
                header_span=header_span,
                body_span=body_span,
                group=group,
            )
        pending.clear()
        body.clear()

    while True:
        line = cur.peek()
        if line is None:
            raise cur.fail("the document ends early (truncated?): expected 'BILAN' after the measures")
        text = line.text
        if text == "BILAN":
            flush(line)
            cur.next("BILAN")
            break
        if match := _AXIS_RE.match(text):
            flush(line)
            axes.append(Axis(_expect_next(cur, int(match.group(1)), len(axes) + 1, "axis", line), match.group(2).strip()))
        elif match := _ACTION_RE.match(text):
            flush(line)
            if not axes:
                raise cur.fail("an action before any 'AXE n :' line", line)
            number = _expect_next(cur, int(match.group(1)), len(actions) + 1, "action", line)
            actions.append(Action(number, match.group(2).strip(), axes[-1].number))
        elif _MEASURE_START_RE.match(text):
            if body:
                flush(line)
            if not actions:
                raise cur.fail("a measure before any 'ACTION N° n :' line", line)
            for header in _parse_measure_header(cur, line):
                number = header[0]
                if number in measures or any(p[0] == number for p in pending):
                    raise cur.fail(f"duplicate measure {number}", line)
                pending.append(header)
        else:
            if not pending:
                if not measures and not actions:
                    raise cur.fail("expected 'ACTION N° n :' or 'Mesure n :' after the axis", line)
                raise cur.fail("a paragraph outside any measure: expected 'Mesure n : titre [statut]'", line)
            body.append(Paragraph(text, line.span))
        cur.next("the measures")

    if not measures:
        raise cur.fail("no 'Mesure n : titre [statut]' header found before 'BILAN'")
    expected = set(range(1, max(measures) + 1))
    if missing := sorted(expected - set(measures)):
        raise cur.fail(f"measure {missing[0]} is missing: measures must be numbered 1..{max(measures)}")
    return axes, actions, measures


def _expect_next(cur: Cursor, number: int, expected: int, kind: str, line: Line) -> int:
    if number != expected:
        raise cur.fail(f"{kind} {number} out of order: expected {kind} {expected}", line)
    return number


def _parse_measure_header(cur: Cursor, line: Line):
    text = line.text
    parts = list(_MEASURE_PART_RE.finditer(text))
    if not parts or parts[0].start() != 0 or parts[-1].end() != len(text):
        raise cur.fail("measure header not understood: expected 'Mesure n : titre [statut]'", line)
    for part in parts:
        number, raw_title, raw_status = int(part.group(2)), part.group(3), part.group(4)
        if raw_status is None:
            raise cur.fail(
                f"measure {number} has no status: expected '[Réalisée]', '[Partiellement réalisée]' "
                "or '[Non réalisée]' at the end of its header",
                line,
            )
        try:
            status = Status(raw_status.strip())
        except ValueError:
            raise cur.fail(f"measure {number} has an unknown status [{raw_status}]", line) from None
        header_span = Span(line.start + part.start(1), line.start + part.end(1))
        title = collapse_spaces(strip_markers(raw_title))
        yield number, title, status, header_span, tuple(markers(raw_title)), line


def _parse_footnote_lines(cur: Cursor) -> dict[int, tuple[str, Span, Line]]:
    notes: dict[int, tuple[str, Span, Line]] = {}
    while (line := cur.peek()) is not None and (match := _FOOTNOTE_DEF_RE.match(line.text)):
        number = int(match.group(1))
        if number in notes:
            raise cur.fail(f"footnote {number} is defined twice (first on line {notes[number][2].number})", line)
        if number != len(notes) + 1:
            raise cur.fail(f"footnote {number} out of order: expected footnote {len(notes) + 1}", line)
        start = line.start + match.start(2)
        notes[number] = (match.group(2), Span(start, start + len(match.group(2))), line)
        cur.next("footnotes")
    if not notes:
        raise cur.fail("expected footnote definitions '(1) …' after the BILAN")
    return notes


def _link_footnotes(notes, measures: dict[int, Measure], preamble, conclusion, warnings: list[str]) -> tuple[Footnote, ...]:
    citing: dict[int, list[int]] = {}
    sections: dict[int, list[str]] = {}
    for measure in sorted(measures.values(), key=lambda m: m.number):
        for n in measure.footnotes:
            citing.setdefault(n, []).append(measure.number)
    for name, paragraphs in (("preambule", preamble), ("bilan", conclusion)):
        for paragraph in paragraphs:
            for n in markers(paragraph.text):
                sections.setdefault(n, []).append(name)
    undefined = sorted((set(citing) | set(sections)) - set(notes))
    if undefined:
        n = undefined[0]
        where = f"measure {citing[n][0]}" if n in citing else f"the {sections[n][0]}"
        raise DocumentFormatError(f"footnote ({n}) is cited in {where} but never defined: expected a line '({n}) …' after the BILAN")
    footnotes = []
    for number, (text, span, _line) in notes.items():
        if number not in citing and number not in sections:
            warnings.append(f"footnote {number} is defined but never cited")
        footnotes.append(
            Footnote(
                number=number,
                text=text,
                span=span,
                urls=tuple(URL_RE.findall(text)),
                measures=tuple(citing.get(number, ())),
                sections=_unique(tuple(sections.get(number, ()))),
            )
        )
    return tuple(footnotes)


def _unique(values: tuple[int, ...] | tuple[str, ...]):
    return tuple(dict.fromkeys(values))


__all__ = ["parse", "parse_file", "FOOTNOTE_MARKER_RE"]
