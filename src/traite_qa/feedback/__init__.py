"""Answer feedback: ratings stored in SQLite or PostgreSQL, reviewed, exported
as candidate evaluation questions (issue 16).

    from traite_qa import Assistant, with_feedback
    assistant = with_feedback(Assistant.load())
    answer = assistant.ask("Où en est la mesure 16 ?")
    assistant.feedback(answer.answer_id, "down", reason="erreur_de_statut", comment="…")

Not a pipeline stage: nothing under document/ … answer/ imports it
(import-linter checks it); it wraps an assistant from the outside.
"""

from .export import candidates, to_yaml
from .migrations import LATEST as SCHEMA_VERSION
from .model import RATINGS, REASONS, FeedbackRecord
from .recorder import FeedbackRecorder, RecentAnswers, RecordingAssistant, with_feedback
from .store import FeedbackStore

__all__ = [
    "RATINGS", "REASONS", "SCHEMA_VERSION", "FeedbackRecord", "FeedbackRecorder", "FeedbackStore", "RecentAnswers",
    "RecordingAssistant", "candidates", "to_yaml", "with_feedback",
]
