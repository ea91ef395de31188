"""Micro-batching of query encodes: questions from concurrent requests that
arrive within a few milliseconds are encoded in one call.

One call for n short questions costs far less than n calls (the model's
matrices are read once per layer for the whole batch, and both cores work
on it), so under concurrency the encoder's throughput grows with the load
instead of queuing every request behind one lock. A lone question is encoded
at once: the batcher only waits for company when the previous batch had some
(a busy server), so a single user never pays the window.

    batcher = MicroBatcher(encode, max_batch=32, wait_s=0.002)
    vectors = batcher(["Où en est la mesure 16 ?"])      # (1, dim), from any thread
"""

from __future__ import annotations

import os
import queue
import threading
import time
from concurrent.futures import Future
from typing import Callable

import numpy as np


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


class MicroBatcher:
    """Runs `encode(texts) -> (n, dim) array` on one worker thread, batching
    what concurrent callers submit. Thread-safe; the worker starts lazily
    (and again in a forked child, where threads do not survive)."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], max_batch: int = 32, wait_s: float = 0.002):
        if max_batch < 1 or wait_s < 0:
            raise ValueError(f"max_batch={max_batch} must be >= 1 and wait_s={wait_s} >= 0")
        self._encode = encode
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._queue: queue.SimpleQueue[tuple[list[str], Future]] = queue.SimpleQueue()
        self._start_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._pid = os.getpid()
        self._busy = False  # the previous batch had company: wait for more next time
        # Figures for benchmarks and /healthz-style reports.
        self.calls = 0  # encode calls made
        self.texts = 0  # texts encoded (after de-duplication within a batch)
        self.requests = 0  # caller requests served

    def __call__(self, texts: list[str]) -> np.ndarray:
        if not texts:
            raise ValueError("nothing to encode")
        future: Future = Future()
        self._ensure_worker()
        self._queue.put((list(texts), future))
        return future.result()

    def stats(self) -> dict:
        return {"calls": self.calls, "texts": self.texts, "requests": self.requests,
                "mean_batch": round(self.texts / self.calls, 2) if self.calls else None}

    # ------------------------------------------------------------ worker
    def _ensure_worker(self) -> None:
        if self._worker is not None and self._worker.is_alive() and self._pid == os.getpid():
            return
        with self._start_lock:
            if self._worker is None or not self._worker.is_alive() or self._pid != os.getpid():
                if self._pid != os.getpid():  # forked: the parent's queue may hold its requests
                    self._queue, self._pid = queue.SimpleQueue(), os.getpid()
                self._worker = threading.Thread(target=self._run, name="traite-qa-encode", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            self._gather(batch)
            self._serve(batch)

    def _gather(self, batch: list) -> None:
        """Take what is already queued; wait up to `wait_s` for more only when busy."""
        size = len(batch[0][0])
        deadline = time.monotonic() + self.wait_s if self._busy else 0.0
        while size < self.max_batch:
            try:
                remaining = deadline - time.monotonic()
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            batch.append(item)
            size += len(item[0])
        self._busy = len(batch) > 1

    def _serve(self, batch: list) -> None:
        live = [(texts, f) for texts, f in batch if f.set_running_or_notify_cancel()]
        unique = list(dict.fromkeys(t for texts, _ in live for t in texts))
        try:
            vectors = np.asarray(self._encode(unique), dtype=np.float32)
            if vectors.shape[0] != len(unique):
                raise ValueError(f"the encoder returned {vectors.shape[0]} vectors for {len(unique)} texts")
        except BaseException as err:  # noqa: BLE001 - every caller gets the encoder's error, the worker lives on
            for _, future in live:
                future.set_exception(err)
            return
        self.calls += 1
        self.texts += len(unique)
        self.requests += len(live)
        row = {t: i for i, t in enumerate(unique)}
        for texts, future in live:
            future.set_result(vectors[[row[t] for t in texts]])
