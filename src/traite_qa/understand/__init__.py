"""Stage 3, understanding: a question is read once into a `Query`.

    understander = Understander(evaluation, settings)
    query = understander.understand("Et la mesure 17 ?", history, status=None, axis=None)
    query.route, query.refs.measures, query.english, query.answer_type

Validation (empty, too long, bad filters) raises `InvalidQuestionError` or
`InvalidFilterError`; every later stage takes the Query, never the string.
"""

from __future__ import annotations

from dataclasses import replace

from ..document import Evaluation
from ..settings import Settings
from ..types import Filters, Query, Route
from .answer_type import answer_type, asked_years, asks_reference, holds_reference, implied, satisfies
from .followup import last_exchange, leans_on_history, resolve
from .language import is_english
from .references import ReferenceFinder, statuses_in
from .route import Router
from .validate import SEARCH_MODES, check_filters, check_k, check_mode, check_references, clean_question


class Understander:
    """Built once per evaluation; `understand` is pure given its inputs."""

    def __init__(self, evaluation: Evaluation, settings: Settings):
        self.evaluation = evaluation
        self.settings = settings
        self.router = Router(evaluation)

    def understand(self, question: object, history: list | None = None, *, status=None, axis=None) -> Query:
        text = clean_question(question, self.settings.max_question_chars)
        filters = check_filters(self.evaluation, status=status, axis=axis)
        query = self.router.read(text)
        turns = _valid_history(history, self.settings.history_messages)
        if turns:
            query = resolve(query, turns, self.router, self.evaluation, self.settings.max_question_chars)
        if not query.follow_up and query.route not in (Route.GREETING,) and leans_on_history(query) and not (
                turns and any(last_exchange(turns, self.settings.max_question_chars)[:2])):
            # "Pourquoi ?" with nothing before it. With an earlier exchange that
            # gave it no measure to borrow, it is searched with the previous
            # question: the request for context says "this conversation has
            # none", which a blind reader flagged as false after "What is the PNLTI?".
            query = replace(query, route=Route.CLARIFY)
        query = replace(query, filters=filters)
        if query.route == Route.AGGREGATE and filters:
            query = _within_filters(query, filters)
        return query

    def read(self, text: str) -> Query:
        """A cleaned text with no history and no filters (the searcher's queries)."""
        return self.router.read(text)


def _valid_history(history, limit: int) -> list[dict] | None:
    if not isinstance(history, list):
        return None
    return [t for t in history[-limit:] if isinstance(t, dict)] or None


def _within_filters(query: Query, filters: Filters) -> Query:
    """The UI's status and axis filters narrow a count or a list too."""
    refs = query.refs
    if filters.axis is not None and not refs.axes and not refs.actions:
        refs = replace(refs, axes=(filters.axis,))
    if query.statuses or filters.status is None:
        return replace(query, refs=refs)
    return replace(query, refs=refs, statuses=(filters.status,))


__all__ = [
    "SEARCH_MODES", "ReferenceFinder", "Router", "Understander", "answer_type", "asked_years", "check_filters",
    "check_k", "check_mode", "check_references", "implied", "asks_reference", "holds_reference",
    "clean_question", "is_english", "satisfies", "statuses_in",
]
