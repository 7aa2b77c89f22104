"""The site's secrets in instance/: made on the first start, private to the owner, never in git."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from kiosk import site


def instance_secret(path: Path) -> str:
    """Read a secret from instance/, creating it (mode 0600) the first time."""
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it a moment ago
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def keyed_hash(purpose: str, value: str, key: str | None = None) -> str:
    """HMAC-SHA256 of a value for look-ups: equal values match, the value itself is not kept."""
    secret = (key or site.settings()["HASH_KEY"]).encode()
    return hmac.new(secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()
