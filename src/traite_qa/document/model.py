"""The evaluation's own structure: axes › actions › measures, footnotes, glossary.

Every object records where it comes from in the source text (char spans), so a
citation can always be checked against the document.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..errors import UnknownReferenceError
from ..types import Span, Status


@dataclass(frozen=True)
class Paragraph:
    text: str
    span: Span


@dataclass(frozen=True)
class Axis:
    number: int
    title: str  # as printed: upper case

    @property
    def label(self) -> str:
        return sentence_case(self.title)


@dataclass(frozen=True)
class Action:
    number: int
    title: str
    axis: int

    @property
    def label(self) -> str:
        return sentence_case(self.title)


@dataclass(frozen=True)
class Measure:
    number: int
    title: str  # footnote markers removed
    status: Status
    axis: int
    action: int
    paragraphs: tuple[Paragraph, ...]  # the body, shared with `group` members
    footnotes: tuple[int, ...]  # cited in the title or the body, in order
    header_span: Span  # the measure's own "Mesure N : … [status]" text
    body_span: Span  # from the first to the last body character
    group: tuple[int, ...] = ()  # measures sharing this body, in text order (incl. self)

    @property
    def body(self) -> str:
        """The body as printed, paragraphs joined by newlines."""
        return "\n".join(p.text for p in self.paragraphs)

    def summary_dict(self) -> dict:
        return {
            "number": self.number,
            "title": self.title,
            "status": self.status.value,
            "axis": self.axis,
            "action": self.action,
            "group": list(self.group),
            "footnotes": list(self.footnotes),
        }


@dataclass(frozen=True)
class Footnote:
    number: int
    text: str
    span: Span
    urls: tuple[str, ...]
    measures: tuple[int, ...]  # measures whose title or body cites it
    sections: tuple[str, ...]  # other places citing it: "preambule", "bilan"


@dataclass(frozen=True)
class Acronym:
    acronym: str
    definition: str  # without the final period
    span: Span  # the whole "SIGLE : définition." line


@dataclass(frozen=True)
class SummaryRow:
    """One row of annex 2, as printed there (titles differ slightly from the body's)."""

    number: int
    title: str
    status: Status
    axis: int
    line: int


@dataclass(frozen=True)
class Evaluation:
    title: str
    adopted: dt.date
    preamble: tuple[Paragraph, ...]
    axes: tuple[Axis, ...]
    actions: tuple[Action, ...]
    measures: tuple[Measure, ...]  # ordered by number 1..N
    footnotes: tuple[Footnote, ...]  # ordered by number 1..N
    acronyms: tuple[Acronym, ...]  # in glossary order
    summary: tuple[SummaryRow, ...]  # in annex order
    conclusion: tuple[Paragraph, ...]
    warnings: tuple[str, ...] = ()
    _by_number: dict = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        # Lookup tables are derived, so they live outside equality and repr.
        object.__setattr__(
            self,
            "_by_number",
            {
                "measure": {m.number: m for m in self.measures},
                "footnote": {f.number: f for f in self.footnotes},
                "axis": {a.number: a for a in self.axes},
                "action": {a.number: a for a in self.actions},
                "acronym": {a.acronym.upper(): a for a in self.acronyms},
            },
        )

    def measure(self, number: int) -> Measure:
        return self._get("measure", number, f"the plan has {len(self.measures)} measures (1-{len(self.measures)})")

    def footnote(self, number: int) -> Footnote:
        return self._get("footnote", number, f"the evaluation has {len(self.footnotes)} footnotes (1-{len(self.footnotes)})")

    def axis(self, number: int) -> Axis:
        return self._get("axis", number, f"the plan has {len(self.axes)} axes (1-{len(self.axes)})")

    def action(self, number: int) -> Action:
        return self._get("action", number, f"the plan has {len(self.actions)} actions (1-{len(self.actions)})")

    def acronym(self, name: str) -> Acronym:
        try:
            return self._by_number["acronym"][name.upper()]
        except KeyError:
            raise UnknownReferenceError(
                f"unknown acronym {name!r}: the glossary (annex 1) has {len(self.acronyms)} entries"
            ) from None

    def _get(self, kind: str, number: int, hint: str):
        try:
            return self._by_number[kind][number]
        except KeyError:
            raise UnknownReferenceError(f"unknown {kind} {number}: {hint}") from None

    def measures_with(
        self, status: Status | None = None, axis: int | None = None, action: int | None = None
    ) -> tuple[Measure, ...]:
        return tuple(
            m
            for m in self.measures
            if (status is None or m.status is status)
            and (axis is None or m.axis == axis)
            and (action is None or m.action == action)
        )

    def status_counts(self) -> dict[Status, int]:
        return {s: sum(m.status is s for m in self.measures) for s in Status}

    def outline(self) -> dict:
        """The structure as plain data: what `traite-qa outline --json` prints."""
        return {
            "title": self.title,
            "adopted": self.adopted.isoformat(),
            "counts": {
                "axes": len(self.axes),
                "actions": len(self.actions),
                "measures": len(self.measures),
                "footnotes": len(self.footnotes),
                "acronyms": len(self.acronyms),
                "preamble_paragraphs": len(self.preamble),
                "conclusion_paragraphs": len(self.conclusion),
            },
            "status_counts": {s.value: n for s, n in self.status_counts().items()},
            "axes": [
                {
                    "number": axis.number,
                    "title": axis.label,
                    "actions": [
                        {
                            "number": action.number,
                            "title": action.label,
                            "measures": [m.summary_dict() for m in self.measures_with(action=action.number)],
                        }
                        for action in self.actions
                        if action.axis == axis.number
                    ],
                }
                for axis in self.axes
            ],
            "warnings": list(self.warnings),
        }


def sentence_case(title: str) -> str:
    """'MOBILISER LA SOCIÉTÉ' -> 'Mobiliser la société' (titles printed in capitals)."""
    lowered = title.lower()
    return lowered[:1].upper() + lowered[1:]
