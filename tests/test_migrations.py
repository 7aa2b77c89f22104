"""Migrations from an empty database on SQLite and on PostgreSQL, and models that match them."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from kiosk import create_app, db
from kiosk.models import Base


def _check_schema(app) -> None:
    db.upgrade(app)
    with db.engine(app).connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert {"visits", "sms_codes", "alembic_version"} <= tables
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
    db.upgrade(app)  # a second upgrade is a no-op, as on every restart


def test_sqlite_from_empty(instance: Path, clock) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///" + str(instance.parent / "fresh.sqlite3")})
    _check_schema(app)
    db.engine(app).dispose()


@pytest.mark.postgres
def test_postgresql_from_empty(pg_database: str, instance: Path) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": pg_database})
    _check_schema(app)
    db.engine(app).dispose()
