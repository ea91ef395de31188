"""Domain errors. Every message names the thing that went wrong and the fix.

Callers (CLI, HTTP API, chat) catch `TraiteQAError` and show `str(err)`;
anything else escaping is a bug.
"""

from __future__ import annotations


class TraiteQAError(Exception):
    """Base class: a problem the user can act on."""


class ConfigError(TraiteQAError, ValueError):
    """A setting has an invalid value."""


class DocumentFormatError(TraiteQAError, ValueError):
    """The source document does not have the structure the parser expects."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{message}")


class IndexMissingError(TraiteQAError):
    """No index on disk where the settings point."""


class StaleIndexError(TraiteQAError):
    """The index on disk was built from other settings, source or model."""


class CorruptIndexError(TraiteQAError):
    """A file of the index is unreadable, truncated or inconsistent."""


class MissingExtraError(TraiteQAError, ImportError):
    """An integration needs an optional dependency (a pip extra) that is not installed."""


def require_extra(extra: str, *modules: str) -> None:
    """Raise MissingExtraError naming `pip install 'traite-qa[extra]'` when one
    of `modules` (top-level names) is not installed. Looks the modules up
    without importing them: the check costs nothing when they are there."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed: "
            f"pip install 'traite-qa[{extra}]'"
        )


class VectorStoreError(TraiteQAError):
    """The vector store backend is missing or unreachable (e.g. a Qdrant server)."""


class ModelError(TraiteQAError):
    """The embedding model cannot be found, converted or loaded."""


class InvalidQuestionError(TraiteQAError, ValueError):
    """A question or query the assistant cannot take (empty, too long, ...)."""

    def __init__(self, message: str, code: str = "invalid"):
        self.code = code  # "empty" | "too_long" | "not_text": lets callers word it their way
        super().__init__(message)


class UnknownReferenceError(TraiteQAError, LookupError):
    """A measure, footnote, axis, action or acronym the document does not have."""


class InvalidFilterError(TraiteQAError, ValueError):
    """A search filter with a value the document does not have."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field  # "k" | "status" | "axis" | "action" | "kind": which filter is at fault
        super().__init__(message)


class InvalidFeedbackError(TraiteQAError, ValueError):
    """Feedback with a rating, reason, comment or answer the store cannot take."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field  # "answer_id" | "rating" | "reason" | "comment" | "answer"
        super().__init__(message)


class AnswerNotServedError(InvalidFeedbackError):
    """Feedback sends back an answer whose `answer_key` this server did not make."""


class FeedbackTooLargeError(InvalidFeedbackError):
    """One rating's question, answer and citations are over `feedback_max_row_bytes`."""


class UnknownAnswerError(TraiteQAError, LookupError):
    """Feedback names an answer_id this process does not remember (and sent no answer JSON)."""


class UnknownFeedbackError(TraiteQAError, LookupError):
    """A change or withdrawal names no stored rating with that id and edit token."""


class FeedbackStoreError(TraiteQAError):
    """The feedback database is unreachable, locked or refuses the write: nothing was saved."""
