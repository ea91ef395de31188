"""Load with DISTINCT questions (no query-cache hits): micro-batched encodes
against the serialized encoder, in one run.

    python -m eval.load_distinct                      # 50 sessions x 10 questions, three encoders
    python -m eval.load_distinct --sessions 20 --questions 5

Each question is new to the server, so each costs one query encode: the
figures are for the path a person asking something new takes. Three servers
are started in turn on the same index, with the same questions: the old
encoder (`TRAITE_QA_ENCODE_BATCH_MAX=1`: each encode alone, in turn, behind a
lock, split over every core with `TRAITE_QA_ENCODE_THREADS=<cores>`), the same
lock with one thread per encode, and the default micro-batching. In each,
`sessions` clients (one httpx client and thread each, released together) ask their own
`questions` questions through `POST /api/ask`, one after the other. Every
reply must be a valid Answer (status answered or no_evidence, the answer
guarantees of `traite_qa.answer.answer_problems`).

Reported per encoder: answers, wall time, p50 / p95 / p99 latency, answers
per second (= encodes per second: one encode per distinct question) and the
server's CPU seconds. `run_distinct_comparison()` is what `make load`
(eval/load.py) and `make bench` call.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

EVAL_DIR = Path(__file__).resolve().parent
OUT_DIR = EVAL_DIR / "out"
SESSIONS = 50
QUESTIONS = 10
ENCODE_ROUTES = ("search", "measure_question")  # routes answered by retrieval: one query encode each

_SENTENCE_TEMPLATES = ("Que dit l'évaluation sur « {} » ?", "Qu'apprend-on à propos de : {} ?",
                       "What does the report say about \"{}\"?")
_TITLE_TEMPLATES = ("Quelles difficultés la CNCDH relève-t-elle pour : {} ?", "Quels acteurs sont concernés par : {} ?",
                    "What obstacles does the evaluation describe for: {}?")
_DEFINITION_TEMPLATES = ("Quel rôle joue {} dans la lutte contre la traite ?", "What part does {} play against trafficking?")


def distinct_questions(evaluation, source: str, settings, n: int, seed: int = 0) -> list[str]:
    """n distinct questions answered by retrieval, built from the document's
    own sentences, measure titles and glossary definitions (so they are about
    something the document discusses, and each one is new to the server)."""
    from traite_qa.understand import Understander

    understander = Understander(evaluation, settings)
    rng = random.Random(seed)
    candidates: list[str] = []
    for measure in evaluation.measures:
        candidates += [t.format(measure.title) for t in _TITLE_TEMPLATES]
    for acronym in evaluation.acronyms:
        candidates += [t.format(acronym.definition) for t in _DEFINITION_TEMPLATES]
    for sentence in re.split(r"(?<=[.!?])\s+", source):
        words = re.findall(r"[\w'’-]+", sentence)
        if len(words) >= 10:
            start = rng.randrange(0, len(words) - 7)
            phrase = " ".join(words[start : start + rng.randint(5, 8)])
            candidates.append(rng.choice(_SENTENCE_TEMPLATES).format(phrase))
    rng.shuffle(candidates)
    out, seen = [], set()
    for text in candidates:
        if text in seen or len(text) > settings.max_question_chars:
            continue
        try:
            route = understander.read(text).route.value
        except Exception:  # noqa: BLE001 - a refused text is not a question for this phase
            continue
        if route in ENCODE_ROUTES:
            seen.add(text)
            out.append(text)
            if len(out) == n:
                return out
    raise ValueError(f"only {len(out)} distinct retrieval questions could be built (wanted {n})")


def run_distinct(url: str, plans: list[list[str]], evaluation, source: str, pid: int | None = None) -> dict:
    """Every session asks its own questions, all sessions released together."""
    import httpx

    from traite_qa.answer import answer_problems

    from .load import _cpu_delta, _percentile, cpu_seconds

    latencies: list[float] = []
    errors: list[str] = []
    invalid: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(plans) + 1)

    def session(plan: list[str]) -> None:
        with httpx.Client(base_url=url, timeout=300.0) as client:
            barrier.wait()
            for question in plan:
                t0 = time.perf_counter()
                try:
                    reply = client.post("/api/ask", json={"question": question})
                    elapsed = time.perf_counter() - t0
                    reply.raise_for_status()
                    answer = reply.json()
                except Exception as err:  # noqa: BLE001 - counted and reported
                    with lock:
                        latencies.append(time.perf_counter() - t0)
                        errors.append(f"{question!r}: {type(err).__name__}: {str(err)[:160]}")
                    continue
                problems = _answer_problems(answer, evaluation, source, answer_problems)
                with lock:
                    latencies.append(elapsed)
                    invalid.extend(f"{question!r}: {p}" for p in problems)

    with ThreadPoolExecutor(max_workers=len(plans)) as pool:
        futures = [pool.submit(session, plan) for plan in plans]
        barrier.wait()
        started, cpu = time.monotonic(), cpu_seconds(pid)
        for future in futures:
            future.result(timeout=1800)
        wall = time.monotonic() - started
    n = len(latencies)
    return {
        "sessions": len(plans), "questions_per_session": len(plans[0]) if plans else 0, "answers": n,
        "wall_s": round(wall, 2), "answers_per_s": round(n / wall, 2) if wall else 0.0,
        "encodes_per_s": round((n - len(errors)) / wall, 2) if wall else 0.0,
        "p50_ms": round(_percentile(latencies, 50) * 1000, 1), "p95_ms": round(_percentile(latencies, 95) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 1), "max_ms": round(max(latencies, default=0) * 1000, 1),
        "server_cpu_s": _cpu_delta(pid, cpu), "errors": len(errors), "invalid": len(invalid),
        "error_list": errors[:20], "invalid_list": invalid[:20],
    }


def _answer_problems(answer: dict, evaluation, source: str, answer_problems) -> list[str]:
    if answer.get("status") not in ("answered", "no_evidence"):
        return [f"status {answer.get('status')}"]
    view = SimpleNamespace(
        answer=answer["answer"], status=answer["status"], measures=answer.get("measures", {}),
        citations=[SimpleNamespace(id=c["id"], marker=c["marker"], quotes=tuple(c["quotes"]),
                                   hit=SimpleNamespace(**{**c, "span": (c["span"]["start"], c["span"]["end"]),
                                                          "measures": tuple(c["measures"])}))
                   for c in answer.get("citations", [])],
    )
    return answer_problems(view, evaluation, source)


@contextlib.contextmanager
def _env(**values: str):
    """Environment for the server started inside (app/testing.py copies os.environ)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def modes() -> dict[str, dict[str, str]]:
    """The old encoder (one call at a time behind a lock, each split over every
    core), the same lock with one thread per call, and the default
    (micro-batched, the calls of a batch side by side, one thread each)."""
    from traite_qa.index.batching import cores

    return {"serialized": {"TRAITE_QA_ENCODE_BATCH_MAX": "1", "TRAITE_QA_ENCODE_THREADS": str(cores())},
            "serialized, 1 thread": {"TRAITE_QA_ENCODE_BATCH_MAX": "1"},
            "micro-batched": {}}


def run_distinct_comparison(index_dir: Path | None = None, sessions: int = SESSIONS, questions: int = QUESTIONS,
                            log=print, seed: int = 0) -> dict:
    """Both encoders, one server each, the same distinct questions."""
    from traite_qa.document import parse
    from traite_qa.settings import Settings

    from .load import start_server, stop_server

    settings = Settings.from_env()
    source = settings.source.read_text(encoding="utf-8")
    evaluation = parse(source)
    pool = distinct_questions(evaluation, source, settings, sessions * questions, seed)
    plans = [pool[i * questions : (i + 1) * questions] for i in range(sessions)]
    out: dict = {"sessions": sessions, "questions_per_session": questions, "distinct_questions": len(pool),
                 "loadavg_start": [round(x, 2) for x in os.getloadavg()], "modes": {}}
    for mode, env in modes().items():
        log(f"load (distinct questions): {mode} encoder, {sessions} sessions x {questions} questions")
        with _env(**env):
            server = start_server(index_dir)
        try:
            import httpx

            with httpx.Client(base_url=server.url, timeout=120.0) as client:  # lazy parts, outside the set
                for warm in ("Où en est la mesure 16 ?", "hébergement des victimes de la traite"):
                    client.post("/api/ask", json={"question": warm}).raise_for_status()
            out["modes"][mode] = run_distinct(server.url, plans, evaluation, source, server.process.pid)
        finally:
            stop_server(server)
    serial, batched = out["modes"]["serialized"], out["modes"]["micro-batched"]
    out["throughput_ratio"] = round(batched["encodes_per_s"] / serial["encodes_per_s"], 2) if serial["encodes_per_s"] else None
    out["p95_ratio"] = round(batched["p95_ms"] / serial["p95_ms"], 2) if serial["p95_ms"] else None
    out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


def format_comparison(figures: dict) -> str:
    rows = [("encoder", "answers", "wall s", "answers/s = encodes/s", "p50 ms", "p95 ms", "p99 ms", "server CPU s", "errors")]
    for mode, f in figures["modes"].items():
        rows.append((mode, f["answers"], f["wall_s"], f["encodes_per_s"], f["p50_ms"], f["p95_ms"], f["p99_ms"], f["server_cpu_s"],
                     f"{f['errors']} (+{f['invalid']} invalid)"))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.append(f"{figures['sessions']} concurrent sessions x {figures['questions_per_session']} distinct questions (no query-cache hits); "
                 f"micro-batched / serialized: throughput x{figures['throughput_ratio']}, p95 x{figures['p95_ratio']}; "
                 f"load average {figures['loadavg_start']} -> {figures['loadavg_end']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.load_distinct", description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, help="index of the servers (default: the settings')")
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument("--questions", type=int, default=QUESTIONS)
    parser.add_argument("--out", type=Path, default=OUT_DIR / "load-distinct.json")
    args = parser.parse_args(argv)
    figures = run_distinct_comparison(args.index_dir, args.sessions, args.questions, log=lambda m: print(m, flush=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")
    print("\n" + format_comparison(figures))
    for mode, f in figures["modes"].items():
        for line in f["error_list"] + f["invalid_list"]:
            print(f"  {mode}: {line}")
    print(f"\nwritten: {args.out}")
    return 1 if any(f["errors"] or f["invalid"] for f in figures["modes"].values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
