"""Exact references first: a chunk the question names outranks any fused score."""

from __future__ import annotations

from ..document import Evaluation
from ..types import Chunk, References

PINNED_SCORE = 1.0  # exact references get 1 + their fused score (fused scores are < 0.1)


def is_pinned(chunk: Chunk, refs: References, evaluation: Evaluation) -> bool:
    if chunk.kind == "measure":
        return any(m in chunk.measures for m in refs.measures + refs.titled)
    if chunk.kind == "footnote":
        return chunk.footnote in refs.footnotes
    if chunk.kind == "acronym":
        # Only when the question asks what it means: most questions naming
        # an acronym ("la somme versée par l'AGRASC") want a measure.
        return chunk.acronym in refs.acronyms and refs.definition and not (refs.measures or refs.footnotes)
    if chunk.kind == "table" and refs.listing:
        return _table_wanted(chunk, refs, evaluation)
    return False


def _table_wanted(chunk: Chunk, refs: References, evaluation: Evaluation) -> bool:
    """Lists and counts of measures rest on annex 2: pin the rows asked about."""
    axes = set(refs.axes) | {evaluation.action(a).axis for a in refs.actions if 1 <= a <= len(evaluation.actions)}
    if axes:
        return chunk.axis in axes
    return refs.status is None or refs.status.value in chunk.statuses
