"""The identify screens over HTTP: card or IIN, the masked phone, the code, and every refusal."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from bs4 import BeautifulSoup

from kiosk.clients.portal import DemoPortal
from kiosk.domain.iin import make_iin
from kiosk.domain.mrz import compose_td1

PARENT = "880412412349"  # a demo citizen with +7 701 *** ** 45
PARENT_PHONE = "+77011234545"
NO_PHONE = "790630345672"  # a demo citizen without a registered phone
CARD = compose_td1("043218765", PARENT, dt.date(2031, 5, 20), "NURLANQYZY", "AIGERIM")


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def csrf(client, url: str) -> str:
    return soup(client.get(url)).select_one('input[name="csrf_token"]')["value"]


def post(client, url: str, data: dict, lang: str = "ru", page: str | None = None):
    token = csrf(client, page or f"/{lang}/identify")
    return client.post(url, data={**data, "csrf_token": token})


def demo_code(client, lang: str = "ru") -> str:
    texts = [li.get_text() for li in soup(client.get(f"/{lang}/identify/code")).select("[data-sms]")]
    return re.search(r"\b(\d{6})\b", texts[0]).group(1)


def start_with_card(client, card: str = CARD, lang: str = "ru"):
    return post(client, f"/{lang}/identify/card", {"mrz": card}, lang)


def test_the_identify_screen_offers_the_card_and_the_keypad(client) -> None:
    page = soup(client.get("/kk/identify?service=meals"))
    assert page.select_one("textarea#mrz[inputmode=none]") is not None
    assert page.select_one("svg.card-picture title").get_text()
    keys = [b["data-key"] for b in page.select(".keypad [data-key]")]
    assert sorted(k for k in keys if k.isdigit()) == list("0123456789")
    assert "clear" in keys and "back" in keys


def test_apply_button_leads_to_identify_for_services_the_kiosk_takes(client, clock) -> None:
    clock.set_local(2026, 5, 4)
    page = soup(client.get("/ru/services/grade1"))
    assert page.select_one("[data-apply]")["href"] == "/ru/identify?service=grade1"
    clock.set_local(2026, 9, 10)  # outside the window there is no button
    assert soup(client.get("/ru/services/grade1")).select_one("[data-apply]") is None
    assert soup(client.get("/ru/services/qualcat")).select_one("[data-apply]") is None


def test_card_then_code_confirms_the_identity_and_renews_the_session(client) -> None:
    client.get("/ru/identify?service=meals")
    before = client.get_cookie("kiosk_visit").value
    response = start_with_card(client, CARD.replace("\n", "\r\n") + "\r\n")
    assert response.status_code == 302 and response.headers["Location"].endswith("/ru/identify/code")
    page = soup(client.get("/ru/identify/code"))
    assert page.select_one("[data-phone]").get_text() == "+7 701 *** ** 45"
    assert PARENT_PHONE not in str(page)
    code = demo_code(client)
    response = post(client, "/ru/identify/code", {"code": code}, page="/ru/identify/code")
    assert response.status_code == 302 and response.headers["Location"].endswith("/ru/identify/done")
    assert client.get_cookie("kiosk_visit").value != before  # a new token once identified
    done = soup(client.get("/ru/identify/done"))
    assert done.select_one("[data-name]").get_text() == "Aigerim Nurlanqyzy"
    assert done.select_one("[data-iin]").get_text() == "88••••••••49"
    assert done.select_one("section.done")["data-method"] == "sms"
    # the old token is worth nothing now
    client.set_cookie("kiosk_visit", before)
    assert client.get("/ru/identify/done").status_code == 302


def test_typed_iin_on_the_keypad_works_the_same(client) -> None:
    response = post(client, "/kk/identify/iin", {"iin": "8804 1241 2349"}, "kk")
    assert response.headers["Location"].endswith("/kk/identify/code")
    code = demo_code(client, "kk")
    response = post(client, "/kk/identify/code", {"code": code}, "kk", page="/kk/identify/code")
    assert response.headers["Location"].endswith("/kk/identify/done")


@pytest.mark.parametrize(
    ("card", "lang", "message"),
    [
        (CARD[:44] + ("0" if CARD[44] != "0" else "1") + CARD[45:], "ru", "Удостоверение не прочитано"),
        (CARD.replace("IDKAZ", "IDUZB"), "en", "Only a Kazakhstan ID card"),
        (compose_td1("043218765", PARENT, dt.date(2020, 1, 1), "A", "B"), "en", "This ID card has expired"),
        (compose_td1("043218765", PARENT, dt.date(2031, 1, 1), "A", "B", sex="M"), "en", "do not agree"),
        (
            compose_td1("043218765", make_iin(dt.date(2010, 3, 3), "M", 12), dt.date(2031, 1, 1), "A", "B"),
            "kk",
            "18 жасқа толған",
        ),
        ("garbage", "ru", "Удостоверение не прочитано"),
        ("", "ru", "Удостоверение не прочитано"),
        ("x" * 5000, "ru", "Удостоверение не прочитано"),
    ],
)
def test_each_card_problem_has_its_message(client, card, lang, message) -> None:
    response = start_with_card(client, card, lang)
    assert response.status_code == 200
    assert message in soup(response).select_one(".alert").get_text()


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("190315500013", "Это не действительный ИИН"),
        ("12345", "ровно из 12 цифр"),
        ("", "Введите ваш ИИН"),
        (make_iin(dt.date(2015, 6, 1), "M", 0), "18 лет"),
    ],
)
def test_each_iin_problem_has_its_message(client, typed, message) -> None:
    response = post(client, "/ru/identify/iin", {"iin": typed})
    assert response.status_code == 200
    assert message in soup(response).select_one(".field-error").get_text()


def test_a_bin_typed_as_an_iin_gets_its_own_message(client) -> None:
    from kiosk.domain.iin import check_digit

    number = next(
        f"0405400{s:04d}{check_digit(f'0405400{s:04d}')}"
        for s in range(50)
        if check_digit(f"0405400{s:04d}") is not None
    )
    response = post(client, "/en/identify/iin", {"iin": number}, "en")
    assert "(BIN)" in soup(response).select_one(".field-error").get_text()


def test_no_registered_phone_explains_and_offers_the_assisted_path(client) -> None:
    response = post(client, "/ru/identify/iin", {"iin": NO_PHONE})
    assert response.headers["Location"].endswith("/ru/identify/help?reason=no_phone")
    page = soup(client.get("/ru/identify/help?reason=no_phone"))
    assert "базе мобильных граждан" in page.get_text()
    token = page.select_one('input[name="csrf_token"]')["value"]
    response = client.post("/ru/identify/assisted", data={"csrf_token": token})
    done = soup(client.get(response.headers["Location"]))
    assert done.select_one("section.done")["data-method"] == "in_person"


def test_central_system_out_of_reach_offers_the_assisted_path(client, app) -> None:
    app.extensions["kiosk.portal"] = DemoPortal(reachable=False)
    response = post(client, "/en/identify/iin", {"iin": PARENT}, "en")
    assert response.headers["Location"].endswith("/en/identify/help?reason=offline")
    page = soup(client.get("/en/identify/help?reason=offline"))
    assert "does not answer" in page.get_text()
    assert page.select_one('form[action="/en/identify/assisted"]') is not None


def test_wrong_code_and_code_for_nobody_read_the_same(client) -> None:
    start_with_card(client)
    code = demo_code(client)
    bad = f"{(int(code) + 1) % 10**6:06d}"
    first = post(client, "/ru/identify/code", {"code": bad}, page="/ru/identify/code")
    assert "Код неверный или истёк" in soup(first).select_one(".alert").get_text()


@pytest.mark.parametrize(
    ("length", "lang", "label", "told"),
    [
        (6, "ru", "Код, 6 цифр", "Код состоит из 6 цифр."),
        (4, "ru", "Код, 4 цифры", "Код состоит из 4 цифр."),
        (4, "kk", "Код, 4 цифр", "Код 4 цифрдан тұрады."),
    ],
)
def test_the_code_field_takes_as_many_digits_as_the_codes_sent(app, client, length, lang, label, told) -> None:
    """SMS_CODE_LENGTH makes the codes, the field's length and its words; a code too short is a
    slip the page tells of, not a wrong code counted against the parent."""
    app.config["SMS_CODE_LENGTH"] = length
    start_with_card(client, lang=lang)
    page = soup(client.get(f"/{lang}/identify/code"))
    field = page.select_one("input#code")
    assert field["maxlength"] == str(length) and field["inputmode"] == "none"  # the page's own keypad
    assert page.select_one("label[for=code]").get_text() == label
    code = re.search(rf"\b(\d{{{length}}})\b", page.select_one("[data-sms]").get_text()).group(1)
    page_url = f"/{lang}/identify/code"
    short = soup(post(client, page_url, {"code": code[:-1]}, lang, page=page_url))
    assert short.select_one("#code-error").get_text() == told
    assert short.select_one("[data-tries-left]") is None  # nothing counted
    response = post(client, page_url, {"code": code}, lang, page=page_url)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/{lang}/identify/done")


def test_send_again_waits_sixty_seconds(client, clock) -> None:
    start_with_card(client)
    page = soup(client.get("/ru/identify/code"))
    assert page.select_one("[data-enable-after]").has_attr("disabled")
    clock.now += dt.timedelta(seconds=20)
    response = post(client, "/ru/identify/resend", {}, page="/ru/identify/code")
    page = soup(response)
    assert "обратный отсчёт" in page.select_one(".alert").get_text()
    # the wait is a clock that counts down (kiosk.js), starting from the time really left
    wait = page.select_one("[data-resend-wait]")
    assert " ".join(wait.get_text().split()) == "Новый код можно запросить через 0:40."
    assert wait.select_one("[data-countdown]")["data-countdown"] == "40"
    assert page.select_one("[data-enable-after]")["data-enable-after"] == "40"
    clock.now += dt.timedelta(seconds=61)
    response = post(client, "/ru/identify/resend", {}, page="/ru/identify/code")
    assert response.status_code == 302
    assert len(soup(client.get("/ru/identify/code")).select("[data-sms]")) == 2


def test_steps_out_of_order_go_back_to_the_start(client) -> None:
    for url in ("/ru/identify/code", "/ru/identify/help", "/ru/identify/done"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].endswith("/ru/identify")


def test_posts_without_a_csrf_token_are_refused_with_a_page(client) -> None:
    response = client.post("/ru/identify/card", data={"mrz": CARD})
    assert response.status_code == 400
    assert "<html" in response.get_data(as_text=True)


def test_logs_hold_no_iin_phone_or_code(client, caplog, clock) -> None:
    caplog.set_level(logging.DEBUG)
    start_with_card(client)
    code = demo_code(client)
    post(client, "/ru/identify/code", {"code": "000000" if code != "000000" else "111111"}, page="/ru/identify/code")
    clock.now += dt.timedelta(seconds=61)
    post(client, "/ru/identify/resend", {}, page="/ru/identify/code")
    code = demo_code(client)
    post(client, "/ru/identify/code", {"code": code}, page="/ru/identify/code")
    client.post("/reset")  # the visit ends; the next visitor has no phone
    post(client, "/ru/identify/iin", {"iin": NO_PHONE})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "sms code" in logged  # the events are there...
    for secret in (PARENT, NO_PHONE, PARENT_PHONE, PARENT_PHONE[1:], code, "NURLANQYZY", "AIGERIM"):
        assert secret not in logged  # ...without the personal data


def test_ten_thousand_wrong_codes_against_one_visit(client, app, clock) -> None:
    """A script hammering one visit for simulated hours: nothing accepted, sends within the limits."""
    start_with_card(client)
    token = csrf(client, "/ru/identify/code")
    real = demo_code(client)
    accepted = locked = 0
    sends = [clock.now]
    for i in range(10_000):
        guess = f"{(int(real) + 1 + i) % 10**6:06d}"
        if guess == real:
            guess = f"{(int(real) + 500_000) % 10**6:06d}"
        response = client.post("/ru/identify/code", data={"code": guess, "csrf_token": token})
        if response.status_code == 302:
            accepted += 1
        elif "Слишком много неверных кодов" in response.get_data(as_text=True):
            locked += 1
        clock.now += dt.timedelta(seconds=10)
        if i % 20 == 0:  # and asks for new codes all along
            before = len(client.get("/ru/identify/code").get_data(as_text=True).split("data-sms")) - 1
            client.post("/ru/identify/resend", data={"csrf_token": token})
            after = len(client.get("/ru/identify/code").get_data(as_text=True).split("data-sms")) - 1
            if after > before or (after == before == 5):
                sends.append(clock.now)
    assert accepted == 0
    assert locked > 9_000  # the lock holds most of the time
    with app.app_context():
        from sqlalchemy import select

        from kiosk import db
        from kiosk.models import SmsCode

        with db.new_session(app) as s:
            times = sorted(t.replace(tzinfo=dt.UTC) for t in s.scalars(select(SmsCode.created_at)))
    for i, t in enumerate(times):
        window = [u for u in times[: i + 1] if t - u < dt.timedelta(minutes=15)]
        assert len(window) <= 3
        if i:
            assert t - times[i - 1] >= dt.timedelta(seconds=60)
    hours = (clock.now - times[0]).total_seconds() / 3600
    assert len(times) <= 3 * 4 * (hours + 1)


def test_language_buttons_after_a_refused_card_lead_to_the_identify_screen(client) -> None:
    response = start_with_card(client, "garbage")
    links = {a["hreflang"]: a["href"] for a in soup(response).select("nav#langs a")}
    assert links["en"] == "/en/identify"
    assert client.get(links["en"]).status_code == 200


def test_a_reload_after_a_refused_iin_shows_the_digits_typed(client) -> None:
    """The start page refused a mistyped IIN; its reload (a GET: the page took its own address)
    shows the digits to correct. Once an IIN is taken they are gone."""
    wrong = PARENT[:11] + str((int(PARENT[11]) + 1) % 10)
    refused = post(client, "/ru/identify/iin", {"iin": wrong})
    assert refused.status_code == 200 and soup(refused).select_one("#iin-error")
    assert soup(client.get("/ru/identify")).select_one("input#iin")["value"] == wrong
    assert post(client, "/ru/identify/iin", {"iin": PARENT}).status_code == 302
    assert not soup(client.get("/ru/identify")).select_one("input#iin").get("value")
