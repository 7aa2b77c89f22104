"""`kiosk backup` / `kiosk restore`: a consistent copy while the kiosk writes, and the way back."""

from __future__ import annotations

import shutil
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fixtures import missing
from fixtures.scratch import scratch_database
from kiosk import create_app, db
from kiosk.cli import main
from kiosk.jobs.backup import BackupError, backup, prune, restore, restore_sqlite

BATCH = 10  # the writer commits this many rows at once: a consistent copy holds whole batches


class Writer(threading.Thread):
    """The kiosk at work: batches of rows committed one after another, on its own connection."""

    def __init__(self, connect) -> None:  # `connect` returns a DB-API connection
        super().__init__(daemon=True)
        self.connect = connect
        self.stop = threading.Event()
        self.committed = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            conn = self.connect()
            cur = conn.cursor()
            while not self.stop.is_set():
                first = self.committed
                for i in range(first + 1, first + BATCH + 1):
                    cur.execute(f"INSERT INTO ticks (id, payload) VALUES ({i}, 'row {i}')")
                conn.commit()
                self.committed = first + BATCH
            conn.close()
        except BaseException as exc:  # reported by the test
            self.error = exc


@contextmanager
def writing(connect) -> Iterator[Writer]:
    writer = Writer(connect)
    writer.start()
    deadline = time.monotonic() + 30
    while writer.committed < 20 * BATCH and time.monotonic() < deadline:  # a table with some rows
        time.sleep(0.01)
    try:
        yield writer
    finally:
        writer.stop.set()
        writer.join(30)
    assert writer.error is None, writer.error


def assert_whole_batches(count: int, ids_sum: int) -> None:
    assert count > 0 and count % BATCH == 0, f"{count} rows: a batch was split"
    assert ids_sum == count * (count + 1) // 2, "the ids are not 1..n: rows from different moments"


def sqlite_counts(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return conn.execute("SELECT count(*), coalesce(sum(id), 0) FROM ticks").fetchone()
    finally:
        conn.close()


def sqlite_db(app: Flask) -> Path:
    return Path(make_url(db.database_url(app)).database)


@pytest.fixture
def ticking(app: Flask) -> Path:
    path = sqlite_db(app)
    with db.engine(app).begin() as conn:
        conn.execute(text("CREATE TABLE ticks (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)"))
    return path


def connect_like_the_kiosk(path: Path):
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=5)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    return connect


def test_sqlite_backup_while_writing_is_one_consistent_moment(app: Flask, ticking: Path, tmp_path: Path) -> None:
    copies, counts = [], []
    with writing(connect_like_the_kiosk(ticking)) as writer:
        for n in range(3):
            before = writer.committed
            result = backup(app, tmp_path / f"copy{n}.sqlite3")
            after = writer.committed
            count, ids_sum = sqlite_counts(result.path)
            assert_whole_batches(count, ids_sum)
            assert before <= count <= after + BATCH  # the database as of one commit during the backup
            copies.append(result)
            counts.append(count)
    assert counts[0] < counts[-1]  # the kiosk kept committing between and during the backups
    for result in copies:
        assert result.revision  # the schema came along, with its Alembic revision
        assert stat.S_IMODE(result.path.stat().st_mode) == 0o600  # children's data: the owner only
        assert not Path(f"{result.path}-wal").exists()  # one file, nothing beside it to forget
        conn = sqlite3.connect(result.path)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        conn.close()
    assert not list(tmp_path.glob(".*partial*"))


def test_sqlite_restore_puts_the_backup_back_and_refuses_a_live_database_without_yes(
    app: Flask, ticking: Path, tmp_path: Path
) -> None:
    with writing(connect_like_the_kiosk(ticking)):
        saved = backup(app, tmp_path / "saved.sqlite3")
    expected = sqlite_counts(saved.path)
    with pytest.raises(BackupError, match="--yes"):
        restore(app, saved.path)

    conn = sqlite3.connect(ticking)
    conn.execute("DELETE FROM ticks WHERE id > 5")
    conn.commit()
    conn.close()
    restored = restore(app, saved.path, overwrite=True)
    assert restored.revision == saved.revision
    assert sqlite_counts(ticking) == expected
    conn = sqlite3.connect(ticking)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()

    fresh = tmp_path / "elsewhere" / "kiosk.sqlite3"
    restore_sqlite(saved.path, fresh)  # a new machine: no database yet, no --yes needed
    assert sqlite_counts(fresh) == expected
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_restore_refuses_what_is_not_a_backup(app: Flask, tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database")
    with pytest.raises(BackupError, match="not a SQLite database"):
        restore(app, junk, overwrite=True)
    saved = backup(app, tmp_path / "saved.sqlite3")
    with pytest.raises(BackupError, match="already exists"):
        backup(app, saved.path)


def test_cli_backup_into_a_folder_and_restore(instance: Path, tmp_path: Path) -> None:
    app = create_app()
    db.upgrade(app)
    db.engine(app).dispose()
    folder = tmp_path / "backups"
    folder.mkdir()
    runner = CliRunner()
    result = runner.invoke(main, ["backup", str(folder), "--keep", "3"])
    assert result.exit_code == 0, result.output
    assert "keys" in result.output  # the reminder that the keys are backed up apart
    (saved,) = folder.glob("kiosk-*.sqlite3")

    refused = runner.invoke(main, ["restore", str(saved)])
    assert refused.exit_code != 0 and "--yes" in refused.output
    done = runner.invoke(main, ["restore", str(saved), "--yes"])
    assert done.exit_code == 0, done.output

    for command in ("backup", "restore"):
        help_text = runner.invoke(main, [command, "--help"]).output
        assert "keys/" in help_text and "hash_key" in help_text


def test_prune_keeps_the_newest(tmp_path: Path) -> None:
    names = [f"kiosk-2026050{d}T020000Z.sqlite3" for d in range(1, 6)]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "kiosk-20260501T020000Z.pgdump").write_bytes(b"")  # another kind: left alone
    gone = prune(tmp_path, "sqlite", 2)
    assert [p.name for p in gone] == names[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names[3:], "kiosk-20260501T020000Z.pgdump"])


# PostgreSQL ------------------------------------------------------------------------------------


def pg_counts(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(conn.execute(text("SELECT count(*), coalesce(sum(id), 0) FROM ticks")).one())
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_backup_while_writing_and_restore(
    pg_url: str, instance: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    if not shutil.which("pg_dump"):
        missing("pg_dump is not installed (apt-get install postgresql-client)")
    with scratch_database(pg_url) as url, scratch_database(pg_url) as other_url:
        app = create_app({"DATABASE_URL": url, "PORTAL": "demo"})
        db.upgrade(app)
        with db.engine(app).begin() as conn:
            conn.execute(text("CREATE TABLE ticks (id integer PRIMARY KEY, payload text NOT NULL)"))
        libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with writing(lambda: psycopg.connect(libpq)) as writer:
            before = writer.committed
            saved = backup(app, tmp_path / "kiosk.pgdump")
            after = writer.committed
        assert saved.path.read_bytes()[:5] == b"PGDMP"
        assert stat.S_IMODE(saved.path.stat().st_mode) == 0o600
        assert saved.revision

        # into an empty database (a new server): no --yes needed
        other = create_app({"DATABASE_URL": other_url, "PORTAL": "demo"})
        restore(other, saved.path)
        count, ids_sum = pg_counts(other_url)
        assert_whole_batches(count, ids_sum)
        assert before <= count <= after + BATCH

        # over the live one: only with --yes, and then it is the backup again
        with pytest.raises(BackupError, match="--yes"):
            restore(app, saved.path)
        with db.engine(app).begin() as conn:
            conn.execute(text("DELETE FROM ticks WHERE id > 5"))
        assert restore(app, saved.path, overwrite=True).revision == saved.revision
        assert pg_counts(url) == (count, ids_sum)

        # the CLI, through the environment as on a server
        monkeypatch.setenv("KIOSK_DATABASE_URL", url)
        result = CliRunner().invoke(main, ["backup", str(tmp_path / "cli.pgdump")])
        assert result.exit_code == 0, result.output
        db.engine(app).dispose()
        db.engine(other).dispose()
