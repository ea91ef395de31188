"""traite-qa: questions and cited answers over the CNCDH's evaluation of
France's 2nd national action plan against trafficking in human beings (2019-2021).

Public API::

    from traite_qa import Searcher, Assistant
    searcher = Searcher.load()                  # the default index, built if missing
    hits = searcher.search("mécanisme national de référence", k=5)
    answer = Assistant(searcher).ask("Où en est la mesure 16 ?")   # one model for both

Other apps: `traite_qa.integrations` (a LangChain retriever, an MCP server, an
export of the vectors); see docs/integrations.md.

The package is the pipeline, one folder per stage, imports pointing one way:
document → index → understand → search → answer (checked by import-linter).
"""

__version__ = "0.1.0"

# name -> module (relative to this package) that defines it
_LAZY = {
    # stage outputs and shared values
    "Status": "types", "Span": "types", "Chunk": "types", "Hit": "types", "Query": "types", "References": "types",
    "Filters": "types", "Route": "types", "Evidence": "types", "Citation": "types", "Answer": "types",
    "KINDS": "types", "QUOTABLE_KINDS": "types", "ANSWERED": "types", "NO_EVIDENCE": "types",
    "INVALID_QUESTION": "types",
    # settings and errors
    "Settings": "settings", "Tuning": "settings",
    "TraiteQAError": "errors", "ConfigError": "errors", "DocumentFormatError": "errors", "IndexMissingError": "errors",
    "StaleIndexError": "errors", "CorruptIndexError": "errors", "ModelError": "errors", "MissingExtraError": "errors",
    "VectorStoreError": "errors",
    "InvalidQuestionError": "errors", "InvalidFilterError": "errors", "UnknownReferenceError": "errors",
    "InvalidFeedbackError": "errors", "UnknownAnswerError": "errors", "UnknownFeedbackError": "errors", "FeedbackStoreError": "errors",
    "AnswerNotServedError": "errors", "FeedbackTooLargeError": "errors",
    # text helpers the UI renders with
    "FOOTNOTE_MARKER_RE": "text",
    # stages
    "Evaluation": "document", "Measure": "document", "Footnote": "document", "parse": "document",
    "parse_file": "document",
    "build_index": "index", "ensure_index": "index", "index_problem": "index", "load_or_build": "index",
    "make_embedder": "index",
    "Understander": "understand", "clean_question": "understand",
    "Searcher": "search",
    "Assistant": "answer", "MARKER_RE": "answer", "answer_problems": "answer",
    # answer feedback (outside the pipeline: wraps an Assistant)
    "FeedbackStore": "feedback", "FeedbackRecorder": "feedback", "with_feedback": "feedback", "RATINGS": "feedback",
    "REASONS": "feedback",
}


def __getattr__(name: str):
    # Lazy: `import traite_qa` must not import torch (the CLI's outline, the
    # parser's tests and the HTTP layer's cold start stay fast).
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'traite_qa' has no attribute {name!r}")


__all__ = sorted(_LAZY)
