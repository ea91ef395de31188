"""Answer feedback: ratings stored in SQLite or PostgreSQL, reviewed, exported
as candidate evaluation questions.

    from traite_qa import Assistant, with_feedback
    assistant = with_feedback(Assistant.load())
    answer = assistant.ask("Où en est la mesure 16 ?")
    assistant.feedback(answer.answer_id, "down", reason="erreur_de_statut", comment="…")

Not a pipeline stage: nothing under document/ … answer/ imports it
(import-linter checks it); it wraps an assistant from the outside.
"""

# name -> module defining it. Lazy: the CLI registers `traite-qa feedback` on
# every run, and SQLAlchemy (0.2 s to import) is needed only when it is used.
_LAZY = {
    "RATINGS": "model", "REASONS": "model", "FeedbackRecord": "model",
    "FeedbackStore": "store", "SCHEMA_VERSION": "migrations",
    "FeedbackRecorder": "recorder", "RecentAnswers": "recorder", "RecordingAssistant": "recorder", "with_feedback": "recorder",
    "candidates": "export", "to_yaml": "export",
}


# The store's database drivers come with `pip install 'traite-qa[feedback]'`.
EXTRA_MODULES = ("sqlalchemy",)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        if _LAZY[name] in ("store", "migrations", "recorder"):
            from ..errors import require_extra

            require_extra("feedback", *EXTRA_MODULES)
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, "LATEST" if name == "SCHEMA_VERSION" else name)
    raise AttributeError(f"module 'traite_qa.feedback' has no attribute {name!r}")


__all__ = sorted(_LAZY)
