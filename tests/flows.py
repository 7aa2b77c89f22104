"""Walk a visitor through the kiosk over the Flask test client, as the browser would."""

from __future__ import annotations

import datetime as dt
import re

from bs4 import BeautifulSoup

from kiosk.domain.iin import make_iin
from kiosk.domain.mrz import compose_td1

PARENT = "880412412349"  # demo citizen, phone +7 701 *** ** 45
PARENT_NAME = ("NURLANQYZY", "AIGERIM")
CARD = compose_td1("043218765", PARENT, dt.date(2031, 5, 20), *PARENT_NAME)
NO_PHONE = "790630345672"
CHILD_FIELDS = {"meals": ["child_iin", "child_name", "grade", "category"]}


def child_iin(born: dt.date, sex: str = "M", serial: int = 11) -> str:
    for s in range(serial, serial + 20):
        iin = make_iin(born, sex, s)
        if iin:
            return iin
    raise AssertionError("no IIN")


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def token(client, url: str) -> str:
    return soup(client.get(url)).select_one('input[name="csrf_token"]')["value"]


def demo_code(client, url: str) -> str:
    text = soup(client.get(url)).select("[data-sms]")[0].get_text()
    return re.search(r"\b(\d{6})\b", text).group(1)


def identify(client, lang: str, service: str, card: str = CARD, clock=None) -> None:
    if clock is not None:  # a parent's pace (no rule needs it: a new identification's code goes at once)
        clock.now += dt.timedelta(seconds=61)
    client.get(f"/{lang}/identify?service={service}")
    client.post(f"/{lang}/identify/card", data={"mrz": card, "csrf_token": token(client, f"/{lang}/identify")})
    code = demo_code(client, f"/{lang}/identify/code")
    response = client.post(
        f"/{lang}/identify/code", data={"code": code, "csrf_token": token(client, f"/{lang}/identify/code")}
    )
    assert response.headers["Location"].endswith(f"/{lang}/identify/done"), response.get_data(as_text=True)[:500]


def fill_form(client, lang: str, answers: dict[str, str]):
    return client.post(f"/{lang}/apply/form", data={**answers, "csrf_token": token(client, f"/{lang}/apply/form")})


def sign(client, lang: str, clock=None):
    """Consent, the signing code from the demo phone, and the receipt's address.

    The clock moves on a minute first, as a parent's does while filling the form (no rule needs
    it: the first code for an application goes at once, whatever was sent before).
    """
    if clock is not None:
        clock.now += dt.timedelta(seconds=61)
    response = client.post(
        f"/{lang}/apply/check", data={"consent": "y", "csrf_token": token(client, f"/{lang}/apply/check")}
    )
    assert response.status_code == 302, soup(response).select_one(".alert")
    code = demo_code(client, f"/{lang}/apply/sign")
    response = client.post(
        f"/{lang}/apply/sign", data={"code": code, "csrf_token": token(client, f"/{lang}/apply/sign")}
    )
    assert response.status_code == 302
    return response.headers["Location"]


def apply(client, lang: str, service: str, answers: dict[str, str], clock=None, card: str = CARD) -> str:
    identify(client, lang, service, card, clock)
    response = fill_form(client, lang, answers)
    assert response.status_code == 302, [e.get_text() for e in soup(response).select(".field-error, .alert")]
    return sign(client, lang, clock)


def apply_assisted(client, lang: str, answers: dict[str, str]):
    """The staff-assisted path: the parent with no registered phone, queued for the ID check."""
    client.get(f"/{lang}/identify?service=meals")
    client.post(f"/{lang}/identify/iin", data={"iin": NO_PHONE, "csrf_token": token(client, f"/{lang}/identify")})
    client.post(f"/{lang}/identify/assisted", data={"csrf_token": token(client, f"/{lang}/identify/help")})
    client.post(f"/{lang}/apply/form", data={**answers, "csrf_token": token(client, f"/{lang}/apply/form")})
    return client.post(
        f"/{lang}/apply/check", data={"consent": "y", "csrf_token": token(client, f"/{lang}/apply/check")}
    )
