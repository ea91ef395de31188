"""Several processes on one index: it is read-only once built, builds are
serialized (a file lock) and a process that waited for another's build uses
it instead of building again, and a process loading while another rebuilds
never sees a mix of two versions or a vanished folder.

The library tests run in subprocesses with the fake embedder (no model);
the server test starts real `traite-qa chat` processes (marked `server`)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fakes import REPO, cli_env, free_port

TESTS = Path(__file__).resolve().parent

# Each subprocess: build-or-load the index at argv[1] (waiting until argv[2],
# a wall-clock time, so they all start together), search, report.
LOAD_OR_BUILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[3])
from fakes import FakeEmbedder
from traite_qa.settings import Settings
from traite_qa.search import Searcher
settings = Settings.from_env(index_dir=sys.argv[1], model_cache=sys.argv[1] + "-models")
embedder = FakeEmbedder(fingerprint="fake-processes")
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
searcher = Searcher.load(settings=settings, embedder=embedder, build=True)
print(json.dumps({"built": any(not is_query for is_query, _ in embedder.calls),
                  "top": [h.id for h in searcher.search("mécanisme national de référence", k=3)],
                  "version": str(searcher.data.directory)}))
"""

REBUILD_LOOP = r"""
import sys, time
sys.path.insert(0, sys.argv[3])
from fakes import FakeEmbedder
from traite_qa.settings import Settings
from traite_qa.index import build_index
settings = Settings.from_env(index_dir=sys.argv[1], model_cache=sys.argv[1] + "-models")
embedder = FakeEmbedder(fingerprint="fake-processes")
for _ in range(int(sys.argv[2])):
    build_index(settings, force=True, embedder=embedder)
print("rebuilt")
"""

LOAD_LOOP = r"""
import json, sys, time
sys.path.insert(0, sys.argv[3])
from fakes import FakeEmbedder
from traite_qa.settings import Settings
from traite_qa.index import load_index
settings = Settings.from_env(index_dir=sys.argv[1], model_cache=sys.argv[1] + "-models")
embedder = FakeEmbedder(fingerprint="fake-processes")
loads, failures, versions = 0, [], set()
deadline = time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        data = load_index(settings, embedder)
        versions.add(str(data.directory))
        loads += 1
    except Exception as err:
        failures.append(f"{type(err).__name__}: {err}")
print(json.dumps({"loads": loads, "failures": failures[:5], "versions": len(versions)}))
"""


def _spawn(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *args, str(TESTS)], env=cli_env(), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen, timeout: float = 300) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out.strip().splitlines()[-1]


def test_processes_starting_on_a_missing_index_build_it_once(tmp_path):
    index_dir = tmp_path / "build"
    start = time.time() + 3.0  # after every interpreter has imported the package
    procs = [_spawn(LOAD_OR_BUILD, str(index_dir), str(start)) for _ in range(3)]
    results = [json.loads(_result(p)) for p in procs]
    assert sum(r["built"] for r in results) == 1, f"the index was built more than once: {results}"
    assert len({tuple(r["top"]) for r in results}) == 1 and results[0]["top"], results
    assert len({r["version"] for r in results}) == 1, results
    versions = [p for p in (tmp_path / ".build.versions").iterdir() if p.name != ".lock"]
    assert len(versions) == 1, versions


def test_loading_while_another_process_rebuilds_never_fails(tmp_path):
    index_dir = tmp_path / "build"
    first = _spawn(LOAD_OR_BUILD, str(index_dir), "0")
    _result(first)
    loader = _spawn(LOAD_LOOP, str(index_dir), "12")
    builder = _spawn(REBUILD_LOOP, str(index_dir), "8")
    assert _result(builder) == "rebuilt"
    report = json.loads(_result(loader))
    assert report["failures"] == [], report
    assert report["loads"] >= 5, report
    assert report["versions"] >= 2, f"no load happened across a rebuild, the test proved nothing: {report}"


# --------------------------------------------------------------- servers
def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"server exited with {proc.returncode}"
        try:
            if httpx.get(url + "/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready within {timeout} s")


def _ask_when_loaded(url: str, question: str, timeout: float = 120) -> httpx.Response:
    return _when_loaded(lambda: httpx.post(url + "/api/ask", json={"question": question}, timeout=60), timeout)


def _when_loaded(request, timeout: float = 120) -> httpx.Response:
    """The reply once the server (or the worker the connection landed on) no
    longer says 503 index_loading: what the error tells a client to do."""
    deadline = time.monotonic() + timeout
    while True:
        reply = request()
        loading = reply.status_code == 503 and reply.json().get("error", {}).get("code") == "index_loading"
        if not loading or time.monotonic() > deadline:
            return reply
        time.sleep(0.2)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.mark.server
@pytest.mark.slow
def test_two_chat_processes_on_one_missing_index(tmp_path, index_settings):
    """Two `traite-qa chat` started together on an index that does not exist
    yet: one builds, the other waits for it; both then answer alike."""
    env = cli_env(TRAITE_QA_INDEX_DIR=str(tmp_path / "build"), TRAITE_QA_MODEL_CACHE=str(index_settings.model_cache))
    ports = [free_port(), free_port()]
    logs = [open(tmp_path / f"server-{p}.log", "w") for p in ports]
    procs = [subprocess.Popen([sys.executable, "-m", "traite_qa", "chat", "--port", str(p)], env=env, cwd=REPO,
                              stdout=log, stderr=subprocess.STDOUT) for p, log in zip(ports, logs)]
    try:
        for port, proc in zip(ports, procs):
            _wait_ready(f"http://127.0.0.1:{port}", proc)
        answers = []
        for port in ports:
            for question in ("Où en est la mesure 16 ?", "Quels financements pour les associations ?"):
                reply = _ask_when_loaded(f"http://127.0.0.1:{port}", question)
                assert reply.status_code == 200, reply.text
                answers.append({k: reply.json()[k] for k in ("answer_id", "status", "answer")})
        assert answers[:2] == answers[2:], answers
        versions = [p for p in (tmp_path / ".build.versions").iterdir() if p.name != ".lock"]
        assert len(versions) == 1, versions
    finally:
        for proc in procs:
            _stop(proc)
        for log in logs:
            log.close()


@pytest.mark.server
@pytest.mark.slow
def test_uvicorn_workers_share_one_built_index(tmp_path, index_settings):
    """`uvicorn --workers 2 --factory traite_qa_app.server:create_app` on an index
    built beforehand: every worker loads it read-only and the API answers."""
    port = free_port()
    env = cli_env(TRAITE_QA_INDEX_DIR=str(index_settings.index_dir), TRAITE_QA_MODEL_CACHE=str(index_settings.model_cache))
    log = open(tmp_path / "uvicorn.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "traite_qa_app.server:create_app", "--workers", "2",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc)
        with httpx.Client(base_url=url, timeout=60) as client:
            # New connections spread over the workers; each must answer, whichever
            # it is (a worker still loading says 503 index_loading: retry, as told).
            replies = [_ask_when_loaded(url, f"Où en est la mesure {n} ?") for n in range(1, 21)]
            assert all(r.status_code == 200 and r.json()["status"] == "answered" for r in replies), [r.text[:200] for r in replies]
            search = _when_loaded(lambda: client.get("/api/search", params={"q": "mécanisme national de référence", "k": 1}))
            assert search.status_code == 200, search.text
            assert search.json()["hits"][0]["measures"] == [16]
    finally:
        _stop(proc)
        log.close()
    assert (tmp_path / "uvicorn.log").read_text().count("Traceback") == 0, (tmp_path / "uvicorn.log").read_text()[-3000:]


def test_a_build_that_finds_the_index_built_meanwhile_does_not_build_it_again(tmp_path):
    # The race behind a slower CPU's failure of the test above: a server's load
    # found no index, another server built it and released the lock, then this
    # one took the free lock and built a second version.
    from fakes import FakeEmbedder

    from traite_qa.index import build_index
    from traite_qa.settings import Settings

    settings = Settings.from_env(index_dir=str(tmp_path / "build"), model_cache=str(tmp_path / "build-models"))
    embedder = FakeEmbedder(fingerprint="fake-meanwhile")
    assert not build_index(settings, force=True, embedder=embedder)["skipped"]
    report = build_index(settings, force=True, embedder=embedder, unless_built_meanwhile=True)
    assert report["skipped"] and report["reason"] == "built by another process", report
    versions = [p for p in (tmp_path / ".build.versions").iterdir() if p.name != ".lock"]
    assert len(versions) == 1, versions
    # Asked to rebuild (`traite-qa build --force`), it still does.
    assert not build_index(settings, force=True, embedder=embedder)["skipped"]
