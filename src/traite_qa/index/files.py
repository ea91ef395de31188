"""The index folder, read as if it came from someone else.

An index on disk may be damaged, half-written, or copied from elsewhere: the
loader reads a file only when it is a regular file (not a symlink, FIFO or
device) directly inside the index's version folder, named in the manifest,
under its size cap, and only the bytes it then checks against the manifest's
sha256 are parsed (no second read by path that could see other bytes).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import stat
from pathlib import Path
from typing import BinaryIO

from ..document.source import UnsafeFileError, file_kind, read_regular
from ..errors import CorruptIndexError, IndexMissingError

FIX = "run `traite-qa build`"

_MiB = 1024 * 1024
# Size caps, checked before a byte is read. Generous: today's index is about
# 1.5 MB in all (chunks.jsonl 210 KB, sentences.npz 0.8-2.5 MB, vectors.faiss
# 340 KB); the caps leave room for a document a hundred times longer and for
# the scaling benchmark's collections, and stop a file that is not an index
# file (a disk image, /dev/zero behind a copy) from being read whole.
MAX_BYTES = {
    "manifest.json": 1 * _MiB,
    "chunks.jsonl": 256 * _MiB,
    "ids.json": 64 * _MiB,
    "sentences.npz": 2048 * _MiB,
    "vectors.faiss": 2048 * _MiB,
    "vectors.npz": 2048 * _MiB,  # the Qdrant store's ids and vectors
}
MAX_BM25_FILE_BYTES = 512 * _MiB  # each file of bm25/
MAX_BM25_FILES = 16  # bm25s writes 5 (6 for BM25L/BM25+)
# The names an index may hold: the four data files (vectors.npz for Qdrant) and bm25s's files.
FILE_NAME_RE = re.compile(r"(?:chunks\.jsonl|ids\.json|vectors\.(?:faiss|npz)|sentences\.npz|bm25/[a-z0-9_]+(?:\.[a-z0-9_]+){1,4})")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class IndexFolder:
    """The version folder behind `index_dir` (which is usually a symlink to it)."""

    def __init__(self, index_dir: Path):
        self.index_dir = index_dir
        try:
            info = os.stat(index_dir)  # follows the index_dir -> version folder link
        except FileNotFoundError:
            raise IndexMissingError(f"no index at {index_dir}: {FIX}") from None
        except OSError as err:
            raise CorruptIndexError(f"{index_dir} is unreadable ({err.strerror}): {FIX} --force") from None
        if not stat.S_ISDIR(info.st_mode):
            raise CorruptIndexError(f"{index_dir} is {file_kind(info.st_mode)}, not an index folder: {FIX} --force")
        self.root = Path(os.path.realpath(index_dir))

    def path(self, name: str) -> Path:
        return self.root / name

    def read(self, name: str, sha256: str | None = None, *, missing: type[Exception] = CorruptIndexError,
             cap: int | None = None) -> bytes:
        """The bytes of `name`, checked against `sha256` when given. `cap`: a
        tighter size limit than the file's own, from what the document implies
        (checked before a byte is read or hashed)."""
        if name != "manifest.json" and not FILE_NAME_RE.fullmatch(name):  # no "../", no absolute path, no other file
            raise CorruptIndexError(f"the manifest in {self.index_dir} names a file {name[:80]!r} an index does not have: {FIX} --force")
        path = self.root / name
        if "/" in name:
            self._check_subfolder(path.parent)
        cap = min(MAX_BYTES.get(name, MAX_BM25_FILE_BYTES), cap if cap is not None else MAX_BYTES["vectors.faiss"])
        try:
            data = read_regular(path, cap, follow_symlinks=False)
        except FileNotFoundError:
            message = f"no index at {self.index_dir}: {FIX}" if missing is IndexMissingError else f"{path} is missing: {FIX} --force"
            raise missing(message) from None
        except UnsafeFileError as err:
            raise CorruptIndexError(f"{path} {err.reason}: {FIX} --force") from None
        except OSError as err:
            raise CorruptIndexError(f"{path} is unreadable ({err.strerror}): {FIX} --force") from None
        if sha256 is not None and sha256_bytes(data) != sha256:
            raise CorruptIndexError(f"{path} is damaged (checksum differs from the manifest; truncated?): {FIX} --force")
        return data

    def check_bm25(self, listed: set[str]) -> Path:
        """bm25s opens its files by path itself: before it does, every entry
        of bm25/ must be a regular file the manifest lists (and has checked)."""
        folder = self.root / "bm25"
        self._check_subfolder(folder)
        with os.scandir(folder) as entries:
            names = []
            for entry in entries:
                names.append(entry.name)
                if len(names) > MAX_BM25_FILES:
                    raise CorruptIndexError(f"{folder} holds more than {MAX_BM25_FILES} files: {FIX} --force")
                if not entry.is_file(follow_symlinks=False):
                    kind = file_kind(entry.stat(follow_symlinks=False).st_mode)
                    raise CorruptIndexError(f"{folder / entry.name} is {kind}, not a regular file: {FIX} --force")
                if f"bm25/{entry.name}" not in listed:
                    raise CorruptIndexError(f"{folder / entry.name} is not listed in the manifest: {FIX} --force")
        return folder

    def _check_subfolder(self, folder: Path) -> None:
        try:
            info = os.lstat(folder)
        except FileNotFoundError:
            raise CorruptIndexError(f"{folder} is missing: {FIX} --force") from None
        if not stat.S_ISDIR(info.st_mode):  # a symlink to a folder elsewhere included
            raise CorruptIndexError(f"{folder} is {file_kind(info.st_mode)}, not a folder: {FIX} --force")


def npy_header(fp: BinaryIO, size: int, where: str) -> tuple[tuple[int, ...], "np.dtype"]:
    """The shape and dtype in the .npy header at `fp` (`size` bytes in all),
    checked against the bytes that follow, before numpy allocates anything:
    numpy trusts the header and would allocate a forged 2^40-row shape at once
    (a MemoryError), before noticing the data is not there."""
    import numpy as np

    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(fp)
        else:  # np.save writes 1.0 (2.0 for huge headers); 3.0 only for non-Latin-1 field names
            raise ValueError(f"version {version}")
    except (ValueError, EOFError, SyntaxError, TypeError, OverflowError, MemoryError, RecursionError) as err:
        raise CorruptIndexError(f"{where} has no readable array header ({type(err).__name__}): {FIX} --force") from None
    if dtype.hasobject:
        raise CorruptIndexError(f"{where} holds Python objects, not numbers or text: {FIX} --force")
    claimed = math.prod(shape) * dtype.itemsize  # Python ints: a forged shape cannot overflow
    held = size - fp.tell()
    if claimed != held:
        raise CorruptIndexError(f"{where} has an array header claiming shape {str(shape)[:60]} ({claimed:,} bytes) "
                                f"over {held:,} bytes of data: {FIX} --force")
    return shape, dtype
