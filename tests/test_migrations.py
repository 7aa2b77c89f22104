"""Migrations from an empty database on SQLite and on PostgreSQL, and models that match them."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from kiosk import create_app, db
from kiosk.models import Base


def _check_schema(app) -> None:
    db.upgrade(app)
    with db.engine(app).connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert {"visits", "alembic_version"} <= tables
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
    db.upgrade(app)  # a second upgrade is a no-op, as on every restart


def test_sqlite_from_empty(instance: Path, clock) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///" + str(instance.parent / "fresh.sqlite3")})
    _check_schema(app)
    db.engine(app).dispose()


@pytest.mark.postgres
def test_postgresql_from_empty(pg_url: str, instance: Path) -> None:
    name = f"kiosk_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        app = create_app({"TESTING": True, "DATABASE_URL": url})
        _check_schema(app)
        db.engine(app).dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
