"""The app factory: config layers, the instance folder, the SQLite settings, /healthz."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from kiosk import ROOT, create_app, db


def test_defaults_give_the_embedded_kiosk(instance: Path) -> None:
    app = create_app()
    assert app.config["BABEL_DEFAULT_LOCALE"] == "kk"
    assert app.config["RUN_HOST"] == "127.0.0.1" and app.config["RUN_PORT"] == 8080
    assert db.database_url(app) == f"sqlite:///{instance / 'kiosk.sqlite3'}"
    # a clean clone's `make run`: the simulator, the demo phone on screen, the console gateway
    assert app.config["PORTAL"] == "embedded" and app.config["DEMO"] is True
    assert app.config["SMS_GATEWAY"] == "console"


REAL = {"KIOSK_PORTAL": "http", "KIOSK_PORTAL_URL": "https://portal.example.kz/"}
UNSAFE = [({"KIOSK_DEMO": "true"}, "DEMO"), ({"KIOSK_SMS_GATEWAY": "console"}, "SMS_GATEWAY=console")]


def test_the_real_central_system_alone_turns_off_the_demo_phone_and_the_console(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in REAL.items():
        monkeypatch.setenv(key, value)
    app = create_app()
    assert app.config["DEMO"] is False and app.config["SMS_GATEWAY"] == "portal"
    monkeypatch.delenv("KIOSK_PORTAL")  # the address alone names the real central system
    app = create_app()
    assert app.config["PORTAL"] == "http" and app.config["DEMO"] is False


@pytest.mark.parametrize("layer", ["instance file", "environment", "mapping"])
@pytest.mark.parametrize(("unsafe", "named"), UNSAFE)
def test_the_real_central_system_refuses_the_demo_phone_and_the_console(
    instance: Path, monkeypatch: pytest.MonkeyPatch, layer: str, unsafe: dict[str, str], named: str
) -> None:
    from kiosk.config import ConfigError

    settings = {**REAL, **unsafe}
    mapping = None
    if layer == "instance file":
        instance.mkdir(parents=True)
        lines = [f"{key.removeprefix('KIOSK_')} = {value!r}" for key, value in settings.items()]
        (instance / "config.py").write_text("\n".join(lines).replace("'true'", "True") + "\n")
    elif layer == "environment":
        for key, value in settings.items():
            monkeypatch.setenv(key, value)
    else:
        mapping = {key.removeprefix("KIOSK_"): value for key, value in settings.items()}
    with pytest.raises(ConfigError) as refused:
        create_app(mapping)
    assert named in str(refused.value) and "PORTAL=http" in str(refused.value)


@pytest.mark.parametrize(
    ("written", "demo"), [("false", False), ("False", False), ("no", False), ("0", False), ("TRUE", True)]
)
def test_demo_is_read_strictly_from_an_env_file(
    instance: Path, monkeypatch: pytest.MonkeyPatch, written: str, demo: bool
) -> None:
    monkeypatch.setenv("KIOSK_DEMO", written)  # "False" is not JSON: it arrives as a string
    assert create_app().config["DEMO"] is demo


def test_a_demo_setting_that_is_neither_yes_nor_no_stops_the_start(instance: Path, monkeypatch) -> None:
    from kiosk.config import ConfigError

    monkeypatch.setenv("KIOSK_DEMO", "off-on-weekdays")
    with pytest.raises(ConfigError, match="DEMO"):
        create_app()


def _refused_start(command: list[str], instance: Path, settings: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env.update({"KIOSK_INSTANCE_PATH": str(instance), **settings})
    # were the start not refused, the server would serve until the timeout fails the test
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("unsafe", "named"), UNSAFE)
@pytest.mark.parametrize("how", ["kiosk run", "kiosk sync", "waitress-serve --call kiosk:create_app"])
def test_every_way_to_start_refuses_an_unsafe_real_kiosk_with_the_reason(
    instance: Path, how: str, unsafe: dict[str, str], named: str
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    command = {
        "kiosk run": [sys.executable, "-m", "kiosk.cli", "run", "--port", port],
        "kiosk sync": [sys.executable, "-m", "kiosk.cli", "sync"],
        "waitress-serve --call kiosk:create_app": [
            sys.executable,
            "-m",
            "waitress",
            f"--port={port}",
            "--call",
            "kiosk:create_app",
        ],
    }[how]
    done = _refused_start(command, instance, {**REAL, **unsafe})
    assert done.returncode != 0
    assert named in done.stderr and "PORTAL=http" in done.stderr, done.stderr[-2000:]


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
    from kiosk.domain.catalog import BUNDLED_CATALOG, CatalogError

    instance.mkdir(parents=True)
    text_ = BUNDLED_CATALOG.read_text(encoding="utf-8")
    at = text_.index("legal_basis", text_.index('code = "meals"'))  # drop the meals service's legal basis
    broken = text_[:at] + "legal_basis_gone" + text_[at + len("legal_basis") :]
    (instance / "catalog.toml").write_text(broken, encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        create_app()
    assert "meals" in str(err.value) and "legal_basis" in str(err.value)


def test_site_catalog_in_instance_replaces_the_bundled_one(instance: Path) -> None:
    from kiosk.domain.catalog import BUNDLED_CATALOG

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


def test_help_lists_every_command_even_when_the_catalog_is_broken(instance: Path) -> None:
    """A technician reads `kiosk --help` to find `check-catalog`: it builds no app, so a broken
    catalog does not bury the list under a traceback (and the call costs no app start)."""
    from click.testing import CliRunner

    from kiosk.cli import main

    instance.mkdir(parents=True)
    (instance / "catalog.toml").write_text("version = 'x'\n[[services]]\ncode = 'grade1'\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "Traceback" not in result.output and "Error" not in result.output
    for command in ("check-catalog", "run", "sync", "portal-sim", "staff", "privacy"):
        assert f"  {command} " in result.output


def test_start_up_hashes_nothing_and_loads_no_migration_or_contract_tooling(instance: Path) -> None:
    """Every CLI call and every start pays for what create_app imports and computes: none of an
    argon2 hash (made when an unknown name signs in), Alembic (imported by the commands that
    migrate), openapi-core (the simulator's, at its first request) or the simulator itself (loaded
    by `kiosk run` only when it embeds one, and by `kiosk portal-sim`)."""
    script = (
        "import json, sys, argon2\n"
        "made = []\n"
        "real = argon2.PasswordHasher.hash\n"
        "argon2.PasswordHasher.hash = lambda self, *a, **k: made.append(1) or real(self, *a, **k)\n"
        "from kiosk.cli import main\n"
        "from kiosk import create_app\n"
        "create_app()\n"
        "print(json.dumps({'hashes': len(made), 'loaded': sorted(\n"
        "    m for m in ('alembic', 'openapi_core', 'yaml', 'kiosk.portal_sim') if m in sys.modules)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")} | {"KIOSK_INSTANCE_PATH": str(instance)}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == {"hashes": 0, "loaded": []}


def test_migrating_at_start_logs_the_migrations_not_alembics_plugins(instance: Path) -> None:
    """Alembic is imported after `kiosk run` sets up logging now: its plugin lines stay out."""
    script = (
        "from kiosk import create_app, db\nfrom kiosk.infra import logs\nlogs.configure()\ndb.upgrade(create_app())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")} | {"KIOSK_INSTANCE_PATH": str(instance)}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    log = done.stdout + done.stderr
    assert "Running upgrade" in log and "setup plugin" not in log


def test_an_unknown_name_is_still_checked_against_a_hash(app) -> None:
    """The dummy hash is made on first use, and verifying against it is a real argon2 check."""
    from kiosk.domain import accounts

    with app.app_context(), db.new_session(app) as s:  # the name's throttle is keyed with the app's hash key
        result, user = accounts.authenticate(s, "nobody", "not the password", dt.datetime(2026, 5, 4, tzinfo=dt.UTC))
    assert (result, user) == (accounts.SignIn.WRONG, None)
    assert accounts._dummy_hash().startswith("$argon2id$")


def test_postgresql_without_its_driver_stops_the_start_with_the_install_step(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from kiosk.cli import main

    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` fails as on a terminal without it
    monkeypatch.setenv("KIOSK_DATABASE_URL", "postgresql+psycopg://kiosk@127.0.0.1:1/kiosk")
    with pytest.raises(db.DriverMissing, match=r"psycopg.*pip install -e '\.\[postgres\]'"):
        create_app()
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "psycopg" in result.output and ".[postgres]" in result.output


def test_htmx_served_is_the_pinned_2_0_release(client) -> None:
    from kiosk.web.assets import HTMX_VERSION

    assert HTMX_VERSION.startswith("2.0.")
    with client.get("/vendor/htmx/htmx.min.js") as response:
        assert response.status_code == 200
        assert f'version:"{HTMX_VERSION}"'.encode() in response.data


def _fake_npm(folder: Path, script_body: bytes) -> str:
    """An ``npm`` on PATH whose ``pack`` writes a tarball with this htmx.min.js; its integrity."""
    import base64
    import hashlib
    import io
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as archive:
        for name, data in (("package/dist/htmx.min.js", script_body), ("package/LICENSE", b"0BSD")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    (folder / "htmx.tgz").write_bytes(raw.getvalue())
    npm = folder / "npm"
    npm.write_text(f'#!/bin/sh\ncp "{folder / "htmx.tgz"}" "$4/htmx.tgz"\necho htmx.tgz\n')
    npm.chmod(0o755)
    return "sha512-" + base64.b64encode(hashlib.sha512(raw.getvalue()).digest()).decode()


def test_htmx_is_fetched_only_with_the_pinned_integrity(
    instance: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiosk.web import assets

    integrity = _fake_npm(tmp_path, b'htmx={version:"2.0.99"}')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    folder = tmp_path / "vendor" / "htmx"
    with pytest.raises(assets.AssetsMissing, match="integrity"):  # not the pinned tarball: nothing kept
        assets.fetch_htmx(folder)
    assert not folder.exists()

    monkeypatch.setattr(assets, "HTMX_INTEGRITY", integrity)
    assert assets.fetch_htmx(folder) is True
    assert (folder / "htmx.min.js").read_bytes() == b'htmx={version:"2.0.99"}' and assets.installed(folder)
    assert assets.fetch_htmx(folder) is False  # there already: npm is not asked again

    monkeypatch.setattr(assets, "HTMX_DIR", tmp_path / "empty")
    with pytest.raises(assets.AssetsMissing, match="make run"):
        create_app({"TESTING": True})


@pytest.mark.parametrize("taken", ["RUN_PORT", "SIM_PORT"])
def test_a_taken_port_stops_the_start_with_one_line_not_a_traceback(instance: Path, taken: str) -> None:
    """A second `kiosk run` on the same terminal (found walking the kiosk: a raw traceback): it says
    which port, and starts nothing, neither the simulator nor the worker."""
    with socket.socket() as busy, socket.socket() as free:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        free.bind(("127.0.0.1", 0))
        ports = {taken: busy.getsockname()[1]}
        other = "SIM_PORT" if taken == "RUN_PORT" else "RUN_PORT"
        ports[other] = free.getsockname()[1]
        free.close()  # a port known to be free a moment ago
        env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")} | {
            "KIOSK_INSTANCE_PATH": str(instance),
            **{f"KIOSK_{name}": str(port) for name, port in ports.items()},
        }
        done = subprocess.run(
            [sys.executable, "-m", "kiosk.cli", "run"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "kiosk: not starting: cannot listen on" in done.stderr and f"({taken})" in done.stderr
    assert "Sync worker running" not in done.stdout and "Kiosk on" not in done.stdout
