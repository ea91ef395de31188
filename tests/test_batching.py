"""Micro-batching of query encodes (index/batching.py): concurrent questions
share encode calls, each caller gets its own vectors, errors reach every
caller, and a lone question is not held back."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from traite_qa.index.batching import MicroBatcher
from traite_qa.settings import Settings

from fakes import FakeEmbedder


class SlowEncoder:
    """Rows derived from the text (so a mix-up shows), `delay` seconds per call."""

    def __init__(self, delay: float = 0.02, fail_on: str | None = None):
        self.delay = delay
        self.fail_on = fail_on
        self.batches: list[list[str]] = []
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            self.batches.append(list(texts))
        time.sleep(self.delay)
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError(f"cannot encode {self.fail_on!r}")
        return np.array([[len(t), sum(map(ord, t)) % 997, 1.0] for t in texts], dtype=np.float32)


def expected(text: str) -> np.ndarray:
    return np.array([len(text), sum(map(ord, text)) % 997, 1.0], dtype=np.float32)


def run_concurrently(fn, args: list, threads: int | None = None) -> list:
    results: list = [None] * len(args)
    barrier = threading.Barrier(len(args))

    def work(i):
        barrier.wait()
        try:
            results[i] = fn(args[i])
        except Exception as err:  # noqa: BLE001 - the test inspects it
            results[i] = err

    workers = [threading.Thread(target=work, args=(i,)) for i in range(len(args))]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    return results


def test_concurrent_questions_share_calls_and_get_their_own_vectors():
    encoder = SlowEncoder(delay=0.03)
    batcher = MicroBatcher(encoder, max_batch=64, wait_s=0.005)
    texts = [f"question numéro {i} sur la traite" for i in range(40)]
    results = run_concurrently(lambda t: batcher([t]), texts)
    for text, vectors in zip(texts, results):
        assert isinstance(vectors, np.ndarray), vectors
        np.testing.assert_array_equal(vectors, expected(text)[None, :])
    # 40 callers released together: a handful of calls, not 40 (the first
    # call takes whoever arrived; the rest queue during it and go together).
    assert len(encoder.batches) < 10, [len(b) for b in encoder.batches]
    assert sum(len(b) for b in encoder.batches) == 40
    assert batcher.stats()["requests"] == 40 and batcher.stats()["calls"] == len(encoder.batches)


def test_max_batch_is_respected():
    encoder = SlowEncoder(delay=0.02)
    batcher = MicroBatcher(encoder, max_batch=4, wait_s=0.01)
    run_concurrently(lambda t: batcher([t]), [f"q{i}" for i in range(20)])
    assert max(len(b) for b in encoder.batches) <= 4
    assert sorted(t for b in encoder.batches for t in b) == sorted(f"q{i}" for i in range(20))


def test_a_lone_question_is_not_held_back():
    """Idle server: no wait for company (the window only applies when the previous batch had some)."""
    encoder = SlowEncoder(delay=0.0)
    batcher = MicroBatcher(encoder, max_batch=32, wait_s=0.5)
    batcher(["warm"])  # starts the worker
    started = time.perf_counter()
    for i in range(5):
        batcher([f"seul {i}"])
    assert time.perf_counter() - started < 0.5, "a lone question waited for the batching window"


def test_identical_questions_in_one_batch_are_encoded_once():
    encoder = SlowEncoder(delay=0.05)
    batcher = MicroBatcher(encoder, max_batch=32, wait_s=0.01)
    batcher(["first"])
    results = run_concurrently(lambda t: batcher([t]), ["même question"] * 10)
    assert all(np.array_equal(r, expected("même question")[None, :]) for r in results)
    assert sum(b.count("même question") for b in encoder.batches) < 10


def test_multi_text_requests_keep_their_order():
    encoder = SlowEncoder(delay=0.01)
    batcher = MicroBatcher(encoder, max_batch=32)
    requests = [[f"a{i}", f"b{i}", f"a{i}"] for i in range(8)]
    results = run_concurrently(batcher, requests)
    for texts, vectors in zip(requests, results):
        np.testing.assert_array_equal(vectors, np.stack([expected(t) for t in texts]))


def test_an_encoder_error_reaches_every_caller_of_its_batch_and_the_worker_survives():
    encoder = SlowEncoder(delay=0.05, fail_on="poison")
    batcher = MicroBatcher(encoder, max_batch=32, wait_s=0.02)
    batcher(["warm"])
    results = run_concurrently(lambda t: batcher([t]), ["poison", *(f"ok {i}" for i in range(7))])
    failed = [r for r in results if isinstance(r, RuntimeError)]
    assert failed and all("poison" in str(r) for r in failed)
    assert isinstance(results[0], RuntimeError)
    np.testing.assert_array_equal(batcher(["after"]), expected("after")[None, :])  # still serving


def test_bad_arguments():
    with pytest.raises(ValueError):
        MicroBatcher(SlowEncoder(), max_batch=0)
    with pytest.raises(ValueError):
        MicroBatcher(SlowEncoder(), wait_s=-1)
    with pytest.raises(ValueError):
        MicroBatcher(SlowEncoder())([])


def test_embedder_batches_queries_and_matches_serial_vectors():
    """Through BaseEmbedder: the same normalised vectors as one-at-a-time encodes, in fewer calls."""
    texts = [f"Que dit l'évaluation sur le sujet {i} ?" for i in range(30)]
    serial = FakeEmbedder()
    serial._batcher = None  # the query_batch_max=1 path: one encode per call, under the lock
    reference = {t: serial.embed_queries([t])[0] for t in texts}
    assert len(serial.calls) == 30

    class SlowFake(FakeEmbedder):
        def _encode(self, texts, is_query, progress):
            time.sleep(0.02)
            return super()._encode(texts, is_query, progress)

    batched = SlowFake()
    results = run_concurrently(lambda t: batched.embed_queries([t])[0], texts)
    for text, vector in zip(texts, results):
        np.testing.assert_allclose(vector, reference[text], rtol=1e-6)
    assert len(batched.calls) < 30
    assert batched.stats()["batching"] is True and batched.stats()["requests"] == 30


def test_serialized_mode_from_settings():
    """TRAITE_QA_ENCODE_BATCH_MAX=1 turns batching off (the comparison run of `make load`)."""
    from traite_qa.index.embedder import make_embedder

    settings = Settings.from_env(env={"TRAITE_QA_ENCODE_BATCH_MAX": "1"})
    assert make_embedder(settings).stats() == {"batching": False}
    assert make_embedder(Settings.from_env(env={})).stats()["batching"] is True
