"""`TRAITE_QA_VECTOR_STORE=qdrant`: the client's local mode (no server) with the
same explicit id map as FAISS, the same top 5 on every eval question, and
domain errors for a damaged file, a missing client or an unreachable server."""

from __future__ import annotations

import importlib.util
import socket

import numpy as np
import pytest

from traite_qa.errors import CorruptIndexError, VectorStoreError
from traite_qa.index import build_index, load_index
from traite_qa.index.qdrant import QdrantStore
from traite_qa.index.store import vector_id
from traite_qa.search import Searcher

from fakes import FakeEmbedder, copy_index, refresh_checksums

pytestmark = pytest.mark.skipif(importlib.util.find_spec("qdrant_client") is None,
                                reason="qdrant-client is not installed: pip install 'traite-qa[qdrant]'")

QUERIES = ["mécanisme national de référence", "hébergement des victimes", "formation des magistrats", "OCRTEH",
           "mesure 16", "note 47", "financement des associations", "mineurs non accompagnés", "traite", "coopération"]


# ------------------------------------------------- fast: a fake-embedded index
@pytest.fixture(scope="module")
def fake_pair(tmp_path_factory, settings):
    """The same fake-embedded chunks in FAISS and in Qdrant."""
    root = tmp_path_factory.mktemp("qdrant-fake")
    embedder = FakeEmbedder(fingerprint="fake-for-qdrant")
    common = settings.with_(model_cache=root / "models")
    faiss_settings = common.with_(index_dir=root / "faiss" / "build")
    qdrant_settings = common.with_(index_dir=root / "qdrant" / "build", vector_store="qdrant")
    build_index(faiss_settings, force=True, embedder=embedder)
    build_index(qdrant_settings, force=True, embedder=embedder)
    return faiss_settings, qdrant_settings, embedder


def test_qdrant_index_keeps_the_explicit_id_map(fake_pair):
    _, qdrant_settings, embedder = fake_pair
    data = load_index(qdrant_settings, embedder)
    assert isinstance(data.store, QdrantStore) and not data.store.remote
    assert data.manifest["store"] == "qdrant" and "vectors.npz" in data.manifest["files"]
    assert not (qdrant_settings.index_dir / "vectors.faiss").exists()
    assert {vector_id(c.id) for c in data.chunks} == set(data.store.ids().tolist()) == set(data.row_of_vector)
    assert data.store.collection.startswith("traite-qa-") and data.manifest["files"]["vectors.npz"][:12] in data.store.collection


def test_qdrant_ranks_like_faiss_on_fake_vectors(fake_pair):
    faiss_settings, qdrant_settings, embedder = fake_pair
    faiss = Searcher.load(settings=faiss_settings, embedder=embedder)
    qdrant = Searcher.load(settings=qdrant_settings, embedder=embedder)
    for query in QUERIES:
        a, b = faiss.search(query, k=10), qdrant.search(query, k=10)
        assert [h.id for h in a] == [h.id for h in b], query
        np.testing.assert_allclose([h.dense for h in a], [h.dense for h in b], atol=1e-5)


def test_qdrant_store_searches_raw_vectors_like_an_inner_product():
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(50, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.array([vector_id(f"chunk-{i}") for i in range(50)], dtype=np.int64)
    store = QdrantStore.create(16)
    store.add(ids, vectors)
    store._connect(None, "0" * 64)
    scores, found = store.search(vectors[:3], k=5)
    for row in range(3):
        expected = np.argsort(-(vectors @ vectors[row]))[:5]
        assert found[row].tolist() == ids[expected].tolist()
        np.testing.assert_allclose(scores[row], (vectors @ vectors[row])[expected], atol=1e-5)
    scores, found = store.search(vectors[:1], k=80)  # more than stored: all of them
    assert found.shape == (1, 50) and set(found[0].tolist()) == set(ids.tolist())


def test_damaged_qdrant_vectors_are_a_corrupt_index(fake_pair, tmp_path):
    _, qdrant_settings, embedder = fake_pair
    index = copy_index(qdrant_settings.index_dir, tmp_path / "build")
    (index / "vectors.npz").write_bytes(b"not a zip file")
    refresh_checksums(index, "vectors.npz")  # damage behind a matching checksum
    with pytest.raises(CorruptIndexError, match=r"vectors\.npz is unreadable.*traite-qa build --force"):
        load_index(qdrant_settings.with_(index_dir=index), embedder)


def test_missing_client_names_the_extra(fake_pair, monkeypatch):
    _, qdrant_settings, embedder = fake_pair
    monkeypatch.setitem(__import__("sys").modules, "qdrant_client", None)  # import fails as if not installed
    with pytest.raises(VectorStoreError, match=r"traite-qa\[qdrant\]"):
        load_index(qdrant_settings, embedder)


def test_unreachable_server_names_the_url_setting(fake_pair):
    _, qdrant_settings, embedder = fake_pair
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(VectorStoreError, match="TRAITE_QA_QDRANT_URL"):
        load_index(qdrant_settings.with_(qdrant_url=f"http://127.0.0.1:{port}"), embedder)


# ----------------------------------------- slow: the real model, every question
@pytest.mark.slow
def test_same_top5_as_faiss_on_every_eval_question(index_settings, searcher, tmp_path_factory):
    from eval.common import load_questions

    qdrant_settings = index_settings.with_(index_dir=tmp_path_factory.mktemp("qdrant") / "build", vector_store="qdrant")
    report = build_index(qdrant_settings, force=True, embedder=searcher.embedder)
    assert report["embedded"] == 0  # the same vectors, from the embedding cache
    qdrant = Searcher.load(settings=qdrant_settings, embedder=searcher.embedder)
    assert isinstance(qdrant.data.store, QdrantStore)
    differ, compared = [], 0
    for question in load_questions():
        try:
            a = [h.id for h in searcher.search(question.retrieval_query, k=5)]
        except Exception:  # noqa: BLE001 - refused questions (blank, "mesure 99") are refused by both
            with pytest.raises(Exception):
                qdrant.search(question.retrieval_query, k=5)
            continue
        b = [h.id for h in qdrant.search(question.retrieval_query, k=5)]
        compared += 1
        if a != b:
            differ.append((question.id, a, b))
    assert compared > 200
    assert not differ, f"{len(differ)} of {compared} questions rank differently: {differ[:5]}"


def test_qdrant_settings_are_checked():
    from traite_qa.errors import ConfigError
    from traite_qa.settings import Settings

    with pytest.raises(ConfigError, match="TRAITE_QA_QDRANT_COLLECTION"):
        Settings.from_env(env={"TRAITE_QA_VECTOR_STORE": "qdrant", "TRAITE_QA_QDRANT_COLLECTION": "bad name/../x"})
    with pytest.raises(ConfigError, match="TRAITE_QA_VECTOR_STORE"):
        Settings.from_env(env={"TRAITE_QA_VECTOR_STORE": "milvus"})
    settings = Settings.from_env(env={"TRAITE_QA_VECTOR_STORE": "qdrant", "TRAITE_QA_QDRANT_URL": "http://qdrant:6333"})
    assert settings.vector_store == "qdrant" and settings.qdrant_url == "http://qdrant:6333"
