"""Shared test helpers: a fake embedder, a fake chat-completions server, an
Answer contract validator and helpers to damage copies of an index.

Nothing here touches the user's index or the session fixture's files: the
index helpers work on copies in a test's tmp_path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from traite_qa.index.embedder import BaseEmbedder

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
CLI = str(VENV_BIN / "traite-qa")


# ---------------------------------------------------------------- embedder
class FakeEmbedder(BaseEmbedder):
    """Deterministic bag-of-hashed-words vectors: no model, no torch, microseconds.

    Texts sharing words get close vectors, so a search over an index built
    with it still ranks something sensible. `fingerprint` and `dimension` can
    be set to impersonate another model (e.g. to load an index built with the
    real one without loading it)."""

    name = "fake"

    def __init__(self, dimension: int = 384, fingerprint: str = "fake-embedder-1", batch_size: int = 16):
        super().__init__(batch_size)
        self._dimension = dimension
        self._fingerprint = fingerprint
        self.calls: list[tuple[bool, int]] = []  # (is_query, number of texts) per encode

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def _encode(self, texts: list[str], is_query: bool, progress: bool) -> np.ndarray:
        self.calls.append((is_query, len(texts)))
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            tokens = re.findall(r"\w+", text.lower()) or [""]
            for token in tokens:
                digest = hashlib.blake2b(token.encode("utf-8", "replace"), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self._dimension] += 1.0 if digest[4] & 1 else -1.0
            out[row, 0] += 1e-3  # never the zero vector
        return out


# ------------------------------------------------------- chat-completions
@dataclass
class Reply:
    """One scripted reply of the fake chat server."""

    content: str | None = "OK"
    status: int = 200
    delay: float = 0.0  # seconds to sleep before answering (a timeout when > llm_timeout)
    pieces: int = 4  # streamed replies are cut into this many chunks
    piece_delay: float = 0.0
    raw_body: bytes | None = None  # sent as is (with `status`) instead of a completion
    # A raw event stream instead of a completion: called once, its chunks are
    # written as they come (it may never end: the server stops when the client
    # hangs up). For endless, huge or malformed streams.
    events: Callable[[], Iterable[bytes]] | None = None


class FakeChatServer:
    """A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions protocol.

        with FakeChatServer(Reply("La mesure 16 … [Mesure 16]")) as server:
            settings = Settings(llm_base_url=server.base_url, llm_model="fake", llm_timeout=1.0)

    `script` is a Reply, a list of Replies served in order (the last one
    repeats), or a callable taking the request's JSON body and returning a
    Reply. Every request body is recorded in `requests`.
    """

    def __init__(self, script: Reply | list[Reply] | Callable[[dict], Reply] | None = None):
        self.requests: list[dict] = []
        self.paths: list[str] = []
        self._script = script if script is not None else Reply()
        self._served = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- configuration -----------------------------------------------------
    def script(self, script) -> None:
        with self._lock:
            self._script, self._served = script, 0
            self.requests.clear()
            self.paths.clear()

    def _next(self, body: dict) -> Reply:
        with self._lock:
            script, index = self._script, self._served
            self._served += 1
        if callable(script):
            return script(body)
        if isinstance(script, list):
            return script[min(index, len(script) - 1)]
        return script

    # -- lifecycle ---------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "FakeChatServer":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_unparsable": raw.decode("utf-8", "replace")}
                with fake._lock:
                    fake.requests.append(body)
                    fake.paths.append(self.path)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                reply = fake._next(body)
                try:
                    if reply.delay:
                        time.sleep(reply.delay)
                    if reply.events is not None:
                        return self._raw_stream(reply.events())
                    if reply.raw_body is not None:
                        return self._send_bytes(reply.status, reply.raw_body, "application/json")
                    if reply.status != 200:
                        return self._send(reply.status, {"error": {"message": "scripted failure", "type": "server_error"}})
                    if body.get("stream"):
                        return self._stream(body, reply)
                    return self._send(200, _completion(body, reply.content))
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    return None

            def _send(self, status: int, payload: dict):
                self._send_bytes(status, json.dumps(payload).encode(), "application/json")

            def _send_bytes(self, status: int, data: bytes, content_type: str):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()

            def _raw_stream(self, chunks):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                for chunk in chunks:
                    self.wfile.write(chunk)
                    self.wfile.flush()

            def _stream(self, body: dict, reply: Reply):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                content = reply.content or ""
                size = max(1, -(-len(content) // max(1, reply.pieces)))
                pieces = [content[i : i + size] for i in range(0, len(content), size)] if content else []
                first = _chunk(body, {"role": "assistant", "content": ""}, None)
                self.wfile.write(b"data: " + json.dumps(first).encode() + b"\n\n")
                for piece in pieces:
                    if reply.piece_delay:
                        time.sleep(reply.piece_delay)
                    self.wfile.write(b"data: " + json.dumps(_chunk(body, {"content": piece}, None)).encode() + b"\n\n")
                    self.wfile.flush()
                self.wfile.write(b"data: " + json.dumps(_chunk(body, {}, "stop")).encode() + b"\n\n")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeChatServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _completion(body: dict, content: str | None) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def sse_chunk(text: str) -> bytes:
    """One chat-completion chunk event carrying `text`, as an event stream writes it."""
    return b"data: " + json.dumps(_chunk({}, {"content": text}, None)).encode() + b"\n\n"


def _chunk(body: dict, delta: dict, finish: str | None) -> dict:
    return {
        "id": "chatcmpl-stream",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------- answer contract
ANSWER_KEYS = {
    "answer_id": str,
    "question": str,
    "status": str,
    "answer": str,
    "citations": list,
    "intent": str,
    "language": str,
    "suggestions": list,
    "notes": list,
    "verified": bool,
    "measures": dict,
}
STATUSES = ("answered", "no_evidence", "invalid_question")
HIT_FIELDS = {
    "id": (str,),
    "kind": (str,),
    "measures": (list,),
    "statuses": (list,),
    "footnote": (int, type(None)),
    "acronym": (str, type(None)),
    "title": (str,),
    "status": (str, type(None)),
    "axis": (int, type(None)),
    "action": (int, type(None)),
    "header": (str,),
    "text": (str,),
    "footnotes": (list,),
    "span": (dict,),
    "score": (float, int),
    "rank": (int,),
    "pinned": (bool,),
    "dense": (float, int),
    "lexical": (float, int),
}
MEASURE_STATUSES = ("Réalisée", "Partiellement réalisée", "Non réalisée")
KINDS = ("measure", "footnote", "acronym", "table", "preamble", "conclusion")


def hit_dict_problems(hit: dict, where: str = "hit", source: str | None = None) -> list[str]:
    problems = []
    if not isinstance(hit, dict):
        return [f"{where} is {type(hit).__name__}, not an object"]
    missing = set(HIT_FIELDS) - set(hit)
    if missing:
        problems.append(f"{where} lacks {sorted(missing)}")
    for key, types in HIT_FIELDS.items():
        if key in hit and (not isinstance(hit[key], types) or (bool not in types and isinstance(hit[key], bool))):
            problems.append(f"{where}.{key} is {type(hit[key]).__name__}: {hit[key]!r:.60}")
    if problems:
        return problems
    if hit["kind"] not in KINDS:
        problems.append(f"{where}.kind {hit['kind']!r}")
    if set(hit["span"]) != {"start", "end"} or not 0 <= hit["span"]["start"] <= hit["span"]["end"]:
        problems.append(f"{where}.span {hit['span']!r}")
    elif source is not None and source[hit["span"]["start"] : hit["span"]["end"]] != hit["text"]:
        problems.append(f"{where}.text is not the source at its span")
    if hit["status"] is not None and hit["status"] not in MEASURE_STATUSES:
        problems.append(f"{where}.status {hit['status']!r}")
    if not all(isinstance(m, int) and not isinstance(m, bool) for m in hit["measures"] + hit["footnotes"]):
        problems.append(f"{where}: measures/footnotes not all integers")
    if hit["rank"] < 1:
        problems.append(f"{where}.rank {hit['rank']}")
    return problems


def answer_dict_problems(data, source: str | None = None) -> list[str]:
    """Check an `Answer.to_dict()` (or a parsed JSON line) against the contract."""
    if not isinstance(data, dict):
        return [f"the answer is {type(data).__name__}, not an object"]
    problems = []
    # A served answer may also carry the server's key over it (the feedback's
    # proof that this server gave it): a string, or null where nothing is served.
    if set(data) - {"answer_key"} != set(ANSWER_KEYS):
        problems.append(f"keys {sorted(data)} != {sorted(ANSWER_KEYS)}")
    if not isinstance(data.get("answer_key", ""), (str, type(None))):
        problems.append("answer_key is neither a string nor null")
    for key, type_ in ANSWER_KEYS.items():
        if key in data and not isinstance(data[key], type_):
            problems.append(f"{key} is {type(data[key]).__name__}, not {type_.__name__}")
    if problems:
        return problems
    if not re.fullmatch(r"ans-[0-9a-f]{20}", data["answer_id"]):
        problems.append(f"answer_id {data['answer_id'][:40]!r} is not 'ans-' and 20 hex digits")
    if data["status"] not in STATUSES:
        problems.append(f"status {data['status']!r} not in {STATUSES}")
    if data["language"] not in ("fr", "en"):
        problems.append(f"language {data['language']!r}")
    if not data["answer"].strip():
        problems.append("empty answer text")
    if not all(isinstance(s, str) for s in data["suggestions"] + data["notes"]):
        problems.append("suggestions/notes not all strings")
    for number, status in data["measures"].items():
        if not (isinstance(number, str) and number.isdigit() and 1 <= int(number) <= 45):
            problems.append(f"measures key {number!r}")
        if status not in MEASURE_STATUSES:
            problems.append(f"measures[{number}] = {status!r}")
    # A refusal may quote the closest passage ("Le document ne donne pas de
    # chiffre pour 2023 ; le passage le plus proche : …"); an invalid question cites nothing.
    if data["status"] == "invalid_question" and data["citations"]:
        problems.append("an invalid_question answer has citations")
    for i, citation in enumerate(data["citations"]):
        where = f"citations[{i}]"
        problems += hit_dict_problems(citation, where, source)
        if not isinstance(citation, dict):
            continue
        if not isinstance(citation.get("marker"), str) or not citation.get("marker"):
            problems.append(f"{where}.marker {citation.get('marker')!r}")
        elif f"[{citation['marker']}]" not in data["answer"]:
            problems.append(f"{where}.marker [{citation['marker']}] not in the answer text")
        quotes = citation.get("quotes")
        if not isinstance(quotes, list) or not all(isinstance(q, str) and q for q in quotes):
            problems.append(f"{where}.quotes {quotes!r:.80}")
        elif isinstance(citation.get("text"), str):
            problems += [f"{where}: quote not in its passage: {q[:50]!r}" for q in quotes if q not in citation["text"]]
    try:  # must serialise as strict UTF-8 JSON (what the CLI and the HTTP API send)
        json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (ValueError, UnicodeEncodeError) as err:
        problems.append(f"not serialisable as UTF-8 JSON: {err}")
    return problems


def search_line_problems(data, source: str | None = None, k: int | None = None) -> list[str]:
    """A line of `traite-qa search` in batch mode: {"query", "hits"} or {"query", "error", "hits": []}."""
    if not isinstance(data, dict):
        return [f"line is {type(data).__name__}"]
    problems = []
    if not isinstance(data.get("query"), str):
        problems.append(f"query {data.get('query')!r:.60}")
    if not isinstance(data.get("hits"), list):
        return problems + [f"hits {data.get('hits')!r:.60}"]
    if "error" in data:
        if set(data) != {"query", "error", "hits"}:
            problems.append(f"error line keys {sorted(data)}")
        if not isinstance(data["error"], str) or not data["error"]:
            problems.append(f"error {data['error']!r}")
        if data["hits"]:
            problems.append("an error line has hits")
    else:
        if set(data) != {"query", "hits"}:
            problems.append(f"line keys {sorted(data)}")
        if k is not None and len(data["hits"]) > k:
            problems.append(f"{len(data['hits'])} hits > k={k}")
        for i, hit in enumerate(data["hits"]):
            problems += hit_dict_problems(hit, f"hits[{i}]", source)
            if isinstance(hit, dict) and hit.get("rank") != i + 1:
                problems.append(f"hits[{i}].rank {hit.get('rank')}")
    return problems


# ------------------------------------------------------------ index copies
def version_dir(index_dir: Path) -> Path:
    """The version folder the `index_dir` symlink points to."""
    return Path(index_dir).resolve()


def copy_index(index_dir: Path, dest: Path) -> Path:
    """Copy the version folder behind `index_dir` to `dest` (a plain folder)."""
    shutil.copytree(version_dir(index_dir), dest)
    return dest


def copy_index_as_link(index_dir: Path, parent: Path, name: str = "build") -> Path:
    """Recreate the real layout under `parent`: `.<name>.versions/<stamp>` + the `<name>` symlink."""
    src = version_dir(index_dir)
    versions = parent / f".{name}.versions"
    versions.mkdir(parents=True)
    shutil.copytree(src, versions / src.name)
    link = parent / name
    os.symlink(os.path.relpath(versions / src.name, parent), link)
    return link


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_manifest(directory: Path) -> dict:
    return json.loads((Path(directory) / "manifest.json").read_text(encoding="utf-8"))


def write_manifest(directory: Path, manifest: dict) -> None:
    (Path(directory) / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")


def refresh_checksums(directory: Path, *names: str) -> None:
    """Record the current sha256 of `names` in the manifest (so only the content check can catch the damage)."""
    manifest = read_manifest(directory)
    for name in names:
        manifest["files"][name] = sha256_file(Path(directory) / name)
    write_manifest(directory, manifest)


# ------------------------------------------------------------- subprocesses
def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAITE_QA_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    env.setdefault("LANG", "C.UTF-8")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cli(*args: str, input: bytes | str | None = None, timeout: float = 900, env: dict | None = None,
            **env_extra: str) -> subprocess.CompletedProcess:
    """Run `traite-qa ARGS` and return the completed process (stdout/stderr as bytes)."""
    data = input.encode("utf-8") if isinstance(input, str) else input
    return subprocess.run(
        [CLI, *args],
        input=data,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=timeout,
        env=env if env is not None else cli_env(**env_extra),
        cwd=REPO,
    )


def clean_stderr(stderr: bytes) -> str:
    """stderr without the progress bars sentence-transformers prints while loading."""
    text = stderr.decode("utf-8", "replace")
    return "\n".join(line for line in re.split(r"[\r\n]", text) if line.strip() and "Loading weights" not in line)
