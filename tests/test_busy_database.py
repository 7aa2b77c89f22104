"""A busy database: a visitor's request waits for the other writer, or gets "try again", never a 500.

The other writer is real: a second connection to the same database (as another terminal's server,
the sync worker or a backup would be) holding the write lock while the visitor's request writes.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, text

from fixtures.flows import CARD, child_iin, demo_code, meals, soup, token
from kiosk import create_app, db
from kiosk.models import Visit

ANSWERS = meals(child_iin(dt.date(2016, 9, 9)))


def make_app(instance: Path, clock, busy_timeout_ms: int, **extra) -> Flask:
    # errors answered as in production (a test app would raise them into the test instead)
    app = create_app(
        {
            "TESTING": True,
            "PROPAGATE_EXCEPTIONS": False,
            "CLOCK": clock,
            "PORTAL": "demo",
            "SQLITE_BUSY_TIMEOUT_MS": busy_timeout_ms,
            **extra,
        }
    )
    db.upgrade(app)
    return app


@pytest.fixture
def impatient(instance: Path, clock) -> Iterator[Flask]:
    """A kiosk whose writers wait only 0.3 s for the database (the default is 5 s)."""
    app = make_app(instance, clock, 300)
    yield app
    db.engine(app).dispose()


@contextmanager
def other_writer(app: Flask) -> Iterator[sqlite3.Connection]:
    """Another process's connection, holding SQLite's write lock with a row of its own uncommitted."""
    conn = sqlite3.connect(db.engine(app).url.database, isolation_level=None, timeout=10)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR REPLACE INTO sync_state (key, value) VALUES ('other-writer', 'kept')")
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")
        conn.close()


def identified(client, lang: str = "ru") -> None:
    client.get(f"/{lang}/identify?service=meals")
    client.post(f"/{lang}/identify/card", data={"mrz": CARD, "csrf_token": token(client, f"/{lang}/identify")})
    code = demo_code(client, f"/{lang}/identify/code")
    done = client.post(
        f"/{lang}/identify/code", data={"code": code, "csrf_token": token(client, f"/{lang}/identify/code")}
    )
    assert done.headers["Location"].endswith(f"/{lang}/identify/done")


def kept_by_the_other_writer(app: Flask) -> str | None:
    with db.engine(app).connect() as conn:
        return conn.execute(text("SELECT value FROM sync_state WHERE key = 'other-writer'")).scalar()


def test_a_visitor_write_waits_for_the_other_writer_and_goes_through(instance: Path, clock) -> None:
    app = make_app(instance, clock, 30_000)  # a long wait allowed: the other writer ends first
    client = app.test_client()
    identified(client)
    csrf = token(client, "/ru/apply/form")
    answered = {}
    with other_writer(app):
        visitor = threading.Thread(
            target=lambda: answered.update(r=client.post("/ru/apply/form", data={**ANSWERS, "csrf_token": csrf}))
        )
        visitor.start()
        time.sleep(0.5)  # the visitor's request meets the lock (if it gets there later, it simply passes)
    visitor.join(60)
    assert answered["r"].status_code == 302, soup(answered["r"]).select_one("h1")
    assert soup(client.get("/ru/apply/form")).select_one('input[name="child_name"]')["value"] == "Иванова Мария"
    assert kept_by_the_other_writer(app) == "kept"
    db.engine(app).dispose()


@pytest.mark.parametrize(("lang", "busy"), [("ru", "Терминал сейчас занят"), ("kk", "Терминал қазір бос емес")])
def test_a_write_lock_held_too_long_gets_try_again_in_the_visitors_language(
    impatient: Flask, caplog: pytest.LogCaptureFixture, lang: str, busy: str
) -> None:
    client = impatient.test_client()
    identified(client, lang)
    form_page = f"http://localhost/{lang}/apply/form"
    csrf = token(client, f"/{lang}/apply/form")
    with other_writer(impatient):
        page = client.post(f"/{lang}/apply/form", data={**ANSWERS, "csrf_token": csrf}, headers={"Referer": form_page})
        html = soup(page)
        assert page.status_code == 503 and page.headers["Retry-After"] == "5"
        assert html.select_one("h1").get_text() == busy
        assert html.select_one("[data-again]")["href"] == f"/{lang}/apply/form"  # back to the form it came from
        assert html.select_one("[data-idle]") is not None  # the idle reset still takes the page away
        assert html.select_one("html")["lang"] == lang
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], "no traceback, no error"
    # the other writer's row and the visit as it was (still identified) are there; the step works now
    assert kept_by_the_other_writer(impatient) == "kept"
    again = client.get(html.select_one("[data-again]")["href"])
    assert again.status_code == 200 and soup(again).select_one('input[name="child_name"]') is not None
    done = client.post(f"/{lang}/apply/form", data={**ANSWERS, "csrf_token": token(client, f"/{lang}/apply/form")})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/{lang}/apply/attachments")


def test_every_kind_of_write_meets_the_busy_page_not_a_500(impatient: Flask) -> None:
    """A write in the view (the code), in the visit's save (language, identify), and the first visit."""
    client = impatient.test_client()
    with other_writer(impatient):
        first = client.get("/ru/start", follow_redirects=False)  # a new visit: its row is written
        assert first.status_code == 503
    client.get("/ru/start")
    client.get("/ru/identify?service=meals")
    with other_writer(impatient):
        card = client.post("/ru/identify/card", data={"mrz": CARD, "csrf_token": token(client, "/ru/identify")})
        assert card.status_code == 503
    client.post("/ru/identify/card", data={"mrz": CARD, "csrf_token": token(client, "/ru/identify")})
    code = demo_code(client, "/ru/identify/code")
    csrf = token(client, "/ru/identify/code")
    with other_writer(impatient):
        assert client.post("/ru/identify/code", data={"code": code, "csrf_token": csrf}).status_code == 503
    done = client.post("/ru/identify/code", data={"code": code, "csrf_token": token(client, "/ru/identify/code")})
    assert done.headers["Location"].endswith("/ru/identify/done")  # the code was not burnt by the busy try


def test_reading_pages_and_the_idle_reset_work_while_another_writer_holds_the_lock(impatient: Flask, clock) -> None:
    client = impatient.test_client()
    identified(client)
    client.get("/ru/apply/form")  # the draft begins (a write)
    clock.now += dt.timedelta(seconds=30)  # the visit is due to be noted alive (a small write)
    with other_writer(impatient):
        assert client.get("/ru/services").status_code == 200
        assert client.get("/ru/apply/form").status_code == 200
        reset = client.post("/reset")  # the screen goes back to Welcome and the browser forgets the visit
        assert reset.status_code == 303 and reset.headers["Location"].endswith("/")
        assert "kiosk_visit=;" in reset.headers["Set-Cookie"] and reset.headers["Clear-Site-Data"]
    assert client.get("/ru/apply/form").status_code == 302  # nothing of the visit is left to show


def test_sqlite_writers_begin_immediate_and_wait_their_turn(impatient: Flask) -> None:
    """No read transaction is ever upgraded to a write one (that gets SQLITE_BUSY at once)."""
    with db.new_session(impatient) as s:
        s.scalars(select(Visit)).all()
        raw = s.connection().connection.driver_connection
        assert raw.isolation_level == "IMMEDIATE" and not raw.in_transaction  # reading began nothing
        s.execute(text("UPDATE sync_state SET value = value WHERE key = 'none'"))
        assert raw.in_transaction
        s.commit()


@pytest.mark.postgres
def test_postgresql_lock_timeout_gets_the_same_page(pg_database: str, instance: Path, clock) -> None:
    """PostgreSQL waits for a row lock as long as the site's lock_timeout (here 300 ms), then "try again"."""
    from sqlalchemy import create_engine

    url = pg_database + "?options=-c%20lock_timeout%3D300"
    app = make_app(instance, clock, 300, DATABASE_URL=url)
    client = app.test_client()
    identified(client)
    csrf = token(client, "/ru/apply/form")
    other = create_engine(pg_database)
    with other.connect() as conn:
        conn.execute(text("SELECT id FROM visits FOR UPDATE"))  # the visit's row, held by another transaction
        page = client.post(
            "/ru/apply/form",
            data={**ANSWERS, "csrf_token": csrf},
            headers={"Referer": "http://localhost/ru/apply/form"},
        )
        assert page.status_code == 503 and soup(page).select_one("h1").get_text() == "Терминал сейчас занят"
        conn.rollback()
    done = client.post("/ru/apply/form", data={**ANSWERS, "csrf_token": token(client, "/ru/apply/form")})
    assert done.status_code == 302
    other.dispose()
    db.engine(app).dispose()
