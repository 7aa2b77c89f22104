"""Database engine, the per-request session, and migrations.

SQLite is the embedded default and is shared by the web server and the sync worker, so every
connection gets WAL (readers never block the writer), ``synchronous=FULL`` (a committed row
survives power loss: a receipt is a promise) and a busy timeout. PostgreSQL comes through
``KIOSK_DATABASE_URL``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:  # Alembic is imported by the commands that migrate, not by every start (0.8 s)
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def database_url(app: Flask) -> str:
    url = app.config.get("DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(Path(app.instance_path) / "kiosk.sqlite3")


class DriverMissing(RuntimeError):
    """DATABASE_URL names a database whose Python driver is not installed."""


def make_engine(url: str, busy_timeout_ms: int = 5000) -> Engine:
    """An engine with the durability settings this kiosk relies on."""
    try:
        return _make_engine(url, busy_timeout_ms)
    except ModuleNotFoundError as exc:  # SQLAlchemy imports the driver when the engine is made
        hint = " pip install -e '.[postgres]' (README.md, Dependencies)" if url.startswith("postgres") else ""
        raise DriverMissing(f"DATABASE_URL needs the Python package {exc.name}, which is not installed:{hint}") from exc


def _make_engine(url: str, busy_timeout_ms: int) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:  # DB-API objects
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def init_app(app: Flask) -> None:
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
    except Exception:  # any failure means "not answering"
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
