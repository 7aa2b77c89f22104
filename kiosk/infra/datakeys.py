"""Each submission's own data key, kept outside the database so that erasing it is final.

A submission's payload, its attachments and its consent are sealed with a key of its own. Erasure
destroys that key (crypto-shredding): every copy of the ciphertext, in the database's WAL and free
pages, in PostgreSQL's dead tuples and in every database backup, becomes unreadable with the keys
the kiosk holds. That only holds if the key is not in those copies itself, so the keys live here, in
a small SQLite file in ``instance/keys/`` beside the site keys, never in the kiosk's database and
never in ``kiosk backup``'s files.

Each key is stored wrapped with the site keyring (bound to its submission's uuid), so this file
alone opens nothing. The file runs with ``secure_delete`` (a destroyed key's bytes are overwritten
with zeros in the file) and a rollback journal that is truncated after each commit (no WAL keeping
old pages), so the file itself holds no trace of a destroyed key.

Plain sqlite3, no Flask: the web server, the sync worker and the CLI each open it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.infra.crypto import Keyring

FILENAME = "submission_keys.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS submission_keys (
    uuid TEXT PRIMARY KEY,
    wrapped TEXT NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID
"""


class DataKeys:
    """The store of submission keys: made at signing, read to open, destroyed at erasure."""

    def __init__(self, path: Path, wrapping: Keyring, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self.wrapping = wrapping
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        with self._tx() as conn:
            conn.execute(SCHEMA)

    def _tx(self) -> _Transaction:
        return _Transaction(self._conn())

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            new = not self.path.exists()
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
            if new:
                self.path.chmod(0o600)
            conn.execute("PRAGMA journal_mode=TRUNCATE")
            conn.execute("PRAGMA synchronous=FULL")  # a key acknowledged is a promise, as the receipt is
            conn.execute("PRAGMA secure_delete=ON")
            self._local.conn = conn
        return conn

    def create(self, owner: str, now: dt.datetime) -> bytes:
        """A new key for ``owner`` (a submission's uuid), committed before the submission is.

        A crash between the two leaves a key with no submission (``orphans`` finds it), never a
        submission whose key is missing.
        """
        key = secrets.token_bytes(32)
        wrapped = self.wrapping.seal(key, bound_to=f"datakey:{owner}")
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO submission_keys (uuid, wrapped, created_at) VALUES (?, ?, ?)",
                (owner, wrapped, now.isoformat()),
            )
        return key

    def get(self, owner: str) -> bytes | None:
        """The key of ``owner``, or None once destroyed (or never made)."""
        with self._tx() as conn:
            row = conn.execute("SELECT wrapped FROM submission_keys WHERE uuid = ?", (owner,)).fetchone()
        if row is None:
            return None
        return self.wrapping.open(row[0], bound_to=f"datakey:{owner}")

    def destroy(self, owners: Iterable[str]) -> int:
        """Destroy these keys for good; how many there were."""
        owners = list(owners)
        gone = 0
        with self._tx() as conn:
            for start in range(0, len(owners), 500):
                chunk = owners[start : start + 500]
                marks = ",".join("?" * len(chunk))
                gone += conn.execute(f"DELETE FROM submission_keys WHERE uuid IN ({marks})", chunk).rowcount
        return gone

    def owners(self, batch: int = 1000) -> Iterator[list[tuple[str, str]]]:
        """Every key's owner and creation time, in batches (for the sweep and the inventory)."""
        after = ""
        while True:
            with self._tx() as conn:
                rows = conn.execute(
                    "SELECT uuid, created_at FROM submission_keys WHERE uuid > ? ORDER BY uuid LIMIT ?", (after, batch)
                ).fetchall()
            if not rows:
                return
            yield [(r[0], r[1]) for r in rows]
            after = rows[-1][0]

    def count(self) -> int:
        with self._tx() as conn:
            return int(conn.execute("SELECT count(*) FROM submission_keys").fetchone()[0])

    def wrapping_key_ids(self) -> dict[str, int]:
        """How many keys each site key wraps (the inventory's "keys in use")."""
        out: dict[str, int] = {}
        with self._tx() as conn:
            for (wrapped,) in conn.execute("SELECT wrapped FROM submission_keys"):
                kid = wrapped.partition(":")[0]
                out[kid] = out.get(kid, 0) + 1
        return out

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class _Transaction:
    """``with`` a connection: one transaction, committed at the end or rolled back on an error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN")
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
