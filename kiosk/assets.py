"""Serves htmx from the installed django-js-lib-htmx package: offline, nothing third-party in git."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from flask import Blueprint, Flask

HTMX_VERSION = "2.0.3"


def _htmx_folder() -> str:
    spec = find_spec("js_lib_htmx")  # found, not imported: its __init__ would want Django
    if spec is None or spec.origin is None:
        raise RuntimeError("django-js-lib-htmx is not installed; run the setup step in README.md")
    return str(Path(spec.origin).parent / "static" / "htmx")


def init_app(app: Flask) -> None:
    bp = Blueprint("vendor", __name__, static_folder=_htmx_folder(), static_url_path="/vendor/htmx")
    app.register_blueprint(bp)
