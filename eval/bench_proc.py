"""`make bench`, the subprocess side: cold starts of the CLI and the app, builds
in a child process, and their peak RSS (see eval/bench.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from .common import EVAL_DIR

ROOT = EVAL_DIR.parent
SEARCH_QUERY = "mécanisme national de référence"
ASK_QUERY = "Où en est la mesure 16 ?"  # structured: answered from the document model
# Retrieval: one query encode (the cold start a person asking something open waits for).
RETRIEVAL_QUERY = "Quels financements pour les associations qui accompagnent les victimes ?"


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


def time_app(settings, question: str = ASK_QUERY, timeout: float = 180, log_path: Path | None = None,
             then: str | None = RETRIEVAL_QUERY) -> dict:
    """Start `traite-qa chat` on a free port; time until `POST /api/ask` answers
    `question` (HTTP 200), then until it answers `then` (a retrieval question:
    the first one that needs the query encoder), both from the spawn."""
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
        if then and result.get("http_status") == 200:
            request = urllib.request.Request(url, data=json.dumps({"question": then}).encode(),
                                             headers={"Content-Type": "application/json"}, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    intent = json.loads(response.read()).get("intent")
                    result.update(first_retrieval_s=time.perf_counter() - started, retrieval_intent=intent)
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError) as err:
                result["error"] = f"the retrieval question failed: {err}"
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
    for name, args in (("search", ["search", SEARCH_QUERY, "--json"]), ("ask", ["ask", ASK_QUERY, "--json"]),
                       ("ask_retrieval", ["ask", RETRIEVAL_QUERY, "--json"])):
        trials = [time_first_line([*cli_command(), *args], child_env(settings)) for _ in range(runs)]
        ok = [t for t in trials if t["first_line_s"] is not None and t["returncode"] == 0]
        out[name] = {"runs": trials, "first_run_s": trials[0]["first_line_s"], "first_line_s_median": float(np.median([t["first_line_s"] for t in ok])) if ok else None,
                     "first_line_s_min": min((t["first_line_s"] for t in ok), default=None),
                     "maxrss_kb": max((t["maxrss_kb"] or 0 for t in ok), default=None) or None,
                     "failed": len(trials) - len(ok)}
    return out


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
