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
  stopped).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from .common import EVAL_DIR, Question, load_questions  # noqa: E402

ROOT = EVAL_DIR.parent
OUT_DIR = EVAL_DIR / "out"
PLOT = ROOT / "docs" / "bench-latency.png"
N_QUESTIONS = 200
K = 10
TARGETS = {"search_over_encode": 1.3, "ask_p50_ms": 60.0, "first_build_s": 30.0, "warm_build_s": 2.0}
SEARCH_QUERY = "mécanisme national de référence"
SEARCH_INTENTS = {"search", "why", "recommendation", "measure_question", "status_by_search"}
ASK_QUERY = "Où en est la mesure 16 ?"


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


def percentiles(seconds: list[float]) -> dict:
    """p50/p95/mean/min/max in milliseconds (linear interpolation)."""
    if not seconds:
        return {"n": 0}
    ms = np.asarray(seconds, dtype=float) * 1000
    return {"n": len(ms), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "mean_ms": float(ms.mean()), "min_ms": float(ms.min()), "max_ms": float(ms.max())}


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "n/a"
    return "ok" if value <= limit else "MISSED"


def fmt_table(rows: list[tuple[str, str, str]]) -> list[str]:
    """Three aligned columns: what, value (with unit), ratio / target."""
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return [f"{a:<{w0}}  {b:>{w1}}  {c}".rstrip() for a, b, c in rows]


def md_table(rows: list[tuple[str, str, str]]) -> list[str]:
    return ["| measure | value | ratio / target |", "|---|---:|---|", *(f"| {a} | {b} | {c} |" for a, b, c in rows)]


def ms_pair(d: dict | None) -> str:
    if not d or not d.get("n"):
        return "—"
    return f"{d['p50_ms']:.1f} / {d['p95_ms']:.1f} ms"


def mb(kb: float | None) -> str:
    return "—" if kb is None else f"{kb / 1024:.0f} MB"


def _secs(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f} s"


# ------------------------------------------------------------ subprocesses
def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("traite-qa")
    return [str(script)] if script.exists() else [sys.executable, "-m", "traite_qa"]


def child_env(settings, **extra) -> dict:
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "GRADIO_ANALYTICS_ENABLED": "False", "TRAITE_QA_INDEX_DIR": str(settings.index_dir),
                "TRAITE_QA_MODEL_CACHE": str(settings.model_cache)})
    env.update({k: str(v) for k, v in extra.items()})
    return env


# A tiny launcher between us and each measured command. Linux charges a child
# the peak RSS of the address space it forked from (vfork + exec copies the
# parent's high-water mark into the child's ru_maxrss), so wait4 on a direct
# child of this 1 GB process would report >= 1 GB for any command. The
# launcher (python -S, ~10 MB) forks the command, waits for it and writes
# its ru_maxrss to a file; its own start adds ~15 ms to the wall times.
LAUNCHER = r"""
import os, sys
out, argv = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(out, "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def time_first_line(cmd: list[str], env: dict, timeout: float = 300) -> dict:
    """Wall time from spawn to the first stdout line, to exit, and the command's peak RSS (KB)."""
    with tempfile.NamedTemporaryFile(prefix="traite-qa-rss-", suffix=".txt", delete=False) as f:
        rss_file = Path(f.name)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-S", "-c", LAUNCHER, str(rss_file), *cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True, cwd=ROOT, start_new_session=True)
    timer = threading.Timer(timeout, lambda: _kill_group(proc))
    timer.start()
    try:
        first = proc.stdout.readline()
        first_s = time.perf_counter() - started
        rest = proc.stdout.read()
        err = proc.stderr.read()
        proc.wait()
        total = time.perf_counter() - started
    finally:
        timer.cancel()
        try:
            maxrss = int(rss_file.read_text() or 0) or None
        except (OSError, ValueError):
            maxrss = None
        rss_file.unlink(missing_ok=True)
    out = {"first_line_s": first_s if first else None, "exit_s": total, "returncode": proc.returncode,
           "maxrss_kb": maxrss, "first_line": first.strip()[:2000]}
    if proc.returncode != 0 or not first:
        out["stderr"] = err[-2000:]
    out["lines"] = 1 + rest.count("\n") if first else 0
    return out


def _kill_group(proc: subprocess.Popen) -> None:
    """The launcher and its command only: they run in their own session, started here."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def git_state() -> dict:
    def run(*args):
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    return {"commit": run("rev-parse", "HEAD"), "dirty": bool(run("status", "--porcelain", "--untracked-files=no"))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_available() -> bool:
    """The app module is found without importing it (importing gradio would inflate our RSS)."""
    try:
        return importlib.util.find_spec("traite_qa_app.server") is not None
    except (ImportError, ValueError):
        return False


def _vm_hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def time_app(settings, question: str = ASK_QUERY, timeout: float = 180, log_path: Path | None = None) -> dict:
    """Start `traite-qa chat` on a free port; time until `POST /api/ask` answers HTTP 200."""
    port = free_port()
    cmd = [*cli_command(), "chat", "--port", str(port)]
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=child_env(settings), cwd=ROOT)
    url = f"http://127.0.0.1:{port}/api/ask"
    body = json.dumps({"question": question}).encode()
    result: dict = {"port": port, "url": url, "first_answer_s": None}
    try:
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                result["error"] = f"the app exited with code {proc.returncode} before answering"
                break
            request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    payload = response.read()
                    result.update(first_answer_s=time.perf_counter() - started, http_status=response.status)
                    try:
                        result["answer_status"] = json.loads(payload).get("status")
                    except (ValueError, AttributeError):
                        result["answer_status"] = None
                    break
            except urllib.error.HTTPError as err:
                if err.code < 500:  # up, but it refuses our request: the contract differs
                    result.update(http_status=err.code, error=f"POST /api/ask answered HTTP {err.code}: {err.read()[:300]!r}")
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.05)
        else:
            result["error"] = f"no answer within {timeout:.0f} s"
        result["maxrss_kb"] = _vm_hwm_kb(proc.pid)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log_path:
            log.close()
    return result


def cold_starts(settings, runs: int) -> dict:
    out = {}
    for name, args in (("search", ["search", SEARCH_QUERY, "--json"]), ("ask", ["ask", ASK_QUERY, "--json"])):
        trials = [time_first_line([*cli_command(), *args], child_env(settings)) for _ in range(runs)]
        ok = [t for t in trials if t["first_line_s"] is not None and t["returncode"] == 0]
        out[name] = {"runs": trials, "first_run_s": trials[0]["first_line_s"], "first_line_s_median": float(np.median([t["first_line_s"] for t in ok])) if ok else None,
                     "first_line_s_min": min((t["first_line_s"] for t in ok), default=None),
                     "maxrss_kb": max((t["maxrss_kb"] or 0 for t in ok), default=None) or None,
                     "failed": len(trials) - len(ok)}
    return out


# ------------------------------------------------------------------ builds
def cold_model_cache(settings, tmp: Path) -> Path:
    """A `models/` folder in tmp whose model is a symlink to the converted one:
    no re-conversion, and the embedding cache beside it (tmp/embeddings) starts empty."""
    from traite_qa.index.e5convert import ensure_model

    folder = ensure_model(settings.model_cache)
    models = tmp / "models"
    models.mkdir(parents=True, exist_ok=True)
    link = models / folder.name
    if not link.exists():
        link.symlink_to(folder, target_is_directory=True)
    return models


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


def _build_run(cmd: list[str], env: dict) -> dict:
    run = time_first_line(cmd, env, timeout=900)
    try:
        report = json.loads(run["first_line"]) if run["first_line"] else {}
    except ValueError:
        report = {}
    return {"wall_s": run["exit_s"], "seconds": report.get("seconds"), "embedded": report.get("embedded"),
            "cached": report.get("cached"), "chunks": report.get("chunks"), "maxrss_kb": run["maxrss_kb"],
            "returncode": run["returncode"], **({"stderr": run["stderr"]} if "stderr" in run else {}),
            **({"model_load_seconds": report["model_load_seconds"]} if "model_load_seconds" in report else {})}


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


# ------------------------------------------------------------------ report
def table_rows(r: dict) -> list[tuple[str, str, str]]:
    lat, cold, b, rec, mem = r.get("latency", {}), r.get("cold_start", {}), r.get("build", {}), r.get("recall", {}), r.get("rss_kb", {})
    enc, srch, ask, rsrch = (lat.get(k) for k in ("encode", "search", "ask", "recipe_search"))
    p50 = lambda d: d.get("p50_ms") if d else None  # noqa: E731
    rows = [("questions", f"{r.get('questions', 0)}", f"distinct, valid, every kind; top {K}; query cache cleared before each search/ask")]
    if lat:
        s_ratio = ratio(p50(srch), p50(enc))
        rows += [
            ("query encode p50 / p95", ms_pair(enc), "the floor"),
            ("search p50 / p95", ms_pair(srch), f"p50 / encode p50 = {s_ratio:.2f} (target ≤ {TARGETS['search_over_encode']}: "
                                                  f"{verdict(s_ratio, TARGETS['search_over_encode'])})" if s_ratio else ""),
            ("ask p50 / p95 (extractive)", ms_pair(ask), f"target p50 ≤ {TARGETS['ask_p50_ms']:.0f} ms: {verdict(p50(ask), TARGETS['ask_p50_ms'])}; "
                                                        f"p50 / search p50 = {ratio(p50(ask), p50(srch)) or 0:.2f}"),
            ("  ask, retrieval route / structured", f"{p50(lat.get('ask_search_route')) or 0:.1f} / {p50(lat.get('ask_structured')) or 0:.1f} ms",
             f"p50; {lat.get('ask_search_route', {}).get('n', 0)} / {lat.get('ask_structured', {}).get('n', 0)} questions"),
            ("recipe search p50 / p95", ms_pair(rsrch), f"recipe / ours (p50) = {ratio(p50(rsrch), p50(srch)) or 0:.2f}"),
        ]
    if r.get("load"):
        rows.append(("in-process load: model / index", f"{r['load']['model_s']:.2f} / {r['load']['index_s']:.2f} s", "warm OS cache"))
    for name in ("search", "ask"):
        c = cold.get(name)
        if c:
            rows.append((f"cold start `traite-qa {name} --json`", _secs(c["first_line_s_median"]),
                         f"to first JSON line, median of {len(c['runs'])} (first run {_secs(c['first_run_s'])}, min {_secs(c['first_line_s_min'])}); peak RSS {mb(c['maxrss_kb'])}"))
    app = cold.get("app")
    if app is not None:
        if app.get("skipped"):
            rows.append(("cold start `traite-qa chat`", "skipped", app["skipped"]))
        else:
            rows.append(("cold start `traite-qa chat`", _secs(app.get("first_answer_s")),
                         f"to first POST /api/ask answer (HTTP {app.get('http_status')}); peak RSS {mb(app.get('maxrss_kb'))}"
                         + (f"; {app['error']}" if app.get("error") else "")))
    if b:
        first, warm = b.get("first_cli"), b.get("warm_cli")
        if first:
            rows.append(("first build (empty embedding cache)", _secs(first["wall_s"]),
                         f"`traite-qa build --force`, {first.get('embedded')} texts embedded, build_index {_secs(first.get('seconds'))}; "
                         f"target ≤ {TARGETS['first_build_s']:.0f} s: {verdict(first['wall_s'], TARGETS['first_build_s'])}; peak RSS {mb(first.get('maxrss_kb'))}"))
        rows.append(("warm rebuild, in-process", _secs(b.get("warm_inprocess_s")),
                     f"build_index(force=True), model loaded; target ≤ {TARGETS['warm_build_s']:.0f} s: {verdict(b.get('warm_inprocess_s'), TARGETS['warm_build_s'])}"))
        if warm:
            rows.append(("warm rebuild, `traite-qa build --force`", _secs(warm["wall_s"]), f"whole process (imports + model load); build_index {_secs(warm.get('seconds'))}"))
        rf, rw = b.get("recipe_first_cli"), b.get("recipe_warm_cli")
        if rf:
            rows.append(("recipe first build (empty cache)", _secs(rf["wall_s"]),
                         f"`python -m eval.baseline`, {rf.get('embedded')} chunks embedded; recipe / ours = {ratio(rf['wall_s'], first['wall_s'] if first else None) or 0:.2f}"))
        rows.append(("recipe warm rebuild, in-process", _secs(b.get("recipe_warm_inprocess_s")), f"process: {_secs(rw['wall_s']) if rw else '—'}"))
    for name, label in (("ours", "ours (hybrid)"), ("recipe", "fixed-size recipe")):
        if name in rec:
            x = rec[name]
            rows.append((f"retrieval {label}", f"R@1 {x['recall@1']:.3f}  R@5 {x['recall@5']:.3f}", f"MRR {x['mrr']:.3f} on {x['n']} questions with gold"))
    if mem:
        rows.append(("peak RSS of this process", mb(mem.get("self")), "model + index + recipe + Assistant"))
    for row in r.get("scaling", []):
        rows.append((f"FAISS {row['n']:,} x 384: flat / HNSW p50", f"{row['flat']['p50_ms']:.3f} / {row['hnsw']['p50_ms']:.3f} ms",
                     f"x{row['speedup_p50']:.1f} faster, HNSW recall@10 {row['hnsw']['recall@10']:.3f}, HNSW build {row['hnsw']['build_seconds']:.1f} s (1 thread search)"))
    return rows


def side_by_side(r: dict) -> list[str]:
    lat, b, rec = r.get("latency", {}), r.get("build", {}), r.get("recall", {})
    cell = lambda d, k: f"{d[k]:.1f} ms" if d and d.get(k) is not None else "—"  # noqa: E731
    rows = [
        ("search p50", cell(lat.get("search"), "p50_ms"), cell(lat.get("recipe_search"), "p50_ms")),
        ("search p95", cell(lat.get("search"), "p95_ms"), cell(lat.get("recipe_search"), "p95_ms")),
        ("first build (process, empty cache)", _secs((b.get("first_cli") or {}).get("wall_s")), _secs((b.get("recipe_first_cli") or {}).get("wall_s"))),
        ("warm rebuild (in-process)", _secs(b.get("warm_inprocess_s")), _secs(b.get("recipe_warm_inprocess_s"))),
        ("texts embedded at first build", str((b.get("first_cli") or {}).get("embedded", "—")), str((b.get("recipe_first_cli") or {}).get("embedded", "—"))),
    ]
    for m in ("recall@1", "recall@5", "mrr"):
        rows.append((m.replace("recall", "Recall"), *(f"{rec[x][m]:.3f}" if x in rec else "—" for x in ("ours", "recipe"))))
    return ["| | ours (hybrid, structure-aware) | fixed-size recipe (1000/200) |", "|---|---:|---:|",
            *(f"| {a} | {b_} | {c} |" for a, b_, c in rows)]


def strip_seconds(report: dict) -> dict:
    """The JSON keeps the raw per-question timings (ms) for re-plotting."""
    out = json.loads(json.dumps(report, default=str))
    for d in out.get("latency", {}).values():
        if "seconds" in d:
            d["samples_ms"] = [round(s * 1000, 3) for s in d.pop("seconds")]
    return out


# -------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=N_QUESTIONS, help="questions for the latency runs (default 200)")
    parser.add_argument("--cold-runs", type=int, default=3, help="runs per CLI cold start (median reported)")
    parser.add_argument("--quick", action="store_true", help="50 questions, 1 cold run, no cold builds")
    parser.add_argument("--skip-cold", action="store_true", help="no CLI/app cold starts")
    parser.add_argument("--skip-app", action="store_true", help="no app cold start")
    parser.add_argument("--skip-build", action="store_true", help="no build timings")
    parser.add_argument("--scaling", action="store_true", help="+ FAISS flat vs HNSW at 10k and 100k")
    parser.add_argument("--scaling-full", action="store_true", help="+ FAISS scaling up to 1M")
    parser.add_argument("--max-n", type=int, help="cap the scaling sizes")
    parser.add_argument("--index", type=Path, help="index folder (default eval/out/index/build, built if needed)")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--plot", type=Path, default=PLOT)
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.cold_runs = min(args.n, 50), 1

    from traite_qa.index.embedder import make_embedder
    from traite_qa.index import ensure_index
    from traite_qa.search import Searcher

    from .baseline import load_recipe
    from .compare import eval_settings, evaluate, hybrid_pipeline, recipe_pipeline, summarize

    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    settings = eval_settings(args.index)
    report: dict = {"settings": {"index_dir": str(settings.index_dir), "model": settings.model, "k": K},
                    "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()}, "git": git_state()}

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
