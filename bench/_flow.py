"""The HTTP flow client every bench script drives the kiosk with: the servers, the visit, the pages, the people.

- ``KioskServer``: the real ``kiosk run`` in a process of its own, on a fresh instance folder and a
  free port, with a clean environment (``clean_env``: no developer ``KIOSK_*`` settings) plus
  ``LOAD_ENV``, which lifts the SMS limits and picks the in-process demo portal; ``sim_process``,
  the simulator (``kiosk portal-sim``) likewise;
- ``Visit``: one parent's visit over real HTTP, from Welcome to the receipt, each request a named
  step (the names of ``load_flow.py``'s table), with hooks for timing every answer and for a
  parent's think time;
- the page readers: the CSRF token, the code on the demo phone, the receipt's reference, the form's
  duplicate message, the alerts of an unexpected page, read from the HTML the way a user would;
- synthetic people: parents and children with valid IINs (``kiosk.domain.iin.make_iin``), distinct
  within a run, so the one-application-per-child rule refuses none of them.

Importing it also puts ``tests/`` on the path: the tests' plain helpers (``fixtures.scratch``,
``fixtures.submissions``) serve the bench too. Run the scripts from the repository root with
``.venv/bin/python bench/<script>.py``.
"""

from __future__ import annotations

import base64
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from _proc import stop_process
from kiosk.domain.iin import make_iin
from kiosk.domain.mrz import compose_td1

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "tests") not in sys.path:
    sys.path.append(str(ROOT / "tests"))
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
_ECP_DATA = re.compile(r'\bdata-ecp-data="([^"]*)"')
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


def ecp_data(page: str) -> bytes | None:
    """What the check page gives NCALayer to sign (``[data-ecp-data]``, base64), if it offers ЭЦҚ."""
    match = _ECP_DATA.search(page)
    return base64.b64decode(html.unescape(match.group(1))) if match else None


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


def clean_env(instance: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without the developer's own ``KIOSK_*`` settings, on ``instance``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env.update({"KIOSK_INSTANCE_PATH": str(instance), "PYTHONUNBUFFERED": "1", **(extra or {})})
    return env


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
        self.env = clean_env(instance, extra_env)
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
        if process is not None:
            stop_process(process)


def tidy_up(server: KioskServer, workdir: Path, keep: bool) -> None:
    """The run's temporary folder removed, or kept (asked for, or the run failed) and said where."""
    if keep:
        print(f"instance kept in {server.instance} (server log: {server.log_path})")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def sim_process(folder: Path, keys: dict[str, str], timeout: float = 30.0) -> Iterator[str]:
    """``kiosk portal-sim`` in a process of its own, on a free port and ``folder``; its URL. Stopped after."""
    port = free_port()
    command = [*kiosk_command(), "portal-sim", "--port", str(port), "--instance", str(folder)]
    for kiosk_id, key in keys.items():
        command += ["--kiosk-key", f"{kiosk_id}={key}"]
    process = subprocess.Popen(command, env=clean_env(folder), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _answers(f"{url}/admin/stats"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the simulator did not start")
            time.sleep(0.1)
        yield url
    finally:
        stop_process(process)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def healthy(url: str) -> bool:
    return _answers(f"{url}/healthz")


# --- one visit: the flow over real HTTP ------------------------------------------------------------

SIGN_STEP = "sign: post (commit)"  # from here a crash may come before or after the commit


class ServerGone(Exception):
    """A connection error, a timeout or a 5xx: the server crashed or is starting again."""


class FlowError(Exception):
    """The kiosk answered, but not as the flow expects: a bug (or a wrong assumption here)."""


class Stopped(Exception):
    """The run's time is up: the visit stops between two requests."""


@dataclass
class Outcome:
    kind: str  # "receipt" (the page showed it) or "duplicate" (the form named an earlier one)
    reference: str
    redirected_to: str | None = None  # the reference in the sign request's redirect, if it came
    sign_seconds: float | None = None  # the POST /<lang>/apply/sign request, client-side


class Visit:
    """One parent's visit: a cookie jar, every POST carrying the token of the page before it.

    Each request is a named step; ``timed(step, seconds)`` hears of every answer, ``think()`` runs
    before each thing the parent does, and ``stop`` (set) ends the visit before its next request.
    ``browser`` also loads what a browser shows on the way: Welcome, the language, the services,
    and the page every redirect leads to. Given a ``client`` (a terminal's browser), the visit
    uses it and leaves it open.
    """

    def __init__(
        self,
        base_url: str,
        lang: str,
        timeout: float = 10.0,
        *,
        client: httpx.Client | None = None,
        timed: Callable[[str, float], None] | None = None,
        think: Callable[[], None] | None = None,
        stop: threading.Event | None = None,
        browser: bool = False,
    ) -> None:
        self.lang = lang
        self.own_client = client is None
        self.client = client or httpx.Client(base_url=base_url, timeout=timeout, follow_redirects=False)
        self.timed = timed
        self.think = think or (lambda: None)
        self.stop = stop
        self.browser = browser
        self.stage = "start"
        self.redirected_to: str | None = None
        self.receipt_token: str | None = None

    def close(self) -> None:
        if self.own_client:
            self.client.close()

    def __enter__(self) -> Visit:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # one request

    def request(self, step: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self.stop is not None and self.stop.is_set():
            raise Stopped
        self.stage = step
        started = time.perf_counter()
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:  # connection refused or reset, timeouts, broken answers
            raise ServerGone(f"{method} {path} during {step}: {type(exc).__name__}: {exc}") from exc
        if self.timed is not None:
            self.timed(step, time.perf_counter() - started)
        if response.status_code >= 500:
            raise ServerGone(f"{method} {path} during {step}: HTTP {response.status_code}")
        return response

    def get(self, step: str, path: str, **kwargs: Any) -> httpx.Response:
        """A GET that must answer 200."""
        response = self.request(step, "GET", path, **kwargs)
        if response.status_code != 200:
            raise FlowError(f"GET {path}: {response.status_code} {response.headers.get('location', '')}")
        return response

    def page(self, step: str, path: str) -> tuple[str, str]:
        """GET a page with a form; its text and its CSRF token."""
        response = self.get(step, path)
        token = csrf_token(response.text)
        if token is None:
            raise FlowError(f"GET {path}: no csrf_token on the page")
        return response.text, token

    def post(self, step: str, path: str, data: dict[str, str], token: str) -> httpx.Response:
        return self.request(step, "POST", path, data={**data, "csrf_token": token})

    def expect_redirect(self, response: httpx.Response, ending: str) -> str:
        """The location of a 302/303 whose path ends with ``ending`` (anything, for "")."""
        location = response.headers.get("location", "")
        if response.status_code not in (302, 303) or not urlsplit(location).path.endswith(ending):
            problem = page_problem(response.text) if response.status_code == 200 else location
            raise FlowError(f"{self.stage}: expected a redirect to …{ending}, got {response.status_code}: {problem}")
        return location

    def follow(self, step: str, location: str) -> None:
        """Load the page a redirect leads to, as a browser does (only with ``browser``)."""
        if self.browser:
            self.get(step, location)

    # the flow

    def start(self) -> None:
        """Welcome, the language (its redirect), the services."""
        self.get("welcome", "/")
        self.think()
        response = self.request("language (redirect)", "GET", f"/{self.lang}/start")
        self.expect_redirect(response, f"/{self.lang}/services")
        self.get("services", f"/{self.lang}/services")

    def identify(self, parent: Parent, service: str = SERVICE) -> None:
        """The identify page, the ID card or the typed IIN, and the code from the demo phone."""
        base = f"/{self.lang}/identify"
        _page, token = self.page("identify page", f"{base}?service={service}")
        self.think()  # types the IIN on the keypad, or puts the card on the reader
        if parent.card is not None:
            response = self.post("identify: post card", f"{base}/card", {"mrz": parent.card}, token)
        else:
            response = self.post("identify: post IIN", f"{base}/iin", {"iin": parent.iin}, token)
        self.expect_redirect(response, f"{base}/code")
        page, token = self.page("code page", f"{base}/code")
        code = sms_code(page)
        if code is None:
            raise FlowError("identify: no code on the demo phone")
        self.think()  # reads the code off the phone and types it
        self.follow(
            "identified page",
            self.expect_redirect(self.post("code: post", f"{base}/code", {"code": code}, token), f"{base}/done"),
        )

    def apply(self, child: Child, ecp_sign: Callable[[bytes], bytes] | None = None) -> Outcome:
        """The form, consent and the signing code; the receipt's reference, or the earlier one's.

        With ``ecp_sign`` the parent signs with ЭЦҚ instead of the code: it makes the CMS over the
        bytes the check page gives NCALayer, and the CMS is posted with the consent, as the page's
        script posts NCALayer's answer.
        """
        base = f"/{self.lang}/apply"
        self.think()
        _page, token = self.page("form page", f"{base}/form")
        self.think()  # fills in the child's IIN, name, grade and situation
        answers = {"child_iin": child.iin, "child_name": child.name, "grade": child.grade, "category": child.category}
        response = self.post("form: post", f"{base}/form", answers, token)
        if response.status_code == 200 and (earlier := duplicate_reference(response.text)):
            return Outcome("duplicate", earlier)
        self.follow("attachments page", self.expect_redirect(response, f"{base}/attachments"))
        self.think()  # no photos: Continue
        page, token = self.page("check page", f"{base}/check")
        self.think()  # reads the answers, ticks consent
        if ecp_sign is not None:
            data = ecp_data(page)
            if data is None:
                raise FlowError("check: no ЭЦҚ offered (is a root installed?)")
            cms = base64.b64encode(ecp_sign(data)).decode()  # NCALayer's window, the PIN
            started = time.perf_counter()
            response = self.post(SIGN_STEP, f"{base}/sign/ecp", {"consent": "y", "cms": cms}, token)
        else:
            response = self.post("check: consent, SMS sent", f"{base}/check", {"consent": "y"}, token)
            self.expect_redirect(response, f"{base}/sign")
            page, token = self.page("sign page", f"{base}/sign")
            code = sms_code(page)
            if code is None:
                raise FlowError("sign: no signing code on the demo phone")
            self.think()
            started = time.perf_counter()
            response = self.post(SIGN_STEP, f"{base}/sign", {"code": code}, token)
        sign_seconds = time.perf_counter() - started
        if response.status_code == 200 and (earlier := duplicate_reference(response.text)):
            return Outcome("duplicate", earlier, sign_seconds=sign_seconds)
        location = self.expect_redirect(response, "")
        match = RECEIPT_PATH.search(urlsplit(location).path)
        if match is None:
            raise FlowError(f"sign: redirected to {location}, not to a receipt")
        self.redirected_to = match.group(1)
        page, self.receipt_token = self.page("receipt page", location)
        reference = shown_reference(page)
        if reference is None:
            raise FlowError(f"receipt {location}: no [data-reference] on the page")
        if reference != self.redirected_to:
            raise FlowError(f"receipt shows {reference} but the redirect named {self.redirected_to}")
        return Outcome("receipt", reference, self.redirected_to, sign_seconds)

    def finish(self) -> None:
        """Finish on the receipt: the visit ends and Welcome is next."""
        self.think()  # reads (or prints) the receipt, taps Finish
        assert self.receipt_token is not None, "finish comes after the receipt"
        response = self.post("finish: post", f"/{self.lang}/receipt/finish", {}, self.receipt_token)
        self.expect_redirect(response, "/")
