"""The fsync floor: what one durable commit of a submission costs on this disk, with no application work.

A fresh SQLite file beside the kiosk's, in WAL with ``synchronous=FULL`` as the kiosk opens its own,
holding the kiosk's ``submissions`` and ``submission_events`` tables as ``kiosk.models`` defines
them (``create_all``: their columns, keys and indexes, never a copy of their SQL). Each commit
inserts one submission of about ``row_bytes`` (the sealed payload makes up the size) and its first
event through the bare ``sqlite3`` module, so only SQLite and the disk are measured.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, create_engine

from kiosk.models import Base, Submission, SubmissionEvent

TABLES = (Submission.__table__, SubmissionEvent.__table__)


def row_bytes(path: Path) -> int:
    """The average size of a submission row plus its first event's, in a kiosk's database file."""
    sizes = []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for table in TABLES:
            size = " + ".join(f"coalesce(length({c.name}), 0)" for c in table.columns)
            sizes.append(conn.execute(f"SELECT avg({size}) FROM {table.name}").fetchone()[0] or 0)
    finally:
        conn.close()
    return int(sum(sizes))


class FsyncFloor:
    """INSERT + COMMIT of one submission and its event, in a database of its own."""

    def __init__(self, folder: Path, row_bytes: int = 900) -> None:
        path = folder / "fsync_floor.sqlite3"
        engine = create_engine(f"sqlite:///{path}")
        Base.metadata.create_all(engine, tables=list(TABLES))
        engine.dispose()
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.inserts = [self._insert(table) for table in TABLES]
        self.payload_bytes = max(1, row_bytes - 400)  # the other columns take about 400 bytes
        self.n = 0

    @staticmethod
    def _insert(table: Any) -> tuple[str, list[Any]]:
        columns = [c for c in table.columns if not c.primary_key]
        names = ", ".join(c.name for c in columns)
        marks = ", ".join("?" for _ in columns)
        return f"INSERT INTO {table.name} ({names}) VALUES ({marks})", columns

    def _values(self, columns: list[Any]) -> list[Any]:
        """A value for every column, by its type in the model (a foreign key is filled in by the caller)."""
        now = dt.datetime.now(dt.UTC).isoformat()
        out: list[Any] = []
        for c in columns:
            if c.foreign_keys:
                out.append(None)
            elif isinstance(c.type, DateTime):
                out.append(now)
            elif isinstance(c.type, Integer):
                out.append(0)
            elif isinstance(c.type, JSON):
                out.append("{}")
            elif c.name == "payload":  # sealed data does not compress
                out.append(os.urandom(self.payload_bytes // 2).hex())
            elif c.nullable:
                out.append(None)
            else:  # unique where the model says so: a fresh value each row
                out.append(f"{c.name[:4]}-{self.n}-{os.urandom(8).hex()}"[: getattr(c.type, "length", None) or 64])
        return out

    def commit(self) -> float:
        """Seconds for one submission and its event, inserted and committed."""
        self.n += 1
        (submission, columns), (event, event_columns) = self.inserts
        values, event_values = self._values(columns), self._values(event_columns)
        parent_at = next(i for i, c in enumerate(event_columns) if c.foreign_keys)
        started = time.perf_counter()
        self.conn.execute("BEGIN")
        event_values[parent_at] = self.conn.execute(submission, values).lastrowid
        self.conn.execute(event, event_values)
        self.conn.execute("COMMIT")
        return time.perf_counter() - started

    def every(self, interval: float, stop: threading.Event, latencies: list[float]) -> None:
        while not stop.wait(interval):
            latencies.append(self.commit())

    def close(self) -> None:
        self.conn.close()
