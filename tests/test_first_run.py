"""The first run (issue 22): a fresh index folder, so `traite-qa chat` builds
the index before it can answer. It says so with an estimate when the page is
served, and prints « prêt » only once an answer is possible; the estimate is
within a factor of 3 of the real wait."""

from __future__ import annotations

import sys
import time

import httpx
import pytest

import live
from browser_support import OUT
from traite_qa_app import chat

pytestmark = [pytest.mark.server, pytest.mark.slow]
READY = "prêt : vous pouvez poser vos questions"


def test_a_first_run_says_it_builds_and_is_ready_only_when_it_answers(tmp_path):
    server = live.start(tmp_path / "fresh-index", OUT, until="page", env={
        "TRAITE_QA_DATABASE_URL": f"sqlite:///{tmp_path / 'feedback.sqlite3'}"})
    started = time.monotonic() - server.page_seconds
    try:
        first_answer = None
        # A new connection for each poll: under load, a kept-alive one raced the
        # server's keep-alive close and was reset (not what this test is about).
        with httpx.Client(timeout=30.0, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                said_ready = READY in server.log()
                reply = client.post(server.url + "/api/ask", json={"question": "Où en est la mesure 16 ?"})
                if said_ready:
                    # « prêt » is printed: an answer must be possible now.
                    assert reply.status_code == 200, (reply.status_code, reply.text, server.log())
                    break
                if reply.status_code == 200 and first_answer is None:
                    first_answer = time.monotonic() - started
                time.sleep(0.2)
            else:
                pytest.fail(f"never ready:\n{server.log()}")
        waited = time.monotonic() - started
        log = server.log()
        served = next(line for line in log.splitlines() if "page servie" in line)
        assert "construction de l'index" in served and f"environ {chat.BUILD_ESTIMATE:.0f} s" in served, served
        assert log.index("page servie") < log.index(READY)
        assert log.count(READY) == 1
        print(f"first run: ready after {waited:.1f} s (estimate {chat.BUILD_ESTIMATE:.0f} s)", file=sys.stderr)
        # One constant, said before the build starts. Measured on this machine
        # kind: 8.9 s idle, 32.3 s with the CPU shared by two busy processes
        # and another test worker. A factor of 2 (7.5-30 s for 15 s) failed the
        # loaded run and left 1.2x at the idle end; a factor of 3 (5-45 s)
        # still fails an estimate that says 15 s for a minute's wait.
        assert waited / 3 <= chat.BUILD_ESTIMATE <= waited * 3, f"estimate {chat.BUILD_ESTIMATE} s, real wait {waited:.1f} s"
    finally:
        live.stop(server)


def test_the_chat_loading_estimate_knows_an_index_is_being_built():
    building = chat.loading_html(2.0, building=True)
    assert "construction de l" in building and f'data-estimate="{chat.BUILD_ESTIMATE:.0f}"' in building
    loading = chat.loading_html(2.0)
    assert "construction" not in loading and f'data-estimate="{chat.LOAD_ESTIMATE:.0f}"' in loading
