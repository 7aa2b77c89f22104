"""School services kiosk: a Flask app for the touch terminal in a school lobby."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from kiosk import db
from kiosk.config import settle

ROOT = Path(__file__).resolve().parent.parent


class Kiosk(Flask):
    """Flask, but a database error that is the database's state, not a bug, gets no traceback.

    Flask logs an error raised while the visit is loaded or saved with its traceback before
    kiosk/web/errors.py answers it; a busy database or one behind the migrations gets "try again" or
    "out of service" there, and one warning line (errors.database_page).
    """

    def log_exception(self, exc_info: Any) -> None:
        exc = exc_info[1]
        if isinstance(exc, SQLAlchemyError) and (db.is_busy(exc) or db.schema_problem(self)):
            return
        super().log_exception(exc_info)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config layers, extensions, the catalog, blueprints, CLI.

    Raises ``ConfigError`` (kiosk.config) for settings it must not run with, ``CatalogError`` for a
    broken catalog: ``kiosk run``, ``kiosk sync`` and ``waitress-serve --call`` all refuse to start.
    """
    app = Kiosk(
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
    settle(app.config)  # ConfigError: the start refuses, with the reason
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    # the web layer loads when an app is made, not at every import of a kiosk module (the
    # simulator and the scripts in bench/ import kiosk.clock or kiosk.db alone)
    from kiosk.extensions import bind_site, csrf, htmx, init_clients, init_secrets
    from kiosk.infra import catalog_ext, i18n, security
    from kiosk.infra.sessions import VisitSessionInterface
    from kiosk.web import (
        apply,
        assets,
        bodies,
        compression,
        display,
        ecp,
        errors,
        formdata,
        health,
        identify,
        receipt,
        rendering,
        staff,
        status,
        visitor,
    )

    formdata.init_app(app)
    rendering.init_app(app)
    bind_site(app)
    init_secrets(app)
    db.init_app(app)
    app.session_interface = VisitSessionInterface()
    bodies.init_app(app)  # before the CSRF check, which parses the form
    csrf.init_app(app)
    htmx.init_app(app)
    i18n.init_app(app)
    catalog_ext.init_app(app)
    assets.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    compression.init_app(app)
    display.init_app(app)
    app.register_blueprint(health.bp)
    init_clients(app)
    ecp.init_app(app)
    app.register_blueprint(visitor.bp)
    app.register_blueprint(identify.bp)
    app.register_blueprint(apply.bp)
    app.register_blueprint(receipt.bp)
    app.register_blueprint(status.bp)
    staff.init_app(app)
    return app
