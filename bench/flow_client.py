"""What the bench scripts share to drive the kiosk over real HTTP: the server, the pages, the people.

- ``KioskServer``: the real ``kiosk run`` in a process of its own, on a fresh instance folder and a
  free port, with a clean environment (no developer ``KIOSK_*`` settings) plus ``LOAD_ENV``, which
  lifts the SMS limits and picks the in-process demo portal;
- the page readers: the CSRF token, the code on the demo phone, the receipt's reference, the form's
  duplicate message, the alerts of an unexpected page, read from the HTML the way a user would;
- synthetic people: parents and children with valid IINs (``kiosk.domain.iin.make_iin``), distinct
  within a run, so the one-application-per-child rule refuses none of them.

``crash_submit.py``, ``sign_queue.py`` (through ``crash_submit``) and ``load_flow.py`` use it;
run them from the repository root with ``.venv/bin/python bench/<script>.py``.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from kiosk.domain.iin import make_iin
from kiosk.domain.mrz import compose_td1

ROOT = Path(__file__).resolve().parent.parent
SERVICE = "meals"  # no application window, so the real clock never closes it
LANGS = ("kk", "ru", "en")
CATEGORIES = ("asp", "low_income", "orphan", "unemployed", "emergency")  # on the service page
# what the kiosk's form offers: the situations the school office's list names (unemployed is on the portal's only)
FORM_CATEGORIES = ("asp", "low_income", "orphan", "emergency")
CHILDREN_PER_PARENT = 3
NO_PHONE = "790630345672"  # the demo citizen without a phone: never used as a parent here
# SMS limits off, so a load script is not refused codes; values are JSON-parsed by the kiosk.
# The in-process demo portal (any synthetic IIN has a phone; no simulator on a fixed port, no
# sync worker changing the rows under the checks): what is measured is the kiosk's own commit.
LOAD_ENV = {
    "KIOSK_PORTAL": "demo",
    "KIOSK_SMS_MIN_INTERVAL_S": "0",
    "KIOSK_SMS_SENDS_PER_IIN": "1000",
    "KIOSK_SMS_SENDS_PER_KIOSK": "100000000",
    "KIOSK_SMS_FAILURE_WINDOW_S": "1",
}
FIRST_NAMES = ("Aruzhan", "Alikhan", "Dana", "Nursultan", "Aigerim", "Timur", "Madina", "Yerlan", "Zarina", "Daniyar")
SURNAMES = ("Bekova", "Omarov", "Sadykova", "Nurlanov", "Abenova", "Zhunusov", "Karimova", "Tulegenov")

_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r'([\w:-]+)="([^"]*)"')
_SMS = re.compile(r"<(\w+)\b[^>]*\bdata-sms\b[^>]*>(.*?)</\1>", re.DOTALL)
_REFERENCE = re.compile(r"<(\w+)\b[^>]*\bdata-reference\b[^>]*>(.*?)</\1>", re.DOTALL)
# only the parent who applied is told the earlier reference (anyone else: "ask at the office")
_DUPLICATE = re.compile(r'\bdata-earlier="([^"]*)"')
_TAG = re.compile(r"<[^>]+>")
_CODE = re.compile(r"\b(\d{6})\b")
RECEIPT_PATH = re.compile(r"/receipt/([0-9A-Z]{9})$")


# --- the page, read the way a browser's user would ---------------------------------------------


def csrf_token(page: str) -> str | None:
    """The hidden CSRF input's value: every POST must carry the token of the page it came from."""
    for tag in _INPUT.findall(page):
        attrs = dict(_ATTR.findall(tag))
        if attrs.get("name") == "csrf_token":
            return html.unescape(attrs.get("value", ""))
    return None


def sms_code(page: str) -> str | None:
    """The newest code on the demo phone (the page lists the newest message first)."""
    for _tag, inner in _SMS.findall(page):
        match = _CODE.search(html.unescape(_TAG.sub(" ", inner)))
        if match:
            return match.group(1)
    return None


def shown_reference(page: str) -> str | None:
    """The reference in ``[data-reference]`` as stored (the page shows ``ABC-DEF-GHJ``)."""
    match = _REFERENCE.search(page)
    if match is None:
        return None
    return html.unescape(_TAG.sub("", match.group(2))).strip().replace("-", "") or None


def duplicate_reference(page: str) -> str | None:
    """The earlier reference, as stored, that the refusal names to the parent who applied (shown ABC-DEF-GHJ)."""
    match = _DUPLICATE.search(page)
    return html.unescape(match.group(1)).replace("-", "") or None if match else None


def page_problem(page: str) -> str:
    """The alerts and field errors of a page, for a report that says what went wrong."""
    found = re.findall(r'class="(?:alert|field-error)[^"]*"[^>]*>(.*?)</', page, re.DOTALL)
    text = "; ".join(" ".join(_TAG.sub(" ", html.unescape(f)).split()) for f in found)
    return text[:300] or "no alert on the page"


# --- people --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parent:
    """A synthetic adult: the demo portal gives any valid IIN a made-up phone."""

    iin: str
    card: str | None  # the ID card's machine-readable zone, or None to type the IIN


@dataclass(frozen=True)
class Child:
    iin: str
    name: str
    grade: str
    category: str
    lang: str


def valid_iins(start: dt.date, days: int, sex: str, serials: range) -> Iterator[str]:
    for serial in serials:
        for day in range(days):
            iin = make_iin(start + dt.timedelta(days=day), sex, serial)
            if iin is not None and iin != NO_PHONE:
                yield iin


def make_people(count: int, rng: random.Random) -> list[tuple[Parent, list[Child]]]:
    """Distinct parents (born 1975-1994) with up to three distinct children each (born 2010-2019)."""
    offset = rng.randrange(0, 5000)
    parent_iins = valid_iins(dt.date(1975, 1, 1), 7300, "F", range(offset, offset + 100))
    child_iins = valid_iins(dt.date(2010, 1, 1), 3650, "M", range(offset, offset + 100))
    families: list[tuple[Parent, list[Child]]] = []
    made = 0
    while made < count:
        iin = next(parent_iins)
        card = None
        if len(families) % 2:  # every other parent puts an ID card on the reader
            card = compose_td1(f"{len(families) % 10**9:09d}", iin, dt.date(2031, 5, 20), "TESTOVA", "AIGUL")
        kids = []
        for _ in range(min(rng.randint(1, CHILDREN_PER_PARENT), count - made)):
            kids.append(
                Child(
                    iin=next(child_iins),
                    name=f"{rng.choice(SURNAMES)} {rng.choice(FIRST_NAMES)}",
                    grade=str(rng.randint(1, 11)),
                    category=rng.choice(FORM_CATEGORIES),
                    lang=LANGS[made % len(LANGS)],
                )
            )
            made += 1
        families.append((Parent(iin, card), kids))
    return families


# --- the server, as a separate process ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kiosk_command() -> list[str]:
    """The ``kiosk`` console script of this interpreter's environment (the project's venv)."""
    for candidate in (Path(sys.executable).parent / "kiosk", ROOT / ".venv" / "bin" / "kiosk"):
        if candidate.exists():
            return [str(candidate)]
    found = shutil.which("kiosk")
    if found:
        return [found]
    raise SystemExit("kiosk command not found: install the project (make test does) and run with .venv/bin/python")


class KioskServer:
    """``kiosk run`` on a fixed port and instance folder; killed and started again on demand.

    The process gets a clean environment (no developer ``KIOSK_*`` settings) plus ``LOAD_ENV``; its
    stdout and stderr (the console SMS gateway logs every SMS, its code masked) go to a log file in the
    instance.
    """

    def __init__(self, instance: Path, port: int, extra_env: dict[str, str] | None = None) -> None:
        self.instance = instance
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = instance / "server.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
        self.env.update({"KIOSK_INSTANCE_PATH": str(instance), "PYTHONUNBUFFERED": "1", **(extra_env or {})})
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.error: str | None = None  # why the server could not be started again, if it could not
        self._lock = threading.Lock()
        self._stopped = False

    def start(self, timeout: float = 60.0) -> None:
        """Start the process and wait until ``/healthz`` answers 200."""
        self.instance.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- start {self.starts + 1} at {time.time():.3f}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [*kiosk_command(), "run", "--port", str(self.port)],
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal is for this script, not the server
            )
        self.starts += 1
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}; see {self.log_path}")
            if healthy(self.url):
                return
            time.sleep(0.05)
        raise RuntimeError(f"the server did not answer /healthz within {timeout:.0f} s; see {self.log_path}")

    def crash_and_restart(self) -> bool:
        """SIGKILL the server (no cleanup at all, like a power cut) and start it again."""
        with self._lock:
            if self._stopped or self.process is None:
                return False
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1
            self.start()
            return True

    def stop(self) -> None:
        """Stop for good (SIGTERM, then SIGKILL); no restart after this."""
        with self._lock:
            self._stopped = True
            process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
