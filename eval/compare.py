"""Side by side, on the same questions and the same gold: traite-qa's hybrid
structure-aware search against dense only, BM25 only and the usual
fixed-size-chunk recipe (`eval/baseline.py`).

    python -m eval.compare                       # the four-way table (about a minute)
    python -m eval.compare --sweep               # + grid search of the fusion settings
    python -m eval.compare --chunk-size 800,1600:200,2400
                                                 # + the hybrid rebuilt with other chunk sizes

Every pipeline returns ranked dicts with the fields `eval.common.is_gold`
reads (kind, measures, footnote, acronym) plus `covers`: the list of
everything the passage covers (one entry for our chunks, possibly several for
a fixed-size chunk). A hit is gold when any covered target is gold.
Writes `eval/out/compare.md` and `eval/out/compare.json`.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

from .common import EVAL_DIR, KINDS, Question, RetrievalScore, is_gold, load_questions  # noqa: E402

OUT_DIR = EVAL_DIR / "out"
K = 10
Pipeline = Callable[[str, int], list[dict]]
LABELS = {
    "hybrid": "hybrid (ours)",
    "dense": "dense only",
    "bm25": "BM25 only",
    "recipe": "fixed-size recipe",
}
SWEEP_RRF_K = (5, 10, 20, 40, 60)
SWEEP_WEIGHTS = ((1.0, 1.0), (1.0, 0.75), (1.0, 0.5), (1.0, 0.25), (0.75, 1.0), (0.5, 1.0), (0.25, 1.0))


# ------------------------------------------------------------------ gold
def target_of(hit: dict) -> dict:
    return {"kind": hit["kind"], "measures": list(hit.get("measures") or ()), "footnote": hit.get("footnote"),
            "acronym": hit.get("acronym")}


def hit_is_gold(question: Question, hit: dict) -> bool:
    """`is_gold` over everything the hit covers (its own fields when it has no `covers`)."""
    for t in hit.get("covers") or [target_of(hit)]:
        if is_gold(question, t["kind"], t.get("measures") or (), t.get("footnote"), t.get("acronym")):
            return True
    return False


def gold_rank(question: Question, hits: list[dict]) -> int | None:
    """1-based rank of the first gold hit, None when no hit is gold."""
    for rank, hit in enumerate(hits, 1):
        if hit_is_gold(question, hit):
            return rank
    return None


# ------------------------------------------------------------- pipelines
def _with_covers(hit: dict) -> dict:
    hit["covers"] = [target_of(hit)]
    return hit


def _chunk_hit(chunk, score: float, rank: int) -> dict:
    return _with_covers({
        "id": chunk.id, "kind": chunk.kind, "measures": list(chunk.measures), "footnote": chunk.footnote,
        "acronym": chunk.acronym, "span": {"start": chunk.span.start, "end": chunk.span.end},
        "score": float(score), "rank": rank,
    })


def clear_query_cache(searcher) -> None:
    """The Searcher keeps an LRU of query embeddings; cleared so every timed search encodes."""
    searcher.clear_query_cache()


def hybrid_pipeline(searcher, uncached: bool = True) -> Pipeline:
    """`Searcher.search` as the app runs it: fusion + pinning of exact references."""
    from traite_qa.errors import TraiteQAError

    def run(query: str, k: int = K) -> list[dict]:
        if uncached:
            clear_query_cache(searcher)
        try:
            hits = searcher.search(query, k=k)
        except TraiteQAError:  # e.g. "mesure 99": refused, nothing ranked
            return []
        return [_with_covers(h.to_dict()) for h in hits]

    return run


def dense_pipeline(searcher) -> Pipeline:
    """FAISS over our chunks (headers included), no BM25, no pinning."""
    from traite_qa.understand import clean_question

    data = searcher.data

    def run(query: str, k: int = K) -> list[dict]:
        vector = searcher.embedder.embed_queries([clean_question(query, searcher.settings.max_question_chars)])[0]
        scores, ids = data.store.search(vector[None, :], k)
        hits = []
        for score, vid in zip(scores[0], ids[0]):
            if vid >= 0:
                hits.append(_chunk_hit(data.chunks[data.row_of_vector[int(vid)]], score, len(hits) + 1))
        return hits

    return run


def bm25_pipeline(searcher) -> Pipeline:
    """Our BM25 index over our chunks, no pinning; chunks sharing no term are not returned."""
    data = searcher.data

    def run(query: str, k: int = K) -> list[dict]:
        scores = data.lexical.scores(query)
        order = np.argsort(-scores, kind="stable")[:k]
        return [_chunk_hit(data.chunks[int(i)], scores[i], rank) for rank, i in enumerate(order, 1) if scores[i] > 0]

    return run


def recipe_pipeline(recipe) -> Pipeline:
    def run(query: str, k: int = K) -> list[dict]:
        return recipe.search(query, k)

    return run


def make_pipelines(searcher, recipe) -> dict[str, Pipeline]:
    return {
        "hybrid": hybrid_pipeline(searcher),
        "dense": dense_pipeline(searcher),
        "bm25": bm25_pipeline(searcher),
        "recipe": recipe_pipeline(recipe),
    }


# ----------------------------------------------------------------- scoring
def evaluate(questions: list[Question], pipelines: dict[str, Pipeline], k: int = K, warm_up: bool = True) -> dict:
    """Score every pipeline on every question with gold, interleaved (same load for all).

    Returns {"scores": {pipeline: {kind: RetrievalScore}}, "ranks": {question id: {pipeline: rank}}}."""
    if warm_up:
        for run in pipelines.values():
            run("warm up", k)
    scores: dict[str, dict[str, RetrievalScore]] = {name: defaultdict(RetrievalScore) for name in pipelines}
    ranks: dict[str, dict[str, int | None]] = {}
    for q in questions:
        if not q.has_gold:
            continue
        ranks[q.id] = {}
        for name, run in pipelines.items():
            started = time.perf_counter()
            hits = run(q.retrieval_query, k)
            seconds = time.perf_counter() - started
            rank = gold_rank(q, hits)
            scores[name][q.kind].add(rank, seconds)
            scores[name]["overall"].add(rank, seconds)
            ranks[q.id][name] = rank
    return {"scores": scores, "ranks": ranks}


def summarize(score: RetrievalScore) -> dict:
    out = score.as_dict()
    ms = [s * 1000 for s in score.seconds]
    out["mean_ms"] = statistics.fmean(ms) if ms else 0.0
    out["p50_ms"] = float(np.percentile(ms, 50)) if ms else 0.0
    return out


def summary_table(scores: dict[str, dict[str, RetrievalScore]]) -> dict:
    return {name: {kind: summarize(s) for kind, s in by_kind.items()} for name, by_kind in scores.items()}


def kinds_present(table: dict) -> list[str]:
    present = {kind for by_kind in table.values() for kind in by_kind}
    return [k for k in KINDS if k in present] + ["overall"]


def render(table: dict, labels: dict[str, str] | None = None) -> list[str]:
    """Markdown: an overall block (with time per query), then one kind × pipeline block per metric."""
    labels = {**LABELS, **(labels or {})}
    names = list(table)
    lines = ["| pipeline | n | Recall@1 | Recall@5 | MRR | mean ms/query | p50 ms/query |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name in names:
        o = table[name]["overall"]
        lines.append(f"| {labels.get(name, name)} | {o['n']} | {o['recall@1']:.3f} | {o['recall@5']:.3f} | {o['mrr']:.3f} "
                     f"| {o['mean_ms']:.1f} | {o['p50_ms']:.1f} |")
    for metric, title in (("recall@1", "Recall@1"), ("recall@5", "Recall@5"), ("mrr", "MRR")):
        lines += ["", f"**{title}** by question kind", "",
                  "| kind | n | " + " | ".join(labels.get(n, n) for n in names) + " |",
                  "|---|---:|" + "---:|" * len(names)]
        for kind in kinds_present(table):
            cells = []
            values = [table[n].get(kind, {}).get(metric) for n in names]
            best = max((v for v in values if v is not None), default=None)
            for v in values:
                text = "—" if v is None else f"{v:.3f}"
                cells.append(f"**{text}**" if v is not None and v == best and len(names) > 1 else text)
            n = next((table[x][kind]["n"] for x in names if kind in table[x]), 0)
            lines.append(f"| {kind} | {n} | " + " | ".join(cells) + " |")
    return lines


# ------------------------------------------------------------------ sweep
def prefill_query_cache(searcher, questions: list[Question]) -> None:
    """Encode every retrieval query once into the searcher's LRU (shared with the variants)."""
    from traite_qa.errors import TraiteQAError

    for q in questions:
        try:
            searcher.embed_query(q.retrieval_query)
        except TraiteQAError:  # blank questions are refused by search too
            pass


def variant_of(searcher, settings):
    """A Searcher over the same data with other fusion settings, sharing the query embeddings."""
    from traite_qa.search import Searcher

    variant = Searcher(searcher.data, searcher.embedder, settings)
    variant._query_cache = searcher._query_cache
    return variant


def sweep(searcher, questions: list[Question], rrf_ks=SWEEP_RRF_K, weights=SWEEP_WEIGHTS) -> list[dict]:
    """Hybrid metrics for every (rrf_k, dense_weight, lexical_weight), query embeddings computed once."""
    gold = [q for q in questions if q.has_gold]
    prefill_query_cache(searcher, gold)  # the sweep then measures ranking only
    rows = []
    for rrf_k in rrf_ks:
        for dense_w, lexical_w in weights:
            settings = searcher.settings.with_(rrf_k=rrf_k, dense_weight=dense_w, lexical_weight=lexical_w)
            variant = variant_of(searcher, settings)
            result = evaluate(gold, {"hybrid": hybrid_pipeline(variant, uncached=False)}, warm_up=False)
            overall = summarize(result["scores"]["hybrid"]["overall"])
            rows.append({"rrf_k": rrf_k, "dense_weight": dense_w, "lexical_weight": lexical_w,
                         "current": (rrf_k, dense_w, lexical_w) == (searcher.settings.tuning.rrf_k, searcher.settings.tuning.dense_weight,
                                                                     searcher.settings.tuning.lexical_weight),
                         **{k: overall[k] for k in ("n", "recall@1", "recall@5", "mrr")}})
    rows.sort(key=lambda r: (-r["recall@1"], -r["mrr"], -r["recall@5"]))
    return rows


def render_sweep(rows: list[dict], top: int) -> list[str]:
    lines = ["| rrf_k | dense weight | lexical weight | Recall@1 | Recall@5 | MRR | |", "|---:|---:|---:|---:|---:|---:|---|"]
    shown = rows[:top] + [r for r in rows[top:] if r["current"]]
    for r in shown:
        lines.append(f"| {r['rrf_k']} | {r['dense_weight']:g} | {r['lexical_weight']:g} | {r['recall@1']:.3f} | "
                     f"{r['recall@5']:.3f} | {r['mrr']:.3f} | {'current' if r['current'] else ''} |")
    return lines


# ------------------------------------------------------------ chunk sizes
def parse_chunk_sizes(text: str) -> list[tuple[int, int]]:
    """'800,1600:200' -> [(800, 100), (1600, 200)]; the overlap defaults to 1/8 of the size."""
    out = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        size, _, overlap = item.partition(":")
        n = int(size)
        out.append((n, int(overlap) if overlap else n // 8))
    if not out:
        raise ValueError("--chunk-size needs at least one size, e.g. 800,1600:200")
    return out


def chunk_size_runs(searcher, questions: list[Question], sizes: list[tuple[int, int]]) -> list[dict]:
    """Rebuild our index in a temp dir per (size, overlap) and score the hybrid on it
    (query embeddings shared with `searcher`: only the new chunks are embedded)."""
    from traite_qa.index import build_index
    from traite_qa.search import Searcher

    prefill_query_cache(searcher, [q for q in questions if q.has_gold])
    rows = []
    for size, overlap in sizes:
        with tempfile.TemporaryDirectory(prefix="traite-qa-chunks-") as tmp:
            settings = searcher.settings.with_(index_dir=Path(tmp) / "build", chunk_size=size, chunk_overlap=overlap)
            report = build_index(settings, force=True, embedder=searcher.embedder)
            variant = Searcher.load(settings=settings, embedder=searcher.embedder)
            variant._query_cache = searcher._query_cache
            result = evaluate(questions, {"hybrid": hybrid_pipeline(variant, uncached=False)}, warm_up=False)
            overall = summarize(result["scores"]["hybrid"]["overall"])
            kinds = {kind: summarize(s) for kind, s in result["scores"]["hybrid"].items()}
            rows.append({"chunk_size": size, "chunk_overlap": overlap, "chunks": report["chunks"],
                         "measure_chunks": sum(c.kind == "measure" for c in variant.chunks),
                         "embedded": report["embedded"], "build_seconds": report["seconds"],
                         "current": (size, overlap) == (searcher.settings.chunk_size, searcher.settings.chunk_overlap),
                         **{k: overall[k] for k in ("n", "recall@1", "recall@5", "mrr")}, "by_kind": kinds})
    return rows


def render_chunk_sizes(rows: list[dict]) -> list[str]:
    lines = ["| chunk size / overlap | chunks (measure) | Recall@1 | Recall@5 | MRR | build s | |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['chunk_size']} / {r['chunk_overlap']} | {r['chunks']} ({r['measure_chunks']}) | {r['recall@1']:.3f} | "
                     f"{r['recall@5']:.3f} | {r['mrr']:.3f} | {r['build_seconds']:.1f} | {'current' if r['current'] else ''} |")
    return lines


# ------------------------------------------------------------------- main
def eval_settings(index_dir: Path | None = None):
    """Settings from the environment, with the index in `eval/out/index/build` unless told otherwise.

    A private index, checked against the model actually loaded: the shared
    `index/build` may have been built by another process with another model
    folder (different fingerprint), and rebuilding it here would pull it from
    under them. Same settings and the same embedding cache: building it costs
    seconds once the main index has been built."""
    from traite_qa.settings import Settings

    return Settings.from_env().with_(index_dir=Path(index_dir) if index_dir else OUT_DIR / "index" / "build")


def load_all(settings=None, verbose: bool = True):
    """The searcher over a checked index (built if missing/stale) and the recipe, sharing one model."""
    from traite_qa.index.embedder import make_embedder
    from traite_qa.index import ensure_index
    from traite_qa.search import Searcher

    from .baseline import load_recipe

    settings = settings or eval_settings()
    embedder = make_embedder(settings)
    built = ensure_index(settings, embedder=embedder)  # with the embedder: also catches a model change
    if verbose and not built.get("skipped"):
        print(f"(index built at {settings.index_dir}: {built.get('chunks')} chunks, {built.get('embedded')} embedded, "
              f"{built.get('seconds', 0):.1f} s)", flush=True)
    searcher = Searcher.load(settings=settings, embedder=embedder)
    searcher.warm_up()
    recipe = load_recipe(settings, embedder)
    return searcher, recipe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.compare", description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="grid-search rrf_k and the dense/lexical weights")
    parser.add_argument("--top", type=int, default=8, help="sweep rows to print (default 8)")
    parser.add_argument("--chunk-size", help="comma-separated sizes, each optionally SIZE:OVERLAP (e.g. 800,1600:200)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (default eval/out)")
    parser.add_argument("--index", type=Path, help="index folder to use (default eval/out/index/build, built if needed)")
    args = parser.parse_args(argv)
    sizes = parse_chunk_sizes(args.chunk_size) if args.chunk_size else []

    started = time.perf_counter()
    searcher, recipe = load_all(eval_settings(args.index))
    questions = [q for q in load_questions() if q.has_gold]
    stats = recipe.build_stats
    print(f"{len(questions)} questions with gold; our index {len(searcher.chunks)} chunks; "
          f"recipe {recipe.name}: {stats['chunks']} chunks, mean {stats['mean_chars']} chars "
          f"({stats['embedded']} embedded, {stats['cached']} cached, {stats['seconds']:.1f} s); top {K}", flush=True)
    result = evaluate(questions, make_pipelines(searcher, recipe))
    table = summary_table(result["scores"])
    labels = {"recipe": f"fixed-size recipe ({recipe.chunk_size}/{recipe.chunk_overlap})"}
    md = ["# Retrieval side by side", "",
          f"{len(questions)} questions with gold from `eval/questions.yaml`, top {K}; time per query includes the "
          "query encode (the searcher's query-embedding cache is cleared before each hybrid search).", "",
          *render(table, labels)]
    print("\n".join(md[2:]), flush=True)
    report = {"k": K, "questions": len(questions), "pipelines": table, "ranks": result["ranks"],
              "recipe": {"name": recipe.name, **stats}, "settings": {
                  "rrf_k": searcher.settings.tuning.rrf_k, "dense_weight": searcher.settings.tuning.dense_weight,
                  "lexical_weight": searcher.settings.tuning.lexical_weight, "chunk_size": searcher.settings.chunk_size,
                  "chunk_overlap": searcher.settings.chunk_overlap}}

    if args.sweep:
        t = time.perf_counter()
        rows = sweep(searcher, questions)
        lines = ["", f"## Fusion sweep (best {args.top} of {len(rows)} by Recall@1, then MRR)", "", *render_sweep(rows, args.top)]
        print("\n".join(lines) + f"\n({time.perf_counter() - t:.1f} s)", flush=True)
        md += lines
        report["sweep"] = rows
    if sizes:
        t = time.perf_counter()
        current = (searcher.settings.chunk_size, searcher.settings.chunk_overlap)
        rows = chunk_size_runs(searcher, questions, sorted(set(sizes) | {current}))  # + the current one, for reference
        lines = ["", "## Chunk sizes (hybrid, rebuilt in a temp dir; bodies up to max(1700, size) chars stay whole)", "",
                 *render_chunk_sizes(rows)]
        print("\n".join(lines) + f"\n({time.perf_counter() - t:.1f} s)", flush=True)
        md += lines
        report["chunk_sizes"] = rows

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compare.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    (args.out / "compare.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"\nwrote {args.out / 'compare.md'} and compare.json ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
