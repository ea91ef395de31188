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

from ..errors import MissingExtraError


def require_extra(module: str, extra: str) -> None:
    """Raise MissingExtraError naming the pip command when `module` is not installed."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(f"{module} is not installed: pip install 'traite-qa[{extra}]'") from None
