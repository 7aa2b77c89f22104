"""Synthetic citizens of the mobile citizens database: made by the IIN algorithm, never copied.

The listed ones include the kiosk's demo people (same IINs and phones, so a demo behaves the same
against either peer). Any other valid IIN gets a deterministic answer, so load tests and demos can
use any synthetic number: no phone when ``int(iin[7:11]) % 10 == 0``, else a made-up one.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.domain.iin import InvalidIin, make_iin, parse_iin
from kiosk.portal_sim.models import Citizen

# (birth date, sex, serial, phone or None)
PEOPLE: tuple[tuple[dt.date, str, int, str | None], ...] = (
    (dt.date(1988, 4, 12), "F", 1234, "+77011234545"),
    (dt.date(1985, 11, 3), "M", 2345, "+77057654312"),
    (dt.date(1992, 1, 27), "F", 3456, "+77474567890"),
    (dt.date(1979, 6, 30), "M", 4567, None),
    (dt.date(1990, 9, 15), "F", 5671, "+77771230011"),
    (dt.date(1983, 2, 8), "M", 6782, "+77021112233"),
    (dt.date(1995, 12, 1), "F", 7893, None),
    (dt.date(1976, 7, 19), "M", 8914, "+77089998877"),
)


def listed_citizens() -> dict[str, str | None]:
    """The seeded citizens: IIN -> E.164 phone, or None for those without a registered phone."""
    out: dict[str, str | None] = {}
    for born, sex, serial, phone in PEOPLE:
        iin = make_iin(born, sex, serial)
        assert iin is not None, (born, sex, serial)
        out[iin] = phone
    return out


def seed(session: Session) -> None:
    """Put the listed citizens in the store once; the caller commits."""
    known = set(session.scalars(select(Citizen.iin)))
    for iin, phone in listed_citizens().items():
        if iin not in known:
            session.add(Citizen(iin=iin, phone=phone, seeded=True))


def valid_iin(iin: str) -> bool:
    """A well-formed, issuable IIN of a person (checksum, century, date)."""
    try:
        parse_iin(iin)
    except InvalidIin:
        return False
    return iin.isascii() and len(iin) == 12


def derived_phone(iin: str) -> str | None:
    """The phone of an IIN the store does not list: the same answer every time."""
    if int(iin[7:11]) % 10 == 0:
        return None
    digits = int(hashlib.sha256(iin.encode()).hexdigest(), 16) % 10**7
    return f"+7700{digits:07d}"


def phone_of(session: Session, iin: str) -> str | None:
    """The registered phone for a valid IIN, or None."""
    citizen = session.get(Citizen, iin)
    return citizen.phone if citizen is not None else derived_phone(iin)


def masked(phone: str) -> str:
    """'+7 701 *** ** 45': enough to recognise one's own number, the number itself stays here."""
    digits = phone.lstrip("+")
    return f"+{digits[0]} {digits[1:4]} *** ** {digits[-2:]}"
