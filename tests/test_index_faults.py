"""A damaged index, one case at a time, through the library and the CLI.

Every case must end with a domain error (IndexMissingError, StaleIndexError,
CorruptIndexError) whose message names the problem and the command that fixes
it (`traite-qa build`) — never a segfault or a bare traceback; the CLI exits 1
with `traite-qa: error: …` on stderr; `ensure_index` rebuilds and the result
loads. All damage is done to COPIES of the session index in tmp_path.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from fakes import FakeEmbedder, clean_stderr, copy_index, read_manifest, refresh_checksums, run_cli, write_manifest
from traite_qa.errors import CorruptIndexError, IndexMissingError, StaleIndexError, TraiteQAError
from traite_qa.index import build_index, ensure_index, index_problem, load_index
from traite_qa.search import Searcher

FIX = "traite-qa build"


@dataclass
class Ctx:
    tmp: Path
    index: Path  # a plain copy of the session index's version folder
    settings: object  # Settings pointing at `index`
    embedder: object


# ------------------------------------------------------------------ damages
def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _random_bytes(path: Path, seed: int, keep_header: int = 0) -> None:
    data = path.read_bytes()
    rng = random.Random(seed)
    path.write_bytes(data[:keep_header] + rng.randbytes(len(data) - keep_header))


def _flip(path: Path, seed: int, count: int = 64) -> None:
    data = bytearray(path.read_bytes())
    rng = random.Random(seed)
    middle = len(data) // 2
    for i in range(count):
        data[middle + i] ^= 0xFF
    data[rng.randrange(len(data))] ^= 0x01
    path.write_bytes(bytes(data))


def _edit_manifest(**changes) -> Callable[[Ctx], None]:
    def damage(ctx: Ctx) -> None:
        manifest = read_manifest(ctx.index)
        for dotted, value in changes.items():
            node = manifest
            *parents, leaf = dotted.split("__")
            for key in parents:
                node = node[key]
            if value is _DELETE:
                del node[leaf]
            else:
                node[leaf] = value
        write_manifest(ctx.index, manifest)

    return damage


_DELETE = object()


def _write(name: str, content: bytes | str, refresh: bool = False) -> Callable[[Ctx], None]:
    def damage(ctx: Ctx) -> None:
        path = ctx.index / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        if refresh:
            refresh_checksums(ctx.index, name)

    return damage


def _chunk_line(line_number: int, replacement: str, refresh: bool) -> Callable[[Ctx], None]:
    def damage(ctx: Ctx) -> None:
        path = ctx.index / "chunks.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        lines[line_number - 1] = replacement + "\n"
        path.write_text("".join(lines), encoding="utf-8")
        if refresh:
            refresh_checksums(ctx.index, "chunks.jsonl")

    return damage


def _ids(edit: Callable[[list], list]) -> Callable[[Ctx], None]:
    def damage(ctx: Ctx) -> None:
        path = ctx.index / "ids.json"
        pairs = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps(edit(pairs)), encoding="utf-8")
        refresh_checksums(ctx.index, "ids.json")

    return damage


def _unknown_vector_id(pairs: list) -> list:
    """One vector id replaced by one vectors.faiss does not hold."""
    pairs = [list(p) for p in pairs]
    pairs[3][0] = pairs[3][0] ^ 0x5A5A
    return pairs


def _file(name: str, how: str, refresh: bool = False, seed: int = 0) -> Callable[[Ctx], None]:
    def damage(ctx: Ctx) -> None:
        path = ctx.index / name
        if how == "truncate":
            _truncate(path)
        elif how == "empty":
            path.write_bytes(b"")
        elif how == "random":
            _random_bytes(path, seed)
        elif how == "random-after-header":
            _random_bytes(path, seed, keep_header=4)
        elif how == "flip":
            _flip(path, seed)
        elif how == "delete":
            path.unlink()
        else:  # pragma: no cover
            raise ValueError(how)
        if refresh:
            refresh_checksums(ctx.index, name)

    return damage


def _remove_dir(ctx: Ctx) -> None:
    shutil.rmtree(ctx.index)


def _source_changed(ctx: Ctx) -> None:
    """Copy the source to tmp, build from it, then edit it."""
    source = ctx.tmp / "source.txt"
    source.write_text(ctx.settings.source.read_text(encoding="utf-8"), encoding="utf-8")
    ctx.settings = ctx.settings.with_(source=source, index_dir=ctx.tmp / "built-from-copy")
    build_index(ctx.settings, force=True, embedder=ctx.embedder)
    load_index(ctx.settings, ctx.embedder)  # loadable before the edit
    text = source.read_text(encoding="utf-8")
    edited = text.replace("La mesure 16 est la mesure prioritaire", "La mesure 16 est bien la mesure prioritaire", 1)
    assert edited != text
    source.write_text(edited, encoding="utf-8")


def _bm25(ctx: Ctx) -> None:
    path = ctx.index / "bm25" / "vocab.index.json"
    _truncate(path, 0.3)
    refresh_checksums(ctx.index, "bm25/vocab.index.json")


def _write_manifest_text(text: str) -> Callable[[Ctx], None]:
    def damage(ctx: Ctx) -> None:
        (ctx.index / "manifest.json").write_text(text, encoding="utf-8")

    return damage


def _nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _edit_chunk(chunk_id: str, **changes) -> Callable[[Ctx], None]:
    """Rewrite one chunk of chunks.jsonl (a forged or mistyped field) and record the new checksum."""
    def damage(ctx: Ctx) -> None:
        path = ctx.index / "chunks.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            data = json.loads(line)
            if data["id"] == chunk_id:
                data.update(changes)
                lines[i] = json.dumps(data, ensure_ascii=False)
                break
        else:  # pragma: no cover
            raise AssertionError(f"no chunk {chunk_id}")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        refresh_checksums(ctx.index, "chunks.jsonl")

    return damage


def _forge_measure_16(ctx: Ctx) -> None:
    """What issue 10 found: measure 16 (Non réalisée) said to be Réalisée, under a forged title."""
    forged = "Mesure 16 : Un mécanisme national de référence opérationnel [Réalisée]"
    _edit_chunk("mesure-16#1", statuses=["Réalisée"], title="Un mécanisme national de référence opérationnel",
                header="Axe 2 › Action 5 › " + forged)(ctx)


def _swap_chunk_lines(ctx: Ctx) -> None:
    path = ctx.index / "chunks.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3], lines[4] = lines[4], lines[3]
    path.write_text("".join(lines), encoding="utf-8")
    refresh_checksums(ctx.index, "chunks.jsonl")


def _append_chunk_line(ctx: Ctx) -> None:
    path = ctx.index / "chunks.jsonl"
    path.write_text(path.read_text(encoding="utf-8") + path.read_text(encoding="utf-8").splitlines()[0] + "\n",
                    encoding="utf-8")
    refresh_checksums(ctx.index, "chunks.jsonl")


def _swap_ids(pairs: list) -> list:
    """Two chunks trade vector ids: the same set of ids, the wrong rows (wrong vectors for each)."""
    pairs = [list(p) for p in pairs]
    pairs[0][0], pairs[1][0] = pairs[1][0], pairs[0][0]
    return pairs


def _edit_sentences(edit: Callable[[dict], None]) -> Callable[[Ctx], None]:
    def damage(ctx: Ctx) -> None:
        import numpy as np

        path = ctx.index / "sentences.npz"
        with np.load(path) as npz:
            arrays = {k: npz[k].copy() for k in npz.files}
        edit(arrays)
        np.savez(path, **arrays)
        refresh_checksums(ctx.index, "sentences.npz")

    return damage


def _shift_sentence(arrays: dict) -> None:
    arrays["starts"][10] += 1  # a sentence's first letter cut off: still inside its chunk, not a sentence


def _nan_vector(arrays: dict) -> None:
    arrays["vectors"][3, 0] = float("nan")


def _sentences_zip_bomb(ctx: Ctx) -> None:
    """A deflated member that expands to 64 MB: np.savez never compresses, so it is not ours."""
    import zipfile

    path = ctx.index / "sentences.npz"
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("padding.npy", b"\0" * (64 * 1024 * 1024))
    refresh_checksums(ctx.index, "sentences.npz")


def _faiss_other_metric(ctx: Ctx) -> None:
    """A valid faiss file with the right ids and dimension, but an L2 index (cosine scores would be distances)."""
    import faiss
    import numpy as np

    path = ctx.index / "vectors.faiss"
    original = faiss.read_index(str(path))
    ids = faiss.vector_to_array(original.id_map).astype(np.int64)
    vectors = np.vstack([original.reconstruct(int(i)) for i in ids])
    other = faiss.IndexIDMap2(faiss.IndexFlatL2(original.d))
    other.add_with_ids(vectors, ids)
    faiss.write_index(other, str(path))
    refresh_checksums(ctx.index, "vectors.faiss")


def _bm25_vocab_out_of_range(ctx: Ctx) -> None:
    path = ctx.index / "bm25" / "vocab.index.json"
    vocab = json.loads(path.read_text(encoding="utf-8"))
    vocab[next(t for t in vocab if t)] = 10**6  # a token whose column is past the matrix: an error at query time
    path.write_text(json.dumps(vocab), encoding="utf-8")
    refresh_checksums(ctx.index, "bm25/vocab.index.json")


def _outside_file(name: str) -> Callable[[Ctx], None]:
    """The manifest names a file outside the index, with that file's true checksum."""
    def damage(ctx: Ctx) -> None:
        outside = ctx.tmp / "outside.txt"
        outside.write_text("not an index file\n", encoding="utf-8")
        manifest = read_manifest(ctx.index)
        manifest["files"][name.replace("OUTSIDE", str(outside))] = hashlib.sha256(outside.read_bytes()).hexdigest()
        write_manifest(ctx.index, manifest)

    return damage


@dataclass(frozen=True)
class Case:
    id: str
    damage: Callable[[Ctx], None]
    error: type
    message: str  # regex the message must match (besides naming `traite-qa build`)
    native: bool = False  # may crash the process if mishandled: load it in a subprocess
    cli: bool = True  # also run through `traite-qa search` (a subprocess loading the model: ~5 s)
    repair: bool = True  # also check that `ensure_index` rebuilds it (~5 s)


CASES = [
    Case("missing-index-dir", _remove_dir, IndexMissingError, r"no index at"),
    Case("missing-manifest", _file("manifest.json", "delete"), IndexMissingError, r"no index at", cli=False),
    # vectors.faiss
    Case("faiss-truncated", _file("vectors.faiss", "truncate"), CorruptIndexError, r"vectors\.faiss is damaged"),
    Case("faiss-truncated-checksum-updated", _file("vectors.faiss", "truncate", refresh=True), CorruptIndexError,
         r"vectors\.faiss is unreadable", native=True, cli=False),
    Case("faiss-empty-checksum-updated", _file("vectors.faiss", "empty", refresh=True), CorruptIndexError,
         r"vectors\.faiss is unreadable", native=True, cli=False, repair=False),
    Case("faiss-random-bytes-checksum-updated", _file("vectors.faiss", "random", refresh=True, seed=1), CorruptIndexError,
         r"vectors\.faiss is unreadable", native=True),
    Case("faiss-random-after-header-checksum-updated", _file("vectors.faiss", "random-after-header", refresh=True, seed=2),
         CorruptIndexError, r"vectors\.faiss", native=True, cli=False, repair=False),
    Case("faiss-missing", _file("vectors.faiss", "delete"), CorruptIndexError, r"vectors\.faiss is missing", cli=False),
    # the manifest
    Case("manifest-other-model", _edit_manifest(model__id="intfloat/multilingual-e5-base"), StaleIndexError,
         r"index built with model 'intfloat/multilingual-e5-base'"),
    Case("manifest-other-fingerprint", _edit_manifest(model__fingerprint="0123456789abcdef"), StaleIndexError,
         r"changed since the build \(fingerprint 0123456789abcdef"),
    Case("manifest-other-chunker", _edit_manifest(chunker__chunk_size=999), StaleIndexError, r"chunker", cli=False),
    Case("manifest-other-format", _edit_manifest(format=99), StaleIndexError, r"index format 99", cli=False),
    Case("manifest-garbage-bytes", _write("manifest.json", random.Random(3).randbytes(700)), CorruptIndexError,
         r"manifest\.json is unreadable"),
    Case("manifest-truncated-json", lambda ctx: _truncate(ctx.index / "manifest.json", 0.5), CorruptIndexError,
         r"manifest\.json is unreadable", cli=False, repair=False),
    Case("manifest-empty-object", _write("manifest.json", "{}"), CorruptIndexError, r"manifest\.json is unreadable", cli=False, repair=False),
    Case("manifest-a-list", _write("manifest.json", "[1, 2, 3]"), CorruptIndexError, r"manifest\.json is unreadable", cli=False, repair=False),
    Case("manifest-files-not-a-map", _edit_manifest(files=["chunks.jsonl"]), CorruptIndexError, r"manifest\.json"),
    Case("manifest-without-dimension", _edit_manifest(model__dimension=_DELETE), CorruptIndexError, r"manifest\.json"),
    # chunks.jsonl
    Case("chunks-missing", _file("chunks.jsonl", "delete"), CorruptIndexError, r"chunks\.jsonl is missing"),
    Case("chunks-corrupt-line", _chunk_line(5, '{"id": "mesure-1#5", "kind": ', refresh=False), CorruptIndexError,
         r"chunks\.jsonl is damaged"),
    Case("chunks-corrupt-line-checksum-updated", _chunk_line(5, '{"id": "mesure-1#5", "kind": ', refresh=True),
         CorruptIndexError, r"chunks\.jsonl line 5 is not a chunk"),
    Case("chunks-line-not-an-object-checksum-updated", _chunk_line(7, "[1, 2]", refresh=True), CorruptIndexError,
         r"chunks\.jsonl line 7 is not a chunk", cli=False, repair=False),
    Case("chunks-line-missing-keys-checksum-updated", _chunk_line(9, '{"id": "x"}', refresh=True), CorruptIndexError,
         r"chunks\.jsonl line 9 is not a chunk", cli=False, repair=False),
    Case("chunks-invalid-utf8-checksum-updated", _write("chunks.jsonl", b"\xff\xfe\x00garbage\n", refresh=True),
         CorruptIndexError, r"chunks\.jsonl", repair=False),
    # the source
    Case("source-changed", _source_changed, StaleIndexError, r"source document source\.txt changed since the build"),
    # ids.json
    Case("ids-damaged", _file("ids.json", "flip"), CorruptIndexError, r"ids\.json is damaged", cli=False),
    Case("ids-one-missing", _ids(lambda pairs: pairs[:-1]), CorruptIndexError, r"disagree"),
    Case("ids-unknown-vector-id", _ids(_unknown_vector_id), CorruptIndexError, r"disagree", cli=False, repair=False),
    Case("ids-unknown-chunk-id", _ids(lambda pairs: [[pairs[0][0], "mesure-99"]] + pairs[1:]), CorruptIndexError,
         r"disagree", cli=False, repair=False),
    Case("ids-not-a-map", _write("ids.json", '{"a": 1, "b": 2}', refresh=True), CorruptIndexError,
         r"ids\.json is not an id map", cli=False, repair=False),
    Case("ids-not-json", _write("ids.json", "[[1, ", refresh=True), CorruptIndexError, r"ids\.json is not an id map", cli=False, repair=False),
    # sentences.npz
    Case("sentences-damaged", _file("sentences.npz", "flip"), CorruptIndexError, r"sentences\.npz is damaged"),
    Case("sentences-missing", _file("sentences.npz", "delete"), CorruptIndexError, r"sentences\.npz is missing", cli=False),
    Case("sentences-random-bytes-checksum-updated", _file("sentences.npz", "random", refresh=True, seed=4),
         CorruptIndexError, r"sentences\.npz", cli=False, repair=False),
    Case("sentences-truncated-checksum-updated", _file("sentences.npz", "truncate", refresh=True), CorruptIndexError,
         r"sentences\.npz"),
    Case("sentences-flipped-checksum-updated", _file("sentences.npz", "flip", refresh=True, seed=5), CorruptIndexError,
         r"sentences\.npz", repair=False),
    # bm25/
    Case("bm25-truncated-checksum-updated", _bm25, CorruptIndexError, r"BM25 index", cli=False),
    # ---- issue 10: a foreign or forged index. Every field type-checked (no TypeError, no
    # RecursionError), nothing read outside the folder, what readers see is the document's.
    Case("manifest-store-a-dict", _edit_manifest(store={"a": 1}), CorruptIndexError, r"manifest\.json is unreadable \(store "),
    Case("manifest-deeply-nested", _write_manifest_text('{"format": 2, "model": ' + "[" * 100_000 + "]" * 100_000 + "}"),
         CorruptIndexError, r"manifest\.json is unreadable \(RecursionError\)"),
    Case("manifest-nested-field", _edit_manifest(kinds=_nested(200)), CorruptIndexError, r"\(kinds is", cli=False, repair=False),
    Case("manifest-format-a-dict", _edit_manifest(format={"a": 1}), CorruptIndexError, r"\(format is", cli=False, repair=False),
    Case("manifest-dimension-a-string", _edit_manifest(model__dimension="384"), CorruptIndexError, r"model\.dimension",
         cli=False, repair=False),
    Case("manifest-dimension-huge", _edit_manifest(model__dimension=10**12), CorruptIndexError, r"model\.dimension",
         cli=False, repair=False),
    Case("manifest-chunks-a-list", _edit_manifest(chunks=[219]), CorruptIndexError, r"\(chunks is", cli=False, repair=False),
    Case("manifest-chunks-miscounted", _edit_manifest(chunks=218), CorruptIndexError, r"counts 218 chunks", cli=False,
         repair=False),
    Case("manifest-sha-a-number", _edit_manifest(source__sha256=123), CorruptIndexError, r"source\.sha256", cli=False,
         repair=False),
    Case("manifest-unexpected-key", _edit_manifest(extra={"x": 1}), CorruptIndexError, r"unexpected key", cli=False,
         repair=False),
    Case("manifest-files-dotdot", _outside_file("../../outside.txt"), CorruptIndexError, r"not a file an index has",
         cli=False),
    Case("manifest-files-absolute", _outside_file("OUTSIDE"), CorruptIndexError, r"not a file an index has", cli=False,
         repair=False),
    Case("manifest-files-bm25-dotdot", _outside_file("bm25/../../outside.txt"), CorruptIndexError,
         r"not a file an index has", cli=False, repair=False),
    Case("chunk-span-strings", _edit_chunk("mesure-16#1", span={"start": "0", "end": "10"}), CorruptIndexError,
         r"chunks\.jsonl line \d+ is not a chunk \(span\)"),
    Case("chunk-span-a-list", _edit_chunk("note-47", span=[0, 10]), CorruptIndexError, r"is not a chunk \(span\)",
         cli=False, repair=False),
    Case("chunk-span-booleans", _edit_chunk("note-47", span={"start": True, "end": True}), CorruptIndexError,
         r"is not a chunk \(span\)", cli=False, repair=False),
    Case("chunk-measures-strings", _edit_chunk("mesure-16#2", measures=["16"]), CorruptIndexError,
         r"is not a chunk \(measures\)", cli=False, repair=False),
    Case("chunk-piece-a-float", _edit_chunk("mesure-16#2", piece=2.0), CorruptIndexError, r"is not a chunk \(piece\)",
         cli=False, repair=False),
    Case("chunk-forged-status-and-title", _forge_measure_16, CorruptIndexError,
         r"chunks\.jsonl line \d+ is not the document's chunk mesure-16#1 \(header, title, statuses differ\)"),
    Case("chunk-forged-status-only", _edit_chunk("tableau-axe-2", statuses=["Réalisée"] * 12), CorruptIndexError,
         r"not the document's chunk tableau-axe-2 \(statuses differ\)", cli=False, repair=False),
    Case("chunk-forged-body", _edit_chunk("note-47", body="Texte inventé."), CorruptIndexError,
         r"not the document's chunk note-47 \(body differ\)", cli=False, repair=False),
    Case("chunks-lines-swapped", _swap_chunk_lines, CorruptIndexError, r"line 4 is not the document's chunk", cli=False,
         repair=False),
    Case("chunks-extra-line", _append_chunk_line, CorruptIndexError, r"holds 220 chunks, the document gives 219", cli=False,
         repair=False),
    Case("ids-swapped", _ids(_swap_ids), CorruptIndexError, r"disagree", cli=False, repair=False),
    Case("sentences-shifted-span", _edit_sentences(_shift_sentence), CorruptIndexError, r"not the document's sentences",
         cli=False),
    Case("sentences-nan-vector", _edit_sentences(_nan_vector), CorruptIndexError, r"vectors that are not numbers",
         cli=False, repair=False),
    Case("sentences-zip-bomb", _sentences_zip_bomb, CorruptIndexError, r"does not hold the sentence table", cli=False,
         repair=False),
    Case("faiss-l2-index", _faiss_other_metric, CorruptIndexError, r"inner-product IndexFlatIP", cli=False, repair=False),
    Case("bm25-vocabulary-out-of-range", _bm25_vocab_out_of_range, CorruptIndexError, r"BM25 index .* \(vocabulary ids\)",
         cli=False, repair=False),
]
IDS = [c.id for c in CASES]
REPAIR = [c for c in CASES if c.repair]
CLI_CASES = [c for c in CASES if c.cli]


@pytest.fixture
def make_damaged(tmp_path, index_settings, searcher):
    def make(case: Case) -> Ctx:
        index = copy_index(index_settings.index_dir, tmp_path / "build")
        ctx = Ctx(tmp_path, index, index_settings.with_(index_dir=index), searcher.embedder)
        load_index(ctx.settings, ctx.embedder)  # the copy is good before the damage
        case.damage(ctx)
        return ctx

    return make


def _check_message(case: Case, message: str) -> None:
    assert re.search(case.message, message), f"{case.id}: message {message!r} does not match {case.message!r}"
    assert FIX in message, f"{case.id}: message {message!r} does not name `{FIX}`"


_LOAD_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from traite_qa.settings import Settings
    from traite_qa.search import Searcher
    from traite_qa.errors import TraiteQAError
    settings = Settings.from_env(index_dir=Path(sys.argv[1]), source=Path(sys.argv[2]))
    try:
        Searcher.load(settings=settings)
    except TraiteQAError as err:
        print(json.dumps({"error": type(err).__name__, "message": str(err)}))
    else:
        print(json.dumps({"error": None}))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_load_raises_a_domain_error(case, make_damaged):
    ctx = make_damaged(case)
    if case.native:
        # FAISS parses the file in C++: a crash here would take pytest down, so load in a child.
        proc = subprocess.run(
            [sys.executable, "-c", _LOAD_SCRIPT, str(ctx.settings.index_dir), str(ctx.settings.source)],
            capture_output=True, timeout=600,
        )
        assert proc.returncode == 0, f"{case.id}: loader died with {proc.returncode}: {clean_stderr(proc.stderr)[-2000:]}"
        result = json.loads(proc.stdout.decode().strip().splitlines()[-1])
        assert result["error"] == case.error.__name__, result
        _check_message(case, result["message"])
        return
    with pytest.raises(TraiteQAError) as info:
        Searcher.load(settings=ctx.settings, embedder=ctx.embedder)
    assert isinstance(info.value, case.error), f"{case.id}: {type(info.value).__name__}: {info.value}"
    _check_message(case, str(info.value))


@pytest.mark.slow
@pytest.mark.parametrize("case", REPAIR, ids=[c.id for c in REPAIR])
def test_ensure_index_rebuilds_and_loads(case, make_damaged):
    """Also the damage hidden behind an updated checksum: whatever would make
    loading fail must make `ensure_index` rebuild."""
    ctx = make_damaged(case)
    problem = index_problem(ctx.settings, ctx.embedder)
    report = ensure_index(ctx.settings, embedder=ctx.embedder)
    assert report.get("skipped") is False, (
        f"{case.id}: ensure_index did not rebuild a broken index (index_problem: {problem!r}): {report}"
    )
    if problem is not None:
        assert FIX in problem
    searcher = Searcher.load(settings=ctx.settings, embedder=ctx.embedder)
    hits = searcher.search("mécanisme national de référence", k=3)
    assert hits and 16 in hits[0].measures
    assert index_problem(ctx.settings, ctx.embedder) is None


@pytest.mark.slow
@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_cli_reports_the_error(case, make_damaged):
    ctx = make_damaged(case)
    proc = run_cli("--index", str(ctx.settings.index_dir), "--source", str(ctx.settings.source),
                   "search", "mesure 16", "--json", timeout=600)
    stderr = clean_stderr(proc.stderr)
    assert proc.returncode == 1, f"{case.id}: exit {proc.returncode}, stderr: {stderr[-2000:]}"
    assert "Traceback" not in stderr, stderr[-3000:]
    assert proc.stdout == b""
    lines = [line for line in stderr.splitlines() if line.startswith("traite-qa: error: ")]
    assert len(lines) == 1, stderr[-2000:]
    _check_message(case, lines[0])


# ----------------------------------------------------------- without embedder
@pytest.mark.slow
def test_ensure_index_without_embedder_sees_a_changed_model(tmp_path, index_settings, searcher):
    """`traite-qa chat` calls `ensure_index(settings)` with no embedder: an index built
    with other weights (another fingerprint) must still be rebuilt, or the app then
    fails to load it."""
    index = copy_index(index_settings.index_dir, tmp_path / "build")
    _edit_manifest(model__fingerprint="0123456789abcdef")(Ctx(tmp_path, index, None, None))
    settings = index_settings.with_(index_dir=index)
    report = ensure_index(settings)
    assert report.get("skipped") is False, (
        f"ensure_index(settings) kept an index built with another model fingerprint: {report}; "
        f"index_problem without embedder = {index_problem(settings)!r}"
    )
    Searcher.load(settings=settings, embedder=searcher.embedder)


@pytest.mark.slow
def test_shared_fixture_untouched(index_settings, searcher):
    """The damage tests above worked on copies: the session index still loads."""
    assert index_problem(index_settings, searcher.embedder) is None


# ------------------------------------------- fast tier: a fake-embedded index
# The same damage, on an index built in tmp with the fake embedder (no model,
# a second to build): runs with `pytest -m "not slow"`.
FAST = [c for c in CASES if not c.native]


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory, settings):
    root = tmp_path_factory.mktemp("fake-index")
    embedder = FakeEmbedder(fingerprint="fake-for-faults")
    built = settings.with_(index_dir=root / "build", model_cache=root / "models")  # embeddings cached under root
    build_index(built, force=True, embedder=embedder)
    return built, embedder


@pytest.mark.parametrize("case", FAST, ids=[c.id for c in FAST])
def test_fake_index_load_raises_a_domain_error(case, fake_index, tmp_path):
    built, embedder = fake_index
    index = copy_index(built.index_dir, tmp_path / "build")
    ctx = Ctx(tmp_path, index, built.with_(index_dir=index), embedder)
    Searcher.load(settings=ctx.settings, embedder=embedder)  # good before the damage
    case.damage(ctx)
    with pytest.raises(TraiteQAError) as info:
        Searcher.load(settings=ctx.settings, embedder=embedder)
    assert isinstance(info.value, case.error), f"{case.id}: {type(info.value).__name__}: {info.value}"
    _check_message(case, str(info.value))


@pytest.mark.parametrize("case", [c for c in FAST if c.repair], ids=[c.id for c in FAST if c.repair])
def test_fake_index_ensure_index_repairs(case, fake_index, tmp_path):
    built, embedder = fake_index
    index = copy_index(built.index_dir, tmp_path / "build")
    ctx = Ctx(tmp_path, index, built.with_(index_dir=index), embedder)
    case.damage(ctx)
    problem = index_problem(ctx.settings, embedder)
    report = ensure_index(ctx.settings, embedder=embedder)
    assert report.get("skipped") is False, f"{case.id}: not rebuilt (index_problem: {problem!r}): {report}"
    assert Searcher.load(settings=ctx.settings, embedder=embedder).search("mesure 16", k=1)[0].measures == (16,)


def test_fake_embedder_never_touched_the_real_model(fake_index):
    _, embedder = fake_index
    assert embedder.calls and all(n > 0 for _, n in embedder.calls)


# ------------------------------------- fast tier: files that are not files
# A symlink to /dev/zero, a FIFO, a file outside the folder, a sparse 300 MB
# file: read naively, each hangs or fills memory. All cases run in one child
# process (with a memory limit and a timeout, so a regression fails here
# instead of hanging pytest): load must raise a domain error at once, and
# `ensure_index` (what `traite-qa build` does) must rebuild a loadable index.
def _replace(name: str, make: Callable[[Path], None]) -> Callable[[Ctx], None]:
    def damage(ctx: Ctx) -> None:
        path = ctx.index / name
        path.unlink()
        make(path)

    return damage


def _symlink_to(target: str) -> Callable[[Path], None]:
    return lambda path: os.symlink(target, path)


def _sparse(size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with open(path, "wb") as f:
            f.truncate(size)  # no disk used: a hole

    return make


def _index_dir_is(make: Callable[[Path], None]) -> Callable[[Ctx], None]:
    def damage(ctx: Ctx) -> None:
        shutil.rmtree(ctx.index)
        make(ctx.index)

    return damage


def _bm25_folder_elsewhere(ctx: Ctx) -> None:
    elsewhere = ctx.tmp / "bm25-elsewhere"
    shutil.move(ctx.index / "bm25", elsewhere)
    os.symlink(elsewhere, ctx.index / "bm25")


def _symlink_to_outside_copy(name: str) -> Callable[[Ctx], None]:
    """The right bytes, behind a symlink leaving the folder: still refused (a link is not a file of the index)."""
    def damage(ctx: Ctx) -> None:
        outside = ctx.tmp / f"outside-{name}"
        shutil.move(ctx.index / name, outside)
        os.symlink(outside, ctx.index / name)

    return damage


HOSTILE = [
    Case("vectors-symlink-to-dev-zero", _replace("vectors.faiss", _symlink_to("/dev/zero")), CorruptIndexError,
         r"vectors\.faiss is a symbolic link"),
    Case("chunks-a-fifo", _replace("chunks.jsonl", os.mkfifo), CorruptIndexError, r"chunks\.jsonl is a FIFO"),
    Case("manifest-a-fifo", _replace("manifest.json", os.mkfifo), CorruptIndexError, r"manifest\.json is a FIFO"),
    Case("manifest-symlink-to-dev-zero", _replace("manifest.json", _symlink_to("/dev/zero")), CorruptIndexError,
         r"manifest\.json is a symbolic link"),
    Case("bm25-file-symlink-to-dev-zero", _replace("bm25/vocab.index.json", _symlink_to("/dev/zero")), CorruptIndexError,
         r"vocab\.index\.json is a symbolic link"),
    Case("bm25-unlisted-fifo", lambda ctx: os.mkfifo(ctx.index / "bm25" / "corpus.jsonl"), CorruptIndexError,
         r"corpus\.jsonl is a FIFO"),
    Case("bm25-folder-elsewhere", _bm25_folder_elsewhere, CorruptIndexError, r"bm25 is a symbolic link, not a folder"),
    Case("sentences-symlink-to-a-good-copy", _symlink_to_outside_copy("sentences.npz"), CorruptIndexError,
         r"sentences\.npz is a symbolic link"),
    Case("chunks-sparse-300-mb", _replace("chunks.jsonl", _sparse(300 * 1024 * 1024)), CorruptIndexError,
         r"chunks\.jsonl is 314,572,800 bytes, over the [\d,]+-byte limit"),
    Case("manifest-sparse-2-mb", _replace("manifest.json", _sparse(2 * 1024 * 1024)), CorruptIndexError,
         r"manifest\.json is 2,097,152 bytes, over the"),
    Case("index-dir-a-fifo", _index_dir_is(os.mkfifo), CorruptIndexError, r"is a FIFO, not an index folder"),
    Case("index-dir-a-link-to-dev-zero", _index_dir_is(_symlink_to("/dev/zero")), CorruptIndexError,
         r"is a character device, not an index folder"),
    Case("index-dir-a-file", _index_dir_is(lambda path: path.write_text("{}")), CorruptIndexError,
         r"is a regular file, not an index folder"),
]

_HOSTILE_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))  # a /dev/zero read fails fast, not the machine
    from fakes import FakeEmbedder
    from traite_qa.errors import TraiteQAError
    from traite_qa.index import ensure_index, load_index
    from traite_qa.settings import Settings
    job = json.loads(sys.argv[2])
    embedder = FakeEmbedder(fingerprint=job["fingerprint"])
    for case, index in job["cases"]:
        settings = Settings.from_env(index_dir=Path(index), source=Path(job["source"]), model_cache=Path(job["cache"]))
        result = {"case": case}
        try:
            load_index(settings, embedder)
            result["error"] = None
        except TraiteQAError as err:
            result.update(error=type(err).__name__, message=str(err))
        except BaseException as err:  # the test reports it: a bare traceback is the bug looked for
            result.update(error="not a domain error: " + type(err).__name__, message=str(err)[:300])
        try:
            result["rebuilt"] = ensure_index(settings, embedder=embedder).get("skipped") is False
            load_index(settings, embedder)
            result["loads_after"] = True
        except BaseException as err:
            result["loads_after"] = f"{type(err).__name__}: {str(err)[:300]}"
        print(json.dumps(result), flush=True)
    """
)


@pytest.fixture(scope="module")
def hostile_results(fake_index, tmp_path_factory):
    built, embedder = fake_index
    root = tmp_path_factory.mktemp("hostile")
    cases = []
    for case in HOSTILE:
        tmp = root / case.id
        tmp.mkdir()
        index = copy_index(built.index_dir, tmp / "build")
        case.damage(Ctx(tmp, index, built.with_(index_dir=index), embedder))
        cases.append([case.id, str(index)])
    job = {"fingerprint": embedder.fingerprint, "source": str(built.source), "cache": str(built.model_cache), "cases": cases}
    tests_dir = str(Path(__file__).resolve().parent)
    try:
        proc = subprocess.run([sys.executable, "-c", _HOSTILE_SCRIPT, tests_dir, json.dumps(job)], capture_output=True,
                              timeout=180)
        out, err, note = proc.stdout, proc.stderr, f"exit {proc.returncode}"
    except subprocess.TimeoutExpired as expired:  # a hang: the cases after the last line printed never ran
        out, err, note = expired.stdout or b"", expired.stderr or b"", "timed out after 180 s"
    results = {}
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith("{"):
            data = json.loads(line)
            results[data["case"]] = data
    return results, f"{note}: {clean_stderr(err)[-1500:]}"


@pytest.mark.parametrize("case", HOSTILE, ids=[c.id for c in HOSTILE])
def test_files_that_are_not_files_are_refused_then_repaired(case, hostile_results):
    results, note = hostile_results
    assert case.id in results, f"{case.id}: never finished (hung or crashed: {note})"
    result = results[case.id]
    assert result["error"] == case.error.__name__, result
    _check_message(case, result["message"])
    assert result["rebuilt"] is True and result["loads_after"] is True, result


# ------------------------------------------------ the CLI: build repairs, --source
def _not_a_file(kind: str, tmp: Path) -> Path:
    if kind == "dev-zero":
        return Path("/dev/zero")
    if kind == "fifo":
        os.mkfifo(tmp / "source.fifo")
        return tmp / "source.fifo"
    return tmp  # a folder


@pytest.mark.parametrize("command", ["outline", "build"])
@pytest.mark.parametrize("kind, words", [("dev-zero", "a character device"), ("fifo", "a FIFO"), ("folder", "a folder")])
def test_cli_refuses_a_source_that_is_not_a_file(tmp_path, command, kind, words):
    """`--source /dev/zero` once read until memory ran out; a FIFO blocks a naive read for good."""
    source = _not_a_file(kind, tmp_path)
    proc = run_cli("--source", str(source), "--index", str(tmp_path / "index"), command, timeout=120)
    stderr = clean_stderr(proc.stderr)
    assert proc.returncode == 1 and "Traceback" not in stderr, stderr[-2000:]
    assert f"source document {source} is {words}, not a regular file" in stderr, stderr[-2000:]
    assert "TRAITE_QA_SOURCE" in stderr


def test_a_source_over_the_cap_is_refused_before_it_is_read(tmp_path, settings):
    from traite_qa.document.source import MAX_SOURCE_BYTES
    from traite_qa.errors import DocumentFormatError
    from traite_qa.index.load import read_source

    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as f:
        f.truncate(MAX_SOURCE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(DocumentFormatError, match=r"over the [\d,]+-byte limit"):
        read_source(settings.with_(source=huge))


REPAIRED_BY_CLI = [case for case in CASES + HOSTILE if case.id in {
    "manifest-store-a-dict", "manifest-deeply-nested", "manifest-files-dotdot", "chunk-span-strings",
    "chunk-forged-status-and-title", "sentences-shifted-span", "vectors-symlink-to-dev-zero", "chunks-a-fifo",
    "bm25-file-symlink-to-dev-zero", "index-dir-a-fifo",
}]


@pytest.mark.slow
@pytest.mark.parametrize("case", REPAIRED_BY_CLI, ids=[c.id for c in REPAIRED_BY_CLI])
def test_cli_build_without_force_repairs(case, make_damaged):
    """Issue 10: `traite-qa build` (no --force) on a damaged index once failed too."""
    ctx = make_damaged(case)
    proc = run_cli("--index", str(ctx.settings.index_dir), "--source", str(ctx.settings.source), "build", "--json",
                   timeout=600)
    stderr = clean_stderr(proc.stderr)
    assert proc.returncode == 0, f"{case.id}: exit {proc.returncode}: {stderr[-2000:]}"
    report = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert report["skipped"] is False, report
    assert index_problem(ctx.settings, ctx.embedder) is None
    assert Searcher.load(settings=ctx.settings, embedder=ctx.embedder).search("mesure 16", k=1)[0].measures == (16,)
