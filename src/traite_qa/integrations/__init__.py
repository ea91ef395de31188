"""Ways into the search from other apps, on top of the public API:

- `traite_qa.integrations.langchain.TraiteQARetriever`, a LangChain retriever
  (`pip install 'traite-qa[langchain]'`);
- `traite_qa.integrations.llamaindex`, a LlamaIndex retriever and query engine
  (`pip install 'traite-qa[llamaindex]'`);
- `traite_qa.integrations.mcp`, the MCP server behind `traite-qa mcp`
  (`pip install 'traite-qa[mcp]'`);
- `traite_qa.integrations.export`, the chunks and their vectors for another
  vector store (`traite-qa export`).

Nothing here is imported by the rest of the package: an extra is only needed
by the integration that uses it.
"""

from __future__ import annotations

from typing import Any

from ..errors import MissingExtraError
from ..types import Hit


def require_extra(module: str, extra: str) -> None:
    """Raise MissingExtraError naming the pip command when `module` is not installed."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(f"{module} is not installed: pip install 'traite-qa[{extra}]'") from None


def hit_metadata(hit: Hit) -> dict[str, Any]:
    """A hit's metadata as the LangChain and LlamaIndex adapters both give it."""
    return {
        "id": hit.id,
        "kind": hit.kind,
        "title": hit.title,
        "measures": list(hit.measures),
        "status": hit.status,
        "statuses": list(hit.statuses),
        "axis": hit.axis,
        "action": hit.action,
        "footnote": hit.footnote,
        "acronym": hit.acronym,
        "header": hit.header,
        "score": hit.score,  # the ranking's own score (fused, or the one mode's)
        "dense": hit.dense,  # cosine with the question
        "lexical": hit.lexical,  # BM25
        "rank": hit.rank,
        "span": {"start": hit.span[0], "end": hit.span[1]},
    }
