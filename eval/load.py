"""Load test of the app: the HTTP API under `wrk`, the chat under 50 concurrent
`gradio_client` sessions, and the server's memory across both.

    python -m eval.load                       # starts `traite-qa chat` on a free port, runs everything
    python -m eval.load --url http://127.0.0.1:7860 --pid 1234   # an already running server
    python -m eval.load --duration 10 --sessions 10              # shorter

Prints a table and writes `eval/out/load.json`. The phases, in order:

1. warm-up: every query of `eval/wrk/search.lua` once through `GET /api/search`
   and every question of `eval/wrk/ask.lua` once through `POST /api/ask` (the
   first requests load lazy parts; the searcher caches query embeddings);
   then the server's RSS is read (`VmRSS` of /proc/<pid>/status): "before";
2. `wrk` (Debian's) for `duration` s on `GET /api/search` with `connections`
   connections, the query varied over the 50 of `eval/wrk/search.lua`;
3. `wrk` for `duration` s on `POST /api/ask` (`eval/wrk/ask.lua`); RSS "after".
   Each wrk phase reports throughput, latency percentiles (computed in the Lua
   `done()` with `latency:percentile(p)`) and errors: non-2xx replies, bodies
   that are not a search result / an Answer, and socket errors;
4. the chat: `sessions` concurrent sessions, each its own `gradio_client.Client`
   in its own thread (all start together), each asking `questions` questions
   through Gradio's `/ask` endpoint: counts, statuses (French and English),
   acronyms, footnotes, open questions and a follow-up. Every answer is checked
   against the document model (the status, count, definition or note text it
   must contain, the citation it must carry), the answer guarantees
   (`traite_qa.answer.answer_problems`), and, but for the follow-up, against the
   answer the same question got alone before the phase (concurrency must not
   change an answer).

The repeated questions hit the searcher's query-embedding cache (2,048
entries), so the figures are for the cached path; `make bench` measures the
uncached per-question cost.

`run_load(url, pid, evaluation, source)` returns the figures as a dict, for the
benchmark and `tests/test_load.py`.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import httpx  # noqa: E402

EVAL_DIR = Path(__file__).resolve().parent
WRK_DIR = EVAL_DIR / "wrk"
OUT_DIR = EVAL_DIR / "out"
SEARCH_SCRIPT = WRK_DIR / "search.lua"
ASK_SCRIPT = WRK_DIR / "ask.lua"
DURATION = 30
CONNECTIONS = 20
THREADS = 2
SESSIONS = 50
QUESTIONS = 10
RSS_GROWTH_LIMIT = 0.10
CHAT_P95_TARGET_S = 1.5

# Open questions of the chat phase: checked by the answer guarantees and
# against the answer each got alone (ranking quality is the eval's business).
CHAT_SEARCH_QUESTIONS = [
    "Que recommande la CNCDH sur la formation des magistrats ?",
    "Qu'est-ce que le mécanisme national de référence ?",
    "Que dit l'évaluation sur l'hébergement des victimes ?",
    "Comment sont protégés les mineurs victimes de traite ?",
    "Quelle coopération internationale contre la traite ?",
    "Comment les associations sont-elles financées ?",
    "Quel bilan la CNCDH tire-t-elle du plan ?",
    "What does the CNCDH recommend on training?",
]
COUNT_QUESTIONS = {
    "fr": {"Réalisée": "Combien de mesures sont réalisées ?",
           "Partiellement réalisée": "Combien de mesures sont partiellement réalisées ?",
           "Non réalisée": "Combien de mesures ne sont pas réalisées ?"},
    "en": {"Réalisée": "How many measures are implemented?",
           "Partiellement réalisée": "How many measures are partially implemented?",
           "Non réalisée": "How many measures are not implemented?"},
}


# ------------------------------------------------------------------ server
def start_server(index_dir: Path | None = None, log_dir: Path | None = None):
    """`traite-qa chat --port <free>` in a subprocess (tests/live.py); returns its LiveServer."""
    from tests import live
    from traite_qa.settings import Settings

    index_dir = Path(index_dir) if index_dir else Settings.from_env().index_dir
    return live.start(index_dir, log_dir or OUT_DIR / "logs")


def stop_server(server) -> None:
    from tests import live

    live.stop(server)


def rss_kib(pid: int | None, field: str = "VmRSS") -> int | None:
    """`VmRSS` (or `VmHWM`, the peak) of a process, in KiB."""
    if pid is None:
        return None
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, flags=re.M)
    return int(match.group(1)) if match else None


# -------------------------------------------------------------------- wrk
def lua_questions(script: Path) -> list[str]:
    """The `questions` table of a wrk script (one double-quoted string a line)."""
    text = script.read_text(encoding="utf-8")
    block = text[text.index("local questions = {") : text.index("\n}\n")]
    return [json.loads(f'"{s}"') for s in re.findall(r'^\s*"((?:[^"\\]|\\.)*)",?\s*$', block, flags=re.M)]


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is missing: `apt-get install -y wrk` (Debian's package; `make browser-deps` installs it)")
    return found


def run_wrk(url: str, script: Path, duration: int = DURATION, connections: int = CONNECTIONS, threads: int = THREADS,
            timeout: str = "10s") -> dict:
    """One wrk phase; the figures of the script's `WRK_JSON` line, plus throughput and the error count."""
    command = [wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", timeout, "-s", str(script), url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    raw = json.loads(line[len("WRK_JSON "):])
    seconds = raw["duration_us"] / 1e6
    socket_errors = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
    lat = raw["latency_us"]
    return {
        "endpoint": "GET /api/search" if raw["script"] == "search" else "POST /api/ask",
        "duration_s": round(seconds, 2),
        "connections": connections,
        "threads": threads,
        "questions": raw["questions"],
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(lat["p50"] / 1000, 1),
        "p90_ms": round(lat["p90"] / 1000, 1),
        "p95_ms": round(lat["p95"] / 1000, 1),
        "p99_ms": round(lat["p99"] / 1000, 1),
        "max_ms": round(lat["max"] / 1000, 1),
        "mean_ms": round(lat["mean"] / 1000, 1),
        "non2xx": raw["non2xx"],
        "bad_body": raw["bad_body"],
        "socket_errors": socket_errors,
        "errors": raw["non2xx"] + raw["bad_body"] + socket_errors,
        **({"answered": raw["answered"]} if "answered" in raw else {}),
    }


def warm_up(url: str) -> dict:
    """Every wrk query and question once (sequentially); fails on any non-2xx."""
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=120.0) as client:
        for q in lua_questions(SEARCH_SCRIPT):
            client.get("/api/search", params={"q": q, "k": 5}).raise_for_status()
        for q in lua_questions(ASK_SCRIPT):
            client.post("/api/ask", json={"question": q}).raise_for_status()
    return {"seconds": round(time.monotonic() - started, 1)}


# ------------------------------------------------------------------- chat
@dataclass(frozen=True)
class Step:
    kind: str  # count | status | acronym | footnote | search | follow_up
    question: str
    measure: int | None = None
    status: str | None = None  # count: the French label counted
    acronym: str | None = None
    note: int | None = None


def chat_plan(evaluation, seed: int, n: int = QUESTIONS) -> list[Step]:
    """A session's questions: a mix whose answers the document model states,
    ending with a follow-up on the previous status question."""
    rng = random.Random(seed)
    measures = rng.sample([m.number for m in evaluation.measures], 4)
    labels = rng.sample(list(COUNT_QUESTIONS["fr"]), 2)
    searches = rng.sample(CHAT_SEARCH_QUESTIONS, 2)
    acronym = rng.choice(evaluation.acronyms).acronym
    note = rng.choice(evaluation.footnotes).number
    steps = [
        Step("count", COUNT_QUESTIONS["fr"][labels[0]], status=labels[0]),
        Step("status", f"Où en est la mesure {measures[0]} ?", measure=measures[0]),
        Step("acronym", f"Que signifie {acronym} ?", acronym=acronym),
        Step("search", searches[0]),
        Step("status", f"What is the status of measure {measures[1]}?", measure=measures[1]),
        Step("footnote", f"Que dit la note {note} ?", note=note),
        Step("count", COUNT_QUESTIONS["en"][labels[1]], status=labels[1]),
        Step("search", searches[1]),
        Step("status", f"Quel est le statut de la mesure {measures[2]} ?", measure=measures[2]),
        Step("follow_up", f"Et la mesure {measures[3]} ?", measure=measures[3]),
    ]
    return steps[:n]


def answer_check(step: Step, result, evaluation, source: str, reference: dict | None) -> list[str]:
    """What is wrong with a chat answer (empty: correct)."""
    from traite_qa.answer import answer_problems

    if not isinstance(result, dict) or "status" not in result:
        return [f"not an Answer: {str(result)[:120]}"]
    problems = []
    answer, markers = result.get("answer", ""), {c["marker"] for c in result.get("citations", [])}
    if result["status"] != "answered":
        return [f"status {result['status']}: {answer[:120]!r}"]
    if step.kind in ("status", "follow_up"):
        status = evaluation.measure(step.measure).status
        wanted = status.english if result.get("language") == "en" else status.value
        if result.get("measures") != {str(step.measure): status.value}:
            problems.append(f"measures {result.get('measures')}, the document says {step.measure}: {status.value}")
        if wanted.lower() not in answer.lower():  # statuses are lower case mid-sentence
            problems.append(f"{wanted!r} missing from the answer")
        if f"Mesure {step.measure}" not in markers:
            problems.append(f"no citation of measure {step.measure}")
    elif step.kind == "count":
        label = step.status
        members = [m.number for m in evaluation.measures if m.status.value == label]
        n = len(members)
        if not re.match(rf"{n} (mesures? sur|of the) {len(evaluation.measures)}\b", answer):
            problems.append(f"expected {n} of {len(evaluation.measures)}: {answer[:80]!r}")
        if f"« {label} »" not in answer:
            problems.append(f"the status {label!r} is not named")
        listed = {int(x) for x in re.findall(r"\b(\d+)\b", answer.split(":", 1)[-1])}
        if not set(members) <= listed:
            problems.append(f"measures {sorted(set(members) - listed)} missing from the list")
    elif step.kind == "acronym":
        definition = evaluation.acronym(step.acronym).definition
        if definition not in answer:
            problems.append(f"the definition of {step.acronym} is missing")
        if f"Sigle {step.acronym}" not in markers:
            problems.append(f"no citation of the glossary entry {step.acronym}")
    elif step.kind == "footnote":
        note = evaluation.footnote(step.note)
        if note.text not in answer:
            problems.append(f"the text of note {step.note} is missing")
        if f"Note {step.note}" not in markers:
            problems.append(f"no citation of note {step.note}")
    elif step.kind == "search" and not result.get("citations"):
        problems.append("an open question answered without a citation")
    view = SimpleNamespace(
        answer=answer, status=result["status"], measures=result.get("measures", {}),
        citations=[SimpleNamespace(id=c["id"], marker=c["marker"], quotes=tuple(c["quotes"]),
                                   hit=SimpleNamespace(**{**c, "span": (c["span"]["start"], c["span"]["end"]),
                                                          "measures": tuple(c["measures"])}))
                   for c in result.get("citations", [])],
    )
    problems += answer_problems(view, evaluation, source)
    if reference is not None and result != reference:
        diff = [k for k in reference if reference.get(k) != result.get(k)]
        problems.append(f"differs from the answer given alone (keys {diff})")
    return problems


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))  # nearest rank
    return ordered[min(rank, len(ordered)) - 1]


def run_chat(url: str, evaluation, source: str, sessions: int = SESSIONS, questions: int = QUESTIONS,
             shared_client: bool = False, seed: int = 0, pid: int | None = None) -> dict:
    """`sessions` concurrent gradio_client sessions, each asking `questions` questions; every answer checked."""
    from gradio_client import Client

    plans = [chat_plan(evaluation, seed + i, questions) for i in range(sessions)]
    # The reference: each distinct question (the follow-ups aside) asked alone, before the phase.
    started = time.monotonic()
    distinct = sorted({s.question for plan in plans for s in plan if s.kind != "follow_up"})
    with httpx.Client(base_url=url, timeout=120.0) as client:
        references = {q: client.post("/api/ask", json={"question": q}).raise_for_status().json() for q in distinct}
    reference_seconds = time.monotonic() - started

    started = time.monotonic()
    # ssl_verify=False: gradio_client builds a new httpx client for every
    # call, and with verification on each one loads the CA bundle (~40 ms of
    # CPU, 7x the rest of the call); on plain http://127.0.0.1 there is nothing
    # to verify, and the clients would otherwise eat the cores the server needs.
    if shared_client:
        one = Client(url + "/", verbose=False, ssl_verify=False)
        clients = [one] * sessions
    else:
        with ThreadPoolExecutor(max_workers=min(sessions, 16)) as pool:
            clients = list(pool.map(lambda _: Client(url + "/", verbose=False, ssl_verify=False), range(sessions)))
    clients[0].predict("Où en est la mesure 1 ?", api_name="/ask")  # Gradio's own lazy parts
    clients_seconds = time.monotonic() - started

    latencies: list[float] = []
    problems: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(sessions + 1)

    def session(index: int) -> None:
        client, plan = clients[index], plans[index]
        barrier.wait()
        history: list[dict] = []
        for step in plan:
            t0 = time.perf_counter()
            try:
                result = client.predict(step.question, history or None, api_name="/ask")
            except Exception as err:  # noqa: BLE001 - every failure is counted and reported
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    errors.append(f"session {index}: {step.question!r}: {type(err).__name__}: {str(err)[:160]}")
                history = []
                continue
            elapsed = time.perf_counter() - t0
            try:
                found = answer_check(step, result, evaluation, source, None if step.kind == "follow_up" else references[step.question])
            except Exception as err:  # noqa: BLE001 - a malformed answer is a wrong one
                found = [f"unreadable answer ({type(err).__name__}: {err}): {str(result)[:120]}"]
            with lock:
                latencies.append(elapsed)
                problems.extend(f"session {index}: {step.question!r}: {p}" for p in found)
            answer = result.get("answer", "") if isinstance(result, dict) else ""
            history = [{"role": "user", "content": step.question}, {"role": "assistant", "content": answer}]

    with ThreadPoolExecutor(max_workers=sessions) as pool:
        futures = [pool.submit(session, i) for i in range(sessions)]
        barrier.wait()
        started = time.monotonic()
        server_cpu, own_cpu = cpu_seconds(pid), time.process_time()
        for future in futures:
            future.result(timeout=900)
        wall = time.monotonic() - started
        server_cpu = _cpu_delta(pid, server_cpu)
        own_cpu = round(time.process_time() - own_cpu, 1)
    for client in {id(c): c for c in clients}.values():
        client.close()

    n = len(latencies)
    return {
        "sessions": sessions,
        "questions_per_session": questions,
        "clients": "one shared gradio_client.Client" if shared_client else "one gradio_client.Client per session",
        "answers": n,
        "wall_s": round(wall, 1),
        "answers_per_s": round(n / wall, 1) if wall else 0.0,
        "p50_ms": round(_percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(_percentile(latencies, 95) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1) if latencies else float("nan"),
        "mean_ms": round(sum(latencies) / n * 1000, 1) if n else float("nan"),
        "p95_target_ms": CHAT_P95_TARGET_S * 1000,
        "server_cpu_s": server_cpu,
        "client_cpu_s": own_cpu,  # this process: the gradio clients and the checks
        "errors": len(errors),
        "wrong": len(problems),
        "checked": n - len(errors),
        "reference_questions": len(distinct),
        "reference_s": round(reference_seconds, 1),
        "clients_s": round(clients_seconds, 1),
        "error_list": errors[:50],
        "wrong_list": problems[:50],
    }


# ------------------------------------------------------------------- all
def run_load(url: str, pid: int | None, evaluation, source: str, *, duration: int = DURATION, connections: int = CONNECTIONS,
             threads: int = THREADS, sessions: int = SESSIONS, questions: int = QUESTIONS, shared_client: bool = False,
             wrk: bool = True, chat: bool = True, log=print) -> dict:
    """All the phases against a running server; `pid` is the server's process (for its RSS)."""
    figures: dict = {
        "url": url,
        "cpus": os.cpu_count(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "rss_kib": {"start": rss_kib(pid)},
    }
    started = time.monotonic()
    log("load: warm-up (every wrk query and question once)")
    figures["warm_up"] = warm_up(url)
    figures["rss_kib"]["before"] = rss_kib(pid)
    if wrk:
        log(f"load: wrk GET /api/search, {duration} s, {connections} connections")
        cpu = cpu_seconds(pid)
        figures["search"] = run_wrk(url, SEARCH_SCRIPT, duration, connections, threads)
        figures["search"]["server_cpu_s"] = _cpu_delta(pid, cpu)
        figures["rss_kib"]["after_search"] = rss_kib(pid)
        log(f"load: wrk POST /api/ask, {duration} s, {connections} connections")
        cpu = cpu_seconds(pid)
        figures["ask"] = run_wrk(url, ASK_SCRIPT, duration, connections, threads)
        figures["ask"]["server_cpu_s"] = _cpu_delta(pid, cpu)
        figures["rss_kib"]["after"] = rss_kib(pid)
    if chat:
        log(f"load: chat, {sessions} gradio_client sessions x {questions} questions")
        figures["rss_kib"]["before_chat"] = rss_kib(pid)
        figures["chat"] = run_chat(url, evaluation, source, sessions, questions, shared_client, pid=pid)
        figures["rss_kib"]["after_chat"] = rss_kib(pid)
    figures["rss_kib"]["peak"] = rss_kib(pid, "VmHWM")
    rss = figures["rss_kib"]
    figures["rss_growth"] = _growth(rss.get("before"), rss.get("after"))
    figures["rss_growth_chat"] = _growth(rss.get("before_chat"), rss.get("after_chat"))
    figures["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    figures["seconds"] = round(time.monotonic() - started, 1)
    return figures


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far (/proc/<pid>/stat)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_delta(pid: int | None, before: float | None) -> float | None:
    after = cpu_seconds(pid)
    return round(after - before, 1) if after is not None and before is not None else None


def _growth(before: int | None, after: int | None) -> float | None:
    return round(after / before - 1, 4) if before and after else None


def format_table(figures: dict) -> str:
    rows = [("phase", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors")]
    for key in ("search", "ask"):
        if key in figures:
            f = figures[key]
            rows.append((f"wrk {f['endpoint']} ({f['connections']} conn, {f['duration_s']:.0f} s)", f["requests"], f["rps"],
                         f["p50_ms"], f["p95_ms"], f["p99_ms"], f["max_ms"], f["errors"]))
    if "chat" in figures:
        c = figures["chat"]
        rows.append((f"chat /ask ({c['sessions']} sessions x {c['questions_per_session']})", c["answers"], c["answers_per_s"],
                     c["p50_ms"], c["p95_ms"], c["p99_ms"], c["max_ms"], f"{c['errors']} (+{c['wrong']} wrong)"))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    rss = figures["rss_kib"]

    def mib(v):
        return f"{v / 1024:.0f} MiB" if v else "?"

    growth = figures.get("rss_growth")
    lines.append("")
    lines.append(f"server RSS: {mib(rss.get('before'))} after warm-up -> {mib(rss.get('after'))} after the wrk phases"
                 + (f" ({growth:+.1%}, limit +{RSS_GROWTH_LIMIT:.0%})" if growth is not None else ""))
    if "after_chat" in rss:
        chat_growth = figures.get("rss_growth_chat")
        lines.append(f"            {mib(rss.get('before_chat'))} before the chat -> {mib(rss.get('after_chat'))} after"
                     + (f" ({chat_growth:+.1%})" if chat_growth is not None else "") + f"; peak {mib(rss.get('peak'))}")
    if "chat" in figures:
        c = figures["chat"]
        lines.append(f"chat: {c['clients']}; p95 {c['p95_ms']:.0f} ms (target < {c['p95_target_ms']:.0f} ms); "
                     f"{c['checked']} answers checked against the document model")
    lines.append(f"machine: {figures['cpus']} CPUs, load average {figures['loadavg_start']} at start, {figures['loadavg_end']} at the end")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an already running server (default: start `traite-qa chat` on a free port)")
    parser.add_argument("--pid", type=int, help="that server's process id, for its RSS")
    parser.add_argument("--index-dir", type=Path, help="index of the server to start (default: the settings')")
    parser.add_argument("--duration", type=int, default=DURATION, help="seconds of each wrk phase")
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument("--questions", type=int, default=QUESTIONS)
    parser.add_argument("--shared-client", action="store_true", help="one gradio_client.Client for all sessions")
    parser.add_argument("--no-wrk", action="store_true")
    parser.add_argument("--no-chat", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT_DIR / "load.json")
    args = parser.parse_args(argv)

    from traite_qa.document import parse_file
    from traite_qa.settings import Settings

    settings = Settings.from_env()
    evaluation = parse_file(settings.source)
    source = settings.source.read_text(encoding="utf-8")
    server = None
    if args.url:
        url, pid = args.url.rstrip("/"), args.pid
    else:
        print("load: starting traite-qa chat on a free port ...", flush=True)
        server = start_server(args.index_dir)
        url, pid = server.url, server.process.pid
    try:
        figures = run_load(url, pid, evaluation, source, duration=args.duration, connections=args.connections,
                           threads=args.threads, sessions=args.sessions, questions=args.questions,
                           shared_client=args.shared_client, wrk=not args.no_wrk, chat=not args.no_chat,
                           log=lambda m: print(m, flush=True))
    finally:
        if server is not None:
            stop_server(server)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")
    print()
    print(format_table(figures))
    chat = figures.get("chat", {})
    for line in chat.get("error_list", []) + chat.get("wrong_list", []):
        print("  " + line)
    print(f"\nwritten: {args.out}")
    failed = sum(figures[k]["errors"] for k in ("search", "ask") if k in figures) + chat.get("errors", 0) + chat.get("wrong", 0)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
