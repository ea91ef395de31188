"""A server's RSS stays flat over distinct questions (issue 23): its warm-up
maps the model's word embeddings in whole, and pins glibc's mmap threshold so
freed per-question buffers go back to the system. `python -m eval.abuse`
measures the served app; these check each mechanism on its own."""

from __future__ import annotations

import mmap
import os
import struct
import subprocess
import sys

import pytest

from traite_qa.settings import DEFAULT_MODEL

from fakes import REPO, cli_env


def present_share(address: int, nbytes: int) -> float:
    """Share of the pages of [address, address + nbytes) mapped in this
    process now (/proc/self/pagemap's bit 63, readable without privileges)."""
    first, last = address // mmap.PAGESIZE, (address + nbytes - 1) // mmap.PAGESIZE
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(first * 8)
        entries = struct.unpack(f"{last - first + 1}Q", f.read((last - first + 1) * 8))
    return sum(entry >> 63 for entry in entries) / len(entries)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/pagemap"), reason="needs Linux's /proc/self/pagemap")
def test_page_in_maps_every_page_of_the_word_embeddings(settings):
    from traite_qa.index.embedder import SentenceTransformerEmbedder

    # Its own instance: its own mapping of the file, untouched by other tests.
    model = SentenceTransformerEmbedder(DEFAULT_MODEL, settings.model_cache, query_batch_max=1)
    model.embed_queries(["Où en est le mécanisme national de référence ?"])
    word = model._lite.emb["word_embeddings.weight"]
    nbytes = word.numel() * word.element_size()
    # One question reads only its own rows (and the pages around them): why
    # a server's RSS used to grow as new words came.
    assert present_share(word.data_ptr(), nbytes) < 0.5
    assert model.page_in() == nbytes
    assert present_share(word.data_ptr(), nbytes) == 1.0


# A block freed after a bigger one: from the heap once glibc has raised its
# threshold to the bigger block's size, from mmap when the threshold is pinned.
MALLOC_PROBE = """
import ctypes, sys
from traite_qa.index.allocator import pin_mmap_threshold

class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = Info
if sys.argv[1] == "pin":
    assert pin_mmap_threshold()
libc.free(libc.malloc(8 << 20))
before = libc.mallinfo2().hblkhd
block = libc.malloc(1 << 20)
print(libc.mallinfo2().hblkhd - before)
libc.free(block)
"""


@pytest.mark.skipif(not (hasattr(os, "confstr") and "glibc" in (os.confstr("CS_GNU_LIBC_VERSION") or "")),
                    reason="glibc's malloc only")
@pytest.mark.parametrize("mode,mmapped", [("pin", True), ("free", False)])
def test_pinned_mmap_threshold_returns_freed_blocks(mode, mmapped):
    # A fresh process: this one's threshold is whatever earlier tests left;
    # and none of glibc's own settings from the environment.
    env = {k: v for k, v in cli_env().items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    out = subprocess.run([sys.executable, "-c", MALLOC_PROBE, mode], capture_output=True, text=True, timeout=60,
                         cwd=REPO, env=env)
    assert out.returncode == 0, out.stderr
    assert (int(out.stdout) >= 1 << 20) is mmapped
