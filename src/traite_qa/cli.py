"""`traite-qa`: a thin command line over the library.

With `--json` every command prints JSON lines; `search` and `ask` without a
query read one per line from stdin and print one JSON line each, in order.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import TraiteQAError, require_extra
from .settings import Settings

# What `traite-qa chat` imports beyond the library: pip install 'traite-qa[chat]'.
CHAT_MODULES = ("gradio", "fastapi", "uvicorn", "sqlalchemy")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env(
            source=args.source, index_dir=args.index, model=args.model, model_cache=args.model_cache
        )
        return args.run(args, settings)
    except TraiteQAError as err:
        print(f"traite-qa: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `traite-qa search ... | head`
        return 0


def _parser() -> argparse.ArgumentParser:
    # allow_abbrev=False on every parser: the top-level parser would otherwise take
    # a command's `--mode` for an abbreviation of its own `--model`/`--model-cache`.
    parser = argparse.ArgumentParser(prog="traite-qa", description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--index", type=Path, help="index directory (default: index/build in a checkout, else "
                        "~/.local/share/traite-qa/index/<model>, built when missing; TRAITE_QA_INDEX_DIR)")
    parser.add_argument("--source", type=Path, help="source document (default: index/source/… in a checkout, "
                        "else the copy inside the package; TRAITE_QA_SOURCE)")
    parser.add_argument("--model", help="embedding model: sentence-transformers name or path (TRAITE_QA_MODEL)")
    parser.add_argument("--model-cache", type=Path, help="where converted models live (TRAITE_QA_MODEL_CACHE)")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("outline", help="print the parsed structure and its warnings", allow_abbrev=False)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_outline)

    p = sub.add_parser("build", help="build the search index (incremental, atomic)", allow_abbrev=False)
    p.add_argument("--force", action="store_true", help="rebuild even when the index is up to date")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_build)

    p = sub.add_parser("search", help="hybrid search; reads queries from stdin when none is given",
                       allow_abbrev=False)
    p.add_argument("query", nargs="?")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--status", help="realisee | partiellement-realisee | non-realisee")
    p.add_argument("--axis", type=int)
    p.add_argument("--action", type=int)
    p.add_argument("--kind", help="measure | footnote | acronym | table | preamble | conclusion")
    p.add_argument("--mode", default="hybrid", help="hybrid (default) | dense (cosine only) | lexical (BM25 only)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_search)

    p = sub.add_parser("ask", help="answer with cited passages; reads questions from stdin when none is given",
                       allow_abbrev=False)
    p.add_argument("question", nargs="?")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_ask)

    p = sub.add_parser("chat", help="serve the web chat and the HTTP API (builds the index if needed; "
                       "pip install 'traite-qa[chat]')", allow_abbrev=False)
    p.add_argument("--host", help="bind address (default 127.0.0.1; TRAITE_QA_HOST)")
    p.add_argument("--port", type=int, help="port (default 7860; TRAITE_QA_PORT)")
    p.set_defaults(run=_chat)

    p = sub.add_parser("mcp", help="serve search and answers as MCP tools over stdio (pip install 'traite-qa[mcp]')",
                       allow_abbrev=False)
    p.set_defaults(run=_mcp)

    p = sub.add_parser("export", help="write the chunks and their vectors for another vector store", allow_abbrev=False)
    p.add_argument("directory", type=Path, help="folder to write into (created if missing)")
    p.add_argument("--format", choices=["jsonl", "npz"], default="jsonl",
                   help="jsonl: one chunk per line with its embedding; npz: ids and a float32 matrix")
    p.add_argument("--flat", action="store_true",
                   help="jsonl: scalar metadata only (no lists, no None, no nested span) for Chroma, Qdrant, LanceDB")
    p.add_argument("--json", action="store_true", help="print the export's manifest")
    p.set_defaults(run=_export)

    from .feedback.cli import add_commands

    add_commands(sub)
    return parser


def _outline(args, settings: Settings) -> int:
    from .document import parse_file

    outline = parse_file(settings.source).outline()
    if args.json:
        print(json.dumps(outline, ensure_ascii=False))
        return 0
    print(f"{outline['title']}\nAdoptée le {outline['adopted']}\n")
    for axis in outline["axes"]:
        print(f"Axe {axis['number']} : {axis['title']}")
        for action in axis["actions"]:
            print(f"  Action {action['number']} : {action['title']}")
            for m in action["measures"]:
                print(f"    Mesure {m['number']:>2} [{m['status']}] {m['title']}")
    counts = outline["counts"]
    statuses = ", ".join(f"{n} {s}" for s, n in outline["status_counts"].items())
    print(
        f"\n{counts['axes']} axes, {counts['actions']} actions, {counts['measures']} mesures ({statuses}), "
        f"{counts['footnotes']} notes, {counts['acronyms']} sigles"
    )
    for warning in outline["warnings"]:
        print(f"avertissement : {warning}")
    return 0


def _build(args, settings: Settings) -> int:
    from .index import build_index

    report = build_index(settings, force=args.force, progress=not args.json)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        state = "up to date" if report["skipped"] else f"built in {report['seconds']:.1f} s"
        print(
            f"index {report['index_dir']}: {state} — {report['chunks']} chunks, "
            f"{report['embedded']} embedded, {report['cached']} from cache, model {report['model']}"
        )
    return 0


def _lines(single: str | None):
    """The question given, or every stdin line: a blank line gets its own
    (invalid_question) reply, so output line N always answers input line N."""
    if single is not None:
        yield single
        return
    # Undecodable bytes become U+FFFD instead of ending the batch or being echoed raw.
    sys.stdin.reconfigure(encoding="utf-8", errors="replace")
    for line in sys.stdin:
        yield line.rstrip("\r\n")


def _search(args, settings: Settings) -> int:
    from .search import Searcher

    searcher = Searcher.load(settings=settings)
    batch = args.query is None
    for query in _lines(args.query):
        try:
            hits = searcher.search(query, k=args.k, status=args.status, axis=args.axis, action=args.action, kind=args.kind,
                                   mode=args.mode)
        except TraiteQAError as err:
            if not batch:
                raise
            echo = query.encode("utf-8", "replace").decode("utf-8")
            print(json.dumps({"query": echo, "error": str(err), "hits": []}, ensure_ascii=False), flush=True)
            continue
        if batch:
            print(json.dumps({"query": query, "hits": [h.to_dict() for h in hits]}, ensure_ascii=False), flush=True)
        elif args.json:
            for hit in hits:
                print(json.dumps(hit.to_dict(), ensure_ascii=False))
        else:
            _print_hits(hits)
    return 0


def _print_hits(hits) -> None:
    if not hits:
        print("(aucun résultat)")
    for hit in hits:
        status = f" [{hit.status}]" if hit.status else ""
        print(f"{hit.rank:>2}. {hit.score:.4f}  {hit.id:<18} {hit.title[:70]}{status}")


def _require_generator_client(settings: Settings) -> None:
    """The optional generator (TRAITE_QA_LLM_*) talks through the openai client."""
    if settings.uses_generator:
        require_extra("llm", "openai")


def _ask(args, settings: Settings) -> int:
    from .answer import Assistant

    _require_generator_client(settings)

    assistant = Assistant.load(settings=settings)
    batch = args.question is None
    for question in _lines(args.question):
        answer = assistant.ask(question)
        if batch or args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        else:
            print(answer.answer)
            for citation in answer.citations:
                print(f"  — {citation.id}: {citation.title[:80]}")
    return 0


def _chat(args, settings: Settings) -> int:
    settings = settings.with_(**{k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None})
    # The page is served at once; the index is loaded (and built first when
    # missing or stale, model fingerprint included) once, in the background.
    require_extra("chat", *CHAT_MODULES)
    _require_generator_client(settings)
    from traite_qa_app.server import serve

    serve(settings)
    return 0


def _mcp(args, settings: Settings) -> int:
    from .integrations import require_extra

    require_extra("mcp", "mcp")
    from .integrations.mcp import serve

    serve(settings)
    return 0


def _export(args, settings: Settings) -> int:
    from .integrations.export import FILE_OF, export_index
    from .search import Searcher

    manifest = export_index(Searcher.load(settings=settings), args.directory, args.format, flat=args.flat)
    if args.json:
        print(json.dumps(manifest, ensure_ascii=False))
    else:
        model = manifest["model"]
        print(f"{manifest['count']} chunks -> {args.directory / FILE_OF[args.format]} (+ export.json): model {model['id']}, "
              f"dimension {model['dimension']}, prompts {manifest['prompts']}, normalised: {manifest['normalized']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
