"""The app's bindings: Flask extensions created unbound here and bound in the factory, and the
site's secrets, keyring and outside clients bound to the app, so the domain and the clients stay
plain Python and the web layer finds each in one place."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, appcontext_popped, appcontext_pushed, current_app, has_app_context
from flask_babel import Babel
from flask_htmx import HTMX
from flask_wtf import CSRFProtect

from kiosk import site
from kiosk.clients.portal import DemoPortal, HttpPortal, Phone, PortalClient
from kiosk.clients.sms import ConsoleSms, DemoPhone, PortalSms, SmsGateway
from kiosk.config import ConfigError
from kiosk.infra.crypto import Keyring, load_keyring
from kiosk.infra.datakeys import FILENAME as DATAKEYS_FILE
from kiosk.infra.datakeys import DataKeys
from kiosk.infra.keys import instance_secret

babel = Babel()
csrf = CSRFProtect()
htmx = HTMX()

log = logging.getLogger("kiosk.clients.sms")


def bind_site(app: Flask) -> None:
    """Every context of this app binds its config as the site (kiosk.site) while it is pushed."""

    def pushed(sender: Flask, **_: Any) -> None:
        site.bind(sender.config)

    def popped(sender: Flask, **_: Any) -> None:
        site.bind(current_app.config if has_app_context() else None)

    appcontext_pushed.connect(pushed, app, weak=False)
    appcontext_popped.connect(popped, app, weak=False)


def init_secrets(app: Flask) -> None:
    """The session key, the look-up hash key and the data keys: from instance/, made on first start."""
    instance = Path(app.instance_path)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(instance / "secret_key")
    if not app.config.get("HASH_KEY"):
        app.config["HASH_KEY"] = instance_secret(instance / "hash_key")
    ring = load_keyring(instance / "keys")
    ring.datakeys = DataKeys(instance / "keys" / DATAKEYS_FILE, ring)  # each submission's own key
    app.extensions["kiosk.keyring"] = ring


def keyring() -> Keyring:
    return current_app.extensions["kiosk.keyring"]


def portal_key(app: Flask) -> bytes:
    """The key this kiosk signs its requests with (the central system holds the same one)."""
    configured = app.config.get("PORTAL_KEY") or instance_secret(Path(app.instance_path) / "portal_key")
    return bytes.fromhex(configured)


def init_clients(app: Flask) -> None:
    """The central system's client and the SMS gateway the config names."""
    kind = app.config["PORTAL"]
    portal: PortalClient
    if kind == "demo":
        portal = DemoPortal()
    elif kind in ("embedded", "http"):
        url = app.config["PORTAL_URL"] if kind == "http" else f"http://127.0.0.1:{app.config['SIM_PORT']}"
        if not url:
            raise ConfigError("PORTAL=http needs PORTAL_URL, the central system's address")
        portal = HttpPortal(url, app.config["KIOSK_ID"], portal_key(app), timeout=app.config["PORTAL_TIMEOUT_S"])
    else:
        raise ConfigError(f"PORTAL={kind!r}: use embedded, http or demo")
    app.extensions["kiosk.portal"] = portal
    gateway = app.config["SMS_GATEWAY"]
    if gateway not in ("console", "portal"):
        raise ConfigError(f"SMS_GATEWAY={gateway!r}: use one of console, portal")
    app.extensions["kiosk.sms"] = ConsoleSms() if gateway == "console" else PortalSms(portal)
    app.extensions["kiosk.demo_phone"] = DemoPhone()


def get_portal() -> PortalClient:
    return current_app.extensions["kiosk.portal"]


def send_sms(iin: str, phone: Phone, text: str, *, secret: str | None = None) -> None:
    """Send through the configured gateway; in DEMO mode the on-screen phone gets it too.

    ``secret`` is the code inside ``text``: only a phone gets it, the console and the log do not.
    """
    gateway: SmsGateway = current_app.extensions["kiosk.sms"]
    gateway.deliver(iin, phone, text, secret)
    if current_app.config["DEMO"]:
        current_app.extensions["kiosk.demo_phone"].receive(iin, text)
    log.info("sms sent to %s", phone.masked)


def demo_messages(iin: str) -> list[str]:
    return current_app.extensions["kiosk.demo_phone"].messages(iin)


def forget_demo_messages(iin: str) -> None:
    current_app.extensions["kiosk.demo_phone"].forget(iin)
