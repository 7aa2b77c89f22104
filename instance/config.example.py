# A site's settings: copy to instance/config.py (ignored by git) and change what differs here.
# Every setting can also come from the environment as KIOSK_<NAME>, e.g. KIOSK_DATABASE_URL.
# The secret key is generated into instance/secret_key on the first start; do not put it here.

# PostgreSQL for a school or district server (the default is SQLite in instance/kiosk.sqlite3):
# DATABASE_URL = "postgresql+psycopg://kiosk@127.0.0.1:5432/kiosk"

# A site's own reviewed catalog: put it at instance/catalog.toml (checked with `kiosk check-catalog`)
# or point to it here:
# CATALOG_PATH = "/etc/kiosk/domain/catalog.toml"

# Days before a window closes from which a service shows how many days are left:
# WINDOW_WARN_DAYS = 30

# Where `kiosk run` listens, and waitress's worker threads:
# RUN_HOST = "127.0.0.1"
# RUN_PORT = 8080
# RUN_THREADS = 8

# Behind a TLS proxy:
# SESSION_COOKIE_SECURE = True
