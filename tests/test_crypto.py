"""Sealing at rest: AES-GCM bound to its place, and keys that rotate without losing old data."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kiosk import create_app
from kiosk.cli import main
from kiosk.infra.crypto import CannotDecrypt, load_keyring


def test_sealed_data_opens_only_in_its_place(instance) -> None:
    ring = load_keyring(instance / "keys")
    token = ring.seal_json({"iin": "880412412349"}, bound_to="uuid-1")
    assert "880412412349" not in token
    assert ring.open_json(token, bound_to="uuid-1") == {"iin": "880412412349"}
    with pytest.raises(CannotDecrypt):
        ring.open_json(token, bound_to="uuid-2")  # copied into another row
    with pytest.raises(CannotDecrypt):
        ring.open(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"), bound_to="uuid-1")


def test_rotation_seals_with_the_new_key_and_still_opens_the_old(instance) -> None:
    create_app({"SECRET_KEY": "x"})
    old = load_keyring(instance / "keys")
    sealed_before = old.seal(b"before", "a")
    result = CliRunner().invoke(main, ["keys", "rotate"])
    assert result.exit_code == 0 and "k2" in result.output
    new = load_keyring(instance / "keys")
    assert new.current == "k2" and new.key_id(new.seal(b"after", "b")) == "k2"
    assert new.open(sealed_before, "a") == b"before"
    assert sorted(p.name for p in (instance / "keys").glob("*.key")) == ["k1.key", "k2.key"]
    assert oct((instance / "keys" / "k2.key").stat().st_mode & 0o777) == "0o600"
