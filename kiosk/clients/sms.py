"""SMS delivery: the console for development, the central system in production.

The kiosk makes and checks its codes itself; a gateway only carries the text. The demo phone keeps
what each visitor's number received so the screen can show it (DEMO mode only), and forgets it
when the visit ends. A code is a secret: the sender names it (``secret=``), and nothing but the
phone (the real one, or the demo phone on screen) ever gets it; the console and the log get the
text with the code masked.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict

from kiosk.clients.portal import Phone, PortalClient
from kiosk.infra.keys import keyed_hash

log = logging.getLogger(__name__)


class DemoPhone:
    """Texts received per IIN (by keyed hash), kept in memory for the on-screen phone."""

    def __init__(self, keep: int = 5) -> None:
        self._inbox: dict[str, list[str]] = defaultdict(list)
        self._lock = threading.Lock()
        self._keep = keep

    def receive(self, iin: str, text: str) -> None:
        with self._lock:
            box = self._inbox[keyed_hash("demo-phone", iin)]
            box.append(text)
            del box[: -self._keep]

    def messages(self, iin: str) -> list[str]:
        with self._lock:
            return list(self._inbox.get(keyed_hash("demo-phone", iin), []))

    def forget(self, iin: str) -> None:
        with self._lock:
            self._inbox.pop(keyed_hash("demo-phone", iin), None)


class SmsGateway:
    def deliver(self, iin: str, phone: Phone, text: str, secret: str | None) -> None:
        raise NotImplementedError


def masked_text(text: str, secret: str | None) -> str:
    """The text as the log may keep it: the code in it replaced by asterisks."""
    return text.replace(secret, "*" * len(secret)) if secret else text


class ConsoleSms(SmsGateway):
    """Development: the text goes to the log with its code masked; the demo phone shows it whole.

    The server's output is a log too (journald keeps it), so not even the console gets the code.
    """

    def deliver(self, iin: str, phone: Phone, text: str, secret: str | None) -> None:
        log.info("console SMS to %s: %s", phone.masked, masked_text(text, secret))


class PortalSms(SmsGateway):
    """Production: the central system delivers to the phone registered for the IIN."""

    def __init__(self, portal: PortalClient) -> None:
        self.portal = portal

    def deliver(self, iin: str, phone: Phone, text: str, secret: str | None) -> None:
        self.portal.send_sms(iin, text)
