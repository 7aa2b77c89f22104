"""Photos and scans as parents bring them, posted through real waitress: accepted, upright, re-encoded
and counted against the 5 MB budget, which is the only limit a parent meets."""

from __future__ import annotations

import datetime as dt
import gc
import io

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from fixtures import documents
from fixtures.flows import child_iin, fill_form, identify, meals, soup, token
from kiosk import db
from kiosk.domain.attachments import TOTAL_BUDGET
from kiosk.extensions import keyring
from kiosk.models import Attachment

COOKIE = "kiosk_visit"
ANSWERS = meals(child_iin(dt.date(2016, 3, 3)))


def _browser(client, live_server: str) -> httpx.Client:
    """An HTTP client over real waitress that carries on the test client's visit."""
    return httpx.Client(base_url=live_server, cookies={COOKIE: client.get_cookie(COOKIE).value}, timeout=60)


def _upload(web: httpx.Client, lang: str, name: str, data: bytes, kind: str) -> httpx.Response:
    page = BeautifulSoup(web.get(f"/{lang}/apply/attachments").text, "html.parser")
    csrf = page.select_one('form[data-upload] input[name="csrf_token"]')["value"]
    return web.post(f"/{lang}/apply/attachments", data={"csrf_token": csrf}, files={"file": (name, data, kind)})


def _stored(app) -> list[tuple[str, bytes]]:
    with app.app_context(), db.new_session(app) as s:
        rows = s.scalars(select(Attachment).order_by(Attachment.id))
        return [(a.kind, keyring().open(a.sealed, bound_to=a.sha256)) for a in rows]


def test_photos_and_scans_as_parents_bring_them_are_accepted_through_waitress(app, client, live_server, clock) -> None:
    files = [
        ("IMG_0001.jpg", documents.phone_photo(0.3), "image/jpeg"),
        ("IMG_0002.jpg", documents.phone_photo(2), "image/jpeg"),
        ("IMG_0003.jpg", documents.phone_photo(5), "image/jpeg"),
        ("scan.png", documents.png_scan(), "image/png"),
        ("scan.pdf", documents.scanned_pdf(3), "application/pdf"),
    ]
    sizes = [len(data) / documents.MB for _name, data, _kind in files]
    assert 0.25 < sizes[0] < 0.4 and 1.6 < sizes[1] < 2.5 and 4.5 < sizes[2] < 5.5 and sizes[3] > 10, sizes
    identify(client, "ru", "meals", clock=clock)
    fill_form(client, "ru", ANSWERS)
    with _browser(client, live_server) as web:
        for name, data, kind in files:
            answer = _upload(web, "ru", name, data, kind)
            assert answer.status_code == 302, (name, answer.status_code, answer.text[:300])
        page = BeautifulSoup(web.get("/ru/apply/attachments").text, "html.parser")
    assert len(page.select("[data-file]")) == 5
    assert not page.select(".alert:not([hidden])")
    used = int(page.select_one("[data-used]")["data-used"])
    assert used <= TOTAL_BUDGET  # 14 MB of PNG and 7 MB of photos in, re-encoded to fit
    stored = _stored(app)
    assert [kind for kind, _data in stored] == ["image/jpeg"] * 4 + ["application/pdf"]
    assert sum(len(data) for _kind, data in stored) == used
    for _kind, jpeg in stored[:3]:
        assert documents.is_upright(jpeg)  # turned by its EXIF tag: the red band along the top
    assert stored[4][1] == files[4][1]  # a PDF is kept as it came


@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_file_part_longer_than_werkzeugs_read_is_never_refused_as_a_long_text_field(app, client, clock) -> None:
    """Werkzeug checks its whole multipart buffer against MAX_FORM_MEMORY_SIZE, file parts too: one
    64 KB read plus the bytes it kept from the read before (from a CR or LF near the end, in case a
    boundary starts there). A PDF's lines end every few bytes, so each read keeps some: the limit of
    64 KB refused every such file over 64 KB."""
    identify(client, "ru", "meals", clock=clock)
    fill_form(client, "ru", ANSWERS)
    pdf = b"%PDF-1.4\n" + b"1 0 obj << >> endobj\n" * 20_000 + b"%%EOF\n"  # 420 KB
    answer = client.post(
        "/ru/apply/attachments",
        data={"file": (io.BytesIO(pdf), "scan.pdf"), "csrf_token": token(client, "/ru/apply/attachments")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302, soup(answer).get_text(" ", strip=True)[:300]
    assert _stored(app) == [("application/pdf", pdf)]


@pytest.mark.parametrize(
    ("lang", "used", "left", "button"),
    [
        ("kk", "5 МБ ішінен 0,01 МБ пайдаланылды", "5 МБ ішінен қалған 4,99 МБ", "Файлды таңдау"),
        ("ru", "Занято 0,01 МБ из 5 МБ", "оставшиеся 4,99 МБ из 5 МБ", "Выбрать файл"),
        ("en", "Used 0.01 MB of 5 MB", "the 4.99 MB left of 5 MB", "Choose a file"),
    ],
)
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_sizes_and_the_file_button_read_in_the_visitors_language(client, clock, lang, used, left, button) -> None:
    identify(client, lang, "meals", clock=clock)
    fill_form(client, lang, ANSWERS)

    def upload(pdf: bytes):
        return client.post(
            f"/{lang}/apply/attachments",
            data={"file": (io.BytesIO(pdf), "a.pdf"), "csrf_token": token(client, f"/{lang}/apply/attachments")},
            content_type="multipart/form-data",
        )

    upload(b"%PDF-1.4\n" + b"0" * 10_000 + b"\n%%EOF\n")
    page = soup(upload(b"%PDF-1.4\n" + b"0" * TOTAL_BUDGET + b"\n%%EOF\n"))  # more than is left
    assert left in page.select_one(".alert").get_text()  # what is really left, not "5 MB left"
    assert page.select_one("#budget-text").get_text() == used
    assert page.select_one("[data-file] span").get_text().endswith(" · 0.01 MB" if lang == "en" else " · 0,01 МБ")
    main = page.select_one("main").get_text()
    assert ("MB" in main) is (lang == "en")  # no English unit beside "МБ", no "0.01" beside "0,01"
    assert ("0.01" in main) is (lang == "en")
    assert page.select_one('label[for="file"]').get_text() == button
    gc.collect()  # let the test client's temporary file go while the warning filter above applies


def test_a_big_phone_photo_is_decoded_smaller_but_a_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A JPEG is decoded at 1/2, 1/4 or 1/8 of its size while that is still over LONG_SIDE, so a 48 MP
    phone photo stays under the pixel guard; a PNG cannot be, and over the guard it is refused."""
    from PIL import Image

    from kiosk.domain import attachments

    monkeypatch.setattr(attachments, "MAX_PIXELS", 1_000_000)  # a 2000x1500 picture plays the 48 MP one
    monkeypatch.setattr(attachments, "LONG_SIDE", 500)
    jpeg, png = io.BytesIO(), io.BytesIO()
    picture = Image.new("RGB", (2000, 1500), (235, 232, 220))
    picture.save(jpeg, "JPEG")
    picture.save(png, "PNG")
    jpeg.seek(0)
    png.seek(0)
    assert attachments.prepare(jpeg, TOTAL_BUDGET).kind == "image/jpeg"
    with pytest.raises(attachments.Refused) as refused:
        attachments.prepare(png, TOTAL_BUDGET)
    assert refused.value.reason == "too_many_pixels"


def test_continue_with_a_chosen_file_adds_it_before_going_on(app, client, clock) -> None:
    """ "Continue" sends the upload form: a file chosen and not yet added is added, not dropped; with
    no file chosen it goes on; a file refused keeps the parent on the step with the reason."""
    identify(client, "ru", "meals", clock=clock)
    fill_form(client, "ru", ANSWERS)
    page = soup(client.get("/ru/apply/attachments"))
    button = page.select_one("[data-next]")
    assert button.name == "button" and button["form"] == page.select_one("form[data-upload]")["id"]
    go_on = {"csrf_token": token(client, "/ru/apply/attachments"), button["name"]: button["value"]}

    answer = client.post(
        "/ru/apply/attachments",
        data={**go_on, "file": (io.BytesIO(documents.phone_photo(0.3)), "IMG_0001.jpg", "image/jpeg")},
    )
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/ru/apply/check")
    assert [kind for kind, _data in _stored(app)] == ["image/jpeg"]
    photos = [a for a in soup(client.get("/ru/apply/check")).select(".answer") if "Фотографии" in a.dt.get_text()]
    assert photos[0].dd.get_text() == "1"  # the check page counts it

    answer = client.post("/ru/apply/attachments", data={**go_on, "file": (io.BytesIO(b""), "")})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/ru/apply/check")
    assert len(_stored(app)) == 1

    answer = client.post("/ru/apply/attachments", data={**go_on, "file": (io.BytesIO(b"not a picture"), "a.jpg")})
    assert answer.status_code == 200
    assert "не фотография" in soup(answer).select_one("[data-upload-error]").get_text()
    assert len(_stored(app)) == 1
