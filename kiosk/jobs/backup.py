"""`kiosk backup` and `kiosk restore`: a consistent copy of the database while the kiosk writes.

Copying a live SQLite file (and its -wal) is one of the documented ways to corrupt it, so SQLite
goes through its online backup API: one read transaction sees one snapshot while the kiosk keeps
committing to the WAL beside it. PostgreSQL goes through pg_dump (one snapshot, custom format,
so pg_restore can clean and replace). Either way the personal data inside stays sealed with the
data keys in the instance folder, which are backed up separately, never into the same place.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from kiosk import db
from kiosk.clock import system_utcnow

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
SUFFIX = {"sqlite": ".sqlite3", "postgresql": ".pgdump"}
KEYS_WARNING = (
    "The data in it is sealed with the keys in the instance folder (keys/, hash_key): back those "
    "up separately and keep them apart from the database backups."
)


class BackupError(Exception):
    """A backup or restore that did not happen, with the reason for the operator."""


@dataclass(frozen=True)
class Result:
    """What a backup or restore wrote, for the operator's one-line answer."""

    path: Path
    size: int
    revision: str | None  # the Alembic revision inside, None when there is no schema yet


def _dialect(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in SUFFIX:
        raise BackupError(f"no backup for a {name} database (SQLite and PostgreSQL only)")
    return name


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(database)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _private_file(path: Path) -> None:
    """Create an empty file only the owner can read: a backup holds children's personal data."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _publish(tmp: Path, dest: Path) -> None:
    """Make a finished backup appear under its name at once, and survive a power cut."""
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dest)
    _fsync_dir(dest.parent)


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'").fetchone():
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    return None


def _integrity(conn: sqlite3.Connection, what: str) -> None:
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        raise BackupError(f"{what} fails integrity_check: {'; '.join(problems[:5])}")


def backup_sqlite(db_path: Path, dest: Path, busy_timeout_s: float = 5.0) -> Result:
    """Copy a live SQLite database into one self-contained file at ``dest``.

    One backup step copies every page inside a single read transaction, so the copy is the
    database as of one commit, and in WAL mode the kiosk's writers are not held up meanwhile.
    The copy is switched to a rollback journal (one file, no -wal to forget), checked with
    integrity_check, and only then renamed into place.
    """
    if not db_path.is_file():
        raise BackupError(f"no database at {db_path}")
    if dest.exists():
        raise BackupError(f"{dest} already exists; a backup never replaces another")
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    _private_file(tmp)
    try:
        # mode=rw: never create an empty database where the real one was expected
        src = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=rw", uri=True, timeout=busy_timeout_s)
        try:
            out = sqlite3.connect(tmp)
            try:
                src.backup(out)  # pages=-1: everything in one step, one snapshot
                out.execute("PRAGMA journal_mode=DELETE")
                _integrity(out, "the copy")
                revision = _sqlite_revision(out)
            finally:
                out.close()
        finally:
            src.close()
        _publish(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Result(dest, dest.stat().st_size, revision)


def _sqlite_has_tables(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0] > 0
    finally:
        conn.close()


def restore_sqlite(src: Path, db_path: Path, *, overwrite: bool = False, busy_timeout_s: float = 5.0) -> Result:
    """Put a backup back into the database file, as one transaction.

    The backup API writes into the target like any other writer (through its WAL), so the target
    never holds half of the backup, and no stale -wal beside it can undo the restore, as it could
    after copying the file over.
    """
    with open(src, "rb") as f:
        if f.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise BackupError(f"{src} is not a SQLite database")
    if _sqlite_has_tables(db_path) and not overwrite:
        raise BackupError(f"{db_path} already holds a database; stop the kiosk and the workers, then add --yes")
    source = sqlite3.connect(f"{src.resolve().as_uri()}?mode=ro", uri=True)
    try:
        _integrity(source, str(src))
        if not db_path.exists():
            db_path.parent.mkdir(parents=True, exist_ok=True)
            _private_file(db_path)
        target = sqlite3.connect(db_path, timeout=busy_timeout_s)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=WAL")  # what every kiosk connection expects
            _integrity(target, "the restored database")
            revision = _sqlite_revision(target)
        finally:
            target.close()
    finally:
        source.close()
    return Result(db_path, db_path.stat().st_size, revision)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL in libpq's form and an environment with its password, kept off the command line
    (where `ps` would show it to every user of the machine)."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    conninfo = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return conninfo, env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackupError(f"{name} not found (apt-get install postgresql-client, the server's major version or newer)")
    return path


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def _pg_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None:
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def _pg_has_tables(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            return (conn.execute(text(query)).scalar() or 0) > 0
    finally:
        engine.dispose()


def backup_postgres(url: str, dest: Path) -> Result:
    """pg_dump in the custom format: one snapshot, compressed, and what pg_restore --clean needs."""
    if dest.exists():
        raise BackupError(f"{dest} already exists; a backup never replaces another")
    conninfo, env = _libpq(url)
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    _private_file(tmp)
    try:
        _run([_tool("pg_dump"), "--format=custom", f"--file={tmp}", f"--dbname={conninfo}"], env)
        _run([_tool("pg_restore"), "--list", str(tmp)], env)  # the archive reads back whole
        _publish(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Result(dest, dest.stat().st_size, _pg_revision(url))


def restore_postgres(url: str, src: Path, *, overwrite: bool = False) -> Result:
    """pg_restore --clean in one transaction: the database is either the backup or unchanged.

    Objects are owned by the user the kiosk connects as (--no-owner, --no-privileges), so a
    backup restores onto another server whose roles have other names.
    """
    with open(src, "rb") as f:
        if f.read(len(PG_MAGIC)) != PG_MAGIC:
            raise BackupError(f"{src} is not a pg_dump custom-format archive")
    if _pg_has_tables(url) and not overwrite:
        raise BackupError("the database already holds tables; stop the kiosk and the workers, then add --yes")
    conninfo, env = _libpq(url)
    _run(
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={conninfo}",
            str(src),
        ],
        env,
    )
    return Result(src, src.stat().st_size, _pg_revision(url))


def _timestamped(folder: Path, dialect: str) -> Path:
    stamp = system_utcnow().strftime("%Y%m%dT%H%M%SZ")  # the machine's time, whatever clock the site reads
    return folder / f"kiosk-{stamp}{SUFFIX[dialect]}"


def prune(folder: Path, dialect: str, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` timestamped backups in a folder; return what went."""
    backups = sorted(folder.glob(f"kiosk-*{SUFFIX[dialect]}"))  # the UTC stamp sorts by time
    gone = backups[:-keep] if keep > 0 else []
    for path in gone:
        path.unlink()
    return gone


def backup(app: Flask, dest: Path, keep: int | None = None) -> Result:
    """Back up the app's database to a file, or to a new timestamped file in a folder."""
    url = db.database_url(app)
    dialect = _dialect(url)
    folder = dest if dest.is_dir() else None
    if keep is not None and folder is None:
        raise BackupError("--keep needs DEST to be a folder")
    target = _timestamped(folder, dialect) if folder else dest
    if dialect == "sqlite":
        result = backup_sqlite(_sqlite_path(url), target, app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000)
    else:
        result = backup_postgres(url, target)
    if folder and keep is not None:
        prune(folder, dialect, keep)
    return result


def restore(app: Flask, src: Path, overwrite: bool = False) -> Result:
    """Restore the app's database from a file `kiosk backup` wrote."""
    url = db.database_url(app)
    db.engine(app).dispose()  # this process's own pooled connections must not outlive the old data
    if _dialect(url) == "sqlite":
        return restore_sqlite(
            src, _sqlite_path(url), overwrite=overwrite, busy_timeout_s=app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000
        )
    return restore_postgres(url, src, overwrite=overwrite)


@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--keep", type=click.IntRange(min=1), default=None, help="With DEST a folder: keep the newest N there.")
@with_appcontext
def backup_command(dest: Path, keep: int | None) -> None:
    """Back up the database to DEST, consistently, while the kiosk keeps writing.

    SQLite: the online backup API, into one file checked with integrity_check. PostgreSQL:
    pg_dump, custom format. DEST may be a folder: the file is then named by the time (UTC).

    The database's personal data is sealed with the keys in the instance folder (keys/ and
    hash_key): back those up separately, and keep them apart from these files. Without its keys
    a backup cannot be read; with them, anyone can read it.
    """
    try:
        result = backup(current_app._get_current_object(), dest, keep)  # type: ignore[attr-defined]
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backup written to {result.path} ({result.size} bytes, schema {result.revision or 'none'})")
    click.echo(KEYS_WARNING)


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace a database that already holds tables.")
@with_appcontext
def restore_command(src: Path, yes: bool) -> None:
    """Restore the database from SRC, a file `kiosk backup` wrote.

    Stop `kiosk run` and `kiosk sync` first. A database that already holds tables is replaced
    only with --yes (PostgreSQL: pg_restore --clean, in one transaction). Put the backup's keys
    (keys/ and hash_key) into the instance folder before this: with other keys the restored data
    cannot be opened. Then `kiosk db upgrade` brings an older backup up to this version.
    """
    try:
        result = restore(current_app._get_current_object(), src, overwrite=yes)  # type: ignore[attr-defined]
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"database restored from {src} (schema {result.revision or 'none'}); now run `kiosk db upgrade`")
