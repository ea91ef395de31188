"""traite-qa: questions and cited answers over the CNCDH's evaluation of
France's 2nd national action plan against trafficking in human beings (2019-2021).

Public API::

    from traite_qa import Searcher, Assistant
    hits = Searcher.load("index/build").search("mécanisme national de référence", k=5)
    answer = Assistant.load("index/build").ask("Où en est la mesure 16 ?")
"""

__version__ = "0.1.0"

_LAZY = {
    "Searcher": "search",
    "Hit": "search",
    "Assistant": "answer",
    "Answer": "answer",
    "Citation": "answer",
    "Settings": "settings",
    "Chunk": "chunker",
    "Evaluation": "document",
    "Measure": "document",
    "Footnote": "document",
    "Status": "document",
    "parse": "parser",
    "parse_file": "parser",
    "build_index": "index",
    "ensure_index": "index",
    "index_problem": "index",
    "make_embedder": "embedder",
    "KINDS": "chunker",
    "MARKER_RE": "compose",
    "FOOTNOTE_MARKER_RE": "text",
    "clean_question": "references",
    "answer_problems": "verify",
    "TraiteQAError": "errors",
    "ConfigError": "errors",
    "DocumentFormatError": "errors",
    "IndexMissingError": "errors",
    "StaleIndexError": "errors",
    "CorruptIndexError": "errors",
    "ModelError": "errors",
    "InvalidQuestionError": "errors",
    "InvalidFilterError": "errors",
    "UnknownReferenceError": "errors",
}


def __getattr__(name: str):
    # Lazy: `import traite_qa` must not import torch (the CLI's outline, the
    # parser's tests and the HTTP layer's cold start stay fast).
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'traite_qa' has no attribute {name!r}")


__all__ = sorted(_LAZY)
