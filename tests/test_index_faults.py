"""A damaged index, one case at a time, through the library and the CLI.

Every case must end with a domain error (IndexMissingError, StaleIndexError,
CorruptIndexError) whose message names the problem and the command that fixes
it (`traite-qa build`) — never a segfault or a bare traceback; the CLI exits 1
with `traite-qa: error: …` on stderr; `ensure_index` rebuilds and the result
loads. All damage is done to COPIES of the session index in tmp_path.
"""

from __future__ import annotations

import json
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
