"""Database engine, the per-request session, and migrations.

SQLite is the embedded default and is shared by the web server and the sync worker, so every
connection gets WAL (readers never block the writer), ``synchronous=FULL`` (a committed row
survives power loss: a receipt is a promise) and a busy timeout. PostgreSQL comes through
``KIOSK_DATABASE_URL``.

SQLite has one writer at a time. A transaction starts right before its first write, with
``BEGIN IMMEDIATE`` (the driver's implicit BEGIN, never at a read: a read transaction upgraded to a
write one gets SQLITE_BUSY at once, whatever the busy timeout), and the writers of one process
take their turns in a queue (``WriteQueue``) instead of SQLite's polling, which under load let
one writer lose every race until its timeout. A writer that still waits longer than
``SQLITE_BUSY_TIMEOUT_MS`` gets an error ``is_busy()`` recognises; the web layer answers it with a
page that says to try again.
"""

from __future__ import annotations

import ast
import re
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import IntegerConverter, ValidationError

if TYPE_CHECKING:  # Alembic is imported where it is used: migrating, and a server's first schema check
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# Row ids are INTEGER columns: 32 bits on PostgreSQL, 64 on SQLite. A larger number in a query
# fails instead of finding no row (PostgreSQL: "integer out of range" from 2^31, as SQLAlchemy casts
# the parameter to INTEGER; SQLite: OverflowError from 2^63), so a number outside this range is
# known to be no row before any query is made.
ROW_ID_MAX = 2**31 - 1


class RowIdConverter(IntegerConverter):
    """``<id:name>`` in a route: a row id the database can hold, else the address matches nothing (404)."""

    def __init__(self, map: Any) -> None:  # `map`: werkzeug's own parameter name
        super().__init__(map, min=1, max=ROW_ID_MAX)

    def to_python(self, value: str) -> int:
        if len(value) > len(str(ROW_ID_MAX)):  # int() refuses 4,300 digits and more with a ValueError
            raise ValidationError()
        return super().to_python(value)


def row_id(value: str) -> int | None:
    """A row id from a string outside the address (a query parameter), or None when it cannot be one."""
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(ROW_ID_MAX)):
        return None
    return int(value) if 1 <= int(value) <= ROW_ID_MAX else None


def database_url(app: Flask) -> str:
    url = app.config.get("DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(Path(app.instance_path) / "kiosk.sqlite3")


class DriverMissing(RuntimeError):
    """DATABASE_URL names a database whose Python driver is not installed."""


class WriteQueue:
    """The writers of one SQLite database in this process, served one at a time, first come first.

    SQLite's own busy handler polls, sleeping up to 100 ms between tries, so under load a waiting
    writer can lose every race to newcomers until its busy timeout ends: a visitor got "database
    is locked". Here a writer waits for its turn on a condition instead, for at most the busy
    timeout. Writers in other processes (``kiosk sync``, a backup) are still waited for by SQLite.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: deque[object] = deque()
        self._holder: object | None = None
        self._holder_thread: int | None = None

    def acquire(self, holder: object, timeout_s: float) -> bool:
        """Wait for the turn of ``holder`` (a connection); False when the time is up."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._waiting.append(holder)
            try:
                while self._holder is not None or self._waiting[0] is not holder:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(left)
                self._holder, self._holder_thread = holder, threading.get_ident()
                return True
            finally:
                self._waiting.remove(holder)
                self._cond.notify_all()

    def release(self, holder: object) -> None:
        with self._cond:
            if self._holder is holder:
                self._holder = self._holder_thread = None
                self._cond.notify_all()

    def held_by_this_thread(self) -> bool:
        """A thread writing through a second connection while its first one holds the turn."""
        return self._holder_thread == threading.get_ident()


_queues: dict[str, WriteQueue] = {}
_queues_lock = threading.Lock()


def _queue_for(database: str) -> WriteQueue:
    with _queues_lock:
        return _queues.setdefault(database, WriteQueue())


# The statements before which the sqlite3 module begins a transaction (the same test as its own)
_WRITE = re.compile(r"\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*(INSERT|UPDATE|DELETE|REPLACE)\b", re.I | re.S)
SQLITE_BUSY = 5


class _QueuedCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        self.connection._before(sql)  # type: ignore[attr-defined]
        try:
            return super().execute(sql, parameters)
        finally:
            self.connection._after()  # type: ignore[attr-defined]

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Self:
        self.connection._before(sql)  # type: ignore[attr-defined]
        try:
            return super().executemany(sql, seq_of_parameters)
        finally:
            self.connection._after()  # type: ignore[attr-defined]


class _QueuedConnection(sqlite3.Connection):
    """A connection that waits for its turn in the database's WriteQueue before its first write."""

    queue: WriteQueue
    wait_s: float
    _holding = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or _QueuedCursor)

    # the C versions make their cursor without calling cursor(): these go through the queue too
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:
        return self.cursor().executemany(sql, seq_of_parameters)

    def _before(self, sql: str) -> None:
        if self._holding or self.in_transaction or not _WRITE.match(sql):
            return
        if self.queue.held_by_this_thread():
            return  # its other connection holds the turn: SQLite's busy timeout decides, no deadlock
        if not self.queue.acquire(self, self.wait_s):
            busy = sqlite3.OperationalError("database is locked (waited for the other writers)")
            busy.sqlite_errorcode = SQLITE_BUSY
            raise busy
        self._holding = True

    def _after(self) -> None:
        if self._holding and not self.in_transaction:  # the write failed before its BEGIN, or ended
            self._holding = False
            self.queue.release(self)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._after()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._after()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._holding:
                self._holding = False
                self.queue.release(self)


def is_busy(exc: BaseException) -> bool:
    """Whether a database error means "another writer was in the way": worth a try again, no bug.

    SQLite: SQLITE_BUSY or SQLITE_LOCKED (and their extended codes) after the busy timeout.
    PostgreSQL: a serialization failure, a deadlock, a lock timeout. Either: no pooled connection
    free in time.
    """
    if isinstance(exc, PoolTimeout):
        return True
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (SQLITE_BUSY, 6)  # 6: SQLITE_LOCKED
    return getattr(orig, "sqlstate", None) in ("40001", "40P01", "55P03")


def make_engine(url: str, busy_timeout_ms: int = 5000, pool_size: int | None = None) -> Engine:
    """An engine with the durability settings this kiosk relies on.

    ``pool_size``: the connections kept open, one per server thread (``RUN_THREADS``), so a busy
    server never opens and closes one per request (SQLAlchemy keeps 5 by default); as many again may
    be opened for a moment (a request holds one while its visit is saved through another).
    """
    try:
        return _make_engine(url, busy_timeout_ms, pool_size)
    except ModuleNotFoundError as exc:  # SQLAlchemy imports the driver when the engine is made
        hint = " pip install -e '.[postgres]' (README.md, Dependencies)" if url.startswith("postgres") else ""
        raise DriverMissing(f"DATABASE_URL needs the Python package {exc.name}, which is not installed:{hint}") from exc


def _make_engine(url: str, busy_timeout_ms: int, pool_size: int | None) -> Engine:
    pool: dict[str, Any] = {}
    if pool_size and not _in_memory(url):
        pool = {"pool_size": pool_size, "max_overflow": pool_size}
    if url.startswith("sqlite"):
        queued = type(
            "QueuedConnection",
            (_QueuedConnection,),
            {"queue": _queue_for(make_url(url).database or ":memory:"), "wait_s": busy_timeout_ms / 1000},
        )
        engine = create_engine(
            url,
            connect_args={"timeout": busy_timeout_ms / 1000, "isolation_level": "IMMEDIATE", "factory": queued},
            **pool,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:  # DB-API objects
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            # what is deleted or overwritten (a visit at Finish, a draft's photos, an erased payload) is
            # zeroed in the file, not left readable in free space (kiosk/jobs/privacy.py)
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


def _in_memory(url: str) -> bool:
    """SQLite in memory: SQLAlchemy gives it a pool of its own kind, which takes no size."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def init_app(app: Flask) -> None:
    app.url_map.converters["id"] = RowIdConverter  # before any route that uses it is added
    engine = make_engine(database_url(app), app.config["SQLITE_BUSY_TIMEOUT_MS"], app.config["RUN_THREADS"])
    app.extensions["kiosk.db"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def engine(app: Flask | None = None) -> Engine:
    maker = (app or current_app).extensions["kiosk.db"]
    return maker.kw["bind"]


def new_session(app: Flask | None = None) -> Session:
    """A session of its own, for work outside a request (CLI, worker, session store)."""
    return (app or current_app).extensions["kiosk.db"]()


def get_session() -> Session:
    """The request's session; the view that writes owns the commit."""
    if "db_session" not in g:
        g.db_session = new_session()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def ping(app: Flask | None = None) -> bool:
    """Whether the database answers a trivial query."""
    try:
        with engine(app).connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure means "not answering"
        return False


def migration_heads(folder: Path = MIGRATIONS / "versions") -> tuple[str, ...]:
    """The newest revisions in migrations/, read from the files' ``revision`` and ``down_revision``.

    Alembic reads them the same way but costs about 8 MiB of imports, which a server that only
    needs to know "is the schema the code's?" keeps for its whole life; tests/test_migrations.py
    holds this answer to Alembic's.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in folder.glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                if name in ("revision", "down_revision"):
                    value = ast.literal_eval(node.value)
                    values = value if isinstance(value, tuple | list) else (value,) if value else ()
                    (revisions if name == "revision" else parents).update(values)
    return tuple(sorted(revisions - parents))


def database_heads(app: Flask | None = None) -> tuple[str, ...] | None:
    """The revisions the database says it is at (none when it has no tables); None when it does not answer."""
    try:
        with engine(app).connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return ()
            return tuple(sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars()))
    except SQLAlchemyError:
        return None


def at_code_heads(app: Flask) -> bool:
    """Whether the database's schema is this code's, found without Alembic (and kept once true)."""
    if app.extensions.get("kiosk.db.schema_ok"):
        return True
    if database_heads(app) == migration_heads():
        app.extensions["kiosk.db.schema_ok"] = True
        return True
    return False


def _code_heads(app: Flask) -> tuple[str, ...]:
    """The newest revisions in migrations/: the schema this code was written for (read once)."""
    heads = app.extensions.get("kiosk.db.heads")
    if heads is None:
        from alembic.script import ScriptDirectory

        heads = tuple(sorted(ScriptDirectory.from_config(alembic_config(database_url(app))).get_heads()))
        app.extensions["kiosk.db.heads"] = heads
    return heads


def schema_problem(app: Flask | None = None) -> str | None:
    """Why this database cannot serve this code (its schema is not the migrations' newest), or None.

    A server started without ``kiosk db upgrade`` (``waitress-serve --call kiosk:create_app``) must
    say so instead of failing on the first query. Once the schema is right the answer is kept: the
    check then costs nothing per request.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    if at_code_heads(app):
        return None
    # behind, ahead, or no answer: Alembic says which, for the message
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    code = _code_heads(app)
    try:
        with engine(app).connect() as conn:
            current = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    except SQLAlchemyError as exc:
        return f"the database does not answer ({type(getattr(exc, 'orig', None) or exc).__name__}): check DATABASE_URL"
    if current == code:
        app.extensions["kiosk.db.schema_ok"] = True
        return None
    want = ", ".join(code)
    if not current:
        return f"the database has no tables yet (this code needs revision {want}): run kiosk db upgrade"
    script = ScriptDirectory.from_config(alembic_config(database_url(app)))
    unknown = [rev for rev in current if not _known(script, rev)]
    if unknown:
        return (
            f"the database is at revision {', '.join(unknown)}, which this code does not know (a newer "
            f"kiosk migrated it; this code needs {want}): install that version or restore a backup"
        )
    return f"the database is at revision {', '.join(current)}, this code needs {want}: run kiosk db upgrade"


def _known(script: ScriptDirectory, revision: str) -> bool:
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError as AlembicError

    try:
        return script.get_revision(revision) is not None
    except (AlembicError, RevisionError):
        return False


def alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(app: Flask, revision: str = "head") -> None:
    """Bring the schema to the given revision through the migrations, never create_all."""
    from alembic import command

    with engine(app).begin() as conn:
        cfg = alembic_config(database_url(app))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
