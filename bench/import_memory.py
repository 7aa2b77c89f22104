"""What the kiosk's process holds, step by step: the RSS each import and each start-up step adds.

A fresh interpreter imports, in order, the libraries a kiosk process needs, then the kiosk's own
modules, then builds the app, checks its schema and answers the visitor's pages once, reading its
``VmRSS`` after each step; the libraries a process loads only when it needs them (Pillow for an
upload, segno for a receipt, Alembic for a migration, python-escpos for a USB printer) are
imported last, to show what they would add. The floor, a bare Flask app with waitress, is the
first two lines. Beside each step: whether the kiosk's `kiosk run` loads it at start. The instance
is migrated by another process first, so the figures are a restart's (`KIOSK_PORTAL=demo`: no
simulator in the process).

```sh
.venv/bin/python bench/import_memory.py            # a few seconds
.venv/bin/python bench/import_memory.py --json /tmp/imports.json
```

A library's figure includes what it imports that no earlier line did, so the order matters:
``flask`` carries Werkzeug, Jinja and the ssl module (OpenSSL), which later lines then share.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _report import arguments, write_json

# (what, code run in the child, loaded by `kiosk run` at start)
STEPS: list[tuple[str, str, bool]] = [
    ("python itself", "pass", True),
    ("flask (with werkzeug, jinja2, ssl)", "import flask", True),
    ("waitress", "import waitress", True),
    ("sqlalchemy + orm", "import sqlalchemy, sqlalchemy.orm", True),
    ("httpx (in a dev venv also rich, pygments)", "import httpx", True),
    ("cryptography AES-GCM", "import cryptography.hazmat.primitives.ciphers.aead", True),
    ("babel + flask_babel", "import babel, flask_babel", True),
    ("flask_wtf, wtforms, flask_login, flask_htmx", "import flask_wtf, wtforms, flask_login, flask_htmx", True),
    ("argon2", "import argon2", True),
    ("kiosk's modules (kiosk.cli)", "import kiosk.cli", True),
    ("create_app()", "from kiosk import create_app, db; app = create_app()", True),
    ("schema check (a restart: no Alembic)", "assert db.at_code_heads(app)", True),
    ("visitor pages answered once", "PAGES", True),
    ("Alembic (a migration only)", "import alembic.command, alembic.script, alembic.runtime.migration", False),
    ("Pillow (the first upload)", "import PIL.Image, PIL.ImageOps", False),
    ("segno (the first receipt)", "import segno", False),
    ("python-escpos (a USB printer)", "import escpos.printer", False),
    ("openapi-core (the simulator's contract check)", "import openapi_core", False),
]

CHILD = r"""
import json, sys
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
steps = json.loads(sys.argv[1])
out = []
for name, code, _ in steps:
    if code == "PAGES":
        client = app.test_client()
        for path in ("/", "/kk/start", "/kk/services", "/kk/services/meals", "/ru/services", "/en/services",
                     "/kk/identify", "/healthz"):
            client.get(path)
    else:
        exec(code)
    out.append(rss())
print(json.dumps(out))
"""


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kiosk-imports-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
        env["KIOSK_INSTANCE_PATH"] = str(Path(tmp) / "instance")
        env["KIOSK_PORTAL"] = "demo"
        # migrated by another process first: the figures are a restart's, as a terminal's every morning
        migrate = "from kiosk import create_app, db; db.upgrade(create_app())"
        subprocess.run([sys.executable, "-c", migrate], env=env, check=True, capture_output=True)
        done = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(STEPS)], env=env, capture_output=True, text=True, check=False
        )
    if done.returncode:
        print(done.stderr, file=sys.stderr)
        return 1
    rss = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{'step':<50} {'adds':>9} {'RSS':>10}  at start")
    rows = []
    last = 0
    for (name, _code, at_start), kib in zip(STEPS, rss, strict=True):
        added = kib - last if last else kib
        last = kib
        rows.append(
            {"step": name, "adds_mib": round(added / 1024, 1), "rss_mib": round(kib / 1024, 1), "at_start": at_start}
        )
        print(f"{name:<50} {added / 1024:>+8.1f}M {kib / 1024:>8.1f}M  {'yes' if at_start else 'no'}")
    write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
