"""The recipe most tutorials teach, over the same document and model, so it can
be scored against the same gold as traite-qa's structure-aware index:

    RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    over the raw source text (no headers), the same e5 model (passage prompt,
    normalised vectors), a FAISS IndexFlatIP, top-k by cosine.

A fixed-size chunk knows nothing of measures or footnotes. To score it with
the gold of `eval/questions.yaml`, each chunk is mapped back through its
character offsets (`add_start_index=True`, checked against the source): it
"is" every measure whose header or body span it overlaps, every footnote
whose span it overlaps, every glossary line it overlaps, every annex-2 row it
overlaps (kind "table") and the preamble / conclusion paragraphs it overlaps.
A hit is gold when anything it covers is gold (`eval.common.is_gold` applied
to each covered target).

    python -m eval.baseline --json                      # build (cached) and print stats
    python -m eval.baseline --cache-dir /tmp/x "question"  # cold cache, then search
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import bisect  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

RECIPE_CHUNK_SIZE = 1000
RECIPE_CHUNK_OVERLAP = 200
# Order in which a chunk's "primary" kind is chosen when it covers several
# things equally (display only: scoring looks at everything it covers).
_KIND_ORDER = ("measure", "footnote", "acronym", "table", "preamble", "conclusion")


# --------------------------------------------------------- offset mapping
@dataclass(frozen=True)
class Region:
    """A span of the source with what it is, in `is_gold` terms."""

    start: int
    end: int  # half-open
    kind: str  # measure | footnote | acronym | table | preamble | conclusion
    measures: tuple[int, ...] = ()
    footnote: int | None = None
    acronym: str | None = None


def overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    """Half-open spans share at least one character."""
    return a_start < b_end and b_start < a_end


class StructureMap:
    """Which measures, footnotes, acronyms and sections a [start, end) span covers."""

    def __init__(self, evaluation, source: str):
        self.source = source
        regions: list[Region] = []
        for m in evaluation.measures:
            regions.append(Region(m.header_span.start, m.header_span.end, "measure", (m.number,)))
            # Grouped measures (20/21, 22/23, 43/45) share one body span, so a
            # chunk of that body covers every member, as our group chunk does.
            regions.append(Region(m.body_span.start, m.body_span.end, "measure", (m.number,)))
        for note in evaluation.footnotes:
            regions.append(Region(note.span.start, note.span.end, "footnote", footnote=note.number))
        for acronym in evaluation.acronyms:
            regions.append(Region(acronym.span.start, acronym.span.end, "acronym", acronym=acronym.acronym))
        for p in evaluation.preamble:
            regions.append(Region(p.span.start, p.span.end, "preamble"))
        for p in evaluation.conclusion:
            regions.append(Region(p.span.start, p.span.end, "conclusion"))
        regions += table_regions(evaluation, source)
        self.regions = sorted((r for r in regions if r.end > r.start), key=lambda r: (r.start, r.end))
        self._starts = [r.start for r in self.regions]
        self._max_len = max((r.end - r.start for r in self.regions), default=0)

    def regions_in(self, start: int, end: int) -> list[Region]:
        """Regions overlapping [start, end), in source order."""
        # Only regions starting after start - longest region can reach `start`.
        lo = bisect.bisect_left(self._starts, start - self._max_len)
        hi = bisect.bisect_left(self._starts, end)
        return [r for r in self.regions[lo:hi] if overlaps(r.start, r.end, start, end)]

    def covers(self, start: int, end: int) -> list[dict]:
        """What the span covers, one `is_gold` target per measure group, footnote, acronym, section."""
        return targets(self.regions_in(start, end))

    def describe(self, start: int, end: int) -> dict:
        """Ranked-hit fields for a span: a primary kind plus every covered target."""
        regions = self.regions_in(start, end)
        covers = targets(regions)
        share: dict[str, int] = {}
        for r in regions:
            share[r.kind] = share.get(r.kind, 0) + min(r.end, end) - max(r.start, start)
        kind = max(share, key=lambda k: (share[k], -_KIND_ORDER.index(k))) if share else "other"
        measures = sorted({m for c in covers if c["kind"] == kind for m in c["measures"]})
        footnotes = [c["footnote"] for c in covers if c["kind"] == "footnote"]
        acronyms = [c["acronym"] for c in covers if c["kind"] == "acronym"]
        return {
            "kind": kind,
            "measures": measures,
            "footnote": footnotes[0] if footnotes else None,
            "acronym": acronyms[0] if acronyms else None,
            "covers": covers,
        }


def targets(regions: list[Region]) -> list[dict]:
    """Merge overlapped regions into `is_gold` targets (kind, measures, footnote, acronym)."""
    measures = sorted({m for r in regions if r.kind == "measure" for m in r.measures})
    rows = sorted({m for r in regions if r.kind == "table" for m in r.measures})
    out: list[dict] = []
    if measures:
        out.append({"kind": "measure", "measures": measures, "footnote": None, "acronym": None})
    for n in dict.fromkeys(r.footnote for r in regions if r.kind == "footnote"):
        out.append({"kind": "footnote", "measures": [], "footnote": n, "acronym": None})
    for a in dict.fromkeys(r.acronym for r in regions if r.kind == "acronym"):
        out.append({"kind": "acronym", "measures": [], "footnote": None, "acronym": a})
    if any(r.kind == "table" for r in regions):
        out.append({"kind": "table", "measures": rows, "footnote": None, "acronym": None})
    for section in ("preamble", "conclusion"):
        if any(r.kind == section for r in regions):
            out.append({"kind": section, "measures": [], "footnote": None, "acronym": None})
    return out


def table_regions(evaluation, source: str) -> list[Region]:
    """Annex 2: its heading (up to the first row) and one region per row
    (number, title and status lines), carrying the row's measure number."""
    line_starts = [0] + [i + 1 for i, c in enumerate(source) if c == "\n"]
    rows = sorted(evaluation.summary, key=lambda r: r.line)
    if not rows:
        return []
    regions = []
    first = _line_content_start(source, line_starts, rows[0].line)
    heading = source.rfind("ANNEXE 2", 0, first)
    if heading >= 0:
        regions.append(Region(source.rfind("\n", 0, heading) + 1, first, "table"))
    for row in rows:
        start = _line_content_start(source, line_starts, row.line)
        end = _nth_nonblank_line_end(source, start, 3)
        regions.append(Region(start, end, "table", (row.number,)))
    return regions


def _line_content_start(source: str, line_starts: list[int], line: int) -> int:
    offset = line_starts[line - 1]
    while offset < len(source) and source[offset] in " \t":
        offset += 1
    return offset


def _nth_nonblank_line_end(source: str, offset: int, n: int) -> int:
    end = offset
    pos = offset
    while pos < len(source) and n > 0:
        nl = source.find("\n", pos)
        nl = len(source) if nl < 0 else nl
        line = source[pos:nl]
        if line.strip():
            n -= 1
            end = pos + len(line.rstrip())
        pos = nl + 1
    return end


# ------------------------------------------------------------ the recipe
def split_fixed(source: str, chunk_size: int = RECIPE_CHUNK_SIZE, chunk_overlap: int = RECIPE_CHUNK_OVERLAP) -> list[tuple[int, int, str]]:
    """The tutorial splitter over the raw text: (start, end, text) with verified offsets."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap, add_start_index=True)
    pieces = []
    cursor = 0
    for doc in splitter.create_documents([source]):
        text = doc.page_content
        start = doc.metadata.get("start_index", -1)
        if start < 0 or source[start : start + len(text)] != text:
            # langchain's start_index is a `find` from an estimated offset; fall back to our own.
            start = source.find(text, cursor)
            if start < 0:
                start = source.find(text)
            if start < 0:  # pragma: no cover - the splitter only strips whitespace
                raise AssertionError(f"splitter piece not found in the source: {text[:60]!r}")
        pieces.append((start, start + len(text), text))
        cursor = start + 1
    return pieces


@dataclass(frozen=True)
class FixedChunk:
    id: str
    start: int
    end: int
    text: str
    info: dict = field(compare=False)  # StructureMap.describe(start, end)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class FixedSizeRecipe:
    """Fixed-size chunks + e5 + IndexFlatIP: the usual recipe, searchable and scorable."""

    def __init__(self, chunks: list[FixedChunk], vectors: np.ndarray, embedder, chunk_size: int, chunk_overlap: int):
        import faiss

        self.chunks = chunks
        self.embedder = embedder
        self.chunk_size, self.chunk_overlap = chunk_size, chunk_overlap
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)
        self.build_stats: dict = {}

    @property
    def name(self) -> str:
        return f"fixed-{self.chunk_size}/{self.chunk_overlap}"

    @classmethod
    def build(
        cls,
        source: str,
        evaluation,
        embedder,
        chunk_size: int = RECIPE_CHUNK_SIZE,
        chunk_overlap: int = RECIPE_CHUNK_OVERLAP,
        cache_dir: Path | None = None,
    ) -> "FixedSizeRecipe":
        """Split, map offsets, embed (reusing `cache_dir` vectors by text sha256), index.

        `build_stats` records seconds per step and how many texts were embedded."""
        t0 = time.perf_counter()
        structure = StructureMap(evaluation, source)
        pieces = split_fixed(source, chunk_size, chunk_overlap)
        chunks = [FixedChunk(f"fixed-{i}", s, e, t, structure.describe(s, e)) for i, (s, e, t) in enumerate(pieces, 1)]
        t1 = time.perf_counter()
        texts = [c.text for c in chunks]
        embedded = len(texts)
        if cache_dir is not None:
            from traite_qa.index import EmbeddingCache

            cache = EmbeddingCache(Path(cache_dir), embedder.fingerprint)
            keys = [_sha(t) for t in texts]
            missing = list(dict.fromkeys(k for k in keys if k not in cache))
            if missing:
                text_of = dict(zip(keys, texts))
                cache.update(dict(zip(missing, embedder.embed_documents([text_of[k] for k in missing]))))
                cache.save()
            vectors = np.vstack([cache[k] for k in keys]).astype(np.float32)
            embedded = len(missing)
        else:
            vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
        t2 = time.perf_counter()
        recipe = cls(chunks, vectors, embedder, chunk_size, chunk_overlap)
        t3 = time.perf_counter()
        recipe.build_stats = {
            "chunks": len(chunks),
            "mean_chars": round(sum(len(t) for t in texts) / max(len(texts), 1), 1),
            "embedded": embedded,
            "cached": len(texts) - embedded,
            "split_seconds": t1 - t0,
            "embed_seconds": t2 - t1,
            "index_seconds": t3 - t2,
            "seconds": t3 - t0,
        }
        return recipe

    def search(self, query: str, k: int = 10) -> list[dict]:
        vector = self.embedder.embed_queries([query])[0]
        return self.search_vector(vector, k)

    def search_vector(self, vector: np.ndarray, k: int = 10) -> list[dict]:
        scores, rows = self.index.search(np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1), min(k, len(self.chunks)))
        hits = []
        for rank, (score, row) in enumerate(zip(scores[0], rows[0]), 1):
            if row < 0:
                continue
            c = self.chunks[int(row)]
            hits.append({"id": c.id, **c.info, "span": {"start": c.start, "end": c.end}, "score": float(score), "rank": rank, "text": c.text})
        return hits


def default_cache_dir(settings) -> Path:
    """Beside the index's own embedding cache, in a separate file set."""
    return settings.model_cache / "embeddings-baseline"


def load_recipe(settings=None, embedder=None, cache_dir: Path | None | str = "default", **kwargs) -> FixedSizeRecipe:
    from traite_qa.index.embedder import make_embedder
    from traite_qa.document import parse
    from traite_qa.settings import Settings

    settings = settings or Settings.from_env()
    embedder = embedder or make_embedder(settings)
    source = settings.source.read_text(encoding="utf-8")
    if cache_dir == "default":
        cache_dir = default_cache_dir(settings)
    return FixedSizeRecipe.build(source, parse(source), embedder, cache_dir=cache_dir, **kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.baseline", description=__doc__.splitlines()[0])
    parser.add_argument("queries", nargs="*", help="search these after the build (top 5)")
    parser.add_argument("--chunk-size", type=int, default=RECIPE_CHUNK_SIZE)
    parser.add_argument("--chunk-overlap", type=int, default=RECIPE_CHUNK_OVERLAP)
    parser.add_argument("--cache-dir", type=Path, help="embedding cache folder (default: beside the model cache)")
    parser.add_argument("--no-cache", action="store_true", help="embed everything, cache nothing")
    parser.add_argument("--json", action="store_true", help="one JSON line of build stats (then one per query)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    from traite_qa.index.embedder import make_embedder
    from traite_qa.settings import Settings

    settings = Settings.from_env()
    embedder = make_embedder(settings)
    t = time.perf_counter()
    embedder.warm_up()
    load_seconds = time.perf_counter() - t
    cache = None if args.no_cache else (args.cache_dir or "default")
    recipe = load_recipe(settings, embedder, cache, chunk_size=args.chunk_size, chunk_overlap=args.chunk_overlap)
    stats = {"recipe": recipe.name, **recipe.build_stats, "model_load_seconds": load_seconds,
             "process_seconds": time.perf_counter() - started}
    if args.json:
        print(json.dumps(stats), flush=True)
    else:
        print(f"{recipe.name}: {stats['chunks']} chunks (mean {stats['mean_chars']} chars), {stats['embedded']} embedded, "
              f"{stats['cached']} cached; build {stats['seconds']:.2f} s (embed {stats['embed_seconds']:.2f} s), "
              f"model load {load_seconds:.2f} s")
    for query in args.queries:
        hits = recipe.search(query, k=5)
        if args.json:
            print(json.dumps({"query": query, "hits": [{k: v for k, v in h.items() if k != "text"} for h in hits]}, ensure_ascii=False))
        else:
            print(f"\n{query}")
            for h in hits:
                covers = ", ".join(_label(c) for c in h["covers"]) or "—"
                print(f"  {h['rank']:>2}. {h['score']:.4f} {h['id']:<10} {covers}")
    return 0


def _label(target: dict) -> str:
    kind = target["kind"]
    if kind == "measure":
        return "mesure " + "/".join(map(str, target["measures"]))
    if kind == "footnote":
        return f"note {target['footnote']}"
    if kind == "acronym":
        return f"sigle {target['acronym']}"
    if kind == "table":
        return "tableau" + (" " + "/".join(map(str, target["measures"])) if target["measures"] else "")
    return kind


if __name__ == "__main__":
    sys.exit(main())
