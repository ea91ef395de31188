"""The bounded load test (`eval/load.py`) on a real server: 5 s of wrk on
`GET /api/search` and 5 s on `POST /api/ask` (20 connections each), then 20
concurrent `gradio_client` chat sessions of 5 questions. `make load` runs the
full load for the README's figures (30 s each, 50 sessions of 10 questions):
figures belong in a report, and this test keeps the assertions at a fifth of
the cost (it took 130 s of `make test`).

Asserted: no error in any phase (non-2xx, malformed replies, socket errors,
client exceptions), every chat answer correct against the document model, and
the server's RSS grows by at most 10% across the wrk phases (and across the
chat). Latencies are printed, not asserted: they depend on the machine and its
load (the README quotes `python -m eval.load`). About 35 s.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

import live

# `eval/` is a top-level folder of the checkout, not an installed package.
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from eval import load  # noqa: E402

pytestmark = [pytest.mark.server, pytest.mark.slow]
OUT = Path(__file__).parent / "out"
SECONDS, SESSIONS, QUESTIONS = 5, 20, 5


@pytest.fixture(scope="session")
def live_server(index_settings):  # shared with the other server tests (tests/live.py counts the users)
    server = live.acquire(index_settings.index_dir, OUT)
    yield server
    live.release(server)


@pytest.fixture(scope="module")
def figures(live_server, evaluation, source):
    if shutil.which("wrk") is None:
        pytest.fail("wrk is missing: `make browser-deps` (apt-get install -y wrk)")
    result = load.run_load(live_server.url, live_server.process.pid, evaluation, source, duration=SECONDS,
                           sessions=SESSIONS, questions=QUESTIONS, log=lambda m: print(m, flush=True))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "load.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print("\n" + load.format_table(result))
    return result


@pytest.mark.parametrize("phase", ["search", "ask"])
def test_wrk_phase_has_no_error(figures, phase):
    f = figures[phase]
    assert f["requests"] > 0
    assert f["errors"] == 0, (
        f"{f['endpoint']}: {f['non2xx']} non-2xx, {f['bad_body']} malformed bodies, {f['socket_errors']} socket errors "
        f"out of {f['requests']} requests"
    )


def test_server_memory_does_not_grow(figures):
    rss = figures["rss_kib"]
    assert rss["before"] and rss["after"], rss
    assert figures["rss_growth"] <= load.RSS_GROWTH_LIMIT, (
        f"RSS {rss['before']} KiB after warm-up -> {rss['after']} KiB after the wrk phases ({figures['rss_growth']:+.1%})"
    )
    assert figures["rss_growth_chat"] <= load.RSS_GROWTH_LIMIT, (
        f"RSS {rss['before_chat']} KiB before the chat -> {rss['after_chat']} KiB after ({figures['rss_growth_chat']:+.1%})"
    )


def test_chat_sessions_have_no_error_and_correct_answers(figures):
    chat = figures["chat"]
    assert chat["errors"] == 0, "\n".join(chat["error_list"])
    assert chat["wrong"] == 0, "\n".join(chat["wrong_list"])
    assert chat["checked"] == chat["answers"] == chat["sessions"] * chat["questions_per_session"] == SESSIONS * QUESTIONS
