"""The consent the parent reads before signing: per service and language, stored sealed with the
application (and signed by the SMS code), summarised on the receipt, versioned (issue 16, item 1)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from fixtures.flows import PARENT, answers_for, fill_form, identify, sign, soup
from kiosk import db
from kiosk.domain.catalog import load_catalog
from kiosk.domain.submissions import open_payload
from kiosk.extensions import keyring
from kiosk.models import Submission
from kiosk.web import consent

SCHOOL = {"kk": "№ 7 жалпы білім беретін мектеп", "ru": "Общеобразовательная школа № 7", "en": "School No. 7"}
BIN = "990340001234"  # made up for the test
KIOSK_SERVICES = [s.code for s in load_catalog().services if s.takes_applications]
PARTS = ["operator", "purpose", "data", "third_party", "location", "period", "rights", "basis"]
WORDS = {  # a word of each part that only this language has
    "kk": {"location": "Қазақстан Республикасының шегінен", "basis": "Дербес деректер және оларды қорғау туралы"},
    "ru": {"location": "за пределы Республики Казахстан", "basis": "О персональных данных и их защите"},
    "en": {"location": "does not leave the Republic of Kazakhstan", "basis": "On personal data and their protection"},
}


@pytest.fixture
def school(app):
    app.config.update(PRIVACY_OPERATOR_NAME=SCHOOL, PRIVACY_OPERATOR_BIN=BIN)
    return app


def _check_page(client, clock, service: str, lang: str):
    identify(client, lang, service, clock=clock)
    response = fill_form(client, lang, answers_for(service, None))
    assert response.status_code == 302
    return soup(client.get(f"/{lang}/apply/check"))


@pytest.mark.parametrize(
    ("service", "lang"), [(code, "ru") for code in KIOSK_SERVICES] + [("meals", "kk"), ("meals", "en")]
)
def test_the_parent_reads_the_consent_for_this_service_in_their_language(client, clock, school, service, lang):
    page = _check_page(client, clock, service, lang)
    block = page.select_one("[data-consent]")
    assert block is not None and block["data-consent"] == consent.VERSION
    parts = {
        p["data-consent-part"]: p.select_one("dd").get_text(" ", strip=True)
        for p in block.select("[data-consent-part]")
    }
    assert list(parts) == PARTS
    assert SCHOOL[lang] in parts["operator"] and BIN in parts["operator"]
    definition = load_catalog().service(service)
    assert definition.name.get(lang) in parts["purpose"]
    # every field of this service's form is named, in the label the form shows
    labels = [label.get_text(" ", strip=True) for label in page.select("dl.answers [data-answer] dt")]
    assert labels and all(label.lower() in parts["data"].lower() for label in labels)
    # inside the sentence a label is not capitalised ("…; класс; …"), an acronym stays ("ИИН ребёнка")
    items = parts["data"].rstrip(".").split("; ")
    assert all(not (item[0].isupper() and item[1].islower()) for item in items), items
    if definition.info_system:
        assert definition.info_system in parts["third_party"]
    assert WORDS[lang]["location"] in parts["location"]
    assert WORDS[lang]["basis"] in parts["basis"] and "94-V" in parts["basis"]
    assert "90" in parts["period"] and "30" in parts["period"]


def test_the_consent_is_stored_sealed_and_signed_with_the_application(app, client, clock, school) -> None:
    identify(client, "kk", "meals", clock=clock)
    fill_form(client, "kk", answers_for("meals", None))
    location = sign(client, "kk", clock)
    with app.app_context(), db.new_session(app) as s:
        row = s.scalars(select(Submission)).one()
        payload = open_payload(row, keyring())
    record = payload["consent"]
    assert record["version"] == consent.VERSION and record["lang"] == "kk"
    assert record["operator"] == {"name": SCHOOL, "bin": BIN}
    assert record["service"] == "meals" and record["third_party"] == ["egov", "Bilimal"]
    assert record["cross_border"] is False
    assert record["retention_days"] == {"approved": 90, "refused": 90, "cancelled": 30}
    assert "Дербес деректерді өңдеуге келісім" in record["text"] and SCHOOL["kk"] in record["text"]
    assert record["text_sha256"] == hashlib.sha256(record["text"].encode()).hexdigest()
    assert dt.datetime.fromisoformat(record["at"]) <= row.created_at.replace(tzinfo=dt.UTC)
    assert row.consent_version == consent.VERSION and row.consent_at is not None
    # the SMS code signed the payload with its consent: the hash covers it
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert hashlib.sha256(raw).hexdigest() == row.payload_hash
    assert payload["applicant"]["iin"] == PARENT and PARENT not in row.payload  # sealed

    # staff see which text was agreed to, and when
    from fixtures.staff import sign_in_staff

    staff = app.test_client()
    sign_in_staff(app, staff)
    page = soup(staff.get(f"/staff/submissions/{row.reference}"))
    assert page.select_one("[data-consent]")["data-consent"] == consent.VERSION

    # the receipt summarises it in Kazakh and Russian, with the record kept, not today's settings
    app.config["PRIVACY_OPERATOR_NAME"] = {"kk": "Басқа мектеп", "ru": "Другая школа", "en": "Another"}
    receipt = soup(client.get(location)).get_text(" ", strip=True)
    assert "Дербес деректерді өңдеуге келісім" in receipt and "Согласие на обработку персональных данных" in receipt
    assert SCHOOL["kk"] in receipt and SCHOOL["ru"] in receipt and "Другая школа" not in receipt
    assert f"БСН {BIN}" in receipt and f"БИН {BIN}" in receipt
    assert "90 күн" in receipt and "90 дней" in receipt


# Each version's wording, pinned: a change of the text is a new VERSION (and a new line here).
PINNED = {
    "1": {
        "kk": "a3db13fcd6c570a55bd8f04706e42f87f3b85b71d99913ef883313708df7c51c",
        "ru": "91c94d0ab22c245a7f8fff4b9ef0712a7692d0404a3261ceacc6ededb5c9b966",
        "en": "ce5e43afaf0795e5a9c17ebefabe6a8918a1455a18535a989b8e0a91b8cb4dd5",
    }
}


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_a_change_of_the_consent_text_is_a_new_version(app, lang) -> None:
    """The wording around the catalog's words (a service's name, its form's labels) is pinned."""
    config = {
        "PRIVACY_OPERATOR_NAME": SCHOOL,
        "PRIVACY_OPERATOR_BIN": BIN,
        "PRIVACY_RETENTION_DAYS": {"approved": 90, "refused": 90, "cancelled": 30},
    }
    service = load_catalog().service("meals")
    with app.test_request_context(f"/{lang}/"):
        record = consent.record(service, lang, config, dt.datetime(2026, 5, 4, tzinfo=dt.UTC))
        with force_locale(lang):  # the form's labels in the consent's language, as record() reads them
            data = "; ".join(consent.data_items(service, lang)[1:-1])
    wording = record["text"].replace(service.name.get(lang), "<service>").replace(data, "<form>")
    assert PINNED[consent.VERSION][lang] == hashlib.sha256(wording.encode()).hexdigest(), (
        "the consent's wording changed: give it a new consent.VERSION and pin the new wording here"
    )
