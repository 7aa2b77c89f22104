"""Database engine, the per-request session, and migrations.

SQLite is the embedded default and is shared by the web server and the sync worker, so every
connection gets WAL (readers never block the writer), ``synchronous=FULL`` (a committed row
survives power loss: a receipt is a promise) and a busy timeout. PostgreSQL comes through
``KIOSK_DATABASE_URL``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import IntegerConverter, ValidationError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# Row ids are INTEGER columns: 32 bits on PostgreSQL, 64 on SQLite. A larger number in a query
# fails instead of finding no row (PostgreSQL: "integer out of range" from 2^31, as SQLAlchemy casts
# the parameter to INTEGER; SQLite: OverflowError from 2^63), so a number outside this range is
# known to be no row before any query is made.
ROW_ID_MAX = 2**31 - 1


class RowIdConverter(IntegerConverter):
    """``<id:name>`` in a route: a row id the database can hold, else the address matches nothing (404)."""

    def __init__(self, map: Any) -> None:  # noqa: A002 - werkzeug's own parameter name
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


def make_engine(url: str, busy_timeout_ms: int = 5000) -> Engine:
    """An engine with the durability settings this kiosk relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001 - DB-API objects
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def init_app(app: Flask) -> None:
    app.url_map.converters["id"] = RowIdConverter  # before any route that uses it is added
    engine = make_engine(database_url(app), app.config["SQLITE_BUSY_TIMEOUT_MS"])
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
    except Exception:  # noqa: BLE001 - any failure means "not answering"
        return False


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(app: Flask, revision: str = "head") -> None:
    """Bring the schema to the given revision through the migrations, never create_all."""
    with engine(app).begin() as conn:
        cfg = alembic_config(database_url(app))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
