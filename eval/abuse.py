"""Issue 23's abuse figures, printed as JSON (docs/security.md quotes them).

    python -m eval.abuse                   # all three, 5,000 distinct questions
    python -m eval.abuse --questions 500   # quicker

- `flood`: /healthz latency on a real `traite-qa chat` while 20 clients send
  1 MiB bodies of ~349,000 empty lists to /gradio_api/call/ask;
- `sessions`: the server's RSS growth after 200 sessions restored with the
  largest conversation the page sends (chat.RESTORE_MAX_BYTES);
- `questions`: RSS growth of one process after N distinct questions through
  the Python API (`Assistant.ask`), and the Python heap's part of it (tracemalloc).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import live  # noqa: E402
from test_abuse import _conversation, _restore, _restore_fn, empty_lists_body, rss_mib  # noqa: E402


def flood(server, clients: int = 20, samples: int = 20) -> dict:
    body = empty_lists_body()
    stop = threading.Event()

    def send():
        with httpx.Client(base_url=server.url, timeout=60) as client:
            while not stop.is_set():
                try:
                    client.post("/gradio_api/call/ask", content=body, headers={"content-type": "application/json"})
                except httpx.HTTPError:
                    pass

    threads = [threading.Thread(target=send, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    waits = []
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for _ in range(samples):
            started = time.monotonic()
            client.get("/healthz")
            waits.append(time.monotonic() - started)
            time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    waits.sort()
    return {"clients": clients, "body_bytes": len(body), "healthz_p50_s": round(waits[len(waits) // 2], 3),
            "healthz_max_s": round(waits[-1], 3)}


def sessions(server, count: int = 200) -> dict:
    from traite_qa_app.chat import RESTORE_MAX_BYTES

    with httpx.Client(base_url=server.url, timeout=60) as client:
        fn, trigger = _restore_fn(client.get("/config").json())
        payload = _conversation(RESTORE_MAX_BYTES - 2048)
        _restore(client, fn, trigger, payload)
        before = rss_mib(server.process.pid)

        def one(_):
            with httpx.Client(base_url=server.url, timeout=60) as c:
                return _restore(c, fn, trigger, payload)

        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(one, range(count)))
        big = _restore(client, fn, trigger, _conversation(1024 * 1024))
    return {"sessions": count, "payload_bytes": len(payload.encode()), "accepted": statuses.count(200),
            "rss_growth_mb": round(rss_mib(server.process.pid) - before, 1), "status_of_a_1_mb_restore": big}


def rss_parts() -> dict[str, float]:
    """This process's RSS by kind, MB: anonymous (heap) and file-backed (the
    model's mapped weights, paged in as new tokens are met: bounded)."""
    parts = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("RssAnon:", "RssFile:")):
            parts[line.split(":")[0]] = int(line.split()[1]) / 1024
    return parts


def questions(count: int) -> dict:
    from traite_qa import Assistant, Settings

    assistant = Assistant.load(settings=Settings.from_env())
    assistant.warm_up()
    words = sorted({w for c in assistant.searcher.chunks for w in re.findall(r"[a-zà-ÿ]{5,}", c.text.lower())})
    rng = random.Random(23)

    def question(i: int) -> str:  # distinct: the number makes each new to every cache
        return f"Que dit le document sur {' '.join(rng.sample(words, 3))} {i} ?"

    for i in range(50):
        assistant.ask(question(-1 - i))
    before, parts = rss_mib("self"), rss_parts()
    tracemalloc.start()
    started = time.monotonic()
    for i in range(count):
        assistant.ask(question(i))
    heap, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"questions": count, "seconds": round(time.monotonic() - started, 1),
            "rss_growth_mb": round(rss_mib("self") - before, 1), "python_heap_growth_mb": round(heap / 2**20, 1),
            **{f"{k}_growth_mb": round(v - parts[k], 1) for k, v in rss_parts().items()}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=5000)
    parser.add_argument("--skip", nargs="*", default=[], choices=["flood", "sessions", "questions"])
    args = parser.parse_args(argv)
    from traite_qa import Settings

    report = {}
    if not {"flood", "sessions"} <= set(args.skip):
        server = live.start(Settings.from_env().index_dir, ROOT / "tests" / "out")
        try:
            httpx.post(server.url + "/api/ask", json={"question": "formation des magistrats"}, timeout=120)
            if "flood" not in args.skip:
                report["flood"] = flood(server)
            if "sessions" not in args.skip:
                report["sessions"] = sessions(server)
        finally:
            live.stop(server)
    if "questions" not in args.skip:
        report["questions"] = questions(args.questions)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
