"""A line cursor over the source text: each non-empty line with its offset,
and errors that name the line and what was expected there."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DocumentFormatError
from ..types import Span


@dataclass(frozen=True)
class Line:
    number: int  # 1-based, for error messages
    start: int  # offset of the first non-blank char
    text: str  # stripped content

    @property
    def span(self) -> Span:
        return Span(self.start, self.start + len(self.text))


class Cursor:
    """Non-empty lines with their offsets; reports what it expected where."""

    def __init__(self, source: str):
        self.lines: list[Line] = []
        offset = 0
        for number, raw in enumerate(source.split("\n"), 1):
            stripped = raw.strip()
            if stripped:
                self.lines.append(Line(number, offset + raw.index(stripped[0]), stripped))
            offset += len(raw) + 1
        self.total_lines = source.count("\n") + 1
        self.i = 0

    def peek(self) -> Line | None:
        return self.lines[self.i] if self.i < len(self.lines) else None

    def next(self, expected: str) -> Line:
        line = self.peek()
        if line is None:
            raise DocumentFormatError(f"the document ends early (truncated?): expected {expected}", self.total_lines)
        self.i += 1
        return line

    def fail(self, message: str, line: Line | None = None) -> DocumentFormatError:
        line = line or self.peek()
        return DocumentFormatError(message, line.number if line else self.total_lines)
