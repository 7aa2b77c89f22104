"""Encryption at rest for personal data: AES-256-GCM with keys kept in instance/keys/.

Each ciphertext names the key that sealed it ("k2:..."), so keys can be rotated with
``kiosk keys rotate``: a new key seals everything written from then on, and the old keys stay to
open what they sealed. The associated data binds a ciphertext to its place (e.g. the submission's
uuid), so a value copied into another row does not open.

A submission's personal data is sealed with a key of its own instead ("d:...", kiosk/infra/datakeys.py),
wrapped by these keys and destroyed when the data is erased.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kiosk.infra.datakeys import DataKeys


class CannotDecrypt(Exception):
    """Unknown key id, or the data or its binding were altered."""


class KeyDestroyed(CannotDecrypt):
    """The data was sealed with its submission's own key, and that key was destroyed (erasure)."""


OWN_KEY = "d"  # the key id of a ciphertext sealed with its owner's own data key


@dataclass
class Keyring:
    keys: dict[str, bytes]
    current: str
    datakeys: DataKeys | None = None  # the submissions' own keys (kiosk/infra/datakeys.py)

    def seal_own(self, key: bytes, plaintext: bytes, bound_to: str) -> str:
        """Seal with an owner's own data key (from ``datakeys.create``): erasure destroys that key."""
        nonce = os.urandom(12)
        return (
            f"{OWN_KEY}:{base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext, bound_to.encode())).decode()}"
        )

    def seal(self, plaintext: bytes, bound_to: str = "") -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, plaintext, bound_to.encode())
        return f"{self.current}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, token: str, bound_to: str = "", owner: str | None = None) -> bytes:
        """Open a token; one sealed with an owner's own key needs the owner (a submission's uuid)."""
        key_id, _, body = token.partition(":")
        key: bytes | None
        if key_id == OWN_KEY:
            key = self.datakeys.get(owner) if self.datakeys is not None and owner else None
            if key is None:
                raise KeyDestroyed(f"no data key for {owner!r}")
        else:
            key = self.keys.get(key_id)
        if key is None:
            raise CannotDecrypt(f"unknown key {key_id!r}")
        try:
            raw = base64.b64decode(body, validate=True)
            return AESGCM(key).decrypt(raw[:12], raw[12:], bound_to.encode())
        except (InvalidTag, ValueError) as exc:
            raise CannotDecrypt("altered or misplaced ciphertext") from exc

    def seal_json(self, value: Any, bound_to: str = "") -> str:
        return self.seal(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(), bound_to)

    def open_json(self, token: str, bound_to: str = "", owner: str | None = None) -> Any:
        return json.loads(self.open(token, bound_to, owner))

    def key_id(self, token: str) -> str:
        return token.partition(":")[0]


def load_keyring(folder: Path) -> Keyring:
    """Read instance/keys/, making the first key on the first start."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    current_file = folder / "current"
    if not current_file.exists():
        try:
            add_key(folder)
        except FileExistsError:  # another process is making the first key right now
            time.sleep(0.2)
    keys = {p.stem: base64.b64decode(p.read_text().strip()) for p in folder.glob("*.key")}
    current = current_file.read_text().strip()
    if current not in keys:
        raise RuntimeError(f"instance/keys/current names key {current!r}, which is not in instance/keys/")
    return Keyring(keys, current)


def add_key(folder: Path) -> str:
    """Make a new data key and make it the current one (the old ones stay, to open old data)."""
    existing = [int(p.stem[1:]) for p in folder.glob("k*.key") if p.stem[1:].isdigit()]
    key_id = f"k{max(existing, default=0) + 1}"
    path = folder / f"{key_id}.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(secrets.token_bytes(32)).decode())
    tmp = folder / "current.tmp"
    tmp.write_text(key_id)
    tmp.replace(folder / "current")
    return key_id
