"""Request signing between a kiosk and the central system: HMAC-SHA256 with a key per kiosk.

The signature covers the method, the path with its query, the time, a nonce and the body's
SHA-256, so a request cannot be altered, replayed or kept for later: the receiver refuses a time
more than ``MAX_SKEW`` away from its own clock and a nonce it has already seen in that window.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

MAX_SKEW = 300  # seconds either way
HEADERS = ("X-Kiosk-Id", "X-Timestamp", "X-Nonce", "X-Signature")


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode()


def sign(key: bytes, method: str, path: str, body: bytes, kiosk_id: str, now: float) -> dict[str, str]:
    """The headers that prove this request came from this kiosk, now."""
    timestamp = str(int(now))
    nonce = secrets.token_hex(16)
    signature = hmac.new(key, string_to_sign(method, path, timestamp, nonce, body), hashlib.sha256).hexdigest()
    return {"X-Kiosk-Id": kiosk_id, "X-Timestamp": timestamp, "X-Nonce": nonce, "X-Signature": signature}


def verify(key: bytes, method: str, path: str, body: bytes, headers: dict[str, str], now: float) -> str | None:
    """None when the signature holds and is fresh, else the reason (the caller checks the nonce)."""
    try:
        timestamp = headers["X-Timestamp"]
        nonce = headers["X-Nonce"]
        given = headers["X-Signature"]
    except KeyError:
        return "unsigned"
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_SKEW:
        return "stale"
    if not (8 <= len(nonce) <= 64) or not nonce.isalnum():
        return "bad nonce"
    wanted = hmac.new(key, string_to_sign(method, path, timestamp, nonce, body), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(wanted, given) else "bad signature"
