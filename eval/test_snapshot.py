"""Behaviour unchanged across the pipeline restructuring (issue 11): every eval
question and 100 harmless rewordings give byte-identical answers and search
rankings to the snapshot taken before the move (`eval/snapshot.digest`).

The snapshot was taken with sentence-transformers' fp32 model encoding
passages and questions; the default since moved to bf16 through
index/e5torch.py (issue 15: other floats in every score), so this test asks
an index built with the snapshot's encoder (from the embedding cache: seconds).

Temporary by design: it is deleted by the change that improves answers."""

from __future__ import annotations

import pytest

from eval.snapshot import DIGEST, SNAPSHOT_ENCODERS, collect, digests


@pytest.fixture(scope="module")
def snapshot_assistant(tmp_path_factory):
    from traite_qa.answer import Assistant
    from traite_qa.settings import Settings

    from traite_qa.index.embedder import SentenceTransformerEmbedder

    settings = Settings.from_env().with_(index_dir=tmp_path_factory.mktemp("snapshot") / "build", **SNAPSHOT_ENCODERS)
    embedder = SentenceTransformerEmbedder(settings.model, settings.model_cache, settings.batch_size, "none", direct=False)
    return Assistant.load(settings=settings, embedder=embedder, build=True)


def test_answers_and_rankings_match_the_snapshot(snapshot_assistant):
    expected = dict(line.split("\t") for line in DIGEST.read_text(encoding="utf-8").splitlines())
    got = digests(collect(snapshot_assistant))
    changed = sorted(k for k in expected if got.get(k) != expected[k])
    assert len(got) == len(expected) and not changed, f"{len(changed)} answers changed, e.g. {changed[:10]}"
