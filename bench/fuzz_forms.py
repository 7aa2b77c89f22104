"""Stray requests on every route, with every body kind, in every session state: 0 answers of 500.

The routes come from the app's own ``url_map`` (a route added tomorrow is fuzzed tomorrow), their
arguments from what the pages link to (harvested by crawling each state) and from hostile values,
the form fields from the forms the pages show. Each request is one route and method, one session
state and one body kind, walked as a shuffled product so that every combination comes round:

- session states, each built through the real flow (``tests/fixtures/flows.py``, the Flask test client on
  the same app and database), then used by its cookie: none (no cookie), code (identifying, the
  SMS code not typed yet), identified, signing (form filled, consent given, the signing code sent),
  receipt (an application signed), ended (the cookie of a visit that was finished), staff (signed
  in through the sign-in page);
- body kinds: none; urlencoded (well formed); urlencoded with broken percent-encodings and broken
  UTF-8; multipart (text parts); multipart with file parts in text fields; multipart with nameless
  parts; multipart with broken UTF-8, odd charsets and odd part headers; broken multipart (no or a
  wrong boundary, truncated); JSON (huge numbers 2^63, 2^64, -1, 1e309, NaN, Infinity, nesting,
  not an object); other content types. A valid CSRF token rides along (in the body, in the
  ``X-CSRFToken`` header, or both) most of the time, so the forms behind the check are reached.
- values: the hostile ones below, huge numbers, dates, real IINs and codes; ids in the address
  from the rows that exist up to 2^64 and beyond; addresses with broken percent-encodings.

A fifth of the draws (``DEEP_SHARE``) are deep instead: a form the state's pages show, filled as a
person would (the options of a choice, a valid IIN, a decimal, a name: learnt from the inputs'
attributes) but for one or two hostile answers, posted with the token, then its page loaded
again, so an answer that is saved but cannot be shown again is found too.

The requests go over real HTTP to waitress (the production server, in a thread of this process,
serving the same app object), one connection per request, so every body arrives as the bytes
written here. The app's log records are captured: a record with a traceback or at ERROR counts,
like an answer of 500 or no answer at all. The states are built anew every ``--rebuild-every``
requests, after the app's clock has moved on an hour (SMS limits of the hour start again; the old
visits expire).

Usage: .venv/bin/python bench/fuzz_forms.py [--requests 10000] [--seed 1] [--postgres URL] [--json FILE]
``tests/test_fuzz_forms.py`` runs a few hundred requests with a fixed seed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import io
import json
import logging
import os
import random
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bs4 import BeautifulSoup  # noqa: E402
from werkzeug.exceptions import HTTPException  # noqa: E402
from werkzeug.routing import PathConverter, RequestRedirect  # noqa: E402
from werkzeug.routing.converters import NumberConverter  # noqa: E402

from fixtures import flows  # noqa: E402
from fixtures.app import Clock  # noqa: E402
from fixtures.scratch import scratch_database  # noqa: E402

STATES = ("none", "code", "identified", "signing", "receipt", "ended", "staff")
KINDS = (
    "none",
    "urlencoded",
    "urlencoded-broken",
    "multipart",
    "multipart-files-in-text",
    "multipart-nameless",
    "multipart-odd",
    "multipart-broken",
    "json",
    "other-type",
)
LANGS = ("kk", "ru", "en")
ENDINGS = (".logout", ".finish", ".reset")  # forms that end the state itself: left to the plain draws
DEEP_SHARE = 0.2  # of the draws: a form of the state, posted nearly as a person would, then its page again
STAFF_PASSWORD = "fuzz the forms, not the staff"

HUGE = [2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30, 10**400]
NUMBERS = [*(str(n) for n in HUGE), "0", "-0", "1", "-1", f"-{2**63}", f"-{2**64}", "00000000000000000001"]
NUMBERS += ["1e309", "-1e309", "1e-400", "NaN", "nan", "sNaN", "-NaN", "inf", "Infinity", "-Infinity"]
NUMBERS += ["12,5", "12.5", "0x1F", "1_000", "٣", "１２３", "1e2", " 7 ", "+5", "12.50.1", "9" * 400]
HOSTILE: list[str] = [
    "",
    " ",
    "\x00",
    "\r\n",
    "0" * 5000,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%s%n%x",
    "{{7*7}}",
    "\u202e",
    "\ufeff",
    "\U0001f600",
    "Ё Һ Ә-ұ'қ",
    "../../../etc/passwd",
    "y",
    "on",
    "true",
    "false",
    "null",
    "[]",
    "880412412349",
    "790630345672",
    "200303500110",
    "000000000000",
    "123456",
    "1234567",
    "7KP-Q4X-9MZ",
    "7kp q4x 9mz",
    "2026-05-04",
    "2026-13-45",
    "0001-01-01",
    "9999-12-31",
    "2026-05-04T06:00:00_9223372036854775808",
    "2026-05-04T06:00:00+05:00_1",
    "kk",
    "ru",
    "en",
    "meals",
    "asp",
    *NUMBERS,
]
BROKEN_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]
BROKEN_ESCAPES = ["%", "%z", "%zz", "%ff", "%fe%ff", "%c3%28", "%ed%a0%80", "%00", "%%", "%2", "%u0041", "%C0%AF"]
SIGNATURES = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"%PDF-", b"GIF89a", b"PK\x03\x04"]
CHARSETS = ["utf-8", "utf-16", "latin-1", "bogus", "cp1251", "", '"utf-8"']


# --- the app, its clock and its log ----------------------------------------------------------------


class LogTrap(logging.Handler):
    """Every record with a traceback, and every record at ERROR or above, from any logger."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.tracebacks: list[str] = []
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info:
            self.tracebacks.append(f"{text}\n{self.format(record)}")
        elif record.levelno >= logging.ERROR:
            self.errors.append(text)


@contextlib.contextmanager
def trapped_logs() -> Iterator[LogTrap]:
    trap = LogTrap()
    trap.setFormatter(logging.Formatter())
    root = logging.getLogger()
    root.addHandler(trap)
    old_hook = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:  # an exception that ends a server thread
        trap.tracebacks.append(f"thread {args.thread.name if args.thread else '?'}: {args.exc_type.__name__}")

    threading.excepthook = hook
    try:
        yield trap
    finally:
        threading.excepthook = old_hook
        root.removeHandler(trap)


def make_app(instance: Path, database_url: str | None, clock: Clock) -> Any:
    """The kiosk as ``kiosk run`` makes it (demo portal and phone), on its own instance folder."""
    from kiosk import create_app, db

    os.environ["KIOSK_INSTANCE_PATH"] = str(instance)
    config: dict[str, Any] = {"CLOCK": clock, "PORTAL": "demo", "DEMO": True, "SMS_GATEWAY": "console"}
    if database_url:
        config["DATABASE_URL"] = database_url
    app = create_app(config)
    db.upgrade(app)
    return app


# --- what the pages show: route arguments, query keys, form fields, CSRF tokens ----------------------


@dataclass
class Harvest:
    args: dict[str, set[str]] = field(default_factory=dict)  # route argument -> values seen in links
    query: dict[str, set[str]] = field(default_factory=dict)  # endpoint -> query keys seen in links
    fields: dict[str, set[str]] = field(default_factory=dict)  # endpoint -> form field names
    all_fields: set[str] = field(default_factory=set)
    # field name -> what a person would put there: the options of a choice, or the kind of text the
    # input asks for by its attributes (iin, code, decimal, card, text)
    plausible: dict[str, set[str]] = field(default_factory=dict)
    # session state -> the forms its pages show: (endpoint, where it posts, the page it is on)
    forms: dict[str, set[tuple[str, str, str]]] = field(default_factory=dict)
    pages: int = 0

    def page(self, app: Any, url: str, html: str, state: str | None = None) -> list[str]:
        """Note what one page links to and asks for; return the GET links to follow."""
        self.pages += 1
        adapter = app.url_map.bind("localhost")
        soup = BeautifulSoup(html, "html.parser")
        follow = []
        for tag in soup.select("a[href], link[href], script[src], img[src], [hx-get], [data-href]"):
            href = tag.get("href") or tag.get("src") or tag.get("hx-get") or tag.get("data-href")
            matched = self._match(adapter, href, "GET")
            if matched is not None:
                follow.append(href)
        for form in soup.select("form"):
            method = (form.get("method") or "GET").upper()
            action = form.get("action") or form.get("hx-post") or url
            matched = self._match(adapter, action, method)
            names = {el.get("name") for el in form.select("[name]")} - {None}
            self.all_fields |= names
            for el in form.select("input[name], textarea[name], select[name]"):
                self.plausible.setdefault(el["name"], set()).update(self._plausible(el))
            if matched is not None:
                self.fields.setdefault(matched, set()).update(names)
                if state is not None and method == "POST":
                    self.forms.setdefault(state, set()).add((matched, urlsplit(action).path, url))
        return follow

    @staticmethod
    def _plausible(el: Any) -> set[str]:
        kind = (el.get("type") or "text").lower()
        if kind in ("radio", "checkbox"):
            return {el.get("value") or "y"}
        if kind in ("hidden", "submit", "file"):
            return set()
        if el.name == "select":
            return {o.get("value", "") for o in el.select("option")}
        if el.name == "textarea":
            return {":card"}
        if el.get("maxlength") == "12":
            return {":iin"}
        if kind == "tel" or el.get("autocomplete") == "one-time-code":
            return {":code"}
        if el.get("data-osk-layout-default") == "digits":
            return {":decimal"}
        return {":text"}

    def _match(self, adapter: Any, href: str | None, method: str) -> str | None:
        if not href or href.startswith(("http:", "https:", "mailto:", "tel:", "javascript:", "#", "data:")):
            return None
        parts = urlsplit(href)
        try:
            endpoint, values = adapter.match(parts.path, method=method)
        except (HTTPException, RequestRedirect):
            return None
        for name, value in values.items():
            self.args.setdefault(name, set()).add(str(value))
        for pair in parts.query.split("&"):
            if pair:
                self.query.setdefault(endpoint, set()).add(pair.split("=", 1)[0])
        return endpoint


def crawl(app: Any, client: Any, harvest: Harvest, start: list[str], limit: int, state: str | None = None) -> None:
    """Breadth first over the GET links of one state, as far as ``limit`` pages."""
    seen: set[str] = set()
    queue = list(start)
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen or "logout" in url or "/start" in url:
            continue
        seen.add(url)
        response = client.get(url)
        body = response.get_data()  # whole, as a browser reads it (a streamed CSV to its end)
        if response.mimetype == "text/html":
            queue.extend(harvest.page(app, url, body.decode(), state))
        response.close()  # a static file's answer holds the file open until closed


# --- the session states, built through the real flow ---------------------------------------------------


@dataclass
class State:
    cookie: str | None
    token: str | None


class People:
    """Distinct synthetic parents and children (valid IINs), so no limit or duplicate gets in the way."""

    def __init__(self, rng: random.Random) -> None:
        self.serial = rng.randrange(100, 5000)

    def _iin(self, born: dt.date, sex: str) -> str:
        from kiosk.domain.iin import make_iin

        while True:
            self.serial += 1
            iin = make_iin(born, sex, self.serial % 10000)
            if iin is not None and iin != flows.NO_PHONE:
                return iin

    def card(self) -> str:
        from kiosk.domain.mrz import compose_td1

        iin = self._iin(dt.date(1985, 3, 14), "F")
        return compose_td1(f"{self.serial:09d}", iin, dt.date(2031, 5, 20), "TESTOVA", "AIGUL")

    def child(self) -> dict[str, str]:
        return flows.meals(self._iin(dt.date(2015, 6, 1), "M"), child_name="Омаров Алихан")


class States:
    """Builds each session state with the Flask test client through the kiosk's own pages."""

    def __init__(self, app: Any, clock: Clock, rng: random.Random, harvest: Harvest) -> None:
        self.app = app
        self.clock = clock
        self.rng = rng
        self.harvest = harvest
        self.people = People(rng)
        self.staff_user = f"fuzz{uuid.uuid4().hex[:8]}"
        self.crawled = False
        self.builds = 0
        self._add_staff()

    def _add_staff(self) -> None:
        from kiosk.cli import main

        runner = self.app.test_cli_runner()
        result = runner.invoke(
            main, ["staff", "add", self.staff_user, "--role", "admin", "--password-stdin"], input=STAFF_PASSWORD + "\n"
        )
        if result.exit_code != 0:
            raise RuntimeError(f"staff add: {result.output}")

    def _upload(self, client: Any, lang: str) -> None:
        """A small photo on the attachments step, as the camera would send it."""
        from PIL import Image

        photo = io.BytesIO()
        Image.new("RGB", (64, 48), (200, 120, 40)).save(photo, "JPEG")
        photo.seek(0)
        url = f"/{lang}/apply/attachments"
        response = client.post(
            url,
            data={"file": (photo, "photo.jpg"), "csrf_token": flows.token(client, url)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:300]

    def _services(self) -> list[str]:
        """The services a parent can apply for on the app's date, from the catalog."""
        from kiosk.clock import ALMATY
        from kiosk.domain.catalog import window_state
        from kiosk.infra.catalog_ext import get_catalog

        today = self.clock.now.astimezone(ALMATY).date()
        with self.app.app_context():
            return [
                s.code for s in get_catalog().services if s.takes_applications and window_state(s.window, today).is_open
            ]

    def build(self) -> dict[str, State]:
        """All states anew, an hour later by the app's clock."""
        self.clock.now += dt.timedelta(hours=1, minutes=1)
        start = self.clock.now
        self.builds += 1
        lang = LANGS[self.builds % len(LANGS)]
        services = self._services()
        service = services[self.builds % len(services)]
        clients: dict[str, Any] = {}
        pages: dict[str, list[str]] = {}

        clients["code"] = c = self.app.test_client()
        c.get(f"/{lang}/identify?service={service}")
        c.post(
            f"/{lang}/identify/card",
            data={"mrz": self.people.card(), "csrf_token": flows.token(c, f"/{lang}/identify")},
        )
        pages["code"] = [f"/{lang}/identify/code"]

        clients["identified"] = c = self.app.test_client()
        flows.identify(c, lang, service, card=self.people.card())
        pages["identified"] = [f"/{lang}/identify/done", f"/{lang}/apply/form"]

        clients["signing"] = c = self.app.test_client()
        flows.identify(c, lang, "meals", card=self.people.card())
        response = flows.fill_form(c, lang, self.people.child())
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        self._upload(c, lang)
        self.clock.now += dt.timedelta(seconds=61)  # codes for one IIN are a minute apart
        response = c.post(
            f"/{lang}/apply/check", data={"consent": "y", "csrf_token": flows.token(c, f"/{lang}/apply/check")}
        )
        self.clock.now = start
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        pages["signing"] = [f"/{lang}/apply/sign", f"/{lang}/apply/attachments", f"/{lang}/apply/check"]

        receipts = []
        for name in ("receipt", "ended"):
            clients[name] = c = self.app.test_client()
            flows.identify(c, lang, "meals", card=self.people.card(), clock=self.clock)
            assert flows.fill_form(c, lang, self.people.child()).status_code == 302
            self._upload(c, lang)  # a photo, so staff pages link to one
            receipts.append(urlsplit(flows.sign(c, lang, clock=self.clock)).path)
            self.clock.now = start  # the clock stands still while the states are in use
            with c.session_transaction() as visit:  # the status page's token: what the receipt's QR code holds
                self.harvest.args.setdefault("token", set()).update(r["token"] for r in visit.get("receipts", []))
        pages["receipt"] = [receipts[0]]
        ended = clients["ended"]
        cookie = ended.get_cookie("kiosk_visit").value
        ended.post(f"/{lang}/receipt/finish", data={"csrf_token": flows.token(ended, receipts[1])})
        c = clients["identified"]  # a call for staff, so the dashboard shows one to answer
        c.post(f"/{lang}/help", data={"screen": "identify.done"})

        clients["staff"] = c = self.app.test_client()
        response = c.post(
            "/staff/login",
            data={
                "username": self.staff_user,
                "password": STAFF_PASSWORD,
                "csrf_token": flows.token(c, "/staff/login"),
            },
        )
        assert response.status_code == 302, "staff sign-in"
        reference = receipts[0].rsplit("/", 1)[1]
        pages["staff"] = ["/staff/", f"/staff/submissions/{reference}", "/staff/queue", "/staff/reconcile"]
        pages["staff"] += ["/staff/users", "/staff/audit"]
        pages["none"] = ["/", f"/{lang}/services", f"/{lang}/status"]

        if not self.crawled:  # the routes' arguments and the forms' fields, once per run
            for name, first in pages.items():
                client = clients.get(name) or self.app.test_client()
                crawl(self.app, client, self.harvest, first, limit=60 if name == "staff" else 25, state=name)
            self.crawled = True
        else:  # this build's service form, references, photos and calls
            for name in ("identified", "signing", "receipt", "staff"):
                crawl(self.app, clients[name], self.harvest, pages[name], limit=4, state=name)

        states = {"none": State(None, None), "ended": State(cookie, None)}
        for name in ("code", "identified", "signing", "receipt", "staff"):
            c = clients[name]
            page = "/staff/" if name == "staff" else f"/{lang}/status"
            states[name] = State(c.get_cookie("kiosk_visit").value, flows.token(c, page))
        return states


# --- the requests ------------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str  # already encoded as it goes on the wire (may hold broken escapes)
    headers: list[tuple[str, str]]
    body: bytes
    kind: str
    state: str
    endpoint: str

    def summary(self, limit: int = 300) -> str:
        head = {k: v for k, v in self.headers if k.lower() in ("content-type", "x-csrftoken")}
        return f"{self.method} {self.path[:200]} [{self.state}/{self.kind}] {head} {self.body[:limit]!r}"


class Maker:
    """Turns (route, method, state, kind) into the bytes of one request."""

    def __init__(self, app: Any, rng: random.Random, harvest: Harvest, people: People) -> None:
        self.app = app
        self.rng = rng
        self.harvest = harvest
        self.people = people

    # values

    def text(self) -> str:
        r = self.rng.random()
        if r < 0.55:
            return self.rng.choice(HOSTILE)
        if r < 0.75:
            return "".join(
                chr(
                    self.rng.choice(
                        (
                            self.rng.randrange(32, 127),
                            self.rng.randrange(0x400, 0x4FF),
                            self.rng.randrange(0xA0, 0x2FFF),
                        )
                    )
                )
                for _ in range(self.rng.randrange(0, 40))
            )
        if r < 0.9:
            values = sorted(set().union(*self.harvest.args.values())) if self.harvest.args else ["x"]
            return self.rng.choice(values)
        return "".join(self.rng.choice("0123456789") for _ in range(self.rng.choice((4, 6, 12, 13, 30))))

    def plausible(self, name: str) -> bytes:
        """A value as a person would type or choose it, for a field the pages showed."""
        value = self.rng.choice(sorted(self.harvest.plausible.get(name) or {":text"}))
        made = {
            ":iin": lambda: self.people.child()["child_iin"],
            ":card": self.people.card,
            ":code": lambda: f"{self.rng.randrange(10**6):06d}",
            ":decimal": lambda: self.rng.choice(["12.5", "12,5", "3", "0.5", "250"]),
            ":text": lambda: self.rng.choice(["Иванова Мария", "Омаров Әлихан", "Аксу", "Школа № 12"]),
        }
        return (made[value]() if value in made else value).encode()

    def raw_value(self) -> bytes:
        """A value as bytes: mostly UTF-8 text, sometimes broken UTF-8 inside it."""
        value = self.text().encode()
        if self.rng.random() < 0.15:
            cut = self.rng.randrange(0, len(value) + 1)
            value = value[:cut] + self.rng.choice(BROKEN_UTF8) + value[cut:]
        return value

    def names(self, endpoint: str) -> list[str]:
        known = sorted(self.harvest.fields.get(endpoint, set()) - {"csrf_token"})
        pool = sorted(self.harvest.all_fields - {"csrf_token"}) or ["x"]
        chosen = [n for n in known if self.rng.random() < 0.8]
        chosen += [self.rng.choice(pool) for _ in range(self.rng.randrange(0, 3))]
        if self.rng.random() < 0.2:
            chosen.append(self.rng.choice(["", "a[]", "x" * 300, "имя", 'a"b', "a\\", "csrf_token-x", "\x7f"]))
        return chosen

    # the address

    def path(self, rule: Any) -> str:
        out = []
        for piece in re.split(r"(<[^>]+>)", rule.rule):
            if not piece.startswith("<"):
                out.append(piece)
                continue
            converter_name, _, name = piece[1:-1].rpartition(":")
            converter = self.app.url_map.converters[converter_name.split("(")[0] or "default"]
            out.append(self.argument(name, converter))
        path = "".join(out)
        if self.rng.random() < 0.3:
            path += "?" + self.query(rule.endpoint)
        return path

    def argument(self, name: str, converter: type) -> str:
        seen = sorted(self.harvest.args.get(name, set()))
        r = self.rng.random()
        if issubclass(converter, NumberConverter):
            if seen and r < 0.3:
                return self.rng.choice(seen)
            return self.rng.choice(
                [*(str(n) for n in HUGE), "0", "1", "-1", "01", "1e309", "١", "+1", "%31", "9" * 5000]
            )
        if seen and r < 0.8:
            value = self.rng.choice(seen)
        else:
            value = self.text()
            if issubclass(converter, PathConverter) and self.rng.random() < 0.3:
                value = self.rng.choice(["a/../../b", "htmx.min.js/..", "..%2f..%2f", "kiosk.js", "//x"])
        if self.rng.random() < 0.15:
            return quote(value, safe="") + self.rng.choice(BROKEN_ESCAPES)
        return quote(value, safe="/" if issubclass(converter, PathConverter) else "")

    def query(self, endpoint: str) -> str:
        keys = sorted(self.harvest.query.get(endpoint, set())) or ["q"]
        pairs = []
        for _ in range(self.rng.randrange(1, 4)):
            key = self.rng.choice([*keys, "next", "back", "category", "after", "from", "to", "service"])
            if self.rng.random() < 0.15:
                pairs.append(f"{quote_plus(key)}={self.rng.choice(BROKEN_ESCAPES)}")
            else:
                pairs.append(f"{quote_plus(key)}={quote_plus(self.text())}")
        if self.rng.random() < 0.1:
            pairs.append(self.rng.choice(["&&", "=", "a", "%ff=%fe", ";x=1"]))
        return "&".join(pairs)

    # the body

    def body(self, kind: str, endpoint: str, token: str | None, deep: bool = False) -> tuple[bytes, str | None, bool]:
        """(body, content type, whether the token went into the body)."""
        known = sorted(self.harvest.fields.get(endpoint, set()) - {"csrf_token"})
        if known and (deep or self.rng.random() < 0.5):  # what a person would send, one or two answers hostile
            fields = [(n, self.plausible(n)) for n in known]
            for at in {self.rng.randrange(len(fields)) for _ in range(self.rng.randrange(0, 3))}:
                name = fields[at][0]
                value = self.rng.choice(NUMBERS) if self.rng.random() < 0.5 else self.text()
                fields[at] = (name, value.encode())
        else:
            fields = [(n, self.raw_value()) for n in self.names(endpoint)]
        with_token = token is not None and (deep or self.rng.random() < 0.85)
        token_value = token if deep or self.rng.random() < 0.95 else (token or "x")[:-3] + "abc"
        if with_token:
            fields.insert(self.rng.randrange(0, len(fields) + 1), ("csrf_token", (token_value or "").encode()))
        if kind == "none":
            return b"", None, False
        if kind == "urlencoded":
            body = "&".join(f"{quote_plus(n)}={quote_plus(v)}" for n, v in fields).encode()
            return (
                body,
                self.rng.choice(
                    ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8"]
                ),
                with_token,
            )
        if kind == "urlencoded-broken":
            pieces = [f"{quote_plus(n)}=".encode() + self._broken_escape(v) for n, v in fields]
            pieces += [self.rng.choice([b"&&", b"=", b"%", b"%zz=%ff", b"a=%", b"\xff\xfe=\xc3\x28", b";", b"a==b"])]
            self.rng.shuffle(pieces)
            ctype = self.rng.choice(
                [
                    "application/x-www-form-urlencoded",
                    "application/x-www-form-urlencoded; charset=bogus",
                    "application/x-www-form-urlencoded; charset=utf-16",
                ]
            )
            return b"&".join(pieces), ctype, with_token
        if kind.startswith("multipart"):
            return self._multipart(kind, fields), None, with_token  # content type made with the boundary
        if kind == "json":
            return (
                self._json(fields),
                self.rng.choice(
                    [
                        "application/json",
                        "application/json; charset=latin-1",
                        "application/vnd.api+json",
                        "application/json; charset=utf-16",
                    ]
                ),
                False,
            )
        ctype = self.rng.choice(
            [
                "text/plain",
                "application/octet-stream",
                "application/xml",
                "",
                "multipart/form-data",
                "multipart/mixed; boundary=x",
                "application/x-www-form-urlencoded, text/plain",
                "image/jpeg",
            ]
        )
        return self.raw_value() * self.rng.randrange(1, 4), ctype or None, False

    def _broken_escape(self, value: bytes) -> bytes:
        encoded = quote_plus(value).encode()
        cut = self.rng.randrange(0, len(encoded) + 1)
        if self.rng.random() < 0.5:
            return encoded[:cut] + self.rng.choice(BROKEN_ESCAPES).encode() + encoded[cut:]
        return encoded[:cut] + self.rng.choice(BROKEN_UTF8) + encoded[cut:]

    def _multipart(self, kind: str, fields: list[tuple[str, bytes]]) -> bytes:
        self.boundary = boundary = f"----fuzz{self.rng.randrange(10**12)}"
        parts: list[bytes] = []
        for name, value in fields:
            disposition = f'form-data; name="{name}"'
            headers = []
            if kind == "multipart-files-in-text" and (name != "csrf_token" or self.rng.random() < 0.2):
                filename = self.rng.choice(["x.txt", "", "фото.jpg", "a.pdf", "../../x", "x" * 300])
                disposition += f'; filename="{filename}"'
                kinds = ["text/plain", "image/jpeg", "application/pdf", "application/octet-stream"]
                headers.append(f"Content-Type: {self.rng.choice(kinds)}")
                if self.rng.random() < 0.4:
                    value = self.rng.choice(SIGNATURES) + self.rng.randbytes(self.rng.randrange(0, 3000))
            if kind == "multipart-odd":
                r = self.rng.random()
                if r < 0.3:
                    headers.append(f"Content-Type: text/plain; charset={self.rng.choice(CHARSETS)}")
                elif r < 0.45:
                    disposition = f"form-data; name*=UTF-8''{quote(name)}"
                elif r < 0.55:
                    disposition = f'attachment; name="{name}"'
                elif r < 0.65:
                    headers.append("Content-Transfer-Encoding: base64")
                elif r < 0.75:
                    disposition = f"form-data; name={name}"  # unquoted
                value = value + self.rng.choice(BROKEN_UTF8)
            parts.append(self._part(disposition, headers, value))
        if kind == "multipart-nameless" or self.rng.random() < 0.1:
            for _ in range(self.rng.randrange(1, 3)):
                disposition = self.rng.choice(
                    [
                        "form-data",
                        'form-data; filename="a.txt"',
                        'form-data; name=""',
                        "form-data; name",
                        'form-data; filename=""',
                    ]
                )
                at = self.rng.randrange(0, len(parts) + 1)
                parts.insert(at, self._part(disposition, [], self.raw_value()))
        if kind == "multipart-odd" and self.rng.random() < 0.3:
            parts.append(f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nno disposition\r\n".encode())
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        if kind == "multipart-broken":
            r = self.rng.random()
            if r < 0.25:
                body = body[: self.rng.randrange(0, len(body) + 1)]
            elif r < 0.4:
                body = body.replace(b"\r\n", b"\n")
            elif r < 0.55:
                body = b"garbage before" + body
            elif r < 0.7:
                self.boundary = self.rng.choice(["", "x" * 200, 'a"b', "other", " "])
            elif r < 0.85:
                self.boundary = None  # no boundary parameter at all
            else:
                body = body.replace(f"--{boundary}--".encode(), b"")
        return body

    def _part(self, disposition: str, headers: list[str], value: bytes) -> bytes:
        head = "\r\n".join([f"Content-Disposition: {disposition}", *headers])
        return (
            f"--{self.boundary}\r\n".encode() + head.encode("utf-8", "surrogateescape") + b"\r\n\r\n" + value + b"\r\n"
        )

    def _json(self, fields: list[tuple[str, bytes]]) -> bytes:
        r = self.rng.random()
        if r < 0.1:
            return self.rng.choice(
                [
                    b"[]",
                    b"5",
                    b'"x"',
                    b"null",
                    b"true",
                    b"{",
                    b"[" * 100_000 + b"]" * 100_000,
                    b"NaN",
                    b"1e309",
                    b"\xff",
                ]
            )
        items = []
        for name, value in fields:
            raw = self.rng.choice(
                [
                    json.dumps(value.decode("utf-8", "replace")),
                    *(str(n) for n in HUGE),
                    "-1",
                    "1e309",
                    "-1e309",
                    "NaN",
                    "Infinity",
                    "null",
                    "true",
                    "[1, 2]",
                    '{"a": 1}',
                    "[[[[[[[[]]]]]]]]",
                    "0.1",
                ]
            )
            items.append(f"{json.dumps(name)}: {raw}")
        return ("{" + ", ".join(items) + "}").encode()

    def deep(self, state_name: str, state: State) -> list[Request]:
        """A form its state's pages show, posted as a person would but for one or two answers, then its page again.

        The page after the post shows what was saved (Back, Change, a reload): an answer that was
        saved but cannot be shown again is found here.
        """
        forms = [f for f in sorted(self.harvest.forms[state_name]) if not f[0].endswith(ENDINGS)]
        endpoint = self.rng.choice(sorted({f[0] for f in forms}))  # each form alike, however many pages show it
        endpoint, action, page = self.rng.choice([f for f in forms if f[0] == endpoint])
        kind = self.rng.choice(["urlencoded", "multipart", "multipart-files-in-text", "multipart-nameless"])
        self.boundary = None
        body, ctype, _in_body = self.body(kind, endpoint, state.token, deep=True)
        if kind.startswith("multipart"):
            ctype = f"multipart/form-data; boundary={self.boundary}"
        cookie = [("Cookie", f"kiosk_visit={state.cookie}")] if state.cookie else []
        post = Request("POST", action, [("Content-Type", ctype or ""), *cookie], body, kind, state_name, endpoint)
        again = Request("GET", urlsplit(page).path, cookie, b"", "none", state_name, f"{endpoint} (page again)")
        return [post, again]

    def make(self, rule: Any, method: str, state_name: str, state: State, kind: str) -> Request:
        self.boundary = None
        path = self.path(rule)
        headers: list[tuple[str, str]] = []
        body, ctype, token_in_body = self.body(kind, rule.endpoint, state.token)
        if kind.startswith("multipart"):
            ctype = "multipart/form-data" + (f"; boundary={self.boundary}" if self.boundary is not None else "")
        if ctype:
            headers.append(("Content-Type", ctype))
        if state.token and (kind == "json" or not token_in_body) and self.rng.random() < 0.8:
            headers.append(("X-CSRFToken", state.token))
        if state.cookie:
            headers.append(("Cookie", f"kiosk_visit={state.cookie}"))
        if self.rng.random() < 0.2:
            headers.append(("HX-Request", "true"))
            headers.append(
                ("HX-Target", self.rng.choice(["checklist", "main", "x", "\u00e9"]).encode().decode("latin-1"))
            )
        if self.rng.random() < 0.1:
            headers.append(("Accept", self.rng.choice(["application/json", "*/*", "text/html;q=0", "x/y;q=nan"])))
        if self.rng.random() < 0.1:
            headers.append(("Accept-Language", self.rng.choice(["kk", "ru-RU,ru;q=0.9", "*", "xx;q=2", ";;"])))
        return Request(method, path, headers, body, kind, state_name, rule.endpoint)


# --- over real HTTP ---------------------------------------------------------------------------------


def send(host: str, port: int, request: Request, timeout: float = 30.0) -> int | None:
    """One request on its own connection, written byte for byte; the status, or None for no answer."""
    lines = [f"{request.method} {request.path} HTTP/1.1".encode("latin-1", "replace"), f"Host: {host}:{port}".encode()]
    lines += [f"{k}: {v}".encode("latin-1", "replace") for k, v in request.headers]
    lines += [f"Content-Length: {len(request.body)}".encode(), b"Connection: close"]
    raw = b"\r\n".join(lines) + b"\r\n\r\n" + request.body
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(raw)
            response = http.client.HTTPResponse(sock, method=request.method)
            try:
                response.begin()
                response.read()
                return response.status
            finally:
                response.close()
    except (OSError, http.client.HTTPException):
        return None


# --- the run ---------------------------------------------------------------------------------------


@dataclass
class Report:
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    by_kind: Counter = field(default_factory=Counter)
    by_state: Counter = field(default_factory=Counter)
    endpoints: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    no_answer: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    traceback_kinds: Counter = field(default_factory=Counter)
    error_logs: list[str] = field(default_factory=list)
    routes: int = 0
    deep: int = 0
    pages_crawled: int = 0
    state_builds: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.server_errors or self.no_answer or self.tracebacks or self.error_logs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=lambda kv: str(kv[0]))},
            "answers_500": len(self.server_errors),
            "no_answer": len(self.no_answer),
            "tracebacks": len(self.tracebacks),
            "error_logs": len(self.error_logs),
            "by_kind": dict(self.by_kind),
            "by_state": dict(self.by_state),
            "routes": self.routes,
            "deep_form_posts": self.deep,
            "endpoints_hit": len({key.split()[1] for key in self.endpoints}),
            "pages_crawled": self.pages_crawled,
            "state_builds": self.state_builds,
            "seconds": round(self.seconds, 1),
            "server_error_samples": self.server_errors[:20],
            "traceback_kinds": dict(self.traceback_kinds.most_common()),
            "traceback_samples": self.tracebacks[:3],
            "error_log_samples": self.error_logs[:10],
            "no_answer_samples": self.no_answer[:10],
            "by_endpoint": dict(sorted(self.endpoints.items())),
        }


def targets(app: Any) -> list[tuple[Any, str, bool]]:
    """Every route and method in the app's url_map, and a method the route does not take."""
    out = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        out += [(rule, m, False) for m in methods]
        out.append((rule, "PUT" if "POST" in methods else "POST", True))
    return out


def run(requests: int, seed: int, instance: Path, database_url: str | None = None, rebuild_every: int = 250) -> Report:
    """Fuzz the app made on ``instance`` (and ``database_url``, default SQLite there) and report."""
    from kiosk.portal_sim.server import ServerThread

    rng = random.Random(seed)
    clock = Clock()  # still while requests run, moved an hour before the states are built
    report = Report()
    started = time.perf_counter()
    with trapped_logs() as trap, contextlib.redirect_stdout(io.StringIO()):
        app = make_app(instance, database_url, clock)
        harvest = Harvest()
        builder = States(app, clock, rng, harvest)
        maker = Maker(app, rng, harvest, builder.people)
        states = builder.build()  # the first crawl tells which routes take forms
        plan = [
            (rule, method, state, kind)
            for (rule, method, wrong) in targets(app)
            # a form's route comes round three times as often: most of its answers depend on the state
            for _weight in range(3 if method == "POST" and rule.endpoint in harvest.fields else 1)
            for state in (("none", "identified", "staff") if wrong else STATES)
            for kind in (("none", "urlencoded", "multipart-nameless", "json") if wrong else KINDS)
        ]
        report.routes = len({rule.rule for rule, _m, _s, _k in plan})
        with ServerThread(app, threads=4) as served:
            host, port = "127.0.0.1", int(served.url.rsplit(":", 1)[1])
            order: list[int] = []
            since_build = 0
            while report.requests < requests:
                if since_build >= rebuild_every:
                    states, since_build = builder.build(), 0
                deep_states = sorted(
                    n
                    for n, forms in harvest.forms.items()
                    if states[n].token and any(not f[0].endswith(ENDINGS) for f in forms)
                )
                if deep_states and rng.random() < DEEP_SHARE:
                    name = rng.choice(deep_states)
                    batch = maker.deep(name, states[name])[: requests - report.requests]
                    report.deep += 1
                else:
                    if not order:
                        order = list(range(len(plan)))
                        rng.shuffle(order)
                    rule, method, state_name, kind = plan[order.pop()]
                    batch = [maker.make(rule, method, state_name, states[state_name], kind)]
                for request in batch:
                    since_build += 1
                    before = len(trap.tracebacks)
                    status = send(host, port, request)
                    report.requests += 1
                    report.statuses[status if status is not None else "no answer"] += 1
                    report.by_kind[request.kind] += 1
                    report.by_state[request.state] += 1
                    report.endpoints[f"{request.method} {request.endpoint} {status}"] += 1
                    if status is None:
                        report.no_answer.append(request.summary())
                    elif status >= 500:
                        report.server_errors.append(f"{status} {request.summary()}")
                    for record in trap.tracebacks[before:]:  # what broke, where: one line per kind
                        last = record.rstrip().splitlines()[-1][:160]
                        report.traceback_kinds[f"{last} ({request.method} {request.endpoint}, {request.kind})"] += 1
        report.tracebacks = trap.tracebacks
        report.error_logs = trap.errors
        report.pages_crawled = harvest.pages
        report.state_builds = builder.builds
        from kiosk import db

        db.engine(app).dispose()
    report.seconds = time.perf_counter() - started
    return report


def print_report(report: Report, database: str) -> None:
    d = report.as_dict()
    print(f"database: {database}; server: waitress (4 threads, in this process), one connection per request")
    print(
        f"requests: {d['requests']} in {d['seconds']} s over {d['routes']} routes "
        f"({d['endpoints_hit']} endpoints hit), {d['state_builds']} state builds, {d['pages_crawled']} pages crawled"
    )
    print("statuses: " + ", ".join(f"{k}: {v}" for k, v in d["statuses"].items()))
    print("by state: " + ", ".join(f"{k}: {v}" for k, v in d["by_state"].items()))
    print("by body kind: " + ", ".join(f"{k}: {v}" for k, v in d["by_kind"].items()))
    print(
        f"answers of 500: {d['answers_500']}; no answer: {d['no_answer']}; tracebacks in the log: {d['tracebacks']}; "
        f"other ERROR records: {d['error_logs']}"
    )
    for sample in d["server_error_samples"] + d["no_answer_samples"]:
        print("  " + sample)
    for kind, count in d["traceback_kinds"].items():
        print(f"  {count} x {kind}")
    for sample in d["traceback_samples"]:
        lines = sample.splitlines()
        print("  " + "\n  ".join(lines[:1] + lines[-8:]))
    for sample in d["error_log_samples"]:
        print("  " + sample)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rebuild-every", type=int, default=250, help="requests between two builds of the states")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server; a scratch database is made there")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args()
    for name in list(os.environ):  # the developer's own settings stay out
        if name.startswith("KIOSK_"):
            del os.environ[name]
    instance = Path(tempfile.mkdtemp(prefix="kiosk-fuzz-"))
    try:
        with contextlib.ExitStack() as stack:
            url = stack.enter_context(scratch_database(args.postgres, "kiosk_fuzz")) if args.postgres else None
            report = run(args.requests, args.seed, instance / "instance", url, args.rebuild_every)
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    print_report(report, "PostgreSQL" if args.postgres else "SQLite")
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
