"""Bytes on the wire for a terminal's first view, and for the next page, with and without gzip.

The first view is Welcome and everything it loads (its stylesheet and scripts, found in the page as a
browser finds them; the icon is inside the page); the next page is the services page after the language is chosen,
with the static files then in the browser's cache (their fingerprinted URLs are long-lived, so the
browser asks nothing for them). Each is counted as a browser that asks for gzip gets it, and as one
that does not, so the saving is beside its baseline. The bytes are the status line, the headers and
the body of each answer, as the kiosk sends them (the request's own bytes are not counted). Every
URL a page names is checked to be on the kiosk's own origin: a terminal's first view makes no
request elsewhere.

```sh
.venv/bin/python bench/first_view.py            # a second or two
```
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from _flow import ROOT  # noqa: F401  # puts tests/ on the path
from _report import arguments, write_json
from fixtures.wire import GZIP, view


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kiosk-first-view-") as tmp:
        for name in [n for n in os.environ if n.startswith("KIOSK_")]:
            del os.environ[name]
        os.environ["KIOSK_INSTANCE_PATH"] = str(Path(tmp) / "instance")
        from kiosk import create_app, db

        app = create_app({"PORTAL": "demo"})
        db.upgrade(app)
        figures: dict[str, Any] = {}
        for label, headers in (("gzip", GZIP), ("no compression asked", {})):
            client = app.test_client()
            first, rows = view(client, "/", headers, with_assets=True)
            client.get("/ru/start")
            following, _ = view(client, "/ru/services", headers, with_assets=False)
            figures[label] = {"first_view_bytes": first, "next_page_bytes": following, "first_view": rows}
        db.engine(app).dispose()
    for label, fig in figures.items():
        total = fig["first_view_bytes"]
        print(f"{label}: first view {total:,} bytes ({total / 1024:.1f} KiB) in {len(fig['first_view'])} requests")
        for url, n in fig["first_view"]:
            print(f"    {n / 1024:>7.1f} KiB  {url}")
        print(f"  the services page next (static files cached): {fig['next_page_bytes'] / 1024:.1f} KiB")
    print("requests to other origins: 0")
    write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
