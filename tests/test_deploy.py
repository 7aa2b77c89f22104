"""deploy/: the units pass systemd-analyze, the nginx site passes nginx -t and serves the kiosk over
TLS, the Chromium policy allows only the kiosk's origin, the launcher starts Chromium in kiosk mode.

The tools run where they are installed; under CI=true a missing one fails (`.ci/run` installs
systemd and nginx), elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from fixtures import missing
from fixtures.tls import self_signed
from kiosk import ROOT, create_app

DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
CHROMIUM_DIR = DEPLOY / "chromium"
ORIGIN = "https://kiosk.school.example"
KIOSK_BIN = "/opt/kiosk/.venv/bin/kiosk"
INSTANCE = "/var/lib/kiosk"
SERVICES = ["kiosk.service", "kiosk@.service", "kiosk-sync@.service", "kiosk-backup.service"]
KIOSK_FLAGS = [
    "--kiosk",
    "--kiosk-printing",
    "--incognito",
    "--noerrdialogs",
    "--disable-session-crashed-bubble",
    "--no-first-run",
    "--disable-pinch",
    "--overscroll-history-navigation=0",
]


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if not path:
        missing(f"{name} not found (apt-get install -y {package})")
    return path


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections, each key with all its values (systemd allows a key many times)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in (SYSTEMD / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stub_kiosk(tmp_path: Path) -> Path:
    """An executable where the units expect /opt/kiosk's, so verify can check the rest."""
    stub = tmp_path / "bin" / "kiosk"
    stub.parent.mkdir(parents=True, exist_ok=True)
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    return stub


# systemd ---------------------------------------------------------------------------------------


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", "systemd")
    units = tmp_path / "units"
    units.mkdir()
    stub = stub_kiosk(tmp_path)
    for path in SYSTEMD.iterdir():
        (units / path.name).write_text(path.read_text().replace(KIOSK_BIN, str(stub)))
    names = [
        "kiosk.service",
        "kiosk@8081.service",
        "kiosk-sync@1.service",
        "kiosk-backup.service",
        "kiosk-backup.timer",
    ]
    getty = Path("/lib/systemd/system/getty@.service")
    if getty.exists():  # the autologin drop-in, on Debian's own getty unit
        shutil.copy(getty, units / getty.name)
        dropin = units / "getty@tty1.service.d"
        dropin.mkdir()
        shutil.copy(CHROMIUM_DIR / "getty-autologin.conf", dropin / "autologin.conf")
        names.append("getty@tty1.service")
    done = subprocess.run(
        [analyze, "verify", *names],
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{units}:"},  # ours first, then the system's
        capture_output=True,
        text=True,
        timeout=120,
    )
    ours = [line for line in (done.stdout + done.stderr).splitlines() if re.search(r"kiosk|getty", line)]
    assert done.returncode == 0 and not ours, done.stdout + done.stderr  # warnings count as failures


@pytest.mark.parametrize("name", SERVICES)
def test_services_are_hardened(name: str, tmp_path: Path) -> None:
    service = unit(name)["Service"]
    one = {key: values[-1] for key, values in service.items()}
    assert one["User"] == "kiosk" and one["Group"] == "kiosk"
    assert one["ProtectSystem"] == "strict" and one["ProtectHome"] == "yes"
    assert one["NoNewPrivileges"] == "yes" and one["PrivateTmp"] == "yes" and one["PrivateDevices"] == "yes"
    assert one["CapabilityBoundingSet"] == "" and one["UMask"] == "0077"
    assert one["MemoryDenyWriteExecute"] == "yes"
    assert INSTANCE in one["ReadWritePaths"].split()
    assert f"KIOSK_INSTANCE_PATH={INSTANCE}" in one["Environment"].split()
    assert one["EnvironmentFile"] == "/etc/kiosk/kiosk.env"
    if name != "kiosk-backup.service":
        assert one["Restart"] == "on-failure"

    analyze = tool("systemd-analyze", "systemd")
    copy = tmp_path / name.replace("@.", "@1.")
    copy.write_text((SYSTEMD / name).read_text().replace(KIOSK_BIN, str(stub_kiosk(tmp_path))))
    done = subprocess.run(
        [analyze, "security", "--offline=true", "--no-pager", str(copy)], capture_output=True, text=True, timeout=120
    )
    level = re.search(r"Overall exposure level for \S+: ([\d.]+)", done.stdout)
    assert level, done.stdout + done.stderr
    assert float(level.group(1)) <= 2.0, done.stdout  # systemd calls under 2 "OK"; it was 1.3


def test_server_leaves_sync_to_the_worker_units() -> None:
    (server,) = unit("kiosk.service")["Service"]["ExecStart"]
    assert server.split()[-2:] == [KIOSK_BIN, "run"] and "KIOSK_SYNC_IN_PROCESS=false" in server.split()
    (worker,) = unit("kiosk-sync@.service")["Service"]["ExecStart"]
    assert worker.startswith(f"{KIOSK_BIN} sync") and "%i" in worker  # one id per worker instance
    (backup,) = unit("kiosk-backup.service")["Service"]["ExecStart"]
    assert backup.startswith(f"{KIOSK_BIN} backup")
    assert "/var/backups/kiosk" in unit("kiosk-backup.service")["Service"]["ReadWritePaths"][0].split()
    assert unit("kiosk-backup.timer")["Timer"]["Persistent"] == ["true"]


def test_a_further_server_is_the_first_on_its_own_port() -> None:
    """kiosk@PORT.service: a district server's further processes are kiosk.service but for the port."""
    first = (SYSTEMD / "kiosk.service").read_text()
    further = (SYSTEMD / "kiosk@.service").read_text()
    (exec_start,) = unit("kiosk@.service")["Service"]["ExecStart"]
    assert exec_start.split()[-4:] == [KIOSK_BIN, "run", "--port", "%i"]
    assert "KIOSK_SYNC_IN_PROCESS=false" in exec_start.split()

    def body(text: str) -> list[str]:
        return [
            line
            for line in text.splitlines()
            if line.strip() and not line.startswith(("#", "ExecStart=", "Description="))
        ]

    assert body(further) == body(first)
    upstream = re.search(r"upstream kiosk_app \{(.*?)\}", (DEPLOY / "nginx" / "kiosk.conf").read_text(), re.S)
    assert upstream and "server 127.0.0.1:8080;" in upstream.group(1)


def env_example() -> dict[str, str]:
    settings = {}
    for line in (DEPLOY / "kiosk.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings[key] = value
    return settings


def test_env_example_builds_the_app_it_describes(instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = env_example()
    assert "KIOSK_SYNC_IN_PROCESS" not in settings  # kiosk.service sets it; the file must not undo it
    assert settings["KIOSK_INSTANCE_PATH"] == INSTANCE
    for key, value in settings.items():
        if key != "KIOSK_INSTANCE_PATH":  # the test's own instance folder stays
            monkeypatch.setenv(key, value)
    app = create_app()
    for key in settings:
        assert key.removeprefix("KIOSK_") in app.config or key == "KIOSK_INSTANCE_PATH", f"{key} is no setting"
    assert app.config["LOG_FORMAT"] == "json" and app.config["DEMO"] is False
    assert app.config["RUN_PORT"] == 8080 and app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["TRUSTED_PROXIES"] == 1  # nginx, and only nginx, in front
    assert app.config["PUBLIC_URL"].startswith(ORIGIN + "/")


@pytest.mark.parametrize("left_out", [k for k in env_example() if k != "KIOSK_INSTANCE_PATH"])
def test_an_env_file_missing_any_one_line_never_shows_a_code_on_screen(
    instance: Path, monkeypatch: pytest.MonkeyPatch, left_out: str
) -> None:
    """A site's file that lost a line either starts as a real kiosk or does not start: no demo phone."""
    from kiosk.config import ConfigError

    for key, value in env_example().items():
        if key not in (left_out, "KIOSK_INSTANCE_PATH"):
            monkeypatch.setenv(key, value)
    try:
        app = create_app()
    except ConfigError as refused:
        assert left_out.removeprefix("KIOSK_") in str(refused)  # the reason names what is missing
        return
    assert app.config["PORTAL"] == "http" and app.config["DEMO"] is False
    assert app.config["SMS_GATEWAY"] == "portal"


# nginx -----------------------------------------------------------------------------------------


def nginx_prefix(tmp_path: Path, site: str) -> Path:
    """The site inside a minimal nginx.conf whose every path (pid, logs, temp) is in tmp_path."""
    cert, key = self_signed(tmp_path, "kiosk.school.example")
    site = site.replace("/etc/ssl/kiosk/fullchain.pem", str(cert)).replace("/etc/ssl/kiosk/privkey.pem", str(key))
    (tmp_path / "site.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {tmp_path / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers that can read the test's 0700 folder
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"{user}pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\n"
        f"http {{\n    access_log {tmp_path / 'access.log'};\n{temp}\n    include {tmp_path / 'site.conf'};\n}}\n"
    )
    return conf


def test_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    nginx = tool("nginx", "nginx")
    conf = nginx_prefix(tmp_path, (DEPLOY / "nginx" / "kiosk.conf").read_text())
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "test is successful" in done.stderr, done.stderr


def test_nginx_body_limit_is_the_apps(app) -> None:
    site = (DEPLOY / "nginx" / "kiosk.conf").read_text()
    (size,) = re.findall(r"client_max_body_size (\d+)m;", site)
    assert int(size) * 1024 * 1024 == app.config["RUN_MAX_BODY"] > app.config["MAX_CONTENT_LENGTH"]
    assert re.search(r'add_header Strict-Transport-Security "max-age=\d{8,}" always;', site)
    assert urlsplit(ORIGIN).hostname in re.findall(r"server_name ([^;]+);", site)


@pytest.fixture
def kiosk_behind_proxy(instance: Path) -> Iterator[str]:
    """The kiosk as kiosk.env.example configures it for nginx: it trusts one proxy's X-Forwarded-*."""
    from kiosk import db
    from kiosk.portal_sim.server import ServerThread

    app = create_app({"TESTING": True, "PORTAL": "demo", "TRUSTED_PROXIES": 1})
    db.upgrade(app)
    with ServerThread(app, threads=4) as served:
        yield served.url
    db.engine(app).dispose()


@pytest.fixture
def nginx_in_front(kiosk_behind_proxy: str, tmp_path: Path) -> Iterator[tuple[int, int]]:
    """nginx on free ports with the site as written but for its ports, proxying to the kiosk."""
    nginx = tool("nginx", "nginx")
    live_server = kiosk_behind_proxy
    http_port, https_port = free_port(), free_port()
    site = (DEPLOY / "nginx" / "kiosk.conf").read_text()
    for old, new in [
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", ""),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{urlsplit(live_server).port};"),
    ]:
        assert old in site, f"the site no longer has {old!r}: update this test"
        site = site.replace(old, new)
    conf = nginx_prefix(tmp_path, site)
    server = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"nginx did not start: {(tmp_path / 'error.log').read_text()}") from None
                time.sleep(0.1)
        yield http_port, https_port
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_nginx_serves_the_kiosk_over_tls_with_hsts_and_the_body_limit(nginx_in_front: tuple[int, int]) -> None:
    http_port, https_port = nginx_in_front
    host = {"Host": "kiosk.school.example"}
    with httpx.Client(verify=False, timeout=30) as client:
        moved = client.get(f"http://127.0.0.1:{http_port}/healthz", headers=host)
        assert moved.status_code == 301 and moved.headers["location"] == "https://kiosk.school.example/healthz"

        base = f"https://127.0.0.1:{https_port}"
        health = client.get(f"{base}/healthz", headers=host)
        assert health.status_code == 200 and health.json()["database"] == "ok"
        # one HSTS header, nginx's: the app's own (it sees HTTPS through X-Forwarded-Proto) is dropped
        assert health.headers.get_list("strict-transport-security") == ["max-age=63072000"]
        assert "nginx/" not in health.headers.get("server", "")  # server_tokens off

        # compressed, whether the kiosk did it (its pages, static files) or nginx (the JSON of /healthz)
        gzip = {**host, "Accept-Encoding": "gzip"}
        page = client.get(f"{base}/ru/services", headers=gzip)
        assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
        assert "<html" in page.text  # httpx undoes the gzip
        css = client.get(f"{base}/static/css/kiosk.css", headers=gzip)
        assert css.status_code == 200 and css.headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in css.headers["vary"]

        limit = 64 * 1024 * 1024
        too_big = client.post(f"{base}/healthz", headers=host, content=b"x" * (limit + 1))
        assert too_big.status_code == 413  # refused by nginx, before the app
        within = client.post(f"{base}/healthz", headers=host, content=b"x" * (limit - 1024))
        assert within.status_code == 405  # through to the app, which takes no POST there


# Chromium --------------------------------------------------------------------------------------


def chromium_binary() -> Path | None:
    for candidate in (os.environ.get("KIOSK_TEST_CHROMIUM_BINARY"), "/usr/lib/chromium/chromium"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


NCALAYER = "wss://127.0.0.1:13579"  # kiosk/config.py NCALAYER_URL


def test_policy_allows_only_the_kiosks_origin() -> None:
    policy = json.loads((CHROMIUM_DIR / "policy.json").read_text())
    # the kiosk's origin, and NCALayer on the terminal itself (ЭЦҚ), which only that origin may reach
    assert policy["URLAllowlist"] == [ORIGIN, NCALAYER]
    assert policy["LocalNetworkAccessAllowedForUrls"] == [ORIGIN]
    assert policy["URLBlocklist"][0] == "*"
    assert all(entry.startswith(ORIGIN + "/") for entry in policy["URLBlocklist"][1:])
    assert f"{ORIGIN}/staff" in policy["URLBlocklist"]  # the staff console is not on the public screen
    urls = [v for value in policy.values() for v in (value if isinstance(value, list) else [value])]
    assert all(u.startswith(ORIGIN) or u == NCALAYER for u in urls if isinstance(u, str) and "://" in u)
    assert policy["DeveloperToolsAvailability"] == 2  # disallowed
    assert policy["IncognitoModeAvailability"] == 2  # forced
    assert policy["DownloadRestrictions"] == 3  # no downloads
    assert policy["AllowFileSelectionDialogs"] is False and policy["VideoCaptureAllowedUrls"] == [ORIGIN]
    assert policy["PrintingEnabled"] is True and policy["PrintPreviewUseSystemDefaultPrinter"] is True


def test_policy_names_are_ones_the_installed_chromium_knows() -> None:
    binary = chromium_binary()
    if binary is None:
        missing("Chromium's binary not found at /usr/lib/chromium/chromium (apt-get install -y chromium)")
    names = json.loads((CHROMIUM_DIR / "policy.json").read_text())
    with binary.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as image:
        unknown = [name for name in names if image.find(b"\0" + name.encode() + b"\0") < 0]
    assert not unknown, f"not policies of this Chromium (a typo, or renamed): {unknown}"


def test_launcher_starts_chromium_in_kiosk_mode_on_the_kiosk(live_server: str, tmp_path: Path) -> None:
    launcher = CHROMIUM_DIR / "kiosk-browser"
    assert subprocess.run(["bash", "-n", str(launcher)], capture_output=True).returncode == 0
    assert os.access(launcher, os.X_OK)
    script = launcher.read_text()
    for flag in KIOSK_FLAGS:
        assert re.search(rf"^\s*{re.escape(flag)}(\s|$)", script, re.M), f"{flag} missing"
    assert f"KIOSK_URL:-{ORIGIN}/" in script

    # Run it with a stand-in for Chromium that writes down how it was called
    record = tmp_path / "args"
    fake = tmp_path / "chromium"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    fake.chmod(0o755)
    runtime = tmp_path / "run"
    (runtime / "kiosk-browser").mkdir(parents=True)
    (runtime / "kiosk-browser" / "Local State").write_text("an earlier visitor's profile")
    subprocess.run(  # /healthz answers at once: a launcher waiting out its two minutes times out here
        ["bash", str(launcher)],
        env={**os.environ, "CHROMIUM": str(fake), "KIOSK_URL": live_server, "XDG_RUNTIME_DIR": str(runtime)},
        check=True,
        timeout=60,
    )
    args = record.read_text().splitlines()
    assert args[-1] == live_server
    for flag in KIOSK_FLAGS:
        assert flag in args
    profile = runtime / "kiosk-browser"
    assert f"--user-data-dir={profile}" in args
    assert list(profile.iterdir()) == []  # a new, empty profile on every start
    assert stat.S_IMODE(profile.stat().st_mode) == 0o700


def test_session_scripts_parse_and_start_the_launcher() -> None:
    xinitrc = CHROMIUM_DIR / "xinitrc"
    assert subprocess.run(["sh", "-n", str(xinitrc)], capture_output=True).returncode == 0
    assert "/usr/local/bin/kiosk-browser" in xinitrc.read_text() and "xset -dpms" in xinitrc.read_text()
    admin = DEPLOY / "kiosk-admin"
    assert subprocess.run(["bash", "-n", str(admin)], capture_output=True).returncode == 0
    assert os.access(admin, os.X_OK)
    text = admin.read_text()
    assert "--uid=kiosk" in text and "EnvironmentFile=" in text and KIOSK_BIN in text


def test_deploy_files_name_no_path_of_this_machine() -> None:
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            text = path.read_text()
            # this checkout's own folder and the home of whoever runs the tests, as found now
            for forbidden in (f"{ROOT}/", f"{Path.home()}/"):
                assert forbidden not in text, f"{path.relative_to(ROOT)} names {forbidden}"
