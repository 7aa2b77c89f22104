"""Applying over HTTP: forms per service, attachments, check and sign, the queue and the receipt."""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest
from PIL import Image
from sqlalchemy import select

from flows import CARD, PARENT, apply, child_iin, fill_form, identify, sign, soup, token
from kiosk import db
from kiosk.crypto import keyring
from kiosk.models import Attachment, State, Submission
from kiosk.submissions import ImmutableSubmission, open_payload

CHILD6 = child_iin(dt.date(2020, 3, 3))  # six in 2026
CHILD10 = child_iin(dt.date(2016, 9, 9), "F")


@pytest.fixture(autouse=True)
def in_the_window(clock) -> None:
    clock.set_local(2026, 5, 4)  # grade 1 applications are open


def rows(app):
    from sqlalchemy.orm import selectinload

    with app.app_context(), db.new_session(app) as s:
        return list(s.scalars(select(Submission).options(selectinload(Submission.events))))


def test_grade1_from_identify_to_receipt_in_kazakh(client, app, clock) -> None:
    location = apply(
        client,
        "kk",
        "grade1",
        {"child_iin": CHILD6, "child_name": "Нұрлан Әлібек", "grade": "1", "language": "kk"},
        clock,
    )
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
    location = apply(
        client,
        "ru",
        "meals",
        {"child_iin": CHILD10, "child_name": "Иванова Мария", "grade": "4", "category": "orphan"},
        clock,
    )
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


def test_one_application_per_child_per_service_per_school_year(client, app, clock) -> None:
    answers = {"child_iin": CHILD10, "child_name": "Иванова Мария", "grade": "4", "category": "asp"}
    first = soup(client.get(apply(client, "ru", "meals", answers, clock))).select_one("[data-reference]").get_text()
    client.post("/ru/receipt/finish", data={"csrf_token": token(client, first and "/ru/status")})
    identify(client, "ru", "meals", clock=clock)
    response = fill_form(client, "ru", answers)
    duplicate = soup(response).select_one("[data-duplicate]")
    assert duplicate is not None and first in duplicate.get_text()
    assert len(rows(app)) == 1


def test_change_an_answer_from_the_check_screen(client, app, clock) -> None:
    identify(client, "ru", "meals", clock=clock)
    fill_form(client, "ru", {"child_iin": CHILD10, "child_name": "Иванова Мария", "grade": "4", "category": "asp"})
    page = soup(client.get("/ru/apply/check"))
    change = page.select_one('[data-answer="grade"] a')["href"]
    assert change == "/ru/apply/form?back=check#field-grade"
    form = soup(client.get(change.split("#")[0]))
    assert form.select_one('input[name="grade"][value="4"]').has_attr("checked")  # the answer is kept
    response = client.post(
        "/ru/apply/form?back=check",
        data={
            "child_iin": CHILD10,
            "child_name": "Иванова Мария",
            "grade": "5",
            "category": "asp",
            "csrf_token": token(client, "/ru/apply/form"),
        },
    )
    assert response.headers["Location"].endswith("/ru/apply/check")
    assert "5" in soup(client.get("/ru/apply/check")).select_one('[data-answer="grade"] dd').get_text()


def test_consent_is_required(client, clock) -> None:
    identify(client, "ru", "meals", clock=clock)
    fill_form(client, "ru", {"child_iin": CHILD10, "child_name": "Иванова Мария", "grade": "4", "category": "asp"})
    response = client.post("/ru/apply/check", data={"csrf_token": token(client, "/ru/apply/check")})
    assert response.status_code == 200
    assert "согласны" in soup(response).select_one(".field-error").get_text()


def test_the_code_signs_exactly_this_application(client, app, clock) -> None:
    identify(client, "ru", "meals", clock=clock)
    answers = {"child_iin": CHILD10, "child_name": "Иванова Мария", "grade": "4", "category": "asp"}
    fill_form(client, "ru", answers)
    clock.now += dt.timedelta(seconds=61)
    client.post("/ru/apply/check", data={"consent": "y", "csrf_token": token(client, "/ru/apply/check")})
    from flows import demo_code

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
    from flows import NO_PHONE

    client.get("/ru/identify?service=meals")
    client.post("/ru/identify/iin", data={"iin": NO_PHONE, "csrf_token": token(client, "/ru/identify")})
    client.post("/ru/identify/assisted", data={"csrf_token": token(client, "/ru/identify/help")})
    fill_form(client, "ru", {"child_iin": CHILD10, "child_name": "Иванова Мария", "grade": "4", "category": "asp"})
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
def test_attachments_checked_by_content_and_kept_within_5_mb(client, app, clock) -> None:
    identify(client, "ru", "meals", clock=clock)
    fill_form(client, "ru", {"child_iin": CHILD10, "child_name": "Иванова Мария", "grade": "4", "category": "asp"})

    def upload(data: bytes, name: str):
        return client.post(
            "/ru/apply/attachments",
            data={"file": (io.BytesIO(data), name), "csrf_token": token(client, "/ru/apply/attachments")},
            content_type="multipart/form-data",
        )

    assert upload(_png(), "photo.png").status_code == 302
    assert upload(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n", "scan.pdf").status_code == 302
    refused = upload(b"MZ\x90\x00 this is a program", "photo.jpg")  # a name says nothing
    assert "не фотография и не PDF" in soup(refused).select_one(".alert").get_text()
    huge_pdf = b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024) + b"\n%%EOF\n"
    assert "не помещается" in soup(upload(huge_pdf, "big.pdf")).select_one(".alert").get_text()
    page = soup(client.get("/ru/apply/attachments"))
    assert len(page.select("[data-file]")) == 2
    assert int(page.select_one("[data-used]")["data-used"]) < 5 * 1024 * 1024
    with app.app_context(), db.new_session(app) as s:
        kinds = sorted(a.kind for a in s.scalars(select(Attachment)))
        assert kinds == ["application/pdf", "image/jpeg"]  # the PNG was re-encoded, never kept
    location = sign(client, "ru", clock)
    [row] = rows(app)
    with app.app_context(), db.new_session(app) as s:
        assert len(list(s.scalars(select(Attachment).where(Attachment.submission_id == row.id)))) == 2
    assert soup(client.get(location)).select_one("[data-reference]")
    import gc

    gc.collect()  # let the test client's temporary files go while the warning filter above applies


def test_a_signed_submission_cannot_be_changed(client, app, clock) -> None:
    apply(
        client,
        "ru",
        "meals",
        {"child_iin": CHILD10, "child_name": "Иванова Мария", "grade": "4", "category": "asp"},
        clock,
    )
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
    location = apply(
        client,
        "ru",
        "meals",
        {"child_iin": CHILD10, "child_name": "Иванова Мария", "grade": "4", "category": "asp"},
        clock,
    )
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


def test_the_qr_code_leads_to_the_status_page(client, app, clock) -> None:
    location = apply(
        client,
        "kk",
        "meals",
        {"child_iin": CHILD10, "child_name": "Иванова Мария", "grade": "4", "category": "asp"},
        clock,
    )
    with client.session_transaction() as visit:
        status_token = visit["receipts"][0]["token"]
    with app.test_request_context("/kk/receipt/x", base_url="http://kiosk.school.kz"):
        from kiosk.receipt import qr_svg, status_url

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
    location = apply(
        client,
        "ru",
        "meals",
        {"child_iin": CHILD10, "child_name": "Иванова Мария", "grade": "4", "category": "asp"},
        clock,
    )
    old_cookie = client.get_cookie("kiosk_visit").value
    response = client.post("/ru/receipt/finish", data={"csrf_token": token(client, location)})
    assert response.headers["Location"].endswith("/")
    assert client.get_cookie("kiosk_visit") is None
    assert client.get(location).status_code == 302  # the receipt is gone from this terminal
    client.set_cookie("kiosk_visit", old_cookie)
    assert client.get(location).status_code == 302
    assert client.get("/ru/apply/check").status_code == 302


def test_escpos_receipt_for_usb_printers(client, app, clock) -> None:
    from kiosk.receipt import escpos_bytes, receipt_parts

    apply(
        client,
        "kk",
        "grade1",
        {"child_iin": CHILD6, "child_name": "Нұрлан Әлібек", "grade": "1", "language": "kk"},
        clock,
    )
    with app.test_request_context("/kk/"), db.new_session(app) as s:
        row = s.scalars(select(Submission)).one()
        from kiosk.catalog_ext import get_catalog

        data = escpos_bytes(receipt_parts(row, open_payload(row, keyring()), get_catalog()), "http://kiosk/s")
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
