"""The app factory: config layers, the instance folder, the SQLite settings, /healthz."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from kiosk import ROOT, create_app, db


def test_defaults_give_the_embedded_kiosk(instance: Path) -> None:
    app = create_app()
    assert app.config["BABEL_DEFAULT_LOCALE"] == "kk"
    assert app.config["RUN_HOST"] == "127.0.0.1" and app.config["RUN_PORT"] == 8080
    assert db.database_url(app) == f"sqlite:///{instance / 'kiosk.sqlite3'}"


def test_instance_file_then_environment_then_test_mapping(instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    instance.mkdir(parents=True)
    (instance / "config.py").write_text("RUN_PORT = 9001\nWINDOW_WARN_DAYS = 5\nRUN_THREADS = 3\n")
    app = create_app()
    assert app.config["RUN_PORT"] == 9001 and app.config["WINDOW_WARN_DAYS"] == 5

    monkeypatch.setenv("KIOSK_RUN_PORT", "9002")
    monkeypatch.setenv("KIOSK_DATABASE_URL", "sqlite:///" + str(instance / "other.sqlite3"))
    app = create_app()
    assert app.config["RUN_PORT"] == 9002  # parsed as a number, not the string "9002"
    assert app.config["WINDOW_WARN_DAYS"] == 5  # the instance file still holds what env does not set
    assert db.database_url(app).endswith("other.sqlite3")

    app = create_app({"RUN_PORT": 9003})
    assert app.config["RUN_PORT"] == 9003 and app.config["RUN_THREADS"] == 3


def test_first_start_makes_a_private_secret_key_and_keeps_it(instance: Path) -> None:
    first = create_app()
    key_file = instance / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.config["SECRET_KEY"]) >= 64
    assert create_app().config["SECRET_KEY"] == first.config["SECRET_KEY"]


def test_default_instance_folder_is_at_the_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIOSK_INSTANCE_PATH", raising=False)
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    assert Path(app.instance_path) == ROOT / "instance"


def test_sqlite_is_durable_and_waits_for_the_writer(app) -> None:
    with db.engine(app).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == app.config["SQLITE_BUSY_TIMEOUT_MS"]
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_healthz_reports_database_and_catalog_version(client, app) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"] == "ok"
    assert body["catalog_version"] == app.extensions["kiosk.catalog"].version


def test_healthz_says_when_the_database_does_not_answer(instance: Path, clock) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///" + str(instance / "no" / "such" / "dir.db")})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_a_broken_site_catalog_stops_the_start_naming_service_and_field(instance: Path) -> None:
    from kiosk.catalog import BUNDLED_CATALOG, CatalogError

    instance.mkdir(parents=True)
    text_ = BUNDLED_CATALOG.read_text(encoding="utf-8")
    at = text_.index("legal_basis", text_.index('code = "meals"'))  # drop the meals service's legal basis
    broken = text_[:at] + "legal_basis_gone" + text_[at + len("legal_basis") :]
    (instance / "catalog.toml").write_text(broken, encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        create_app()
    assert "meals" in str(err.value) and "legal_basis" in str(err.value)


def test_site_catalog_in_instance_replaces_the_bundled_one(instance: Path) -> None:
    from kiosk.catalog import BUNDLED_CATALOG

    instance.mkdir(parents=True)
    text_ = BUNDLED_CATALOG.read_text(encoding="utf-8")
    version_line = next(line for line in text_.splitlines() if line.startswith("version"))
    (instance / "catalog.toml").write_text(text_.replace(version_line, 'version = "site-7"', 1), encoding="utf-8")
    assert create_app().extensions["kiosk.catalog"].version == "site-7"


def test_cli_refuses_to_start_on_a_broken_catalog(instance: Path) -> None:
    from click.testing import CliRunner

    from kiosk.cli import main

    instance.mkdir(parents=True)
    (instance / "catalog.toml").write_text("version = 'x'\n[[services]]\ncode = 'grade1'\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code != 0
    assert "grade1" in result.output and "catalog" in result.output
