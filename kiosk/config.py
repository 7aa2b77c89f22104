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
