"""FAISS at scale: exact `IndexFlatIP` against `IndexHNSWFlat` on synthetic
normalised vectors of the model's dimension (384).

    python -m eval.scaling                 # 10k and 100k (a few minutes on 2 cores)
    python -m eval.scaling --full          # + 1M (1.5 GB of vectors; HNSW build takes minutes)
    python -m eval.scaling --max-n 30000   # cap the sizes

For each size: flat add time, HNSW build time (M=32, efConstruction 40,
efSearch 64), p50/p95 per query over 100 single-vector queries (one query per
call, as the app searches), and HNSW recall@10 against the exact flat top 10.
Search is timed with one OpenMP thread (the headline: what one request gets
on a busy server) and with all threads: on a loaded machine faiss's OpenMP
barrier alone can add ~15 ms to a single-query flat scan of 10k vectors.
Writes `eval/out/scaling.json` and `docs/faiss-scaling.png`.

The vectors are synthetic. `--data clustered` (default) draws points around
n/100 random centres (cosine ≈ 0.8 to their centre), closer to real sentence
embeddings, which have a low intrinsic dimension; `--data gaussian` draws
isotropic points on the sphere, the worst case for a graph index (its recall
there understates what real embeddings get).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "eval" / "out" / "scaling.json"
PLOT = ROOT / "docs" / "faiss-scaling.png"
DEFAULT_SIZES = (10_000, 100_000)
FULL_SIZES = (10_000, 100_000, 1_000_000)
DIM = 384
HNSW_M = 32
EF_SEARCH = 64
EF_CONSTRUCTION = 40  # faiss's default
BLOCK = 100_000


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


def synthetic(n: int, dim: int = DIM, data: str = "clustered", seed: int = 0, centres: np.ndarray | None = None) -> np.ndarray:
    """n unit vectors (float32), generated in blocks so 1M x 384 needs no float64 copy."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, BLOCK):
        m = min(BLOCK, n - start)
        block = rng.standard_normal((m, dim), dtype=np.float32)
        if data == "clustered":
            if centres is None:
                raise ValueError("clustered data needs centres (see make_centres)")
            picks = rng.integers(0, len(centres), m)
            # noise of norm ≈ 0.75 around a unit centre: cosine ≈ 0.8 to it
            block = centres[picks] + block * np.float32(0.75 / np.sqrt(dim))
        elif data != "gaussian":
            raise ValueError(f"unknown data {data!r}: clustered or gaussian")
        out[start : start + m] = normalise(block)
    return out


def make_centres(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    return normalise(np.random.default_rng(seed + 1_000_003).standard_normal((max(n // 100, 8), dim), dtype=np.float32))


def recall_at_k(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean fraction of the exact top k found in the approximate top k (ids, shape (q, k))."""
    k = exact.shape[1]
    return float(np.mean([len(set(a.tolist()) & set(e.tolist())) / k for a, e in zip(approx, exact)]))


def _per_query(index, queries: np.ndarray, k: int) -> tuple[list[float], np.ndarray]:
    seconds, ids = [], []
    for q in queries:
        t = time.perf_counter()
        _, found = index.search(q[None, :], k)
        seconds.append(time.perf_counter() - t)
        ids.append(found[0])
    return seconds, np.vstack(ids)


def _timed_search(index, queries: np.ndarray, k: int, threads: tuple[int, ...]) -> tuple[dict, np.ndarray]:
    """Per-query timings under each OpenMP thread count; the first count's are the headline."""
    import faiss

    saved = faiss.omp_get_max_threads()
    by_threads, ids = {}, None
    try:
        for t in threads:
            faiss.omp_set_num_threads(t)
            seconds, found = _per_query(index, queries, k)
            by_threads[str(t)] = _pct(seconds)
            ids = found if ids is None else ids
    finally:
        faiss.omp_set_num_threads(saved)
    return {**by_threads[str(threads[0])], "threads": threads[0], "by_threads": by_threads}, ids


def _pct(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "mean_ms": float(ms.mean())}


def run_size(n: int, dim: int = DIM, queries: int = 100, k: int = 10, data: str = "clustered", m: int = HNSW_M,
             ef_search: int = EF_SEARCH, ef_construction: int = EF_CONSTRUCTION, seed: int = 0, log=print,
             threads: tuple[int, ...] | None = None) -> dict:
    import faiss

    threads = tuple(threads or search_threads())

    t = time.perf_counter()
    centres = make_centres(n, dim, seed) if data == "clustered" else None
    base = synthetic(n, dim, data, seed, centres)
    qs = synthetic(queries, dim, data, seed + 1, centres)
    generate = time.perf_counter() - t

    flat = faiss.IndexFlatIP(dim)
    t = time.perf_counter()
    flat.add(base)
    flat_add = time.perf_counter() - t
    flat_search, exact = _timed_search(flat, qs, k, threads)
    del flat  # 1.5 GB at 1M: free it before the HNSW copy

    hnsw = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ef_construction
    t = time.perf_counter()
    hnsw.add(base)
    hnsw_build = time.perf_counter() - t
    del base
    hnsw.hnsw.efSearch = ef_search
    hnsw_search, approx = _timed_search(hnsw, qs, k, threads)
    del hnsw
    row = {
        "n": n, "dim": dim, "queries": queries, "k": k, "data": data,
        "generate_seconds": generate,
        "flat": {"add_seconds": flat_add, **flat_search},
        "hnsw": {"M": m, "efSearch": ef_search, "efConstruction": ef_construction, "build_seconds": hnsw_build,
                 **hnsw_search, "recall@10": recall_at_k(approx, exact)},
        "memory_mb_vectors": n * dim * 4 / 2**20,
    }
    row["speedup_p50"] = row["flat"]["p50_ms"] / max(row["hnsw"]["p50_ms"], 1e-9)
    if log:
        extra = "".join(f" [{t} threads: flat {row['flat']['by_threads'][t]['p50_ms']:.3f}, HNSW {row['hnsw']['by_threads'][t]['p50_ms']:.3f} ms]"
                        for t in row["flat"]["by_threads"] if t != str(threads[0]))
        log(f"  n={n:>9,}: flat p50 {row['flat']['p50_ms']:8.3f} ms | HNSW p50 {row['hnsw']['p50_ms']:7.3f} ms "
            f"(x{row['speedup_p50']:.1f}), recall@10 {row['hnsw']['recall@10']:.3f}, build {hnsw_build:6.1f} s "
            f"(flat add {flat_add:.2f} s){extra}")
    return row


def search_threads() -> tuple[int, ...]:
    """1 thread (what one request gets on a busy server; immune to OpenMP
    oversubscription) and, when there are more, all of them."""
    import faiss

    n = faiss.omp_get_max_threads()
    return (1,) if n <= 1 else (1, n)


def run(sizes=DEFAULT_SIZES, max_n: int | None = None, log=print, **kwargs) -> list[dict]:
    import faiss

    sizes = [n for n in sizes if max_n is None or n <= max_n]
    if log:
        log(f"FAISS scaling: dim {kwargs.get('dim', DIM)}, {kwargs.get('queries', 100)} single-vector queries, "
            f"{kwargs.get('data', 'clustered')} data; search timed with {search_threads()} OpenMP threads "
            f"(headline: 1), HNSW built with {faiss.omp_get_max_threads()}")
    return [run_size(n, log=log, **kwargs) for n in sizes]


def render(rows: list[dict]) -> list[str]:
    lines = ["| vectors | flat p50 / p95 ms | HNSW p50 / p95 ms | speed-up (p50) | HNSW recall@10 | HNSW build s | flat add s "
             "| p50 flat / HNSW, all threads |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        f, h = r["flat"], r["hnsw"]
        many = [t for t in f.get("by_threads", {}) if t != str(f.get("threads", 1))]
        multi = (f"{f['by_threads'][many[-1]]['p50_ms']:.3f} / {h['by_threads'][many[-1]]['p50_ms']:.3f} ({many[-1]} thr.)"
                 if many else "—")
        lines.append(f"| {r['n']:,} | {f['p50_ms']:.3f} / {f['p95_ms']:.3f} | {h['p50_ms']:.3f} / {h['p95_ms']:.3f} | "
                     f"x{r['speedup_p50']:.1f} | {h['recall@10']:.3f} | {h['build_seconds']:.1f} | {f['add_seconds']:.2f} | {multi} |")
    return lines


def plot(rows: list[dict], path: Path = PLOT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [r["n"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(ns, [r["flat"]["p50_ms"] for r in rows], "o-", label="IndexFlatIP (exact)")
    ax1.plot(ns, [r["hnsw"]["p50_ms"] for r in rows], "s-", label=f"IndexHNSWFlat M={HNSW_M}, efSearch={EF_SEARCH}")
    many = [t for t in rows[0]["flat"].get("by_threads", {}) if t != "1"]
    if many:
        t = many[-1]
        ax1.plot(ns, [r["flat"]["by_threads"][t]["p50_ms"] for r in rows], "o--", color="C0", alpha=0.5, label=f"flat, {t} threads")
        ax1.plot(ns, [r["hnsw"]["by_threads"][t]["p50_ms"] for r in rows], "s--", color="C1", alpha=0.5, label=f"HNSW, {t} threads")
    for r in rows:
        ax1.annotate(f"recall {r['hnsw']['recall@10']:.2f}", (r["n"], r["hnsw"]["p50_ms"]), textcoords="offset points",
                     xytext=(4, -12), fontsize=8)
    ax1.set(xscale="log", yscale="log", xlabel="vectors (dim 384)", ylabel="p50 per query (ms), 1 thread",
            title=f"Search time per query ({rows[0]['data']} data)")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=8, loc="upper left")
    ax2.plot(ns, [r["hnsw"]["build_seconds"] for r in rows], "s-", color="C1", label="HNSW build")
    ax2.plot(ns, [r["flat"]["add_seconds"] for r in rows], "o-", color="C0", label="flat add")
    ax2.set(xscale="log", yscale="log", xlabel="vectors (dim 384)", ylabel="seconds", title="Index build time")
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="go up to 1M vectors")
    parser.add_argument("--sizes", help="comma-separated sizes (overrides the defaults)")
    parser.add_argument("--max-n", type=int, help="skip sizes above this")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--data", choices=("clustered", "gaussian"), default="clustered")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--plot", type=Path, default=PLOT)
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (FULL_SIZES if args.full else DEFAULT_SIZES)
    rows = run(sizes, args.max_n, queries=args.queries, data=args.data)
    if not rows:
        print("no size left under --max-n")
        return 1
    print("\n".join(render(rows)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    if not args.no_plot:
        print(f"plot: {plot(rows, args.plot)}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
