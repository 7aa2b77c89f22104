"""Package defaults: the embedded kiosk (SQLite in instance/, console SMS, the simulator).

Layers on top, in order: ``instance/config.py``, ``KIOSK_*`` environment variables (values are
parsed as JSON where they can be, so ``KIOSK_RUN_PORT=8081`` is a number), then a test mapping.
No secret lives here: the secret key is generated into ``instance/`` on the first start.
"""

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

SESSION_COOKIE_NAME = "kiosk_visit"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
MAX_CONTENT_LENGTH = 8 * 1024 * 1024

# Which terminal this is: the per-kiosk SMS limit counts per id
KIOSK_ID = "kiosk-1"
# DEMO shows a simulated phone on screen with the SMS the visitor's number received,
# so a newcomer can finish the flow without reading logs. Turn it off on a real terminal.
DEMO = True

# SMS codes (none of these are official eGov figures: the portal's own are not published)
SMS_CODE_LENGTH = 6
SMS_CODE_TTL_S = 300
SMS_CODE_MAX_FAILURES = 5
SMS_FAILURE_WINDOW_S = 3600
SMS_SENDS_PER_IIN = 3
SMS_SENDS_PER_IIN_WINDOW_S = 900
SMS_MIN_INTERVAL_S = 60
SMS_SENDS_PER_KIOSK = 30
SMS_SENDS_PER_KIOSK_WINDOW_S = 3600
# "console" prints each SMS on the server's console (and the demo phone); "portal" asks the
# central system to deliver it to the phone registered for the IIN
SMS_GATEWAY = "console"
# "demo" is the central system's in-process stand-in with synthetic citizens
PORTAL = "demo"
