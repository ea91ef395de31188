"""The learned parts (traite_qa/data/models): small text and JSON files, in
step with the question bank they were trained on, trained deterministically,
and used by the answers (the sentence ranker picks the quotes, answerability
refuses what the document cannot answer, the topic model cuts the lists)."""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MODELS = resources.files("traite_qa").joinpath("data", "models")


def test_the_models_are_small_text_files_and_never_pickles():
    for name in ("sentence_ranker.txt", "models.json"):
        raw = MODELS.joinpath(name).read_bytes()
        assert len(raw) < 5 * 1024 * 1024, f"{name}: {len(raw)} bytes"
        assert not raw.startswith(b"\x80"), f"{name} is a pickle"
        raw.decode("utf-8")  # text
    meta = json.loads(MODELS.joinpath("models.json").read_text(encoding="utf-8"))
    assert {"ranker", "answerability", "topics", "bank_sha256"} <= set(meta)


def test_the_models_were_trained_on_the_bank_as_it_is():
    """Change the bank, then `make train`: the shipped models name the bank's hash."""
    meta = json.loads(MODELS.joinpath("models.json").read_text(encoding="utf-8"))
    bank = (REPO / "eval" / "bank" / "questions.yaml").read_bytes()
    assert meta["bank_sha256"] == hashlib.sha256(bank).hexdigest(), "models are stale: run `make train`"


def test_the_feature_names_match_the_code():
    from traite_qa.answer.learned import ANSWERABILITY, RANKER_FEATURES
    from traite_qa.answer.topics import TOPIC_FEATURES

    meta = json.loads(MODELS.joinpath("models.json").read_text(encoding="utf-8"))
    assert tuple(meta["ranker"]["features"]) == RANKER_FEATURES
    assert tuple(meta["answerability"]["features"]) == ANSWERABILITY + ("query_vector",)
    assert tuple(meta["topics"]["features"]) == TOPIC_FEATURES


@pytest.mark.slow
@pytest.mark.parametrize("question", ["Combien de centres d'hébergement par région ?", "Quand la Miprof a-t-elle été créée ?",
                                      "Quel budget pour les associations en euros ?", "formation des magistrats", "Et ?"])
def test_the_cached_feature_columns_are_the_per_sentence_formulas(assistant, question):
    """Word overlap goes through an inverted index and the value-kind column is
    cached per kind (speed): both equal the formulas applied to every sentence."""
    from traite_qa.search.expansion import expand
    from traite_qa.text import analyze
    from traite_qa.understand import satisfies

    features = assistant.retrieval.features
    query = assistant.understand(question)
    words = set(analyze(expand(query.core, query.english)))
    weight = sum(features.idf(w) for w in words) or 1.0
    for sets, table in ((features.sentence_words, features._sentence_sets), (features.chunk_words, features._chunk_sets),
                        (features.header_words, features._header_sets)):
        expected = np.array([sum(features.idf(w) for w in words & ws) / weight for ws in sets], np.float32)
        assert np.array_equal(table.shares(words, weight, features.idf), expected)
    for kind in ("money", "count", "date"):
        column = [float(satisfies(kind, [x])) for x in features.texts]
        assert np.array_equal(features.type_ok(kind), np.array(column, np.float32))
        assert features.type_ok(kind) is features.type_ok(kind)


def test_the_word_list_of_the_speller_is_wordfreqs_own():
    """data/models/words.txt is regenerated from wordfreq and compared: no entry is written by hand."""
    from eval.train_words import OUT, words_text

    assert OUT.read_text(encoding="utf-8") == words_text(), "words.txt differs from wordfreq's: `python -m eval.train_words`"


@pytest.mark.slow
def test_training_the_ranker_is_deterministic(assistant):
    """The same questions give the same model, byte for byte (one thread, fixed seed)."""
    import sys

    sys.path.insert(0, str(REPO))
    from eval import bank, train

    questions = [q for q in bank.load("train") if q.answerable and q.gold_sentences][:30]
    items = train.featurize(assistant, questions)
    first = train.train_ranker(items, 20).model_to_string()
    second = train.train_ranker(items, 20).model_to_string()
    assert first == second
    assert any(it.labels.any() for it in items)  # the gold sentences were found among the indexed ones


def test_the_query_adapter_is_a_small_square_numpy_file():
    import io

    import numpy as np

    matrix = np.load(io.BytesIO(MODELS.joinpath("query_adapter.npy").read_bytes()), allow_pickle=False)
    assert matrix.shape == (384, 384) and matrix.dtype == np.float32
    # Trained as I + D with D kept small: far from zero, not the identity either.
    assert 0 < np.abs(matrix - np.eye(384)).max() < 1


@pytest.mark.slow
def test_training_the_query_adapter_is_deterministic(assistant):
    import sys

    import numpy as np

    sys.path.insert(0, str(REPO))
    from eval import adapter, bank, train

    questions = [q for q in bank.load("train") if q.answerable and q.gold_sentences][:40]
    items = train.featurize(assistant, questions)
    vectors = assistant.searcher.data.sentences.vectors
    first, second = (adapter.fit(items, vectors, 0.1) for _ in range(2))
    assert np.array_equal(first, second)
    # It learns: on its own training questions, the adapted cosine finds more gold sentences.
    assert adapter.recall(items, vectors, first, 1) > adapter.recall(items, vectors, None, 1)


@pytest.mark.slow
@pytest.mark.parametrize("question", [
    "Où en est la mesure 16 ?",
    "Quel est le rôle de la Miprof dans la coordination ?",
    "Combien de victimes mineures ont été identifiées en 2020 ?",
])
def test_capitals_and_a_missing_question_mark_leave_the_vector_as_typed(assistant, question):
    import numpy as np

    vector = assistant.searcher.query_vector(assistant.understand(question, None))
    for variant in (question.upper(), question.rstrip(" ?"), question.rstrip(" ?") + "?"):
        again = assistant.searcher.query_vector(assistant.understand(variant, None))
        assert np.array_equal(vector, again), variant


@pytest.mark.slow
@pytest.mark.parametrize("question", ["Résume le document en 5 points", "Quelles sont les principales critiques de la CNCDH ?"])
def test_a_summary_of_the_whole_document_gives_one_line_points(assistant, question):
    answer = assistant.ask(question)
    assert answer.status == "answered"
    points = [line for line in answer.answer.splitlines() if line.startswith("- ")]
    assert len(points) >= 3
    assert not any(re.fullmatch(r"- « *https?://\S+ *» .*", p) for p in points)


@pytest.mark.slow
@pytest.mark.parametrize("question", [
    "Quel est le cours du bitcoin ?",
    "Quelle est la capitale de l'Australie ?",
    "Write a Python function that reverses a string.",
    "Peux-tu me donner une recette de crêpes ?",
])
def test_off_topic_questions_are_refused_plainly(assistant, question):
    answer = assistant.ask(question)
    assert answer.status == "no_evidence", answer.answer[:200]
    assert not answer.citations  # nothing unrelated quoted as "evidence"


@pytest.mark.slow
def test_an_answerable_question_is_answered_by_the_ranked_sentence(assistant):
    answer = assistant.ask("Combien de places compte le centre sécurisé pour mineurs ?")
    assert answer.status == "answered"
    assert any("six places" in q for c in answer.citations for q in c.quotes), answer.answer[:300]


@pytest.mark.slow
def test_a_topic_list_is_cut_by_the_learned_probability_not_padded(assistant):
    from traite_qa.types import Route

    topics = assistant.responders[Route.TOPIC_LIST]
    query = assistant.understand("Quelles mesures parlent des mariages forcés ?")
    p = topics.model.probabilities(topics.features(query))
    # (No whole part of the plan is read here: tests/test_scopes.py has those.)
    assert topics.scope_model.probabilities(topics.scopes.features(query, p, topics.model.threshold, None)).max() \
        < topics.scope_model.threshold
    answer = assistant.ask("Quelles mesures parlent des mariages forcés ?")
    listed = set(answer.measures)
    above = {i + 1 for i in np.flatnonzero(p >= topics.model.threshold)}
    assert listed == (above or {int(np.argmax(p)) + 1})


@pytest.mark.slow
def test_a_topic_lists_line_quotes_a_sentence_on_the_topic_that_names_no_other_measure(assistant):
    # The status cue list quoted « La mesure 20, qui visait à poursuivre la
    # désignation de référents … » under measures 20 and 21: nothing on
    # residence permits, and under 21 it named 20. The learned ranker's first
    # sentence of each measure, among those naming no other, is on the topic.
    answer = assistant.ask("Quelles mesures concernent les titres de séjour des victimes ?")
    lines = {int(m.group(1)): m.group(2) for m in re.finditer(r"^- \*\*Mesure (\d+)\*\*[^«]*«[^»]*»[^«]*« (.+?) » \[", answer.answer, re.M)}
    assert {20, 21} <= set(lines), answer.answer[:600]
    for number, quote in lines.items():
        named = {int(n) for n in re.findall(r"\b[Mm]esures? (\d{1,2})\b", quote)}
        assert named <= {number}, (number, quote)
    assert re.search(r"séjour|Ceseda", lines[20]), lines[20]


def test_the_route_language_follow_up_and_status_models_are_small_json_files_in_step_with_their_runtime():
    from traite_qa.understand.route_model import (FOLLOWUP_FILE, LANGUAGE_FILE, ROUTE_CLASSES, ROUTE_FILE, STATUS_FILE,
                                                  asks_status, bundled)

    for name in (ROUTE_FILE, LANGUAGE_FILE, FOLLOWUP_FILE, STATUS_FILE):
        raw = MODELS.joinpath(name).read_bytes()
        assert len(raw) < 2 * 1024 * 1024 and not raw.startswith(b"\x80"), name
    assert tuple(json.loads(MODELS.joinpath(ROUTE_FILE).read_bytes())["classes"]) == ROUTE_CLASSES
    p = bundled(ROUTE_FILE).probabilities("Quelles mesures concernent les mineurs ?")
    assert p.shape == (3,) and abs(p.sum() - 1) < 1e-9 and p.argmax() == ROUTE_CLASSES.index("topic_list")
    assert bundled(FOLLOWUP_FILE).probabilities("Et pour les mineurs ?")[1] > bundled(FOLLOWUP_FILE).thresholds["followup"]
    assert asks_status("Où en est le guide pour les professionnels ?")
    assert not asks_status("Qui pilote le plan ?")


def test_a_text_model_that_does_not_match_its_classes_is_refused_with_the_fix():
    from traite_qa.understand.route_model import ROUTE_CLASSES, TextClassifier

    meta = json.loads(MODELS.joinpath("route.json").read_text(encoding="utf-8"))
    with pytest.raises(ValueError, match="make train"):
        TextClassifier(meta | {"classes": ["other", "topic_list", "synthesis"]}, ROUTE_CLASSES, "route.json")
    with pytest.raises(ValueError, match="make train"):
        TextClassifier(meta | {"idf": meta["idf"][:-1]}, ROUTE_CLASSES, "route.json")


@pytest.mark.parametrize("question, english", [
    ("Write a Python function that reverses a string.", True),  # the word lists read it as French
    ("What about measure 16?", True),
    ("status of measure 16", True),
    ("La mesure 16 a-t-elle été réalisée ?", False),
    ("Mesure 16 ?", False),
    ("Quelle heure est-il ?", False),
])
def test_the_language_is_learned(question, english):
    from traite_qa.understand import is_english

    assert is_english(question) is english


def test_the_english_lexicon_is_a_small_json_table_of_document_words():
    """Learned from the encoder (eval/train_lexicon.py): English words that are
    not the document's, each with words the document really has."""
    from traite_qa.search.expansion import LEXICON_FILE, lexicon

    raw = MODELS.joinpath(LEXICON_FILE).read_bytes()
    assert len(raw) < 3 * 1024 * 1024 and not raw.startswith(b"\x80")
    meta = json.loads(raw)
    assert 0.8 <= meta["cut"] < 1 and 1 <= meta["top"] <= 3
    source = (REPO / "index" / "source" / "cncdh-evaluation-pna-traite-2019-2021.txt").read_text(encoding="utf-8").lower()
    document_words = set(re.findall(r"[^\W\d_]{3,}", source))
    words = lexicon()
    assert len(words) > 1000
    assert all(re.fullmatch(r"[a-z]{3,}", w) and w not in document_words for w in words)
    assert all(1 <= len(v) <= meta["top"] and set(v) <= document_words for v in words.values())
    # Common words of the users' English, looked up as the document writes them.
    assert "victimes" in words["victims"] and "enfants" in words["children"]


@pytest.mark.parametrize("question, gated", [
    ("Combien de places compte le centre sécurisé pour mineurs ?", True),  # retrieval
    ("Résume les principales critiques de la CNCDH.", True),  # a synthesis
    ("Que dit la mesure 16 sur la formation ?", False),  # its measure is named
    ("Où en est la mesure 16 ?", False),
    ("Combien de mesures sont réalisées ?", False),
    ("Que veut dire OCRTEH ?", False),
])
def test_only_the_questions_the_gate_sees_may_be_refused(assistant, question, gated):
    assert assistant.may_refuse(assistant.understand(question)) == gated


def test_the_refusal_cut_spends_its_budget_on_questions_the_gate_sees():
    """3% of answerable questions may be refused: those answered from the
    document model (a named measure, a count) are never refused, so they do
    not use up the budget, and the cut rises above more near-domain questions."""
    import sys
    from types import SimpleNamespace

    sys.path.insert(0, str(REPO))
    from eval import train

    def item(p, gated, off=0.0):
        q = SimpleNamespace(answerable=True, lang="fr", kind="fact")
        return SimpleNamespace(question=q, gated=gated), [p, 0.0, off]

    # 100 answerable: 60 gated with P(answerable) 0.30 .. 0.89, 40 named (never
    # refused) with low probabilities; the budget is 3 refusals.
    rows = [item(0.30 + i / 100, True) for i in range(60)] + [item(0.01, False, off=0.5) for _ in range(40)]
    items, p = zip(*rows)
    cuts, _ = train.thresholds_for(list(items), np.array(p))
    assert cuts["fr"] == pytest.approx(0.33)  # below it: 0.30, 0.31, 0.32
    refused = [it for it, pi in zip(items, p) if it.gated and pi[0] < cuts["fr"]]
    assert len(refused) == 3
    # Had the named questions counted, 40% would be "refused" at any cut above 0.01.
    flat = [SimpleNamespace(question=it.question, gated=True) for it in items]
    assert train.thresholds_for(flat, np.array(p))[0]["fr"] <= 0.01
