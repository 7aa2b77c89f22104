"""Applying over HTTP: forms per service, attachments, check and sign, the queue and the receipt."""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest
from PIL import Image
from sqlalchemy import select

from fixtures.flows import (
    CARD,
    NO_PHONE,
    PARENT,
    apply,
    attach,
    child_iin,
    demo_code,
    fill_form,
    identify,
    meals,
    sign,
    soup,
    token,
)
from kiosk import db
from kiosk.domain.submissions import ImmutableSubmission, attachments_of, open_payload
from kiosk.extensions import keyring
from kiosk.models import Attachment, State, Submission

CHILD6 = child_iin(dt.date(2020, 3, 3))  # six in 2026
CHILD10 = child_iin(dt.date(2016, 9, 9), "F")
GRADE1_KK = {"child_iin": CHILD6, "child_name": "Нұрлан Әлібек", "grade": "1", "language": "kk"}


@pytest.fixture(autouse=True)
def in_the_window(clock) -> None:
    clock.set_local(2026, 5, 4)  # grade 1 applications are open


def rows(app):
    from sqlalchemy.orm import selectinload

    with app.app_context(), db.new_session(app) as s:
        return list(s.scalars(select(Submission).options(selectinload(Submission.events))))


def test_grade1_from_identify_to_receipt_in_kazakh(client, app, clock) -> None:
    location = apply(client, "kk", "grade1", GRADE1_KK, clock)
    page = soup(client.get(location))
    reference = page.select_one("[data-reference]").get_text()
    assert len(reference) == 11 and reference[3] == "-"
    assert {p["data-receipt-lang"] for p in page.select("[data-receipt-lang]")} == {"kk", "ru"}
    assert "Өтініш қабылданды" in page.get_text() and "Заявление принято" in page.get_text()
    assert page.select_one("[data-qr] svg") is not None
    originals = [li.get_text() for li in page.select('[data-receipt-lang="ru"] .originals li')]
    assert any("удостоверяющий личность" in o.lower() for o in originals)
    [row] = rows(app)
    assert row.state == State.QUEUED and row.service_code == "grade1" and row.school_year == 2026
    assert [e.to_state for e in row.events] == [State.QUEUED]
    assert reference.replace("-", "") == row.reference


def test_meals_with_a_category_in_russian(client, app, clock) -> None:
    location = apply(client, "ru", "meals", meals(CHILD10, category="orphan"), clock)
    page = soup(client.get(location))
    assert "Предоставление бесплатного и льготного питания" in page.get_text()
    [row] = rows(app)
    with app.app_context():
        payload = open_payload(row, keyring())
    assert payload["answers"]["category"] == "orphan" and payload["answers"]["grade"] == "4"
    assert payload["applicant"]["iin"] == PARENT


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        (
            {"child_iin": child_iin(dt.date(2021, 1, 5)), "child_name": "Али Нур", "grade": "1", "language": "kk"},
            "child_iin",
            "6 лет",
        ),
        (
            {"child_iin": "190315500013", "child_name": "Али Нур", "grade": "1", "language": "kk"},
            "child_iin",
            "не действительный ИИН",
        ),
        ({"child_iin": PARENT, "child_name": "Али Нур", "grade": "1", "language": "kk"}, "child_iin", "меньше 18"),
        ({"child_iin": CHILD6, "child_name": "R2D2", "grade": "1", "language": "kk"}, "child_name", "только буквы"),
        (
            {"child_iin": CHILD6, "child_name": "Али Нур", "grade": "1", "language": "fr"},
            "language",
            "Неверный вариант",
        ),
        ({"child_iin": CHILD6, "child_name": "", "grade": "1", "language": "kk"}, "child_name", "обязателен"),
    ],
)
def test_every_field_is_checked_on_the_server(client, clock, answers, field, message) -> None:
    identify(client, "ru", "grade1", clock=clock)
    response = fill_form(client, "ru", answers)
    assert response.status_code == 200
    error = soup(response).select_one(f"#field-{field} .field-error")
    assert error is not None and message in error.get_text()


MIXED_ALPHABETS = {
    "kk": "бір әліпбимен",
    "ru": "одним алфавитом",
    "en": "in one alphabet",
}


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
@pytest.mark.parametrize(
    "name",
    [
        "Aлия Саpова",  # a Latin A and p among Cyrillic letters: looks right, matches no record
        "Ivanов Иван",
        "Иванова Maria",  # each word in one alphabet, the name in two
        "Сәрсенова-Smith Әсел",
        "Іңкәр Нурланкызы".replace("І", "I"),  # a Latin I for the Kazakh І
    ],
)
def test_a_name_mixing_cyrillic_and_latin_letters_is_refused_in_the_visitors_language(
    client, clock, lang, name
) -> None:
    identify(client, lang, "meals", clock=clock)
    response = fill_form(client, lang, {"child_iin": CHILD10, "child_name": name, "grade": "4", "category": "asp"})
    assert response.status_code == 200
    error = soup(response).select_one("#field-child_name .field-error")
    assert error is not None and MIXED_ALPHABETS[lang] in error.get_text()


@pytest.mark.parametrize(
    "name", ["Нұрлан Әлібек", "Іңкәр Һадиша", "Семёнова-Ли Алёна", "O'Brien Aruzhan", "Smith-Jones Ann"]
)
def test_a_name_in_one_alphabet_is_taken(client, clock, name) -> None:
    identify(client, "kk", "meals", clock=clock)
    response = fill_form(client, "kk", {"child_iin": CHILD10, "child_name": name, "grade": "4", "category": "asp"})
    assert response.status_code == 302, soup(response).select(".field-error")


def test_transport_distance_and_camp_choices(client, app, clock) -> None:
    identify(client, "en", "transport", clock=clock)
    response = fill_form(
        client,
        "en",
        {"child_iin": CHILD10, "child_name": "Aruzhan", "grade": "3", "settlement": "Qaragaily", "distance_km": "abc"},
    )
    assert soup(response).select_one("#field-distance_km .field-error") is not None
    response = fill_form(
        client,
        "en",
        {"child_iin": CHILD10, "child_name": "Aruzhan", "grade": "3", "settlement": "Qaragaily", "distance_km": "12.5"},
    )
    assert response.status_code == 302


def test_one_application_per_child_per_service_per_school_year(client, app, clock, signing_ca) -> None:
    """Whether the first was signed with the SMS code or with ЭЦҚ, it is the child's one application."""
    answers = meals(CHILD10)
    receipt = apply(client, "ru", "meals", answers, clock, ca=signing_ca)
    first = soup(client.get(receipt)).select_one("[data-reference]").get_text()
    client.post("/ru/receipt/finish", data={"csrf_token": token(client, first and "/ru/status")})
    identify(client, "ru", "meals", clock=clock)
    response = fill_form(client, "ru", answers)
    duplicate = soup(response).select_one("[data-duplicate]")
    assert duplicate is not None and first in duplicate.get_text()
    assert [row.signature_method for row in rows(app)] == ["ecp" if signing_ca else "sms"]


def test_change_an_answer_from_the_check_screen(client, app, clock) -> None:
    identify(client, "ru", "meals", clock=clock)
    fill_form(client, "ru", meals(CHILD10))
    page = soup(client.get("/ru/apply/check"))
    change = page.select_one('[data-answer="grade"] a')["href"]
    assert change == "/ru/apply/form?back=check#field-grade"
    form = soup(client.get(change.split("#")[0]))
    assert form.select_one('input[name="grade"][value="4"]').has_attr("checked")  # the answer is kept
    response = client.post(
        "/ru/apply/form?back=check",
        data={**meals(CHILD10, grade="5"), "csrf_token": token(client, "/ru/apply/form")},
    )
    assert response.headers["Location"].endswith("/ru/apply/check")
    assert "5" in soup(client.get("/ru/apply/check")).select_one('[data-answer="grade"] dd').get_text()


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_a_reload_after_a_refused_form_shows_what_was_typed(client, clock, lang) -> None:
    """The form refused a wrong child IIN; the reload (a GET: the page took its own address) shows
    every answer typed, the wrong one too, to be corrected; nothing after the form opens on them."""
    identify(client, lang, "meals", clock=clock)
    typed = meals(CHILD10[:11] + str((int(CHILD10[11]) + 1) % 10), child_name="Иванова  Мария")
    refused = fill_form(client, lang, typed)
    assert refused.status_code == 200 and soup(refused).select_one("#child_iin-error")
    form = soup(client.get(f"/{lang}/apply/form"))
    assert form.select_one('input[name="child_iin"]')["value"] == typed["child_iin"]
    assert form.select_one('input[name="child_name"]')["value"] == "Иванова Мария"
    assert form.select_one('input[name="grade"][value="4"]').has_attr("checked")
    assert form.select_one('input[name="category"][value="asp"]').has_attr("checked")
    for step in ("attachments", "check", "sign"):  # an invalid draft is not an application
        response = client.get(f"/{lang}/apply/{step}")
        assert response.headers["Location"].endswith(f"/{lang}/apply/form"), step
    response = client.post(
        f"/{lang}/apply/check", data={"consent": "y", "csrf_token": token(client, f"/{lang}/apply/form")}
    )
    assert response.headers["Location"].endswith(f"/{lang}/apply/form")

    assert fill_form(client, lang, meals(CHILD10)).headers["Location"].endswith(f"/{lang}/apply/attachments")
    assert client.get(f"/{lang}/apply/check").status_code == 200
    assert soup(client.get(f"/{lang}/apply/form")).select_one('input[name="child_iin"]')["value"] == CHILD10


def test_a_refused_change_holds_the_application_until_the_form_is_right(client, app, clock) -> None:
    """Change from the check page, then a wrong answer: the form shows it after a reload, and the
    earlier answers cannot be signed behind it until the form is sent right again."""
    identify(client, "ru", "meals", clock=clock)
    fill_form(client, "ru", meals(CHILD10))
    csrf = token(client, "/ru/apply/check")
    response = client.post(
        "/ru/apply/form?back=check", data={**meals(CHILD10, child_name="Иванова Mария"), "csrf_token": csrf}
    )
    assert response.status_code == 200
    assert (
        soup(client.get("/ru/apply/form?back=check")).select_one('input[name="child_name"]')["value"] == "Иванова Mария"
    )
    assert (
        client.post("/ru/apply/check", data={"consent": "y", "csrf_token": csrf})
        .headers["Location"]
        .endswith("/ru/apply/form")
    )
    assert not rows(app)
    response = client.post("/ru/apply/form?back=check", data={**meals(CHILD10, grade="5"), "csrf_token": csrf})
    assert response.headers["Location"].endswith("/ru/apply/check")
    sign(client, "ru", clock)
    [row] = rows(app)
    with app.app_context():
        assert open_payload(row, keyring())["answers"]["grade"] == "5"


def test_consent_is_required(client, clock) -> None:
    identify(client, "ru", "meals", clock=clock)
    fill_form(client, "ru", meals(CHILD10))
    response = client.post("/ru/apply/check", data={"csrf_token": token(client, "/ru/apply/check")})
    assert response.status_code == 200
    assert "согласны" in soup(response).select_one(".field-error").get_text()


def test_the_code_signs_exactly_this_application(client, app, clock) -> None:
    identify(client, "ru", "meals", clock=clock)
    answers = meals(CHILD10)
    fill_form(client, "ru", answers)
    clock.now += dt.timedelta(seconds=61)
    client.post("/ru/apply/check", data={"consent": "y", "csrf_token": token(client, "/ru/apply/check")})

    code = demo_code(client, "/ru/apply/sign")
    # the application changes after the code was sent: that code cannot sign the new one
    client.post(
        "/ru/apply/form?back=check", data={**answers, "grade": "7", "csrf_token": token(client, "/ru/apply/form")}
    )
    client.get("/ru/apply/check")
    response = client.post("/ru/apply/sign", data={"code": code, "csrf_token": token(client, "/ru/apply/check")})
    assert response.status_code == 302 and response.headers["Location"].endswith("/ru/apply/check")
    assert rows(app) == []


def test_the_assisted_path_queues_for_the_check_at_the_office(client, app, clock) -> None:

    client.get("/ru/identify?service=meals")
    client.post("/ru/identify/iin", data={"iin": NO_PHONE, "csrf_token": token(client, "/ru/identify")})
    client.post("/ru/identify/assisted", data={"csrf_token": token(client, "/ru/identify/help")})
    fill_form(client, "ru", meals(CHILD10))
    response = client.post("/ru/apply/check", data={"consent": "y", "csrf_token": token(client, "/ru/apply/check")})
    page = soup(client.get(response.headers["Location"]))
    assert "удостоверение личности" in page.get_text()
    [row] = rows(app)
    assert row.state == State.NEEDS_VERIFICATION and row.identity_method == "in_person"


def _png(size=(800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


# werkzeug's test client spools a big request body to a temporary file and, without redirects to
# follow, never closes it (werkzeug/test.py, Client.open): a leak of the test tool, not the app
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_attachments_checked_by_content_and_kept_within_5_mb(client, app, clock, signing_ca) -> None:
    identify(client, "ru", "meals", clock=clock)
    fill_form(client, "ru", meals(CHILD10))

    assert attach(client, "ru", _png(), "photo.png").status_code == 302
    assert attach(client, "ru", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n", "scan.pdf").status_code == 302
    refused = attach(client, "ru", b"MZ\x90\x00 this is a program", "photo.jpg")  # a name says nothing
    assert "не фотография и не PDF" in soup(refused).select_one(".alert").get_text()
    huge_pdf = b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024) + b"\n%%EOF\n"
    assert "не помещается" in soup(attach(client, "ru", huge_pdf, "big.pdf")).select_one(".alert").get_text()
    page = soup(client.get("/ru/apply/attachments"))
    assert len(page.select("[data-file]")) == 2
    assert int(page.select_one("[data-used]")["data-used"]) < 5 * 1024 * 1024
    with app.app_context(), db.new_session(app) as s:
        kinds = sorted(a.kind for a in s.scalars(select(Attachment)))
        assert kinds == ["application/pdf", "image/jpeg"]  # the PNG was re-encoded, never kept
    location = sign(client, "ru", clock, signing_ca)  # the SMS code, or ЭЦҚ: the same budget held
    [row] = rows(app)
    assert row.signature_method == ("ecp" if signing_ca else "sms")
    with app.app_context(), db.new_session(app) as s:
        assert len(list(s.scalars(select(Attachment).where(Attachment.submission_id == row.id)))) == 2
        assert len(open_payload(row, keyring())["attachments"]) == 2  # what was signed names both
    assert soup(client.get(location)).select_one("[data-reference]")
    import gc

    gc.collect()  # let the test client's temporary files go while the warning filter above applies


def test_a_signed_submission_cannot_be_changed(client, app, clock) -> None:
    apply(client, "ru", "meals", meals(CHILD10), clock)
    with app.app_context(), db.new_session(app) as s:
        row = s.scalars(select(Submission)).one()
        row.payload = row.payload[:-4] + "AAAA"
        with pytest.raises(ImmutableSubmission):
            s.commit()
        s.rollback()
        row = s.scalars(select(Submission)).one()
        row.state = State.SENDING  # the state may move
        s.commit()


def test_status_by_reference_and_iin_and_by_the_qr_token(client, app, clock) -> None:
    location = apply(client, "ru", "meals", meals(CHILD10), clock)
    receipt = soup(client.get(location))
    reference = receipt.select_one("[data-reference]").get_text()
    client.post("/ru/receipt/finish", data={"csrf_token": token(client, location)})
    other = app.test_client()
    response = other.post(
        "/en/status", data={"reference": reference.lower(), "iin": PARENT, "csrf_token": token(other, "/en/status")}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/en/status/found"
    page = soup(other.get("/en/status/found"))
    assert "Queued" in page.select_one("[data-state]").get_text()
    assert app.test_client().get("/en/status/found").headers["Location"] == "/en/status"  # only for this visit
    assert "Иванова" not in page.get_text() and PARENT not in page.get_text()
    page = soup(
        other.post(
            "/en/status", data={"reference": reference, "iin": "190315500012", "csrf_token": token(other, "/en/status")}
        )
    )
    assert "No application was found" in page.select_one(".alert").get_text()
    # a refusal's reason, in the visitor's language
    with app.app_context(), db.new_session(app) as s:
        from kiosk.models import SubmissionEvent

        row = s.scalars(select(Submission)).one()
        row.state = State.REFUSED
        row.events.append(
            SubmissionEvent(
                at=row.created_at,
                from_state="in_progress",
                to_state="refused",
                actor="sync",
                detail={
                    "reason": {
                        "kk": "Құжаттар толық емес",
                        "ru": "Неполный пакет документов",
                        "en": "Incomplete documents",
                    }
                },
            )
        )
        s.commit()
    page = soup(
        other.post(
            "/kk/status",
            data={"reference": reference, "iin": PARENT, "csrf_token": token(other, "/kk/status")},
            follow_redirects=True,
        )
    )
    assert "Құжаттар толық емес" in page.select_one("[data-reason]").get_text()


def test_a_reload_after_a_refused_status_look_up_shows_what_was_typed(client, app, clock) -> None:
    """A mistyped IIN, then a reference that matches nothing: each time the reload (a GET) shows the
    reference and the IIN typed, to correct; the look-up that finds the application forgets them."""
    location = apply(client, "ru", "meals", meals(CHILD10), clock)
    reference = soup(client.get(location)).select_one("[data-reference]").get_text()
    client.post("/ru/receipt/finish", data={"csrf_token": token(client, location)})
    other = app.test_client()

    def look_up(ref: str, iin: str):
        return other.post("/ru/status", data={"reference": ref, "iin": iin, "csrf_token": token(other, "/ru/status")})

    def shown() -> tuple[str, str]:
        page = soup(other.get("/ru/status"))
        return page.select_one("input#reference").get("value", ""), page.select_one("input#iin").get("value", "")

    wrong_iin = PARENT[:11] + str((int(PARENT[11]) + 1) % 10)
    assert look_up(reference, wrong_iin).status_code == 200
    assert shown() == (reference, wrong_iin)
    wrong_reference = reference[:-1] + ("0" if reference[-1] != "0" else "1")
    refused = soup(look_up(wrong_reference, PARENT))
    assert refused.select_one(".alert") and refused.select_one("input#iin")["value"] == PARENT
    assert shown() == (wrong_reference, PARENT)
    assert look_up(reference, PARENT).headers["Location"] == "/ru/status/found"
    assert shown() == ("", "")


def test_the_qr_code_leads_to_the_status_page(client, app, clock) -> None:
    location = apply(client, "kk", "meals", meals(CHILD10), clock)
    with client.session_transaction() as visit:
        status_token = visit["receipts"][0]["token"]
    with app.test_request_context("/kk/receipt/x", base_url="http://kiosk.school.kz"):
        from kiosk.web.receipts import qr_svg, status_url

        url = status_url(status_token, "kk")
        assert url == f"http://kiosk.school.kz/kk/status/t/{status_token}"
        drawn = qr_svg(url)
    assert soup(client.get(location)).select_one("[data-qr] svg") is not None and "<svg" in drawn
    with app.app_context(), db.new_session(app) as s:
        assert s.scalars(select(Submission)).one().status_token_hash != status_token  # only a hash is kept
    response = app.test_client().get(f"/ru/status/t/{status_token}")
    assert response.status_code == 200 and "В очереди" in soup(response).select_one("[data-state]").get_text()
    assert app.test_client().get("/ru/status/t/not-a-token").status_code == 404


def test_finish_wipes_the_visit(client, app, clock) -> None:
    location = apply(client, "ru", "meals", meals(CHILD10), clock)
    old_cookie = client.get_cookie("kiosk_visit").value
    response = client.post("/ru/receipt/finish", data={"csrf_token": token(client, location)})
    assert response.headers["Location"].endswith("/")
    assert client.get_cookie("kiosk_visit") is None
    assert client.get(location).status_code == 302  # the receipt is gone from this terminal
    client.set_cookie("kiosk_visit", old_cookie)
    assert client.get(location).status_code == 302
    assert client.get("/ru/apply/check").status_code == 302


def test_escpos_receipt_for_usb_printers(client, app, clock) -> None:
    from kiosk.clients.printer import escpos_bytes
    from kiosk.web.receipts import receipt_parts

    apply(client, "kk", "grade1", GRADE1_KK, clock)
    with app.test_request_context("/kk/"), db.new_session(app) as s:
        row = s.scalars(select(Submission)).one()
        from kiosk.infra.catalog_ext import get_catalog

        parts = receipt_parts(row, open_payload(row, keyring()), get_catalog(), attachments_of(s, row), first="kk")
        data = escpos_bytes(parts, "http://kiosk/s")
    assert b"\x1dv0" in data  # the receipt drawn as a raster image (Kazakh letters intact)
    assert b"\x1d(k" in data  # a native QR code
    assert data.rstrip().endswith(b"\x1dV\x00") or b"\x1dV" in data[-8:]  # and a cut


def test_personal_data_is_not_in_the_database_files_or_the_logs(client, app, instance, caplog, clock) -> None:
    caplog.set_level(logging.DEBUG)
    names = ["Нұрлан Әлібек", "Иванова Мария"]
    apply(client, "kk", "grade1", {"child_iin": CHILD6, "child_name": names[0], "grade": "1", "language": "kk"}, clock)
    client.post("/kk/receipt/finish", data={"csrf_token": token(client, "/kk/status")})
    apply(client, "ru", "meals", {"child_iin": CHILD10, "child_name": names[1], "grade": "4", "category": "asp"}, clock)
    raw = b"".join(p.read_bytes() for p in instance.glob("kiosk.sqlite3*"))
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for secret in [PARENT, CHILD6, CHILD10, *names, *CARD.split("\n")[2].split("<<")[:2]]:
        assert secret.encode() not in raw, secret
        assert secret.encode("utf-16-le") not in raw
        assert secret not in logs, secret


def test_back_after_signing_shows_the_receipt_not_an_empty_form(client, clock) -> None:
    """Back (or a reload) after the receipt reaches the steps of the application just sent: each
    shows its receipt, never Step 1 of an empty form; "Apply here" again starts the next one."""
    answers = meals(CHILD10)
    receipt = apply(client, "ru", "meals", answers, clock=clock)
    reference = soup(client.get(receipt)).select_one("[data-reference]").get_text()
    for step in ("form", "attachments", "check", "sign"):
        response = client.get(f"/ru/apply/{step}")
        assert response.status_code == 302 and response.headers["Location"] == receipt, step
    # a tap on the page Back showed from the browser's memory sends nothing again
    response = client.post("/ru/apply/check", data={"consent": "y", "csrf_token": token(client, receipt)})
    assert response.headers["Location"] == receipt
    page = soup(client.get(receipt, follow_redirects=True))
    assert page.select_one("[data-reference]").get_text() == reference and page.select_one("[data-another]")

    # the second child: "Apply here" on the service page starts a new application of the service
    response = client.get("/ru/identify?service=meals")
    assert response.headers["Location"].endswith("/ru/apply/form")
    form = client.get("/ru/apply/form")
    assert form.status_code == 200 and not soup(form).select_one('input[name="child_iin"]').get("value")
    answers = {**answers, "child_iin": child_iin(dt.date(2017, 2, 2)), "child_name": "Иванов Пётр"}
    assert fill_form(client, "ru", answers).status_code == 302
    second = sign(client, "ru", clock)
    assert second != receipt and client.get("/ru/apply/form").headers["Location"] == second


def _bin() -> str:
    """A company's BIN: registration year and month, then the entity type (4) in the 5th digit."""
    from kiosk.domain.iin import check_digit

    return next(f"0405400{s:04d}{d}" for s in range(50) if (d := check_digit(f"0405400{s:04d}")) is not None)


@pytest.mark.parametrize("lang", ["kk", "ru"])
@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        (_bin(), "bin"),
        ("12345678901a", "not_12_digits"),  # a letter among the digits
        ("abcdefghijkl", "not_12_digits"),
        ("12345", "not_12_digits"),
        (CHILD10[:11] + str((int(CHILD10[11]) + 1) % 10), "checksum"),
    ],
)
def test_a_wrong_iin_reads_the_same_on_every_screen(client, clock, lang, typed, problem) -> None:
    """The parent's field, the child's and the status look-up's say one message for one mistake
    (a BIN names itself as a BIN in each, and asks for the IIN the field wants)."""
    from kiosk.domain.iin import IinProblem
    from kiosk.web.codestep import iin_message

    with client.application.test_request_context(f"/{lang}/"):
        from flask import g

        g.lang = lang
        own = iin_message(IinProblem(problem))
        child = iin_message(IinProblem(problem), whose="child")
    if problem != "bin":
        assert own == child

    def error(response, field: str) -> str:
        assert response.status_code == 200
        return (
            soup(response).select_one(f"#{field} ~ .field-error, #field-{field} .field-error").get_text(" ", strip=True)
        )

    status = client.post(
        f"/{lang}/status",
        data={"reference": "KSK-2026-000001", "iin": typed, "csrf_token": token(client, f"/{lang}/status")},
    )
    assert error(status, "iin") == own
    client.get(f"/{lang}/identify?service=meals")
    parent = client.post(f"/{lang}/identify/iin", data={"iin": typed, "csrf_token": token(client, f"/{lang}/identify")})
    assert error(parent, "iin") == own
    identify(client, lang, "meals", clock=clock)
    answers = meals(typed)
    assert error(fill_form(client, lang, answers), "child_iin") == child
