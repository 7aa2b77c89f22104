"""The central system (the eGov portal and the education systems), behind one client class.

Until the HTTP simulator and its contract arrive, the embedded kiosk uses ``DemoPortal``: an
in-process stand-in with synthetic citizens, some of them without a registered phone. Tests
inject their own (an unreachable one, say) through ``app.extensions["kiosk.portal"]``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from flask import Flask, current_app

from kiosk.iin import make_iin


class PortalUnavailable(Exception):
    """The central system did not answer; the visitor is offered the staff-assisted path."""


@dataclass(frozen=True)
class Phone:
    number: str  # E.164, e.g. +77011234545; known to the portal, the kiosk shows it masked

    @property
    def masked(self) -> str:
        """'+7 701 *** ** 45': enough for a parent to recognise their own number."""
        digits = self.number.lstrip("+")
        return f"+{digits[0]} {digits[1:4]} *** ** {digits[-2:]}"


class PortalClient:
    """What the kiosk asks of the central system. Every method may raise PortalUnavailable."""

    def phone_for(self, iin: str) -> Phone | None:
        """The phone registered for this IIN in the mobile citizens database, if any."""
        raise NotImplementedError

    def send_sms(self, iin: str, text: str) -> None:
        """Deliver a text to the phone registered for this IIN."""
        raise NotImplementedError


def demo_citizens() -> dict[str, Phone | None]:
    """Synthetic adults made by the IIN algorithm (never numbers copied from anywhere)."""
    people = [
        (dt.date(1988, 4, 12), "F", 1234, "+77011234545"),
        (dt.date(1985, 11, 3), "M", 2345, "+77057654312"),
        (dt.date(1992, 1, 27), "F", 3456, "+77474567890"),
        (dt.date(1979, 6, 30), "M", 4567, None),  # no phone in the mobile citizens database
    ]
    out: dict[str, Phone | None] = {}
    for born, sex, serial, phone in people:
        iin = make_iin(born, sex, serial)
        assert iin is not None
        out[iin] = Phone(phone) if phone else None
    return out


@dataclass
class DemoPortal(PortalClient):
    citizens: dict[str, Phone | None] = field(default_factory=demo_citizens)
    reachable: bool = True
    sent: list[tuple[str, str]] = field(default_factory=list)

    def phone_for(self, iin: str) -> Phone | None:
        if not self.reachable:
            raise PortalUnavailable("demo portal switched off")
        if iin in self.citizens:
            return self.citizens[iin]
        # anyone else has a made-up number, the same every time, so demos and load tests can use
        # any synthetic IIN; the listed citizen without a phone shows the other path
        digits = int(hashlib.sha256(iin.encode()).hexdigest(), 16) % 10**7
        return Phone(f"+7700{digits:07d}")

    def send_sms(self, iin: str, text: str) -> None:
        if self.phone_for(iin) is None:
            raise PortalUnavailable("no phone registered")
        self.sent.append((iin, text))
        del self.sent[:-100]  # a demo, not a store


def init_app(app: Flask) -> None:
    if app.config["PORTAL"] != "demo":
        raise RuntimeError(f"PORTAL={app.config['PORTAL']!r}: only the demo portal exists so far")
    app.extensions["kiosk.portal"] = DemoPortal()


def get_portal() -> PortalClient:
    return current_app.extensions["kiosk.portal"]
