"""Shared fixtures: an app on a temporary instance, a movable clock, PostgreSQL and the browser.

Under CI=true a missing PostgreSQL or Chromium fails the run instead of skipping it, so a green
CI means those tests really ran.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import settings

from kiosk import create_app, db
from scratch import scratch_database

# Property tests must not fail on a slow CI machine for being slow: no per-example deadline
settings.register_profile("kiosk", deadline=None, print_blob=True)
settings.load_profile("kiosk")

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = os.environ.get("KIOSK_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"


def missing(reason: str) -> None:
    """Skip on a laptop; fail in CI, where everything must be present."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


class Clock:
    """A clock the test moves by hand; the app reads it through CLOCK."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def set_local(self, year: int, month: int, day: int, hour: int = 12) -> None:
        """Set the time from an Asia/Almaty wall clock."""
        from kiosk.clock import ALMATY

        self.now = dt.datetime(year, month, day, hour, tzinfo=ALMATY).astimezone(dt.UTC)


@pytest.fixture
def clock() -> Clock:
    c = Clock(dt.datetime(2026, 5, 4, 6, 0, tzinfo=dt.UTC))
    return c


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "instance"
    monkeypatch.setenv("KIOSK_INSTANCE_PATH", str(path))
    for name in list(os.environ):  # a developer's own settings must not leak into tests
        if name.startswith("KIOSK_") and name not in (
            "KIOSK_INSTANCE_PATH",
            "KIOSK_TEST_DATABASE_URL",
            "KIOSK_TEST_CHROMIUM",
        ):
            monkeypatch.delenv(name)
    return path


@pytest.fixture
def app(instance: Path, clock: Clock) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "CLOCK": clock, "PORTAL": "demo"})
    db.upgrade(app)
    yield app
    db.engine(app).dispose()


@pytest.fixture
def client(app: Flask):
    return app.test_client()


@pytest.fixture
def pg_url() -> str:
    url = os.environ.get("KIOSK_TEST_DATABASE_URL")
    if not url:
        missing("KIOSK_TEST_DATABASE_URL is not set (a PostgreSQL for tests)")
    return url


@pytest.fixture
def pg_database(pg_url: str) -> Iterator[str]:
    with scratch_database(pg_url) as url:
        yield url


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served by waitress on a free port, over real HTTP."""
    from kiosk.portal_sim.server import ServerThread

    with ServerThread(app, threads=4) as served:
        yield served.url


@pytest.fixture(scope="session")
def chromium():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        missing(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """Where a test keeps its screenshots (tests/artifacts/<test name>/, ignored by git)."""
    path = ARTIFACTS / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path
