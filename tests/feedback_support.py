"""Helpers for the feedback tests: a throwaway PostgreSQL cluster, an
assistant over a fake-embedded index, and that assistant served by a real
uvicorn process (`python tests/feedback_support.py serve …`).

    with PostgresCluster() as pg:            # initdb + pg_ctl on a free port, as user postgres when root
        url = pg.create_database("t1")       # postgresql://tqa@127.0.0.1:PORT/t1
        pg.crash()                           # pg_ctl stop -m immediate (a crash), pg.start() again
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import live

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # `fakes` when run as a script

from fakes import FakeEmbedder, free_port  # noqa: E402

PG_USER = "tqa"
INSTALL_HINT = "install the PostgreSQL server: `apt-get install -y postgresql` (make system-tools does it)"


def pg_bin(name: str) -> str:
    """A PostgreSQL server binary: Debian keeps them in /usr/lib/postgresql/N/bin, off PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[-3]), reverse=True)
    path = found[0] if found else shutil.which(name)
    if not path:
        raise RuntimeError(f"{name} not found: {INSTALL_HINT}")
    return path


class PostgresCluster:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tqa-pg-"))
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            # initdb refuses to run as root: the cluster belongs to `postgres`.
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(pg_bin("initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", PG_USER, "--no-sync", "-E", "UTF8")

    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        if self.as_root:
            cmd = ("runuser", "-u", "postgres", "--", *cmd)
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and result.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{self.log()}")
        return result

    def log(self) -> str:
        try:
            return (self.dir / "log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def start(self) -> "PostgresCluster":
        # fsync off: a throwaway cluster; a crashed server still keeps what the OS has (synchronous_commit stays on).
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off"
        self._run(pg_bin("pg_ctl"), "-D", str(self.dir / "data"), "-o", options, "-l", str(self.dir / "log"), "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(pg_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", mode, "-w", "stop", check=False)

    def crash(self) -> None:
        """What a killed database looks like to its clients: every backend gone at once, no clean shutdown."""
        self.stop("immediate")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={PG_USER} dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "PostgresCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------ fake-index assistant
def build_fake_index(root: Path, settings):
    """An index of the real document, embedded with the fake embedder (~2 s, no model)."""
    from traite_qa.index import build_index

    built = settings.with_(index_dir=root / "build", model_cache=root / "models")
    embedder = FakeEmbedder(fingerprint="fake-for-feedback")
    build_index(built, force=True, embedder=embedder)
    return built, embedder


def fake_assistant(built, embedder, **changes):
    from traite_qa import Assistant

    return Assistant.load(settings=built.with_(**changes), embedder=embedder)


# ------------------------------------------------ the app in its own process
class AppProcess:
    """`create_app(fake assistant)` under uvicorn in a subprocess (no UI)."""

    def __init__(self, index_root: Path, database_url: str, log_path: Path, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        # Fifty sessions rate from one address here: no per-client limit (test_feedback_abuse.py checks it).
        environment = {**os.environ, "TRAITE_QA_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1",
                       "TRAITE_QA_FEEDBACK_BURST": "1000000", "TRAITE_QA_FEEDBACK_RATE_PER_MINUTE": "1000000", **env}
        with open(log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__)), "serve", "--port", str(self.port), "--index-root", str(index_root)],
                env=environment, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the app was not ready in 120 s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        live.terminate(self.process)


def _serve(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--index-root", type=Path, required=True)
    args = parser.parse_args(argv)
    import uvicorn

    from traite_qa import Settings
    from traite_qa_app.server import create_app

    settings = Settings.from_env().with_(index_dir=args.index_root / "build", model_cache=args.index_root / "models")
    embedder = FakeEmbedder(fingerprint="fake-for-feedback")
    app = create_app(fake_assistant(settings, embedder), ui=False)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        _serve(sys.argv[2:])
