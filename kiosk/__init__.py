"""School services kiosk: a Flask app for the touch terminal in a school lobby."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config layers, extensions, the catalog, blueprints, CLI."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("KIOSK_INSTANCE_PATH") or str(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_object("kiosk.config")
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("KIOSK")
    if test_config:
        app.config.from_mapping(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from kiosk import (
        apply,
        assets,
        catalog_ext,
        crypto,
        db,
        display,
        errors,
        formdata,
        health,
        i18n,
        identify,
        keys,
        portal,
        receipt,
        security,
        sms,
        staff,
        status,
        visitor,
    )
    from kiosk.extensions import csrf, htmx
    from kiosk.sessions import VisitSessionInterface

    formdata.init_app(app)
    keys.init_app(app)
    crypto.init_app(app)
    db.init_app(app)
    app.session_interface = VisitSessionInterface()
    csrf.init_app(app)
    htmx.init_app(app)
    i18n.init_app(app)
    catalog_ext.init_app(app)
    assets.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    display.init_app(app)
    app.register_blueprint(health.bp)
    portal.init_app(app)
    sms.init_app(app)
    app.register_blueprint(visitor.bp)
    app.register_blueprint(identify.bp)
    app.register_blueprint(apply.bp)
    app.register_blueprint(receipt.bp)
    app.register_blueprint(status.bp)
    staff.init_app(app)
    return app
