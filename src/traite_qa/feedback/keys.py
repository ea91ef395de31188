"""The server's key over the answers it serves (issue 23).

An answer's `answer_id` is a public hash of its content: anyone can compute
one for any text. So a served answer also carries `answer_key`, an HMAC of
the whole answer JSON under a secret only this server (or the servers that
share its secret) holds. Feedback that sends an answer back is taken only
when its key verifies: an answer this server never gave cannot be stored as
a "rated answer".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from ..errors import ConfigError

KEY_FIELD = "answer_key"
SECRET_FILE = "feedback-secret"


def answer_key(secret: bytes, answer: dict) -> str:
    """The HMAC-SHA256 (128 bits, hex) of the answer JSON without its key."""
    body = {k: v for k, v in answer.items() if k != KEY_FIELD}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(secret, canonical.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


def key_matches(secret: bytes, answer: dict) -> bool:
    sent = answer.get(KEY_FIELD)
    return isinstance(sent, str) and hmac.compare_digest(sent.encode("ascii", "replace"), answer_key(secret, answer).encode())


def load_secret(configured: str | None, folder: Path) -> bytes:
    """TRAITE_QA_FEEDBACK_SECRET when set; else the secret kept in `folder`
    (created there, readable by its owner only, on first use). Kept on disk so
    that answers served before a restart can still be rated after it."""
    if configured:
        return configured.encode("utf-8")
    path = folder / SECRET_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    temp = folder / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        # Written whole, then linked into place: another process starting at
        # the same time either wins (and both use its secret) or sees a full file.
        os.link(temp, path)
    except FileExistsError:
        pass
    except OSError as err:
        raise ConfigError(f"cannot keep the feedback secret in {path}: {err.strerror}; set TRAITE_QA_FEEDBACK_SECRET "
                          "or make the folder writable") from None
    finally:
        temp.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (UnicodeDecodeError, IsADirectoryError):
        text = ""
    except FileNotFoundError:
        raise
    except OSError as err:  # unreadable, or a path through a file (NotADirectoryError)
        raise ConfigError(f"cannot read the feedback secret {path}: {err.strerror}; set TRAITE_QA_FEEDBACK_SECRET") from None
    if len(text) < 32:
        raise ConfigError(f"the feedback secret {path} is empty or too short: delete it (a new one is made) "
                          "or set TRAITE_QA_FEEDBACK_SECRET")
    return text.encode("ascii")
