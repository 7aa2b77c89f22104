"""Migrations from an empty database on SQLite and on PostgreSQL, and models that match them."""

from __future__ import annotations

import logging
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


# A server started without `kiosk db upgrade` (waitress-serve --call kiosk:create_app) --------------


def _database(kind: str, instance: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return "sqlite:///" + str(instance.parent / "site.sqlite3")
    return request.getfixturevalue("pg_database")


def _one_migration_behind(app) -> None:
    from alembic import command

    db.upgrade(app)
    with db.engine(app).begin() as conn:
        cfg = db.alembic_config(db.database_url(app))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")


@pytest.mark.parametrize("state", ["empty", "one migration behind"])
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_database_behind_the_code_is_out_of_service_until_upgraded(
    instance: Path, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture, kind: str, state: str
) -> None:
    url = _database(kind, instance, request)
    app = create_app({"DATABASE_URL": url, "PORTAL": "demo"})  # not TESTING: errors answered as in production
    if state != "empty":
        _one_migration_behind(app)
        db.engine(app).dispose()
        app = create_app({"DATABASE_URL": url, "PORTAL": "demo"})  # a server started on it afterwards
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert "run kiosk db upgrade" in health.get_json()["schema"]
    for path, title in [
        ("/", "Терминал уақытша жұмыс істемейді"),
        ("/ru/services", "Терминал временно не работает"),
        ("/ru/services/meals", "Терминал временно не работает"),
        ("/ru/identify?service=meals", "Терминал временно не работает"),
    ]:
        page = client.get(path)
        assert page.status_code == 503 and page.headers["Retry-After"], path
        assert title in page.get_data(as_text=True), path
    client.set_cookie("kiosk_visit", "a-visit-from-before-the-restore-" + "x" * 20)  # a visit to look up
    assert client.get("/ru/services").status_code == 503
    assert client.post("/ru/help", data={"screen": "visitor.services"}).status_code == 503
    with client.get("/static/css/kiosk.css") as style:
        assert style.status_code == 200  # the page keeps its looks
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], "no traceback"

    db.upgrade(app)  # the site runs what the page's reason says; the server needs no restart
    assert client.get("/healthz").status_code == 200
    assert client.get("/ru/services").status_code == 200
    db.engine(app).dispose()


def test_waitress_serve_without_upgrade_answers_out_of_service_not_a_traceback(instance: Path) -> None:
    """As deploy/ would not, but a site might: the app served straight from the factory."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    from kiosk import ROOT

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env.update({"KIOSK_INSTANCE_PATH": str(instance), "KIOSK_PORTAL": "demo"})
    server = subprocess.Popen(
        [sys.executable, "-m", "waitress", "--host=127.0.0.1", f"--port={port}", "--call", "kiosk:create_app"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                first = httpx.get(base + "/", timeout=10)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert first.status_code == 503 and "Терминал уақытша жұмыс істемейді" in first.text
        assert httpx.get(base + "/ru/services", timeout=10).status_code == 503
        health = httpx.get(base + "/healthz", timeout=10)
        assert health.status_code == 503 and "run kiosk db upgrade" in health.json()["schema"]
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "Traceback" not in output, output[-3000:]


def test_the_servers_schema_check_needs_no_alembic_and_agrees_with_it(instance: Path, tmp_path: Path) -> None:
    """`kiosk run` and every request ask "is the schema the code's?" without loading Alembic; the
    answer must be Alembic's, or a restart would skip a migration (or run one it needs not)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    assert db.migration_heads() == tuple(sorted(script.get_heads()))

    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///" + str(tmp_path / "check.sqlite3")})
    try:
        assert db.database_heads(app) == ()
        assert not db.at_code_heads(app)
        db.upgrade(app, "0001")
        assert db.database_heads(app) == ("0001",)
        assert not db.at_code_heads(app)
        assert "run kiosk db upgrade" in (db.schema_problem(app) or "")
        db.upgrade(app)
        assert db.at_code_heads(app)
        assert db.schema_problem(app) is None
    finally:
        db.engine(app).dispose()


def test_heads_are_read_from_the_files_as_alembic_reads_them(tmp_path: Path) -> None:
    """A merge of two branches names two parents; the head is the merge, not either branch."""
    files = {
        "a.py": 'revision = "a"\ndown_revision = None\n',
        "b.py": 'revision = "b"\ndown_revision = "a"\n',
        "c.py": 'revision = "c"\ndown_revision = "a"\n',
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert db.migration_heads(tmp_path) == ("b", "c")
    (tmp_path / "d.py").write_text('revision = "d"\ndown_revision = ("b", "c")\n')
    assert db.migration_heads(tmp_path) == ("d",)
