"""glibc malloc's mmap threshold, pinned for a long-running server.

Why: glibc serves a block of 128 KiB or more with its own mmap, returned to
the system when freed, but each time such a block is freed it raises that
threshold to the block's size (up to 32 MiB). After a few questions the
per-question temporaries of a few hundred KiB to a few MiB (torch and numpy
buffers) come from the malloc heaps instead, and the heaps keep the freed
space: a served app's anonymous RSS grew by ~105 MB over its first 500
distinct questions (4 clients), then stopped. With the threshold pinned at
glibc's starting value the same 500 questions add ~12 MB (eval/abuse.py; the
same as running with MALLOC_MMAP_THRESHOLD_=131072, which also pins it).
"""

from __future__ import annotations

import ctypes
import os

M_MMAP_THRESHOLD = -3  # <malloc.h>
THRESHOLD = 128 * 1024  # glibc's own starting value: only its sliding is turned off


def pin_mmap_threshold(threshold: int = THRESHOLD) -> bool:
    """Set glibc's mmap threshold once and for all (process-wide); True when
    done, False on another C library (musl, macOS: nothing to do there)."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return False
        return bool(ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, threshold))
    except (ValueError, OSError, AttributeError):  # no such confstr name, no libc symbol
        return False
