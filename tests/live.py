"""A real `traite-qa chat` server in a subprocess, for the test suites (and
`python -m eval.load`). A test helper, not part of the installed package:
it needs httpx, a dev dependency.

Several test modules (HTTP API, browser, concurrency) share one server per
pytest process: `acquire()` starts it the first time and counts users,
`release()` stops it when the last one is done. A module that needs other
settings starts its own with `start(index_dir, log_dir, env={...})`.

    server = acquire(index_dir)
    httpx.get(server.url + "/healthz")
    release(server)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

READY_TIMEOUT = 180.0  # the model loads in ~8 s on an idle machine, more when CI is busy


@dataclass
class LiveServer:
    url: str
    port: int
    process: subprocess.Popen
    log_path: Path
    page_seconds: float = float("nan")  # spawn -> "/" served
    ready_seconds: float = float("nan")  # spawn -> /healthz 200 (model and index loaded)
    users: int = 0
    lines: list[str] = field(default_factory=list)
    gradio_tmp: Path | None = None  # GRADIO_TEMP_DIR of the server

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""


_lock = threading.Lock()
_servers: dict[str, LiveServer] = {}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(index_dir: Path, gradio_tmp: Path | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TRAITE_QA_INDEX_DIR": str(index_dir),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if gradio_tmp is not None:  # where Gradio would write uploads and cached files
        env["GRADIO_TEMP_DIR"] = str(gradio_tmp)
    # Feedback sent while testing goes next to the test's index, not into the user's data dir.
    env.setdefault("TRAITE_QA_DATABASE_URL", f"sqlite:///{Path(index_dir).parent / 'feedback.sqlite3'}")
    # The shared test server takes ratings from many tests, all from 127.0.0.1:
    # no per-client limit there (tests/test_feedback_abuse.py starts its own
    # server with the limits it checks).
    env["TRAITE_QA_FEEDBACK_BURST"] = env["TRAITE_QA_FEEDBACK_RATE_PER_MINUTE"] = "1000000"
    # Likewise the chat's per-client share of the queue: the concurrency tests
    # run 20 sessions from this one address (tests/test_fairness.py checks it).
    env["TRAITE_QA_CLIENT_MAX_EVENTS"] = "1000"
    env.update(extra)
    return env


def start(
    index_dir: Path, log_dir: Path, timeout: float = READY_TIMEOUT, env: dict[str, str] | None = None, until: str = "ready"
) -> LiveServer:
    """Run `python -m traite_qa chat --port N` and wait until it answers:
    `until="ready"` (/healthz 200: model and index loaded) or "page" (/ served).
    `env`: extra environment (TRAITE_QA_* settings)."""
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"server-{port}.log"
    gradio_tmp = log_dir / f"gradio-tmp-{port}"
    log_file = open(log_path, "w", encoding="utf-8")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "traite_qa", "chat", "--port", str(port)],
        env=server_env(Path(index_dir), gradio_tmp, **(env or {})),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log_file.close()
    server = LiveServer(f"http://127.0.0.1:{port}", port, process, log_path, gradio_tmp=gradio_tmp)
    deadline = started + timeout
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log()}")
            try:
                if server.page_seconds != server.page_seconds:  # nan: page not yet served
                    if client.get(server.url + "/").status_code == 200:
                        server.page_seconds = time.monotonic() - started
                        if until == "page":
                            return server
                if client.get(server.url + "/healthz").status_code == 200:
                    server.ready_seconds = time.monotonic() - started
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    stop(server)
    raise RuntimeError(f"the server was not ready within {timeout:.0f} s:\n{server.log()}")


def stop(server: LiveServer) -> None:
    terminate(server.process)


def terminate(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if the process is still there after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def acquire(index_dir: Path, log_dir: Path | None = None) -> LiveServer:
    key = str(Path(index_dir).resolve())
    with _lock:
        server = _servers.get(key)
        if server is None or server.process.poll() is not None:
            server = start(Path(index_dir), log_dir or Path("tests/out"))
            _servers[key] = server
        server.users += 1
        return server


def release(server: LiveServer) -> None:
    with _lock:
        server.users -= 1
        if server.users <= 0:
            stop(server)
            for key, value in list(_servers.items()):
                if value is server:
                    del _servers[key]
