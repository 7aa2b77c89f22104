"""Package defaults: the embedded kiosk (SQLite in instance/, console SMS, the simulator).

Layers on top, in order: ``instance/config.py``, ``KIOSK_*`` environment variables (values are
parsed as JSON where they can be, so ``KIOSK_RUN_PORT=8081`` is a number), then a test mapping.
No secret lives here: the secret key is generated into ``instance/`` on the first start.

``settle()`` then fills the settings left at None from the others and refuses what must never
run: a kiosk on the real central system shows no code on screen and sends none to a console,
whichever line its site's settings miss.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

LANGUAGES = ("kk", "ru", "en")
BABEL_DEFAULT_LOCALE = "kk"
BABEL_DEFAULT_TIMEZONE = "Asia/Almaty"

# None means sqlite:///<instance>/kiosk.sqlite3; PostgreSQL: postgresql+psycopg://user@host/db
DATABASE_URL = None
SQLITE_BUSY_TIMEOUT_MS = 5000

# None means instance/catalog.toml when a site put one there, else the catalog in the package
CATALOG_PATH = None

# A service about to close shows how many days are left from this many days before the end
WINDOW_WARN_DAYS = 30

RUN_HOST = "127.0.0.1"
RUN_PORT = 8080
RUN_THREADS = 8
# How `kiosk run` and `kiosk sync` log to standard error: "text" for a developer's terminal, "json"
# (one object per line) for journald on a real terminal (deploy/kiosk.env.example sets it). Both are in
# UTC with IINs, phone numbers and SMS codes masked (kiosk/infra/logs.py).
LOG_FORMAT = "text"

SESSION_COOKIE_NAME = "kiosk_visit"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Request bodies (kiosk/web/bodies.py): each endpoint takes only the kinds and sizes it expects; any
# other body is refused (413 or 415, the visitor's page) before it is parsed.
# Every form but the upload: the longest has about 20 short fields, under 25 KB even as
# percent-encoded Cyrillic.
MAX_FORM_BODY = 64 * 1024
# One document's file on the attachments step, as parents bring them: phone photos of 0.3 to 5 MB,
# a flatbed scanner's 300 dpi A4 page saved as PNG of up to about 25 MB, a PDF of a few pages.
# Photos and scans are re-encoded (a 25 MB PNG becomes a JPEG under 1 MB), so the 5 MB budget
# after re-encoding is the limit a parent meets, not this one. Flask's MAX_CONTENT_LENGTH, the
# largest body any endpoint takes, is this plus MAX_FORM_BODY.
MAX_UPLOAD_SIZE = 30 * 1024 * 1024
# One text part of a multipart body. Werkzeug applies this to its whole multipart buffer, file
# parts too, and the buffer holds one 64 KB read of the body plus the tail of the read before
# when a CR or LF lies near its end (up to a boundary's length, kept in case a boundary starts
# there): at 64 KB most photos over 64 KB were refused, depending on their bytes. It must stay well
# above 64 KB. Text parts stay small anyway: a form's whole body is at most MAX_FORM_BODY, and the
# upload takes at most 4 parts (kiosk/web/bodies.py).
MAX_FORM_MEMORY_SIZE = 256 * 1024
MAX_FORM_PARTS = 100  # the longest form has about 20 fields
# waitress's own limits. Its body limit is above Flask's, so that a body too large for Flask gets
# Flask's page in the visitor's language rather than waitress's raw English one; waitress keeps a
# body over 512 KB in a temporary file, not in memory.
RUN_MAX_BODY = 64 * 1024 * 1024
RUN_MAX_HEADER_BYTES = 32 * 1024
RUN_CHANNEL_TIMEOUT_S = 60
RUN_CONNECTION_LIMIT = 200
# How many proxies in front of waitress set X-Forwarded-* (1 behind deploy/'s nginx; 0: none, and
# the headers are ignored)
TRUSTED_PROXIES = 0

# The idle reset: after VISIT_IDLE_S without a touch "Are you still there?" counts down
# VISIT_IDLE_WARN_S, then the visit is wiped. A visit the browser did not reset (a crash, no
# script) is refused by the server once it is VISIT_TTL_S old since its last request.
VISIT_IDLE_S = 60
VISIT_IDLE_WARN_S = 15
VISIT_TTL_S = 300

# Which terminal this is: the per-kiosk SMS limit counts per id
KIOSK_ID = "kiosk-1"
# DEMO shows a simulated phone on screen with the SMS the visitor's number received, so a newcomer
# can finish the flow without reading logs. None (the default) follows PORTAL: on with a simulated
# central system (embedded, demo), off with the real one (http), which refuses to start with it on.
DEMO = None

# SMS codes (none of these are official eGov figures: the portal's own are not published).
# The rules are in README, "SMS code rules": a code entered right counts against no limit, so a
# parent who identifies once and signs several applications never waits.
SMS_CODE_LENGTH = 6
SMS_CODE_TTL_S = 300
SMS_CODE_MAX_FAILURES = 5  # wrong entries per IIN in the window lock its codes; a right code forgives them
SMS_FAILURE_WINDOW_S = 3600
SMS_SENDS_PER_IIN = 3  # codes never entered right, per IIN in the window (one phone is not flooded)
SMS_SENDS_PER_IIN_WINDOW_S = 900
SMS_MIN_INTERVAL_S = 60  # before a resend of the code for the same identification or application
SMS_SENDS_PER_KIOSK = 30  # codes never entered right, per terminal in the window
SMS_SENDS_PER_KIOSK_WINDOW_S = 3600
# "console" logs each SMS with its code masked (the demo phone shows it whole); "portal" asks the
# central system to deliver it to the phone registered for the IIN. None follows PORTAL: "portal"
# with the real central system (which refuses "console"), else "console".
SMS_GATEWAY = None
# The central system: "embedded" starts `kiosk portal-sim` inside `kiosk run` (on SIM_PORT) and
# talks to it over HTTP, as to the real one; "http" talks to PORTAL_URL; "demo" is an in-process
# stand-in with no HTTP at all (the visitor tests use it). None: "http" when PORTAL_URL is set,
# else "embedded".
PORTAL = None
PORTAL_URL = None
PORTAL_TIMEOUT_S = 10.0
# hex HMAC key this kiosk signs with; None means instance/portal_key, made on the first start
PORTAL_KEY = None
SIM_PORT = 8090
# `kiosk run` also runs the sync worker as a thread (a school server runs `kiosk sync` instead)
SYNC_IN_PROCESS = True
SYNC_BATCH = 20
SYNC_CONCURRENCY = 4
SYNC_LEASE_S = 60
SYNC_BACKOFF_BASE_S = 2.0
SYNC_BACKOFF_CAP_S = 600.0
SYNC_IDLE_S = 1.0
# tell the parent by SMS, in the language of the visit, when the central system decides
NOTIFY_BY_SMS = False
# where the receipt's QR code points (the school's public address of this kiosk's status page)
PUBLIC_URL = None
# an ESC/POS printer for receipts: "usb:0x0416:0x5011" or a device file; None: browser printing only
RECEIPT_PRINTER = None

# ЭЦҚ (README, "Signing with ЭЦҚ"). The НУЦ roots and intermediates a site installs: None means
# instance/ecp/; with no root there, the kiosk offers no ЭЦҚ (the SMS code and the office remain).
ECP_TRUST_DIR = None
# OCSP and CRL addresses; None and () mean the ones in the parent's certificate (read only after
# its chain to an installed root held): http://ocsp.pki.gov.kz/ and crl.pki.gov.kz for НУЦ's
ECP_OCSP_URL = None
ECP_CRL_URLS: tuple[str, ...] = ()
ECP_REVOCATION_CACHE_S = 300  # how long an OCSP answer or a CRL serves (never past its own next update)
ECP_FETCH_TIMEOUT_S = 5.0
# the site's GOST verifier (NCANode); None: GOST signatures are marked "not verified here"
ECP_VERIFIER_URL = None
# where the terminal's NCALayer listens: the CSP's connect-src names exactly this, nothing else
NCALAYER_URL = "wss://127.0.0.1:13579"
# how long a challenge to sign (identify) stays good, and how long the page waits for NCALayer's
# answer (the parent types the PIN in NCALayer's own window) before saying it did not answer
ECP_CHALLENGE_TTL_S = 300
ECP_WAIT_S = 120
# eGov Mobile by QR code (through the central system, offered with a НУЦ root installed and a
# central system that opens signing sessions): how long the kiosk waits for the parent to sign on
# the phone (the central system's own expiry may end it sooner), and how often the page asks
EGOV_WAIT_S = 300
EGOV_POLL_S = 2
# Personal data (kiosk/jobs/privacy.py, README "Personal data"). The school is the operator of what
# parents give the kiosk: its name in each language and its BIN, as the consent names them.
PRIVACY_OPERATOR_NAME = None  # e.g. {"kk": "...", "ru": "...", "en": "..."}; None: "the school running this kiosk"
PRIVACY_OPERATOR_BIN = None  # the school's 12-digit BIN
# Days an application's personal data is kept after its outcome, then erased (its own key
# destroyed). These are this kiosk's defaults, not periods the law sets: a school sets its own.
# Only outcomes can be named: an application still on its way is never erased.
PRIVACY_RETENTION_DAYS = {"approved": 90, "refused": 90, "cancelled": 30}
# The sync worker erases what is due this often (0: never; then run `kiosk privacy erase` from cron)
PRIVACY_ERASE_EVERY_S = 24 * 3600
# Applications erased per transaction, and a pause after each, in which the visitors' writes go
# first: on SQLite a batch holds the one write lock (bench/privacy_erase.py measured these)
PRIVACY_ERASE_BATCH = 200
PRIVACY_ERASE_PAUSE_S = 0.05
# Who answers for personal data at the school, named on `kiosk privacy incident`'s report
PRIVACY_RESPONSIBLE = None

# Staff console
STAFF_IDLE_S = 15 * 60
STAFF_MAX_S = 8 * 3600
STAFF_MAX_FAILURES = 5
STAFF_LOCK_S = 15 * 60
STAFF_ALERT_WAITING_S = 3600
STAFF_ALERT_OFFLINE_S = 600
# SMS codes that could not be sent within this window raise an alert
STAFF_ALERT_SMS_S = 3600


class ConfigError(Exception):
    """A setting, or a mix of settings, the kiosk refuses to start with; the message says which."""


# lower case: Flask copies only upper-case names of this module into the config
_yes = ("true", "1", "yes", "on")
_no = ("false", "0", "no", "off")


def _flag(name: str, value: Any) -> bool:
    """A yes/no setting read strictly: "False" or "no" from an env file must not count as true."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _yes:
        return True
    if text in _no:
        return False
    raise ConfigError(f"{name}={value!r} is neither true nor false")


def settle(config: MutableMapping[str, Any]) -> None:
    """Fill PORTAL, DEMO and SMS_GATEWAY where nothing set them, then refuse an unsafe mix.

    A clean clone gets the simulated central system, the demo phone and the console; a site that
    names its real central system (PORTAL_URL, PORTAL=http) gets neither the demo phone nor the
    console, and a site that asks for them with it does not start.
    """
    which = "PORTAL=http"
    if config.get("PORTAL") is None:
        config["PORTAL"] = "http" if config.get("PORTAL_URL") else "embedded"
        which = "PORTAL_URL set (so PORTAL=http)"
    real = config["PORTAL"] == "http"
    config["DEMO"] = not real if config.get("DEMO") is None else _flag("DEMO", config["DEMO"])
    if config.get("SMS_GATEWAY") is None:
        config["SMS_GATEWAY"] = "portal" if real else "console"
    if real and config["DEMO"]:
        raise ConfigError(
            f"DEMO is on with {which}: the demo phone would show every parent's SMS code on the "
            "screen. Set DEMO=false (KIOSK_DEMO=false), or leave it out, on a kiosk that talks to the "
            "real central system."
        )
    if real and config["SMS_GATEWAY"] == "console":
        raise ConfigError(
            f"SMS_GATEWAY=console with {which}: the codes would go to the server's log, not to the "
            "parent's phone. Set SMS_GATEWAY=portal (KIOSK_SMS_GATEWAY=portal), or leave it out."
        )
