"""Read a file that may be anything: only a regular file, only up to a cap.

`Path.read_bytes()` on `/dev/zero` reads until memory runs out, and on a FIFO
it blocks until someone writes. Every file the package reads from a path it
was given (the source document, the index files) goes through `read_regular`:
opened without blocking, checked with fstat before a byte is read, and read
no further than its cap.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

# The evaluation is 127 KB. A text a hundred times longer is still a plausible
# document; anything beyond is not one (and must not be read whole).
MAX_SOURCE_BYTES = 16 * 1024 * 1024

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISREG, "a regular file"),
)


class UnsafeFileError(OSError):
    """Not read: the path is not a regular file, or is larger than allowed.
    `reason` says which, in words a message can quote."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path} {reason}")


def file_kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_regular(path: str | Path, cap: int, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of `path`, a regular file of at most `cap` bytes.

    Raises FileNotFoundError, UnsafeFileError (not a regular file, a symlink
    when `follow_symlinks` is false, over the cap) or another OSError."""
    path = Path(path)
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno == errno.ELOOP and not follow_symlinks:
            raise UnsafeFileError(path, "is a symbolic link, not a regular file") from None
        if err.errno == errno.ENXIO:  # a socket
            raise UnsafeFileError(path, "is a socket, not a regular file") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFileError(path, f"is {file_kind(info.st_mode)}, not a regular file")
        if info.st_size > cap:
            raise UnsafeFileError(path, f"is {info.st_size:,} bytes, over the {cap:,}-byte limit")
        parts, total = [], 0
        while total <= cap:  # the file may grow while it is read: never past cap + 1
            part = os.read(fd, min(1 << 20, cap + 1 - total))
            if not part:
                break
            parts.append(part)
            total += len(part)
        if total > cap:
            raise UnsafeFileError(path, f"grew past the {cap:,}-byte limit while it was read")
        return b"".join(parts)
    finally:
        os.close(fd)
